//! The media server's shell: one UDP socket and one task that owns the forwarding core
//! (`appel-media`), feeding it datagrams, the time and the controller's commands, sending what it
//! decides and reporting its events back to the controller. Nothing here is process-global, so a
//! later `appel media` process can run the same shell on its own (docs/architecture.md, "The media
//! plane").

use std::net::SocketAddr;
use std::time::Instant;

use appel_codes::{registry, CallingError};
use appel_controller::MediaReport;
use appel_media::{MediaConfig, MediaError, MediaEvent, ParticipantKey, Sfu};
use appel_protocol::{CallId, ParticipantId};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::config::Config;

/// The largest datagram read; WebRTC stays under the path MTU, so anything larger is not ours.
const MAX_DATAGRAM: usize = 2048;
/// The kernel buffers asked for on the media socket. Every participant shares this one socket, so
/// the default receive buffer (about 200 KiB, some 90 video packets) overflows as soon as the task
/// is off the CPU for a few tens of milliseconds while many publishers send: `appel bench media`
/// lost 11–25 % of video frames that way on a loaded machine, all of them dropped at this socket
/// (`/proc/net/udp`'s drop count). The kernel caps the size at `net.core.rmem_max` and
/// `net.core.wmem_max`; raise those to get all of it (docs/media.md).
const SOCKET_BUFFER_BYTES: usize = 4 << 20;

/// What the controller asks of the media server.
#[derive(Debug)]
pub(crate) enum Command {
    Join {
        call: CallId,
        participant: ParticipantId,
        request_id: u64,
        sdp: String,
        publish: bool,
        audio_muted: bool,
    },
    Mute {
        call: CallId,
        participant: ParticipantId,
        muted: bool,
    },
    Answer {
        call: CallId,
        participant: ParticipantId,
        sdp: String,
    },
    View {
        call: CallId,
        participant: ParticipantId,
        request_id: u64,
        publisher: ParticipantId,
        width: u32,
        height: u32,
    },
    Leave {
        call: CallId,
        participant: ParticipantId,
    },
}

/// A report for the controller: `Input::Media`'s fields.
pub(crate) type Report = (CallId, ParticipantId, MediaReport);

/// How the runtime reaches the media task. Dropping it stops the task.
pub(crate) struct MediaHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl MediaHandle {
    pub(crate) fn send(&self, command: Command) {
        // Fails only once the task has stopped, when nothing more is to be forwarded.
        let _ = self.commands.send(command);
    }
}

/// A bound socket, not yet running.
pub(crate) struct MediaShell {
    socket: UdpSocket,
    config: MediaConfig,
}

impl MediaShell {
    /// Binds `media.bind`; the announced address is `media.public_address`, or the bound one.
    pub(crate) async fn bind(config: &Config) -> Result<MediaShell, CallingError> {
        let socket = UdpSocket::bind(config.media.bind).await.map_err(|e| {
            CallingError::new(&registry::INVALID_ARGUMENT)
                .with_context(format!("media.bind: cannot bind UDP {}", config.media.bind))
                .with_raw_cause(e.to_string())
        })?;
        // A smaller buffer than asked is not an error: the socket works, it only drops sooner.
        let sock = socket2::SockRef::from(&socket);
        let _ = sock.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
        let _ = sock.set_send_buffer_size(SOCKET_BUFFER_BYTES);
        tracing::debug!(
            receive = ?sock.recv_buffer_size(),
            send = ?sock.send_buffer_size(),
            "media socket buffers"
        );
        let bound = socket.local_addr().map_err(|e| {
            CallingError::new(&registry::INTERNAL_SERVER_ERROR).with_raw_cause(e.to_string())
        })?;
        let mut media = MediaConfig::new(config.media.public_address.unwrap_or(bound));
        media.setup_timeout = config.timers.media_setup;
        media.loss_timeout = config.timers.media_loss;
        media.max_video_subscriptions = config.media.max_video_subscriptions;
        Ok(MediaShell {
            socket,
            config: media,
        })
    }

    /// The address clients are told to send to.
    pub(crate) fn public_address(&self) -> SocketAddr {
        self.config.public_address
    }

    /// Starts the task; its reports arrive on the returned receiver.
    pub(crate) fn start(self) -> (MediaHandle, mpsc::UnboundedReceiver<Report>) {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (reports, report_rx) = mpsc::unbounded_channel();
        tokio::spawn(run(self.socket, self.config, command_rx, reports));
        (MediaHandle { commands }, report_rx)
    }
}

fn key(call: &CallId, participant: &ParticipantId) -> ParticipantKey {
    ParticipantKey::new(call.as_str(), participant.as_str())
}

fn refusal(error: &MediaError) -> CallingError {
    let entry = match error {
        MediaError::AlreadyJoined(_) => &registry::MEDIA_ALREADY_CONNECTED,
        MediaError::UnknownParticipant(_)
        | MediaError::BadSdp(_)
        | MediaError::NoPendingOffer(_)
        | MediaError::AnswerRejected(..) => &registry::MEDIA_SDP_REFUSED,
        MediaError::NoVideo { .. } | MediaError::TooManyVideos { .. } => {
            return view_refusal(error)
        }
    };
    CallingError::new(entry).with_context(error.to_string())
}

/// A `mediaView` the media server cannot serve: 500/43204, the reason in `rawCause`.
fn view_refusal(error: &MediaError) -> CallingError {
    let cause = match error {
        // The controller checks the connection first; this is one that closed meanwhile.
        MediaError::UnknownParticipant(_) => {
            "no media connection to the media server (send mediaOffer first)".to_string()
        }
        other => other.to_string(),
    };
    CallingError::new(&registry::VIDEO_SUBSCRIPTION_FAILED).with_raw_cause(cause)
}

async fn run(
    socket: UdpSocket,
    config: MediaConfig,
    mut commands: mpsc::UnboundedReceiver<Command>,
    reports: mpsc::UnboundedSender<Report>,
) {
    let local = config.public_address;
    let mut sfu = Sfu::new(config, Instant::now());
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
    let sleep = tokio::time::sleep_until(far());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        // One timer, re-armed only when the core's next deadline moved.
        let deadline = sfu.poll_timeout();
        if deadline != armed {
            armed = deadline;
            let at = deadline
                .map(tokio::time::Instant::from_std)
                .unwrap_or_else(far);
            sleep.as_mut().reset(at);
        }
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, source)) => sfu.receive(Instant::now(), source, local, &buf[..n]),
                // An ICMP error from an earlier send surfaces here on some systems; the socket
                // itself is fine.
                Err(e) => tracing::debug!(error = %e, "media socket read failed"),
            },
            command = commands.recv() => match command {
                Some(command) => handle(&mut sfu, command, &reports),
                None => return,
            },
            () = &mut sleep => {
                armed = None;
                sfu.handle_timeout(Instant::now());
            }
        }
        while let Some(t) = sfu.poll_transmit() {
            if let Err(e) = socket.send_to(&t.contents, t.destination).await {
                tracing::debug!(error = %e, to = %t.destination, "media datagram not sent");
            }
            sfu.recycle(t.contents);
        }
        while let Some(event) = sfu.poll_event() {
            let (key, report) = match event {
                MediaEvent::Connected(key) => (key, MediaReport::Connected),
                MediaEvent::SetupFailed(key) => (key, MediaReport::SetupFailed),
                MediaEvent::Lost(key) => (key, MediaReport::Lost),
                MediaEvent::Offer { participant, sdp } => (participant, MediaReport::Offer { sdp }),
                // The controller has nothing to decide on it; a later step counts it.
                MediaEvent::MediaFlowing(_) => continue,
            };
            let _ = reports.send((key.session.into(), key.participant.into(), report));
        }
    }
}

fn handle(sfu: &mut Sfu, command: Command, reports: &mpsc::UnboundedSender<Report>) {
    let now = Instant::now();
    match command {
        Command::Join {
            call,
            participant,
            request_id,
            sdp,
            publish,
            audio_muted,
        } => {
            let joined = sfu.join(now, key(&call, &participant), &sdp, publish, audio_muted);
            let report = match joined {
                Ok(sdp) => MediaReport::Answered { request_id, sdp },
                Err(e) => MediaReport::Refused {
                    request_id,
                    error: refusal(&e),
                },
            };
            // Before any event the join queued (an offer of the others' tracks): the answer
            // must reach the client first.
            let _ = reports.send((call, participant, report));
        }
        Command::Answer {
            call,
            participant,
            sdp,
        } => {
            if let Err(e) = sfu.accept_answer(now, &key(&call, &participant), &sdp) {
                let closed = matches!(e, MediaError::AnswerRejected(..));
                let error = refusal(&e);
                let report = MediaReport::AnswerRefused { error, closed };
                let _ = reports.send((call, participant, report));
            }
        }
        Command::Mute {
            call,
            participant,
            muted,
        } => {
            sfu.set_audio_muted(now, &key(&call, &participant), muted);
        }
        Command::View {
            call,
            participant,
            request_id,
            publisher,
            width,
            height,
        } => {
            let viewed = sfu.set_view(
                now,
                &key(&call, &participant),
                publisher.as_str(),
                width,
                height,
            );
            let report = MediaReport::Viewed {
                request_id,
                error: viewed.err().map(|e| view_refusal(&e)),
            };
            let _ = reports.send((call, participant, report));
        }
        Command::Leave { call, participant } => {
            sfu.leave(now, &key(&call, &participant));
        }
    }
}

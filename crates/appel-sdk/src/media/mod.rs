//! Native media through the media server (docs/sdk.md, "Media"; docs/architecture.md, "The media
//! plane"). Each call has a media task: a thin tokio shell around a sans-IO str0m peer connection
//! ([`peer::Peer`]) fed datagrams from its UDP socket and the time. In a group call (a room's call,
//! a joinable call, one with more than two participants) it connects to the media server as soon
//! as the call has its id, answers the server's re-offers, publishes what the call's devices
//! capture and counts what arrives per remote participant and stream. In any call it watches the
//! call's devices, so one failing mid-call stops being used and the application hears why.

pub(crate) mod devices;
mod generate;
mod peer;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use appel_codes::{registry, CallingError};
use appel_protocol::{CallId, ClientFrame, ParticipantId, ReportKind};
use futures_util::StreamExt;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, Notify};

use crate::call::{CallEvent, CallShared};
use crate::link::{AgentLink, Command, NoAnswer};
use devices::{DeviceKind, LocalVideoStream, ManagerShared};
pub use generate::{is_opus_frame, is_vp8_frame};
use generate::{OpusSource, Vp8Source, AUDIO_PERIOD, VIDEO_RATE};
use peer::{Peer, PeerEvent};

/// The largest datagram read from the socket.
const DATAGRAM_MAX: usize = 2048;

/// What a remote stream carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamKind {
    /// A microphone's audio.
    Audio = 0,
    /// A camera's video.
    Video = 1,
}

/// What arrived so far of one remote participant's stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteStream {
    /// Who publishes it.
    pub participant_id: ParticipantId,
    /// Audio or video.
    pub kind: StreamKind,
    /// RTP packets received.
    pub packets: u64,
    /// Whole frames received (an audio frame is 20 ms; a video frame is one picture).
    pub frames: u64,
    /// Bytes of frames received (payload, without RTP and SRTP overhead).
    pub bytes: u64,
    /// Frames that do not parse as their codec's (an Opus packet, a VP8 frame tag and, for a
    /// keyframe, its start code and size).
    pub malformed: u64,
    /// When the last frame arrived.
    pub last_received: Option<Instant>,
}

/// Where the call's connection to the media server stands.
#[derive(Clone, Debug, PartialEq)]
pub enum MediaStatus {
    /// Not connected and not trying: a one-to-one call (peer to peer, not carried by this SDK),
    /// or a group call not named yet.
    Off,
    /// The offer is out, or ICE and DTLS are under way.
    Connecting,
    /// Media flows through the media server.
    Connected,
    /// The media server refused or could not be reached at setup (503/900700 media server off,
    /// 409/900701 a one-to-one call, a socket that could not be opened…); the call goes on
    /// without media.
    Unavailable(CallingError),
}

/// What reaches a call's media task from the signaling session.
pub(crate) enum Inbound {
    /// The answer to its `mediaOffer`, or the server's refusal.
    Answer(Result<String, CallingError>),
    /// The answer did not come in time.
    AnswerTimedOut,
    /// A server `mediaOffer`: others' tracks added or stopped.
    Offer(String),
}

/// What this call captures, changed by the call's handles and by devices failing.
struct Local {
    /// The microphone in use; `None` when none could be opened or it failed.
    microphone: Option<String>,
    muted: bool,
    video: Option<LocalVideoStream>,
}

/// A call's media, shared by its handles and its media task.
pub(crate) struct CallMedia {
    manager: Arc<ManagerShared>,
    local: Mutex<Local>,
    streams: Mutex<BTreeMap<(String, StreamKind), RemoteStream>>,
    status: Mutex<MediaStatus>,
    address: Mutex<Option<SocketAddr>>,
    inbox: mpsc::UnboundedSender<Inbound>,
    inbox_rx: Mutex<Option<mpsc::UnboundedReceiver<Inbound>>>,
    /// Woken when [`Local`] changes, so the task starts or stops sending at once.
    changed: Notify,
    /// Device failures from before the call had an id, reported once it has.
    unreported: Mutex<Vec<String>>,
    /// No answer to the `mediaOffer` yet.
    answer_awaited: std::sync::atomic::AtomicBool,
    /// Frames written to the media server: audio, video.
    sent: [std::sync::atomic::AtomicU64; 2],
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data behind these locks; a panic elsewhere leaves it readable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How a device error reads as a raw cause: its name first, so a log is searched by name.
fn cause_text(error: &CallingError) -> String {
    format!("{} {error}", error.name())
}

/// How a device error reads in a `deviceError` report: the entry (name, pair, message) and, for a
/// wrapping entry such as 41048, the device's own entry. Never the error's context, which names
/// the device: a device's name ("Alice's iPhone camera") stays on the device rather than on a
/// timeline the operator keeps.
fn report_detail(error: &CallingError, cause: Option<&CallingError>) -> String {
    let pair = match error.subcode() {
        Some(subcode) => format!("{}/{subcode}", error.code().0),
        None => error.code().0.to_string(),
    };
    let cause = cause
        .map(|c| format!(" ({})", c.name()))
        .unwrap_or_default();
    format!(
        "{} {pair}{cause}: {}",
        error.name(),
        error.message(appel_codes::Locale::En)
    )
}

impl CallMedia {
    /// Opens the call's devices as it starts: the microphone, and the first camera when `video`.
    /// Returns the media and what failed (the call goes on without it): 403/900640, 412/900641 or
    /// 412/900642 for the microphone, 410/41048 for the camera (its own error as raw cause).
    pub(crate) fn open(
        manager: Arc<ManagerShared>,
        video: bool,
    ) -> (Arc<CallMedia>, Vec<CallingError>) {
        let mut failures = Vec::new();
        let mut reports = Vec::new();
        let microphone = match manager.microphone_id() {
            None => {
                failures.push(
                    CallingError::new(&registry::NO_MICROPHONE_FOUND)
                        .with_context("no microphone is plugged in"),
                );
                None
            }
            Some(id) => match manager.open(DeviceKind::Microphone, &id) {
                Ok(()) => Some(id),
                Err(error) => {
                    failures.push(error);
                    None
                }
            },
        };
        reports.extend(failures.iter().map(|e| report_detail(e, None)));
        let mut stream = None;
        if video {
            let opened = match manager.first_camera() {
                None => Err(CallingError::new(&registry::NO_CAMERA_FOUND)),
                Some((id, name)) => manager
                    .open(DeviceKind::Camera, &id)
                    .map(|()| LocalVideoStream::of(manager.clone(), id, name)),
            };
            match opened {
                Ok(opened) => stream = Some(opened),
                Err(cause) => {
                    let error = CallingError::new(&registry::VIDEO_FAILED_DURING_SETUP)
                        .with_raw_cause(cause_text(&cause));
                    reports.push(report_detail(&error, Some(&cause)));
                    failures.push(error);
                }
            }
        }
        let (inbox, inbox_rx) = mpsc::unbounded_channel();
        let media = Arc::new(CallMedia {
            manager,
            local: Mutex::new(Local {
                microphone,
                muted: false,
                video: stream,
            }),
            streams: Mutex::new(BTreeMap::new()),
            status: Mutex::new(MediaStatus::Off),
            address: Mutex::new(None),
            inbox,
            inbox_rx: Mutex::new(Some(inbox_rx)),
            changed: Notify::new(),
            unreported: Mutex::new(reports),
            answer_awaited: std::sync::atomic::AtomicBool::new(false),
            sent: Default::default(),
        });
        (media, failures)
    }

    pub(crate) fn deliver(&self, inbound: Inbound) {
        let _ = self.inbox.send(inbound);
    }

    /// Whether the call's media task is gone (the call ended).
    pub(crate) fn is_closed(&self) -> bool {
        self.inbox.is_closed()
    }

    pub(crate) fn status(&self) -> MediaStatus {
        lock(&self.status).clone()
    }

    pub(crate) fn address(&self) -> Option<SocketAddr> {
        *lock(&self.address)
    }

    pub(crate) fn remote_streams(&self) -> Vec<RemoteStream> {
        lock(&self.streams).values().cloned().collect()
    }

    pub(crate) fn sent_frames(&self, kind: StreamKind) -> u64 {
        self.sent[kind as usize].load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The call-control API muted this participant: the microphone goes quiet here too (the
    /// server already holds the audio back, so there is nothing to declare).
    pub(crate) fn muted_by_server(&self) {
        lock(&self.local).muted = true;
        self.changed.notify_one();
    }

    pub(crate) fn is_muted(&self) -> bool {
        lock(&self.local).muted
    }

    pub(crate) fn has_microphone(&self) -> bool {
        lock(&self.local).microphone.is_some()
    }

    pub(crate) fn video_stream(&self) -> Option<LocalVideoStream> {
        lock(&self.local).video.clone()
    }

    /// What the call sends now, as `mediaState` declares it: (audio, video).
    pub(crate) fn sending(&self) -> (bool, bool) {
        let local = lock(&self.local);
        (
            local.microphone.is_some() && !local.muted,
            local.video.is_some(),
        )
    }

    /// Mutes (`true`) or unmutes. Muting needs a live microphone (41015); unmuting opens the
    /// microphone again when it had failed, so a user who freed it can simply unmute (41016 with
    /// the device's own error as raw cause when it still fails). Returns the previous state.
    pub(crate) fn set_muted(&self, muted: bool) -> Result<bool, CallingError> {
        let mut local = lock(&self.local);
        let before = local.muted;
        if muted {
            if local.microphone.is_none() {
                return Err(CallingError::new(&registry::MUTE_FAILED)
                    .with_context("no live microphone in this call"));
            }
        } else {
            let id = local
                .microphone
                .clone()
                .or_else(|| self.manager.microphone_id());
            let opened = match &id {
                None => Err(CallingError::new(&registry::NO_MICROPHONE_FOUND)),
                Some(id) => self.manager.open(DeviceKind::Microphone, id),
            };
            if let Err(cause) = opened {
                local.microphone = None;
                return Err(CallingError::new(&registry::UNMUTE_FAILED)
                    .with_context("the microphone cannot capture")
                    .with_raw_cause(cause_text(&cause)));
            }
            local.microphone = id;
        }
        local.muted = muted;
        drop(local);
        self.changed.notify_one();
        Ok(before)
    }

    /// Starts sending `stream`, or the first camera's video. 41027 when video is already sent;
    /// 41025 for a stream of another client's devices; 43013 with no camera at all; the camera's
    /// own error otherwise (43019 unplugged, 43000 in use, 43001 refused).
    pub(crate) fn start_video(
        &self,
        stream: Option<LocalVideoStream>,
    ) -> Result<LocalVideoStream, CallingError> {
        let mut local = lock(&self.local);
        if local.video.is_some() {
            return Err(CallingError::new(&registry::VIDEO_ALREADY_STARTED));
        }
        let stream = match stream {
            Some(stream) if !Arc::ptr_eq(stream.manager(), &self.manager) => {
                return Err(CallingError::new(&registry::START_VIDEO_INVALID_STREAM)
                    .with_context("the stream films a camera of another CallClient's devices"))
            }
            Some(stream) => stream,
            None => match self.manager.first_camera() {
                None => {
                    return Err(CallingError::new(&registry::NO_CAMERA_FOUND)
                        .with_context("no camera is plugged in"))
                }
                Some((id, name)) => LocalVideoStream::of(self.manager.clone(), id, name),
            },
        };
        let (camera, _) = stream.camera();
        self.manager.open(DeviceKind::Camera, &camera)?;
        local.video = Some(stream.clone());
        drop(local);
        self.changed.notify_one();
        Ok(stream)
    }

    /// Stops sending video. 41030 when none is sent; 41032 when `stream` is not the one sent.
    pub(crate) fn stop_video(
        &self,
        stream: Option<&LocalVideoStream>,
    ) -> Result<LocalVideoStream, CallingError> {
        let mut local = lock(&self.local);
        let Some(sent) = local.video.clone() else {
            return Err(CallingError::new(&registry::VIDEO_ALREADY_STOPPED));
        };
        if stream.is_some_and(|given| *given != sent) {
            return Err(CallingError::new(&registry::STOP_VIDEO_STREAM_NOT_SENT)
                .with_context("pass the stream start_video returned (local_video_stream)"));
        }
        local.video = None;
        drop(local);
        self.changed.notify_one();
        Ok(sent)
    }

    /// Puts back what an operation the server refused had changed.
    pub(crate) fn restore(&self, muted: bool, video: Option<LocalVideoStream>) {
        let mut local = lock(&self.local);
        local.muted = muted;
        local.video = video;
        drop(local);
        self.changed.notify_one();
    }

    /// Checks the devices in use against their state now; each one that fails stops being used.
    /// Returns the errors (none when all is well).
    fn check_devices(&self) -> Vec<CallingError> {
        let mut local = lock(&self.local);
        let mut failed = Vec::new();
        if let Some(id) = local.microphone.clone() {
            if let Err(error) = self.manager.open(DeviceKind::Microphone, &id) {
                local.microphone = None;
                failed.push(error);
            }
        }
        if let Some(stream) = local.video.clone() {
            let (id, _) = stream.camera();
            if let Err(error) = self.manager.open(DeviceKind::Camera, &id) {
                local.video = None;
                failed.push(error);
            }
        }
        failed
    }
}

/// Whether a call, as created, goes through the media server without waiting to count its
/// participants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    /// Joined by id, a room's call, a joinable call, or one started to two targets or more.
    Yes,
    /// A one-to-one call until a third participant appears.
    IfThirdParticipant,
}

/// Starts the media task of `call`.
pub(crate) fn spawn(
    call: Arc<CallShared>,
    media: Arc<CallMedia>,
    link: AgentLink,
    group: Group,
    server_url: String,
    timeout: Duration,
) {
    let Some(inbox) = lock(&media.inbox_rx).take() else {
        return;
    };
    tokio::spawn(async move {
        let task = Task {
            call,
            media,
            link,
            group,
            server_url,
            timeout,
            inbox,
        };
        task.run().await;
    });
}

struct Task {
    call: Arc<CallShared>,
    media: Arc<CallMedia>,
    link: AgentLink,
    group: Group,
    server_url: String,
    timeout: Duration,
    inbox: mpsc::UnboundedReceiver<Inbound>,
}

/// The connection once it is being set up.
struct Connection {
    socket: UdpSocket,
    peer: Peer,
    call_id: CallId,
    microphone: OpusSource,
    camera: Vp8Source,
    camera_id: Option<String>,
    next_audio: Instant,
    next_video: Instant,
}

impl Task {
    async fn run(mut self) {
        let mut events = self.call.events_stream();
        let mut devices = self.media.manager.subscribe();
        let mut call_id = self.call.id();
        let mut group = self.group == Group::Yes;
        let mut connection: Option<Connection> = None;
        let mut buf = vec![0u8; DATAGRAM_MAX];
        let media = self.media.clone();
        loop {
            if connection.is_none() && group && media.status() == MediaStatus::Off {
                if let Some(id) = &call_id {
                    self.report_unreported();
                    connection = self.connect(id.clone()).await;
                }
            }
            let wake = connection.as_ref().map(Connection::next_wake);
            tokio::select! {
                event = events.next() => match event {
                    None | Some(CallEvent::Ended(_)) => return,
                    Some(CallEvent::IdAssigned(id)) => call_id = Some(id),
                    Some(CallEvent::RemoteParticipantsUpdated { .. }) => {
                        group = group || self.call.remote_count() >= 2;
                    }
                    Some(_) => {}
                },
                changed = devices.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    self.devices_changed();
                }
                inbound = self.inbox.recv() => match inbound {
                    None => return,
                    Some(inbound) => {
                        if let Some(open) = connection.as_mut() {
                            if !self.inbound(open, inbound) {
                                connection = None;
                            }
                        }
                    }
                },
                received = recv(connection.as_ref(), &mut buf) => {
                    if let (Some(open), Ok((n, source))) = (connection.as_mut(), received) {
                        open.peer.receive(Instant::now(), source, &buf[..n]);
                    }
                }
                () = sleep_until(wake) => {
                    if let Some(open) = connection.as_mut() {
                        let now = Instant::now();
                        open.peer.handle_timeout(now);
                        open.capture(&media, now);
                    }
                }
                () = media.changed.notified() => {
                    if let Some(open) = connection.as_mut() {
                        open.capture(&media, Instant::now());
                    }
                }
            }
            if let Some(open) = connection.as_mut() {
                self.flush(open).await;
            }
        }
    }

    /// Binds the socket, builds the offer and sends it; the answer comes through the inbox.
    async fn connect(&self, call_id: CallId) -> Option<Connection> {
        let opened = async {
            let ip = local_ip_toward(&self.server_url).await?;
            let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
                .await
                .map_err(|e| format!("binding a UDP socket on {ip}: {e}"))?;
            let local = socket
                .local_addr()
                .map_err(|e| format!("reading the UDP socket's address: {e}"))?;
            let (peer, offer) = Peer::new(Instant::now(), local).map_err(|e| e.0)?;
            Ok::<_, String>((socket, local, peer, offer))
        }
        .await;
        let (socket, local, peer, offer) = match opened {
            Ok(opened) => opened,
            Err(cause) => {
                self.set_status(MediaStatus::Unavailable(
                    CallingError::new(&registry::MEDIA_SETUP_FAILED)
                        .with_context("opening the media connection")
                        .with_raw_cause(cause),
                ));
                return None;
            }
        };
        *lock(&self.media.address) = Some(local);
        self.set_status(MediaStatus::Connecting);
        self.media
            .answer_awaited
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let sent = self.link.command(Command::MediaOffer {
            call_id: call_id.clone(),
            sdp: offer,
            media: self.media.clone(),
        });
        if !sent {
            return None;
        }
        let media = self.media.clone();
        let timeout = self.timeout;
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            media.deliver(Inbound::AnswerTimedOut);
        });
        let now = Instant::now();
        let seed = seed_of(&call_id, local);
        Some(Connection {
            socket,
            peer,
            call_id,
            microphone: OpusSource::new(seed),
            camera: Vp8Source::new(seed),
            camera_id: None,
            next_audio: now,
            next_video: now,
        })
    }

    /// `false` when the connection is over (its offer was refused).
    fn inbound(&self, open: &mut Connection, inbound: Inbound) -> bool {
        match inbound {
            Inbound::AnswerTimedOut => {
                if !self.answered() {
                    return true;
                }
                let error = crate::errors::no_answer(
                    &registry::SIGNALING_REQUEST_TIMEOUT,
                    NoAnswer::Timeout,
                    "mediaOffer",
                    self.timeout,
                );
                tracing::info!(%error, "the media server did not answer; the call goes on without media");
                self.set_status(MediaStatus::Unavailable(error));
                false
            }
            Inbound::Answer(Ok(sdp)) => {
                self.answered();
                if let Err(refused) = open.peer.accept_answer(&sdp) {
                    self.set_status(MediaStatus::Unavailable(
                        CallingError::new(&registry::MEDIA_SDP_REFUSED)
                            .with_context("the media server's answer")
                            .with_raw_cause(refused.0),
                    ));
                    return false;
                }
                true
            }
            Inbound::Answer(Err(error)) => {
                self.answered();
                tracing::info!(%error, "media server connection refused; the call goes on without media");
                self.set_status(MediaStatus::Unavailable(error));
                false
            }
            Inbound::Offer(sdp) => {
                match open.peer.accept_offer(&sdp) {
                    Ok(answer) => {
                        self.link.command(Command::Send(ClientFrame::MediaAnswer {
                            call_id: open.call_id.clone(),
                            sdp: answer,
                        }));
                    }
                    // The server's offer stays pending; it removes the participant if the
                    // connection cannot go on, which is the outcome the application hears of.
                    Err(refused) => {
                        tracing::warn!(cause = %refused.0, "the media server's offer is unusable")
                    }
                }
                true
            }
        }
    }

    /// Marks the offer answered; `true` when it was still awaited.
    fn answered(&self) -> bool {
        self.media
            .answer_awaited
            .swap(false, std::sync::atomic::Ordering::SeqCst)
    }

    /// Sends what the peer connection wrote and acts on its events.
    async fn flush(&self, open: &mut Connection) {
        while let Some(event) = open.peer.poll_event() {
            match event {
                PeerEvent::Connected => {
                    self.set_status(MediaStatus::Connected);
                    self.call.push_event(CallEvent::MediaConnected);
                    self.report(ReportKind::MediaConnected, None);
                }
                PeerEvent::IceState(state) => self.report(ReportKind::IceState, Some(state.into())),
                PeerEvent::KeyframeRequested => open.camera.ask_keyframe(),
                PeerEvent::Media {
                    from,
                    video,
                    bytes,
                    packets,
                    well_formed,
                } => {
                    let kind = if video {
                        StreamKind::Video
                    } else {
                        StreamKind::Audio
                    };
                    let mut streams = lock(&self.media.streams);
                    let stream =
                        streams
                            .entry((from.clone(), kind))
                            .or_insert_with(|| RemoteStream {
                                participant_id: ParticipantId::from(from.as_str()),
                                kind,
                                packets: 0,
                                frames: 0,
                                bytes: 0,
                                malformed: 0,
                                last_received: None,
                            });
                    stream.packets += packets;
                    stream.frames += 1;
                    stream.bytes += bytes as u64;
                    stream.malformed += u64::from(!well_formed);
                    stream.last_received = Some(Instant::now());
                }
            }
        }
        while let Some(datagram) = open.peer.poll_transmit() {
            if let Err(error) = open
                .socket
                .send_to(&datagram.contents, datagram.destination)
                .await
            {
                tracing::debug!(%error, to = %datagram.destination, "media datagram not sent");
            }
        }
    }

    fn devices_changed(&self) {
        let failed = self.media.check_devices();
        if failed.is_empty() {
            return;
        }
        for error in failed {
            tracing::info!(%error, "a device failed during the call");
            self.report(ReportKind::DeviceError, Some(report_detail(&error, None)));
            self.call.push_event(CallEvent::DeviceFailed(error));
        }
        self.media.changed.notify_one();
        // The server holds back what the call no longer sends, as after a mute.
        if let Some(call_id) = self.call.id() {
            let (audio, video) = self.media.sending();
            let link = self.link.clone();
            let timeout = self.timeout;
            tokio::spawn(async move {
                let _ = link
                    .request(
                        move |request_id| ClientFrame::MediaState {
                            request_id,
                            call_id,
                            audio,
                            video,
                            screen_share: false,
                        },
                        timeout,
                    )
                    .await;
            });
        }
    }

    fn report_unreported(&self) {
        let pending: Vec<String> = std::mem::take(&mut *lock(&self.media.unreported));
        for detail in pending {
            self.report(ReportKind::DeviceError, Some(detail));
        }
    }

    fn report(&self, kind: ReportKind, detail: Option<String>) {
        self.link.command(Command::Report {
            call: self.call.clone(),
            kind,
            detail,
        });
    }

    fn set_status(&self, status: MediaStatus) {
        *lock(&self.media.status) = status;
    }
}

impl Connection {
    fn next_wake(&self) -> Instant {
        let mut wake = self.peer.poll_timeout();
        if self.peer.is_connected() {
            wake = wake.min(self.next_audio).min(self.next_video);
        }
        wake
    }

    /// Writes the frames due now from the devices the call uses.
    fn capture(&mut self, media: &CallMedia, now: Instant) {
        if !self.peer.is_connected() {
            return;
        }
        let (microphone, camera) = {
            let local = lock(&media.local);
            (
                local.microphone.is_some() && !local.muted,
                local.video.as_ref().map(|s| s.camera().0),
            )
        };
        for _ in 0..due(&mut self.next_audio, AUDIO_PERIOD, now) {
            if microphone {
                let frame = self.microphone.next_frame();
                if self.peer.send_audio(now, frame) {
                    media.sent[StreamKind::Audio as usize]
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        if camera != self.camera_id {
            // Another camera (or the same one started again): its encoder starts with a keyframe.
            self.camera.ask_keyframe();
            self.camera_id = camera.clone();
        }
        let period = Duration::from_micros(1_000_000 / VIDEO_RATE);
        for _ in 0..due(&mut self.next_video, period, now) {
            if camera.is_some() {
                let frame = self.camera.next_frame();
                if self.peer.send_video(now, frame, VIDEO_RATE) {
                    media.sent[StreamKind::Video as usize]
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    }
}

/// How many frames a device holds while its reader is late; older ones are lost, as when a real
/// capture buffer overflows.
const CAPTURE_BUFFER: u32 = 3;

/// How many frames of a clock ticking every `period` from `next` are due at `now` (a task woken
/// late sends the ones its device buffered, up to [`CAPTURE_BUFFER`]); moves `next` past `now`.
fn due(next: &mut Instant, period: Duration, now: Instant) -> u32 {
    let mut frames = 0;
    while *next <= now {
        *next += period;
        frames += 1;
    }
    if frames > CAPTURE_BUFFER {
        *next = now + period;
    }
    frames.min(CAPTURE_BUFFER)
}

async fn recv(
    connection: Option<&Connection>,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr)> {
    match connection {
        Some(open) => open.socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// The local address the system routes toward the signaling server: the media server is
/// reached the same way in the deployments this SDK supports (same host or same network), and a
/// host candidate on that address is one the media server can answer.
async fn local_ip_toward(server_url: &str) -> Result<IpAddr, String> {
    let rest = server_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(server_url);
    let authority = rest.split('/').next().unwrap_or(rest);
    let with_port = if authority.starts_with('[') {
        if authority.contains("]:") {
            authority.to_owned()
        } else {
            format!("{authority}:443")
        }
    } else if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:443")
    };
    let server = tokio::net::lookup_host(with_port.as_str())
        .await
        .map_err(|e| format!("resolving {with_port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{with_port} resolves to no address"))?;
    let any = if server.is_ipv4() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    };
    let probe = std::net::UdpSocket::bind(SocketAddr::new(any, 0))
        .map_err(|e| format!("binding a probe socket: {e}"))?;
    // A connected UDP socket sends nothing; it only asks the system for the route.
    probe
        .connect(server)
        .map_err(|e| format!("no route to {server}: {e}"))?;
    probe
        .local_addr()
        .map(|a| a.ip())
        .map_err(|e| format!("reading the probe's address: {e}"))
}

/// A seed for the generated frames: different per call and socket, so streams differ.
fn seed_of(call_id: &CallId, local: SocketAddr) -> u64 {
    call_id
        .as_str()
        .bytes()
        .chain(local.port().to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

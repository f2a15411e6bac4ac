//! `appel bench media`: publishers and subscribers in group calls through the media server, and
//! what forwarding costs it.
//!
//! Each participant is a native WebRTC client (`appel-media`'s sans-IO [`MediaClient`]) on its own
//! loopback UDP socket, with a lean signaling connection ([`WireClient`]); one task owns the three
//! and does everything for that participant (reads every datagram waiting in a batch, answers the
//! media server's re-offers, writes frames on time). In each room (a joinable group call) the first
//! publisher starts the call, everyone else joins it, then each sends `mediaOffer`. Publishers send
//! Opus-sized audio frames 50 times a second and VP8-sized video frames 30 times a second (a
//! keyframe every two seconds and whenever one is asked for), each frame split by str0m into
//! MTU-sized RTP packets. Subscribers publish nothing. Every participant receives every other
//! publisher's tracks, so each publisher track reaches `publishers − 1 + subscribers` others: one
//! *stream* per track and receiver.
//!
//! Phases: set-up, then (once every participant receives every track it should) a warm-up, the
//! measured window, a drain, and the end. Every frame carries the phase its publisher was in when
//! it wrote it, so loss is exact: frames written in the window × fan-out against frames stamped
//! "window" that arrived, whenever they arrived. The server's CPU time (utime + stime from
//! `/proc/PID/stat`) and resident memory are read at the window's edges; so is this process's own
//! CPU time, to show whether the clients kept up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use appel_codes::{registry, CallingError};
use appel_media::client::MediaClient;
use appel_protocol::{CallId, ClientFrame, ServerFrame};
use futures_util::{stream, StreamExt};
use serde::Serialize;
use tokio::net::UdpSocket;

use super::agents::{listening_pid, rss_kib};
use super::calls::provision;
use super::wire::WireClient;
use crate::rest::RestClient;

/// Most participants (sockets and peer connections on this side) one run may hold.
pub const MAX_PARTICIPANTS: usize = 2_000;
/// Most publishers in one room: a subscriber's offer grows by about half a kilobyte per track and
/// must fit one signaling frame (docs/architecture.md, "The media plane").
pub const MAX_PUBLISHERS: usize = 32;
/// Most participants in one room (under the server's default `limits.max_participants`).
pub const MAX_ROOM: usize = 300;
/// Longest measured window.
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// Longest wait for every participant to receive every track it should, after set-up.
const READY_BUDGET: Duration = Duration::from_secs(60);
/// How long frames of the window still in flight at its end may take to arrive.
const DRAIN: Duration = Duration::from_millis(1000);
/// Rooms set up at once.
const ROOMS_AT_ONCE: usize = 8;

const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
const VIDEO_INTERVAL: Duration = Duration::from_nanos(33_333_333);
/// An Opus frame of 20 ms at 32 kbit/s.
const AUDIO_BYTES: usize = 80;
/// Video frames between two keyframes (two seconds).
const KEYFRAME_EVERY: u64 = 60;
/// A publisher more than this behind its frame clock skips the frames it missed (and counts them):
/// the clients did not keep up.
const LAG_LIMIT: Duration = Duration::from_millis(200);
/// The longest a participant's task sleeps, so it sees a phase change soon.
const TICK: Duration = Duration::from_millis(50);
/// Datagrams read in one wake-up before the task looks at its timers again.
const READ_BATCH: usize = 64;
/// Each client socket's kernel receive buffer (capped by `net.core.rmem_max`).
const CLIENT_SOCKET_BUFFER_BYTES: usize = 1 << 20;

const WARMUP: u8 = 0;
const WINDOW: u8 = 1;
const DRAINING: u8 = 2;
const STOP: u8 = 3;

/// What `appel bench media` was asked.
#[derive(Clone, Debug)]
pub struct MediaSettings {
    /// The server (loopback only); `None` starts one (`serve_binary serve`) for the run.
    pub server: Option<String>,
    /// Its access key (needed with `server`).
    pub access_key: Option<String>,
    /// The server's process id; found from its listening socket when absent.
    pub server_pid: Option<u32>,
    /// The `appel` binary to start a server with; this executable when absent.
    pub serve_binary: Option<PathBuf>,
    /// Rooms (group calls).
    pub rooms: usize,
    /// Publishers per room.
    pub publishers: usize,
    /// Subscribers per room.
    pub subscribers: usize,
    /// Time after every track is received and before the window.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Video bit rate of each publisher, in kbit/s.
    pub video_kbps: u32,
    /// Publishers send audio too.
    pub audio: bool,
}

/// Frames of one kind in the window.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KindReport {
    /// Frames publishers wrote during the window.
    pub sent: u64,
    /// `sent` × the number of receivers of each.
    pub expected: u64,
    /// Frames written during the window that reached a receiver.
    pub received: u64,
    /// 1 − received ÷ expected.
    pub loss: f64,
    /// Streams of this kind (one publisher track to one receiver).
    pub streams: usize,
}

/// The result of a run; `--json` prints its serde form.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaReport {
    /// Rooms.
    pub rooms: usize,
    /// Publishers per room.
    pub publishers: usize,
    /// Subscribers per room.
    pub subscribers: usize,
    /// Every participant of every room.
    pub participants: usize,
    /// Each publisher's video bit rate, kbit/s.
    pub video_kbps: u32,
    /// Seconds measured.
    pub elapsed: f64,
    /// Audio frames.
    pub audio: KindReport,
    /// Video frames.
    pub video: KindReport,
    /// Audio and video streams.
    pub streams: usize,
    /// RTP packets the receivers got per second (the server's forwarded packets).
    pub forwarded_packets_per_second: f64,
    /// Their bytes per second (SRTP, as on the wire).
    pub forwarded_bytes_per_second: f64,
    /// Receiver–publisher pairs (per kind) with no frame of the window at all.
    pub silent_pairs: usize,
    /// The server's CPU time over the window (utime + stime), seconds.
    pub server_cpu_seconds: f64,
    /// That time ÷ the window: cores the server used.
    pub server_cores: f64,
    /// Server CPU-seconds per second per forwarded stream (its share of a core).
    pub cpu_seconds_per_stream: f64,
    /// Video streams ÷ server cores: how many video streams one core forwards, counting all the
    /// server's CPU (audio too) against video.
    pub video_streams_per_core: f64,
    /// Audio and video streams ÷ server cores.
    pub streams_per_core: f64,
    /// Server CPU time per forwarded packet, microseconds.
    pub server_cpu_us_per_packet: f64,
    /// The server's resident memory before the participants joined, KiB.
    pub rss_before_kib: u64,
    /// … and at the end of the window, KiB.
    pub rss_after_kib: u64,
    /// (after − before) ÷ streams, bytes.
    pub rss_per_stream_bytes: f64,
    /// (after − before) ÷ participants, bytes.
    pub rss_per_participant_bytes: f64,
    /// Cores this process (the clients) used during the window.
    pub client_cores: f64,
    /// The server runs in this process, so its CPU and memory include the clients'.
    pub server_in_process: bool,
    /// Frames publishers skipped because they fell behind their clock (the clients were the
    /// bottleneck when this is not 0).
    pub late_frames: u64,
    /// The first failure, when some participant did not get through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

impl MediaReport {
    /// The table printed without `--json`.
    pub fn table(&self) -> String {
        let mut out = format!(
            "rooms × (publishers + subscribers)  {} × ({} + {}) = {} participants\n\
             streams                            {} video + {} audio (video at {} kbit/s, 30 fps)\n\
             window                             {:.2} s\n\
             forwarded                          {:.0} packets/s, {:.1} Mbit/s\n\
             video frames                       {} of {} received (loss {:.4} %)\n\
             audio frames                       {} of {} received (loss {:.4} %)\n\
             silent pairs                       {}\n\
             server CPU                         {:.2} s = {:.3} cores, {:.2} µs per packet\n\
             video streams per core             {:.0}\n\
             streams per core (audio + video)   {:.0}\n\
             server RSS                         {} KiB -> {} KiB, {:.0} bytes per stream\n\
             clients' CPU                       {:.3} cores{}\n\
             late frames (clients behind)       {}\n",
            self.rooms,
            self.publishers,
            self.subscribers,
            self.participants,
            self.video.streams,
            self.audio.streams,
            self.video_kbps,
            self.elapsed,
            self.forwarded_packets_per_second,
            self.forwarded_bytes_per_second * 8.0 / 1e6,
            self.video.received,
            self.video.expected,
            self.video.loss * 100.0,
            self.audio.received,
            self.audio.expected,
            self.audio.loss * 100.0,
            self.silent_pairs,
            self.server_cpu_seconds,
            self.server_cores,
            self.server_cpu_us_per_packet,
            self.video_streams_per_core,
            self.streams_per_core,
            self.rss_before_kib,
            self.rss_after_kib,
            self.rss_per_stream_bytes,
            self.client_cores,
            if self.server_in_process {
                " (the server runs in this process: its figures include the clients')"
            } else {
                ""
            },
            self.late_frames,
        );
        if let Some(error) = &self.first_error {
            out.push_str(&format!("first error                        {error}\n"));
        }
        out
    }
}

/// CPU time (user + system) a process used so far, in seconds, from `/proc/PID/stat`.
pub fn cpu_seconds(pid: u32) -> Result<f64, CallingError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| {
        CallingError::new(&registry::INVALID_ARGUMENT)
            .with_context(format!("cannot read /proc/{pid}/stat"))
            .with_raw_cause(e.to_string())
    })?;
    // The command name (field 2) may hold spaces and parentheses: count from the last `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15; the first after `)` is field 3.
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<u64>().ok());
    let (Some(utime), Some(stime)) = (ticks(11), ticks(12)) else {
        return Err(CallingError::new(&registry::INVALID_ARGUMENT)
            .with_context(format!("unreadable /proc/{pid}/stat")));
    };
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    Ok((utime + stime) as f64 / hz)
}

fn invalid(context: String) -> CallingError {
    CallingError::new(&registry::INVALID_ARGUMENT).with_context(context)
}

fn check(settings: &MediaSettings) -> Result<(), CallingError> {
    super::within("--rooms", settings.rooms, 1, MAX_PARTICIPANTS)?;
    super::within("--publishers", settings.publishers, 1, MAX_PUBLISHERS)?;
    super::within("--subscribers", settings.subscribers, 0, MAX_ROOM)?;
    super::within("--video-kbps", settings.video_kbps, 30, 8_000)?;
    let room = settings.publishers + settings.subscribers;
    if !(2..=MAX_ROOM).contains(&room) {
        return Err(invalid(format!(
            "--publishers + --subscribers = {room}: a room needs 2 to {MAX_ROOM} participants"
        )));
    }
    let total = room.saturating_mul(settings.rooms);
    if total > MAX_PARTICIPANTS {
        return Err(invalid(format!(
            "{total} participants: at most {MAX_PARTICIPANTS} in one run"
        )));
    }
    if settings.duration.is_zero() || settings.duration > MAX_DURATION {
        return Err(invalid(format!(
            "--duration {:?}: must be above 0 and at most {MAX_DURATION:?}",
            settings.duration
        )));
    }
    if settings.warmup > Duration::from_secs(60) {
        return Err(invalid("--warmup: at most 60s".into()));
    }
    if settings.server.is_some() && settings.access_key.is_none() {
        return Err(invalid(
            "--server needs --access-key (or APPEL_ACCESS_KEY) to create identities".into(),
        ));
    }
    Ok(())
}

/// A server this run started: stopped and its data removed when dropped.
struct OwnServer {
    child: Child,
    data: PathBuf,
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Starts `binary serve` on a free loopback port with a fresh data directory and access key;
/// gives it with its URL and key.
async fn start_server(binary: PathBuf) -> Result<(OwnServer, String, String), CallingError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let data =
        std::env::temp_dir().join(format!("appel-bench-media-{}-{nanos}", std::process::id()));
    let failed = |what: &str, e: std::io::Error| {
        CallingError::new(&registry::INTERNAL_SERVER_ERROR)
            .with_context(format!("starting `{} serve`: {what}", binary.display()))
            .with_raw_cause(e.to_string())
    };
    std::fs::create_dir_all(&data).map_err(|e| failed("data directory", e))?;
    let out_path = data.join("serve.out");
    let out = std::fs::File::create(&out_path).map_err(|e| failed("output file", e))?;
    let err = std::fs::File::create(data.join("serve.err")).map_err(|e| failed("log file", e))?;
    // The started server's admin key: unguessable, since any local process can reach its port.
    let mut random = [0u8; 16];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").map_err(|e| failed("/dev/urandom", e))?,
        &mut random,
    )
    .map_err(|e| failed("/dev/urandom", e))?;
    let key: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let child = Command::new(&binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.join("store"))
        .env("APPEL_ACCESS_KEY", &key)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| failed("spawn", e))?;
    let server = OwnServer { child, data };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        let text = std::fs::read_to_string(&out_path).unwrap_or_default();
        if let Some(url) = text
            .lines()
            .find_map(|line| line.split_once("listening on ").map(|(_, url)| url.trim()))
        {
            return Ok((server, url.to_string(), key));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(server.data.join("serve.err")).unwrap_or_default();
    Err(CallingError::new(&registry::INTERNAL_SERVER_ERROR)
        .with_context(format!(
            "`{} serve` did not start within 20 s",
            binary.display()
        ))
        .with_raw_cause(log))
}

/// Shared between the run and every participant's task.
struct Shared {
    phase: AtomicU8,
    /// Participants that receive every track they should.
    ready: AtomicUsize,
}

/// What one participant's task counted.
#[derive(Debug, Default)]
struct Tally {
    /// Frames written with the window's stamp: (audio, video).
    sent: (u64, u64),
    /// Frames stamped "window" received, per publisher: (audio, video).
    received: HashMap<String, (u64, u64)>,
    /// RTP datagrams received while the run was in the window, and their bytes.
    packets: u64,
    bytes: u64,
    late: u64,
    error: Option<String>,
}

/// One participant, set up and ready to be driven.
struct Peer {
    id: String,
    call: CallId,
    wire: WireClient,
    socket: UdpSocket,
    client: MediaClient,
    publishes: bool,
    audio: bool,
    /// Publishers it must hear from before it counts as ready.
    expected_publishers: usize,
}

/// Reads frames until `pick` returns something; an error answering `request_id` fails.
async fn wait_for<T>(
    wire: &mut WireClient,
    request_id: u64,
    what: &str,
    mut pick: impl FnMut(&ServerFrame) -> Option<T>,
) -> Result<T, CallingError> {
    loop {
        let frame = wire.next_frame().await.map_err(|e| {
            let context = format!("waiting for {what}: {}", e.context().unwrap_or_default());
            e.with_context(context)
        })?;
        if let ServerFrame::Error {
            request_id: Some(r),
            error,
            ..
        } = &frame
        {
            if *r == request_id {
                return Err(error.clone());
            }
        }
        if let Some(found) = pick(&frame) {
            return Ok(found);
        }
    }
}

/// Sets up one room: the call, every member in it, every member's peer connection.
async fn set_up_room(
    target: SocketAddr,
    room: usize,
    tokens: Vec<String>,
    settings: &MediaSettings,
) -> Result<Vec<Peer>, CallingError> {
    let mut members = Vec::with_capacity(tokens.len());
    for (i, token) in tokens.iter().enumerate() {
        let wire = WireClient::sign_in(target, None, token, format!("media-{room}-{i}")).await?;
        members.push(wire);
    }
    let creator = &mut members[0];
    let request_id = creator.request_id();
    creator
        .send(ClientFrame::StartCall {
            request_id,
            targets: vec![],
            video: true,
            joinable: true,
        })
        .await?;
    let (call, first) = wait_for(creator, request_id, "callCreated", |f| match f {
        ServerFrame::CallCreated {
            request_id: r,
            call_id,
            participant_id,
        } if *r == request_id => Some((call_id.clone(), participant_id.to_string())),
        _ => None,
    })
    .await?;
    let mut ids = vec![first];
    for wire in members.iter_mut().skip(1) {
        let request_id = wire.request_id();
        wire.send(ClientFrame::JoinCall {
            request_id,
            call_id: call.clone(),
            video: true,
        })
        .await?;
        let id = wait_for(wire, request_id, "callJoined", |f| match f {
            ServerFrame::CallJoined {
                request_id: r,
                participant_id,
                ..
            } if *r == request_id => Some(participant_id.to_string()),
            _ => None,
        })
        .await?;
        ids.push(id);
    }
    let mut peers = Vec::with_capacity(members.len());
    for (i, (mut wire, id)) in members.into_iter().zip(ids).enumerate() {
        let publishes = i < settings.publishers;
        let socket = UdpSocket::bind("127.0.0.1:0").await.map_err(|e| {
            CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                .with_context("bind a loopback UDP socket")
                .with_raw_cause(e.to_string())
        })?;
        // Like the server's socket: a client task kept off the CPU for a moment on a loaded machine
        // must not turn that into loss charged to the server.
        let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(CLIENT_SOCKET_BUFFER_BYTES);
        let local = socket.local_addr().map_err(|e| {
            CallingError::new(&registry::INTERNAL_SERVER_ERROR).with_raw_cause(e.to_string())
        })?;
        let (mut client, sdp) = MediaClient::new(
            Instant::now(),
            local,
            publishes && settings.audio,
            publishes,
        );
        let request_id = wire.request_id();
        wire.send(ClientFrame::MediaOffer {
            request_id,
            call_id: call.clone(),
            sdp,
        })
        .await?;
        let answer = wait_for(&mut wire, request_id, "mediaAnswer", |f| match f {
            ServerFrame::MediaAnswer {
                request_id: r, sdp, ..
            } if *r == request_id => Some(sdp.clone()),
            _ => None,
        })
        .await?;
        client.accept_answer(&answer).map_err(|e| {
            CallingError::new(&registry::MEDIA_SDP_REFUSED)
                .with_context(format!("the media server's answer: {e}"))
        })?;
        peers.push(Peer {
            id,
            call: call.clone(),
            wire,
            socket,
            client,
            publishes,
            audio: settings.audio,
            expected_publishers: settings.publishers - usize::from(publishes),
        });
    }
    Ok(peers)
}

/// Whether a datagram is RTP (not RTCP, STUN or DTLS): RFC 7983's first-byte ranges, and RTCP's
/// packet types 192–223 in the second byte.
fn is_rtp(bytes: &[u8]) -> bool {
    matches!(bytes, [first, second, ..] if (128..=191).contains(first) && !(192..=223).contains(second))
}

/// Drives one participant until the run stops; gives what it counted.
async fn drive(mut peer: Peer, shared: Arc<Shared>, video_bytes: usize) -> Tally {
    let mut tally = Tally::default();
    let mut buf = vec![0u8; 2048];
    let start = Instant::now();
    let mut next_audio = start;
    let mut next_video = start;
    let mut video_frames = 0u64;
    let mut keyframe_requests = 0u64;
    let mut seen = 0usize;
    // Every frame received so far per publisher (any phase), to tell when this one is ready.
    let mut heard: HashMap<String, (bool, bool)> = HashMap::new();
    let mut ready = false;
    let mut wire = Some(peer.wire);
    let mut audio_frame = vec![0u8; AUDIO_BYTES];
    let mut video_frame = vec![0u8; video_bytes.max(2)];
    loop {
        let phase = shared.phase.load(Ordering::Relaxed);
        if phase >= STOP {
            break;
        }
        let now = Instant::now();
        if peer.client.poll_timeout() <= now {
            peer.client.handle_timeout(now);
        }
        if peer.publishes && peer.client.is_connected() {
            if peer.audio && now.saturating_duration_since(next_audio) > LAG_LIMIT {
                tally.late += (now - next_audio).as_millis() as u64 / 20;
                next_audio = now;
            }
            while peer.audio && next_audio <= now {
                audio_frame[0] = phase;
                if peer.client.send_audio(now, &audio_frame) && phase == WINDOW {
                    tally.sent.0 += 1;
                }
                next_audio += AUDIO_INTERVAL;
            }
            if now.saturating_duration_since(next_video) > LAG_LIMIT {
                tally.late += (now - next_video).as_millis() as u64 / 33;
                next_video = now;
            }
            while next_video <= now {
                let asked = peer.client.keyframe_requests();
                let key = video_frames % KEYFRAME_EVERY == 0 || asked != keyframe_requests;
                keyframe_requests = asked;
                // VP8: the lowest bit of the first byte clear marks a keyframe.
                video_frame[0] = if key { 0x10 } else { 0x11 };
                video_frame[1] = phase;
                if peer.client.send_video(now, &video_frame) {
                    video_frames += 1;
                    if phase == WINDOW {
                        tally.sent.1 += 1;
                    }
                }
                next_video += VIDEO_INTERVAL;
            }
        } else {
            next_audio = now;
            next_video = now;
        }
        while let Some(t) = peer.client.poll_transmit() {
            let _ = peer.socket.send_to(&t.contents, t.destination).await;
        }
        let frames = peer.client.received();
        for frame in &frames[seen..] {
            let stamp = if frame.video {
                frame.data.get(1)
            } else {
                frame.data.first()
            };
            if !ready {
                let entry = heard.entry(frame.from.clone()).or_default();
                if frame.video {
                    entry.1 = true;
                } else {
                    entry.0 = true;
                }
            }
            if stamp == Some(&WINDOW) {
                if !tally.received.contains_key(frame.from.as_str()) {
                    tally.received.insert(frame.from.clone(), (0, 0));
                }
                if let Some(entry) = tally.received.get_mut(frame.from.as_str()) {
                    if frame.video {
                        entry.1 += 1;
                    } else {
                        entry.0 += 1;
                    }
                }
            }
        }
        seen = frames.len();
        if !ready
            && heard
                .values()
                .filter(|(audio, video)| *video && (*audio || !peer.audio))
                .count()
                >= peer.expected_publishers
            && peer.client.is_connected()
        {
            ready = true;
            shared.ready.fetch_add(1, Ordering::Relaxed);
        }

        let mut wake = peer.client.poll_timeout().min(now + TICK);
        if peer.publishes && peer.client.is_connected() {
            wake = wake.min(next_video);
            if peer.audio {
                wake = wake.min(next_audio);
            }
        }
        tokio::select! {
            received = peer.socket.recv_from(&mut buf) => {
                let mut next = received.ok();
                let mut batch = 0;
                while let Some((n, source)) = next {
                    let bytes = &buf[..n];
                    if is_rtp(bytes) && shared.phase.load(Ordering::Relaxed) == WINDOW {
                        tally.packets += 1;
                        tally.bytes += n as u64;
                    }
                    peer.client.receive(Instant::now(), source, bytes);
                    batch += 1;
                    next = if batch < READ_BATCH {
                        peer.socket.try_recv_from(&mut buf).ok()
                    } else {
                        None
                    };
                }
            }
            frame = async {
                match wire.as_mut() {
                    Some(wire) => wire.next_frame().await,
                    None => std::future::pending().await,
                }
            } => match frame {
                Ok(ServerFrame::MediaOffer { call_id, sdp }) => {
                    match peer.client.accept_offer(&sdp) {
                        Ok(answer) => {
                            if let Some(wire) = wire.as_mut() {
                                let _ = wire.send(ClientFrame::MediaAnswer { call_id, sdp: answer }).await;
                            }
                        }
                        Err(e) => {
                            tally.error.get_or_insert(format!("{}: the server's offer: {e}", peer.id));
                        }
                    }
                }
                Ok(ServerFrame::CallEnded { reason, .. }) => {
                    tally.error.get_or_insert(format!("{}: call {} ended: {reason:?}", peer.id, peer.call));
                    wire = None;
                }
                Ok(ServerFrame::Error { error, .. }) => {
                    tally.error.get_or_insert(format!("{}: {error}", peer.id));
                }
                Ok(_) => {}
                // Silence for a while is not a failure: the signaling connection stays.
                Err(e) if e.is(&registry::SIGNALING_REQUEST_TIMEOUT) => {}
                Err(e) => {
                    tally.error.get_or_insert(format!("{}: signaling: {e}", peer.id));
                    wire = None;
                }
            },
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
        }
    }
    tally
}

/// Runs the benchmark.
pub async fn run(settings: MediaSettings) -> Result<MediaReport, CallingError> {
    check(&settings)?;
    let own = match &settings.server {
        Some(_) => None,
        None => {
            let binary = match &settings.serve_binary {
                Some(binary) => binary.clone(),
                None => std::env::current_exe().map_err(|e| {
                    CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                        .with_context("the path of this executable")
                        .with_raw_cause(e.to_string())
                })?,
            };
            Some(start_server(binary).await?)
        }
    };
    let (server, access_key, pid) = match &own {
        Some((process, url, key)) => (url.clone(), key.clone(), Some(process.child.id())),
        None => (
            settings.server.clone().unwrap_or_default(),
            settings.access_key.clone().unwrap_or_default(),
            settings.server_pid,
        ),
    };
    let target = super::loopback_target(&server).await?;
    let pid = pid.or_else(|| listening_pid(target)).ok_or_else(|| {
        invalid(format!(
            "no process of this machine listens on {target}; give --server-pid"
        ))
    })?;
    super::raise_open_files_limit();
    let room = settings.publishers + settings.subscribers;
    let total = room * settings.rooms;
    let rest = RestClient::new(&server, &access_key)?;
    let tokens: Vec<String> = provision(&rest, total, 16)
        .await?
        .into_iter()
        .map(|(_, token)| token)
        .collect();
    let rss_before = rss_kib(pid)?;

    let shared = Arc::new(Shared {
        phase: AtomicU8::new(WARMUP),
        ready: AtomicUsize::new(0),
    });
    let video_bytes = (settings.video_kbps as usize * 1000 / 8 / 30).max(2);
    let mut tasks = Vec::with_capacity(total);
    let mut first_error: Option<String> = None;
    {
        let mut rooms = stream::iter(tokens.chunks(room).enumerate())
            .map(|(i, tokens)| set_up_room(target, i, tokens.to_vec(), &settings))
            .buffer_unordered(ROOMS_AT_ONCE);
        while let Some(set_up) = rooms.next().await {
            match set_up {
                Ok(peers) => {
                    for peer in peers {
                        tasks.push(tokio::spawn(drive(peer, Arc::clone(&shared), video_bytes)));
                    }
                }
                Err(error) => {
                    first_error.get_or_insert(format!("setting up a room: {error}"));
                }
            }
        }
    }
    // Every participant must receive every track it should before the warm-up counts.
    let waiting = Instant::now();
    while shared.ready.load(Ordering::Relaxed) < tasks.len() && waiting.elapsed() < READY_BUDGET {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = shared.ready.load(Ordering::Relaxed);
    if ready < total {
        first_error.get_or_insert(format!(
            "{ready} of {total} participants received every track within {READY_BUDGET:?}"
        ));
    }
    tokio::time::sleep(settings.warmup).await;

    let self_pid = std::process::id();
    let server_in_process = pid == self_pid;
    let server_cpu_before = cpu_seconds(pid)?;
    let client_cpu_before = cpu_seconds(self_pid)?;
    let started = Instant::now();
    shared.phase.store(WINDOW, Ordering::Relaxed);
    tokio::time::sleep(settings.duration).await;
    shared.phase.store(DRAINING, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = cpu_seconds(pid)? - server_cpu_before;
    let client_cpu = cpu_seconds(self_pid)? - client_cpu_before;
    let rss_after = rss_kib(pid)?;
    tokio::time::sleep(DRAIN).await;
    shared.phase.store(STOP, Ordering::Relaxed);

    let mut tallies = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok(tally) => tallies.push(tally),
            Err(e) => {
                first_error.get_or_insert(format!("a participant's task failed: {e}"));
            }
        }
    }
    drop(own);
    Ok(summarize(
        &settings,
        &tallies,
        Window {
            elapsed,
            server_cpu,
            client_cpu,
            rss_before,
            rss_after,
            server_in_process,
        },
        first_error,
    ))
}

/// What was read around the window.
struct Window {
    elapsed: f64,
    server_cpu: f64,
    client_cpu: f64,
    rss_before: u64,
    rss_after: u64,
    server_in_process: bool,
}

fn summarize(
    settings: &MediaSettings,
    tallies: &[Tally],
    window: Window,
    mut first_error: Option<String>,
) -> MediaReport {
    let room = settings.publishers + settings.subscribers;
    let participants = room * settings.rooms;
    // Each publisher's track reaches everyone else in its room.
    let fan_out = (room - 1) as u64;
    let video_streams = settings.rooms * settings.publishers * (room - 1);
    let audio_streams = if settings.audio { video_streams } else { 0 };
    let streams = video_streams + audio_streams;
    let (mut audio, mut video) = (KindReport::default(), KindReport::default());
    let (mut packets, mut bytes, mut late) = (0u64, 0u64, 0u64);
    for tally in tallies {
        audio.sent += tally.sent.0;
        video.sent += tally.sent.1;
        for (a, v) in tally.received.values() {
            audio.received += a;
            video.received += v;
        }
        packets += tally.packets;
        bytes += tally.bytes;
        late += tally.late;
        if first_error.is_none() {
            first_error.clone_from(&tally.error);
        }
    }
    // Pairs that heard nothing in the window: every receiver should have every other publisher.
    let heard_pairs: usize = tallies
        .iter()
        .map(|t| {
            t.received
                .values()
                .map(|(a, v)| usize::from(*v > 0) + usize::from(settings.audio && *a > 0))
                .sum::<usize>()
        })
        .sum();
    let silent_pairs = streams.saturating_sub(heard_pairs);
    for (kind, count) in [(&mut audio, audio_streams), (&mut video, video_streams)] {
        kind.expected = kind.sent * fan_out;
        kind.streams = count;
        kind.loss = if kind.expected > 0 {
            1.0 - kind.received as f64 / kind.expected as f64
        } else {
            0.0
        };
    }
    let cores = if window.elapsed > 0.0 {
        window.server_cpu / window.elapsed
    } else {
        0.0
    };
    let per_core = |n: usize| if cores > 0.0 { n as f64 / cores } else { 0.0 };
    let rss_delta = window.rss_after.saturating_sub(window.rss_before) as f64 * 1024.0;
    MediaReport {
        rooms: settings.rooms,
        publishers: settings.publishers,
        subscribers: settings.subscribers,
        participants,
        video_kbps: settings.video_kbps,
        elapsed: window.elapsed,
        audio,
        video,
        streams,
        forwarded_packets_per_second: packets as f64 / window.elapsed,
        forwarded_bytes_per_second: bytes as f64 / window.elapsed,
        silent_pairs,
        server_cpu_seconds: window.server_cpu,
        server_cores: cores,
        cpu_seconds_per_stream: if streams > 0 {
            cores / streams as f64
        } else {
            0.0
        },
        video_streams_per_core: per_core(video_streams),
        streams_per_core: per_core(streams),
        server_cpu_us_per_packet: if packets > 0 {
            window.server_cpu * 1e6 / packets as f64
        } else {
            0.0
        },
        rss_before_kib: window.rss_before,
        rss_after_kib: window.rss_after,
        rss_per_stream_bytes: if streams > 0 {
            rss_delta / streams as f64
        } else {
            0.0
        },
        rss_per_participant_bytes: rss_delta / participants as f64,
        client_cores: window.client_cpu / window.elapsed,
        server_in_process: window.server_in_process,
        late_frames: late,
        first_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_of_this_process_is_read_from_proc() {
        let before = cpu_seconds(std::process::id()).unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_seconds(std::process::id()).unwrap() >= before);
        assert!(cpu_seconds(u32::MAX).is_err());
    }

    #[test]
    fn rtp_is_told_from_rtcp_stun_and_dtls() {
        assert!(is_rtp(&[0x80, 96, 0, 1]));
        assert!(is_rtp(&[0x90, 0xe0, 0, 1]));
        assert!(!is_rtp(&[0x80, 200, 0, 1]));
        assert!(!is_rtp(&[0x00, 0x01, 0, 0]));
        assert!(!is_rtp(&[22, 254, 253]));
        assert!(!is_rtp(&[0x80]));
    }

    #[test]
    fn settings_out_of_bounds_name_the_flag() {
        let settings = MediaSettings {
            server: None,
            access_key: None,
            server_pid: None,
            serve_binary: None,
            rooms: 1,
            publishers: 2,
            subscribers: 1,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(1),
            video_kbps: 500,
            audio: true,
        };
        assert!(check(&settings).is_ok());
        let error = check(&MediaSettings {
            publishers: 1,
            subscribers: 0,
            ..settings.clone()
        })
        .unwrap_err();
        assert!(error.context().unwrap_or_default().contains("a room needs"));
        let error = check(&MediaSettings {
            rooms: 1_000,
            ..settings.clone()
        })
        .unwrap_err();
        assert!(error.context().unwrap_or_default().contains("participants"));
        let error = check(&MediaSettings {
            server: Some("http://127.0.0.1:1".into()),
            ..settings
        })
        .unwrap_err();
        assert!(error.context().unwrap_or_default().contains("--access-key"));
    }
}

//! The SDK's own media through the media server, end to end: a real server on loopback, SDK
//! clients with virtual microphones and cameras, real UDP. Each test is the failure it guards
//! against: a participant not heard or not seen in a group call or a room, a participant whose
//! UDP never gets through or dies mid-call, a muted microphone still heard, a device operation
//! that answers with the wrong error (or none), a device that dies mid-call unnoticed, and a
//! client that keeps its media troubles to itself instead of putting them on the call's timeline.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use appel_codes::{registry, CallingError, Entry};
use appel_sdk::{
    Call, CallAgent, CallClient, CallClientOptions, CallEvent, CallState, ConnectionState,
    DeviceFailure, IdentityId, JoinCallOptions, LocalVideoStream, MediaStatus, StartCallOptions,
    StreamKind, TokenCredential, VirtualDevice,
};
use futures_util::StreamExt;
use support::{assert_error, assert_reason, departure, options, reach, within, TestServer};
use tokio::net::UdpSocket;

const MEDIA_SETUP: Duration = Duration::from_millis(1500);
const MEDIA_LOSS: Duration = Duration::from_millis(1000);
/// The longest media may take to reach everyone on loopback.
const MEDIA_WAIT: Duration = Duration::from_secs(20);

/// One test of this file at a time: each runs a server and up to five peer connections that send
/// 80 frames a second each, which two shared cores carry for one test but not for several.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A server; with `relay`, its media timers are short and clients are told to send their media
/// to that address (`media.public_address`) while the media server binds the port returned.
/// Without, the media timers keep their defaults: a test whose process is starved of CPU for a
/// second (two shared cores) must not see participants removed for a silence it caused itself.
async fn server(relay: Option<SocketAddr>) -> (TestServer, Option<SocketAddr>) {
    let bound = relay.map(|_| {
        // A free loopback port for the media server, known before it starts so the relay can
        // forward to it.
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("probe port");
        probe.local_addr().expect("probe address")
    });
    let server = TestServer::start_with(|config| {
        if relay.is_some() {
            config.timers.media_setup = MEDIA_SETUP;
            config.timers.media_loss = MEDIA_LOSS;
        }
        // Joiners' media stands for `mediaReady`; the establishment timer must not beat the
        // media timers under test.
        config.timers.establishment = Duration::from_secs(20);
        // A joinable call started to nobody waits for its first joiner this long.
        config.timers.ringing = Duration::from_secs(20);
        // Setting up several peer connections (a certificate and a DTLS handshake each, in a
        // debug build) holds the process for a while on two shared cores: the signaling
        // heartbeat, which is not under test here, must not take that for a dead connection.
        config.signaling.heartbeat_interval = Duration::from_secs(2);
        config.timers.abrupt_disconnect = Duration::from_secs(5);
        if let (Some(front), Some(bound)) = (relay, bound) {
            config.media.public_address = Some(front);
            config.media.bind = bound;
        }
    })
    .await;
    (server, bound)
}

/// One user: a client with its virtual devices and its signed-in agent.
struct Member {
    client: CallClient,
    agent: CallAgent,
    identity: IdentityId,
    microphone: VirtualDevice,
    camera: VirtualDevice,
}

async fn member(server: &TestServer, name: &str) -> Member {
    let identity = server.create_identity().await;
    let client = CallClient::new(CallClientOptions::default());
    let devices = client.device_manager();
    let microphone = devices.add_virtual_microphone(&format!("{name}'s microphone"));
    let camera = devices.add_virtual_camera(&format!("{name}'s camera"));
    let credential = TokenCredential::new(server.token(&identity).await);
    let mut options = options(&server.url());
    // Several peer connections share two cores with the server: confirmations may be slow.
    options.timeouts.call_establishment = Duration::from_secs(10);
    options.timeouts.request = Duration::from_secs(5);
    options.reconnect.grace = Duration::from_secs(20);
    let agent = client
        .create_call_agent(credential, options)
        .await
        .expect("agent created");
    Member {
        client,
        agent,
        identity,
        microphone,
        camera,
    }
}

async fn members(server: &TestServer, names: &[&str]) -> Vec<Member> {
    let mut all = Vec::new();
    for name in names {
        all.push(member(server, name).await);
    }
    all
}

/// The first member starts a joinable call with video; the others join it by id with video.
async fn group_call(members: &[Member]) -> Vec<Call> {
    let first = members[0]
        .agent
        .start_call(
            &[],
            StartCallOptions {
                video: true,
                joinable: true,
            },
        )
        .expect("call starts");
    let id = call_id(&first).await;
    let mut calls = vec![first];
    for member in &members[1..] {
        let call = member
            .agent
            .join_call(&id, JoinCallOptions { video: true })
            .expect("join");
        reach(&call, CallState::Connected).await;
        calls.push(call);
    }
    reach(&calls[0], CallState::Connected).await;
    calls
}

/// The id the server gave `call`.
async fn call_id(call: &Call) -> appel_sdk::CallId {
    let mut events = call.events();
    within("the call's id", async {
        while let Some(event) = events.next().await {
            if let CallEvent::IdAssigned(id) = event {
                return id;
            }
        }
        panic!("the call ended unnamed: {:?}", call.end_reason());
    })
    .await
}

/// `condition` becomes true within `limit` (checked every 50 ms).
async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    tokio::time::timeout(limit, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .is_ok()
}

/// Frames `call` received from `from` of `kind`.
fn frames(call: &Call, from: &Call, kind: StreamKind) -> u64 {
    let from = from.participant_id().expect("named");
    call.remote_streams()
        .iter()
        .find(|s| s.participant_id == from && s.kind == kind)
        .map_or(0, |s| s.frames)
}

/// Every call received at least `at_least` audio and video frames from each other call, and
/// nothing from itself.
fn all_hear_all(calls: &[Call], at_least: u64) -> bool {
    calls.iter().all(|call| {
        let own = call.participant_id();
        !call
            .remote_streams()
            .iter()
            .any(|s| Some(&s.participant_id) == own.as_ref())
            && calls
                .iter()
                .filter(|other| other.participant_id() != own)
                .all(|other| {
                    frames(call, other, StreamKind::Audio) >= at_least
                        && frames(call, other, StreamKind::Video) >= at_least
                })
    })
}

fn describe(calls: &[Call]) -> String {
    calls
        .iter()
        .map(|c| {
            format!(
                "{:?} {:?} {:?}: {:?}",
                c.participant_id(),
                c.end_reason(),
                c.media_status(),
                c.remote_streams()
                    .iter()
                    .map(|s| format!("{}/{:?}={}", s.participant_id, s.kind, s.frames))
                    .collect::<Vec<_>>()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The next [`CallEvent::DeviceFailed`] of `call`.
async fn device_failure(call: &Call) -> CallingError {
    let mut events = call.events();
    within("a device failure", async {
        while let Some(event) = events.next().await {
            if let CallEvent::DeviceFailed(error) = event {
                return error;
            }
        }
        panic!("the call ended without a device failure");
    })
    .await
}

/// Every device failure `call` reported so far.
async fn device_failures(call: &Call) -> Vec<CallingError> {
    let mut events = call.events();
    let mut failures = Vec::new();
    // The replayed events come at once; the first one missing ends the wait.
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(100), events.next()).await
    {
        if let CallEvent::DeviceFailed(error) = event {
            failures.push(error);
        }
    }
    failures
}

#[track_caller]
fn assert_is(error: &CallingError, entry: &'static Entry) {
    assert_eq!(
        (error.code(), error.subcode(), error.category()),
        (entry.code, entry.subcode, entry.category),
        "expected {}, got {error}",
        entry.name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_sdk_clients_in_a_group_call_each_receive_every_others_audio_and_video() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, _) = server(None).await;
    let members = members(&server, &["alice", "bob", "carol", "dan", "erin"]).await;
    let calls = group_call(&members).await;
    let heard = eventually(MEDIA_WAIT, || all_hear_all(&calls, 25)).await;
    assert!(
        heard,
        "not everyone heard and saw everyone: {}",
        describe(&calls)
    );
    for call in &calls {
        assert_eq!(call.media_status(), MediaStatus::Connected);
        for stream in call.remote_streams() {
            assert!(stream.packets >= stream.frames, "{stream:?}");
            assert_eq!(stream.malformed, 0, "{stream:?}");
            assert!(stream.last_received.is_some());
            // Generated frames at a device's size: 80-byte Opus frames, VP8 frames of hundreds
            // of bytes (each one several packets when it is a keyframe).
            let per_frame = stream.bytes / stream.frames;
            match stream.kind {
                StreamKind::Audio => assert_eq!(per_frame, 80, "{stream:?}"),
                StreamKind::Video => assert!(per_frame >= 600, "{stream:?}"),
            }
        }
        assert_eq!(call.state(), CallState::Connected, "nobody was removed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_sdk_clients_in_a_room_each_receive_every_others_audio_and_video() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, _) = server(None).await;
    let members = members(&server, &["ann", "ben", "cat", "dov"]).await;
    let roster: Vec<serde_json::Value> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = if i == 0 { "Presenter" } else { "Attendee" };
            serde_json::json!({ "identity": m.identity, "role": role })
        })
        .collect();
    let response = server
        .http
        .post(format!("{}/rooms", server.url()))
        .bearer_auth(server.server.access_key())
        .json(&serde_json::json!({ "participants": roster }))
        .send()
        .await
        .expect("POST /rooms");
    assert_eq!(response.status(), 201);
    let room: serde_json::Value = response.json().await.expect("json");
    let room = room["id"].as_str().expect("room id").to_owned();
    let mut calls = Vec::new();
    for member in &members {
        let call = member
            .agent
            .join_room(&room, JoinCallOptions { video: true })
            .expect("join room");
        reach(&call, CallState::Connected).await;
        calls.push(call);
    }
    let heard = eventually(MEDIA_WAIT, || all_hear_all(&calls, 25)).await;
    assert!(
        heard,
        "not everyone heard and saw everyone: {}",
        describe(&calls)
    );
}

/// A loopback UDP relay standing where clients send their media: it forwards each client's
/// datagrams to the media server from a socket of its own, and the answers back. It can drop
/// every datagram of one client address, or of every client address it meets from now on.
struct UdpRelay {
    front: SocketAddr,
    state: Arc<Mutex<RelayState>>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

#[derive(Default)]
struct RelayState {
    server: Option<SocketAddr>,
    known: HashSet<SocketAddr>,
    blocked: HashSet<SocketAddr>,
    block_newcomers: bool,
    upstream: std::collections::HashMap<SocketAddr, Arc<UdpSocket>>,
}

impl UdpRelay {
    async fn bind() -> UdpRelay {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("relay socket"));
        let state = Arc::new(Mutex::new(RelayState::default()));
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let relay = UdpRelay {
            front: front.local_addr().expect("relay address"),
            state: state.clone(),
            tasks: tasks.clone(),
        };
        let forward = tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            loop {
                let Ok((n, client)) = front.recv_from(&mut buf).await else {
                    return;
                };
                let (server, upstream, new) = {
                    let mut state = state.lock().unwrap();
                    if !state.known.contains(&client) {
                        state.known.insert(client);
                        if state.block_newcomers {
                            state.blocked.insert(client);
                        }
                    }
                    if state.blocked.contains(&client) {
                        continue;
                    }
                    let Some(server) = state.server else { continue };
                    match state.upstream.get(&client) {
                        Some(socket) => (server, socket.clone(), false),
                        None => {
                            let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
                            socket.set_nonblocking(true).expect("non-blocking");
                            let socket = Arc::new(UdpSocket::from_std(socket).expect("tokio"));
                            state.upstream.insert(client, socket.clone());
                            (server, socket, true)
                        }
                    }
                };
                if new {
                    // The media server's answers to this client come back on its own socket.
                    let (back, front, state) = (upstream.clone(), front.clone(), state.clone());
                    let task = tokio::spawn(async move {
                        let mut buf = vec![0u8; 2048];
                        while let Ok((n, _)) = back.recv_from(&mut buf).await {
                            if !state.lock().unwrap().blocked.contains(&client) {
                                let _ = front.send_to(&buf[..n], client).await;
                            }
                        }
                    });
                    tasks.lock().unwrap().push(task);
                }
                let _ = upstream.send_to(&buf[..n], server).await;
            }
        });
        relay.tasks.lock().unwrap().push(forward);
        relay
    }

    fn forward_to(&self, server: SocketAddr) {
        self.state.lock().unwrap().server = Some(server);
    }

    /// Every client address first heard from now on gets nothing through, either way.
    fn block_newcomers(&self) {
        self.state.lock().unwrap().block_newcomers = true;
    }

    /// Nothing more gets through from or to `client`.
    fn cut(&self, client: SocketAddr) {
        self.state.lock().unwrap().blocked.insert(client);
    }
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

async fn relayed_server() -> (TestServer, UdpRelay) {
    let relay = UdpRelay::bind().await;
    let (server, bound) = server(Some(relay.front)).await;
    relay.forward_to(bound.expect("the media server's port"));
    (server, relay)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_udp_is_blocked_before_ice_completes_ends_with_301004_and_the_others_see_it_leave_so(
) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, relay) = relayed_server().await;
    let members = members(&server, &["alice", "bob", "carol"]).await;
    let calls = group_call(&members[..2]).await;
    let heard = eventually(MEDIA_WAIT, || all_hear_all(&calls, 10)).await;
    assert!(heard, "{}", describe(&calls));
    // Carol's datagrams never get through: her ICE checks go unanswered.
    relay.block_newcomers();
    let carol = members[2]
        .agent
        .join_call(
            &calls[0].id().expect("named"),
            JoinCallOptions { video: true },
        )
        .expect("join");
    reach(&carol, CallState::Connected).await;
    let started = tokio::time::Instant::now();
    assert_reason(
        end_of_within(&carol, MEDIA_SETUP * 4).await,
        &registry::MEDIA_SERVER_UNREACHED_DURING_SETUP,
    );
    assert!(started.elapsed() >= MEDIA_SETUP - Duration::from_millis(500));
    assert_ne!(carol.media_status(), MediaStatus::Connected);
    for call in &calls {
        assert_reason(
            departure(call, &members[2].identity).await,
            &registry::MEDIA_SERVER_UNREACHED_DURING_SETUP,
        );
    }
    // The two others go on hearing each other.
    let before = frames(&calls[0], &calls[1], StreamKind::Audio);
    let going_on = eventually(MEDIA_WAIT, || {
        frames(&calls[0], &calls[1], StreamKind::Audio) >= before + 10
    })
    .await;
    assert!(going_on, "{}", describe(&calls));
}

/// The end of `call`, within `limit`.
async fn end_of_within(call: &Call, limit: Duration) -> appel_sdk::CallEndReason {
    tokio::time::timeout(limit, call.ended())
        .await
        .unwrap_or_else(|_| panic!("the call did not end within {limit:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_udp_is_cut_mid_call_ends_with_301005_while_its_signaling_stays_up() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, relay) = relayed_server().await;
    let members = members(&server, &["alice", "bob", "carol"]).await;
    let calls = group_call(&members).await;
    let heard = eventually(MEDIA_WAIT, || all_hear_all(&calls, 10)).await;
    assert!(heard, "{}", describe(&calls));
    relay.cut(calls[2].media_address().expect("carol's media socket"));
    assert_reason(
        end_of_within(&calls[2], MEDIA_LOSS * 5).await,
        &registry::MEDIA_SERVER_CONNECTION_LOST,
    );
    for call in &calls[..2] {
        assert_reason(
            departure(call, &members[2].identity).await,
            &registry::MEDIA_SERVER_CONNECTION_LOST,
        );
    }
    assert_eq!(
        members[2].agent.connection_state(),
        ConnectionState::Connected,
        "carol's signaling connection is kept"
    );
    // 410/301005 is retryable: carol joins again on a new socket and is heard again.
    let again = members[2]
        .agent
        .join_call(
            &calls[0].id().expect("named"),
            JoinCallOptions { video: true },
        )
        .expect("join again");
    reach(&again, CallState::Connected).await;
    let back = eventually(MEDIA_WAIT, || {
        frames(&calls[0], &again, StreamKind::Audio) >= 10
            && frames(&again, &calls[0], StreamKind::Video) >= 10
    })
    .await;
    assert!(back, "{}", describe(&[calls[0].clone(), again.clone()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_client_is_no_longer_heard_while_its_video_still_arrives_until_it_unmutes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, _) = server(None).await;
    let members = members(&server, &["alice", "bob", "carol"]).await;
    let calls = group_call(&members).await;
    let heard = eventually(MEDIA_WAIT, || all_hear_all(&calls, 10)).await;
    assert!(heard, "{}", describe(&calls));
    let (alice, bob) = (&calls[0], &calls[1]);
    within("mute", bob.mute()).await.expect("mute");
    assert!(bob.is_muted());
    // Frames already on their way when the mute took effect may still land: wait for some
    // video to come after it, then nothing more of the audio may.
    let video = frames(alice, bob, StreamKind::Video);
    assert!(
        eventually(MEDIA_WAIT, || frames(alice, bob, StreamKind::Video)
            >= video + 6)
        .await
    );
    let carol = &calls[2];
    let audio = frames(alice, bob, StreamKind::Audio);
    let carol_audio = frames(carol, bob, StreamKind::Audio);
    let video = frames(alice, bob, StreamKind::Video);
    assert!(
        eventually(MEDIA_WAIT, || frames(alice, bob, StreamKind::Video)
            >= video + 30)
        .await
    );
    assert_eq!(
        frames(alice, bob, StreamKind::Audio),
        audio,
        "bob's audio still reached alice"
    );
    assert_eq!(
        frames(carol, bob, StreamKind::Audio),
        carol_audio,
        "bob's audio still reached carol"
    );
    // Bob's client itself went quiet, not only the server's forwarding.
    let sent = bob.sent_frames(StreamKind::Audio);
    let sent_video = bob.sent_frames(StreamKind::Video);
    assert!(
        eventually(MEDIA_WAIT, || bob.sent_frames(StreamKind::Video)
            >= sent_video + 10)
        .await
    );
    assert_eq!(bob.sent_frames(StreamKind::Audio), sent);
    within("unmute", bob.unmute()).await.expect("unmute");
    assert!(
        eventually(MEDIA_WAIT, || frames(alice, bob, StreamKind::Audio)
            >= audio + 10)
        .await,
        "bob is heard again after unmuting: {}",
        describe(&calls)
    );

    // The application's backend mutes carol through the call-control API: her client stops
    // sending sound by itself.
    let response = server
        .http
        .post(format!(
            "{}/call-control/calls/{}/participants/{}/mute",
            server.url(),
            carol.id().expect("named"),
            carol.participant_id().expect("named")
        ))
        .bearer_auth(server.server.access_key())
        .send()
        .await
        .expect("call-control mute");
    assert_eq!(response.status(), 204);
    assert!(eventually(MEDIA_WAIT, || carol.is_muted()).await);
    let sent = carol.sent_frames(StreamKind::Audio);
    let sent_video = carol.sent_frames(StreamKind::Video);
    assert!(
        eventually(MEDIA_WAIT, || carol.sent_frames(StreamKind::Video)
            >= sent_video + 10)
        .await
    );
    assert_eq!(carol.sent_frames(StreamKind::Audio), sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_operations_answer_with_the_catalogue_error_of_the_cameras_real_state() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, _) = server(None).await;
    let members = members(&server, &["alice", "bob"]).await;
    let (alice, bob) = (&members[0], &members[1]);
    let devices = alice.client.device_manager();
    // A camera held by another application when the call starts: the call goes on without
    // video and says why (41048, the camera's own error as raw cause).
    alice.camera.fail(DeviceFailure::InUse);
    let calls = group_call(&members).await;
    let call = &calls[0];
    let failure = device_failure(call).await;
    assert_is(&failure, &registry::VIDEO_FAILED_DURING_SETUP);
    assert!(
        failure.raw_cause().unwrap_or("").contains("CAMERA_IN_USE"),
        "{failure}"
    );
    assert!(!call.is_video_on());
    // The timeline says it too, with the camera's own entry.
    let expected = "VIDEO_FAILED_DURING_SETUP 410/41048 (CAMERA_IN_USE): ";
    let mut found = Vec::new();
    for _ in 0..50 {
        found = reports(&server, call).await;
        if found
            .iter()
            .any(|(k, d)| k == "deviceError" && d.contains(expected))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        found.iter().any(|(k, d)| k == "deviceError"
            && d.starts_with(alice.identity.as_str())
            && d.contains(expected)),
        "{found:#?}"
    );
    assert_error(call.start_video(None).await, &registry::CAMERA_IN_USE);
    alice.camera.fail(DeviceFailure::PermissionDenied);
    assert_error(
        call.start_video(None).await,
        &registry::CAMERA_PERMISSION_NOT_GRANTED,
    );
    alice.camera.recover();
    let stream = call
        .start_video(None)
        .await
        .expect("the camera works again");
    assert!(call.is_video_on());
    assert_eq!(call.local_video_stream(), Some(stream.clone()));
    assert_error(
        call.start_video(None).await,
        &registry::VIDEO_ALREADY_STARTED,
    );
    // Bob sees it.
    let seen = eventually(MEDIA_WAIT, || {
        frames(&calls[1], call, StreamKind::Video) >= 10
    })
    .await;
    assert!(seen, "{}", describe(&calls));

    // Switching cameras: another client's camera is not a camera of this stream (43004), the
    // camera in use is no switch (43005), an unplugged one is gone (43019), a free one works.
    let elsewhere = bob.camera.camera().expect("a camera");
    assert_error(
        stream.switch_source(&elsewhere),
        &registry::SWITCH_CAMERA_INVALID_INPUT,
    );
    assert_error(
        LocalVideoStream::new(&devices, &elsewhere),
        &registry::SWITCH_CAMERA_INVALID_INPUT,
    );
    let current = alice.camera.camera().expect("a camera");
    assert_error(
        stream.switch_source(&current),
        &registry::SWITCH_CAMERA_SAME_DEVICE,
    );
    let spare = devices.add_virtual_camera("spare");
    let spare_info = spare.camera().expect("a camera");
    spare.unplug();
    assert_error(
        stream.switch_source(&spare_info),
        &registry::NO_VIDEO_DEVICE_SELECTED,
    );
    let second = devices.add_virtual_camera("second");
    second.fail(DeviceFailure::InUse);
    assert_error(
        stream.switch_source(&second.camera().expect("a camera")),
        &registry::CAMERA_IN_USE,
    );
    second.recover();
    stream
        .switch_source(&second.camera().expect("a camera"))
        .expect("switch to a free camera");
    assert_eq!(stream.camera_id(), second.id());
    let seen = frames(&calls[1], call, StreamKind::Video);
    let still = eventually(MEDIA_WAIT, || {
        frames(&calls[1], call, StreamKind::Video) >= seen + 10
    })
    .await;
    assert!(
        still,
        "video goes on from the new camera: {}",
        describe(&calls)
    );

    // Stopping: only the stream sent (41032), and not twice (41030).
    let other = LocalVideoStream::new(&devices, &current).expect("a stream");
    assert_error(
        call.stop_video(Some(&other)).await,
        &registry::STOP_VIDEO_STREAM_NOT_SENT,
    );
    call.stop_video(Some(&stream)).await.expect("stop");
    assert_error(
        call.stop_video(None).await,
        &registry::VIDEO_ALREADY_STOPPED,
    );
    // A stream whose camera was unplugged meanwhile cannot start (43019); another client's
    // stream is not one this call can send (41025).
    second.unplug();
    assert_error(
        call.start_video(Some(stream.clone())).await,
        &registry::NO_VIDEO_DEVICE_SELECTED,
    );
    let bobs = LocalVideoStream::new(&bob.client.device_manager(), &elsewhere).expect("bob's");
    assert_error(
        call.start_video(Some(bobs)).await,
        &registry::START_VIDEO_INVALID_STREAM,
    );
    // With every camera gone, there is none to find (43013).
    alice.camera.unplug();
    assert!(devices.cameras().is_empty());
    assert_error(call.start_video(None).await, &registry::NO_CAMERA_FOUND);
    // Bob saw alice's video stop: once her audio moved on, nothing more of it arrives.
    let audio = frames(&calls[1], call, StreamKind::Audio);
    assert!(
        eventually(MEDIA_WAIT, || frames(&calls[1], call, StreamKind::Audio)
            >= audio + 10)
        .await
    );
    let last = frames(&calls[1], call, StreamKind::Video);
    let audio = frames(&calls[1], call, StreamKind::Audio);
    assert!(
        eventually(MEDIA_WAIT, || frames(&calls[1], call, StreamKind::Audio)
            >= audio + 25)
        .await
    );
    assert_eq!(frames(&calls[1], call, StreamKind::Video), last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_a_call_with_video_and_no_camera_goes_on_without_video_and_says_43013() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, _) = server(None).await;
    let members = members(&server, &["alice", "bob"]).await;
    members[1].camera.unplug();
    let calls = group_call(&members).await;
    let failure = device_failure(&calls[1]).await;
    assert_is(&failure, &registry::VIDEO_FAILED_DURING_SETUP);
    assert!(
        failure
            .raw_cause()
            .unwrap_or("")
            .contains("NO_CAMERA_FOUND"),
        "{failure}"
    );
    // The call itself is fine: bob hears and sees alice, and alice hears bob.
    let heard = eventually(MEDIA_WAIT, || {
        frames(&calls[1], &calls[0], StreamKind::Video) >= 10
            && frames(&calls[0], &calls[1], StreamKind::Audio) >= 10
    })
    .await;
    assert!(heard, "{}", describe(&calls));
    assert_eq!(frames(&calls[0], &calls[1], StreamKind::Video), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microphone_troubles_answer_with_the_catalogue_errors_and_unmute_takes_a_freed_microphone_back(
) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, _) = server(None).await;
    let members = members(&server, &["alice", "bob", "carol", "dan"]).await;
    // Bob's microphone is refused to the application, carol's is held by another one, and dan
    // has none at all: each call starts without sound from that side and says why.
    members[1].microphone.fail(DeviceFailure::PermissionDenied);
    members[2].microphone.fail(DeviceFailure::InUse);
    members[3].microphone.unplug();
    let calls = group_call(&members).await;
    let expected = [
        &registry::MICROPHONE_PERMISSION_NOT_GRANTED,
        &registry::MICROPHONE_UNAVAILABLE,
        &registry::NO_MICROPHONE_FOUND,
    ];
    for (call, entry) in calls[1..].iter().zip(expected) {
        let failures = device_failures(call).await;
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_is(&failures[0], entry);
        assert!(!call.has_microphone());
        // Nothing to mute (41015); unmuting tries the microphone again and fails as it does
        // (41016, the microphone's own error as raw cause).
        assert_error(call.mute().await, &registry::MUTE_FAILED);
        let error = assert_error(call.unmute().await, &registry::UNMUTE_FAILED);
        assert!(
            error.raw_cause().unwrap_or("").contains(entry.name),
            "{error}"
        );
    }
    assert!(device_failures(&calls[0]).await.is_empty());
    // Alice hears video from everyone but sound from nobody.
    let seen = eventually(MEDIA_WAIT, || {
        calls[1..]
            .iter()
            .all(|c| frames(&calls[0], c, StreamKind::Video) >= 10)
    })
    .await;
    assert!(seen, "{}", describe(&calls));
    for call in &calls[1..] {
        assert_eq!(frames(&calls[0], call, StreamKind::Audio), 0);
    }
    // Carol closes the other application and unmutes: she is heard.
    members[2].microphone.recover();
    calls[2]
        .unmute()
        .await
        .expect("the freed microphone is taken back");
    assert!(calls[2].has_microphone());
    let heard = eventually(MEDIA_WAIT, || {
        frames(&calls[0], &calls[2], StreamKind::Audio) >= 10
    })
    .await;
    assert!(heard, "{}", describe(&calls));
    // A microphone picked by the application is the one the next call uses.
    let devices = members[3].client.device_manager();
    let headset = devices.add_virtual_microphone("headset");
    devices
        .select_microphone(&headset.microphone().expect("a microphone"))
        .expect("select");
    assert_eq!(
        devices.selected_microphone().map(|m| m.id().to_owned()),
        Some(headset.id().to_owned())
    );
    assert_error(
        devices.select_microphone(&members[0].microphone.microphone().expect("alice's")),
        &registry::INVALID_ARGUMENT,
    );
}

/// The timeline entries of `call` of the report kinds: (kind, detail).
async fn reports(server: &TestServer, call: &Call) -> Vec<(String, String)> {
    let id = call.id().expect("named");
    let response = server
        .http
        .get(format!("{}/calls/{id}", server.url()))
        .bearer_auth(server.server.access_key())
        .send()
        .await
        .expect("GET /calls/{id}");
    assert_eq!(response.status(), 200);
    let record: serde_json::Value = response.json().await.expect("json");
    record["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| {
            ["mediaConnected", "iceState", "deviceError"]
                .contains(&e["kind"].as_str().unwrap_or(""))
        })
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or("").to_owned(),
                e["detail"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_failing_mid_call_stop_being_used_and_the_sdk_puts_its_media_story_on_the_timeline()
{
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, _) = server(None).await;
    let members = members(&server, &["alice", "bob", "carol"]).await;
    let calls = group_call(&members).await;
    let heard = eventually(MEDIA_WAIT, || all_hear_all(&calls, 10)).await;
    assert!(heard, "{}", describe(&calls));
    // Mid-call, bob's camera is unplugged and carol's microphone is taken by another
    // application.
    members[1].camera.unplug();
    let failure = device_failure(&calls[1]).await;
    assert_is(&failure, &registry::NO_VIDEO_DEVICE_SELECTED);
    assert!(!calls[1].is_video_on());
    members[2].microphone.fail(DeviceFailure::InUse);
    let failure = device_failure(&calls[2]).await;
    assert_is(&failure, &registry::MICROPHONE_UNAVAILABLE);
    assert!(!calls[2].has_microphone());
    // What they no longer capture stops arriving; the rest goes on. Frames already on their
    // way may land, so the count is taken once what they still send has moved on.
    let flowing = |bob_audio: u64, carol_video: u64, more: u64| {
        frames(&calls[0], &calls[1], StreamKind::Audio) >= bob_audio + more
            && frames(&calls[0], &calls[2], StreamKind::Video) >= carol_video + more
    };
    let (bob_audio, carol_video) = (
        frames(&calls[0], &calls[1], StreamKind::Audio),
        frames(&calls[0], &calls[2], StreamKind::Video),
    );
    assert!(eventually(MEDIA_WAIT, || flowing(bob_audio, carol_video, 10)).await);
    let bob_video = frames(&calls[0], &calls[1], StreamKind::Video);
    let carol_audio = frames(&calls[0], &calls[2], StreamKind::Audio);
    let (bob_audio, carol_video) = (
        frames(&calls[0], &calls[1], StreamKind::Audio),
        frames(&calls[0], &calls[2], StreamKind::Video),
    );
    assert!(eventually(MEDIA_WAIT, || flowing(bob_audio, carol_video, 30)).await);
    assert_eq!(frames(&calls[0], &calls[1], StreamKind::Video), bob_video);
    assert_eq!(frames(&calls[0], &calls[2], StreamKind::Audio), carol_audio);

    // Each one's reports are on the call's timeline, read back over REST.
    let complete = |reports: &[(String, String)]| {
        members.iter().all(|m| {
            let mine = |kind: &str| {
                reports
                    .iter()
                    .filter(|(k, d)| k == kind && d.starts_with(m.identity.as_str()))
                    .count()
            };
            mine("mediaConnected") == 1 && mine("iceState") >= 2
        }) && reports.iter().any(|(k, d)| {
            k == "deviceError"
                && d.starts_with(members[1].identity.as_str())
                && d.contains("NO_VIDEO_DEVICE_SELECTED")
        }) && reports.iter().any(|(k, d)| {
            k == "deviceError"
                && d.starts_with(members[2].identity.as_str())
                && d.contains("MICROPHONE_UNAVAILABLE")
        })
    };
    let mut last = Vec::new();
    let deadline = tokio::time::Instant::now() + support::STEP;
    while tokio::time::Instant::now() < deadline {
        last = reports(&server, &calls[0]).await;
        if complete(&last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(complete(&last), "{last:#?}");
    // The entries say what failed, never the device's name (it stays on the device).
    assert!(
        last.iter()
            .all(|(_, d)| !d.contains("microphone)") && !d.contains("virtual-")),
        "{last:#?}"
    );
    let alice_ice: Vec<&str> = last
        .iter()
        .filter(|(k, d)| k == "iceState" && d.starts_with(members[0].identity.as_str()))
        .map(|(_, d)| d.rsplit(": ").next().unwrap_or(""))
        .collect();
    assert!(
        alice_ice.first() == Some(&"checking")
            && alice_ice[1..]
                .iter()
                .any(|s| *s == "connected" || *s == "completed"),
        "{alice_ice:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callees_who_accept_a_call_started_to_two_of_them_connect_their_media_by_themselves() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, _) = server(None).await;
    let members = members(&server, &["alice", "bob", "carol"]).await;
    let targets: Vec<IdentityId> = members[1..].iter().map(|m| m.identity.clone()).collect();
    let outgoing = members[0]
        .agent
        .start_call(
            &targets,
            StartCallOptions {
                video: true,
                joinable: false,
            },
        )
        .expect("call starts");
    let mut calls = vec![outgoing];
    for member in &members[1..] {
        let ring = support::next_incoming(&member.agent).await;
        let call = within(
            "accept",
            ring.accept(appel_sdk::AcceptOptions { video: true }),
        )
        .await
        .expect("accept");
        calls.push(call);
    }
    for call in &calls {
        reach(call, CallState::Connected).await;
    }
    let heard = eventually(MEDIA_WAIT, || all_hear_all(&calls, 10)).await;
    assert!(heard, "{}", describe(&calls));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagrams_from_a_stranger_to_a_clients_media_port_are_dropped_and_its_media_goes_on() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, _) = server(None).await;
    let members = members(&server, &["alice", "bob", "carol"]).await;
    let calls = group_call(&members).await;
    let heard = eventually(MEDIA_WAIT, || all_hear_all(&calls, 10)).await;
    assert!(heard, "{}", describe(&calls));
    let target = calls[0].media_address().expect("alice's media socket");
    let before: Vec<_> = calls[0]
        .remote_streams()
        .iter()
        .map(|s| (s.participant_id.clone(), s.kind))
        .collect();
    // Someone on the network who learned alice's port sends what looks like each kind of
    // datagram her socket multiplexes — STUN, DTLS, RTP, RTCP — and plain junk.
    let stranger = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let mut noise = 0x2545_f491_4f6c_dd1du64;
    for i in 0..2000u32 {
        noise ^= noise << 13;
        noise ^= noise >> 7;
        noise ^= noise << 17;
        let mut datagram = noise.to_le_bytes().repeat(1 + (i as usize % 20));
        datagram[0] = [0x00, 0x01, 0x16, 0x80, 0x81, 0xff][i as usize % 6];
        if datagram[0] == 0x16 {
            datagram[1] = 0xfe;
            datagram[2] = 0xfd;
        }
        if datagram[0] >= 0x80 {
            // An RTP or RTCP header with a payload type the call uses.
            datagram[1] = [111, 96, 200, 201][i as usize % 4];
        }
        let _ = stranger.send_to(&datagram, target).await;
    }
    let (bob, carol) = (&calls[1], &calls[2]);
    let (from_bob, from_carol) = (
        frames(&calls[0], bob, StreamKind::Video),
        frames(&calls[0], carol, StreamKind::Audio),
    );
    let going_on = eventually(MEDIA_WAIT, || {
        frames(&calls[0], bob, StreamKind::Video) >= from_bob + 25
            && frames(&calls[0], carol, StreamKind::Audio) >= from_carol + 25
    })
    .await;
    assert!(going_on, "{}", describe(&calls));
    let after = calls[0].remote_streams();
    assert_eq!(
        after
            .iter()
            .map(|s| (s.participant_id.clone(), s.kind))
            .collect::<Vec<_>>(),
        before,
        "no stream appeared from the stranger"
    );
    assert!(after.iter().all(|s| s.malformed == 0), "{after:?}");
    assert_eq!(calls[0].state(), CallState::Connected);
    // Her own media still reaches the others.
    let to_bob = frames(bob, &calls[0], StreamKind::Audio);
    assert!(
        eventually(MEDIA_WAIT, || frames(bob, &calls[0], StreamKind::Audio)
            >= to_bob + 25)
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_call_on_a_server_without_its_media_server_goes_on_and_says_503_900700() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start_with(|config| {
        config.media.enabled = false;
        config.timers.ringing = Duration::from_secs(20);
        config.timers.establishment = Duration::from_secs(20);
    })
    .await;
    let members = members(&server, &["alice", "bob"]).await;
    let calls = group_call(&members).await;
    for call in &calls {
        let refused = eventually(MEDIA_WAIT, || {
            matches!(call.media_status(), MediaStatus::Unavailable(_))
        })
        .await;
        assert!(refused, "{:?}", call.media_status());
        let MediaStatus::Unavailable(error) = call.media_status() else {
            unreachable!()
        };
        assert_is(&error, &registry::MEDIA_SERVER_DISABLED);
        assert_eq!(call.state(), CallState::Connected, "the call goes on");
        assert!(call.remote_streams().is_empty());
    }
}

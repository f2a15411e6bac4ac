//! Attacks on the signaling path's memory and relay, against a real server on loopback: clients that
//! stop reading, a burst of calls for a new endpoint, oversized and flooding `signal` frames.
//!
//! The tests of this file run one at a time (see `SERIAL`): some measure the process's resident
//! memory, which the server shares with the clients of every test running at the same time.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use appel_codes::registry;
use appel_protocol::{CallId, ClientFrame, ServerFrame};
use appel_server::Config;
use support::client::assert_reason;
use support::raw::{rss_kib, server_side_open, RawClient};
use support::{Client, TestServer};
use tokio::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::const_new(());

/// A relayed SDP-sized signal: under the default signal limit (32 KiB), well over a typical frame.
const FLOOD_SIGNAL: usize = 30_000;

/// Timers long enough that nothing but the limits under test ends a connection or a call: the
/// heartbeat as shipped, and ringing that outlasts the setup of many parties on a loaded machine.
fn unhurried(config: &mut Config) {
    let shipped = Config::default();
    config.signaling.heartbeat_interval = shipped.signaling.heartbeat_interval;
    config.timers.ringing = Duration::from_secs(60);
    config.timers.establishment = Duration::from_secs(60);
    config.timers.delivery_ack = Duration::from_secs(10);
}

/// The flood scenarios model a group call where many parties signal at once: one sender stands
/// for all of them, so its own signal limits are lifted.
fn many_senders(config: &mut Config) {
    unhurried(config);
    config.signaling.signal_rate = 1 << 30;
    config.signaling.signal_burst = 1 << 30;
    config.signaling.frame_rate = 1 << 30;
    config.signaling.frame_burst = 1 << 30;
}

fn budget() -> usize {
    Config::default().signaling.send_buffer_bytes
}

/// The most the process may grow, in KiB, while `readers` slow readers are cut at their budget.
/// Resident memory also counts what the allocator keeps after a free (memory one thread freed is
/// not at once reused by another, nor handed back to the system) and the flood's own frames in
/// flight (30 KB frames parsed, copied for each recipient and serialized), so the bound is twice
/// the budgets plus 2 MiB: still well under what one slow reader cost before the budget was
/// counted in bytes (9 to 15 MiB each).
fn allowed_growth_kib(readers: u64) -> u64 {
    readers * 2 * (budget() / 1024) as u64 + 2048
}

fn signal(call: &CallId, marker: &str, padding: usize) -> ClientFrame {
    ClientFrame::Signal {
        call_id: call.clone(),
        to: None,
        payload: serde_json::json!({ "marker": marker, "data": "x".repeat(padding) }),
    }
}

/// The marker of a relayed signal.
fn marker(frame: &ServerFrame) -> Option<String> {
    match frame {
        ServerFrame::Signal { payload, .. } => payload["marker"].as_str().map(String::from),
        _ => None,
    }
}

/// What a flood did until every watched connection was closed by the server (or the time ran out).
struct Flood {
    /// Every watched connection was closed.
    all_cut: bool,
    took: Duration,
    sent_bytes: usize,
    /// The highest resident memory seen, KiB.
    peak_kib: u64,
}

/// Signals on their way at once: `carol`, who reads, sets the pace, so the flood measures what the
/// slow readers cost rather than a backlog in front of the controller.
const IN_FLIGHT: u64 = 8;

/// `alice` sends SDP-sized signals to everyone in `call` as fast as `carol` receives them, until
/// the server has closed every connection of `watched` (client ports).
async fn flood(
    alice: &mut Client,
    carol: &mut Client,
    call: &CallId,
    server: SocketAddr,
    watched: &[u16],
    limit: Duration,
) -> Flood {
    let start = Instant::now();
    let mut flood = Flood {
        all_cut: false,
        took: Duration::ZERO,
        sent_bytes: 0,
        peak_kib: rss_kib(),
    };
    let frame = signal(call, "flood", FLOOD_SIGNAL).to_json();
    let mut sent = 0u64;
    while start.elapsed() < limit {
        alice.send_raw(&frame).await;
        flood.sent_bytes += frame.len();
        sent += 1;
        if sent > IN_FLIGHT {
            carol.wait_for("a relayed signal", marker).await;
        }
        if sent % 4 == 0 {
            flood.peak_kib = flood.peak_kib.max(rss_kib());
            if watched
                .iter()
                .all(|&port| !server_side_open(server.port(), port))
            {
                flood.all_cut = true;
                break;
            }
        }
    }
    flood.took = start.elapsed();
    flood
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_is_cut_at_its_byte_budget() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start_with(|c| {
        many_senders(c);
        // Only the byte budget may cut it here; the write timeout has its own scenario.
        c.signaling.write_timeout = Duration::from_secs(120);
    })
    .await;
    let addr = server.server.addr();
    let (_, mut alice) = server.user("alice-1").await;
    let (carol_id, mut carol) = server.user("carol-1").await;
    let slow_id = server.create_identity().await;
    let mut slow = RawClient::sign_in(addr, &server.token(&slow_id).await, "slow-1").await;
    let (call, _) = alice.start_call(&[&slow_id, &carol_id]).await;
    slow.answer(&call).await;
    join(&mut carol, &call).await;
    slow.stop_reading();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let before = rss_kib();
    let flood = flood(
        &mut alice,
        &mut carol,
        &call,
        addr,
        &[slow.local_port],
        Duration::from_secs(30),
    )
    .await;
    let growth = flood.peak_kib.saturating_sub(before);
    eprintln!(
        "slow reader: cut after {:?} and {} KiB sent; RSS {before} KiB before, peak {} KiB (+{growth} KiB); budget {} KiB",
        flood.took,
        flood.sent_bytes / 1024,
        flood.peak_kib,
        budget() / 1024
    );
    assert!(
        flood.all_cut,
        "the server still holds the slow reader's connection open after {:?}",
        flood.took
    );
    // Most of that time goes into filling the kernel's socket buffers (a few MB on loopback) with
    // an unoptimised build; the cut itself comes with the first frame over the budget.
    assert!(
        flood.took < Duration::from_secs(20),
        "cut only after {:?}",
        flood.took
    );
    assert!(
        growth <= allowed_growth_kib(1),
        "the server grew by {growth} KiB for one slow reader (budget {} KiB)",
        budget() / 1024
    );
    // The client side sees the end: what the kernel held, then the end of the stream.
    let (ended, drained) = slow.drains_to_an_end(Duration::from_secs(10)).await;
    assert!(
        ended,
        "the slow reader's connection never ended ({drained} bytes read)"
    );
    eprintln!("slow reader: {drained} bytes were still on the way when it was cut");
    // The others hear the documented reason for a participant whose connection was lost, and
    // their call goes on.
    for (party, name) in [(&mut alice, "alice"), (&mut carol, "carol")] {
        assert_reason(
            party.participant_left(&call, &slow_id).await,
            &registry::ABRUPT_DISCONNECT,
            name,
        );
    }
    alice.send(signal(&call, "still talking", 100)).await;
    let next = carol
        .wait_for("a signal", |f| marker(f).filter(|m| m != "flood"))
        .await;
    assert_eq!(next, "still talking");
}

/// `party` answers the call ringing for it and joins it.
async fn join(party: &mut Client, call: &CallId) {
    assert_eq!(&party.incoming().await, call);
    party.accept(call).await.expect("accept");
    party.media_ready(call).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_slow_readers_do_not_grow_the_server() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start_with(|c| {
        many_senders(c);
        c.signaling.write_timeout = Duration::from_secs(120);
    })
    .await;
    let addr = server.server.addr();
    let (_, mut alice) = server.user("alice-1").await;
    let (carol_id, mut carol) = server.user("carol-1").await;
    let mut identities = Vec::new();
    let mut readers = Vec::new();
    for i in 0..20 {
        let identity = server.create_identity().await;
        let token = server.token(&identity).await;
        readers.push(RawClient::sign_in(addr, &token, &format!("slow-{i}")).await);
        identities.push(identity);
    }
    let mut targets: Vec<&str> = identities.iter().map(String::as_str).collect();
    targets.push(&carol_id);
    let (call, _) = alice.start_call(&targets).await;
    for reader in &mut readers {
        reader.answer(&call).await;
    }
    join(&mut carol, &call).await;
    for reader in &mut readers {
        reader.stop_reading();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    let ports: Vec<u16> = readers.iter().map(|r| r.local_port).collect();
    let before = rss_kib();
    let flood = flood(
        &mut alice,
        &mut carol,
        &call,
        addr,
        &ports,
        Duration::from_secs(60),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = rss_kib();
    let growth = flood.peak_kib.max(after).saturating_sub(before);
    let still_open = ports
        .iter()
        .filter(|&&port| server_side_open(addr.port(), port))
        .count();
    eprintln!(
        "twenty slow readers: all cut after {:?} and {} KiB sent ({} still open); RSS {before} KiB before, peak {} KiB, {after} KiB after (+{growth} KiB, {} KiB a reader); budget {} KiB a reader",
        flood.took,
        flood.sent_bytes / 1024,
        still_open,
        flood.peak_kib,
        growth / 20,
        budget() / 1024
    );
    assert_eq!(
        still_open, 0,
        "connections left open after {:?}",
        flood.took
    );
    assert!(
        growth <= allowed_growth_kib(20),
        "the server grew by {growth} KiB for twenty slow readers (budget {} KiB each)",
        budget() / 1024
    );
    for identity in &identities {
        assert_reason(
            alice.participant_left(&call, identity).await,
            &registry::ABRUPT_DISCONNECT,
            "alice sees a slow reader go",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_is_cut_after_the_write_timeout() {
    let _serial = SERIAL.lock().await;
    let write_timeout = Duration::from_secs(1);
    let server = TestServer::start_with(|c| {
        many_senders(c);
        // A budget the flood never reaches: only the blocked write can end the connection.
        c.signaling.send_buffer_bytes = 1 << 30;
        c.signaling.send_queue = 1 << 20;
        c.signaling.write_timeout = write_timeout;
    })
    .await;
    let addr = server.server.addr();
    let (_, mut alice) = server.user("alice-1").await;
    let (carol_id, mut carol) = server.user("carol-1").await;
    let slow_id = server.create_identity().await;
    let mut slow = RawClient::sign_in(addr, &server.token(&slow_id).await, "slow-1").await;
    let (call, _) = alice.start_call(&[&slow_id, &carol_id]).await;
    slow.answer(&call).await;
    join(&mut carol, &call).await;
    slow.stop_reading();
    let flood = flood(
        &mut alice,
        &mut carol,
        &call,
        addr,
        &[slow.local_port],
        Duration::from_secs(30),
    )
    .await;
    eprintln!(
        "blocked writer: cut after {:?} and {} KiB sent",
        flood.took,
        flood.sent_bytes / 1024
    );
    assert!(
        flood.all_cut,
        "a write blocked for {:?} kept the connection",
        flood.took
    );
    assert!(flood.sent_bytes < 1 << 30, "the budget was reached instead");
    assert_reason(
        alice.participant_left(&call, &slow_id).await,
        &registry::ABRUPT_DISCONNECT,
        "alice sees the stuck reader go",
    );
}

/// A push receiver on loopback that answers 200 to every notice and counts them.
async fn push_receiver() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/push",
        axum::routing::post({
            let count = Arc::clone(&count);
            move || {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { axum::http::StatusCode::OK }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/push"), count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_ringing_calls_reach_a_new_endpoint() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start_with(|c| {
        unhurried(c);
        c.timers.ringing = Duration::from_secs(300);
        c.timers.push_wait = Duration::from_secs(300);
    })
    .await;
    let (push_url, pushes) = push_receiver().await;
    let callee = server.create_identity().await;
    let token = server.token(&callee).await;
    Client::sign_in(&server.ws_url(), &token, "callee-phone", Some(push_url))
        .await
        .expect("the callee registers for push")
        .close()
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut rung = HashSet::new();
    let mut callers = Vec::new();
    for i in 0..300 {
        let (_, mut caller) = server.user(&format!("caller-{i}")).await;
        let (call, _) = caller.start_call(&[&callee]).await;
        rung.insert(call);
        callers.push(caller);
    }
    eprintln!(
        "300 calls ring for the callee ({} push notices so far)",
        pushes.load(std::sync::atomic::Ordering::SeqCst)
    );

    // A new endpoint of the callee: `sign_in` insists that the first frame is the welcome.
    let mut phone = Client::sign_in(&server.ws_url(), &token, "callee-tablet", None)
        .await
        .expect("welcome first");
    let mut seen = HashSet::new();
    let mut bytes = 0;
    for _ in 0..300 {
        let (call, size) = phone
            .wait_for("incomingCall", |f| match f {
                ServerFrame::IncomingCall { call_id, .. } => {
                    Some((call_id.clone(), f.to_json().len()))
                }
                _ => None,
            })
            .await;
        bytes += size;
        assert!(seen.insert(call), "one incomingCall per call");
    }
    assert_eq!(seen, rung, "every ringing call reached the new endpoint");
    assert!(phone.still_served().await);
    // Each queued frame also costs the queue 64 bytes of bookkeeping.
    let queued = bytes + 300 * 64;
    eprintln!(
        "300 incomingCall frames: {bytes} bytes ({queued} counted against a budget of {})",
        budget()
    );
    assert!(
        budget() >= 8 * queued,
        "the default budget leaves less than eight times the burst's room"
    );
}

/// Alice calls Bob and both are connected: signals flow between them.
async fn connected_call(server: &TestServer) -> (Client, Client, CallId) {
    let (_, mut alice) = server.user("alice-1").await;
    let (bob_id, mut bob) = server.user("bob-1").await;
    let (call, _) = alice.start_call(&[&bob_id]).await;
    bob.incoming().await;
    bob.accept(&call).await.expect("accept");
    bob.media_ready(&call).await;
    (alice, bob, call)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_signal_is_refused() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start_with(unhurried).await;
    let (mut alice, mut bob, call) = connected_call(&server).await;
    let limit = Config::default().signaling.max_signal_bytes;
    // Over the signal limit but under the frame limit: only the new rule refuses it.
    let big = signal(&call, "big", limit);
    assert!(big.to_json().len() < Config::default().signaling.max_frame_bytes);
    alice.send(big).await;
    let (error, fatal) = alice.error().await;
    assert!(error.is(&registry::SIGNAL_TOO_LARGE), "{error}");
    assert_eq!(error.code(), appel_codes::Code(413));
    assert!(!fatal, "the connection stays up");
    // A large but legitimate SDP still goes through, and the refused one never did.
    alice.send(signal(&call, "sdp", FLOOD_SIGNAL)).await;
    let first = bob.wait_for("a signal", marker).await;
    assert_eq!(first, "sdp", "the oversized signal was relayed");
    assert!(alice.still_served().await);
    assert!(bob.still_served().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_flood_is_rate_limited() {
    let _serial = SERIAL.lock().await;
    // The signal bucket as shipped; the limit on all frames, which a flood of 3000 at once also
    // passes, is lifted so that only the signal limits answer here.
    let server = TestServer::start_with(|c| {
        unhurried(c);
        c.signaling.frame_burst = 1 << 30;
    })
    .await;
    let (mut alice, mut bob, call) = connected_call(&server).await;
    let start = Instant::now();

    // A call's setup as browsers do it: an offer, forty ICE candidates, the answer and its own.
    alice.send(signal(&call, "offer", 10 * 1024)).await;
    for i in 0..40 {
        alice.send(signal(&call, &format!("cand-a-{i}"), 200)).await;
    }
    bob.send(signal(&call, "answer", 10 * 1024)).await;
    for i in 0..40 {
        bob.send(signal(&call, &format!("cand-b-{i}"), 200)).await;
    }
    for _ in 0..41 {
        bob.wait_for("alice's setup", marker).await;
        alice.wait_for("bob's setup", marker).await;
    }
    for party in [&mut alice, &mut bob] {
        assert!(party.still_served().await);
        let errors: Vec<_> = party
            .take_backlog()
            .into_iter()
            .filter(|f| matches!(f, ServerFrame::Error { .. }))
            .collect();
        assert!(errors.is_empty(), "call setup was refused: {errors:?}");
    }

    // The flood: far more small signals than the burst allows, as fast as the socket takes them.
    const FLOOD: usize = 3000;
    for i in 0..FLOOD {
        alice.send(signal(&call, &format!("flood-{i}"), 100)).await;
    }
    // Each refused signal is answered before the pong, so the backlog holds them all.
    assert!(alice.still_served().await);
    let elapsed = start.elapsed();
    let mut refused = 0;
    for frame in alice.take_backlog() {
        if let ServerFrame::Error { error, fatal, .. } = frame {
            assert!(error.is(&registry::SIGNAL_RATE_EXCEEDED), "{error}");
            assert_eq!(error.code(), appel_codes::Code(429));
            assert!(!fatal, "the connection stays up");
            refused += 1;
        }
    }
    let relayed = FLOOD - refused;
    let shipped = Config::default().signaling;
    let allowed =
        shipped.signal_burst + (elapsed.as_secs_f64() * shipped.signal_rate as f64).ceil() as usize;
    eprintln!(
        "signal flood: {FLOOD} sent within {elapsed:?} of the setup, {relayed} relayed, {refused} refused"
    );
    assert!(refused > 0, "nothing was refused");
    assert!(
        relayed <= allowed,
        "{relayed} relayed, at most {allowed} allowed"
    );
    assert!(
        // The setup spent about fifty tokens (one per started KiB of each of alice's signals).
        relayed + 60 >= shipped.signal_burst,
        "less than the burst was relayed: {relayed}"
    );
    for _ in 0..relayed {
        let got = bob.wait_for("a relayed flood signal", marker).await;
        assert!(got.starts_with("flood-"), "{got}");
    }
    // Once the bucket refills, signals flow again, and nothing refused was relayed meanwhile.
    tokio::time::sleep(Duration::from_millis(200)).await;
    alice.send(signal(&call, "after", 100)).await;
    assert_eq!(bob.wait_for("the next signal", marker).await, "after");
    assert!(alice.still_served().await);
}

/// A `hold` of a call that does not exist: the call controller answers it with an error, so every
/// such frame that gets through costs the controller a turn, and each is answered exactly once.
fn bogus_hold(request_id: u64) -> String {
    ClientFrame::Hold {
        request_id,
        call_id: CallId::from("no-such-call"),
    }
    .to_json()
}

/// The answer to request `id`, if `frame` is one: whether the rate limit refused it.
fn refused_by_the_rate(frame: &ServerFrame) -> Option<(u64, bool)> {
    match frame {
        ServerFrame::Error {
            request_id: Some(id),
            error,
            fatal,
        } => {
            assert!(!fatal, "a refused request does not end the connection");
            Some((*id, error.is(&registry::FRAME_RATE_EXCEEDED)))
        }
        ServerFrame::Ack { request_id } => Some((*request_id, false)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_flood_is_refused_and_the_flooder_is_cut() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start_with(|c| {
        unhurried(c);
        c.signaling.frame_rate = 50;
        c.signaling.frame_burst = 50;
        c.signaling.frame_excess = 400;
    })
    .await;
    let (_, mut mallory) = server.user("mallory-1").await;
    let (_, mut bob) = server.user("bob-1").await;

    // Requests far past the burst, sent at once: each gets its own answer, the excess a 429 that
    // names its request, and only what the rate allows reaches the controller.
    const REQUESTS: u64 = 200;
    let start = Instant::now();
    for id in 1..=REQUESTS {
        mallory.send_raw(&bogus_hold(id)).await;
    }
    let mut answered = HashSet::new();
    let (mut handled, mut refused) = (0u64, 0u64);
    while answered.len() < REQUESTS as usize {
        let (id, was_refused) = mallory.wait_for("an answer", refused_by_the_rate).await;
        assert!(answered.insert(id), "request {id} answered twice");
        if was_refused {
            refused += 1;
        } else {
            handled += 1;
        }
    }
    let elapsed = start.elapsed();
    let allowed = 50 + (elapsed.as_secs_f64() * 50.0).ceil() as u64;
    eprintln!(
        "frame flood: {REQUESTS} requests in {elapsed:?}: {handled} handled, {refused} refused"
    );
    assert!(handled >= 50, "the burst was not served: {handled}");
    assert!(handled <= allowed, "{handled} handled, at most {allowed}");
    assert!(refused >= REQUESTS - allowed, "{refused} refused");
    assert!(mallory.take_backlog().is_empty(), "nothing else was sent");

    // Mallory pauses just long enough for a few frames' worth of tokens, then does not slow down:
    // frames without a request id, as fast as the socket takes them. The refusals of a run are
    // told once, not once each, and past its excess the connection is closed with 429/900021.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ping = ClientFrame::Ping.to_json();
    let mut sent = 0u64;
    while sent < 100_000 && mallory.try_send_raw(&ping).await {
        sent += 1;
    }
    let (error, fatal) = mallory
        .wait_for("the closing error", |f| match f {
            ServerFrame::Error { error, fatal, .. } if error.is(&registry::FRAME_FLOOD) => {
                Some((error.clone(), *fatal))
            }
            _ => None,
        })
        .await;
    assert!(fatal, "{error}");
    assert_eq!(error.code(), appel_codes::Code(429));
    assert!(mallory.is_closed().await, "the flooder's connection ends");
    let seen = mallory.take_backlog();
    let pongs = seen
        .iter()
        .filter(|f| matches!(f, ServerFrame::Pong))
        .count();
    let told = seen
        .iter()
        .filter(|f| matches!(f, ServerFrame::Error { request_id: None, error, .. } if error.is(&registry::FRAME_RATE_EXCEEDED)))
        .count();
    eprintln!("ping flood: {sent} sent before the cut, {pongs} answered, {told} refusal notices");
    assert!(pongs >= 1, "the refilled tokens were served");
    assert!(told >= 1, "the flooder was told before being cut");
    // A run of refusals begins after a frame that passed, and only its first refusal is told.
    assert!(
        told <= pongs,
        "{told} notices for {pongs} frames served and {sent} sent"
    );
    // Mallory's frames were refused, not queued: others are served at once.
    let served = Instant::now();
    assert!(bob.still_served().await);
    assert!(served.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_users_are_served_while_one_floods() {
    let _serial = SERIAL.lock().await;
    // The limits as shipped.
    let server = TestServer::start_with(unhurried).await;
    let (_, mut mallory) = server.user("mallory-2").await;
    let (mut bob, mut carol, call) = connected_call(&server).await;

    let flooding = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flood = tokio::spawn({
        let flooding = Arc::clone(&flooding);
        async move {
            let mut sent = 0u64;
            while sent < 1_000_000 && mallory.try_send_raw(&bogus_hold(sent + 1)).await {
                sent += 1;
            }
            flooding.store(false, std::sync::atomic::Ordering::SeqCst);
            let cut = mallory
                .wait_for("the closing error", |f| match f {
                    ServerFrame::Error {
                        error, fatal: true, ..
                    } => Some(error.clone()),
                    _ => None,
                })
                .await;
            (sent, cut)
        }
    });

    // While the flood runs, bob and carol put their call on hold and back, each a request the
    // call controller answers: the flood must not stand between them and it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut slowest = Duration::ZERO;
    let mut during = 0;
    for round in 0..40 {
        let party = if round % 2 == 0 { &mut bob } else { &mut carol };
        let asked = Instant::now();
        let call_id = call.clone();
        party
            .request(|request_id| {
                if round % 4 < 2 {
                    ClientFrame::Hold {
                        request_id,
                        call_id,
                    }
                } else {
                    ClientFrame::Resume {
                        request_id,
                        call_id,
                    }
                }
            })
            .await
            .expect("hold and resume are served");
        slowest = slowest.max(asked.elapsed());
        if flooding.load(std::sync::atomic::Ordering::SeqCst) {
            during += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (sent, cut) = tokio::time::timeout(Duration::from_secs(30), flood)
        .await
        .expect("the flooder is cut")
        .expect("the flood task");
    eprintln!(
        "one flooder: {sent} frames sent before the cut; {during} of 40 requests answered during \
         the flood, the slowest in {slowest:?}"
    );
    assert!(cut.is(&registry::FRAME_FLOOD), "{cut}");
    assert!(during >= 1, "the flood ended before anything was measured");
    assert!(
        slowest < Duration::from_secs(2),
        "a request waited {slowest:?} behind the flood"
    );
    assert!(bob.still_served().await && carol.still_served().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_cannot_ring_more_than_its_call_cap() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start_with(|c| {
        unhurried(c);
        c.limits.max_outgoing_calls_per_identity = 3;
    })
    .await;
    let (spammer, mut phone) = server.user("spam-phone").await;
    let mut laptop = server.connect(&spammer, "spam-laptop").await;
    let mut victims = Vec::new();
    for i in 0..5 {
        victims.push(server.user(&format!("victim-{i}")).await);
    }
    // Three calls ring, from either of the spammer's endpoints.
    let mut calls = Vec::new();
    for (i, (victim, _)) in victims.iter().take(3).enumerate() {
        let caller = if i == 0 { &mut laptop } else { &mut phone };
        calls.push(caller.start_call(&[victim]).await.0);
    }
    for (_, client) in victims.iter_mut().take(3) {
        client.incoming().await;
    }
    // The fourth is refused, whichever endpoint asks, and rings nobody.
    for caller in [&mut phone, &mut laptop] {
        let targets = vec![victims[3].0.as_str().into(), victims[4].0.as_str().into()];
        let refused = caller
            .request(|request_id| ClientFrame::StartCall {
                request_id,
                targets,
                video: false,
                joinable: false,
            })
            .await
            .expect_err("over the cap");
        assert!(refused.is(&registry::OUTGOING_CALLS_LIMIT), "{refused}");
        assert_eq!(refused.code(), appel_codes::Code(429));
    }
    for (_, victim) in victims.iter_mut().skip(3) {
        let rung = victim
            .drain()
            .await
            .into_iter()
            .filter(|f| matches!(f, ServerFrame::IncomingCall { .. }))
            .count();
        assert_eq!(rung, 0, "a refused call rang");
    }
    // Answering one frees a place: the next call rings.
    victims[0].1.accept(&calls[0]).await.expect("accepted");
    let (fourth, _) = phone.start_call(&[&victims[3].0]).await;
    assert_eq!(victims[3].1.incoming().await, fourth);
    // Full again; hanging up an unanswered call frees another.
    let targets = vec![victims[4].0.as_str().into()];
    let refused = phone
        .request(|request_id| ClientFrame::StartCall {
            request_id,
            targets,
            video: false,
            joinable: false,
        })
        .await
        .expect_err("over the cap again");
    assert!(refused.is(&registry::OUTGOING_CALLS_LIMIT), "{refused}");
    phone.hang_up(&calls[1]).await.expect("hung up");
    let (fifth, _) = phone.start_call(&[&victims[4].0]).await;
    assert_eq!(victims[4].1.incoming().await, fifth);
}

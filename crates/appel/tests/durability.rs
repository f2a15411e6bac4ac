//! What a crash must not take away: `appel serve` processes killed with SIGKILL mid-load and started
//! again on the same data folder, with raw signaling clients making calls and loopback receivers
//! taking webhooks.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use appel::bench::wire::WireClient;
use appel::rest::RestClient;
use appel_protocol::{CallState, ClientFrame, IdentityId, ServerFrame};
use serde_json::Value;

const ACCESS_KEY: &str = "durability-test-access-key";
const WEBHOOK_SECRET: &str = "durability-test-webhook-secret";
/// The longest a test waits for a server to listen, or for webhooks to arrive.
const PATIENCE: Duration = Duration::from_secs(30);

/// One `appel serve` process.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(data: &Path, env: &[(&str, String)]) -> Serve {
        let mut command = Command::new(env!("CARGO_BIN_EXE_appel"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("APPEL_ACCESS_KEY", ACCESS_KEY)
            .env("APPEL_RECORDS_FLUSH_INTERVAL", "50ms")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("appel serve starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let (found, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(at) = line.find("http://") {
                    let _ = found.send(line[at + 7..].trim().to_string());
                }
            }
        });
        let addr = address
            .recv_timeout(PATIENCE)
            .expect("appel serve prints its address")
            .parse()
            .expect("a socket address");
        Serve { child, addr }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn rest(&self) -> RestClient {
        RestClient::new(&self.url(), ACCESS_KEY).expect("rest client")
    }

    /// SIGKILL: no graceful stop, no last commit.
    fn kill_nine(mut self) {
        self.child.kill().expect("SIGKILL delivered");
        self.child.wait().expect("the killed server is reaped");
    }

    async fn get(&self, path: &str) -> Value {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.url()))
            .bearer_auth(ACCESS_KEY)
            .send()
            .await
            .expect("GET answered");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        serde_json::from_str(&response.text().await.expect("body")).expect("JSON body")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A call end a client was told of.
#[derive(Clone, Debug)]
struct Told {
    call_id: String,
    code: u16,
    sub_code: u32,
}

/// Two signed-in raw clients, caller and callee.
async fn pair(server: &Serve, index: usize) -> (WireClient, WireClient, IdentityId) {
    let rest = server.rest();
    let (alice, bob) = (
        rest.create_identity().await.expect("identity"),
        rest.create_identity().await.expect("identity"),
    );
    let (alice_token, bob_token) = (
        rest.issue_token(&alice).await.expect("token"),
        rest.issue_token(&bob).await.expect("token"),
    );
    let caller = WireClient::sign_in(server.addr, None, &alice_token, format!("caller-{index}"))
        .await
        .expect("caller signs in");
    let callee = WireClient::sign_in(server.addr, None, &bob_token, format!("callee-{index}"))
        .await
        .expect("callee signs in");
    (caller, callee, IdentityId::new(bob))
}

/// Answers every call until the connection ends, noting every end it is told of.
async fn answer_forever(mut callee: WireClient, told: Arc<Mutex<Vec<Told>>>) {
    while let Ok(frame) = callee.next_frame().await {
        let sent = match frame {
            ServerFrame::IncomingCall { call_id, .. } => {
                let acked = callee
                    .send(ClientFrame::AckIncoming {
                        call_id: call_id.clone(),
                    })
                    .await;
                let request_id = callee.request_id();
                let accepted = callee
                    .send(ClientFrame::Accept {
                        request_id,
                        call_id: call_id.clone(),
                        video: false,
                    })
                    .await;
                let ready = callee.send(ClientFrame::MediaReady { call_id }).await;
                acked.and(accepted).and(ready)
            }
            ServerFrame::CallEnded {
                call_id, reason, ..
            } => {
                told.lock().expect("told").push(Told {
                    call_id: call_id.to_string(),
                    code: reason.code,
                    sub_code: reason.subcode,
                });
                Ok(())
            }
            _ => Ok(()),
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Places, connects and hangs up calls one after the other until `stop` or the connection ends;
/// how many the caller was told ended.
async fn call_cycles(
    mut caller: WireClient,
    callee: IdentityId,
    told: Arc<Mutex<Vec<Told>>>,
    stop: Arc<AtomicBool>,
    most: usize,
) -> usize {
    let mut ended = 0;
    while !stop.load(Ordering::Relaxed) && ended < most {
        let request_id = caller.request_id();
        let start = ClientFrame::StartCall {
            request_id,
            targets: vec![callee.clone()],
            video: false,
            joinable: false,
        };
        if caller.send(start).await.is_err() {
            return ended;
        }
        loop {
            let Ok(frame) = caller.next_frame().await else {
                return ended;
            };
            match frame {
                ServerFrame::CallState {
                    state: CallState::Connected,
                    call_id,
                } => {
                    let request_id = caller.request_id();
                    let hang_up = ClientFrame::HangUp {
                        request_id,
                        call_id,
                        for_everyone: false,
                    };
                    if caller.send(hang_up).await.is_err() {
                        return ended;
                    }
                }
                ServerFrame::CallEnded {
                    call_id, reason, ..
                } => {
                    told.lock().expect("told").push(Told {
                        call_id: call_id.to_string(),
                        code: reason.code,
                        sub_code: reason.subcode,
                    });
                    ended += 1;
                    break;
                }
                _ => {}
            }
        }
    }
    ended
}

/// Runs `pairs` pairs of clients placing calls until `stop` (or each placed `most`), returning
/// every end the clients were told of.
async fn load(
    server: &Serve,
    pairs: usize,
    most: usize,
    stop: Arc<AtomicBool>,
) -> (Arc<Mutex<Vec<Told>>>, Vec<tokio::task::JoinHandle<usize>>) {
    let told = Arc::new(Mutex::new(Vec::new()));
    let mut callers = Vec::new();
    for index in 0..pairs {
        let (caller, callee, callee_id) = pair(server, index).await;
        tokio::spawn(answer_forever(callee, Arc::clone(&told)));
        callers.push(tokio::spawn(call_cycles(
            caller,
            callee_id,
            Arc::clone(&told),
            Arc::clone(&stop),
            most,
        )));
    }
    (told, callers)
}

fn reason_of(value: &Value) -> Option<(u64, u64)> {
    Some((value["code"].as_u64()?, value["subCode"].as_u64()?))
}

fn parse_time(value: &Value) -> SystemTime {
    humantime::parse_rfc3339(value.as_str().expect("a time")).expect("RFC 3339")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_in_durable_mode_loses_no_acknowledged_call_end() {
    let data = tempfile::tempdir().expect("data folder");
    let durable = [("APPEL_RECORDS_DURABLE", "true".to_string())];
    let server = Serve::start(data.path(), &durable);
    let stop = Arc::new(AtomicBool::new(false));
    let (told, callers) = load(&server, 8, usize::MAX, Arc::clone(&stop)).await;
    // Wait until calls are ending at full speed, then kill the server in the middle of them.
    let deadline = Instant::now() + PATIENCE;
    while told.lock().expect("told").len() < 300 {
        assert!(Instant::now() < deadline, "the load never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill_nine();
    for caller in callers {
        caller.await.expect("caller task");
    }
    let told = told.lock().expect("told").clone();

    let server = Serve::start(data.path(), &durable);
    let mut checked = 0;
    for end in &told {
        let call = server.get(&format!("/calls/{}", end.call_id)).await;
        let stopped = (500, 900301);
        assert_ne!(
            reason_of(&call["endReason"]),
            Some(stopped),
            "a client was told call {} ended with {}/{}, but the crash took that end: {call}",
            end.call_id,
            end.code,
            end.sub_code
        );
        let legs = call["legs"].as_array().expect("legs");
        assert!(
            legs.iter().any(|leg| reason_of(&leg["endReason"])
                == Some((u64::from(end.code), u64::from(end.sub_code)))),
            "the end {}/{} told for call {} is not in its records: {call}",
            end.code,
            end.sub_code,
            end.call_id
        );
        checked += 1;
    }
    assert!(checked >= 300, "only {checked} ends were checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_left_open_by_a_crash_are_closed_on_restart() {
    let data = tempfile::tempdir().expect("data folder");
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("receiver port");
    let settings = [
        (
            "APPEL_WEBHOOKS_URL",
            format!("http://{}/config", receiver.local_addr().expect("address")),
        ),
        ("APPEL_WEBHOOKS_SECRET", WEBHOOK_SECRET.to_string()),
    ];
    let received = Arc::new(Mutex::new(Received::default()));
    let _receiver = receive(receiver, Arc::clone(&received), Duration::ZERO);
    let server = Serve::start(data.path(), &settings);
    let (mut caller, callee, callee_id) = pair(&server, 0).await;
    tokio::spawn(answer_forever(callee, Arc::new(Mutex::new(Vec::new()))));
    let request_id = caller.request_id();
    caller
        .send(ClientFrame::StartCall {
            request_id,
            targets: vec![callee_id],
            video: false,
            joinable: false,
        })
        .await
        .expect("call placed");
    let call_id = loop {
        if let ServerFrame::CallState {
            state: CallState::Connected,
            call_id,
        } = caller.next_frame().await.expect("a frame")
        {
            break call_id.to_string();
        }
    };
    // The call's start is committed (reading records flushes them) and the writer stamped its
    // last-alive mark since then.
    let call = server.get(&format!("/calls/{call_id}")).await;
    assert_eq!(call["legs"].as_array().map(Vec::len), Some(2), "{call}");
    assert!(call["endedAt"].is_null(), "{call}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed_at = SystemTime::now();
    server.kill_nine();
    assert!(
        caller.next_frame().await.is_err(),
        "the connection died with the server"
    );

    let server = Serve::start(data.path(), &settings);
    let call = server.get(&format!("/calls/{call_id}")).await;
    assert_eq!(reason_of(&call["endReason"]), Some((500, 900301)), "{call}");
    assert_eq!(call["endReason"]["name"], "SERVER_STOPPED_UNEXPECTEDLY");
    assert_eq!(call["endReason"]["resultCategory"], "UnexpectedServerError");
    let ended = parse_time(&call["endedAt"]);
    assert!(
        ended <= killed_at,
        "the crash is dated after the kill: {call}"
    );
    let late = killed_at.duration_since(ended).unwrap_or_default();
    assert!(
        late <= Duration::from_millis(1250),
        "the crash is dated {late:?} before the kill: {call}"
    );
    for leg in call["legs"].as_array().expect("legs") {
        assert_eq!(reason_of(&leg["endReason"]), Some((500, 900301)), "{leg}");
        assert_eq!(parse_time(&leg["leftAt"]), ended, "{leg}");
        let joined = parse_time(&leg["joinedAt"]);
        let lasted = ended.duration_since(joined).expect("left after joining");
        assert_eq!(
            leg["durationMs"].as_u64(),
            Some(lasted.as_millis() as u64),
            "{leg}"
        );
    }
    let timeline = call["timeline"].as_array().expect("timeline");
    assert!(
        timeline.iter().any(|line| line["kind"] == "interrupted"),
        "{call}"
    );
    // Nothing is left open for a second restart to close again.
    let page = server.get("/calls?subCode=900301").await;
    assert_eq!(page["calls"].as_array().map(Vec::len), Some(1), "{page}");
    // The receiver hears of the closing too, numbered after the events it had before the crash:
    // started, two joined, then two left and the end.
    expect_every_event(&received, std::slice::from_ref(&call_id), &["config"]).await;
    let received = received.lock().expect("received");
    let kinds: Vec<&str> = received.events[&("config".to_string(), call_id.clone())]
        .iter()
        .map(|(_, kind)| kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "CallStarted",
            "ParticipantJoined",
            "ParticipantJoined",
            "ParticipantLeft",
            "ParticipantLeft",
            "CallEnded"
        ]
    );
    let ended = &received.ended[&call_id];
    assert_eq!(reason_of(&ended["reason"]), Some((500, 900301)), "{ended}");
    assert_eq!(ended["legs"].as_array().map(Vec::len), Some(2), "{ended}");
}

/// What a receiver got: per subscription path and call, the events in arrival order.
#[derive(Default)]
struct Received {
    events: HashMap<(String, String), Vec<(u64, String)>>,
    /// The `CallEnded` bodies, by call.
    ended: HashMap<String, Value>,
    posts: usize,
}

/// A webhook receiver on `listener`: checks each signature, answers 200 after `delay`.
fn receive(
    listener: tokio::net::TcpListener,
    received: Arc<Mutex<Received>>,
    delay: Duration,
) -> tokio::task::JoinHandle<()> {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::{HeaderMap, StatusCode};
    async fn hook(
        State((received, delay)): State<(Arc<Mutex<Received>>, Duration)>,
        UrlPath(path): UrlPath<String>,
        headers: HeaderMap,
        body: String,
    ) -> StatusCode {
        tokio::time::sleep(delay).await;
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let signature = header("appel-signature");
        let timestamp: i64 = signature
            .strip_prefix("t=")
            .and_then(|rest| rest.split(',').next())
            .and_then(|t| t.parse().ok())
            .unwrap_or_default();
        let secret = if path == "config" {
            WEBHOOK_SECRET
        } else {
            "rest-subscription-secret"
        };
        if appel_server::webhooks::signature(secret, timestamp, &body) != signature {
            return StatusCode::UNAUTHORIZED;
        }
        let event: Value = serde_json::from_str(&body).expect("a JSON event");
        let sequence = event["sequence"].as_u64().expect("a sequence");
        assert_eq!(header("appel-sequence"), sequence.to_string());
        let call = event["callId"].as_str().expect("callId").to_string();
        let kind = event["type"].as_str().expect("type").to_string();
        let mut received = received.lock().expect("received");
        received.posts += 1;
        if kind == "CallEnded" {
            received.ended.insert(call.clone(), event.clone());
        }
        received
            .events
            .entry((path, call))
            .or_default()
            .push((sequence, kind));
        StatusCode::OK
    }
    let app = axum::Router::new()
        .route("/{path}", axum::routing::post(hook))
        .with_state((received, delay));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// A loopback port nothing listens on (yet).
async fn free_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    listener.local_addr().expect("its address")
}

/// Adds a subscription by REST to `url`, with the secret the receiver expects.
async fn subscribe(server: &Serve, url: &str) {
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks", server.url()))
        .bearer_auth(ACCESS_KEY)
        .header("content-type", "application/json")
        .body(serde_json::json!({ "url": url, "secret": "rest-subscription-secret" }).to_string())
        .send()
        .await
        .expect("POST /webhooks answered");
    assert_eq!(response.status().as_u16(), 201);
}

/// Every call of `told` must reach each subscription path complete and in order: the sequence
/// numbers never go back, each from 1 to that of its `CallEnded`, none missing. Waits for it.
async fn expect_every_event(received: &Arc<Mutex<Received>>, calls: &[String], paths: &[&str]) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut missing = Vec::new();
        {
            let received = received.lock().expect("received");
            for path in paths {
                for call in calls {
                    let key = (path.to_string(), call.clone());
                    let events = received.events.get(&key).cloned().unwrap_or_default();
                    let complete = events.last().is_some_and(|(_, kind)| kind == "CallEnded");
                    if !complete {
                        missing.push(key);
                        continue;
                    }
                    let sequences: Vec<u64> = events.iter().map(|(s, _)| *s).collect();
                    assert!(
                        sequences.windows(2).all(|w| w[0] <= w[1]),
                        "{path}: call {call}'s events arrived out of order: {events:?}"
                    );
                    let mut distinct = sequences.clone();
                    distinct.dedup();
                    let last = *distinct.last().unwrap_or(&0);
                    assert_eq!(
                        distinct,
                        (1..=last).collect::<Vec<_>>(),
                        "{path}: call {call} lost events: {events:?}"
                    );
                    assert_eq!(events[0].1, "CallStarted");
                }
            }
        }
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} call(s) never got all their events, first {:?}",
            missing.len(),
            missing[0]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ended_calls(told: &Arc<Mutex<Vec<Told>>>) -> Vec<String> {
    let mut calls: Vec<String> = told
        .lock()
        .expect("told")
        .iter()
        .map(|t| t.call_id.clone())
        .collect();
    calls.sort();
    calls.dedup();
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_survive_a_restart_in_order() {
    let data = tempfile::tempdir().expect("data folder");
    let receiver = free_port().await;
    let settings = [
        ("APPEL_RECORDS_DURABLE", "true".to_string()),
        ("APPEL_WEBHOOKS_URL", format!("http://{receiver}/config")),
        ("APPEL_WEBHOOKS_SECRET", WEBHOOK_SECRET.to_string()),
        ("APPEL_WEBHOOKS_INITIAL_BACKOFF", "100ms".to_string()),
        ("APPEL_WEBHOOKS_MAX_BACKOFF", "200ms".to_string()),
    ];
    let server = Serve::start(data.path(), &settings);
    subscribe(&server, &format!("http://{receiver}/rest")).await;
    // The receiver is down: every call's events pile up in the outbox.
    let stop = Arc::new(AtomicBool::new(false));
    let (told, callers) = load(&server, 4, 10, stop).await;
    for caller in callers {
        assert_eq!(caller.await.expect("caller task"), 10);
    }
    let calls = ended_calls(&told);
    assert_eq!(calls.len(), 40);
    let log = server.get("/webhooks/config/deliveries?limit=5").await;
    assert!(
        log["deliveries"]
            .as_array()
            .is_some_and(|d| !d.is_empty() && d.iter().all(|a| a["delivered"] == false)),
        "failed attempts are logged: {log}"
    );
    server.kill_nine();

    let server = Serve::start(data.path(), &settings);
    let received = Arc::new(Mutex::new(Received::default()));
    let listener = tokio::net::TcpListener::bind(receiver)
        .await
        .expect("the receiver's port is free again");
    let _receiver = receive(listener, Arc::clone(&received), Duration::ZERO);
    expect_every_event(&received, &calls, &["config", "rest"]).await;
    let log = server.get("/webhooks/config/deliveries?limit=1").await;
    assert_eq!(log["deliveries"][0]["delivered"], true, "{log}");
    // Delivered events leave the outbox: a graceful restart sends nothing again.
    let posts = received.lock().expect("received").posts;
    server.kill_nine();
    let server = Serve::start(data.path(), &settings);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(received.lock().expect("received").posts, posts);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_outbox_drops_nothing() {
    let data = tempfile::tempdir().expect("data folder");
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("receiver port");
    let address = receiver.local_addr().expect("receiver address");
    let received = Arc::new(Mutex::new(Received::default()));
    // A slow receiver, and pages of 4 rows: under the old in-memory queue of this size, most of
    // these events were dropped.
    let _receiver = receive(receiver, Arc::clone(&received), Duration::from_millis(20));
    let settings = [
        ("APPEL_WEBHOOKS_URL", format!("http://{address}/config")),
        ("APPEL_WEBHOOKS_SECRET", WEBHOOK_SECRET.to_string()),
        ("APPEL_WEBHOOKS_QUEUE", "4".to_string()),
    ];
    let server = Serve::start(data.path(), &settings);
    let stop = Arc::new(AtomicBool::new(false));
    let (told, callers) = load(&server, 8, 25, stop).await;
    for caller in callers {
        assert_eq!(caller.await.expect("caller task"), 25);
    }
    let calls = ended_calls(&told);
    assert_eq!(calls.len(), 200);
    expect_every_event(&received, &calls, &["config"]).await;
    let per_call: BTreeMap<usize, usize> = received.lock().expect("received").events.values().fold(
        BTreeMap::new(),
        |mut counts, events| {
            *counts.entry(events.len()).or_default() += 1;
            counts
        },
    );
    // A two-party call: started, two joined, two left, ended.
    assert_eq!(per_call, BTreeMap::from([(6, 200)]), "events per call");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_in_durable_mode_still_tells_every_party_before_exiting() {
    let data = tempfile::tempdir().expect("data folder");
    let durable = [("APPEL_RECORDS_DURABLE", "true".to_string())];
    let mut server = Serve::start(data.path(), &durable);
    let (mut caller, callee, callee_id) = pair(&server, 0).await;
    let told = Arc::new(Mutex::new(Vec::new()));
    let answering = tokio::spawn(answer_forever(callee, Arc::clone(&told)));
    let request_id = caller.request_id();
    caller
        .send(ClientFrame::StartCall {
            request_id,
            targets: vec![callee_id],
            video: false,
            joinable: false,
        })
        .await
        .expect("call placed");
    let call_id = loop {
        if let ServerFrame::CallState {
            state: CallState::Connected,
            call_id,
        } = caller.next_frame().await.expect("a frame")
        {
            break call_id.to_string();
        }
    };
    // SIGTERM: the graceful stop, which holds the ends until they are committed, then sends them.
    let pid = i32::try_from(server.child.id()).expect("a pid");
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let reason = loop {
        match caller
            .next_frame()
            .await
            .expect("told before the server exits")
        {
            ServerFrame::CallEnded { reason, .. } => break reason,
            _ => continue,
        }
    };
    assert_eq!((reason.code, reason.subcode), (503, 900300));
    answering.await.expect("callee task");
    let callee_told: Vec<(u16, u32)> = told
        .lock()
        .expect("told")
        .iter()
        .map(|t| (t.code, t.sub_code))
        .collect();
    assert_eq!(callee_told, vec![(503, 900300)]);
    assert!(server.child.wait().expect("exit status").success());

    let server = Serve::start(data.path(), &durable);
    let call = server.get(&format!("/calls/{call_id}")).await;
    assert_eq!(reason_of(&call["endReason"]), Some((503, 900300)), "{call}");
}

//! `appel calls` as an operator runs it, against a server that carried real calls between SDK
//! agents: the list finds a call by who declined it, `show` explains each leg's reason with its
//! advice (in French when asked) and prints the timeline in order, `summary` counts exactly the
//! legs that ended.

mod support;

use std::process::Command;

use appel_codes::{registry, CallEndReason, Locale};
use appel_sdk::{
    AcceptOptions, CallAgent, CallAgentOptions, CallClient, CallClientOptions, HangUpOptions,
    IdentityId, StartCallOptions, TokenCredential,
};
use futures_util::StreamExt;
use support::{TestServer, ACCESS_KEY};

async fn agent(server: &TestServer, client: &CallClient) -> (String, CallAgent) {
    let identity = server.identity().await;
    let token = server.rest().issue_token(&identity).await.expect("token");
    let agent = client
        .create_call_agent(
            TokenCredential::new(token),
            CallAgentOptions::new(server.url()),
        )
        .await
        .expect("agent");
    (identity, agent)
}

/// `appel calls ARGS` against `server`; (exit status, stdout, stderr).
fn appel_calls(server: &str, key: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_appel"));
    command
        .arg("calls")
        .args(args)
        .env("APPEL_SERVER", server)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8");
    match key {
        Some(key) => command.env("APPEL_ACCESS_KEY", key),
        None => command.env_remove("APPEL_ACCESS_KEY"),
    };
    let out = command.output().expect("appel runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appel_calls_finds_a_declined_call_and_explains_every_leg_with_its_advice() {
    let server = TestServer::start().await;
    let client = CallClient::new(CallClientOptions::default());
    let (alice, a) = agent(&server, &client).await;
    let (bob, b) = agent(&server, &client).await;
    let mut rings = b.incoming_calls();

    // Bob declines the first call and answers the second, which Alice then hangs up.
    let declined = a
        .start_call(
            &[IdentityId::from(bob.as_str())],
            StartCallOptions::default(),
        )
        .expect("start");
    let ring = rings.next().await.expect("ring");
    ring.reject().await.expect("reject");
    assert_eq!(
        declined.ended().await,
        CallEndReason::of(&registry::CALL_DECLINED)
    );
    let declined_id = declined.id().expect("id").to_string();

    let answered = a
        .start_call(
            &[IdentityId::from(bob.as_str())],
            StartCallOptions::default(),
        )
        .expect("start");
    let ring = rings.next().await.expect("ring");
    let taken = ring.accept(AcceptOptions::default()).await.expect("accept");
    answered
        .hang_up(HangUpOptions::default())
        .await
        .expect("hang up");
    assert_eq!(
        taken.ended().await,
        CallEndReason::of(&registry::CALL_ENDED_LOCALLY)
    );
    let answered_id = answered.id().expect("id").to_string();
    let url = server.url();

    // The list by identity and reason, as JSON: exactly the call Bob declined.
    let (status, out, err) = appel_calls(
        &url,
        Some(ACCESS_KEY),
        &["--identity", &bob, "--code", "603/0", "--json"],
    );
    assert_eq!(status, 0, "{err}");
    let page: serde_json::Value = serde_json::from_str(&out).expect("json");
    let ids: Vec<&str> = page["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, vec![declined_id.as_str()]);

    // The table for people: both calls, newest first, Bob's unanswered leg starred.
    let (status, out, err) = appel_calls(&url, Some(ACCESS_KEY), &["--identity", &alice]);
    assert_eq!(status, 0, "{err}");
    let answered_at = out.find(&answered_id).expect("answered call listed");
    let declined_at = out.find(&declined_id).expect("declined call listed");
    assert!(answered_at < declined_at, "{out}");
    assert!(out.contains(&format!("{bob}* 603/0")), "{out}");

    // One call: each leg's reason with the catalogue's message and advice, then the timeline.
    let (status, out, err) = appel_calls(&url, Some(ACCESS_KEY), &["show", &declined_id]);
    assert_eq!(status, 0, "{err}");
    let entry = &registry::CALL_DECLINED;
    assert!(out.contains("603/0  CALL_DECLINED"), "{out}");
    assert!(out.contains(entry.advice(Locale::En)), "{out}");
    assert!(out.contains("never answered"), "{out}");
    // Bob's endpoint that declined: its own ring ended 0/0.
    assert!(out.contains("Rings (each endpoint that rang)"), "{out}");
    assert!(out.contains("0/0  CALL_ENDED_LOCALLY"), "{out}");
    let timeline = &out[out.find("\nTimeline\n").expect("a timeline")..];
    let created = timeline.find(" created ").expect("created in the timeline");
    let declined_line = timeline
        .find(" declined ")
        .expect("declined in the timeline");
    let target_ended = timeline
        .find(" targetEnded ")
        .expect("targetEnded in the timeline");
    assert!(
        created < declined_line && declined_line < target_ended,
        "{timeline}"
    );
    let (status, out, _) = appel_calls(
        &url,
        Some(ACCESS_KEY),
        &["show", &declined_id, "--lang", "fr"],
    );
    assert_eq!(status, 0);
    assert!(out.contains(entry.advice(Locale::Fr)), "{out}");
    assert!(out.contains("Chronologie"), "{out}");

    // The summary: two declined legs (caller and target, 603/0) and two 0/0.
    let (status, out, err) = appel_calls(
        &url,
        Some(ACCESS_KEY),
        &["summary", "--since", "1h", "--json"],
    );
    assert_eq!(status, 0, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(summary["calls"], 2, "{summary}");
    assert_eq!(summary["legs"], 4, "{summary}");
    let (status, out, _) = appel_calls(&url, Some(ACCESS_KEY), &["summary"]);
    assert_eq!(status, 0);
    assert!(out.contains("CALL_DECLINED"), "{out}");
    assert!(out.contains("50.0%"), "{out}");

    // Refusals: no key, a wrong key, an id that would change the path, a bad code.
    let (status, _, err) = appel_calls(&url, None, &[]);
    assert_eq!(status, 1);
    assert!(err.contains("APPEL_ACCESS_KEY"), "{err}");
    let (status, _, err) = appel_calls(&url, Some("not-the-key"), &[]);
    assert_eq!(status, 1);
    assert!(err.contains("401"), "{err}");
    let (status, _, err) = appel_calls(&url, Some(ACCESS_KEY), &["show", "../identities"]);
    assert_eq!(status, 1, "{err}");
    let (status, _, err) = appel_calls(&url, Some(ACCESS_KEY), &["show", "no-such-call"]);
    assert_eq!(status, 1);
    assert!(err.contains("404"), "{err}");
    let (status, _, _) = appel_calls(&url, Some(ACCESS_KEY), &["--code", "487/x"]);
    assert_eq!(status, 2);

    a.dispose().await;
    b.dispose().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_json_logs_writes_each_call_line_with_its_call_id_and_leg() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let data = tempfile::tempdir().expect("dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_appel"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--data")
        .arg(data.path())
        .env("APPEL_ACCESS_KEY", ACCESS_KEY)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("appel serve");
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = |what: &str| -> serde_json::Value {
        let line = lines
            .recv_timeout(std::time::Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("no log line while waiting for {what}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    };
    let listening = loop {
        let line = next("the listening line");
        if line["message"] == "appel server listening" {
            break line;
        }
    };
    let url = format!("http://{}", listening["addr"].as_str().expect("addr"));

    let rest = appel::rest::RestClient::new(&url, ACCESS_KEY).expect("rest");
    let client = CallClient::new(CallClientOptions::default());
    let mut agents = Vec::new();
    for _ in 0..2 {
        let identity = rest.create_identity().await.expect("identity");
        let token = rest.issue_token(&identity).await.expect("token");
        let agent = client
            .create_call_agent(TokenCredential::new(token), CallAgentOptions::new(&url))
            .await
            .expect("agent");
        agents.push((identity, agent));
    }
    let (bob, b) = (&agents[1].0, &agents[1].1);
    let mut rings = b.incoming_calls();
    let call = agents[0]
        .1
        .start_call(
            &[IdentityId::from(bob.as_str())],
            StartCallOptions::default(),
        )
        .expect("start");
    rings
        .next()
        .await
        .expect("ring")
        .reject()
        .await
        .expect("reject");
    call.ended().await;
    let call_id = call.id().expect("id").to_string();

    // The caller's leg, Bob's unanswered leg and the call's end, each with the call's id.
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let line = next("the call's lines");
        let message = line["message"].as_str().unwrap_or_default().to_string();
        if ["leg ended", "target never answered", "call ended"].contains(&message.as_str()) {
            assert_eq!(line["call_id"], call_id.as_str(), "{line}");
            assert_eq!(line["code"], 603, "{line}");
            if message != "call ended" {
                assert!(line["participant"].is_string(), "{line}");
            }
            if message == "target never answered" {
                assert_eq!(line["identity"], bob.as_str(), "{line}");
            }
            seen.push(message);
        }
    }
    seen.sort();
    assert_eq!(seen, ["call ended", "leg ended", "target never answered"]);
    for (_, agent) in &agents {
        agent.dispose().await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

//! docs/protocol.md, "Who receives which end reason" over the real protocol: a server on loopback with short timers, clients over
//! WebSocket, and the exact code, subCode and category each party sees.

mod support;

use std::sync::Arc;
use std::time::Duration;

use appel_codes::registry;
use support::client::assert_reason;
use support::{Client, TestServer};
use tokio::sync::Mutex;

#[tokio::test]
async fn local_hang_up_ends_the_caller_with_0_0_and_the_callee_sees_it_leave_with_0_0() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice-1").await;
    let (bob, mut bob1) = server.user("bob-1").await;
    let (call, _) = alice.start_call(&[&bob]).await;
    let incoming = bob1.incoming().await;
    assert_eq!(incoming, call);
    bob1.accept(&call).await.expect("accept");
    bob1.media_ready(&call).await;
    alice.hang_up(&call).await.expect("hang up");
    assert_reason(
        alice.call_ended(&call).await,
        &registry::CALL_ENDED_LOCALLY,
        "alice",
    );
    let alice_id = alice_identity(&server, &call).await;
    assert_reason(
        bob1.participant_left(&call, &alice_id).await,
        &registry::CALL_ENDED_LOCALLY,
        "bob sees alice leave",
    );
    assert_reason(
        bob1.call_ended(&call).await,
        &registry::CALL_ENDED_LOCALLY,
        "bob",
    );
}

#[tokio::test]
async fn caller_cancel_ends_every_ringing_callee_endpoint_with_487_0() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice-1").await;
    let bob = server.create_identity().await;
    let mut bob1 = server.connect(&bob, "bob-1").await;
    let mut bob2 = server.connect(&bob, "bob-2").await;
    let (call, _) = alice.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob2.incoming().await;
    ringing(&server, &call, 2).await;
    alice.hang_up(&call).await.expect("cancel");
    assert_reason(
        alice.call_ended(&call).await,
        &registry::CALL_ENDED_LOCALLY,
        "alice",
    );
    assert_reason(
        bob1.call_ended(&call).await,
        &registry::CALL_CANCELLED_BY_CALLER,
        "bob-1",
    );
    assert_reason(
        bob2.call_ended(&call).await,
        &registry::CALL_CANCELLED_BY_CALLER,
        "bob-2",
    );
}

#[tokio::test]
async fn single_endpoint_decline_ends_the_caller_with_603_0() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice-1").await;
    let (bob, mut bob1) = server.user("bob-1").await;
    let (call, _) = alice.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob1.reject(&call).await.expect("reject");
    assert_reason(
        alice.call_ended(&call).await,
        &registry::CALL_DECLINED,
        "alice",
    );
}

#[tokio::test]
async fn every_endpoint_declining_ends_the_caller_with_487_10024() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice-1").await;
    let bob = server.create_identity().await;
    let mut bob1 = server.connect(&bob, "bob-1").await;
    let mut bob2 = server.connect(&bob, "bob-2").await;
    let (call, _) = alice.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob2.incoming().await;
    bob1.reject(&call).await.expect("reject 1");
    bob2.reject(&call).await.expect("reject 2");
    assert_reason(
        alice.call_ended(&call).await,
        &registry::ALL_ENDPOINTS_DECLINED,
        "alice",
    );
}

#[tokio::test]
async fn every_target_declining_ends_a_group_caller_with_0_5003() {
    // The helper asserts the caller's 0/5003.
    TestServer::start().await.declined_by_both().await;
}

#[tokio::test]
async fn accepting_on_one_endpoint_ends_the_others_with_487_10003() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice-1").await;
    let bob = server.create_identity().await;
    let mut bob1 = server.connect(&bob, "bob-1").await;
    let mut bob2 = server.connect(&bob, "bob-2").await;
    let (call, _) = alice.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob2.incoming().await;
    bob1.accept(&call).await.expect("accept");
    assert_reason(
        bob2.call_ended(&call).await,
        &registry::CALL_ACCEPTED_ELSEWHERE,
        "bob-2",
    );
    // The taken-elsewhere endpoint can no longer answer: 41006 / 41007.
    let error = bob2.accept(&call).await.expect_err("accept after 10003");
    assert!(error.is(&registry::ACCEPT_NOT_RINGING), "{error}");
    let error = bob2.reject(&call).await.expect_err("reject after 10003");
    assert!(error.is(&registry::REJECT_NOT_RINGING), "{error}");
    bob1.media_ready(&call).await;
    alice.hang_up(&call).await.expect("hang up");
    assert_reason(
        alice.call_ended(&call).await,
        &registry::CALL_ENDED_LOCALLY,
        "alice",
    );
}

#[tokio::test]
async fn ring_timeout_ends_caller_and_every_endpoint_with_487_10004() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice-1").await;
    let bob = server.create_identity().await;
    let mut bob1 = server.connect(&bob, "bob-1").await;
    let mut bob2 = server.connect(&bob, "bob-2").await;
    let (call, _) = alice.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob2.incoming().await;
    assert_reason(
        alice.call_ended(&call).await,
        &registry::RINGING_TIMEOUT,
        "alice",
    );
    assert_reason(
        bob1.call_ended(&call).await,
        &registry::RINGING_TIMEOUT,
        "bob-1",
    );
    assert_reason(
        bob2.call_ended(&call).await,
        &registry::RINGING_TIMEOUT,
        "bob-2",
    );
}

#[tokio::test]
async fn answering_a_call_that_stopped_ringing_fails_with_41006_and_41007() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice-1").await;
    let (bob, mut bob1) = server.user("bob-1").await;
    let (call, _) = alice.start_call(&[&bob]).await;
    bob1.incoming().await;
    alice.hang_up(&call).await.expect("cancel");
    assert_reason(
        bob1.call_ended(&call).await,
        &registry::CALL_CANCELLED_BY_CALLER,
        "bob",
    );
    let error = bob1
        .accept(&call)
        .await
        .expect_err("accept a cancelled call");
    assert!(error.is(&registry::ACCEPT_NOT_RINGING), "{error}");
    assert_eq!(error.code().0, 400);
    let error = bob1
        .reject(&call)
        .await
        .expect_err("reject a cancelled call");
    assert!(error.is(&registry::REJECT_NOT_RINGING), "{error}");
}

#[tokio::test]
async fn calling_an_identity_that_never_registered_ends_with_480_10037() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice-1").await;
    let never = server.create_identity().await;
    let (call, _) = alice.start_call(&[&never]).await;
    assert_reason(
        alice.call_ended(&call).await,
        &registry::TARGET_NEVER_REGISTERED,
        "alice",
    );
    let (call, _) = alice.start_call(&["no-such-identity"]).await;
    assert_reason(
        alice.call_ended(&call).await,
        &registry::TARGET_NEVER_REGISTERED,
        "alice",
    );
}

#[tokio::test]
async fn calling_a_registered_identity_with_no_connected_endpoint_ends_with_480_10076() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice-1").await;
    let (bob, bob1) = server.user("bob-1").await;
    bob1.close().await;
    settle().await;
    let (call, _) = alice.start_call(&[&bob]).await;
    assert_reason(
        alice.call_ended(&call).await,
        &registry::TARGET_OFFLINE,
        "alice",
    );
}

#[tokio::test]
async fn registration_survives_a_restart_so_an_offline_target_is_480_10076_not_10037() {
    let server = TestServer::start().await;
    let bob = server.create_identity().await;
    server.connect(&bob, "bob-1").await.close().await;
    settle().await;
    let server = server.restart().await;
    let (_, mut alice) = server.user("alice-1").await;
    let (call, _) = alice.start_call(&[&bob]).await;
    assert_reason(
        alice.call_ended(&call).await,
        &registry::TARGET_OFFLINE,
        "alice",
    );
}

/// A push receiver on loopback that records every notice and answers 200.
async fn push_receiver() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new().route(
        "/push",
        axum::routing::post({
            let notices = Arc::clone(&notices);
            move |axum::Json(body): axum::Json<serde_json::Value>| {
                let notices = Arc::clone(&notices);
                async move {
                    notices.lock().await.push(body);
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/push"), notices)
}

#[tokio::test]
async fn a_pushed_target_that_never_comes_online_ends_with_480_10077() {
    let server = TestServer::start().await;
    let (url, notices) = push_receiver().await;
    let (_, mut alice) = server.user("alice-1").await;
    let bob = server.create_identity().await;
    let token = server.token(&bob).await;
    let bob1 = Client::sign_in(&server.ws_url(), &token, "bob-phone", Some(url))
        .await
        .expect("bob signs in with a push URL");
    bob1.close().await;
    settle().await;
    let (call, _) = alice.start_call(&[&bob]).await;
    assert_reason(
        alice.call_ended(&call).await,
        &registry::TARGET_OFFLINE_AFTER_PUSH,
        "alice",
    );
    let notices = notices.lock().await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["type"], "incomingCall");
    assert_eq!(notices[0]["identity"], bob.as_str());
    assert_eq!(notices[0]["callId"], call.as_str());
}

#[tokio::test]
async fn endpoints_that_never_acknowledge_delivery_end_the_caller_with_480_10078() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice-1").await;
    let (bob, mut bob1) = server.user("bob-1").await;
    bob1.never_ack();
    let (call, _) = alice.start_call(&[&bob]).await;
    bob1.incoming().await;
    assert_reason(
        alice.call_ended(&call).await,
        &registry::TARGET_UNREACHABLE,
        "alice",
    );
}

#[tokio::test]
async fn a_callee_that_accepts_but_never_connects_ends_both_sides_with_408_10057() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice-1").await;
    let (bob, mut bob1) = server.user("bob-1").await;
    let (call, _) = alice.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob1.accept(&call).await.expect("accept");
    // No mediaReady from bob.
    assert_reason(
        bob1.call_ended(&call).await,
        &registry::CALLEE_SETUP_INCOMPLETE,
        "bob",
    );
    assert_reason(
        alice.call_ended(&call).await,
        &registry::CALLEE_SETUP_INCOMPLETE,
        "alice",
    );
}

#[tokio::test]
async fn a_token_expiring_mid_call_ends_that_participant_with_495_4507() {
    let server = TestServer::start().await;
    let (alice_id, mut alice) = server.user("alice-1").await;
    let bob = server.create_identity().await;
    let short = server.short_token(&bob, Duration::from_millis(900));
    let mut bob1 = Client::sign_in(&server.ws_url(), &short, "bob-1", None)
        .await
        .expect("bob signs in");
    let (call, _) = bob1.start_call(&[&alice_id]).await;
    alice.incoming().await;
    alice.accept(&call).await.expect("accept");
    alice.media_ready(&call).await;
    assert_reason(
        bob1.call_ended(&call).await,
        &registry::TOKEN_EXPIRED_DURING_CALL,
        "bob",
    );
    assert_reason(
        alice.participant_left(&call, &bob).await,
        &registry::TOKEN_EXPIRED_DURING_CALL,
        "alice sees bob leave",
    );
}

#[tokio::test]
async fn a_vanished_participant_is_seen_leaving_with_0_4521_after_the_detection_window() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice-1").await;
    let (bob, mut bob1) = server.user("bob-1").await;
    let (call, _) = alice.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob1.accept(&call).await.expect("accept");
    bob1.media_ready(&call).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    bob1.vanish().await;
    assert_reason(
        alice.participant_left(&call, &bob).await,
        &registry::ABRUPT_DISCONNECT,
        "alice sees bob vanish",
    );
    assert_reason(
        alice.call_ended(&call).await,
        &registry::ABRUPT_DISCONNECT,
        "alice",
    );
}

#[tokio::test]
async fn shutdown_ends_calls_in_progress_with_503_900300_for_every_party() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice-1").await;
    let (bob, mut bob1) = server.user("bob-1").await;
    let (call, _) = alice.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob1.accept(&call).await.expect("accept");
    bob1.media_ready(&call).await;
    let TestServer { server, data, .. } = server;
    let stopping = tokio::spawn(server.shutdown());
    assert_reason(
        alice.call_ended(&call).await,
        &registry::SERVER_SHUTTING_DOWN,
        "alice",
    );
    assert_reason(
        bob1.call_ended(&call).await,
        &registry::SERVER_SHUTTING_DOWN,
        "bob",
    );
    assert!(alice.is_closed().await);
    stopping.await.expect("shutdown completes");
    // The records of the ended call were flushed before exit.
    let server = appel_server::Server::start(support::fast_config(data.path()))
        .await
        .expect("restart");
    let records = TestServer {
        server,
        data,
        http: reqwest::Client::new(),
    };
    let (status, body) = records.get_json(&format!("/calls/{call}")).await;
    assert_eq!(status, 200, "{body}");
    for leg in body["legs"].as_array().expect("legs") {
        assert_eq!(leg["endReason"]["subCode"], 900300, "{leg}");
        assert_eq!(leg["endReason"]["resultCategory"], "UnexpectedServerError");
    }
}

#[tokio::test]
async fn call_records_keep_each_legs_reason_and_survive_a_restart() {
    let server = TestServer::start().await;
    let (alice_id, mut alice) = server.user("alice-1").await;
    let (bob, mut bob1) = server.user("bob-1").await;
    let (call, _) = alice.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob1.accept(&call).await.expect("accept");
    bob1.media_ready(&call).await;
    bob1.hang_up(&call).await.expect("bob hangs up");
    assert_reason(
        bob1.call_ended(&call).await,
        &registry::CALL_ENDED_LOCALLY,
        "bob",
    );
    assert_reason(
        alice.call_ended(&call).await,
        &registry::CALL_ENDED_LOCALLY,
        "alice",
    );

    let (declined, _) = alice.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob1.reject(&declined).await.expect("reject");
    assert_reason(
        alice.call_ended(&declined).await,
        &registry::CALL_DECLINED,
        "alice",
    );

    let server = server.restart().await;
    let (status, record) = server.get_json(&format!("/calls/{call}")).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["caller"], alice_id.as_str());
    assert_eq!(record["targets"], serde_json::json!([bob.as_str()]));
    let legs = record["legs"].as_array().expect("legs");
    assert_eq!(legs.len(), 2, "{record}");
    for leg in legs {
        assert_eq!(leg["endReason"]["code"], 0, "{leg}");
        assert_eq!(leg["endReason"]["subCode"], 0, "{leg}");
        assert_eq!(leg["endReason"]["resultCategory"], "Success", "{leg}");
        assert!(leg["leftAt"].is_string(), "{leg}");
    }
    assert!(
        record["timeline"].as_array().is_some_and(|t| !t.is_empty()),
        "{record}"
    );

    let (status, page) = server.get_json("/calls?code=603&subCode=0").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = page["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, vec![declined.as_str()], "{page}");
    let (_, by_bob) = server
        .get_json(&format!("/calls?identity={bob}&limit=1"))
        .await;
    assert_eq!(by_bob["calls"].as_array().map(Vec::len), Some(1));
    assert!(by_bob["nextCursor"].is_string(), "{by_bob}");
}

/// Waits until `call` rings on `endpoints` endpoints, from the records' timeline (the callee
/// acknowledged delivery), so a cancel does not race the acknowledgements.
async fn ringing(server: &TestServer, call: &appel_protocol::CallId, endpoints: usize) {
    for _ in 0..100 {
        let (_, record) = server.get_json(&format!("/calls/{call}")).await;
        let rings = record["timeline"]
            .as_array()
            .map(|t| t.iter().filter(|e| e["kind"] == "ringing").count())
            .unwrap_or(0);
        if rings >= endpoints {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("call {call} never rang on {endpoints} endpoints");
}

/// The caller's identity of a call, from its record.
async fn alice_identity(server: &TestServer, call: &appel_protocol::CallId) -> String {
    let (_, record) = server.get_json(&format!("/calls/{call}")).await;
    record["caller"].as_str().expect("caller").to_string()
}

/// Lets the server process a close before the next step depends on it.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

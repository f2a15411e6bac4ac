//! Call diagnostics over real calls: every target gets a leg with its own end reason even when it
//! never answered, the REST filters find a call by who ended how, and the summary counts exactly
//! the legs that ended.

mod support;

use std::time::Duration;

use appel_codes::{registry, Entry};
use serde_json::Value;
use support::client::assert_reason;
use support::{strings, DeclinedGroupCall, TestServer};

/// The leg of `identity` in a call record.
fn leg<'a>(record: &'a Value, identity: &str) -> &'a Value {
    record["legs"]
        .as_array()
        .and_then(|legs| legs.iter().find(|l| l["identity"] == identity))
        .unwrap_or_else(|| panic!("no leg of {identity} in {record}"))
}

fn assert_leg_reason(leg: &Value, entry: &Entry) {
    assert_eq!(leg["endReason"]["code"], entry.code.0, "{leg}");
    assert_eq!(
        leg["endReason"]["subCode"],
        entry.subcode.unwrap_or(0),
        "{leg}"
    );
    assert_eq!(leg["endReason"]["name"], entry.name, "{leg}");
    assert_eq!(leg["endReason"]["resultCategory"], entry.category.as_str());
}

fn call_ids(page: &Value) -> Vec<String> {
    strings(&page["calls"], "id")
}

#[tokio::test]
async fn a_call_two_targets_declined_is_found_by_each_decliner_and_603() {
    let server = TestServer::start().await;
    let DeclinedGroupCall {
        alice,
        bob,
        carol,
        call,
    } = server.declined_by_both().await;

    let (status, record) = server.get_json(&format!("/calls/{call}")).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["legs"].as_array().map(Vec::len), Some(3), "{record}");
    assert_leg_reason(leg(&record, &alice), &registry::ALL_TARGETS_DECLINED);
    assert_eq!(leg(&record, &alice)["answered"], true);
    for target in [&bob, &carol] {
        let leg = leg(&record, target);
        assert_leg_reason(leg, &registry::CALL_DECLINED);
        assert_eq!(leg["answered"], false, "{leg}");
        assert_eq!(leg["durationMs"], 0, "{leg}");
    }

    // Found by each decliner with 603, and not by the caller (whose own leg ended 0/5003).
    for target in [&bob, &carol] {
        let (status, page) = server
            .get_json(&format!("/calls?identity={target}&code=603"))
            .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(call_ids(&page), vec![call.to_string()], "{target}: {page}");
    }
    let (_, page) = server
        .get_json(&format!("/calls?identity={alice}&code=603"))
        .await;
    assert!(call_ids(&page).is_empty(), "{page}");
    let (_, page) = server
        .get_json(&format!("/calls?identity={alice}&code=0&subCode=5003"))
        .await;
    assert_eq!(call_ids(&page), vec![call.to_string()], "{page}");
    // Category with the identity (a decline is a normal outcome: Success).
    let (_, page) = server
        .get_json(&format!("/calls?identity={bob}&category=Success"))
        .await;
    assert_eq!(call_ids(&page), vec![call.to_string()], "{page}");
    let (_, page) = server
        .get_json(&format!(
            "/calls?identity={bob}&category=UnexpectedServerError"
        ))
        .await;
    assert!(call_ids(&page).is_empty(), "{page}");
}

#[tokio::test]
async fn unanswered_offline_and_unreachable_targets_each_get_their_own_leg() {
    let server = TestServer::start().await;
    let (alice, mut alice1) = server.user("alice-1").await;

    // Rings until the timer: 487/10004 for the target too.
    let bob = server.create_identity().await;
    let mut bob1 = server.connect(&bob, "bob-1").await;
    let (timed_out, _) = alice1.start_call(&[&bob]).await;
    bob1.incoming().await;
    assert_reason(
        alice1.call_ended(&timed_out).await,
        &registry::RINGING_TIMEOUT,
        "alice",
    );

    // Registered but not connected: 480/10076.
    let (dave, dave1) = server.user("dave-1").await;
    dave1.close().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (offline, _) = alice1.start_call(&[&dave]).await;
    assert_reason(
        alice1.call_ended(&offline).await,
        &registry::TARGET_OFFLINE,
        "alice",
    );

    // Connected but never acknowledging the delivery: 480/10078.
    let (erin, mut erin1) = server.user("erin-1").await;
    erin1.never_ack();
    let (unreachable, _) = alice1.start_call(&[&erin]).await;
    erin1.incoming().await;
    assert_reason(
        alice1.call_ended(&unreachable).await,
        &registry::TARGET_UNREACHABLE,
        "alice",
    );

    for (call, target, entry) in [
        (&timed_out, &bob, &registry::RINGING_TIMEOUT),
        (&offline, &dave, &registry::TARGET_OFFLINE),
        (&unreachable, &erin, &registry::TARGET_UNREACHABLE),
    ] {
        let (_, record) = server.get_json(&format!("/calls/{call}")).await;
        let target_leg = leg(&record, target);
        assert_leg_reason(target_leg, entry);
        assert_eq!(target_leg["answered"], false, "{record}");
        let (_, page) = server
            .get_json(&format!(
                "/calls?identity={target}&code={}&subCode={}",
                entry.code.0,
                entry.subcode.unwrap_or(0)
            ))
            .await;
        assert_eq!(call_ids(&page), vec![call.to_string()], "{page}");
        // The timeline says the same, in order: created first, the target's end before the call's.
        let kinds: Vec<&str> = record["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .collect();
        assert_eq!(kinds.first(), Some(&"created"), "{kinds:?}");
        assert!(kinds.contains(&"targetEnded"), "{kinds:?}");
    }

    // All three calls are the caller's, newest first.
    let (_, page) = server.get_json(&format!("/calls?identity={alice}")).await;
    assert_eq!(
        call_ids(&page),
        vec![
            unreachable.to_string(),
            offline.to_string(),
            timed_out.to_string()
        ]
    );
    // An identity in no call finds nothing, even with a reason.
    let (_, page) = server
        .get_json("/calls?identity=nobody-at-all&code=487")
        .await;
    assert!(call_ids(&page).is_empty(), "{page}");
}

#[tokio::test]
async fn the_summary_counts_exactly_the_legs_that_ended_by_reason_and_category() {
    let server = TestServer::start().await;
    let (_, mut alice1) = server.user("alice-1").await;
    let (bob, mut bob1) = server.user("bob-1").await;
    let before = server.get_json("/calls/summary").await.1;
    assert_eq!(before["legs"], 0, "{before}");

    // Two declined calls and one answered then hung up.
    for _ in 0..2 {
        let (call, _) = alice1.start_call(&[&bob]).await;
        bob1.incoming().await;
        bob1.reject(&call).await.expect("reject");
        alice1.call_ended(&call).await;
    }
    let (call, _) = alice1.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob1.accept(&call).await.expect("accept");
    bob1.media_ready(&call).await;
    alice1.hang_up(&call).await.expect("hang up");
    alice1.call_ended(&call).await;
    bob1.call_ended(&call).await;

    let (status, summary) = server.get_json("/calls/summary?buckets=4").await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["calls"], 3, "{summary}");
    // Declined twice: the caller's leg and the target's leg each 603/0; answered: two 0/0.
    assert_eq!(summary["legs"], 6, "{summary}");
    let count = |code: u64, sub: u64| {
        summary["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .find(|r| r["code"] == code && r["subCode"] == sub)
            .map(|r| (r["count"].as_u64(), r["share"].as_f64()))
    };
    assert_eq!(count(603, 0), Some((Some(4), Some(4.0 / 6.0))), "{summary}");
    assert_eq!(count(0, 0), Some((Some(2), Some(2.0 / 6.0))), "{summary}");
    // 603/0 and 0/0 are both normal outcomes.
    let categories = summary["categories"].as_array().expect("categories");
    assert_eq!(categories.len(), 1, "{summary}");
    assert_eq!(categories[0]["resultCategory"], "Success");
    assert_eq!(categories[0]["count"], 6);
    assert_eq!(categories[0]["share"], 1.0);
    let in_buckets: u64 = summary["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .flat_map(|b| b["categories"].as_object().expect("map").values())
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(in_buckets, 6, "{summary}");

    // A window that ends before the calls counts none of them; a reversed window is refused.
    let (_, empty) = server
        .get_json("/calls/summary?since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z")
        .await;
    assert_eq!(empty["legs"], 0, "{empty}");
    let (status, problem) = server
        .get_json("/calls/summary?since=2020-01-02T00:00:00Z&until=2020-01-01T00:00:00Z")
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["subCode"], 900102, "{problem}");
    let (status, problem) = server.get_json("/calls/summary?buckets=0").await;
    assert_eq!(status, 400, "{problem}");
}

/// `GET /metrics` as text.
async fn scrape(server: &TestServer) -> String {
    let response = server
        .admin(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    response.text().await.expect("text")
}

/// The value of the sample `name{labels}` (labels as exposed, in order), 0 when absent.
fn sample(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == name_and_labels).then(|| value.parse::<f64>().ok())?
        })
        .unwrap_or(0.0)
}

fn ends(metric: &str, code: u16, sub: u32, category: &str) -> String {
    format!("appel_{metric}{{category=\"{category}\",code=\"{code}\",sub_code=\"{sub}\"}}")
}

#[tokio::test]
async fn metrics_move_by_exactly_the_calls_made_and_need_the_access_key() {
    // A webhook receiver on loopback that accepts everything and counts what it got.
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let server = TestServer::start_with(|config| config.webhooks.url = Some(hook)).await;

    let unauthenticated = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("GET");
    assert_eq!(unauthenticated.status(), 401);

    let (_, mut alice1) = server.user("alice-1").await;
    let (bob, mut bob1) = server.user("bob-1").await;
    let before = scrape(&server).await;

    for _ in 0..2 {
        let (call, _) = alice1.start_call(&[&bob]).await;
        bob1.incoming().await;
        bob1.reject(&call).await.expect("reject");
        alice1.call_ended(&call).await;
    }
    let (call, _) = alice1.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob1.accept(&call).await.expect("accept");
    bob1.media_ready(&call).await;
    alice1.hang_up(&call).await.expect("hang up");
    alice1.call_ended(&call).await;
    bob1.call_ended(&call).await;
    let (call, _) = alice1.start_call(&[&bob]).await;
    bob1.incoming().await;
    assert_reason(
        alice1.call_ended(&call).await,
        &registry::RINGING_TIMEOUT,
        "alice",
    );
    server.get_json("/calls?limit=1").await; // the records are committed

    let after = scrape(&server).await;
    let delta = |key: &str| sample(&after, key) - sample(&before, key);
    assert_eq!(delta("appel_calls_started_total"), 4.0, "{after}");
    assert_eq!(delta(&ends("call_ends_total", 603, 0, "Success")), 2.0);
    assert_eq!(delta(&ends("call_ends_total", 0, 0, "Success")), 1.0);
    assert_eq!(
        delta(&ends("call_ends_total", 487, 10004, "ExpectedError")),
        1.0
    );
    // Each leg once: caller and target of each declined call, both parties of the answered one,
    // caller and target of the unanswered one.
    assert_eq!(delta(&ends("leg_ends_total", 603, 0, "Success")), 4.0);
    assert_eq!(delta(&ends("leg_ends_total", 0, 0, "Success")), 2.0);
    assert_eq!(
        delta(&ends("leg_ends_total", 487, 10004, "ExpectedError")),
        2.0
    );
    assert_eq!(sample(&after, "appel_active_calls"), 0.0, "{after}");
    assert_eq!(sample(&after, "appel_connected_endpoints"), 2.0, "{after}");
    assert_eq!(delta("appel_call_setup_seconds_count"), 1.0, "{after}");
    assert!(after.contains("appel_records_queue_depth"), "{after}");
    assert!(after.contains("process_resident_memory_bytes"), "{after}");

    // A call in progress is counted as active until it ends.
    let (live, _) = alice1.start_call(&[&bob]).await;
    bob1.incoming().await;
    assert_eq!(sample(&scrape(&server).await, "appel_active_calls"), 1.0);
    alice1.hang_up(&live).await.expect("cancel");
    alice1.call_ended(&live).await;
    server.get_json("/calls?limit=1").await;
    assert_eq!(sample(&scrape(&server).await, "appel_active_calls"), 0.0);

    // Every webhook attempt the receiver accepted is counted as delivered, none as failed.
    let mut settled = false;
    for _ in 0..100 {
        let text = scrape(&server).await;
        let delivered = sample(&text, "appel_webhook_attempts_total{outcome=\"delivered\"}");
        let got = received.load(std::sync::atomic::Ordering::SeqCst) as f64;
        if got > 0.0 && delivered == got {
            assert_eq!(
                sample(&text, "appel_webhook_attempts_total{outcome=\"failed\"}"),
                0.0
            );
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        settled,
        "webhook deliveries never matched the receiver's count"
    );
}

/// The kinds of a call record's timeline, in order.
fn kinds(record: &Value) -> Vec<String> {
    strings(&record["timeline"], "kind")
}

#[tokio::test]
async fn a_removed_participant_and_an_expired_token_each_leave_their_own_reason_in_order() {
    let server = TestServer::start().await;
    let (alice, mut alice1) = server.user("alice-1").await;
    let (carol, mut carol1) = server.user("carol-1").await;
    let bob = server.create_identity().await;
    let short = server.short_token(&bob, Duration::from_millis(1500));
    let mut bob1 = support::Client::sign_in(&server.ws_url(), &short, "bob-1", None)
        .await
        .expect("bob signs in");

    let (call, _) = alice1.start_call(&[&bob, &carol]).await;
    bob1.incoming().await;
    carol1.incoming().await;
    bob1.accept(&call).await.expect("bob accepts");
    bob1.media_ready(&call).await;
    carol1.accept(&call).await.expect("carol accepts");
    carol1.media_ready(&call).await;

    // The operator removes Carol through the call-control API.
    let (_, record) = server.get_json(&format!("/calls/{call}")).await;
    let carol_participant = leg(&record, &carol)["participantId"]
        .as_str()
        .expect("participant")
        .to_string();
    let response = server
        .admin(
            reqwest::Method::DELETE,
            &format!("/call-control/calls/{call}/participants/{carol_participant}"),
        )
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), 204);
    assert_reason(
        carol1.call_ended(&call).await,
        &registry::REMOVED_BY_SERVER,
        "carol",
    );
    // Bob's token runs out mid-call.
    assert_reason(
        bob1.call_ended(&call).await,
        &registry::TOKEN_EXPIRED_DURING_CALL,
        "bob",
    );
    // Alone, Alice's call ends with the reason she is told; her leg keeps that same reason.
    let alice_reason = alice1.call_ended(&call).await;

    let (_, record) = server.get_json(&format!("/calls/{call}")).await;
    assert_leg_reason(leg(&record, &carol), &registry::REMOVED_BY_SERVER);
    assert_leg_reason(leg(&record, &bob), &registry::TOKEN_EXPIRED_DURING_CALL);
    assert_eq!(leg(&record, &alice)["endReason"]["code"], alice_reason.code);
    assert_eq!(
        leg(&record, &alice)["endReason"]["subCode"],
        alice_reason.subcode
    );
    for who in [&alice, &bob, &carol] {
        assert_eq!(leg(&record, who)["answered"], true, "{record}");
    }
    // Legs end in the order things happened: Carol, then Bob, then Alice.
    let left = |who: &str| {
        leg(&record, who)["leftAt"]
            .as_str()
            .expect("left")
            .to_string()
    };
    assert!(
        left(&carol) <= left(&bob) && left(&bob) <= left(&alice),
        "{record}"
    );
    let kinds = kinds(&record);
    let at = |kind: &str| kinds.iter().position(|k| k == kind);
    assert_eq!(at("created"), Some(0), "{kinds:?}");
    let removed = at("removed").expect("removed on the timeline");
    assert!(at("accepted").is_some_and(|a| a < removed), "{kinds:?}");
    assert!(at("mediaReady").is_some_and(|m| m < removed), "{kinds:?}");
}

#[tokio::test]
async fn client_reports_land_on_the_timeline_of_a_call_the_endpoint_is_in_and_nowhere_else() {
    use appel_protocol::{ClientFrame, ReportKind};
    let server = TestServer::start().await;
    let (_, mut alice1) = server.user("alice-1").await;
    let (bob, mut bob1) = server.user("bob-1").await;
    let (_, mut mallory1) = server.user("mallory-1").await;
    let (call, _) = alice1.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob1.accept(&call).await.expect("accept");
    bob1.media_ready(&call).await;

    let report = |kind, detail: Option<&str>| ClientFrame::Report {
        call_id: call.clone(),
        kind,
        detail: detail.map(String::from),
    };
    bob1.send(report(ReportKind::MediaConnected, None)).await;
    bob1.send(report(ReportKind::IceState, Some("disconnected")))
        .await;
    // A long detail with a line break is kept on one line, cut to 200 characters.
    let long = format!("NotReadableError\n{}", "x".repeat(500));
    bob1.send(report(ReportKind::DeviceError, Some(&long)))
        .await;
    // Someone outside the call cannot write on its timeline.
    mallory1
        .send(report(ReportKind::DeviceError, Some("forged")))
        .await;
    let (error, fatal) = mallory1.error().await;
    assert!(error.is(&registry::CALL_OPERATION_UNKNOWN_CALL), "{error}");
    assert!(!fatal);
    alice1.hang_up(&call).await.expect("hang up");
    alice1.call_ended(&call).await;

    let (_, record) = server.get_json(&format!("/calls/{call}")).await;
    let reports: Vec<(String, String)> = record["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| {
            ["mediaConnected", "iceState", "deviceError"]
                .contains(&e["kind"].as_str().unwrap_or(""))
        })
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or("").to_string(),
                e["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(reports.len(), 3, "{record}");
    assert_eq!(
        reports[0],
        ("mediaConnected".into(), format!("{bob} on bob-1"))
    );
    assert_eq!(
        reports[1],
        ("iceState".into(), format!("{bob} on bob-1: disconnected"))
    );
    let device = &reports[2].1;
    assert!(
        device.starts_with(&format!("{bob} on bob-1: NotReadableError")),
        "{device}"
    );
    assert!(!device.contains('\n'));
    assert_eq!(
        device.chars().count(),
        format!("{bob} on bob-1: ").chars().count() + 200
    );
    assert!(!record.to_string().contains("forged"), "{record}");
}

#[tokio::test]
async fn a_passed_pre_call_check_is_on_the_timeline_of_the_call_then_not_joined() {
    let server = TestServer::start().await;
    let (_, mut alice1) = server.user("alice-1").await;
    let erin = server.create_identity().await;
    let token = server.token(&erin).await;
    let mut erin1 = support::Client::sign_in(&server.ws_url(), &token, "erin-1", None)
        .await
        .expect("erin signs in");
    let (carol, mut carol1) = server.user("carol-1").await;

    // Erin runs the pre-call check, then her endpoint never takes the call: 480/10078.
    let checked = server
        .http
        .get(server.url("/validate"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET /validate");
    assert_eq!(checked.status(), 200);
    erin1.never_ack();
    let (failed, _) = alice1.start_call(&[&erin]).await;
    erin1.incoming().await;
    assert_reason(
        alice1.call_ended(&failed).await,
        &registry::TARGET_UNREACHABLE,
        "alice",
    );
    let (_, record) = server.get_json(&format!("/calls/{failed}")).await;
    let checks: Vec<&Value> = record["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "preCallCheck")
        .collect();
    assert_eq!(checks.len(), 1, "{record}");
    assert_eq!(checks[0]["detail"]["identity"], erin.as_str());
    assert_eq!(checks[0]["detail"]["result"]["ok"], true);
    assert!(checks[0]["detail"]["checkedAt"].is_string());
    // The check comes right after the end it explains.
    let seen = kinds(&record);
    let check_at = seen
        .iter()
        .position(|k| k == "preCallCheck")
        .expect("check");
    let ended_at = seen.iter().position(|k| k == "targetEnded").expect("end");
    assert_eq!(check_at, ended_at + 1, "{seen:?}");

    // Carol declines without having run a check: nothing is added; and a declined call is no
    // failure to join, so even a check would not be shown for it.
    let (declined, _) = alice1.start_call(&[&carol]).await;
    carol1.incoming().await;
    carol1.reject(&declined).await.expect("reject");
    alice1.call_ended(&declined).await;
    let (_, record) = server.get_json(&format!("/calls/{declined}")).await;
    assert!(
        !kinds(&record).contains(&"preCallCheck".to_string()),
        "{record}"
    );
}

#[tokio::test]
async fn a_token_refreshed_mid_call_is_on_that_calls_timeline() {
    let server = TestServer::start().await;
    let (_, mut alice1) = server.user("alice-1").await;
    let (bob, mut bob1) = server.user("bob-1").await;
    let (call, _) = alice1.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob1.accept(&call).await.expect("accept");
    bob1.media_ready(&call).await;
    let fresh = server.token(&bob).await;
    bob1.request(|request_id| appel_protocol::ClientFrame::RefreshToken {
        request_id,
        token: fresh,
    })
    .await
    .expect("refreshed");
    alice1.hang_up(&call).await.expect("hang up");
    alice1.call_ended(&call).await;
    let (_, record) = server.get_json(&format!("/calls/{call}")).await;
    let refreshed: Vec<&Value> = record["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "tokenRefreshed")
        .collect();
    assert_eq!(refreshed.len(), 1, "{record}");
    assert_eq!(refreshed[0]["detail"], format!("{bob} on bob-1"));
}

#[tokio::test]
async fn every_endpoint_that_rang_keeps_the_reason_it_was_given() {
    let server = TestServer::start().await;
    let (_, mut alice1) = server.user("alice-1").await;
    let bob = server.create_identity().await;
    let mut bob1 = server.connect(&bob, "bob-1").await;
    let mut bob2 = server.connect(&bob, "bob-2").await;
    let mut bob3 = server.connect(&bob, "bob-3").await;

    // bob-3 declines, bob-1 answers: bob-3's own ring ends 0/0, bob-2's 487/10003.
    let (call, _) = alice1.start_call(&[&bob]).await;
    for endpoint in [&mut bob1, &mut bob2, &mut bob3] {
        endpoint.incoming().await;
    }
    bob3.reject(&call).await.expect("bob-3 declines");
    bob1.accept(&call).await.expect("bob-1 accepts");
    assert_reason(
        bob2.call_ended(&call).await,
        &registry::CALL_ACCEPTED_ELSEWHERE,
        "bob-2",
    );
    bob1.media_ready(&call).await;
    alice1.hang_up(&call).await.expect("hang up");
    alice1.call_ended(&call).await;

    let (status, record) = server.get_json(&format!("/calls/{call}")).await;
    assert_eq!(status, 200);
    let rings = record["rings"].as_array().expect("rings");
    let ring = |endpoint: &str| {
        rings
            .iter()
            .find(|r| r["endpointId"] == endpoint)
            .unwrap_or_else(|| panic!("no ring of {endpoint}: {record}"))
    };
    assert_eq!(rings.len(), 2, "{record}");
    assert_leg_reason(ring("bob-3"), &registry::CALL_ENDED_LOCALLY);
    assert_leg_reason(ring("bob-2"), &registry::CALL_ACCEPTED_ELSEWHERE);
    assert_eq!(ring("bob-2")["rawCause"], "accepted on bob-1");
    assert_eq!(ring("bob-2")["identity"], bob.as_str());
    // bob-1 answered: its end is its leg's, not a ring's.
    assert_leg_reason(leg(&record, &bob), &registry::CALL_ENDED_LOCALLY);

    // Nobody answers: every endpoint's ring ends 487/10004, as the target's leg does.
    let (unanswered, _) = alice1.start_call(&[&bob]).await;
    for endpoint in [&mut bob1, &mut bob2, &mut bob3] {
        endpoint.incoming().await;
    }
    alice1.call_ended(&unanswered).await;
    let (_, record) = server.get_json(&format!("/calls/{unanswered}")).await;
    let rings = record["rings"].as_array().expect("rings");
    assert_eq!(rings.len(), 3, "{record}");
    for ring in rings {
        assert_leg_reason(ring, &registry::RINGING_TIMEOUT);
    }
    assert_leg_reason(leg(&record, &bob), &registry::RINGING_TIMEOUT);
}

#[tokio::test]
async fn the_shipped_alerts_and_dashboard_use_only_metrics_the_server_exports() {
    let server = TestServer::start().await;
    // One call ended, so the families labelled by reason have a first sample.
    let (_, mut alice1) = server.user("alice-1").await;
    let (bob, mut bob1) = server.user("bob-1").await;
    let (call, _) = alice1.start_call(&[&bob]).await;
    bob1.incoming().await;
    bob1.reject(&call).await.expect("reject");
    alice1.call_ended(&call).await;
    server.get_json("/calls?limit=1").await;
    let exported = scrape(&server).await;
    let families: Vec<&str> = exported
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dashboard =
        std::fs::read_to_string(root.join("docs/grafana-dashboard.json")).expect("dashboard");
    let parsed: Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert!(parsed["panels"].as_array().is_some_and(|p| !p.is_empty()));
    let alerts = std::fs::read_to_string(root.join("docs/alerts.yml")).expect("alerts");
    let mut used = 0;
    for text in [&dashboard, &alerts] {
        let mut rest = text.as_str();
        while let Some(start) = rest.find("appel_").or_else(|| rest.find("process_")) {
            let name: String = rest[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[start + name.len()..];
            let family = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(&name);
            assert!(
                families.contains(&family),
                "{name} is used by the shipped files but not exported: {families:?}"
            );
            used += 1;
        }
    }
    assert!(used > 10, "only {used} metric references found");
}

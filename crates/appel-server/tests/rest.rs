//! The REST API over HTTP: identities, tokens, validation, problem documents, OpenAPI.

mod support;

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use support::{assert_problem, base64url, problem, TestServer, PROBLEM_MEMBERS};

#[tokio::test]
async fn health_answers_ok_and_publishes_the_reconnect_grace() {
    let server =
        TestServer::start_with(|c| c.timers.reconnect_grace = Duration::from_secs(90)).await;
    let response = server.get("/health").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["signaling"]["reconnectGraceMs"], 90_000);
    assert_eq!(body["signaling"]["heartbeatIntervalMs"], 250);
    assert_eq!(body["signaling"]["protocolVersion"], 1);
}

#[tokio::test]
async fn ready_answers_200_and_503_900118_while_the_database_is_held_by_another_process() {
    let server = TestServer::start().await;
    let (status, body) = server.get_json("/ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");

    // Another program takes the database for itself (a write transaction left open, as a careless
    // backup tool or a manual `sqlite3` session would). The process still answers /health, but it
    // cannot take calls: /ready says so, naming the part that fails.
    let path = server.data.path().join("appel.db");
    let holder = std::thread::spawn(move || {
        let db = rusqlite::Connection::open(path).expect("open the database");
        db.execute_batch("BEGIN EXCLUSIVE; CREATE TABLE held_by_test (x); ")
            .expect("take the lock");
        std::thread::sleep(Duration::from_secs(4));
        db.execute_batch("ROLLBACK").expect("release");
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = server.get_json("/health").await;
    assert_eq!(status, 200, "liveness is not readiness: {body}");
    let response = server.get("/ready").await;
    let (status, body) = problem(response).await;
    assert_eq!(status, 503);
    assert_problem(
        &body,
        503,
        900118,
        "UnexpectedServerError",
        "SERVER_NOT_READY",
    );
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("database")),
        "{body}"
    );
    holder.join().expect("holder thread");

    // Once the other program lets go, the server is ready again without a restart.
    let mut ready = false;
    for _ in 0..50 {
        if server.get_json("/ready").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "ready again once the lock is released");
}

#[tokio::test]
async fn a_locked_database_makes_ready_answer_503_at_once_and_holds_up_no_other_request() {
    let server = TestServer::start().await;
    let (status, body) = server.get_json("/calls").await;
    assert_eq!(status, 200, "{body}");

    // Another program holds the write lock for longer than every deadline below.
    let path = server.data.path().join("appel.db");
    let (locked, wait_locked) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let db = rusqlite::Connection::open(path).expect("open the database");
        db.execute_batch("BEGIN EXCLUSIVE; CREATE TABLE held_by_test (x);")
            .expect("take the lock");
        locked.send(()).expect("tell the test");
        std::thread::sleep(Duration::from_secs(3));
        db.execute_batch("ROLLBACK").expect("release");
    });
    wait_locked.recv().expect("the lock is taken");

    // Probes hammered by a load balancer, with a record query and a liveness check among them:
    // every one answers well within the shared connection's 5 s busy timeout.
    let started = std::time::Instant::now();
    let probes = (0..4).map(|_| server.admin(Method::GET, "/ready").send());
    let (probes, calls, health) = tokio::join!(
        futures_util::future::join_all(probes),
        async {
            // Sent just after the probes, so it would queue behind one holding the shared
            // connection.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let sent = std::time::Instant::now();
            let answer = server.get_json("/calls").await;
            (answer, sent.elapsed())
        },
        server.get_json("/health"),
    );
    for probe in probes {
        let (status, body) = problem(probe.expect("GET /ready")).await;
        assert_eq!((status, &body["subCode"]), (503, &json!(900118)), "{body}");
    }
    let ready_within = started.elapsed();
    assert!(
        ready_within < Duration::from_millis(1500),
        "/ready took {ready_within:?} to say the database is locked"
    );
    let ((status, body), calls_within) = calls;
    assert_eq!(status, 200, "a locked database still answers reads: {body}");
    assert!(
        calls_within < Duration::from_millis(1000),
        "GET /calls waited {calls_within:?} behind the readiness probe"
    );
    assert_eq!(health.0, 200, "liveness is not readiness: {}", health.1);
    holder.join().expect("holder thread");
}

#[tokio::test]
async fn missing_or_wrong_access_key_is_401_with_900100() {
    let server = TestServer::start().await;
    let missing = server
        .http
        .post(server.url("/identities"))
        .send()
        .await
        .expect("POST");
    let (status, body) = problem(missing).await;
    assert_eq!(status, 401);
    assert_problem(&body, 401, 900100, "ExpectedError", "ACCESS_KEY_INVALID");

    let wrong = server
        .http
        .get(server.url("/calls"))
        .bearer_auth("not-the-key")
        .send()
        .await
        .expect("GET");
    let (status, body) = problem(wrong).await;
    assert_eq!(status, 401);
    assert_problem(&body, 401, 900100, "ExpectedError", "ACCESS_KEY_INVALID");
}

#[tokio::test]
async fn a_token_is_issued_for_a_created_identity_and_validates() {
    let server = TestServer::start().await;
    let id = server.create_identity().await;
    let response = server
        .admin(Method::POST, &format!("/identities/{id}/token"))
        .json(&json!({ "scopes": ["voip"], "expiresInMinutes": 60 }))
        .send()
        .await
        .expect("POST token");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let token = body["token"].as_str().expect("token");
    let expires =
        humantime::parse_rfc3339(body["expiresOn"].as_str().expect("expiresOn")).expect("RFC 3339");
    let lifetime = expires
        .duration_since(std::time::SystemTime::now())
        .expect("in the future");
    assert!(lifetime > Duration::from_secs(59 * 60) && lifetime <= Duration::from_secs(3600));

    let validated = server
        .http
        .get(server.url("/validate"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /validate");
    assert_eq!(validated.status(), 200);
    let body: Value = validated.json().await.expect("json");
    assert_eq!(body["identity"], id.as_str());
    assert!(body["expiresOn"].is_string());

    // No body at all gives the default scope and 24 hours.
    let response = server
        .admin(Method::POST, &format!("/identities/{id}/token"))
        .send()
        .await
        .expect("POST token");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn token_requests_with_bad_bodies_or_lifetimes_are_refused() {
    let server = TestServer::start().await;
    let id = server.create_identity().await;
    let path = format!("/identities/{id}/token");
    for minutes in [59, 1441, -5] {
        let response = server
            .admin(Method::POST, &path)
            .json(&json!({ "expiresInMinutes": minutes }))
            .send()
            .await
            .expect("POST");
        let (status, body) = problem(response).await;
        assert_eq!(status, 400);
        assert_problem(
            &body,
            400,
            900103,
            "ExpectedError",
            "TOKEN_LIFETIME_OUT_OF_RANGE",
        );
    }
    let bodies = [
        json!({ "scopes": ["admin"] }),
        json!({ "scopes": [] }),
        json!({ "expiresInMinutes": "sixty" }),
        json!({ "unexpected": true }),
    ];
    for bad in bodies {
        let response = server
            .admin(Method::POST, &path)
            .json(&bad)
            .send()
            .await
            .expect("POST");
        let (status, body) = problem(response).await;
        assert_eq!(status, 400, "{bad}");
        assert_problem(&body, 400, 900102, "ExpectedError", "INVALID_REQUEST");
    }
    let not_json = server
        .admin(Method::POST, &path)
        .body("{not json")
        .send()
        .await
        .expect("POST");
    let (_, body) = problem(not_json).await;
    assert_problem(&body, 400, 900102, "ExpectedError", "INVALID_REQUEST");
}

#[tokio::test]
async fn unknown_identities_and_calls_are_404_problems() {
    let server = TestServer::start().await;
    for (method, path) in [
        (Method::POST, "/identities/nobody/token"),
        (Method::DELETE, "/identities/nobody/tokens"),
        (Method::DELETE, "/identities/nobody"),
    ] {
        let response = server.admin(method, path).send().await.expect("request");
        let (status, body) = problem(response).await;
        assert_eq!(status, 404, "{path}");
        assert_problem(&body, 404, 900101, "ExpectedError", "IDENTITY_NOT_FOUND");
    }
    let response = server
        .admin(Method::GET, "/calls/no-such-call")
        .send()
        .await
        .expect("GET");
    let (status, body) = problem(response).await;
    assert_eq!(status, 404);
    assert_problem(&body, 404, 900104, "ExpectedError", "CALL_RECORD_NOT_FOUND");
}

#[tokio::test]
async fn call_list_parameters_are_checked() {
    let server = TestServer::start().await;
    for query in [
        "?limit=0",
        "?limit=501",
        "?category=Sometimes",
        "?since=yesterday",
        "?cursor=abc",
        "?code=x",
        "?colour=blue",
    ] {
        let response = server
            .admin(Method::GET, &format!("/calls{query}"))
            .send()
            .await
            .expect("GET");
        let (status, body) = problem(response).await;
        assert_eq!(status, 400, "{query}");
        assert_problem(&body, 400, 900102, "ExpectedError", "INVALID_REQUEST");
    }
    let (status, body) = server
        .get_json("/calls?category=ExpectedError&limit=5")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["calls"], json!([]));
    assert_eq!(body["nextCursor"], Value::Null);
}

fn assert_unauthenticated(result: (u16, Value), what: &str) {
    assert_eq!(result.0, 401, "{what}");
    assert_problem(
        &result.1,
        401,
        10009,
        "UnexpectedClientError",
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn validate_refuses_forged_expired_unsigned_revoked_and_deleted_tokens_with_10009() {
    let server = TestServer::start().await;
    let id = server.create_identity().await;
    let good = server.token(&id).await;
    assert_eq!(server.validate(&good).await.0, 200);

    let forged = server.forged_token(&id, "another-key");
    assert_unauthenticated(server.validate(&forged).await, "forged");

    let expired = server.short_token(&id, Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_unauthenticated(server.validate(&expired).await, "expired");

    let payload = good.split('.').nth(1).expect("payload");
    let unsigned = format!("{}.{payload}.", base64url(br#"{"alg":"none","typ":"JWT"}"#));
    assert_unauthenticated(server.validate(&unsigned).await, "alg none");

    let missing = server.get("/validate").await;
    assert_unauthenticated(problem(missing).await, "no token");

    server.revoke_tokens(&id).await;
    assert_unauthenticated(server.validate(&good).await, "revoked");
    let after = server.token(&id).await;
    assert_eq!(
        server.validate(&after).await.0,
        200,
        "a token issued after revocation works"
    );

    let deleted = server
        .admin(Method::DELETE, &format!("/identities/{id}"))
        .send()
        .await
        .expect("DELETE identity");
    assert_eq!(deleted.status(), 204);
    assert_unauthenticated(server.validate(&after).await, "deleted identity");
}

#[tokio::test]
async fn openapi_document_covers_every_route_and_the_problem_schema() {
    let server = TestServer::start().await;
    let response = server.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.expect("json");
    assert_eq!(document["openapi"], "3.1.0");
    for (method, path) in appel_server::http::openapi::operations() {
        assert!(
            document["paths"][&path][&method].is_object(),
            "{method} {path}"
        );
    }
    let required = &document["components"]["schemas"]["Problem"]["required"];
    for member in PROBLEM_MEMBERS {
        assert!(
            required
                .as_array()
                .is_some_and(|r| r.contains(&json!(member))),
            "{member}"
        );
    }
}

#[tokio::test]
async fn signaling_without_upgrade_is_a_problem_document() {
    let server = TestServer::start().await;
    let response = server.get("/signaling").await;
    let (status, body) = problem(response).await;
    assert_eq!(status, 400);
    assert_problem(&body, 400, 900102, "ExpectedError", "INVALID_REQUEST");
}

/// The fuzzing of request bodies found `/dev/session` answering a body it could not read with
/// axum's plain text; every refusal must be a catalogue problem, on the development routes too.
#[tokio::test]
async fn an_unreadable_dev_session_body_is_a_problem_document() {
    let server = TestServer::start_with(|config| config.dev = true).await;
    for body in ["8", "{\"name\":", "", "{\"name\":\"  \"}"] {
        let response = server
            .http
            .post(server.url("/dev/session"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST");
        let (status, problem_body) = problem(response).await;
        assert_eq!(status, 400, "{body:?}");
        assert_problem(
            &problem_body,
            400,
            900102,
            "ExpectedError",
            "INVALID_REQUEST",
        );
    }
}

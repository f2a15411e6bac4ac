//! Every body a backend (or anyone holding the access key, or anyone without it) may send to the
//! REST routes that read one, through the server's real router over a real data folder.
//!
//! The first byte picks the route and whether the access key is sent; the rest is the body. The
//! answer must never be a 5xx; every refusal must be a problem document naming a catalogue entry,
//! with the entry's own pair and the HTTP status it states; a refused change must leave the room
//! it aimed at as it was; what a create makes is deleted again so the data folder stays small.
#![no_main]

use std::sync::OnceLock;
use std::time::SystemTime;

use appel_codes::{by_name, exact, lookup_code};
use appel_server::tokens::{TokenKeys, VOIP_SCOPE};
use appel_server::{Config, RunningServer, Server};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower::ServiceExt;

const ACCESS_KEY: &str = "fuzz-access-key";

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    identity: String,
    room: String,
    _server: RunningServer,
    _data: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let data = tempfile::tempdir().expect("temp dir");
        let config = Config {
            // Nothing connects to it: requests go through the router in-process.
            listen: "127.0.0.1:0".parse().expect("loopback"),
            data: data.path().to_path_buf(),
            access_key: Some(ACCESS_KEY.into()),
            dev: true,
            ..Config::default()
        };
        let server = runtime
            .block_on(Server::start(config))
            .expect("server starts");
        let router = server.router();
        let (identity, room) = runtime.block_on(async {
            let created = send(&router, Method::POST, "/identities", true, Vec::new()).await;
            assert_eq!(created.0, StatusCode::CREATED);
            let identity = created.1["id"].as_str().expect("identity id").to_string();
            let body =
                format!(r#"{{"participants":[{{"identity":"{identity}","role":"Presenter"}}]}}"#);
            let room = send(&router, Method::POST, "/rooms", true, body.into_bytes()).await;
            assert_eq!(room.0, StatusCode::CREATED, "{}", room.1);
            (
                identity,
                room.1["id"].as_str().expect("room id").to_string(),
            )
        });
        Harness {
            runtime,
            router,
            identity,
            room,
            _server: server,
            _data: data,
        }
    })
}

async fn send(
    router: &Router,
    method: Method,
    path: &str,
    key: bool,
    body: Vec<u8>,
) -> (StatusCode, Value, Option<String>) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if key {
        request = request.header(header::AUTHORIZATION, format!("Bearer {ACCESS_KEY}"));
    }
    let request = request.body(Body::from(body)).expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{status} answered a body that is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    (status, value, content_type)
}

/// A refusal is a problem document whose pair, name and status agree with the catalogue.
fn check_problem(status: StatusCode, problem: &Value, content_type: Option<&str>) {
    assert_eq!(
        content_type,
        Some("application/problem+json"),
        "{status} {problem}"
    );
    assert_eq!(
        problem["status"].as_u64(),
        Some(u64::from(status.as_u16())),
        "{problem}"
    );
    let name = problem["name"].as_str().expect("a problem names its entry");
    let entry = by_name(name).expect("the name is a catalogue entry");
    let code = u16::try_from(problem["code"].as_u64().expect("code")).expect("a 3-digit code");
    assert_eq!(entry.code.0, code, "{problem}");
    match problem["subCode"].as_u64() {
        Some(sub) => {
            let sub = u32::try_from(sub).expect("subcode");
            assert!(
                exact(code, sub).is_some_and(|e| std::ptr::eq(e, entry)),
                "{problem}"
            );
        }
        None => assert!(std::ptr::eq(lookup_code(code).entry, entry), "{problem}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let h = harness();
    let with_key = selector & 0x80 == 0;
    let room_path = format!("/rooms/{}", h.room);
    let roster_path = format!("/rooms/{}/participants", h.room);
    let token_path = format!("/identities/{}/token", h.identity);
    let (method, path): (Method, &str) = match (selector & 0x7f) % 13 {
        0 => (Method::POST, "/identities"),
        1 => (Method::POST, &token_path),
        2 => (Method::POST, "/identities/no-such-identity/token"),
        3 => (Method::POST, "/rooms"),
        4 => (Method::PATCH, &room_path),
        5 => (Method::PATCH, &roster_path),
        6 => (Method::PATCH, "/rooms/no-such-room"),
        7 => (
            Method::POST,
            "/call-control/calls/no-such-call/participants",
        ),
        8 => (
            Method::POST,
            "/call-control/calls/no-such-call/participants/p1/mute",
        ),
        9 => (
            Method::POST,
            "/call-control/calls/no-such-call/participants/p1/end-for-everyone",
        ),
        10 => (Method::POST, "/call-control/calls/no-such-call/hang-up"),
        11 => (Method::POST, "/webhooks"),
        _ => (Method::POST, "/dev/session"),
    };
    let dev = path == "/dev/session";
    h.runtime.block_on(async {
        let room_before = send(&h.router, Method::GET, &room_path, true, Vec::new()).await;
        let (status, answer, content_type) =
            send(&h.router, method.clone(), path, with_key, body.to_vec()).await;
        assert!(
            !status.is_server_error(),
            "{method} {path}: {status} {answer}"
        );
        if !status.is_success() {
            check_problem(status, &answer, content_type.as_deref());
            if !with_key && !dev {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
                assert_eq!(answer["name"], "ACCESS_KEY_INVALID", "{answer}");
            }
            let room_after = send(&h.router, Method::GET, &room_path, true, Vec::new()).await;
            assert_eq!(
                room_before.1, room_after.1,
                "a refused {method} {path} changed the room"
            );
            return;
        }
        assert!(
            with_key || dev,
            "{method} {path} succeeded without the access key"
        );
        // What a create made is removed, so millions of runs keep the folder and memory small.
        let created = answer["id"].as_str().map(str::to_string);
        match (path, created) {
            ("/identities", Some(id)) => {
                let gone = send(
                    &h.router,
                    Method::DELETE,
                    &format!("/identities/{id}"),
                    true,
                    Vec::new(),
                )
                .await;
                assert_eq!(gone.0, StatusCode::NO_CONTENT, "{}", gone.1);
            }
            ("/rooms", Some(id)) => {
                let gone = send(
                    &h.router,
                    Method::DELETE,
                    &format!("/rooms/{id}"),
                    true,
                    Vec::new(),
                )
                .await;
                assert_eq!(gone.0, StatusCode::NO_CONTENT, "{}", gone.1);
            }
            ("/webhooks", Some(id)) => {
                let gone = send(
                    &h.router,
                    Method::DELETE,
                    &format!("/webhooks/{id}"),
                    true,
                    Vec::new(),
                )
                .await;
                assert_eq!(gone.0, StatusCode::NO_CONTENT, "{}", gone.1);
            }
            _ => {}
        }
        // A token the server hands out must pass its own verification for the identity asked.
        if path == token_path {
            let token = answer["token"].as_str().expect("a token");
            let claims = TokenKeys::from_access_key(ACCESS_KEY)
                .verify(
                    token,
                    SystemTime::now(),
                    appel_server::tokens::DEFAULT_CLOCK_LEEWAY,
                )
                .expect("an issued token verifies");
            assert_eq!(claims.identity, h.identity);
            assert_eq!(claims.scopes, vec![VOIP_SCOPE.to_string()]);
        }
    });
});

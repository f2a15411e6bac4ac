//! The REST contract: the OpenAPI document says what the handlers do, and the handlers refuse
//! what the document does not allow. Each test is a request a careless or hostile client sends,
//! against a real server on loopback, and checks both the refusal and that nothing was stored.

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::{problem, TestServer};

/// The catalogue entry of a problem: (status, subCode).
async fn refusal(response: reqwest::Response) -> (u16, u64) {
    let (status, body) = problem(response).await;
    (status, body["subCode"].as_u64().unwrap_or_default())
}

async fn send(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> reqwest::Response {
    let mut request = server.admin(method, path);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    request.send().await.expect("request")
}

async fn named_identity(server: &TestServer, name: &str) -> String {
    let response = send(
        server,
        Method::POST,
        "/identities",
        Some(&json!({ "displayName": name }).to_string()),
    )
    .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    body["id"].as_str().expect("id").to_string()
}

/// A client generated from docs/openapi.json must talk to the server as it is: the committed copy
/// is the document the server serves. `APPEL_WRITE_OPENAPI=1` rewrites the copy.
#[tokio::test]
async fn the_committed_document_is_the_one_the_server_serves() {
    let server = TestServer::start().await;
    let response = server.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    let served = response.text().await.expect("text");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var_os("APPEL_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &served).expect("write docs/openapi.json");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == served,
        "docs/openapi.json differs from GET /openapi.json; rewrite it with \
         APPEL_WRITE_OPENAPI=1 cargo test -p appel-server --test rest_contract"
    );
    let document: Value = serde_json::from_str(&served).expect("json");
    assert_eq!(document["openapi"], "3.1.0");
}

/// A route in the document that the router lacks (or the reverse) is what a hand-written document
/// drifts into; every documented operation must reach a handler, not the 404/405 fallbacks.
#[tokio::test]
async fn every_documented_operation_reaches_a_handler() {
    let server = TestServer::start().await;
    let operations = appel_server::http::openapi::operations();
    assert!(operations.len() >= 39, "{} operations", operations.len());
    for (method, path) in operations {
        let concrete = path
            .split('/')
            .map(|part| if part.starts_with('{') { "x" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let response = send(&server, method.clone(), &concrete, None).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            body["subCode"] != 900110 && body["subCode"] != 900111,
            "{method} {path}: {status} {body}"
        );
    }
}

/// serde fills a struct from an array, so `[null, null]` used to read as an empty token request
/// and issue a token; a body that is not a JSON object is now 400/900102, and nothing is issued
/// or created.
#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused() {
    let server = TestServer::start().await;
    let id = server.create_identity().await;
    for body in ["[null, null]", "[]", "null", "\"voip\"", "60"] {
        let response = send(
            &server,
            Method::POST,
            &format!("/identities/{id}/token"),
            Some(body),
        )
        .await;
        assert_eq!(refusal(response).await, (400, 900102), "token body {body}");
        let response = send(&server, Method::POST, "/identities", Some(body)).await;
        assert_eq!(
            refusal(response).await,
            (400, 900102),
            "identity body {body}"
        );
        let response = send(&server, Method::POST, "/rooms", Some(body)).await;
        assert_eq!(refusal(response).await, (400, 900102), "room body {body}");
    }
    let (_, page) = server.get_json("/identities").await;
    assert_eq!(page["identities"].as_array().map(Vec::len), Some(1));
    let (_, rooms) = server.get_json("/rooms").await;
    assert_eq!(rooms["rooms"], json!([]));
    // Left out entirely, an optional body still means the defaults.
    let response = send(
        &server,
        Method::POST,
        &format!("/identities/{id}/token"),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
}

/// A PATCH without a body (or with `{}`) used to pass as "no change" — and for an identity, as
/// "remove the display name". A change must say what it changes: the body is required, and a
/// rename must name `displayName` (null to remove it).
#[tokio::test]
async fn a_patch_without_a_body_changes_nothing() {
    let server = TestServer::start().await;
    let id = named_identity(&server, "Alice").await;
    for body in [None, Some(""), Some("{}"), Some("[\"Bob\"]")] {
        let response = send(&server, Method::PATCH, &format!("/identities/{id}"), body).await;
        assert_eq!(refusal(response).await, (400, 900102), "{body:?}");
    }
    let (_, identity) = server.get_json(&format!("/identities/{id}")).await;
    assert_eq!(identity["displayName"], "Alice", "the name is kept");
    let response = send(
        &server,
        Method::PATCH,
        &format!("/identities/{id}"),
        Some(r#"{"displayName": null}"#),
    )
    .await;
    assert_eq!(response.status(), 200);
    let (_, identity) = server.get_json(&format!("/identities/{id}")).await;
    assert!(
        identity.get("displayName").is_none(),
        "null removes it: {identity}"
    );

    let response = send(
        &server,
        Method::POST,
        "/rooms",
        Some(&json!({ "participants": [{ "identity": id, "role": "Presenter" }] }).to_string()),
    )
    .await;
    assert_eq!(response.status(), 201);
    let room: Value = response.json().await.expect("room");
    let room_id = room["id"].as_str().expect("id");
    for path in [
        format!("/rooms/{room_id}"),
        format!("/rooms/{room_id}/participants"),
    ] {
        let response = send(&server, Method::PATCH, &path, None).await;
        assert_eq!(refusal(response).await, (400, 900102), "{path}");
    }
    let (_, after) = server.get_json(&format!("/rooms/{room_id}")).await;
    assert_eq!(after, room, "the room is unchanged");
}

/// JSON Schema counts 120.0 as the integer 120, so a client that writes numbers as floats is
/// right; a fraction is still refused, and the range still applies.
#[tokio::test]
async fn a_lifetime_with_a_zero_fraction_is_that_integer() {
    let server = TestServer::start().await;
    let id = server.create_identity().await;
    let path = format!("/identities/{id}/token");
    let before = std::time::SystemTime::now();
    let response = send(
        &server,
        Method::POST,
        &path,
        Some(r#"{"expiresInMinutes": 120.0}"#),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let expires = humantime::parse_rfc3339_weak(body["expiresOn"].as_str().expect("expiresOn"))
        .expect("a time");
    let lifetime = expires.duration_since(before).expect("later").as_secs();
    assert!((7190..=7210).contains(&lifetime), "{lifetime} s");
    for (body, expected) in [
        (r#"{"expiresInMinutes": 120.5}"#, (400, 900102)),
        (r#"{"expiresInMinutes": 1e300}"#, (400, 900102)),
        (r#"{"expiresInMinutes": 30.0}"#, (400, 900103)),
        (r#"{"expiresInMinutes": 1441}"#, (400, 900103)),
        (r#"{"scopes": []}"#, (400, 900102)),
    ] {
        let response = send(&server, Method::POST, &path, Some(body)).await;
        assert_eq!(refusal(response).await, expected, "{body}");
    }
}

/// A misspelt member silently ignored is a setting the client believes it made; every body
/// refuses members it does not know, and nothing is stored.
#[tokio::test]
async fn unknown_members_are_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let attempts = [
        ("/rooms", json!({ "validUntill": "2030-01-01T00:00:00Z" })),
        (
            "/rooms",
            json!({ "participants": [{ "identity": "a", "role": "Attendee", "muted": true }] }),
        ),
        (
            "/webhooks",
            json!({ "url": "http://127.0.0.1:9/hook", "event": ["CallEnded"] }),
        ),
        (
            "/federation/issuers",
            json!({ "issuer": "http://127.0.0.1:9/idp", "audience": "app", "userclaim": "email" }),
        ),
        ("/identities", json!({ "displayname": "Alice" })),
    ];
    for (path, body) in attempts {
        let response = send(&server, Method::POST, path, Some(&body.to_string())).await;
        assert_eq!(refusal(response).await, (400, 900102), "{path} {body}");
    }
    let (_, rooms) = server.get_json("/rooms").await;
    assert_eq!(rooms["rooms"], json!([]));
    let (_, hooks) = server.get_json("/webhooks").await;
    assert_eq!(hooks["subscriptions"], json!([]));
    let (_, issuers) = server.get_json("/federation/issuers").await;
    assert_eq!(issuers["issuers"], json!([]));
    let (_, identities) = server.get_json("/identities").await;
    assert_eq!(identities["identities"], json!([]));
}

/// Times are read as UTC: a local time or an offset used to be read as UTC or refused depending
/// on its form. Only `T` and `Z`/`+00:00` are taken, as the document's pattern says.
#[tokio::test]
async fn times_other_than_utc_are_refused() {
    let server = TestServer::start().await;
    for time in [
        "2030-01-01 00:00:00Z",
        "2030-01-01T00:00:00",
        "2030-01-01T00:00:00+02:00",
        "1969-12-31T23:59:59Z",
    ] {
        let body = json!({ "validUntil": time }).to_string();
        let response = send(&server, Method::POST, "/rooms", Some(&body)).await;
        assert_eq!(refusal(response).await, (400, 900102), "validUntil {time}");
        let query = format!(
            "/calls?since={}",
            time.replace('+', "%2B").replace(' ', "%20")
        );
        let response = send(&server, Method::GET, &query, None).await;
        assert_eq!(refusal(response).await, (400, 900102), "since {time}");
    }
    let (_, rooms) = server.get_json("/rooms").await;
    assert_eq!(rooms["rooms"], json!([]));
    for time in ["2030-01-01T00:00:00Z", "2030-01-01T00:00:00.5+00:00"] {
        let body = json!({ "validUntil": time }).to_string();
        let response = send(&server, Method::POST, "/rooms", Some(&body)).await;
        assert_eq!(response.status(), 201, "{time}");
    }
}

/// A URL parser drops tabs and line breaks, so `https://idp.example\r\n` was stored as written
/// and could never match a token's `iss`, and a webhook URL with a line break was stored as one
/// URL and called as another. Blanks and control characters are refused.
#[tokio::test]
async fn urls_with_blanks_are_refused() {
    let server = TestServer::start().await;
    for url in [
        "http://127.0.0.1:9/ho\r\nok",
        "http://127.0.0.1:9/\thook",
        " http://127.0.0.1:9/",
    ] {
        let body = json!({ "url": url }).to_string();
        let response = send(&server, Method::POST, "/webhooks", Some(&body)).await;
        assert_eq!(refusal(response).await, (400, 900102), "webhook {url:?}");
        let body = json!({ "issuer": url, "audience": "app" }).to_string();
        let response = send(&server, Method::POST, "/federation/issuers", Some(&body)).await;
        assert_eq!(refusal(response).await, (400, 900102), "issuer {url:?}");
    }
    let (_, hooks) = server.get_json("/webhooks").await;
    assert_eq!(hooks["subscriptions"], json!([]));
    let (_, issuers) = server.get_json("/federation/issuers").await;
    assert_eq!(issuers["issuers"], json!([]));
}

/// The document promised 1–1000 delivery attempts while the handler quietly clamped 0 or a
/// million; an out-of-range limit is now refused like every other list's.
#[tokio::test]
async fn a_delivery_limit_out_of_range_is_refused() {
    let server = TestServer::start().await;
    let body = json!({ "url": "http://127.0.0.1:9/hook" }).to_string();
    let response = send(&server, Method::POST, "/webhooks", Some(&body)).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.expect("json");
    let id = created["id"].as_str().expect("id");
    for limit in ["0", "1001", "4294967295", "-1", "ten"] {
        let path = format!("/webhooks/{id}/deliveries?limit={limit}");
        let response = send(&server, Method::GET, &path, None).await;
        assert_eq!(refusal(response).await, (400, 900102), "limit={limit}");
    }
    let path = format!("/webhooks/{id}/deliveries?limit=1000");
    assert_eq!(send(&server, Method::GET, &path, None).await.status(), 200);
    let path = format!("/webhooks/{id}/deliveries?lmit=5");
    let response = send(&server, Method::GET, &path, None).await;
    assert_eq!(
        refusal(response).await,
        (400, 900102),
        "an unknown parameter"
    );
}

/// Identity-list cursors: hexadecimal pairs, a dot, an id. A sign (`+f`) slipped through the
/// number parser; a cursor that does not decode as UTF-8 is still a position in the order.
#[tokio::test]
async fn identity_cursors_follow_their_pattern() {
    let server = TestServer::start().await;
    named_identity(&server, "Alice").await;
    for after in ["", "+f.x", "abc.x", "61.", "zz.x"] {
        let path = format!("/identities?after={after}");
        let response = send(&server, Method::GET, &path, None).await;
        assert_eq!(refusal(response).await, (400, 900102), "after={after:?}");
    }
    for after in ["ff.x", "61.x", ".x"] {
        let (status, page) = server.get_json(&format!("/identities?after={after}")).await;
        assert_eq!(status, 200, "after={after:?}: {page}");
    }
}

/// The length limit of a display name is on what is sent (the document's maxLength), not on what
/// is left after trimming; control characters are refused, white space around is trimmed.
#[tokio::test]
async fn display_names_are_checked_as_sent() {
    let server = TestServer::start().await;
    let id = server.create_identity().await;
    let path = format!("/identities/{id}");
    let padded = format!("  {}  ", "a".repeat(126));
    for (name, expected) in [
        (padded.as_str(), (400, 900117)),
        ("   ", (400, 900102)),
        ("Bo\u{0}b", (400, 900102)),
        ("Bo\u{85}b", (400, 900102)),
    ] {
        let body = json!({ "displayName": name }).to_string();
        let response = send(&server, Method::PATCH, &path, Some(&body)).await;
        assert_eq!(refusal(response).await, expected, "{name:?}");
    }
    let body = json!({ "displayName": "\t Bob \n" }).to_string();
    let response = send(&server, Method::PATCH, &path, Some(&body)).await;
    assert_eq!(response.status(), 200);
    let renamed: Value = response.json().await.expect("json");
    assert_eq!(renamed["displayName"], "Bob");
}

/// `/signaling` is a WebSocket upgrade: the document says so (the upgrade headers, 101, and the
/// 400 a plain request gets), and a plain request gets exactly that problem.
#[tokio::test]
async fn signaling_is_documented_as_a_websocket_upgrade() {
    let server = TestServer::start().await;
    let (_, document) = server.get_json("/openapi.json").await;
    let operation = &document["paths"]["/signaling"]["get"];
    let headers: Vec<&str> = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "header")
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        headers.contains(&"Upgrade") && headers.contains(&"Sec-WebSocket-Key"),
        "{headers:?}"
    );
    assert!(operation["responses"]["101"].is_object());
    assert!(operation["responses"]["400"]["description"]
        .as_str()
        .is_some_and(|d| d.contains("900102")));
    let response = send(&server, Method::GET, "/signaling", None).await;
    assert_eq!(refusal(response).await, (400, 900102));
}

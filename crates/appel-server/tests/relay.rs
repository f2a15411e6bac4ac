//! `GET /relay/credentials`: who gets media relay credentials, and whether the relay would accept
//! them (the password recomputed here from the shared secret, as coturn does).

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;
use support::{problem, TestServer};

const SECRET: &str = "relay-shared-secret";

async fn with_relay() -> TestServer {
    TestServer::start_with(|config| {
        config.relay.urls = vec![
            "turn:127.0.0.1:3478?transport=udp".into(),
            "turn:127.0.0.1:3478?transport=tcp".into(),
        ];
        config.relay.secret = Some(SECRET.into());
        config.relay.credential_lifetime = Duration::from_secs(600);
    })
    .await
}

fn relay_password(secret: &str, username: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn fetch(server: &TestServer, bearer: Option<&str>) -> (u16, Value) {
    let mut request = server.http.get(server.url("/relay/credentials"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("GET /relay/credentials");
    if response.status() == 200 {
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|v| v.as_bytes()),
            Some(&b"no-store"[..]),
            "credentials must not sit in a cache"
        );
        (200, response.json().await.expect("json"))
    } else {
        problem(response).await
    }
}

#[tokio::test]
async fn a_signed_in_user_gets_relay_credentials_the_relay_would_accept() {
    let server = with_relay().await;
    let identity = server.create_identity().await;
    let token = server.token(&identity).await;
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (status, body) = fetch(&server, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let entry = &body["iceServers"][0];
    assert_eq!(
        entry["urls"],
        serde_json::json!([
            "turn:127.0.0.1:3478?transport=udp",
            "turn:127.0.0.1:3478?transport=tcp"
        ])
    );
    let username = entry["username"].as_str().expect("username");
    let (expiry, who) = username.split_once(':').expect("<expiry>:<identity>");
    assert_eq!(who, identity);
    let expiry: u64 = expiry.parse().expect("unix time");
    assert!((before + 600..=before + 602).contains(&expiry), "{expiry}");
    assert_eq!(body["expiresAt"], expiry);
    assert_eq!(body["ttl"], 600);
    assert_eq!(entry["credential"], relay_password(SECRET, username));
    assert_ne!(
        entry["credential"],
        relay_password("another secret", username)
    );
}

#[tokio::test]
async fn relay_credentials_are_refused_without_a_valid_user_token() {
    let server = with_relay().await;
    let identity = server.create_identity().await;
    let token = server.token(&identity).await;
    let access_key = server.server.access_key().to_string();
    let forged = format!("{}x", &token[..token.len() - 1]);
    let expired = server.short_token(&identity, Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for (what, bearer) in [
        ("no Authorization header", None),
        ("an empty bearer", Some("")),
        (
            "the server's access key is no user token",
            Some(access_key.as_str()),
        ),
        ("a forged signature", Some(forged.as_str())),
        ("an expired token", Some(expired.as_str())),
    ] {
        let (status, body) = fetch(&server, bearer).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(
            (body["code"].as_u64(), body["subCode"].as_u64()),
            (Some(401), Some(10009)),
            "{what}"
        );
        assert!(body.get("iceServers").is_none(), "{what}");
    }
    // Revoking the identity's tokens stops its relay credentials too.
    server.revoke_tokens(&identity).await;
    let (status, _) = fetch(&server, Some(&token)).await;
    assert_eq!(status, 401, "a revoked token");
}

#[tokio::test]
async fn without_a_configured_relay_the_list_is_empty() {
    let server = TestServer::start().await;
    let identity = server.create_identity().await;
    let token = server.token(&identity).await;
    let (status, body) = fetch(&server, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["iceServers"], serde_json::json!([]));
    assert_eq!(body["ttl"], 0);
}

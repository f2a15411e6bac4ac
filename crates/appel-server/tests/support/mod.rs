//! A real server on a free loopback port with short timers, REST helpers, and a small signaling
//! client over tokio-tungstenite.
#![allow(dead_code)]

pub mod client;
pub mod media;
pub mod raw;

use std::path::Path;
use std::time::{Duration, SystemTime};

use appel_server::tokens::{TokenKeys, VOIP_SCOPE};
use appel_server::{Config, RunningServer, Server};
use serde_json::Value;

pub use client::Client;

/// Timers in tens of milliseconds, so each scenario ends quickly.
pub fn fast_config(data: &Path) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("loopback address"),
        data: data.to_path_buf(),
        access_key: Some("test-access-key".into()),
        ..Config::default()
    };
    config.timers.ringing = Duration::from_millis(400);
    config.timers.establishment = Duration::from_millis(300);
    config.timers.delivery_ack = Duration::from_millis(150);
    config.timers.abrupt_disconnect = Duration::from_millis(200);
    config.timers.push_wait = Duration::from_millis(250);
    config.signaling.heartbeat_interval = Duration::from_millis(250);
    config.records.flush_interval = Duration::from_millis(10);
    config
}

/// A running server and its data folder.
pub struct TestServer {
    pub server: RunningServer,
    pub data: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl TestServer {
    /// Starts a server with [`fast_config`] in a fresh data folder.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server with [`fast_config`] changed by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = fast_config(data.path());
        adjust(&mut config);
        let server = Server::start(config).await.expect("server starts");
        TestServer {
            server,
            data,
            http: reqwest::Client::new(),
        }
    }

    /// Stops this server and starts a new one on the same data folder.
    pub async fn restart(self) -> TestServer {
        let TestServer { server, data, http } = self;
        server.shutdown().await;
        let server = Server::start(fast_config(data.path()))
            .await
            .expect("server restarts");
        TestServer { server, data, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr())
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/signaling", self.server.addr())
    }

    pub fn keys(&self) -> TokenKeys {
        TokenKeys::from_access_key(self.server.access_key())
    }

    /// A request carrying the access key.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(self.server.access_key())
    }

    /// `POST /identities`.
    pub async fn create_identity(&self) -> String {
        let response = self
            .admin(reqwest::Method::POST, "/identities")
            .send()
            .await
            .expect("POST /identities");
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.expect("json");
        body["id"].as_str().expect("id").to_string()
    }

    /// `POST /identities/{id}/token` with the default lifetime.
    pub async fn token(&self, identity: &str) -> String {
        let response = self
            .admin(
                reqwest::Method::POST,
                &format!("/identities/{identity}/token"),
            )
            .json(&serde_json::json!({ "scopes": ["voip"] }))
            .send()
            .await
            .expect("POST token");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        body["token"].as_str().expect("token").to_string()
    }

    /// A token signed with the server's derived key that expires after `lifetime` (below the REST
    /// minimum, for the expiry scenarios), in generation 0: that of an identity never revoked.
    pub fn short_token(&self, identity: &str, lifetime: Duration) -> String {
        let now = SystemTime::now();
        self.keys()
            .issue(identity, &[VOIP_SCOPE.to_string()], 0, now, now + lifetime)
            .expect("issue")
            .token
    }

    /// A `voip` token for `identity`, valid for an hour, signed with the key derived from
    /// `other_key` instead of this server's access key.
    pub fn forged_token(&self, identity: &str, other_key: &str) -> String {
        let now = SystemTime::now();
        TokenKeys::from_access_key(other_key)
            .issue(
                identity,
                &[VOIP_SCOPE.to_string()],
                0,
                now,
                now + Duration::from_secs(3600),
            )
            .expect("issue")
            .token
    }

    /// `DELETE /identities/{identity}/tokens` with the access key; 204 expected.
    pub async fn revoke_tokens(&self, identity: &str) {
        let response = self
            .admin(
                reqwest::Method::DELETE,
                &format!("/identities/{identity}/tokens"),
            )
            .send()
            .await
            .expect("DELETE tokens");
        assert_eq!(response.status(), 204);
    }

    /// `GET path` without credentials.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    /// `GET /validate` with `token`: 200 and the claims, or the problem document.
    pub async fn validate(&self, token: &str) -> (u16, Value) {
        let response = self
            .http
            .get(self.url("/validate"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /validate");
        if response.status() == 200 {
            (200, response.json().await.expect("json"))
        } else {
            problem(response).await
        }
    }

    /// A new identity, signed in on one endpoint.
    pub async fn user(&self, endpoint: &str) -> (String, Client) {
        let identity = self.create_identity().await;
        let client = self.connect(&identity, endpoint).await;
        (identity, client)
    }

    /// Signs `identity` in on `endpoint` with a fresh token.
    pub async fn connect(&self, identity: &str, endpoint: &str) -> Client {
        let token = self.token(identity).await;
        Client::sign_in(&self.ws_url(), &token, endpoint, None)
            .await
            .expect("welcome")
    }

    /// `GET path` with the access key, as JSON, with the status.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self
            .admin(reqwest::Method::GET, path)
            .send()
            .await
            .expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json body"))
    }
}

/// Who took part in [`TestServer::declined_by_both`]'s call, and the call.
pub struct DeclinedGroupCall {
    pub alice: String,
    pub bob: String,
    pub carol: String,
    pub call: appel_protocol::CallId,
}

impl TestServer {
    /// Alice calls Bob and Carol, who both decline; Alice is told 0/5003 (every target declined).
    pub async fn declined_by_both(&self) -> DeclinedGroupCall {
        let (alice, mut alice1) = self.user("alice-1").await;
        let (bob, mut bob1) = self.user("bob-1").await;
        let (carol, mut carol1) = self.user("carol-1").await;
        let (call, _) = alice1.start_call(&[&bob, &carol]).await;
        bob1.incoming().await;
        carol1.incoming().await;
        bob1.reject(&call).await.expect("bob rejects");
        carol1.reject(&call).await.expect("carol rejects");
        client::assert_reason(
            alice1.call_ended(&call).await,
            &appel_codes::registry::ALL_TARGETS_DECLINED,
            "alice",
        );
        DeclinedGroupCall {
            alice,
            bob,
            carol,
            call,
        }
    }
}

/// The string `field` of each member of the array `list`, in order (members without it skipped).
pub fn strings(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .expect("an array")
        .iter()
        .filter_map(|member| member[field].as_str().map(String::from))
        .collect()
}

/// Base64url without padding (to forge tokens).
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The members every problem document has.
pub const PROBLEM_MEMBERS: [&str; 8] = [
    "type",
    "title",
    "status",
    "detail",
    "code",
    "subCode",
    "resultCategory",
    "name",
];

/// A problem document names this catalogue entry.
pub fn assert_entry(body: &Value, code: u16, sub_code: u32, name: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["subCode"], sub_code, "{body}");
    assert_eq!(body["name"], name, "{body}");
}

/// A problem document names this catalogue entry, in this result category.
pub fn assert_problem(body: &Value, code: u16, sub_code: u32, category: &str, name: &str) {
    assert_entry(body, code, sub_code, name);
    assert_eq!(body["resultCategory"], category, "{body}");
}

/// A problem document: its content type, every member the API promises, and a `status` equal to
/// the HTTP status.
pub async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json", "status {status}");
    let body: Value = response.json().await.expect("problem json");
    for member in PROBLEM_MEMBERS {
        assert!(body.get(member).is_some(), "problem lacks {member}: {body}");
    }
    assert_eq!(body["status"], status);
    (status, body)
}

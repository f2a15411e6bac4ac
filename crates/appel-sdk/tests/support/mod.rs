//! What the scenario tests share: a real server with short timers, REST helpers, SDK options with
//! short timeouts, a loopback TCP proxy that can be cut, and assertion helpers.
#![allow(dead_code)]

pub mod fake;
pub mod proxy;

use std::future::Future;
use std::path::Path;
use std::time::{Duration, SystemTime};

use appel_codes::{CallEndReason, CallingError, Entry};
use appel_sdk::{
    Call, CallAgent, CallAgentOptions, CallClient, CallClientOptions, CallEvent, CallState,
    IdentityId, IncomingCall, ReconnectPolicy, Timeouts, TokenCredential,
};
use appel_server::tokens::{TokenKeys, VOIP_SCOPE};
use appel_server::{Config, RunningServer, Server};
use futures_util::StreamExt;

#[allow(unused_imports)]
pub use proxy::Proxy;

/// The longest any single step of a scenario may take.
pub const STEP: Duration = Duration::from_secs(5);

/// Server timers in tens or hundreds of milliseconds.
pub fn fast_config(data: &Path) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("loopback address"),
        data: data.to_path_buf(),
        access_key: Some("sdk-test-access-key".into()),
        ..Config::default()
    };
    config.timers.ringing = Duration::from_millis(600);
    config.timers.establishment = Duration::from_millis(800);
    config.timers.delivery_ack = Duration::from_millis(300);
    config.timers.abrupt_disconnect = Duration::from_millis(300);
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
    /// A server with [`fast_config`].
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// A server with [`fast_config`] changed by `adjust`.
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

    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// `POST /identities` with the access key.
    pub async fn create_identity(&self) -> IdentityId {
        let response = self
            .http
            .post(format!("{}/identities", self.url()))
            .bearer_auth(self.server.access_key())
            .send()
            .await
            .expect("POST /identities");
        assert_eq!(response.status(), 201);
        let body: serde_json::Value = response.json().await.expect("json");
        IdentityId::from(body["id"].as_str().expect("id"))
    }

    /// `POST /identities/{id}/token` with the default lifetime.
    pub async fn token(&self, identity: &IdentityId) -> String {
        let response = self
            .http
            .post(format!("{}/identities/{identity}/token", self.url()))
            .bearer_auth(self.server.access_key())
            .json(&serde_json::json!({ "scopes": ["voip"] }))
            .send()
            .await
            .expect("POST token");
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.expect("json");
        body["token"].as_str().expect("token").to_string()
    }

    /// A token signed with the server's key that lives only `lifetime` (below the REST minimum), in
    /// generation 0: that of an identity never revoked.
    pub fn short_token(&self, identity: &IdentityId, lifetime: Duration) -> String {
        let now = SystemTime::now();
        TokenKeys::from_access_key(self.server.access_key())
            .issue(
                identity.as_str(),
                &[VOIP_SCOPE.to_string()],
                0,
                now,
                now + lifetime,
            )
            .expect("issue")
            .token
    }

    /// A new identity signed in on one endpoint, in its own client.
    pub async fn agent(&self) -> (IdentityId, CallAgent) {
        let identity = self.create_identity().await;
        let agent = self.endpoint(&identity, &self.url()).await;
        (identity, agent)
    }

    /// Another endpoint of `identity` (its own client, as on another device), through `url`.
    pub async fn endpoint(&self, identity: &IdentityId, url: &str) -> CallAgent {
        let credential = TokenCredential::new(self.token(identity).await);
        CallClient::new(CallClientOptions::default())
            .create_call_agent(credential, options(url))
            .await
            .expect("agent created")
    }
}

/// SDK options with short timeouts.
pub fn options(url: &str) -> CallAgentOptions {
    let mut options = CallAgentOptions::new(url);
    options.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        registration: Duration::from_secs(1),
        creation_step: Duration::from_secs(1),
        call_establishment: Duration::from_secs(2),
        hold: Duration::from_millis(300),
        request: Duration::from_secs(2),
        token_fetch: Duration::from_secs(1),
    };
    options.reconnect = ReconnectPolicy {
        grace: Duration::from_secs(2),
        initial_backoff: Duration::from_millis(30),
        max_backoff: Duration::from_millis(150),
    };
    options
}

/// `future`, or a panic naming `what` after [`STEP`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// The next incoming call of `agent`.
pub async fn next_incoming(agent: &CallAgent) -> IncomingCall {
    within("an incoming call", agent.incoming_calls().next())
        .await
        .expect("incoming stream open")
}

/// Waits until `call` reaches `state`.
pub async fn reach(call: &Call, state: CallState) {
    let mut events = call.events();
    within(&format!("state {state:?}"), async {
        while let Some(event) = events.next().await {
            if event == CallEvent::StateChanged(state) {
                return;
            }
        }
        panic!("the call ended before {state:?}: {:?}", call.end_reason());
    })
    .await
}

/// The end reason of `call`, waiting for it.
pub async fn end_of(call: &Call) -> CallEndReason {
    within("the call's end", call.ended()).await
}

/// The reason `incoming` stopped ringing, waiting for it.
pub async fn stop_of(incoming: &IncomingCall) -> CallEndReason {
    within("the incoming call to stop", incoming.stopped()).await
}

/// `reason` is exactly `entry`: code, subCode and category.
#[track_caller]
pub fn assert_reason(reason: CallEndReason, entry: &'static Entry) {
    assert_eq!(reason, CallEndReason::of(entry), "expected {}", entry.name);
    assert_eq!(
        reason.category(),
        entry.category,
        "category of {}",
        entry.name
    );
    assert_eq!(reason.entry().name, entry.name);
}

/// `error` is exactly `entry`: code, subCode and category.
#[track_caller]
pub fn assert_error<T: std::fmt::Debug>(
    result: Result<T, CallingError>,
    entry: &'static Entry,
) -> CallingError {
    let error = result.expect_err(&format!("expected {}", entry.name));
    assert_eq!(error.code(), entry.code, "code of {error}");
    assert_eq!(error.subcode(), entry.subcode, "subCode of {error}");
    assert_eq!(error.category(), entry.category, "category of {error}");
    assert_eq!(error.name(), entry.name);
    error
}

/// The end reason a remote participant of `call` left with, waiting for it.
pub async fn departure(call: &Call, identity: &IdentityId) -> CallEndReason {
    let mut events = call.events();
    within("a participant to leave", async {
        while let Some(event) = events.next().await {
            if let CallEvent::RemoteParticipantsUpdated { removed, .. } = event {
                if let Some(gone) = removed.iter().find(|p| &p.identity == identity) {
                    return gone.end_reason.expect("a removed participant has a reason");
                }
            }
        }
        panic!(
            "the call ended before {identity} left: {:?}",
            call.remote_participants()
        );
    })
    .await
}

/// A connected 1:1 call: `caller` calls `callee`, which accepts.
pub async fn connected_call(caller: &CallAgent, callee: &CallAgent) -> (Call, Call) {
    let outgoing = caller
        .start_call(&[callee.identity().clone()], Default::default())
        .expect("call starts");
    let incoming = next_incoming(callee).await;
    let accepted = within("accept", incoming.accept(Default::default()))
        .await
        .expect("accept");
    reach(&outgoing, CallState::Connected).await;
    reach(&accepted, CallState::Connected).await;
    (outgoing, accepted)
}

//! The entry point: a client creates call agents, at most one per identity at a time.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use appel_codes::{registry, CallingError};
use appel_protocol::{
    parse_server_frame, ClientFrame, EndpointId, PushRegistration, ServerFrame, PROTOCOL_VERSION,
};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::agent::{AgentShared, CallAgent};
use crate::credential::{FetchUse, TokenCredential};
use crate::federated::FederatedCallAgent;
use crate::jwt;
use crate::link::AgentLink;
use crate::options::{CallAgentOptions, CallClientOptions};
use crate::session::{Session, SessionStart};
use crate::transport::{self, Socket};

/// The identities that have a live agent in one client.
type Identities = Arc<Mutex<HashSet<String>>>;

/// An identity's place in its client; freed when the agent stops.
pub(crate) struct Registration {
    identities: Identities,
    identity: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut identities) = self.identities.lock() {
            identities.remove(&self.identity);
        }
    }
}

/// Creates call agents. One client holds at most one agent per identity (40228 otherwise); the
/// identity is free again once its agent is disposed.
#[derive(Clone, Debug, Default)]
pub struct CallClient {
    identities: Identities,
    _options: CallClientOptions,
    /// The devices its agents' calls use.
    #[cfg(feature = "media")]
    devices: crate::DeviceManager,
}

impl CallClient {
    /// A client with `options`.
    pub fn new(options: CallClientOptions) -> Self {
        CallClient {
            identities: Arc::default(),
            _options: options,
            #[cfg(feature = "media")]
            devices: crate::DeviceManager::new(),
        }
    }

    /// The devices (microphones, cameras) the calls of this client's agents use.
    #[cfg(feature = "media")]
    pub fn device_manager(&self) -> crate::DeviceManager {
        self.devices.clone()
    }

    /// Signs `credential`'s identity in at `options.server_url` and returns its agent.
    ///
    /// Errors: 40114 when the server cannot be reached; 40115 when it answers but refuses the
    /// WebSocket upgrade or does not answer `hello` with a well-formed `welcome`; the server's own
    /// error when it refuses the handshake with one (401/10009 for a missing, forged, expired or
    /// revoked token; 426/900004 for a protocol version it does not speak); 40101 when `welcome`
    /// does not come in time; 40104 when a later step (fetching the first token, confirming a
    /// token refreshed during creation) times out; 40228 when this client already has an agent for
    /// the identity; 40216 for an unexpected internal failure.
    pub async fn create_call_agent(
        &self,
        credential: TokenCredential,
        options: CallAgentOptions,
    ) -> Result<CallAgent, CallingError> {
        self.create_agent(credential, options, Kind::Native).await
    }

    /// Signs in a user of an identity provider the server trusts (docs/identities.md) with a
    /// token that provider issued, and returns its agent. The agent's identity is
    /// `federated:<issuer>:<subject>` ([`federated_identity`](crate::federated_identity)).
    ///
    /// Errors: those of [`CallClient::create_call_agent`] (401/10009 when the server does not
    /// trust the provider or the token fails its checks), except that a second agent for the same
    /// federated identity in this client is 40230; 400/900900 when the token is not one of an
    /// identity provider (it names no issuer).
    pub async fn create_federated_call_agent(
        &self,
        credential: TokenCredential,
        options: CallAgentOptions,
    ) -> Result<FederatedCallAgent, CallingError> {
        let agent = self
            .create_agent(credential, options, Kind::Federated)
            .await?;
        FederatedCallAgent::new(agent)
    }

    async fn create_agent(
        &self,
        credential: TokenCredential,
        options: CallAgentOptions,
        kind: Kind,
    ) -> Result<CallAgent, CallingError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(CallingError::new(&registry::CALL_AGENT_INTERNAL_FAILURE)
                .with_context(kind.entry_point())
                .with_raw_cause("not running inside a Tokio runtime"));
        }
        let url = transport::signaling_url(&options.server_url)?;
        let timeouts = options.timeouts.clone();
        let token = credential.current_or_fetch(timeouts.token_fetch).await?;
        let claims = jwt::claims(&token);
        if kind == Kind::Federated && claims.issuer.is_none() {
            return Err(CallingError::new(&registry::INVALID_ARGUMENT).with_context(
                "create_federated_call_agent: the token names no issuer (iss); an Appel token goes to create_call_agent",
            ));
        }
        if let Some(identity) = claims.identity {
            self.check_free(&identity, kind)?;
        }
        let endpoint_id = EndpointId::new(
            options
                .endpoint_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        );
        let mut socket = transport::connect(&url, timeouts.connect).await?;
        let hello = ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            token: token.clone(),
            endpoint_id: endpoint_id.clone(),
            push: options.push_url.clone().map(|url| PushRegistration { url }),
            resume: false,
        };
        let welcome = transport::handshake(&mut socket, hello, timeouts.registration).await?;
        let registration = match self.register(welcome.identity.as_str(), kind) {
            Ok(registration) => registration,
            Err(error) => {
                let _ = tokio::time::timeout(Duration::from_millis(500), socket.close(None)).await;
                return Err(error);
            }
        };
        if let Err(error) =
            refresh_if_due(&mut socket, &credential, welcome.token_expires_at, &options).await
        {
            let _ = tokio::time::timeout(Duration::from_millis(500), socket.close(None)).await;
            return Err(error);
        }
        let shared = AgentShared::new(
            welcome.identity.clone(),
            endpoint_id,
            options,
            credential.clone(),
        );
        #[cfg(feature = "media")]
        let _ = shared.devices.set(self.devices.clone());
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let disposed = Arc::new(AtomicBool::new(false));
        let link = AgentLink::new(commands_tx, disposed.clone());
        let (finished_tx, finished) = oneshot::channel();
        let (started_tx, started) = oneshot::channel();
        let token = credential.token().unwrap_or(token);
        let session = Session::new(
            SessionStart {
                shared: shared.clone(),
                credential,
                url,
                commands,
                token,
                welcome,
                disposed,
                registration,
                finished: finished_tx,
                started: started_tx,
            },
            socket,
        );
        let task = tokio::spawn(session.run());
        if started.await.is_err() {
            // The task is gone before it ran: it panicked or its runtime is shutting down. Its
            // session (socket, identity registration) was dropped with it.
            return Err(task_gone(task.await));
        }
        Ok(CallAgent::new(shared, link, finished))
    }

    fn check_free(&self, identity: &str, kind: Kind) -> Result<(), CallingError> {
        let identities = self
            .identities
            .lock()
            .map_err(|_| internal("the client's identity list"))?;
        if identities.contains(identity) {
            return Err(already_exists(identity, kind));
        }
        Ok(())
    }

    fn register(&self, identity: &str, kind: Kind) -> Result<Registration, CallingError> {
        let mut identities = self
            .identities
            .lock()
            .map_err(|_| internal("the client's identity list"))?;
        if !identities.insert(identity.to_string()) {
            return Err(already_exists(identity, kind));
        }
        Ok(Registration {
            identities: self.identities.clone(),
            identity: identity.to_string(),
        })
    }
}

/// Which entry point creates the agent: each names its own duplicate (40228, 40230).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Native,
    Federated,
}

impl Kind {
    fn entry_point(self) -> &'static str {
        match self {
            Kind::Native => "create_call_agent",
            Kind::Federated => "create_federated_call_agent",
        }
    }
}

fn already_exists(identity: &str, kind: Kind) -> CallingError {
    let entry = match kind {
        Kind::Native => &registry::CALL_AGENT_ALREADY_EXISTS,
        Kind::Federated => &registry::FEDERATED_CALL_AGENT_ALREADY_EXISTS,
    };
    CallingError::new(entry).with_context(format!("identity {identity}"))
}

/// 40216 for a session task that ended before it started, with what the task's end says.
fn task_gone(end: Result<(), tokio::task::JoinError>) -> CallingError {
    let cause = match end {
        Ok(()) => "the agent's session task returned before it started".to_string(),
        Err(error) if error.is_panic() => {
            let payload = error.into_panic();
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "no message".to_string());
            format!("the agent's session task panicked while starting: {message}")
        }
        Err(error) => format!("the agent's session task was cancelled while starting: {error}"),
    };
    internal("create_call_agent").with_raw_cause(cause)
}

fn internal(what: &str) -> CallingError {
    CallingError::new(&registry::CALL_AGENT_INTERNAL_FAILURE).with_context(what.to_string())
}

/// The creation step after `welcome`: a token that a proactive credential would already refresh
/// is refreshed before the agent is handed out, so it never starts on a token about to lapse.
/// A fetch or a confirmation that does not come within the step timeout is 40104.
async fn refresh_if_due(
    socket: &mut Socket,
    credential: &TokenCredential,
    server_expiry: SystemTime,
    options: &CallAgentOptions,
) -> Result<(), CallingError> {
    if !credential.proactive() {
        return Ok(());
    }
    let expires_at = credential.expires_at().unwrap_or(server_expiry);
    let left = expires_at
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    if left > credential.lead() {
        return Ok(());
    }
    let step = options.timeouts.creation_step;
    let deadline = tokio::time::Instant::now() + step;
    let timed_out = |what: &str| {
        CallingError::new(&registry::CALL_AGENT_CREATION_STEP_TIMEOUT)
            .with_context("refreshing the token during creation")
            .with_raw_cause(format!("{what} within {step:?}"))
    };
    let token =
        match tokio::time::timeout_at(deadline, credential.fetch(step, FetchUse::Creation)).await {
            Err(_) => return Err(timed_out("no token")),
            Ok(result) => result?,
        };
    const REQUEST_ID: u64 = 0;
    socket
        .send(Message::text(
            ClientFrame::RefreshToken {
                request_id: REQUEST_ID,
                token,
            }
            .to_json(),
        ))
        .await
        .map_err(|e| timed_out("no confirmation").with_raw_cause(e.to_string()))?;
    loop {
        let message = match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return Err(timed_out("no confirmation")),
            Ok(None) | Ok(Some(Err(_))) => {
                return Err(CallingError::new(&registry::SIGNALING_HANDSHAKE_FAILED)
                    .with_context("refreshing the token during creation")
                    .with_raw_cause("the server closed the connection"))
            }
            Ok(Some(Ok(message))) => message,
        };
        let Message::Text(text) = message else {
            continue;
        };
        match parse_server_frame(text.as_str()) {
            Ok(ServerFrame::Ack {
                request_id: REQUEST_ID,
            }) => return Ok(()),
            Ok(ServerFrame::Error {
                request_id: Some(REQUEST_ID) | None,
                error,
                ..
            }) => return Err(error),
            Ok(ServerFrame::Ping) => {
                let _ = socket
                    .send(Message::text(ClientFrame::Pong.to_json()))
                    .await;
            }
            // Nothing else can concern an agent nobody holds yet.
            _ => {}
        }
    }
}

//! The options an application passes to the SDK, with the defaults of docs/protocol.md, "Timers".

use std::time::Duration;

/// Options of a [`crate::CallClient`]. Empty today; kept so options can be added without breaking
/// callers.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct CallClientOptions {}

impl CallClientOptions {
    /// The default options.
    pub fn new() -> Self {
        Self::default()
    }
}

/// How long each step and operation may take before it fails with its catalogue entry. Every
/// operation of the SDK is bounded by one of these, so none can hang.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the TCP connection and the WebSocket upgrade (40114 when it runs out).
    pub connect: Duration,
    /// Waiting for `welcome` after `hello` (40101).
    pub registration: Duration,
    /// Each later creation step, such as confirming a token refreshed during creation (40104).
    pub creation_step: Duration,
    /// Waiting for the server to confirm a started call with `callCreated` (the call ends with
    /// 408/4506). docs/protocol.md, "Timers": 85 s.
    pub call_establishment: Duration,
    /// Waiting for the server to confirm hold (41033) or resume (41034).
    pub hold: Duration,
    /// Waiting for the server to answer accept, reject, hang-up or a token refresh (900401).
    pub request: Duration,
    /// Waiting for the application's token refresher.
    pub token_fetch: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            registration: Duration::from_secs(10),
            creation_step: Duration::from_secs(10),
            call_establishment: Duration::from_secs(85),
            hold: Duration::from_secs(10),
            request: Duration::from_secs(10),
            token_fetch: Duration::from_secs(30),
        }
    }
}

/// How the agent comes back after its signaling connection drops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// How long calls survive without a connection; when it runs out they end with 496/7.
    /// docs/protocol.md, "Timers": 120 s.
    pub grace: Duration,
    /// Delay before the first new attempt; doubled after each failure.
    pub initial_backoff: Duration,
    /// Longest delay between two attempts.
    pub max_backoff: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            grace: Duration::from_secs(120),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Options of [`crate::CallClient::create_call_agent`].
#[derive(Clone, Debug)]
pub struct CallAgentOptions {
    /// The server, as `http://host:port`, `https://…`, `ws://…` or `wss://…`. An http(s) URL or a
    /// ws(s) URL without a path gets the signaling path `/signaling`.
    pub server_url: String,
    /// This device's id, kept across reconnects so calls resume; a random one when `None`.
    pub endpoint_id: Option<String>,
    /// The name shown to others (kept locally; the protocol does not carry it yet).
    pub display_name: Option<String>,
    /// Where the server posts push notices for this identity while no endpoint is connected.
    pub push_url: Option<String>,
    /// When `true`, the application signals itself (with [`crate::Call::media_ready`]) that its
    /// media is connected; by default the agent does it as soon as a call is accepted or answered.
    pub manual_media_ready: bool,
    /// Step and operation timeouts.
    pub timeouts: Timeouts,
    /// Reconnection after a dropped connection.
    pub reconnect: ReconnectPolicy,
    /// Whether calls use the server's media relay (TURN); off by default. docs/relay.md.
    pub relay: RelayMode,
}

/// Whether a call fetches the server's media relay (TURN) credentials before its media starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RelayMode {
    /// No relay: the media uses direct paths only, and nothing is fetched.
    #[default]
    Off,
    /// Fetch the credentials (`GET /relay/credentials`) when a call starts or is accepted, and
    /// offer relayed paths besides direct ones ([`crate::Call::relay_credentials`]). A failed
    /// fetch ends the call attempt with 490/4502.
    Use,
    /// As `Use`, and the media may only go through the relay: a server with no relay ends the
    /// call at once with 410/3112, as would a relay that cannot be reached.
    Only,
}

impl CallAgentOptions {
    /// Options for the server at `server_url`, with every other setting at its default.
    pub fn new(server_url: impl Into<String>) -> Self {
        CallAgentOptions {
            server_url: server_url.into(),
            endpoint_id: None,
            display_name: None,
            push_url: None,
            manual_media_ready: false,
            timeouts: Timeouts::default(),
            reconnect: ReconnectPolicy::default(),
            relay: RelayMode::Off,
        }
    }
}

/// Options of [`crate::CallAgent::start_call`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StartCallOptions {
    /// Start with video.
    pub video: bool,
    /// Start a group call that anyone who has its id may join with
    /// [`crate::CallAgent::join_call`]; it may have no target. Otherwise only the targets and the
    /// identities added later may join it by id (default false).
    pub joinable: bool,
}

/// Options of [`crate::IncomingCall::accept`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AcceptOptions {
    /// Answer with video.
    pub video: bool,
}

/// Options of [`crate::Call::hang_up`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HangUpOptions {
    /// End the call for every participant (they see 0/4097).
    pub for_everyone: bool,
}

/// Options of [`crate::CallAgent::join_call`] and [`crate::CallAgent::join_room`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JoinCallOptions {
    /// Join with video (refused in a room for a Consumer).
    pub video: bool,
}

/// What this agent sends in a call, declared with [`crate::Call::set_media_state`] before it starts
/// sending. In a room, the server refuses what the participant's role does not allow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MediaState {
    /// The microphone is on.
    pub audio: bool,
    /// The camera is on.
    pub video: bool,
    /// The screen is shared.
    pub screen_share: bool,
}

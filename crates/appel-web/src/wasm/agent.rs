//! `CallClient` and `CallAgent`: the browser shell over the client's protocol core
//! (`appel-client`, docs/architecture.md, "The client core"). The core decides which frame answers
//! which request, when a request or a call setup times out, when to reconnect and when the
//! reconnect grace ends; this shell owns the page's WebSocket, one `setTimeout` and the JavaScript
//! objects, feeds the core what happened with the time, and carries out what it asks.
//!
//! JavaScript handlers run inside the shell's callbacks and may call back into the SDK (a hang-up
//! from an `ended` handler), so no `RefCell` borrow is ever held while one runs: outputs are taken
//! from the core one at a time, the borrow dropped, then carried out, and a nested call leaves the
//! outputs it causes to the loop already running so they go out in the core's order.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::{Rc, Weak};
use std::time::Duration;

use appel_client::{
    no_answer, CallRef, Config, ConnectionState, Core, Event, Instant, Now, Output,
    ReconnectPolicy, TokenPolicy, Welcome,
};
use appel_codes::{registry, CallingError, Entry};
use appel_protocol::{
    parse_server_frame, CallId, ClientFrame, EndpointId, ServerFrame, PROTOCOL_VERSION,
};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, WebSocket};

use super::call::{Call, CallInner, IncomingCall, IncomingInner};
use super::devices::DeviceManager;
use super::js::{self, Emitter};
use crate::views::ViewBudget;

/// How long an unanswered request waits before it fails, by default.
const DEFAULT_REQUEST_TIMEOUT_MS: i32 = 10_000;
/// How long a started call may wait for the server to name it (docs/protocol.md, "Timers").
const DEFAULT_CALL_ESTABLISHMENT_MS: f64 = 85_000.0;
/// How long the page's token refresher may take.
const DEFAULT_TOKEN_FETCH_MS: f64 = 30_000.0;
/// How long before expiry a proactive refresh happens by default.
const DEFAULT_REFRESH_LEAD_MS: f64 = 600_000.0;
/// Share of each reconnect wait taken off at random, as in the native SDK.
const RECONNECT_JITTER: f64 = 0.2;

/// What every agent of one client shares: who is signed in, and the remote view budget.
pub(crate) struct ClientShared {
    identities: RefCell<HashSet<String>>,
    pub(crate) views: RefCell<ViewBudget>,
    /// How long a camera or microphone request may wait for its prompt (`mediaRequestTimeoutMs`).
    pub(crate) media_timeout_ms: u32,
}

/// The entry point of the SDK: creates call agents and gives access to devices.
#[wasm_bindgen]
pub struct CallClient {
    shared: Rc<ClientShared>,
}

#[wasm_bindgen]
impl CallClient {
    /// A client for a desktop browser (`{mobile: true}` lowers the remote view limit to 6;
    /// `mediaRequestTimeoutMs`, default 30000, bounds the wait for a camera or microphone prompt).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "CallClientOptions | undefined")] options: JsValue,
    ) -> CallClient {
        let mobile = js::member(&options, "mobile").as_bool().unwrap_or(false);
        CallClient {
            shared: Rc::new(ClientShared {
                identities: RefCell::new(HashSet::new()),
                views: RefCell::new(ViewBudget::new(mobile)),
                media_timeout_ms: super::devices::media_timeout_option(&options),
            }),
        }
    }

    /// Signs an identity in: `options` = `{serverUrl, endpointId?, requestTimeoutMs?,
    /// iceTransportPolicy?, allowedCandidateAddresses?, reconnect?: {graceMs?, initialBackoffMs?,
    /// maxBackoffMs?}, tokenRefresher?, refreshProactively?, refreshLeadMs?, tokenFetchTimeoutMs?,
    /// callEstablishmentMs?, useRelay?, mediaRecoveryMs?}` (the relay options: docs/relay.md).
    /// Resolves to a `CallAgent`; rejects with 40114 (unreachable), 40115 (handshake refused),
    /// 40101 (no welcome in time), 40228 (this client already has an agent for the identity),
    /// 400/900900 (an option of the wrong kind) or the server's own refusal (401/10009…).
    #[wasm_bindgen(js_name = createCallAgent, unchecked_return_type = "Promise<CallAgent>")]
    pub fn create_call_agent(
        &self,
        token: String,
        #[wasm_bindgen(unchecked_param_type = "CallAgentOptions")] options: JsValue,
    ) -> Promise {
        let (promise, resolve, reject) = js::deferred();
        let handshake = Handshake { resolve, reject };
        if let Err((error, handshake)) =
            AgentInner::connect(self.shared.clone(), token, &options, handshake, false)
        {
            let _ = handshake
                .reject
                .call1(&JsValue::UNDEFINED, &js::error_js(&error));
        }
        promise
    }

    /// Signs in a user of an identity provider the server trusts (docs/identities.md) with a
    /// token that provider issued; `options` as for `createCallAgent`. Resolves to a `CallAgent`
    /// whose `identity` is `federated:<issuer>:<subject>` and whose `issuer` and `subject` say
    /// them; rejects as `createCallAgent` does, except that a second agent for the same federated
    /// identity in this client is 409/40230, and a token the server signs in as a native
    /// identity is 400/900900. Its provider's policy may refuse calls (412/41056) and rooms
    /// (403/5830).
    #[wasm_bindgen(js_name = createFederatedCallAgent, unchecked_return_type = "Promise<CallAgent>")]
    pub fn create_federated_call_agent(
        &self,
        token: String,
        #[wasm_bindgen(unchecked_param_type = "CallAgentOptions")] options: JsValue,
    ) -> Promise {
        let (promise, resolve, reject) = js::deferred();
        let handshake = Handshake { resolve, reject };
        if let Err((error, handshake)) =
            AgentInner::connect(self.shared.clone(), token, &options, handshake, true)
        {
            let _ = handshake
                .reject
                .call1(&JsValue::UNDEFINED, &js::error_js(&error));
        }
        promise
    }

    /// The device manager (cameras, microphones, permissions).
    #[wasm_bindgen(js_name = getDeviceManager)]
    pub fn get_device_manager(&self) -> DeviceManager {
        DeviceManager::new(self.shared.clone())
    }

    /// Remote views rendering now, across every call of this client.
    #[wasm_bindgen(getter, js_name = activeRemoteViews)]
    pub fn active_remote_views(&self) -> usize {
        self.shared.views.borrow().active()
    }
}

/// Options of an agent, read once from the JavaScript object.
pub(crate) struct AgentOptions {
    pub request_timeout_ms: i32,
    pub relay_only: bool,
    pub allowed_addresses: Vec<String>,
    /// Relay credentials and media timers (`useRelay`, `mediaRecoveryMs`).
    pub network: super::network::NetworkOptions,
}

/// The options that shape the signaling session (the native SDK's `reconnect`, `timeouts` and
/// token credential).
struct SessionOptions {
    reconnect: ReconnectPolicy,
    call_establishment: Duration,
    token_fetch: Duration,
    refresher: Option<Function>,
    refresh_proactively: bool,
    refresh_lead: Duration,
}

/// The `createCallAgent` promise, until the first `welcome` or failure.
struct Handshake {
    resolve: Function,
    reject: Function,
}

/// A promise waiting for the answer to a request of the core.
struct Reply {
    resolve: Function,
    reject: Function,
    entry: &'static Entry,
    operation: &'static str,
    timeout: Duration,
}

/// The WebSocket in use: signed in once its `welcome` came.
struct Socket {
    ws: WebSocket,
    generation: u64,
    welcomed: bool,
    /// The token its `hello` carried.
    token: String,
}

pub(crate) struct AgentInner {
    client: Rc<ClientShared>,
    pub(crate) options: AgentOptions,
    session: SessionOptions,
    url: String,
    endpoint_id: EndpointId,
    identity: RefCell<Option<String>>,
    /// Created by the first `welcome`.
    core: RefCell<Option<Core>>,
    socket: RefCell<Option<Socket>>,
    /// Numbers the sockets, so the events of a replaced one are ignored.
    generation: Cell<u64>,
    /// The `setTimeout` handle and the instant it is set for.
    timer: Cell<Option<(i32, Instant)>>,
    pumping: Cell<bool>,
    stopped: Cell<bool>,
    connection: Cell<ConnectionState>,
    calls: RefCell<HashMap<CallRef, Rc<CallInner>>>,
    incoming: RefCell<HashMap<String, Rc<IncomingInner>>>,
    replies: RefCell<HashMap<u64, Reply>>,
    emitter: Emitter,
    handshake: RefCell<Option<Handshake>>,
    self_ref: RefCell<Weak<AgentInner>>,
    /// Whether the server lets this agent send custom media streams (from the welcome).
    pub(crate) custom_streams: Cell<bool>,
    /// Whether the server takes `mediaView` (its welcome said `mediaViews: true`): group calls
    /// then send layered video and views say their size (wasm/views.rs).
    pub(crate) media_views: Cell<bool>,
    /// Created by `createFederatedCallAgent`: its duplicate is 40230, and its identity must be
    /// a federated one.
    federated: bool,
}

fn signaling_url(server_url: &str) -> Option<String> {
    let (scheme, rest) = server_url.split_once("://")?;
    let scheme = match scheme {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return None,
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        return None;
    }
    let path = if rest.contains('/') { "" } else { "/signaling" };
    Some(format!("{scheme}://{rest}{path}"))
}

fn random_bytes() -> [u8; 8] {
    let mut bytes = [0u8; 8];
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    bytes
}

fn random_endpoint_id() -> String {
    let hex: String = random_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("web-{hex}")
}

/// The core's time: `performance.now()` for every timer, `Date.now()` for token expiry.
fn now() -> Now {
    let monotonic = web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or(0.0);
    Now {
        at: Instant::from_millis(monotonic.max(0.0) as u64),
        unix_ms: js_sys::Date::now().max(0.0) as u64,
    }
}

/// A duration option in milliseconds: its default when absent, 400/900900 when not a
/// non-negative number.
fn millis(options: &JsValue, path: &str, default: f64) -> Result<Duration, CallingError> {
    let mut value = options.clone();
    for name in path.split('.') {
        value = js::member(&value, name);
    }
    if value.is_undefined() || value.is_null() {
        return Ok(Duration::from_millis(default as u64));
    }
    match value.as_f64() {
        Some(ms) if ms.is_finite() && ms >= 0.0 => Ok(Duration::from_millis(ms as u64)),
        _ => Err(CallingError::new(&registry::INVALID_ARGUMENT)
            .with_context(format!("{path}: a number of milliseconds, 0 or more"))),
    }
}

fn session_options(options: &JsValue) -> Result<SessionOptions, CallingError> {
    let defaults = ReconnectPolicy::default();
    let reconnect = ReconnectPolicy {
        grace: millis(
            options,
            "reconnect.graceMs",
            defaults.grace.as_millis() as f64,
        )?,
        initial_backoff: millis(
            options,
            "reconnect.initialBackoffMs",
            defaults.initial_backoff.as_millis() as f64,
        )?,
        max_backoff: millis(
            options,
            "reconnect.maxBackoffMs",
            defaults.max_backoff.as_millis() as f64,
        )?,
        jitter: RECONNECT_JITTER,
    };
    let refresher = js::member(options, "tokenRefresher");
    let refresher = if refresher.is_undefined() || refresher.is_null() {
        None
    } else {
        Some(refresher.dyn_into::<Function>().map_err(|_| {
            CallingError::new(&registry::INVALID_ARGUMENT)
                .with_context("tokenRefresher: a function answering a promise of a token")
        })?)
    };
    Ok(SessionOptions {
        reconnect,
        call_establishment: millis(
            options,
            "callEstablishmentMs",
            DEFAULT_CALL_ESTABLISHMENT_MS,
        )?,
        token_fetch: millis(options, "tokenFetchTimeoutMs", DEFAULT_TOKEN_FETCH_MS)?,
        refresher,
        refresh_proactively: js::member(options, "refreshProactively")
            .as_bool()
            .unwrap_or(false),
        refresh_lead: millis(options, "refreshLeadMs", DEFAULT_REFRESH_LEAD_MS)?,
    })
}

/// When a token says it expires (its `exp` claim, read without checking the signature: the
/// server does that), in Unix milliseconds.
fn token_expiry_ms(token: &str) -> Option<u64> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let mut base64: String = payload
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    while base64.len() % 4 != 0 {
        base64.push('=');
    }
    let text = web_sys::window()?.atob(&base64).ok()?;
    let claims: serde_json::Value = serde_json::from_str(&text).ok()?;
    let exp = claims.get("exp")?.as_f64()?;
    (0.0..1e12).contains(&exp).then_some((exp * 1000.0) as u64)
}

/// What a rejected promise or thrown value says, for a raw cause.
fn thrown_text(value: &JsValue) -> String {
    value
        .as_string()
        .or_else(|| js::member(value, "message").as_string())
        .unwrap_or_else(|| js::from_js(value).to_string())
}

fn state_name(state: ConnectionState) -> &'static str {
    match state {
        ConnectionState::Connected => "Connected",
        ConnectionState::Reconnecting => "Reconnecting",
        ConnectionState::Disconnected => "Disconnected",
    }
}

impl AgentInner {
    fn connect(
        client: Rc<ClientShared>,
        token: String,
        options: &JsValue,
        handshake: Handshake,
        federated: bool,
    ) -> Result<(), (CallingError, Handshake)> {
        let server_url = js::member(options, "serverUrl")
            .as_string()
            .unwrap_or_default();
        let Some(url) = signaling_url(&server_url) else {
            return Err((
                CallingError::new(&registry::INVALID_ARGUMENT)
                    .with_context("serverUrl: http(s)://host:port or ws(s)://host:port/path"),
                handshake,
            ));
        };
        let session = match session_options(options) {
            Ok(session) => session,
            Err(error) => return Err((error, handshake)),
        };
        let endpoint_id = js::member(options, "endpointId")
            .as_string()
            .unwrap_or_else(random_endpoint_id);
        let allowed_addresses = js::member(options, "allowedCandidateAddresses");
        let allowed_addresses = if js_sys::Array::is_array(&allowed_addresses) {
            js_sys::Array::from(&allowed_addresses)
                .iter()
                .filter_map(|v| v.as_string())
                .collect()
        } else {
            Vec::new()
        };
        let request_timeout_ms = js::member(options, "requestTimeoutMs")
            .as_f64()
            .map(|ms| ms as i32)
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT_MS);
        let relay_only = js::member(options, "iceTransportPolicy")
            .as_string()
            .as_deref()
            == Some("relay");
        let network = super::network::NetworkOptions::read(
            options,
            &server_url,
            &token,
            relay_only,
            request_timeout_ms,
        );
        let options = AgentOptions {
            request_timeout_ms,
            relay_only,
            allowed_addresses,
            network,
        };
        let agent = Rc::new(AgentInner {
            client,
            options,
            session,
            url,
            endpoint_id: EndpointId::new(endpoint_id),
            identity: RefCell::new(None),
            core: RefCell::new(None),
            socket: RefCell::new(None),
            generation: Cell::new(0),
            timer: Cell::new(None),
            pumping: Cell::new(false),
            stopped: Cell::new(false),
            connection: Cell::new(ConnectionState::Reconnecting),
            calls: RefCell::new(HashMap::new()),
            incoming: RefCell::new(HashMap::new()),
            replies: RefCell::new(HashMap::new()),
            emitter: Emitter::default(),
            handshake: RefCell::new(Some(handshake)),
            self_ref: RefCell::new(Weak::new()),
            custom_streams: Cell::new(true),
            media_views: Cell::new(false),
            federated,
        });
        *agent.self_ref.borrow_mut() = Rc::downgrade(&agent);
        // The first connection is the shell's own, so that creation fails with the handshake's
        // error; the core opens every later one.
        let hello = ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            token,
            endpoint_id: agent.endpoint_id.clone(),
            push: None,
            resume: false,
        };
        if let Err(error) = agent.open_socket(hello) {
            let handshake = agent.handshake.borrow_mut().take();
            if let Some(handshake) = handshake {
                return Err((error, handshake));
            }
        }
        Ok(())
    }

    fn rc(&self) -> Option<Rc<AgentInner>> {
        self.self_ref.borrow().upgrade()
    }

    pub(crate) fn client(&self) -> &Rc<ClientShared> {
        &self.client
    }

    // ---- the socket ----

    /// Opens a WebSocket that sends `hello` once open and waits for `welcome` for the request
    /// timeout (40101 after).
    fn open_socket(&self, hello: ClientFrame) -> Result<(), CallingError> {
        let Some(agent) = self.rc() else {
            return Err(appel_client::disposed("connect"));
        };
        let ws = WebSocket::new(&self.url).map_err(|e| {
            CallingError::new(&registry::SIGNALING_UNREACHABLE)
                .with_raw_cause(format!("{:?}", js::from_js(&e)))
        })?;
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        let token = match &hello {
            ClientFrame::Hello { token, .. } => token.clone(),
            _ => String::new(),
        };
        let text = hello.to_json();
        let weak = Rc::downgrade(&agent);
        ws.set_onopen(Some(&js::callback(move |_| {
            if let Some(agent) = weak.upgrade() {
                agent.on_open(generation, &text);
            }
        })));
        // The socket in use keeps its agent alive (a stop clears the handlers, breaking the cycle).
        let owner = agent.clone();
        ws.set_onmessage(Some(&js::callback(move |event| {
            if let Some(text) = event.unchecked_into::<MessageEvent>().data().as_string() {
                owner.on_text(generation, &text);
            }
        })));
        let weak = Rc::downgrade(&agent);
        ws.set_onclose(Some(&js::callback(move |event| {
            let code = js::member(&event, "code").as_f64().unwrap_or(0.0) as u16;
            if let Some(agent) = weak.upgrade() {
                agent.on_gone(generation, Some(code));
            }
        })));
        let weak = Rc::downgrade(&agent);
        ws.set_onerror(Some(&js::callback(move |_| {
            if let Some(agent) = weak.upgrade() {
                agent.on_gone(generation, None);
            }
        })));
        let weak = Rc::downgrade(&agent);
        let timeout = self.options.request_timeout_ms;
        js::after(timeout, move || {
            if let Some(agent) = weak.upgrade() {
                agent.on_handshake_timeout(generation, timeout);
            }
        });
        let old = self.socket.replace(Some(Socket {
            ws,
            generation,
            welcomed: false,
            token,
        }));
        if let Some(old) = old {
            close_quietly(&old.ws);
        }
        Ok(())
    }

    fn current(&self, generation: u64) -> Option<bool> {
        self.socket
            .borrow()
            .as_ref()
            .filter(|s| s.generation == generation)
            .map(|s| s.welcomed)
    }

    fn on_open(&self, generation: u64, hello: &str) {
        if let Some(socket) = self.socket.borrow().as_ref() {
            if socket.generation == generation {
                let _ = socket.ws.send_with_str(hello);
            }
        }
    }

    fn on_text(&self, generation: u64, text: &str) {
        let Some(welcomed) = self.current(generation) else {
            return;
        };
        let frame = match parse_server_frame(text) {
            Ok(frame) => frame,
            Err(error) => {
                if welcomed {
                    self.with_core(|core| core.heard(now()));
                }
                self.emitter.emit("error", &js::error_js(&error));
                return;
            }
        };
        if welcomed {
            self.with_core(|core| core.frame(now(), frame));
            self.pump();
            return;
        }
        match frame {
            ServerFrame::Welcome {
                identity,
                heartbeat_interval_ms,
                token_expires_at,
                resumed_calls,
                custom_streams,
                client_reports,
                media_views,
                ..
            } => {
                self.custom_streams.set(custom_streams);
                self.media_views.set(media_views);
                let token = {
                    let mut socket = self.socket.borrow_mut();
                    let Some(socket) = socket.as_mut() else {
                        return;
                    };
                    socket.welcomed = true;
                    socket.token.clone()
                };
                let welcome = Welcome {
                    heartbeat: Duration::from_millis(heartbeat_interval_ms),
                    token_expires_unix_ms: token_expiry_ms(&token).unwrap_or(token_expires_at),
                    resumed_calls,
                    client_reports,
                };
                if self.core.borrow().is_some() {
                    self.with_core(|core| core.connected(now(), welcome));
                    self.pump();
                } else {
                    self.signed_in(identity.0, token, welcome);
                }
            }
            ServerFrame::Error { error, .. } => self.attempt_failed(error),
            // Nothing else comes before `welcome`.
            _ => {}
        }
    }

    /// The socket closed or failed: a lost connection once signed in, a failed attempt before.
    fn on_gone(&self, generation: u64, code: Option<u16>) {
        let Some(welcomed) = self.current(generation) else {
            return;
        };
        if welcomed {
            self.drop_socket();
            self.with_core(|core| core.connection_lost(now()));
            self.pump();
            return;
        }
        let closed = self
            .socket
            .borrow()
            .as_ref()
            .is_some_and(|s| s.ws.ready_state() == WebSocket::CLOSED);
        let (entry, cause): (&'static Entry, String) = match code {
            Some(1006) if closed => (
                &registry::SIGNALING_UNREACHABLE,
                "WebSocket closed with 1006".into(),
            ),
            Some(code) => (
                &registry::SIGNALING_HANDSHAKE_FAILED,
                format!("WebSocket closed with {code}"),
            ),
            None => (
                &registry::SIGNALING_UNREACHABLE,
                "WebSocket error before welcome".into(),
            ),
        };
        self.attempt_failed(CallingError::new(entry).with_raw_cause(cause));
    }

    fn on_handshake_timeout(&self, generation: u64, timeout: i32) {
        if self.current(generation) == Some(false) {
            self.attempt_failed(
                CallingError::new(&registry::CALL_AGENT_REGISTRATION_TIMEOUT)
                    .with_raw_cause(format!("no welcome within {timeout} ms")),
            );
        }
    }

    /// A connection attempt failed: the creation promise rejects, or the core plans the next.
    fn attempt_failed(&self, error: CallingError) {
        self.drop_socket();
        if self.core.borrow().is_some() {
            self.with_core(|core| core.connect_failed(now(), &error));
            self.pump();
            return;
        }
        let handshake = self.handshake.borrow_mut().take();
        if let Some(handshake) = handshake {
            let _ = handshake
                .reject
                .call1(&JsValue::UNDEFINED, &js::error_js(&error));
        }
    }

    /// The first `welcome`: the core starts, and the creation promise resolves.
    fn signed_in(&self, identity: String, token: String, welcome: Welcome) {
        if self.federated && !appel_protocol::federated::is_federated(&identity) {
            self.attempt_failed(CallingError::new(&registry::INVALID_ARGUMENT).with_context(
                format!("createFederatedCallAgent: the server signed the token in as the native identity {identity}"),
            ));
            return;
        }
        if !self.client.identities.borrow_mut().insert(identity.clone()) {
            let entry = if self.federated {
                &registry::FEDERATED_CALL_AGENT_ALREADY_EXISTS
            } else {
                &registry::CALL_AGENT_ALREADY_EXISTS
            };
            self.attempt_failed(
                CallingError::new(entry).with_context(format!("identity {identity}")),
            );
            return;
        }
        let config = Config {
            endpoint_id: self.endpoint_id.clone(),
            push_url: None,
            // The page reports media ready when its peer connection connects.
            manual_media_ready: true,
            call_establishment: self.session.call_establishment,
            request_timeout: self.request_timeout(),
            reconnect: self.session.reconnect.clone(),
            token: TokenPolicy {
                can_refresh: self.session.refresher.is_some(),
                proactive: self.session.refresh_proactively && self.session.refresher.is_some(),
                lead: self.session.refresh_lead,
            },
            random_seed: u64::from_le_bytes(random_bytes()),
        };
        *self.core.borrow_mut() = Some(Core::new(config, now(), token, welcome));
        *self.identity.borrow_mut() = Some(identity);
        self.connection.set(ConnectionState::Connected);
        let handshake = self.handshake.borrow_mut().take();
        if let (Some(handshake), Some(agent)) = (handshake, self.rc()) {
            let _ = handshake
                .resolve
                .call1(&JsValue::UNDEFINED, &CallAgent { inner: agent }.into());
        }
        self.pump();
    }

    fn drop_socket(&self) {
        let socket = self.socket.borrow_mut().take();
        if let Some(socket) = socket {
            close_quietly(&socket.ws);
        }
    }

    // ---- the core ----

    fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.options.request_timeout_ms.max(0) as u64)
    }

    /// Runs `f` on the core (nothing before the first `welcome`); the borrow ends with it.
    fn with_core<T>(&self, f: impl FnOnce(&mut Core) -> T) -> Option<T> {
        self.core.borrow_mut().as_mut().map(f)
    }

    /// Carries out the core's outputs in order, then sets the timer to its next deadline. A call
    /// made from inside (a JavaScript handler acting on the SDK) leaves its outputs to this loop.
    fn pump(&self) {
        if self.pumping.replace(true) {
            return;
        }
        while let Some(output) = self.with_core(Core::poll_output).flatten() {
            self.act(output);
        }
        self.pumping.set(false);
        self.arm_timer();
        if self.with_core(|core| core.is_stopped()) == Some(true) && !self.stopped.replace(true) {
            self.on_stopped();
        }
    }

    fn act(&self, output: Output) {
        match output {
            Output::Send(frame) => {
                if let Some(socket) = self.socket.borrow().as_ref().filter(|s| s.welcomed) {
                    let _ = socket.ws.send_with_str(&frame.to_json());
                }
            }
            Output::Connect(hello) => {
                if let Err(error) = self.open_socket(hello) {
                    self.with_core(|core| core.connect_failed(now(), &error));
                }
            }
            Output::Disconnect => self.drop_socket(),
            Output::FetchToken => self.fetch_token(),
            Output::Event(event) => self.on_event(event),
        }
    }

    fn arm_timer(&self) {
        let next = self.with_core(|core| core.poll_timeout()).flatten();
        if next == self.timer.get().map(|(_, at)| at) {
            return;
        }
        if let Some((handle, _)) = self.timer.take() {
            js::cancel(handle);
        }
        let Some(at) = next else { return };
        let delay = at.as_millis().saturating_sub(now().at.as_millis());
        let weak = self.self_ref.borrow().clone();
        let handle = js::after(delay.min(i32::MAX as u64) as i32, move || {
            if let Some(agent) = weak.upgrade() {
                agent.timer.set(None);
                agent.with_core(|core| core.handle_timeout(now()));
                agent.pump();
            }
        });
        self.timer.set(Some((handle, at)));
    }

    /// The core stopped (disposed, or closed by the server): the socket closes, the timer stops
    /// and the identity may sign in again.
    fn on_stopped(&self) {
        self.drop_socket();
        if let Some((handle, _)) = self.timer.take() {
            js::cancel(handle);
        }
        if let Some(identity) = self.identity.borrow().as_ref() {
            self.client.identities.borrow_mut().remove(identity);
        }
    }

    /// Calls the page's refresher and hands its token (or why there is none) to the core.
    fn fetch_token(&self) {
        let timeout = self.session.token_fetch;
        let failed = |cause: String| {
            CallingError::new(&registry::TOKEN_EXPIRED_DURING_CALL)
                .with_context("tokenRefresher")
                .with_raw_cause(cause)
        };
        let promise = match &self.session.refresher {
            None => Err(failed("no tokenRefresher".into())),
            Some(refresher) => refresher
                .call0(&JsValue::UNDEFINED)
                .map(|answer| Promise::resolve(&answer))
                .map_err(|thrown| failed(thrown_text(&thrown))),
        };
        let promise = match promise {
            Ok(promise) => promise,
            Err(error) => {
                self.with_core(|core| core.token_fetched(now(), Err(error), None));
                return;
            }
        };
        // Whichever comes first, the refresher's answer or its deadline, is the result.
        let weak = self.self_ref.borrow().clone();
        let deliver = move |result: Result<String, CallingError>| {
            let Some(agent) = weak.upgrade() else { return };
            let now = now();
            let expires = result.as_ref().ok().and_then(|t| token_expiry_ms(t));
            let result = match (result, expires) {
                (Ok(_), Some(at)) if at <= now.unix_ms => {
                    Err(failed("the refresher returned an expired token".into()))
                }
                (result, _) => result,
            };
            // The relay credentials request signs with the newest token too.
            if let Ok(token) = &result {
                agent.options.network.set_token(token);
            }
            agent.with_core(|core| core.token_fetched(now, result, expires));
            agent.pump();
        };
        let deliver = Rc::new(RefCell::new(Some(deliver)));
        let on_time = deliver.clone();
        js::after(
            timeout.as_millis().min(i32::MAX as u128) as i32,
            move || {
                if let Some(deliver) = on_time.borrow_mut().take() {
                    deliver(Err(failed(format!("no token within {timeout:?}"))));
                }
            },
        );
        wasm_bindgen_futures::spawn_local(async move {
            let result = match JsFuture::from(promise).await {
                Ok(value) => value
                    .as_string()
                    .ok_or_else(|| failed("the refresher gave no string".into())),
                Err(thrown) => Err(failed(thrown_text(&thrown))),
            };
            let deliver = deliver.borrow_mut().take();
            if let Some(deliver) = deliver {
                deliver(result);
            }
        });
    }

    /// Brings the JavaScript objects up to date with what the core tells.
    fn on_event(&self, event: Event) {
        if let Some(call) = call_of(&event) {
            if let Some(inner) = self.call(call) {
                on_call_event(&inner, event);
            }
            return;
        }
        match event {
            Event::Connection(state) => self.connection_changed(state),
            Event::Answered { request_id, result } => {
                let reply = self.replies.borrow_mut().remove(&request_id);
                if let Some(reply) = reply {
                    let _ = match result {
                        Ok(()) => reply.resolve.call0(&JsValue::UNDEFINED),
                        Err(error) => reply
                            .reject
                            .call1(&JsValue::UNDEFINED, &js::error_js(&error)),
                    };
                }
            }
            Event::NoAnswer { request_id, why } => {
                let reply = self.replies.borrow_mut().remove(&request_id);
                if let Some(reply) = reply {
                    let error = no_answer(reply.entry, why, reply.operation, reply.timeout);
                    let _ = reply
                        .reject
                        .call1(&JsValue::UNDEFINED, &js::error_js(&error));
                }
            }
            Event::CallIdAssigned {
                call,
                call_id,
                participant_id,
            } => {
                let inner = self.call(call);
                match inner {
                    Some(inner) if !inner.has_ended() => inner.created(call_id.0, participant_id.0),
                    // Ended here before the server named it: leave it now.
                    _ => {
                        self.with_core(|core| core.leave(call));
                    }
                }
            }
            Event::CallEnded {
                call,
                reason,
                ended_by,
                ..
            } => {
                let inner = self.calls.borrow_mut().remove(&call);
                if let Some(inner) = inner {
                    inner.finish_by(reason, ended_by);
                }
            }
            Event::Incoming {
                call_id,
                from,
                from_participant_id,
                video,
                ..
            } => {
                let Some(agent) = self.rc() else { return };
                let incoming = IncomingInner::new(
                    &agent,
                    call_id.0.clone(),
                    from.0,
                    from_participant_id.0,
                    video,
                );
                self.incoming
                    .borrow_mut()
                    .insert(call_id.0, incoming.clone());
                self.emitter
                    .emit("incomingCall", &IncomingCall::wrap(incoming).into());
            }
            Event::IncomingStopped {
                call_id,
                reason,
                ended_by,
                ..
            } => {
                let incoming = self.incoming.borrow_mut().remove(call_id.as_str());
                if let Some(incoming) = incoming {
                    incoming.stopped(reason, ended_by);
                }
            }
            Event::Fatal(error) => self.emitter.emit("error", &js::error_js(&error)),
            Event::TokenExpiring { expires_unix_ms } => self
                .emitter
                .emit("tokenExpiring", &JsValue::from_f64(expires_unix_ms as f64)),
            // The events of one call went to it above.
            _ => {}
        }
    }

    fn connection_changed(&self, state: ConnectionState) {
        if self.connection.replace(state) != state {
            self.emitter.emit(
                "connectionStateChanged",
                &JsValue::from_str(state_name(state)),
            );
        }
    }

    fn call(&self, call: CallRef) -> Option<Rc<CallInner>> {
        self.calls.borrow().get(&call).cloned()
    }

    // ---- what the JavaScript objects ask ----

    /// Sends a frame that has no answer (`signal`, `mediaReady`); kept while reconnecting.
    /// A client-side fact about `call` for the server's timeline (the core sends it only to a
    /// server that takes reports).
    pub(crate) fn report(
        &self,
        call: appel_client::CallRef,
        kind: appel_protocol::ReportKind,
        detail: Option<String>,
    ) {
        self.with_core(|core| core.report(call, kind, detail));
        self.pump();
    }

    pub(crate) fn send(&self, frame: &ClientFrame) {
        self.with_core(|core| core.send(frame.clone()));
        self.pump();
    }

    /// A promise for the answer to request `request_id`, which the core will give.
    fn reply(
        &self,
        request_id: u64,
        entry: &'static Entry,
        operation: &'static str,
        timeout: Duration,
    ) -> Promise {
        let (promise, resolve, reject) = js::deferred();
        self.replies.borrow_mut().insert(
            request_id,
            Reply {
                resolve,
                reject,
                entry,
                operation,
                timeout,
            },
        );
        promise
    }

    /// Sends a request built from the core's request id; the promise settles with its `ack` or
    /// `error`, or rejects with `on_timeout` (or 900400 once disposed) when no answer comes.
    pub(crate) fn request(
        &self,
        build: impl FnOnce(u64) -> ClientFrame,
        on_timeout: &'static Entry,
        operation: &'static str,
    ) -> Promise {
        let timeout = self.request_timeout();
        let Some(request_id) = self.with_core(|core| core.request(now(), timeout, build)) else {
            return Promise::reject(&js::error_js(&appel_client::disposed(operation)));
        };
        let promise = self.reply(request_id, on_timeout, operation, timeout);
        self.pump();
        promise
    }

    /// Starts `call` once its local media is ready: the core names it or ends it.
    pub(crate) fn start_call(&self, call: &Rc<CallInner>, build: impl FnOnce(u64) -> ClientFrame) {
        if self.with_core(|core| core.is_stopped()) != Some(false) {
            call.end_with_error(&appel_client::disposed("startCall"));
            return;
        }
        let Some(call_ref) = self.with_core(|core| core.start_call(now(), build)) else {
            return;
        };
        call.core_ref.set(Some(call_ref));
        self.calls.borrow_mut().insert(call_ref, call.clone());
        self.pump();
    }

    /// Answers ringing call `call_id` as `call`; 41006 when it no longer rings here.
    pub(crate) fn accept(
        &self,
        call: &Rc<CallInner>,
        call_id: &str,
        video: bool,
    ) -> Result<Promise, CallingError> {
        let timeout = self.request_timeout();
        let call_id = CallId::new(call_id);
        let accepted = self
            .with_core(|core| core.accept(now(), &call_id, video, timeout))
            .unwrap_or_else(|| Err(appel_client::disposed("accept")))?;
        let (call_ref, request_id) = accepted;
        call.core_ref.set(Some(call_ref));
        self.calls.borrow_mut().insert(call_ref, call.clone());
        let promise = self.reply(
            request_id,
            &registry::SIGNALING_REQUEST_TIMEOUT,
            "accept",
            timeout,
        );
        self.pump();
        Ok(promise)
    }

    /// Declines ringing call `call_id`; 41007 when it no longer rings here.
    pub(crate) fn reject(&self, call_id: &str) -> Promise {
        let timeout = self.request_timeout();
        let call_id = CallId::new(call_id);
        let request_id = match self
            .with_core(|core| core.reject(now(), &call_id, timeout))
            .unwrap_or_else(|| Err(appel_client::disposed("reject")))
        {
            Ok(request_id) => request_id,
            Err(error) => return Promise::reject(&js::error_js(&error)),
        };
        let promise = self.reply(
            request_id,
            &registry::SIGNALING_REQUEST_TIMEOUT,
            "reject",
            timeout,
        );
        self.pump();
        promise
    }

    /// This side ended `call` (0/0 in the core) after its own hang-up request.
    pub(crate) fn ended_locally(&self, call: CallRef) {
        self.with_core(|core| core.end_locally(call));
        self.pump();
    }

    /// This side gives `call` up without the server's word: it ends here and is left with a
    /// `hangUp` (now, or as soon as the server names it).
    pub(crate) fn leave(&self, call: CallRef) {
        self.with_core(|core| core.leave(call));
        self.pump();
    }

    pub(crate) fn forget_incoming(&self, id: &str) {
        self.incoming.borrow_mut().remove(id);
    }
}

/// The call an event concerns, for the events that change one call's state.
fn call_of(event: &Event) -> Option<CallRef> {
    match event {
        Event::CallState { call, .. }
        | Event::ParticipantUpdated { call, .. }
        | Event::ParticipantLeft { call, .. }
        | Event::Signal { call, .. }
        | Event::MutedByServer { call }
        | Event::MediaServer { call }
        | Event::MediaOffer { call, .. }
        | Event::MediaAnswer { call, .. }
        | Event::CallResumed { call, .. } => Some(*call),
        _ => None,
    }
}

/// Tells a call object what the core says of it.
fn on_call_event(inner: &CallInner, event: Event) {
    match event {
        Event::CallState { state, .. } => inner.set_state(state),
        Event::ParticipantUpdated { participant, .. } => inner.participant_updated(&participant),
        Event::ParticipantLeft {
            participant_id: id,
            identity: who,
            reason,
            ended_by,
            ..
        } => inner.participant_left(id.as_str(), who.as_str(), reason, ended_by.as_ref()),
        // The peer connection takes the other side's offers, answers and candidates.
        Event::Signal { from, payload, .. } => inner.on_signal(from.0, payload),
        Event::MutedByServer { .. } => inner.muted_by_server(),
        Event::MediaServer { .. } => inner.move_to_media_server(),
        Event::MediaOffer { sdp, .. } => inner.server_description(false, sdp),
        Event::MediaAnswer { sdp, .. } => inner.server_description(true, sdp),
        // What the reconnect changed came just before, as participant and state events.
        _ => {}
    }
}

fn close_quietly(ws: &WebSocket) {
    ws.set_onopen(None);
    ws.set_onmessage(None);
    ws.set_onclose(None);
    ws.set_onerror(None);
    let _ = ws.close();
}

/// One signed-in identity: places calls and receives them (`on('incomingCall', handler)`).
#[wasm_bindgen]
pub struct CallAgent {
    inner: Rc<AgentInner>,
}

#[wasm_bindgen]
impl CallAgent {
    /// The identity this agent signed in.
    #[wasm_bindgen(getter)]
    pub fn identity(&self) -> String {
        self.inner.identity.borrow().clone().unwrap_or_default()
    }

    /// For a federated identity, its identity provider (the token's `iss`); `undefined` for an
    /// Appel identity.
    #[wasm_bindgen(getter)]
    pub fn issuer(&self) -> Option<String> {
        let identity = self.inner.identity.borrow().clone()?;
        appel_protocol::federated::parse_federated_identity(&identity).map(|(issuer, _)| issuer)
    }

    /// For a federated identity, the user at its provider; `undefined` for an Appel identity.
    #[wasm_bindgen(getter)]
    pub fn subject(&self) -> Option<String> {
        let identity = self.inner.identity.borrow().clone()?;
        appel_protocol::federated::parse_federated_identity(&identity).map(|(_, subject)| subject)
    }

    /// `Connected`, `Reconnecting` (the connection dropped; calls last for the reconnect grace)
    /// or `Disconnected` (disposed, or closed by the server).
    #[wasm_bindgen(getter, js_name = connectionState)]
    pub fn connection_state(&self) -> String {
        state_name(self.inner.connection.get()).to_string()
    }

    /// Registers a handler: `incomingCall` (an `IncomingCall`), `error`, `tokenExpiring`,
    /// `connectionStateChanged`.
    pub fn on(&self, event: &str, handler: Function) {
        self.inner.emitter.on(event, handler);
    }

    /// Removes a handler.
    pub fn off(&self, event: &str, handler: &Function) {
        self.inner.emitter.off(event, handler);
    }

    /// Calls identities: `options` = `{video?: boolean, joinable?: boolean}`. `joinable: true`
    /// starts a group call that anyone who has its id may join (it may have no target); otherwise
    /// only the targets and the identities added later may join it by id. Answers the call at once
    /// (state `Connecting`); what happens next — declined, unanswered, unreachable — is its
    /// `callEndReason`, never an error of `startCall`.
    #[wasm_bindgen(js_name = startCall)]
    pub fn start_call(
        &self,
        targets: Vec<String>,
        #[wasm_bindgen(unchecked_param_type = "StartCallOptions")] options: JsValue,
    ) -> Call {
        let video = js::member(&options, "video").as_bool().unwrap_or(false);
        let joinable = js::member(&options, "joinable").as_bool().unwrap_or(false);
        let call = CallInner::outgoing(&self.inner, targets.join(", "), video);
        let agent = self.inner.clone();
        let started = call.clone();
        wasm_bindgen_futures::spawn_local(async move {
            started.prepare_local_media(video).await;
            if let Err(error) = started.prepare_relay(agent.options.relay_only).await {
                started.end_with_error(&error);
            }
            if started.has_ended() {
                return;
            }
            agent.start_call(&started, |request_id| ClientFrame::StartCall {
                request_id,
                targets: targets.into_iter().map(Into::into).collect(),
                video,
                joinable,
            });
        });
        Call::wrap(call)
    }

    /// Joins a call by its id (`joinCall`): a joinable call, or one this identity was called or
    /// added to; `options` = `{video?: boolean}`. Answers the call at once (state `Connecting`);
    /// a refusal (404/900200, 403/900202…) is its `callEndReason`.
    #[wasm_bindgen(js_name = join)]
    pub fn join(
        &self,
        call_id: String,
        #[wasm_bindgen(unchecked_param_type = "JoinCallOptions | undefined")] options: JsValue,
    ) -> Call {
        let video = js::member(&options, "video").as_bool().unwrap_or(false);
        self.begin(String::new(), video, move |request_id| {
            ClientFrame::JoinCall {
                request_id,
                call_id: CallId::new(call_id),
                video,
            }
        })
    }

    /// Joins a room's call (`joinRoom`), as the roster allows; `options` = `{video?: boolean}`.
    /// A refusal (404/900505, 403/5828, 403/5829…) is its `callEndReason`.
    #[wasm_bindgen(js_name = joinRoom)]
    pub fn join_room(
        &self,
        room_id: String,
        #[wasm_bindgen(unchecked_param_type = "JoinCallOptions | undefined")] options: JsValue,
    ) -> Call {
        let video = js::member(&options, "video").as_bool().unwrap_or(false);
        self.begin(room_id.clone(), video, move |request_id| {
            ClientFrame::JoinRoom {
                request_id,
                room_id,
                video,
            }
        })
    }

    /// A call of this agent started by `frame` once its local media is ready.
    fn begin(
        &self,
        remote: String,
        video: bool,
        frame: impl FnOnce(u64) -> ClientFrame + 'static,
    ) -> Call {
        let call = CallInner::outgoing(&self.inner, remote, video);
        let agent = self.inner.clone();
        let started = call.clone();
        wasm_bindgen_futures::spawn_local(async move {
            started.prepare_local_media(video).await;
            // A joiner's media goes to the media server, through the relay when asked, as a
            // caller's does: the credentials come before the server hears of the join.
            if let Err(error) = started.prepare_relay(agent.options.relay_only).await {
                started.end_with_error(&error);
            }
            if started.has_ended() {
                return;
            }
            agent.start_call(&started, frame);
        });
        Call::wrap(call)
    }

    /// Sends a fresh token for this connection (and every later one); resolves once the server
    /// took it.
    #[wasm_bindgen(js_name = refreshToken, unchecked_return_type = "Promise<void>")]
    pub fn refresh_token(&self, token: String) -> Promise {
        self.inner.options.network.set_token(&token);
        let inner = &self.inner;
        let timeout = inner.request_timeout();
        let expires = token_expiry_ms(&token);
        let Some(request_id) =
            inner.with_core(|core| core.refresh_token(now(), token, expires, timeout))
        else {
            return Promise::reject(&js::error_js(&appel_client::disposed("refreshToken")));
        };
        let promise = inner.reply(
            request_id,
            &registry::SIGNALING_REQUEST_TIMEOUT,
            "refreshToken",
            timeout,
        );
        inner.pump();
        promise
    }

    /// Hangs every call up and closes the connection; the identity may sign in again.
    pub fn dispose(&self) {
        self.inner.with_core(Core::dispose);
        self.inner.pump();
    }
}

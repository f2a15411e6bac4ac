//! `CallClient` and `CallAgent`: the signaling connection, its handshake, requests and their
//! answers, and the dispatch of server frames to calls.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::{Rc, Weak};

use appel_codes::{registry, CallingError, Entry};
use appel_protocol::{parse_server_frame, ClientFrame, EndpointId, ServerFrame, PROTOCOL_VERSION};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, WebSocket};

use super::call::{Call, CallInner, IncomingCall, IncomingInner};
use super::devices::DeviceManager;
use super::js::{self, Emitter};
use crate::views::ViewBudget;

/// How long an unanswered request waits before it fails, by default.
const DEFAULT_REQUEST_TIMEOUT_MS: i32 = 10_000;

/// What every agent of one client shares: who is signed in, and the remote view budget.
pub(crate) struct ClientShared {
    identities: RefCell<HashSet<String>>,
    pub(crate) views: RefCell<ViewBudget>,
}

/// The entry point of the SDK: creates call agents and gives access to devices.
#[wasm_bindgen]
pub struct CallClient {
    shared: Rc<ClientShared>,
}

#[wasm_bindgen]
impl CallClient {
    /// A client for a desktop browser (`{mobile: true}` lowers the remote view limit to 6).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> CallClient {
        let mobile = js::member(&options, "mobile").as_bool().unwrap_or(false);
        CallClient {
            shared: Rc::new(ClientShared {
                identities: RefCell::new(HashSet::new()),
                views: RefCell::new(ViewBudget::new(mobile)),
            }),
        }
    }

    /// Signs an identity in: `options` = `{serverUrl, endpointId?, requestTimeoutMs?,
    /// iceTransportPolicy?, allowedCandidateAddresses?, useRelay?, mediaRecoveryMs?}` (the relay
    /// options: docs/relay.md). Resolves to a `CallAgent`; rejects with
    /// 40114 (unreachable), 40115 (handshake refused), 40101 (no welcome in time), 40228 (this
    /// client already has an agent for the identity) or the server's own refusal (401/10009…).
    #[wasm_bindgen(js_name = createCallAgent)]
    pub fn create_call_agent(&self, token: String, options: JsValue) -> Promise {
        let (promise, resolve, reject) = js::deferred();
        match AgentInner::connect(self.shared.clone(), token, &options, resolve) {
            Ok(agent) => {
                let timeout = agent.options.request_timeout_ms;
                let weak = Rc::downgrade(&agent);
                *agent.handshake_reject.borrow_mut() = Some(reject);
                js::after(timeout, move || {
                    if let Some(agent) = weak.upgrade() {
                        agent.fail_handshake(
                            CallingError::new(&registry::CALL_AGENT_REGISTRATION_TIMEOUT)
                                .with_raw_cause(format!("no welcome within {timeout} ms")),
                        );
                    }
                });
            }
            Err(error) => {
                let _ = reject.call1(&JsValue::UNDEFINED, &js::error_js(&error));
            }
        }
        promise
    }

    /// The device manager (cameras, microphones, permissions).
    #[wasm_bindgen(js_name = getDeviceManager)]
    pub fn get_device_manager(&self) -> DeviceManager {
        DeviceManager::new()
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

enum Pending {
    Ack { resolve: Function, reject: Function },
    Start(Rc<CallInner>),
}

pub(crate) struct AgentInner {
    client: Rc<ClientShared>,
    ws: WebSocket,
    pub(crate) options: AgentOptions,
    identity: RefCell<Option<String>>,
    next_request: Cell<u64>,
    pending: RefCell<HashMap<u64, Pending>>,
    calls: RefCell<HashMap<String, Rc<CallInner>>>,
    incoming: RefCell<HashMap<String, Rc<IncomingInner>>>,
    emitter: Emitter,
    handshake_resolve: RefCell<Option<Function>>,
    handshake_reject: RefCell<Option<Function>>,
    heartbeat: Cell<Option<i32>>,
    disposed: Cell<bool>,
    self_ref: RefCell<Weak<AgentInner>>,
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

fn random_endpoint_id() -> String {
    let mut bytes = [0u8; 8];
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("web-{hex}")
}

impl AgentInner {
    fn connect(
        client: Rc<ClientShared>,
        token: String,
        options: &JsValue,
        resolve: Function,
    ) -> Result<Rc<AgentInner>, CallingError> {
        let server_url = js::member(options, "serverUrl")
            .as_string()
            .unwrap_or_default();
        let url = signaling_url(&server_url).ok_or_else(|| {
            CallingError::new(&registry::INVALID_ARGUMENT)
                .with_context("serverUrl: http(s)://host:port or ws(s)://host:port/path")
        })?;
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
        let ws = WebSocket::new(&url).map_err(|e| {
            CallingError::new(&registry::SIGNALING_UNREACHABLE)
                .with_raw_cause(format!("{:?}", js::from_js(&e)))
        })?;
        let agent = Rc::new(AgentInner {
            client,
            ws,
            options,
            identity: RefCell::new(None),
            next_request: Cell::new(1),
            pending: RefCell::new(HashMap::new()),
            calls: RefCell::new(HashMap::new()),
            incoming: RefCell::new(HashMap::new()),
            emitter: Emitter::default(),
            handshake_resolve: RefCell::new(Some(resolve)),
            handshake_reject: RefCell::new(None),
            heartbeat: Cell::new(None),
            disposed: Cell::new(false),
            self_ref: RefCell::new(Weak::new()),
        });
        *agent.self_ref.borrow_mut() = Rc::downgrade(&agent);
        let hello = ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            token,
            endpoint_id: EndpointId::new(endpoint_id),
            push: None,
            resume: false,
        };
        let weak = Rc::downgrade(&agent);
        agent.ws.set_onopen(Some(&js::callback(move |_| {
            if let Some(agent) = weak.upgrade() {
                agent.send(&hello);
            }
        })));
        // The open connection keeps its agent alive (dispose and close break the cycle).
        let owner = agent.clone();
        agent.ws.set_onmessage(Some(&js::callback(move |event| {
            if let Some(text) = event.unchecked_into::<MessageEvent>().data().as_string() {
                owner.on_text(&text);
            }
        })));
        let weak = Rc::downgrade(&agent);
        agent.ws.set_onclose(Some(&js::callback(move |event| {
            let code = js::member(&event, "code").as_f64().unwrap_or(0.0);
            if let Some(agent) = weak.upgrade() {
                agent.on_close(code as u16);
            }
        })));
        Ok(agent)
    }

    fn rc(&self) -> Option<Rc<AgentInner>> {
        self.self_ref.borrow().upgrade()
    }

    pub(crate) fn client(&self) -> &Rc<ClientShared> {
        &self.client
    }

    pub(crate) fn send(&self, frame: &ClientFrame) {
        let _ = self.ws.send_with_str(&frame.to_json());
    }

    fn fail_handshake(&self, error: CallingError) {
        self.handshake_resolve.borrow_mut().take();
        if let Some(reject) = self.handshake_reject.borrow_mut().take() {
            let _ = reject.call1(&JsValue::UNDEFINED, &js::error_js(&error));
            self.ws.set_onclose(None);
            self.ws.set_onmessage(None);
            let _ = self.ws.close();
        }
    }

    fn on_close(&self, code: u16) {
        self.ws.set_onmessage(None);
        let opened = self.identity.borrow().is_some();
        if !opened {
            let entry: &'static Entry =
                if self.ws.ready_state() == WebSocket::CLOSED && code == 1006 {
                    &registry::SIGNALING_UNREACHABLE
                } else {
                    &registry::SIGNALING_HANDSHAKE_FAILED
                };
            self.fail_handshake(
                CallingError::new(entry).with_raw_cause(format!("WebSocket closed with {code}")),
            );
            return;
        }
        if let Some(handle) = self.heartbeat.take() {
            js::stop_every(handle);
        }
        // Pending requests will never be answered; calls cannot go on without signaling.
        let pending: Vec<Pending> = self.pending.borrow_mut().drain().map(|(_, p)| p).collect();
        for p in pending {
            if let Pending::Ack { reject, .. } = p {
                let error = CallingError::new(&registry::SIGNALING_REQUEST_TIMEOUT)
                    .with_raw_cause("the signaling connection closed");
                let _ = reject.call1(&JsValue::UNDEFINED, &js::error_js(&error));
            }
        }
        let calls: Vec<Rc<CallInner>> = self.calls.borrow_mut().drain().map(|(_, c)| c).collect();
        for call in calls {
            call.finish(appel_codes::CallEndReason::of(&registry::NETWORK_LOST));
        }
        if !self.disposed.get() {
            self.emitter
                .emit("connectionStateChanged", &JsValue::from_str("Disconnected"));
        }
    }

    /// Sends a request and answers a promise settled by its `ack` or `error`; `on_timeout` is the
    /// entry of a request that got no answer in time.
    pub(crate) fn request(
        &self,
        build: impl FnOnce(u64) -> ClientFrame,
        on_timeout: &'static Entry,
        operation: &'static str,
    ) -> Promise {
        let (promise, resolve, reject) = js::deferred();
        if self.disposed.get() {
            let error = CallingError::new(&registry::CALL_AGENT_DISPOSED).with_context(operation);
            let _ = reject.call1(&JsValue::UNDEFINED, &js::error_js(&error));
            return promise;
        }
        let id = self.next_id();
        self.pending
            .borrow_mut()
            .insert(id, Pending::Ack { resolve, reject });
        self.send(&build(id));
        let weak = self.self_ref.borrow().clone();
        let timeout = self.options.request_timeout_ms;
        js::after(timeout, move || {
            let Some(agent) = weak.upgrade() else { return };
            let entry = agent.pending.borrow_mut().remove(&id);
            if let Some(Pending::Ack { reject, .. }) = entry {
                let error = CallingError::new(on_timeout)
                    .with_context(operation)
                    .with_raw_cause(format!("no answer within {timeout} ms"));
                let _ = reject.call1(&JsValue::UNDEFINED, &js::error_js(&error));
            }
        });
        promise
    }

    fn next_id(&self) -> u64 {
        let id = self.next_request.get();
        self.next_request.set(id + 1);
        id
    }

    pub(crate) fn register_call(&self, id: &str, call: Rc<CallInner>) {
        self.calls.borrow_mut().insert(id.to_string(), call);
    }

    pub(crate) fn forget_call(&self, id: &str) {
        self.calls.borrow_mut().remove(id);
    }

    fn on_text(&self, text: &str) {
        let frame = match parse_server_frame(text) {
            Ok(frame) => frame,
            Err(error) => {
                self.emitter.emit("error", &js::error_js(&error));
                return;
            }
        };
        match frame {
            ServerFrame::Welcome {
                identity,
                heartbeat_interval_ms,
                ..
            } => self.on_welcome(identity.0, heartbeat_interval_ms),
            ServerFrame::Error {
                request_id, error, ..
            } => self.on_error(request_id, error),
            ServerFrame::Ping => self.send(&ClientFrame::Pong),
            ServerFrame::Pong => {}
            ServerFrame::Ack { request_id } => {
                let pending = self.pending.borrow_mut().remove(&request_id);
                if let Some(Pending::Ack { resolve, .. }) = pending {
                    let _ = resolve.call0(&JsValue::UNDEFINED);
                }
            }
            ServerFrame::CallCreated {
                request_id,
                call_id,
                participant_id,
            } => {
                let pending = self.pending.borrow_mut().remove(&request_id);
                if let Some(Pending::Start(call)) = pending {
                    self.register_call(call_id.as_str(), call.clone());
                    call.created(call_id.0, participant_id.0);
                }
            }
            ServerFrame::IncomingCall {
                call_id,
                from,
                from_participant_id,
                participant_id,
                video,
            } => {
                self.send(&ClientFrame::AckIncoming {
                    call_id: call_id.clone(),
                });
                let Some(agent) = self.rc() else { return };
                let incoming = IncomingInner::new(
                    &agent,
                    call_id.0.clone(),
                    from.0,
                    from_participant_id.0,
                    participant_id.0,
                    video,
                );
                self.incoming
                    .borrow_mut()
                    .insert(call_id.0, incoming.clone());
                self.emitter
                    .emit("incomingCall", &IncomingCall::wrap(incoming).into());
            }
            ServerFrame::CallState { call_id, state } => {
                if let Some(call) = self.call(call_id.as_str()) {
                    call.set_state(state);
                }
            }
            ServerFrame::ParticipantUpdated {
                call_id,
                participant,
            } => {
                if let Some(call) = self.call(call_id.as_str()) {
                    call.participant_updated(&participant);
                }
            }
            ServerFrame::ParticipantLeft {
                call_id,
                participant_id,
                identity,
                reason,
            } => {
                if let Some(call) = self.call(call_id.as_str()) {
                    call.participant_left(participant_id.as_str(), identity.as_str(), reason);
                }
            }
            ServerFrame::CallEnded {
                call_id, reason, ..
            } => {
                let ringing = self.incoming.borrow_mut().remove(call_id.as_str());
                if let Some(incoming) = ringing {
                    incoming.stopped(reason);
                }
                let call = self.calls.borrow_mut().remove(call_id.as_str());
                if let Some(call) = call {
                    call.finish(reason);
                }
            }
            ServerFrame::Signal {
                call_id,
                from,
                payload,
            } => {
                if let Some(call) = self.call(call_id.as_str()) {
                    call.on_signal(from.0, payload);
                }
            }
            ServerFrame::TokenExpiring { expires_at } => {
                self.emitter
                    .emit("tokenExpiring", &JsValue::from_f64(expires_at as f64));
            }
            // Group-call frames: 1:1 browser calls do not use them.
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    fn call(&self, id: &str) -> Option<Rc<CallInner>> {
        self.calls.borrow().get(id).cloned()
    }

    pub(crate) fn forget_incoming(&self, id: &str) {
        self.incoming.borrow_mut().remove(id);
    }

    fn on_welcome(&self, identity: String, heartbeat_ms: u64) {
        if self.handshake_resolve.borrow().is_none() {
            return;
        }
        if !self.client.identities.borrow_mut().insert(identity.clone()) {
            self.fail_handshake(
                CallingError::new(&registry::CALL_AGENT_ALREADY_EXISTS)
                    .with_context(format!("identity {identity}")),
            );
            return;
        }
        let Some(resolve) = self.handshake_resolve.borrow_mut().take() else {
            return;
        };
        self.handshake_reject.borrow_mut().take();
        *self.identity.borrow_mut() = Some(identity);
        let weak = self.self_ref.borrow().clone();
        let interval = heartbeat_ms.clamp(1_000, 60_000) as i32;
        self.heartbeat.set(Some(js::every(interval, move || {
            if let Some(agent) = weak.upgrade() {
                agent.send(&ClientFrame::Ping);
            }
        })));
        if let Some(agent) = self.rc() {
            let _ = resolve.call1(&JsValue::UNDEFINED, &CallAgent { inner: agent }.into());
        }
    }

    fn on_error(&self, request_id: Option<u64>, error: CallingError) {
        if self.identity.borrow().is_none() {
            self.fail_handshake(error);
            return;
        }
        let pending = request_id.and_then(|id| self.pending.borrow_mut().remove(&id));
        match pending {
            Some(Pending::Ack { reject, .. }) => {
                let _ = reject.call1(&JsValue::UNDEFINED, &js::error_js(&error));
            }
            // A refused startCall ends the call with the server's reason, like the native SDK.
            Some(Pending::Start(call)) => call.finish(error.as_reason()),
            None => self.emitter.emit("error", &js::error_js(&error)),
        }
    }
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
            let id = agent.next_id();
            agent
                .pending
                .borrow_mut()
                .insert(id, Pending::Start(started.clone()));
            agent.send(&ClientFrame::StartCall {
                request_id: id,
                targets: targets.into_iter().map(Into::into).collect(),
                video,
                joinable,
            });
        });
        Call::wrap(call)
    }

    /// Sends a fresh token for this connection.
    #[wasm_bindgen(js_name = refreshToken)]
    pub fn refresh_token(&self, token: String) -> Promise {
        self.inner.options.network.set_token(&token);
        self.inner.request(
            |request_id| ClientFrame::RefreshToken { request_id, token },
            &registry::SIGNALING_REQUEST_TIMEOUT,
            "refreshToken",
        )
    }

    /// Hangs every call up and closes the connection; the identity may sign in again.
    pub fn dispose(&self) {
        let inner = &self.inner;
        if inner.disposed.replace(true) {
            return;
        }
        let calls: Vec<Rc<CallInner>> = inner.calls.borrow().values().cloned().collect();
        for call in calls {
            call.hang_up_now();
        }
        if let Some(identity) = inner.identity.borrow().as_ref() {
            inner.client.identities.borrow_mut().remove(identity);
        }
        if let Some(handle) = inner.heartbeat.take() {
            js::stop_every(handle);
        }
        inner.ws.set_onmessage(None);
        let _ = inner.ws.close();
    }
}

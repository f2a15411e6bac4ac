//! The call agent: one identity signed in on one endpoint, placing and receiving calls.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use appel_codes::{registry, CallingError};
use appel_protocol::{CallId, ClientFrame, EndpointId, IdentityId};
use futures_util::stream::StreamExt;
use tokio::sync::{broadcast, oneshot, watch};

use crate::call::{Call, CallDirection, CallShared};
use crate::errors;
use crate::events::EventStream;
use crate::incoming::{IncomingCall, IncomingShared};
use crate::link::{AgentLink, BuildFrame, Command};
use crate::options::{CallAgentOptions, JoinCallOptions, RelayMode, StartCallOptions};

/// Whether the agent's signaling connection is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Signed in; calls and incoming calls flow.
    Connected,
    /// The connection dropped; the agent is trying again. Calls survive for the reconnect grace,
    /// then end with 496/7.
    Reconnecting,
    /// Disposed, or closed by the server; the agent does nothing more.
    Disconnected,
}

/// How many incoming calls may wait in a slow subscriber's queue before it skips some.
const INCOMING_QUEUE: usize = 256;

/// What the agent's handles and its session task share.
pub(crate) struct AgentShared {
    pub(crate) identity: IdentityId,
    pub(crate) endpoint_id: EndpointId,
    pub(crate) options: CallAgentOptions,
    /// The agent's credential, whose current token the relay credentials request presents.
    pub(crate) credential: crate::credential::TokenCredential,
    calls: Mutex<HashMap<CallId, Arc<CallShared>>>,
    incoming: Mutex<HashMap<CallId, Arc<IncomingShared>>>,
    incoming_feed: Mutex<Option<broadcast::Sender<Arc<IncomingShared>>>>,
    pub(crate) connection: watch::Sender<ConnectionState>,
    /// The client's devices, which this agent's calls use.
    #[cfg(feature = "media")]
    pub(crate) devices: std::sync::OnceLock<crate::DeviceManager>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only maps live behind these locks; a panic elsewhere leaves them usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AgentShared {
    pub(crate) fn new(
        identity: IdentityId,
        endpoint_id: EndpointId,
        options: CallAgentOptions,
        credential: crate::credential::TokenCredential,
    ) -> Arc<Self> {
        Arc::new(AgentShared {
            identity,
            endpoint_id,
            options,
            credential,
            calls: Mutex::new(HashMap::new()),
            incoming: Mutex::new(HashMap::new()),
            incoming_feed: Mutex::new(Some(broadcast::channel(INCOMING_QUEUE).0)),
            connection: watch::channel(ConnectionState::Connected).0,
            #[cfg(feature = "media")]
            devices: std::sync::OnceLock::new(),
        })
    }

    pub(crate) fn add_call(&self, id: CallId, call: Arc<CallShared>) {
        lock(&self.calls).insert(id, call);
    }

    /// The call in progress with id `id`.
    #[cfg(feature = "media")]
    pub(crate) fn call(&self, id: &CallId) -> Option<Arc<CallShared>> {
        lock(&self.calls).get(id).cloned()
    }

    /// Opens `call`'s devices and starts its media task (docs/sdk.md, "Media").
    #[cfg(feature = "media")]
    pub(crate) fn start_media(
        &self,
        call: &Arc<CallShared>,
        link: &AgentLink,
        video: bool,
        group: crate::media::Group,
    ) {
        let devices = self.devices.get_or_init(crate::DeviceManager::new);
        let (media, failures) = crate::media::CallMedia::open(devices.shared(), video);
        call.set_media(media.clone());
        for failure in failures {
            call.push_event(crate::CallEvent::DeviceFailed(failure));
        }
        let server_url = self.options.server_url.clone();
        let timeout = self.options.timeouts.request;
        if group == crate::media::Group::Yes {
            crate::media::spawn(
                call.clone(),
                media,
                link.clone(),
                group,
                server_url,
                timeout,
            );
            return;
        }
        // Weak: a call that never gains a third participant must not be kept alive by its own
        // pending task.
        let weak = Arc::downgrade(call);
        let link = link.clone();
        call.start_media_with_a_third(Box::new(move || {
            if let Some(call) = weak.upgrade() {
                crate::media::spawn(call, media, link, group, server_url, timeout);
            }
        }));
    }

    pub(crate) fn forget_call(&self, id: &CallId) -> Option<Arc<CallShared>> {
        lock(&self.calls).remove(id)
    }

    /// The calls in progress, by id.
    pub(crate) fn calls(&self) -> Vec<(CallId, Arc<CallShared>)> {
        lock(&self.calls)
            .iter()
            .map(|(id, call)| (id.clone(), call.clone()))
            .collect()
    }

    /// Keeps a new incoming call and tells subscribers; `false` when it was already known.
    pub(crate) fn add_incoming(&self, incoming: Arc<IncomingShared>) -> bool {
        let mut map = lock(&self.incoming);
        if map.contains_key(&incoming.call_id) {
            return false;
        }
        map.insert(incoming.call_id.clone(), incoming.clone());
        drop(map);
        if let Some(feed) = lock(&self.incoming_feed).as_ref() {
            // No subscriber yet is fine: the call stays listed while it rings.
            let _ = feed.send(incoming);
        }
        true
    }

    pub(crate) fn forget_incoming(&self, id: &CallId) -> Option<Arc<IncomingShared>> {
        lock(&self.incoming).remove(id)
    }

    /// The incoming calls still ringing.
    pub(crate) fn ringing(&self) -> Vec<Arc<IncomingShared>> {
        lock(&self.incoming)
            .values()
            .filter(|i| i.end_reason().is_none())
            .cloned()
            .collect()
    }

    /// Ends the stream of incoming calls: the agent will receive no more.
    pub(crate) fn close_incoming_feed(&self) {
        lock(&self.incoming_feed).take();
    }

    fn subscribe_incoming(&self) -> Option<broadcast::Receiver<Arc<IncomingShared>>> {
        lock(&self.incoming_feed)
            .as_ref()
            .map(|feed| feed.subscribe())
    }
}

/// One identity signed in on one endpoint. Create it with
/// [`crate::CallClient::create_call_agent`]; end it with [`CallAgent::dispose`].
pub struct CallAgent {
    shared: Arc<AgentShared>,
    link: AgentLink,
    done: Mutex<Option<oneshot::Receiver<()>>>,
}

impl std::fmt::Debug for CallAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallAgent")
            .field("identity", &self.shared.identity)
            .field("endpoint_id", &self.shared.endpoint_id)
            .field("connection", &self.connection_state())
            .finish()
    }
}

impl CallAgent {
    pub(crate) fn new(
        shared: Arc<AgentShared>,
        link: AgentLink,
        done: oneshot::Receiver<()>,
    ) -> Self {
        CallAgent {
            shared,
            link,
            done: Mutex::new(Some(done)),
        }
    }

    /// The identity the server signed this agent in as.
    pub fn identity(&self) -> &IdentityId {
        &self.shared.identity
    }

    /// This endpoint's id (kept across reconnects).
    pub fn endpoint_id(&self) -> &EndpointId {
        &self.shared.endpoint_id
    }

    /// The display name given in the options.
    pub fn display_name(&self) -> Option<&str> {
        self.shared.options.display_name.as_deref()
    }

    /// Whether the signaling connection is up.
    pub fn connection_state(&self) -> ConnectionState {
        *self.shared.connection.borrow()
    }

    /// The connection state now, then each change.
    pub fn connection_states(&self) -> EventStream<ConnectionState> {
        let receiver = self.shared.connection.subscribe();
        let stream =
            futures_util::stream::unfold((receiver, true), |(mut receiver, first)| async move {
                if !first && receiver.changed().await.is_err() {
                    return None;
                }
                let state = *receiver.borrow_and_update();
                Some((state, (receiver, false)))
            });
        EventStream::new(stream.boxed())
    }

    /// The calls in progress.
    pub fn calls(&self) -> Vec<Call> {
        self.shared
            .calls()
            .into_iter()
            .map(|(_, call)| {
                Call::new(
                    call,
                    self.link.clone(),
                    self.shared.options.timeouts.clone(),
                )
            })
            .collect()
    }

    /// Starts a call to `targets` (none is allowed for a joinable call: see
    /// [`StartCallOptions::joinable`]). The call is returned at once, in state `Connecting`, without an
    /// id; the server's confirmation gives it one ([`crate::CallEvent::IdAssigned`]). Every outcome
    /// after that, including a target that cannot be reached (480/10037…) or no confirmation within
    /// the establishment timeout (408/4506), is the call's end reason.
    pub fn start_call(
        &self,
        targets: &[IdentityId],
        options: StartCallOptions,
    ) -> Result<Call, CallingError> {
        if self.link.is_disposed() {
            return Err(errors::disposed("start_call"));
        }
        let mut seen = HashSet::new();
        let targets: Vec<IdentityId> = targets
            .iter()
            .filter(|t| **t != self.shared.identity && seen.insert((*t).clone()))
            .cloned()
            .collect();
        if targets.is_empty() && !options.joinable {
            return Err(CallingError::new(&registry::NO_TARGETS).with_context("start_call targets"));
        }
        let call = CallShared::new(CallDirection::Outgoing, options.video, None, None);
        #[cfg(feature = "media")]
        let group = if options.joinable || targets.len() >= 2 {
            crate::media::Group::Yes
        } else {
            crate::media::Group::IfThirdParticipant
        };
        let build = move |request_id| ClientFrame::StartCall {
            request_id,
            targets,
            video: options.video,
            joinable: options.joinable,
        };
        self.launch("start_call", &call, Box::new(build))?;
        #[cfg(feature = "media")]
        self.shared
            .start_media(&call, &self.link, options.video, group);
        Ok(Call::new(
            call,
            self.link.clone(),
            self.shared.options.timeouts.clone(),
        ))
    }

    /// Joins a call in progress by its id (a group call). Returned at once in state `Connecting`;
    /// the server's confirmation names it ([`crate::CallEvent::IdAssigned`]) and a refusal (an
    /// unknown call, the participant limit) is its end reason.
    pub fn join_call(
        &self,
        call_id: &CallId,
        options: JoinCallOptions,
    ) -> Result<Call, CallingError> {
        let call_id = call_id.clone();
        self.join("join_call", options, move |request_id| {
            ClientFrame::JoinCall {
                request_id,
                call_id,
                video: options.video,
            }
        })
    }

    /// Joins the call of room `room_id`, starting it when nobody is in it. Returned at once in
    /// state `Connecting`; a refusal is the call's end reason: 403/5828 when the roster does not
    /// list this identity, 403/5829 outside the room's validity window, 403/5830 for an identity
    /// that is not an Appel user.
    pub fn join_room(&self, room_id: &str, options: JoinCallOptions) -> Result<Call, CallingError> {
        let room_id = room_id.to_owned();
        self.join("join_room", options, move |request_id| {
            ClientFrame::JoinRoom {
                request_id,
                room_id,
                video: options.video,
            }
        })
    }

    /// Sends the frame that starts or joins `call`; with a relay, once its credentials came: a
    /// call whose media path cannot be set up as asked ends (490/4502, 410/3112) before the
    /// server hears of it.
    fn launch(
        &self,
        operation: &str,
        call: &Arc<CallShared>,
        build: BuildFrame,
    ) -> Result<(), CallingError> {
        if self.shared.options.relay == RelayMode::Off {
            let command = Command::StartCall {
                build,
                call: call.clone(),
            };
            return if self.link.command(command) {
                Ok(())
            } else {
                Err(errors::disposed(operation))
            };
        }
        if self.link.is_disposed() {
            return Err(errors::disposed(operation));
        }
        let (shared, link, started) = (self.shared.clone(), self.link.clone(), call.clone());
        let operation = operation.to_string();
        tokio::spawn(async move {
            match crate::relay::for_call(&shared).await {
                Err(error) => {
                    started.finish(error.as_reason(), error.raw_cause().map(str::to_owned));
                }
                Ok(credentials) if !started.is_ended() => {
                    started.set_relay(credentials);
                    let command = Command::StartCall {
                        build,
                        call: started.clone(),
                    };
                    if !link.command(command) {
                        let error = errors::disposed(&operation);
                        started.finish(error.as_reason(), None);
                    }
                }
                // Hung up while the credentials were on their way: nothing to start.
                Ok(_) => {}
            }
        });
        Ok(())
    }

    fn join(
        &self,
        operation: &str,
        options: JoinCallOptions,
        frame: impl FnOnce(u64) -> ClientFrame + Send + 'static,
    ) -> Result<Call, CallingError> {
        if self.link.is_disposed() {
            return Err(errors::disposed(operation));
        }
        let call = CallShared::new(CallDirection::Joined, options.video, None, None);
        // The protocol core ends it with 408/4506 if the server does not name it in time.
        self.launch(operation, &call, Box::new(frame))?;
        #[cfg(feature = "media")]
        self.shared
            .start_media(&call, &self.link, options.video, crate::media::Group::Yes);
        Ok(Call::new(
            call,
            self.link.clone(),
            self.shared.options.timeouts.clone(),
        ))
    }

    /// The incoming calls: those still ringing now, then each new one. Several subscribers each
    /// get every call.
    pub fn incoming_calls(&self) -> EventStream<IncomingCall> {
        let receiver = self.shared.subscribe_incoming();
        let ringing = self.shared.ringing();
        let known: HashSet<CallId> = ringing.iter().map(|i| i.call_id.clone()).collect();
        let now = futures_util::stream::iter(ringing);
        let later = futures_util::stream::unfold(receiver, |receiver| async move {
            let mut receiver = receiver?;
            loop {
                match receiver.recv().await {
                    Ok(incoming) => return Some((incoming, Some(receiver))),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .filter(move |incoming| std::future::ready(!known.contains(&incoming.call_id)));
        let shared = self.shared.clone();
        let link = self.link.clone();
        let stream = now
            .chain(later)
            .map(move |incoming| IncomingCall::new(incoming, shared.clone(), link.clone()));
        EventStream::new(stream.boxed())
    }

    /// Hangs up every call, closes the connection and frees the identity, so that this client can
    /// create a new agent for it. Doing it twice does nothing.
    pub async fn dispose(&self) {
        let (done, receiver) = oneshot::channel();
        if self.link.command(Command::Dispose { done }) {
            let wait = self.shared.options.timeouts.request;
            let _ = tokio::time::timeout(wait, receiver).await;
        }
        let finished = self.done.lock().ok().and_then(|mut done| done.take());
        if let Some(finished) = finished {
            let wait = self.shared.options.timeouts.request;
            let _ = tokio::time::timeout(wait, finished).await;
        }
    }
}

//! A call ringing on this agent: accept it, reject it, or learn why it stopped ringing.

use appel_client::Ender;
use std::sync::{Arc, Mutex};

use appel_codes::{registry, CallEndReason, CallingError, Entry};
use appel_protocol::{CallId, IdentityId, ParticipantId};
use tokio::sync::{oneshot, watch};

use crate::agent::AgentShared;
use crate::call::{Call, CallDirection, CallShared};
use crate::errors;
use crate::link::{AgentLink, Command};
use crate::options::AcceptOptions;

/// What the agent knows of one ringing call.
pub(crate) struct IncomingShared {
    pub(crate) call_id: CallId,
    pub(crate) from: IdentityId,
    pub(crate) from_participant_id: ParticipantId,
    pub(crate) participant_id: ParticipantId,
    pub(crate) video: bool,
    stop: watch::Sender<Option<CallEndReason>>,
    /// Serialises accept and reject, so only one of them talks to the server.
    answering: tokio::sync::Mutex<()>,
    raw_cause: Mutex<Option<String>>,
    ended_by: Mutex<Option<Ender>>,
}

impl IncomingShared {
    pub(crate) fn new(
        call_id: CallId,
        from: IdentityId,
        from_participant_id: ParticipantId,
        participant_id: ParticipantId,
        video: bool,
    ) -> Arc<Self> {
        Arc::new(IncomingShared {
            call_id,
            from,
            from_participant_id,
            participant_id,
            video,
            stop: watch::channel(None).0,
            answering: tokio::sync::Mutex::new(()),
            raw_cause: Mutex::new(None),
            ended_by: Mutex::new(None),
        })
    }

    pub(crate) fn end_reason(&self) -> Option<CallEndReason> {
        *self.stop.borrow()
    }

    /// Records why it stopped ringing and who stopped it; the first reason stays. `true` when this
    /// call stopped it.
    pub(crate) fn stop_by(
        &self,
        reason: CallEndReason,
        raw_cause: Option<String>,
        ended_by: Option<Ender>,
    ) -> bool {
        let mut first = false;
        self.stop.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(reason);
            first = true;
            true
        });
        if first {
            if let Ok(mut raw) = self.raw_cause.lock() {
                *raw = raw_cause;
            }
            if let Ok(mut by) = self.ended_by.lock() {
                *by = ended_by;
            }
        }
        first
    }
}

/// A call ringing on this agent. Cloning gives another handle to the same incoming call.
#[derive(Clone)]
pub struct IncomingCall {
    shared: Arc<IncomingShared>,
    agent: Arc<AgentShared>,
    link: AgentLink,
}

impl std::fmt::Debug for IncomingCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingCall")
            .field("id", &self.shared.call_id)
            .field("from", &self.shared.from)
            .field("end_reason", &self.end_reason())
            .finish()
    }
}

impl IncomingCall {
    pub(crate) fn new(
        shared: Arc<IncomingShared>,
        agent: Arc<AgentShared>,
        link: AgentLink,
    ) -> Self {
        IncomingCall {
            shared,
            agent,
            link,
        }
    }

    /// The call's id.
    pub fn id(&self) -> &CallId {
        &self.shared.call_id
    }

    /// Who calls.
    pub fn caller(&self) -> &IdentityId {
        &self.shared.from
    }

    /// The caller's participant id.
    pub fn caller_participant_id(&self) -> &ParticipantId {
        &self.shared.from_participant_id
    }

    /// Whether the caller started with video.
    pub fn video(&self) -> bool {
        self.shared.video
    }

    /// Why it stopped ringing on this agent, once it has: 487/0 (the caller cancelled), 487/10003
    /// (accepted on another endpoint), 487/10004 (nobody answered), 0/0 (accepted here), 603/0
    /// (rejected here)…
    pub fn end_reason(&self) -> Option<CallEndReason> {
        self.shared.end_reason()
    }

    /// Who stopped it ringing here, once it has: the caller who cancelled, [`Ender::This`] when
    /// answered or declined here, the server when nobody answered in time.
    pub fn ended_by(&self) -> Option<Ender> {
        self.shared.ended_by.lock().ok().and_then(|by| by.clone())
    }

    /// The protocol cause behind [`Self::end_reason`], when one was given.
    pub fn end_raw_cause(&self) -> Option<String> {
        self.shared
            .raw_cause
            .lock()
            .ok()
            .and_then(|raw| raw.clone())
    }

    /// Waits until it stops ringing on this agent and gives the reason.
    pub async fn stopped(&self) -> CallEndReason {
        let mut stop = self.shared.stop.subscribe();
        loop {
            if let Some(reason) = *stop.borrow_and_update() {
                return reason;
            }
            if stop.changed().await.is_err() {
                continue;
            }
        }
    }

    /// Answers the call. 41006 when it no longer rings (whether this agent already knew, or the
    /// server says so); 900401 when the server does not confirm in time.
    pub async fn accept(&self, options: AcceptOptions) -> Result<Call, CallingError> {
        let _answering = self.shared.answering.lock().await;
        self.still_ringing(&registry::ACCEPT_NOT_RINGING, "accept")?;
        let call_id = self.shared.call_id.clone();
        let call = CallShared::new(
            CallDirection::Incoming,
            options.video,
            Some(call_id.clone()),
            Some(self.shared.participant_id.clone()),
        );
        let timeout = self.agent.options.timeouts.request;
        let (reply, answer) = oneshot::channel();
        // The session registers the call before the frame leaves, so its first events find it;
        // on the server's ack it stops the ringing and sends mediaReady (unless manual).
        if !self.link.command(Command::Accept {
            call_id: call_id.clone(),
            video: options.video,
            call: call.clone(),
            timeout,
            reply,
        }) {
            return Err(errors::disposed("accept"));
        }
        match self.link.verdict(answer, timeout).await {
            Ok(Ok(())) => {
                #[cfg(feature = "media")]
                self.agent.start_media(
                    &call,
                    &self.link,
                    options.video,
                    crate::media::Group::IfThirdParticipant,
                );
                let handle = Call::new(
                    call.clone(),
                    self.link.clone(),
                    self.agent.options.timeouts.clone(),
                );
                // The relay credentials before the media starts; without them the call cannot
                // set up its media path as asked, and this agent leaves it (490/4502, 410/3112).
                match crate::relay::for_call(&self.agent).await {
                    Ok(credentials) => call.set_relay(credentials),
                    Err(error) => handle.leave_with(&error).await,
                }
                Ok(handle)
            }
            Ok(Err(error)) => {
                call.finish(error.as_reason(), error.raw_cause().map(str::to_owned));
                Err(error)
            }
            Err(why) => {
                // The session left the call, in case the server took the answer after all.
                call.finish(CallEndReason::of(&registry::CALL_ENDED_LOCALLY), None);
                Err(errors::no_answer(
                    &registry::SIGNALING_REQUEST_TIMEOUT,
                    why,
                    &format!("accept call {call_id}"),
                    timeout,
                ))
            }
        }
    }

    /// Declines the call on this agent. 41007 when it no longer rings; 900401 when the server does
    /// not confirm in time.
    pub async fn reject(&self) -> Result<(), CallingError> {
        let _answering = self.shared.answering.lock().await;
        self.still_ringing(&registry::REJECT_NOT_RINGING, "reject")?;
        let call_id = self.shared.call_id.clone();
        let timeout = self.agent.options.timeouts.request;
        let (reply, answer) = oneshot::channel();
        if !self.link.command(Command::Reject {
            call_id: call_id.clone(),
            timeout,
            reply,
        }) {
            return Err(errors::disposed("reject"));
        }
        match self.link.verdict(answer, timeout).await {
            Ok(result) => result,
            Err(why) => Err(errors::no_answer(
                &registry::SIGNALING_REQUEST_TIMEOUT,
                why,
                &format!("reject call {call_id}"),
                timeout,
            )),
        }
    }

    fn still_ringing(&self, entry: &'static Entry, operation: &str) -> Result<(), CallingError> {
        if self.link.is_disposed() {
            return Err(errors::disposed(operation));
        }
        match self.end_reason() {
            None => Ok(()),
            Some(reason) => Err(CallingError::new(entry)
                .with_context(format!("call {}", self.shared.call_id))
                .with_raw_cause(format!("stopped ringing with {reason}"))),
        }
    }
}

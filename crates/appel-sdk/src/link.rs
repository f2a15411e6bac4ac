//! How handles (agent, calls, incoming calls) talk to the agent's session task: commands in, one
//! answer per request out. Request ids and timeouts belong to the protocol core the session
//! drives; a handle only waits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use appel_codes::CallingError;
use appel_protocol::{CallId, ClientFrame};
use tokio::sync::{mpsc, oneshot};

use crate::call::CallShared;

pub(crate) use appel_client::NoAnswer;

/// Builds a request's frame from the id the core gives it.
pub(crate) type BuildFrame = Box<dyn FnOnce(u64) -> ClientFrame + Send>;

/// The answer to a request: the server's, or why there is none.
pub(crate) type Answer = Result<Result<(), CallingError>, NoAnswer>;

/// What a handle asks the session task to do.
pub(crate) enum Command {
    /// Send a request and deliver the server's answer (`ack` or `error`), or its timeout.
    Request {
        build: BuildFrame,
        timeout: Duration,
        reply: oneshot::Sender<Answer>,
    },
    /// Send `startCall`, `joinCall` or `joinRoom`; the session binds the call to the id the
    /// server gives.
    StartCall {
        build: BuildFrame,
        call: Arc<CallShared>,
    },
    /// Answer a ringing call with `call`, registered before the frame leaves.
    Accept {
        call_id: CallId,
        video: bool,
        call: Arc<CallShared>,
        timeout: Duration,
        reply: oneshot::Sender<Answer>,
    },
    /// Decline a ringing call.
    Reject {
        call_id: CallId,
        timeout: Duration,
        reply: oneshot::Sender<Answer>,
    },
    /// The call ended on this side (hung up): the session forgets it, and leaves it once the
    /// server names it if it had not yet.
    Ended(Arc<CallShared>),
    /// Send a frame that has no answer.
    Send(ClientFrame),
    /// Send `mediaOffer` and deliver the server's `mediaAnswer` (or its error) to the call's
    /// media, in order with the server's offers that follow it; the media task times the wait.
    #[cfg(feature = "media")]
    MediaOffer {
        call_id: CallId,
        sdp: String,
        media: Arc<crate::media::CallMedia>,
    },
    /// Put a client-side fact on the call's timeline (sent only to a server that takes reports).
    #[cfg(feature = "media")]
    Report {
        call: Arc<CallShared>,
        kind: appel_protocol::ReportKind,
        detail: Option<String>,
    },
    /// Hang up every call, close the connection and stop.
    Dispose { done: oneshot::Sender<()> },
}

/// A handle's way to the session task.
#[derive(Clone)]
pub(crate) struct AgentLink {
    commands: mpsc::UnboundedSender<Command>,
    disposed: Arc<AtomicBool>,
}

/// How long past its own timeout a handle still waits for the core's verdict: the core times every
/// request, so this only guards against a session that is gone without a word.
const VERDICT_MARGIN: Duration = Duration::from_secs(1);

impl AgentLink {
    pub(crate) fn new(commands: mpsc::UnboundedSender<Command>, disposed: Arc<AtomicBool>) -> Self {
        AgentLink { commands, disposed }
    }

    pub(crate) fn is_disposed(&self) -> bool {
        self.disposed.load(Ordering::Acquire) || self.commands.is_closed()
    }

    /// Queues a command; `false` when the session is gone.
    pub(crate) fn command(&self, command: Command) -> bool {
        !self.is_disposed() && self.commands.send(command).is_ok()
    }

    /// Sends a request built from the id the core gives and waits for its answer; the core ends
    /// the wait after `timeout`.
    pub(crate) async fn request(
        &self,
        build: impl FnOnce(u64) -> ClientFrame + Send + 'static,
        timeout: Duration,
    ) -> Answer {
        let (reply, answer) = oneshot::channel();
        if !self.command(Command::Request {
            build: Box::new(build),
            timeout,
            reply,
        }) {
            return Err(NoAnswer::Disposed);
        }
        self.verdict(answer, timeout).await
    }

    /// Waits for the session's answer to a request timed out by the core after `timeout`.
    pub(crate) async fn verdict(
        &self,
        answer: oneshot::Receiver<Answer>,
        timeout: Duration,
    ) -> Answer {
        match tokio::time::timeout(timeout + VERDICT_MARGIN, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(NoAnswer::Disposed),
            Err(_) => Err(NoAnswer::Timeout),
        }
    }
}

//! How handles (agent, calls, incoming calls) talk to the agent's session task: commands in, one
//! answer per request out.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use appel_codes::CallingError;
use appel_protocol::ClientFrame;
use tokio::sync::{mpsc, oneshot};

use crate::call::CallShared;

/// What a handle asks the session task to do.
pub(crate) enum Command {
    /// Send a request and deliver the server's answer (`ack` or `error`).
    Request {
        frame: ClientFrame,
        reply: oneshot::Sender<Result<(), CallingError>>,
    },
    /// Send `startCall`; the session binds the call to the id `callCreated` gives.
    StartCall {
        frame: ClientFrame,
        call: Arc<CallShared>,
    },
    /// Send a frame that has no answer.
    Send(ClientFrame),
    /// Hang up every call, close the connection and stop.
    Dispose { done: oneshot::Sender<()> },
}

/// Why a request got no answer from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoAnswer {
    /// The timeout ran out.
    Timeout,
    /// The connection dropped after the request was sent.
    ConnectionLost,
    /// The agent is disposed.
    Disposed,
}

/// A handle's way to the session task.
#[derive(Clone)]
pub(crate) struct AgentLink {
    commands: mpsc::UnboundedSender<Command>,
    next_request: Arc<AtomicU64>,
    disposed: Arc<AtomicBool>,
}

impl AgentLink {
    pub(crate) fn new(commands: mpsc::UnboundedSender<Command>, disposed: Arc<AtomicBool>) -> Self {
        AgentLink {
            commands,
            next_request: Arc::new(AtomicU64::new(1)),
            disposed,
        }
    }

    /// A fresh request id.
    pub(crate) fn request_id(&self) -> u64 {
        self.next_request.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn is_disposed(&self) -> bool {
        self.disposed.load(Ordering::Acquire) || self.commands.is_closed()
    }

    /// Queues a command; `false` when the session is gone.
    pub(crate) fn command(&self, command: Command) -> bool {
        !self.is_disposed() && self.commands.send(command).is_ok()
    }

    /// Sends a request built from a fresh id and waits up to `timeout` for its answer.
    pub(crate) async fn request(
        &self,
        build: impl FnOnce(u64) -> ClientFrame,
        timeout: Duration,
    ) -> Result<Result<(), CallingError>, NoAnswer> {
        let (reply, answer) = oneshot::channel();
        let frame = build(self.request_id());
        if !self.command(Command::Request { frame, reply }) {
            return Err(NoAnswer::Disposed);
        }
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(_)) if self.is_disposed() => Err(NoAnswer::Disposed),
            Ok(Err(_)) => Err(NoAnswer::ConnectionLost),
            Err(_) => Err(NoAnswer::Timeout),
        }
    }
}

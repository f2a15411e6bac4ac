//! Graceful shutdown: a signal every task can wait for, and the OS signals that trigger it.

use tokio::sync::watch;

/// A one-way switch from "running" to "shutting down"; clones observe the same switch. It also
/// counts the open signaling connections, so shutdown can wait until their last frames are out.
#[derive(Clone)]
pub struct ShutdownSignal {
    sender: std::sync::Arc<watch::Sender<bool>>,
    connections: std::sync::Arc<watch::Sender<usize>>,
}

/// Held by a connection task while it runs.
pub struct ConnectionGuard {
    connections: std::sync::Arc<watch::Sender<usize>>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.connections.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Default for ShutdownSignal {
    fn default() -> Self {
        Self::new()
    }
}

impl ShutdownSignal {
    /// A switch in the "running" position.
    pub fn new() -> ShutdownSignal {
        ShutdownSignal {
            sender: std::sync::Arc::new(watch::channel(false).0),
            connections: std::sync::Arc::new(watch::channel(0).0),
        }
    }

    /// Counts a connection until the guard is dropped.
    pub fn track_connection(&self) -> ConnectionGuard {
        self.connections.send_modify(|n| *n += 1);
        ConnectionGuard {
            connections: std::sync::Arc::clone(&self.connections),
        }
    }

    /// Waits until no connection is open, or `limit` passed; whether they all closed.
    pub async fn connections_closed(&self, limit: std::time::Duration) -> bool {
        let mut receiver = self.connections.subscribe();
        tokio::time::timeout(limit, receiver.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Flips the switch; idempotent.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Whether the switch was flipped.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once the switch is flipped (at once if it already was).
    pub async fn wait(&self) {
        let mut receiver = self.sender.subscribe();
        // The sender lives as long as `self`, so this only ends when the value is true.
        let _ = receiver.wait_for(|on| *on).await;
    }
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn os_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_ends_once_triggered() {
        let signal = ShutdownSignal::new();
        assert!(!signal.is_triggered());
        let waiter = tokio::spawn({
            let signal = signal.clone();
            async move { signal.wait().await }
        });
        signal.trigger();
        waiter.await.expect("waiter");
        assert!(signal.is_triggered());
        signal.wait().await;
    }

    #[tokio::test]
    async fn connections_are_counted_until_dropped() {
        let signal = ShutdownSignal::new();
        let guard = signal.track_connection();
        assert!(
            !signal
                .connections_closed(std::time::Duration::from_millis(10))
                .await
        );
        drop(guard);
        assert!(
            signal
                .connections_closed(std::time::Duration::from_millis(10))
                .await
        );
    }
}

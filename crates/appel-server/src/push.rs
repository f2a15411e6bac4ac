//! Push notices: an HTTP POST telling an offline identity's app that a call rings, so it connects.

use std::time::Duration;

use appel_protocol::{CallId, IdentityId};

/// Posts notices with a short timeout; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct PushSender {
    client: reqwest::Client,
}

impl PushSender {
    /// A sender whose every request gives up after `timeout`.
    pub fn new(timeout: Duration) -> PushSender {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .unwrap_or_else(|e| {
                // Only a broken TLS setup fails here; keep going with per-request timeouts.
                tracing::error!(error = %e, "push client setup failed; using defaults");
                reqwest::Client::new()
            });
        PushSender { client }
    }

    /// POSTs `{"type":"incomingCall","identity","callId","from"}` to `url`; whether the receiver
    /// answered with a 2xx status in time.
    pub async fn send(
        &self,
        url: &str,
        identity: &IdentityId,
        call: &CallId,
        from: &IdentityId,
    ) -> bool {
        let notice = serde_json::json!({
            "type": "incomingCall",
            "identity": identity,
            "callId": call,
            "from": from,
        });
        match self.client.post(url).json(&notice).send().await {
            Ok(response) if response.status().is_success() => true,
            Ok(response) => {
                tracing::warn!(%identity, status = %response.status(), "push notice refused");
                false
            }
            Err(e) => {
                tracing::warn!(%identity, error = %e, "push notice failed");
                false
            }
        }
    }
}

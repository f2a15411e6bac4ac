//! The relay (TURN) credentials a call fetches from the server before its media starts
//! (`GET /relay/credentials` with the agent's token as bearer; docs/relay.md). What the endpoint is
//! and how its answer reads is `appel_client::relay`, shared with the browser SDK; this is the
//! tokio side: the HTTP request, bounded by the request timeout.

use std::time::Duration;

use appel_client::relay::{self, RelayCredentials};
use appel_codes::{registry, CallingError};

use crate::agent::AgentShared;
use crate::options::RelayMode;

/// The credentials for one call, or `None` when the agent uses no relay. Every failure is
/// 490/4502; a relay-only agent whose server has no relay gets 410/3112 at once.
pub(crate) async fn for_call(
    shared: &AgentShared,
) -> Result<Option<RelayCredentials>, CallingError> {
    let mode = shared.options.relay;
    if mode == RelayMode::Off {
        return Ok(None);
    }
    let url = relay::credentials_url(&shared.options.server_url)
        .ok_or_else(|| relay::request_failed("no http(s) url for the server"))?;
    let token = shared
        .credential
        .token()
        .ok_or_else(|| relay::request_failed("no token to present"))?;
    let credentials = fetch(&url, &token, shared.options.timeouts.request).await?;
    if mode == RelayMode::Only && !credentials.has_relay() {
        return Err(CallingError::new(&registry::MEDIA_BLOCKED_BY_NETWORK)
            .with_raw_cause("relay-only, and the server has no relay configured"));
    }
    Ok(Some(credentials))
}

async fn fetch(
    url: &str,
    token: &str,
    timeout: Duration,
) -> Result<RelayCredentials, CallingError> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| relay::request_failed(e.to_string()))?;
    let response = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| relay::request_failed(describe(&e)))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| relay::request_failed(describe(&e)))?;
    relay::read_answer(status, &body)
}

/// The error with its causes: reqwest's own text alone often says only "error sending request".
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

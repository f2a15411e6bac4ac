//! The first exchange of a signaling connection: `hello` in, checks, and the admitted endpoint out.

use std::time::{Duration, Instant, SystemTime};

use appel_codes::{registry, CallingError};
use appel_protocol::{parse_client_frame, ClientFrame, EndpointId, PROTOCOL_VERSION};
use axum::extract::ws::{Message, WebSocket};

use crate::state::AppState;
use crate::tokens::Claims;

/// A connection that passed the handshake.
pub(crate) struct Admitted {
    pub claims: Claims,
    pub endpoint: EndpointId,
    pub push_url: Option<String>,
    pub resume: bool,
    pub token_expires_at: Instant,
    pub ever_registered: bool,
}

/// Why a handshake did not admit the connection.
pub(crate) enum Refusal {
    /// Refused: the client gets this error as a fatal frame.
    Error(CallingError),
    /// The client went away (or stayed silent) before saying hello.
    Gone,
}

impl From<CallingError> for Refusal {
    fn from(error: CallingError) -> Self {
        Refusal::Error(error)
    }
}

/// Waits for `hello` and checks it: first frame, protocol version, token, endpoint id, push URL.
pub(crate) async fn handshake(
    socket: &mut WebSocket,
    state: &AppState,
) -> Result<Admitted, Refusal> {
    let text = first_text(socket, state).await?;
    let max = state.config().signaling.max_frame_bytes;
    if text.len() > max {
        return Err(CallingError::new(&registry::FRAME_TOO_LARGE)
            .with_context(format!("{} bytes, limit {max}", text.len()))
            .into());
    }
    let (version, token, endpoint, push, resume) = match parse_client_frame(&text) {
        Ok(ClientFrame::Hello {
            version,
            token,
            endpoint_id,
            push,
            resume,
        }) => (version, token, endpoint_id, push, resume),
        Ok(other) => {
            return Err(
                handshake_expected(format!("the first frame was `{}`", other.type_name())).into(),
            )
        }
        Err(error) => {
            let mut refusal = handshake_expected("the first frame is not a hello frame");
            if let Some(context) = error.context() {
                refusal = refusal.with_raw_cause(format!("{}: {context}", error.name()));
            }
            return Err(refusal.into());
        }
    };
    if version != PROTOCOL_VERSION {
        return Err(CallingError::new(&registry::PROTOCOL_VERSION_UNSUPPORTED)
            .with_context(format!(
                "the client speaks version {version}, this server {PROTOCOL_VERSION}"
            ))
            .into());
    }
    let claims = state.authenticate(&token).await?;
    if endpoint.as_str().trim().is_empty() {
        return Err(CallingError::new(&registry::MALFORMED_FRAME)
            .with_context("hello: endpointId must not be empty")
            .into());
    }
    let push_url = match push {
        Some(registration) => Some(check_push_url(&registration.url)?),
        None => None,
    };
    let ever_registered = state.store().ever_registered(&claims.identity).await?;
    let token_expires_at = instant_of(claims.expires_at());
    Ok(Admitted {
        claims,
        endpoint,
        push_url,
        resume,
        token_expires_at,
        ever_registered,
    })
}

/// The monotonic instant of a wall-clock time (now when it is already past).
pub(crate) fn instant_of(at: SystemTime) -> Instant {
    let now = Instant::now();
    match at.duration_since(SystemTime::now()) {
        Ok(ahead) => now + ahead,
        Err(_) => now,
    }
}

/// The first text frame, skipping WebSocket-level pings; a binary frame is not a handshake.
async fn first_text(socket: &mut WebSocket, state: &AppState) -> Result<String, Refusal> {
    let wait = (state.config().signaling.heartbeat_interval * 2).max(Duration::from_secs(5));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_) => return Err(handshake_expected("no hello within the handshake time").into()),
            Ok(None) | Ok(Some(Err(_))) => return Err(Refusal::Gone),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => return Ok(text.to_string()),
            Message::Binary(_) => return Err(handshake_expected("binary frame").into()),
            Message::Close(_) => return Err(Refusal::Gone),
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}

fn check_push_url(url: &str) -> Result<String, CallingError> {
    let lower = url.to_ascii_lowercase();
    let has_host = lower
        .split_once("://")
        .is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'));
    if (lower.starts_with("http://") || lower.starts_with("https://")) && has_host {
        Ok(url.to_string())
    } else {
        Err(CallingError::new(&registry::MALFORMED_FRAME)
            .with_context("hello: push.url must be an http or https URL"))
    }
}

fn handshake_expected(context: impl Into<String>) -> CallingError {
    CallingError::new(&registry::HANDSHAKE_EXPECTED).with_context(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_urls_must_be_http() {
        assert!(check_push_url("http://127.0.0.1:9/push").is_ok());
        assert!(check_push_url("https://example.invalid/p").is_ok());
        for bad in ["ftp://x", "http://", "http:///path", "not a url", ""] {
            assert!(check_push_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn past_times_become_now() {
        let before = Instant::now();
        let instant = instant_of(SystemTime::UNIX_EPOCH);
        assert!(instant >= before && instant <= Instant::now());
        let ahead = instant_of(SystemTime::now() + Duration::from_secs(60));
        assert!(ahead > Instant::now() + Duration::from_secs(59));
    }
}

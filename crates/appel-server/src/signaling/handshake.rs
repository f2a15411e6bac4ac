//! The first exchange of a signaling connection: `hello` in, checks, and the admitted endpoint out.

use std::time::{Duration, Instant, SystemTime};

use appel_codes::{registry, CallingError};
use appel_protocol::{parse_client_frame, ClientFrame, EndpointId, PROTOCOL_VERSION};
use axum::extract::ws::{Message, WebSocket};

use crate::state::AppState;
use crate::tokens::{unauthenticated, Claims};

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

/// What a `hello` asks for, read and checked for shape before the token is.
struct Hello {
    token: String,
    endpoint: EndpointId,
    push_url: Option<String>,
    resume: bool,
}

/// Waits for `hello` and checks it: first frame, protocol version, token presence, field shapes,
/// then the token itself (the only check that reads the database).
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
    let hello = read_hello(&text)?;
    let claims = state.authenticate(&hello.token).await?;
    let ever_registered = state.store().ever_registered(&claims.identity).await?;
    let token_expires_at = instant_of(claims.expires_at());
    Ok(Admitted {
        claims,
        endpoint: hello.endpoint,
        push_url: hello.push_url,
        resume: hello.resume,
        token_expires_at,
        ever_registered,
    })
}

/// Reads the first frame as a `hello`, in the order the refusals are documented in
/// docs/protocol.md: a frame that is not a `hello` at all is 900005; another protocol version
/// 426/900004 (checked even when the rest does not read as this version's hello); a missing,
/// null or empty token 401/10009; any other field of the wrong type or value 400/900002.
fn read_hello(text: &str) -> Result<Hello, CallingError> {
    let error = match parse_client_frame(text) {
        Ok(ClientFrame::Hello {
            version,
            token,
            endpoint_id,
            push,
            resume,
        }) => {
            check_version(u64::from(version))?;
            if token.trim().is_empty() {
                return Err(unauthenticated("hello without a token"));
            }
            check_endpoint_id(endpoint_id.as_str())?;
            let push_url = match push {
                Some(registration) => Some(check_push_url(&registration.url)?),
                None => None,
            };
            return Ok(Hello {
                token,
                endpoint: endpoint_id,
                push_url,
                resume,
            });
        }
        Ok(other) => {
            return Err(handshake_expected(format!(
                "the first frame was `{}`",
                other.type_name()
            )))
        }
        Err(error) => error,
    };
    // The frame did not read as a hello: find out whether it meant to be one.
    let value = serde_json::from_str::<serde_json::Value>(text).ok();
    let Some(fields) = value
        .as_ref()
        .and_then(|v| v.as_object())
        .filter(|o| o.get("type").and_then(|t| t.as_str()) == Some("hello"))
    else {
        let mut refusal = handshake_expected("the first frame is not a hello frame");
        if let Some(context) = error.context() {
            refusal = refusal.with_raw_cause(format!("{}: {context}", error.name()));
        }
        return Err(refusal);
    };
    if let Some(version) = fields.get("version").and_then(|v| v.as_u64()) {
        check_version(version)?;
    }
    let token_given = match fields.get("token") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::String(token)) => !token.trim().is_empty(),
        // A token of another type is a malformed field, reported below.
        Some(_) => true,
    };
    if !token_given {
        return Err(unauthenticated("hello without a token"));
    }
    Err(error)
}

/// Longest endpoint id accepted, in bytes: ids are kept per connection and in call records, and
/// the SDKs' own are far shorter.
const MAX_ENDPOINT_ID_BYTES: usize = 256;

fn check_endpoint_id(id: &str) -> Result<(), CallingError> {
    let why = if id.trim().is_empty() {
        "must not be empty"
    } else if id.len() > MAX_ENDPOINT_ID_BYTES {
        "must be at most 256 bytes"
    } else if id.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(CallingError::new(&registry::MALFORMED_FRAME)
        .with_context(format!("hello: endpointId {why}")))
}

fn check_version(version: u64) -> Result<(), CallingError> {
    if version == u64::from(PROTOCOL_VERSION) {
        Ok(())
    } else {
        Err(
            CallingError::new(&registry::PROTOCOL_VERSION_UNSUPPORTED).with_context(format!(
                "the client speaks version {version}, this server {PROTOCOL_VERSION}"
            )),
        )
    }
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

    fn refusal(text: &str) -> CallingError {
        match read_hello(text) {
            Ok(_) => panic!("admitted: {text}"),
            Err(error) => error,
        }
    }

    #[test]
    fn hellos_are_read_in_the_documented_order() {
        let ok = read_hello(
            r#"{"type":"hello","version":1,"token":"t","endpointId":"e","push":{"url":"http://127.0.0.1:9/p"},"resume":true}"#,
        )
        .expect("a well-formed hello");
        assert_eq!(
            (ok.token.as_str(), ok.endpoint.as_str(), ok.resume),
            ("t", "e", true)
        );
        assert_eq!(ok.push_url.as_deref(), Some("http://127.0.0.1:9/p"));

        let cases: &[(&str, &appel_codes::Entry)] = &[
            // Not a hello at all.
            (r#"{"type":"ping"}"#, &registry::HANDSHAKE_EXPECTED),
            (r#"{"type":"teleport"}"#, &registry::HANDSHAKE_EXPECTED),
            ("not json", &registry::HANDSHAKE_EXPECTED),
            (r#"["hello"]"#, &registry::HANDSHAKE_EXPECTED),
            // Another version, even when the rest differs.
            (
                r#"{"type":"hello","version":2,"token":"t","endpointId":"e"}"#,
                &registry::PROTOCOL_VERSION_UNSUPPORTED,
            ),
            (
                r#"{"type":"hello","version":2,"endpointId":7}"#,
                &registry::PROTOCOL_VERSION_UNSUPPORTED,
            ),
            // No usable token.
            (
                r#"{"type":"hello","version":1,"endpointId":"e"}"#,
                &registry::UNAUTHENTICATED,
            ),
            (
                r#"{"type":"hello","version":1,"token":null,"endpointId":"e"}"#,
                &registry::UNAUTHENTICATED,
            ),
            (
                r#"{"type":"hello","version":1,"token":"  ","endpointId":"e"}"#,
                &registry::UNAUTHENTICATED,
            ),
            (
                r#"{"type":"hello","version":1,"token":"","endpointId":7}"#,
                &registry::UNAUTHENTICATED,
            ),
            // Fields of the wrong type or value.
            (
                r#"{"type":"hello","version":"1","token":"t","endpointId":"e"}"#,
                &registry::MALFORMED_FRAME,
            ),
            (
                r#"{"type":"hello","version":1,"token":42,"endpointId":"e"}"#,
                &registry::MALFORMED_FRAME,
            ),
            (
                r#"{"type":"hello","version":1,"token":"t","endpointId":["e"]}"#,
                &registry::MALFORMED_FRAME,
            ),
            (
                r#"{"type":"hello","version":1,"token":"t"}"#,
                &registry::MALFORMED_FRAME,
            ),
            (
                r#"{"type":"hello","version":1,"token":"t","endpointId":" "}"#,
                &registry::MALFORMED_FRAME,
            ),
            (
                r#"{"type":"hello","version":1,"token":"t","endpointId":"e\nf"}"#,
                &registry::MALFORMED_FRAME,
            ),
            (
                r#"{"type":"hello","version":1,"token":"t","endpointId":"e","resume":"yes"}"#,
                &registry::MALFORMED_FRAME,
            ),
            (
                r#"{"type":"hello","version":1,"token":"t","endpointId":"e","push":{"url":"ftp://x"}}"#,
                &registry::MALFORMED_FRAME,
            ),
        ];
        for (text, entry) in cases {
            let error = refusal(text);
            assert!(error.is(entry), "{text}: {error}");
        }
        let longest = "e".repeat(MAX_ENDPOINT_ID_BYTES);
        let hello =
            |id: &str| format!(r#"{{"type":"hello","version":1,"token":"t","endpointId":"{id}"}}"#);
        assert!(read_hello(&hello(&longest)).is_ok());
        let error = refusal(&hello(&format!("{longest}e")));
        assert!(error.is(&registry::MALFORMED_FRAME), "{error}");
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

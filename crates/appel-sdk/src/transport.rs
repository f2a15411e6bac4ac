//! Opening a signaling connection: TCP, the WebSocket upgrade, then `hello` → `welcome`. Each way
//! this can fail has its own catalogue entry.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appel_codes::{registry, CallingError};
use appel_protocol::{
    parse_server_frame, ClientFrame, IdentityId, ResumedCall, ServerFrame, PROTOCOL_VERSION,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// An open signaling connection.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The path of the signaling endpoint on an Appel server.
const SIGNALING_PATH: &str = "/signaling";

/// What `welcome` told the agent.
#[derive(Clone, Debug)]
pub(crate) struct Welcome {
    pub identity: IdentityId,
    pub heartbeat: Duration,
    pub token_expires_at: SystemTime,
    pub resumed_calls: Vec<ResumedCall>,
    /// Whether the server takes `report` frames.
    pub client_reports: bool,
}

/// The WebSocket URL of the server's signaling endpoint: http(s) becomes ws(s), and a URL without
/// a path gets `/signaling`.
pub(crate) fn signaling_url(server_url: &str) -> Result<String, CallingError> {
    let invalid = |why: &str| {
        CallingError::new(&registry::INVALID_ARGUMENT)
            .with_context(format!("server_url `{server_url}`: {why}"))
    };
    let trimmed = server_url.trim();
    let (scheme, rest) = trimmed
        .split_once("://")
        .ok_or_else(|| invalid("expected http://, https://, ws:// or wss://"))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return Err(invalid("expected http://, https://, ws:// or wss://")),
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("no host"));
    }
    let url = if rest.contains('/') {
        format!("{scheme}://{rest}")
    } else {
        format!("{scheme}://{rest}{SIGNALING_PATH}")
    };
    url.parse::<Uri>()
        .map_err(|e| invalid("not a valid URL").with_raw_cause(e.to_string()))?;
    Ok(url)
}

/// Opens the TCP connection (40114 when refused, unresolvable or too slow) and upgrades it to a
/// WebSocket (40115 when the server answers anything but the upgrade).
pub(crate) async fn connect(url: &str, timeout: Duration) -> Result<Socket, CallingError> {
    let uri: Uri =
        url.parse()
            .map_err(|e: tokio_tungstenite::tungstenite::http::uri::InvalidUri| {
                CallingError::new(&registry::INVALID_ARGUMENT)
                    .with_context(format!("server_url `{url}`"))
                    .with_raw_cause(e.to_string())
            })?;
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("wss") {
            443
        } else {
            80
        });
    let unreachable = |cause: String| {
        CallingError::new(&registry::SIGNALING_UNREACHABLE)
            .with_context(format!("{host}:{port}"))
            .with_raw_cause(cause)
    };
    let tcp = match tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port))).await {
        Err(_) => return Err(unreachable(format!("no connection within {timeout:?}"))),
        Ok(Err(e)) => return Err(unreachable(format!("{:?}: {e}", e.kind()))),
        Ok(Ok(tcp)) => tcp,
    };
    let _ = tcp.set_nodelay(true);
    let refused = |cause: String| {
        CallingError::new(&registry::SIGNALING_HANDSHAKE_FAILED)
            .with_context(format!("WebSocket upgrade at {url}"))
            .with_raw_cause(cause)
    };
    match tokio::time::timeout(
        timeout,
        tokio_tungstenite::client_async_tls_with_config(
            url,
            tcp,
            // Signaling frames are small: see the server's SIGNALING_READ_BUFFER.
            Some(WebSocketConfig::default().read_buffer_size(4096)),
            None,
        ),
    )
    .await
    {
        Err(_) => Err(refused(format!("no upgrade within {timeout:?}"))),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
            Err(refused(format!("HTTP {}", response.status())))
        }
        Ok(Err(e)) => Err(refused(e.to_string())),
        Ok(Ok((socket, _response))) => Ok(socket),
    }
}

/// Sends `hello` and waits for `welcome`. The server's own refusal (an `error` frame, such as
/// 401/10009 for a bad token) is returned as is, being more precise than any SDK entry; an answer
/// that is not a well-formed `welcome` is 40115; silence past `timeout` is 40101.
pub(crate) async fn handshake(
    socket: &mut Socket,
    hello: ClientFrame,
    timeout: Duration,
) -> Result<Welcome, CallingError> {
    let malformed = |cause: String| {
        CallingError::new(&registry::SIGNALING_HANDSHAKE_FAILED)
            .with_context("hello")
            .with_raw_cause(cause)
    };
    let ClientFrame::Hello { endpoint_id, .. } = &hello else {
        return Err(CallingError::new(&registry::CALL_AGENT_INTERNAL_FAILURE)
            .with_context("the handshake must start with hello"));
    };
    let endpoint_id = endpoint_id.clone();
    socket
        .send(Message::text(hello.to_json()))
        .await
        .map_err(|e| malformed(format!("sending hello: {e}")))?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let message = match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => {
                return Err(
                    CallingError::new(&registry::CALL_AGENT_REGISTRATION_TIMEOUT)
                        .with_context("hello")
                        .with_raw_cause(format!("no welcome within {timeout:?}")),
                )
            }
            Ok(None) => return Err(malformed("the server closed the connection".into())),
            Ok(Some(Err(e))) => return Err(malformed(e.to_string())),
            Ok(Some(Ok(message))) => message,
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            Message::Binary(_) => {
                return Err(malformed("a binary frame instead of welcome".into()))
            }
            Message::Close(frame) => {
                return Err(malformed(format!(
                    "the server closed the connection{}",
                    frame
                        .map(|f| format!(": {} {}", f.code, f.reason))
                        .unwrap_or_default()
                )))
            }
        };
        match parse_server_frame(text.as_str()) {
            Ok(ServerFrame::Welcome {
                version,
                identity,
                endpoint_id: echoed,
                heartbeat_interval_ms,
                token_expires_at,
                resumed_calls,
                client_reports,
                ..
            }) => {
                if version != PROTOCOL_VERSION
                    || echoed != endpoint_id
                    || heartbeat_interval_ms == 0
                {
                    return Err(malformed(format!(
                        "welcome with version {version}, endpoint {echoed}, heartbeat {heartbeat_interval_ms} ms"
                    )));
                }
                return Ok(Welcome {
                    identity,
                    heartbeat: Duration::from_millis(heartbeat_interval_ms),
                    token_expires_at: UNIX_EPOCH + Duration::from_millis(token_expires_at),
                    resumed_calls,
                    client_reports,
                });
            }
            Ok(ServerFrame::Error { error, .. }) => return Err(error),
            Ok(ServerFrame::Ping) => {
                let _ = socket
                    .send(Message::text(ClientFrame::Pong.to_json()))
                    .await;
            }
            Ok(other) => {
                return Err(malformed(format!(
                    "`{}` instead of welcome",
                    other.type_name()
                )))
            }
            Err(error) => {
                return Err(malformed(format!(
                    "{}: {}",
                    error.name(),
                    error.raw_cause().or(error.context()).unwrap_or_default()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_become_signaling_urls() {
        assert_eq!(
            signaling_url("http://127.0.0.1:8080").unwrap(),
            "ws://127.0.0.1:8080/signaling"
        );
        assert_eq!(
            signaling_url("https://appel.example/").unwrap(),
            "wss://appel.example/signaling"
        );
        assert_eq!(
            signaling_url("ws://h:1/custom/path").unwrap(),
            "ws://h:1/custom/path"
        );
        for bad in [
            "",
            "127.0.0.1:8080",
            "ftp://h",
            "http://",
            "http:///x",
            "http://bad host",
        ] {
            let error = signaling_url(bad).unwrap_err();
            assert!(error.is(&registry::INVALID_ARGUMENT), "{bad}: {error}");
        }
    }
}

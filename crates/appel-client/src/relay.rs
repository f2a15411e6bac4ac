//! The media relay (TURN) credentials an SDK fetches before a call's media starts: where to ask
//! (`GET /relay/credentials` of the server, with the user's token as bearer) and how to read the
//! answer. The request itself belongs to the shell (tokio, or the page's `fetch`); each way it can
//! fail — unreachable, a non-2xx status, a body that is not the documented shape — is 490/4502,
//! since the call cannot set up the media path it was asked to. docs/relay.md.

use appel_codes::{registry, CallingError};
use serde_json::Value;

/// The path of the credentials endpoint on the server.
pub const CREDENTIALS_PATH: &str = "/relay/credentials";

/// One ICE server as the server hands it, ready for an `RTCIceServer` or a native ICE agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceServer {
    /// `turn:`, `turns:` or `stun:` urls.
    pub urls: Vec<String>,
    /// `<expiry unix time>:<identity>`.
    pub username: String,
    /// base64(HMAC-SHA1(relay secret, username)).
    pub credential: String,
}

/// What the server answered: empty `ice_servers` when it has no relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayCredentials {
    pub ice_servers: Vec<IceServer>,
    /// When the credentials expire (Unix seconds); `None` without a relay.
    pub expires_at: Option<u64>,
}

impl RelayCredentials {
    /// Whether the server gave at least one relay (`turn:`/`turns:`) url.
    pub fn has_relay(&self) -> bool {
        self.ice_servers
            .iter()
            .flat_map(|s| &s.urls)
            .any(|u| u.starts_with("turn:") || u.starts_with("turns:"))
    }
}

/// The http(s) url of the credentials endpoint for an SDK's `server_url` (`http://host:port`,
/// `https://…`, or the signaling `ws://…/signaling` form): the same host, the same security.
pub fn credentials_url(server_url: &str) -> Option<String> {
    let (scheme, rest) = server_url.split_once("://")?;
    let scheme = match scheme {
        "http" | "ws" => "http",
        "https" | "wss" => "https",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{authority}{CREDENTIALS_PATH}"))
}

/// 490/4502 for a request that could not be completed, with what happened as the raw cause.
pub fn request_failed(cause: impl Into<String>) -> CallingError {
    CallingError::new(&registry::HTTP_REQUEST_FAILED)
        .with_context(format!("GET {CREDENTIALS_PATH}"))
        .with_raw_cause(cause)
}

/// Reads the server's answer: a 2xx status with `{iceServers: [{urls, username, credential}]}`.
pub fn read_answer(status: u16, body: &str) -> Result<RelayCredentials, CallingError> {
    if !(200..300).contains(&status) {
        let shown: String = body.chars().take(200).collect();
        return Err(request_failed(format!("HTTP {status}: {shown}")));
    }
    let malformed = |why: &str| request_failed(format!("malformed answer: {why}"));
    let value: Value = serde_json::from_str(body).map_err(|e| malformed(&e.to_string()))?;
    let servers = value
        .get("iceServers")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no iceServers list"))?;
    let mut ice_servers = Vec::with_capacity(servers.len());
    for server in servers {
        let text = |name: &str| {
            server
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| malformed(&format!("an ice server without {name}")))
        };
        let urls = server
            .get("urls")
            .and_then(Value::as_array)
            .filter(|urls| !urls.is_empty())
            .and_then(|urls| {
                urls.iter()
                    .map(|u| u.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| malformed("an ice server without a list of urls"))?;
        ice_servers.push(IceServer {
            urls,
            username: text("username")?,
            credential: text("credential")?,
        });
    }
    let expires_at = match value.get("expiresAt") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| malformed("expiresAt"))?),
    };
    Ok(RelayCredentials {
        ice_servers,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_on_the_servers_host_with_the_same_security() {
        for (given, expected) in [
            (
                "http://127.0.0.1:8080",
                "http://127.0.0.1:8080/relay/credentials",
            ),
            (
                "http://127.0.0.1:8080/",
                "http://127.0.0.1:8080/relay/credentials",
            ),
            (
                "ws://127.0.0.1:9/signaling",
                "http://127.0.0.1:9/relay/credentials",
            ),
            (
                "wss://appel.example/signaling",
                "https://appel.example/relay/credentials",
            ),
            (
                "https://appel.example",
                "https://appel.example/relay/credentials",
            ),
        ] {
            assert_eq!(credentials_url(given).as_deref(), Some(expected), "{given}");
        }
        for bad in ["", "127.0.0.1:8080", "ftp://host", "http://", "http:///x"] {
            assert_eq!(credentials_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_unreadable_answer_is_4502_and_a_good_one_is_read() {
        let good = r#"{"iceServers":[{"urls":["turn:127.0.0.1:3478"],"username":"9:a","credential":"c"}],"ttl":5,"expiresAt":9}"#;
        let read = read_answer(200, good).expect("a good answer");
        assert!(read.has_relay());
        assert_eq!(read.expires_at, Some(9));
        assert_eq!(read.ice_servers[0].username, "9:a");
        let empty = read_answer(200, r#"{"iceServers":[],"ttl":0}"#).expect("no relay");
        assert!(!empty.has_relay());
        for (status, body) in [
            (500, "{}"),
            (401, r#"{"code":401,"subCode":10009}"#),
            (302, good),
            (200, "<html>"),
            (200, "{}"),
            (200, r#"{"iceServers":{}}"#),
            (
                200,
                r#"{"iceServers":[{"urls":[],"username":"u","credential":"c"}]}"#,
            ),
            (
                200,
                r#"{"iceServers":[{"urls":["turn:x"],"credential":"c"}]}"#,
            ),
            (
                200,
                r#"{"iceServers":[{"urls":[7],"username":"u","credential":"c"}]}"#,
            ),
            (200, r#"{"iceServers":[],"expiresAt":"soon"}"#),
        ] {
            let error = read_answer(status, body).expect_err(body);
            assert!(error.is(&registry::HTTP_REQUEST_FAILED), "{status} {body}");
        }
    }
}

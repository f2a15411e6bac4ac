//! Short-lived credentials for the media relay (TURN), in the shared-secret scheme TURN servers
//! such as coturn check with `use-auth-secret`: the username is `<expiry unix time>:<identity>`
//! and the password the base64 of HMAC-SHA1(secret, username). The relay needs no account per user
//! and no call to this server: it recomputes the password and refuses an expired username.
//! docs/relay.md.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha1::Sha1;

use crate::config::Relay;

/// One ICE server entry, shaped as `RTCIceServer` so a browser can take it as it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

/// The answer of `GET /relay/credentials`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelayCredentials {
    /// Empty when no relay is configured.
    pub ice_servers: Vec<IceServer>,
    /// Seconds the credentials stay valid (0 without a relay).
    pub ttl: u64,
    /// When they expire, in Unix seconds (absent without a relay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

/// The TURN password of `username`.
pub fn password(secret: &str, username: &str) -> String {
    // HMAC accepts a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Credentials for `identity`, valid from `now` for the configured lifetime.
pub fn issue(config: &Relay, identity: &str, now: SystemTime) -> RelayCredentials {
    let Some(secret) = config.secret.as_deref().filter(|_| !config.urls.is_empty()) else {
        return RelayCredentials {
            ice_servers: Vec::new(),
            ttl: 0,
            expires_at: None,
        };
    };
    let expires = now + config.credential_lifetime;
    let expires_at = expires
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let username = format!("{expires_at}:{identity}");
    RelayCredentials {
        ice_servers: vec![IceServer {
            urls: config.urls.clone(),
            credential: password(secret, &username),
            username,
        }],
        ttl: config.credential_lifetime.as_secs(),
        expires_at: Some(expires_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_base64_hmac_sha1_of_the_username() {
        // Computed independently: printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac
        // 'north' -binary | base64
        assert_eq!(
            password("north", "1700000000:alice"),
            "Cd/49soE35ICqcJF/bCTn8Z4OyE="
        );
    }

    #[test]
    fn no_relay_gives_an_empty_list_and_a_relay_gives_expiring_credentials() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let none = issue(&Relay::default(), "alice", now);
        assert!(none.ice_servers.is_empty());
        let config = Relay {
            urls: vec!["turn:127.0.0.1:3478".into()],
            secret: Some("north".into()),
            credential_lifetime: Duration::from_secs(600),
        };
        let given = issue(&config, "alice", now);
        assert_eq!(given.expires_at, Some(1_700_000_600));
        assert_eq!(given.ice_servers[0].username, "1700000600:alice");
        assert_eq!(
            given.ice_servers[0].credential,
            password("north", "1700000600:alice")
        );
        assert_ne!(
            password("north", "1700000600:alice"),
            password("south", "1700000600:alice")
        );
    }
}

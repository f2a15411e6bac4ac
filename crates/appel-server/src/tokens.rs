//! User access tokens: HS256 JWTs signed with a key derived from the server's access key.
//!
//! The signing key is HMAC-SHA256(access key, fixed label), so a leaked token never exposes the
//! access key itself, and rotating the access key invalidates every token. `iat` and `exp` are
//! NumericDates with millisecond precision (RFC 7519 allows fractions): revocation compares `iat`
//! with the moment of revocation, and a token issued in the same second as a revocation must stay
//! valid. Revocation and deletion need the store; [`TokenKeys::verify`] checks everything else.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appel_codes::{registry, CallingError};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Shortest lifetime a client may ask for.
pub const MIN_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// Longest lifetime, and the default.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// The scope that allows calling.
pub const VOIP_SCOPE: &str = "voip";

/// The label the signing key is derived with; changing it invalidates every token.
const SIGNING_KEY_LABEL: &[u8] = b"appel token signing key v1";

/// The claims of a user token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The identity the token speaks for.
    pub identity: String,
    /// What the token allows (`voip`).
    pub scopes: Vec<String>,
    /// Issued at, in seconds since the epoch (millisecond precision).
    pub iat: f64,
    /// Expires at, in seconds since the epoch (millisecond precision).
    pub exp: f64,
    /// Unique id of this token.
    pub jti: String,
}

impl Claims {
    /// When the token was issued.
    pub fn issued_at(&self) -> SystemTime {
        from_numeric_date(self.iat)
    }

    /// When the token expires.
    pub fn expires_at(&self) -> SystemTime {
        from_numeric_date(self.exp)
    }
}

/// A freshly signed token and what it says.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// Its claims.
    pub claims: Claims,
}

/// The keys tokens are signed and checked with.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    /// Derives the signing key from the server's access key.
    pub fn from_access_key(access_key: &str) -> TokenKeys {
        let secret = derive_signing_key(access_key);
        TokenKeys {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
        }
    }

    /// Signs a token for `identity` that expires at `expires_at`. The REST layer enforces the
    /// allowed lifetimes; this lower level lets tests mint short-lived tokens.
    pub fn issue(
        &self,
        identity: &str,
        scopes: &[String],
        issued_at: SystemTime,
        expires_at: SystemTime,
    ) -> Result<IssuedToken, CallingError> {
        let claims = Claims {
            identity: identity.to_string(),
            scopes: scopes.to_vec(),
            iat: numeric_date(issued_at),
            exp: numeric_date(expires_at),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| {
            CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                .with_context("signing a token")
                .with_raw_cause(e.to_string())
        })?;
        Ok(IssuedToken { token, claims })
    }

    /// Checks algorithm, signature, scope and expiry. Any failure is 401/10009, with the reason as
    /// raw cause so an operator can tell a forged token from an expired one.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<Claims, CallingError> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below with millisecond precision and no leeway.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| unauthenticated(format!("token rejected: {e}")))?;
        let claims = data.claims;
        // Only this server signs tokens, and never for an empty identity; one that names nobody
        // must not open a connection that the rest of the server would attribute to "".
        if claims.identity.is_empty() {
            return Err(unauthenticated("token names no identity"));
        }
        if !claims.scopes.iter().any(|s| s == VOIP_SCOPE) {
            return Err(unauthenticated("token lacks the voip scope"));
        }
        if claims.expires_at() <= now {
            return Err(unauthenticated("token expired"));
        }
        Ok(claims)
    }
}

/// 401/10009 with the precise reason kept as raw cause.
pub fn unauthenticated(raw_cause: impl Into<String>) -> CallingError {
    CallingError::new(&registry::UNAUTHENTICATED).with_raw_cause(raw_cause)
}

fn derive_signing_key(access_key: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(access_key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(SIGNING_KEY_LABEL);
    mac.finalize().into_bytes().to_vec()
}

/// Seconds since the epoch, rounded to the millisecond.
fn numeric_date(at: SystemTime) -> f64 {
    let millis = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    millis as f64 / 1000.0
}

fn from_numeric_date(seconds: f64) -> SystemTime {
    if seconds.is_finite() && seconds > 0.0 {
        UNIX_EPOCH + Duration::from_millis((seconds * 1000.0).round() as u64)
    } else {
        UNIX_EPOCH
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voip() -> Vec<String> {
        vec![VOIP_SCOPE.to_string()]
    }

    #[test]
    fn a_token_verifies_with_the_same_access_key_only() {
        let now = SystemTime::now();
        let keys = TokenKeys::from_access_key("key-one");
        let issued = keys
            .issue("alice", &voip(), now, now + MIN_LIFETIME)
            .expect("issue");
        let claims = keys.verify(&issued.token, now).expect("verify");
        assert_eq!(claims.identity, "alice");
        assert_eq!(claims, issued.claims);

        let other = TokenKeys::from_access_key("key-two");
        let error = other.verify(&issued.token, now).expect_err("wrong key");
        assert!(error.is(&registry::UNAUTHENTICATED));
    }

    #[test]
    fn the_signing_key_is_not_the_access_key() {
        let now = SystemTime::now();
        let claims = Claims {
            identity: "alice".into(),
            scopes: voip(),
            iat: numeric_date(now),
            exp: numeric_date(now + MIN_LIFETIME),
            jti: "x".into(),
        };
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"access"),
        )
        .expect("encode");
        let keys = TokenKeys::from_access_key("access");
        assert!(keys.verify(&forged, now).is_err());
    }

    #[test]
    fn expired_unscoped_and_unsigned_tokens_are_unauthenticated() {
        let now = SystemTime::now();
        let keys = TokenKeys::from_access_key("key");
        let expired = keys
            .issue(
                "a",
                &voip(),
                now - MIN_LIFETIME,
                now - Duration::from_millis(1),
            )
            .expect("issue");
        let unscoped = keys
            .issue("a", &["chat".to_string()], now, now + MIN_LIFETIME)
            .expect("issue");
        let header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = base64url(
            serde_json::to_string(&unscoped.claims)
                .expect("json")
                .as_bytes(),
        );
        let unsigned = format!("{header}.{payload}.");
        for token in [
            expired.token.as_str(),
            &unscoped.token,
            &unsigned,
            "garbage",
        ] {
            let error = keys.verify(token, now).expect_err("rejected");
            assert!(error.is(&registry::UNAUTHENTICATED), "{token}");
        }
    }

    #[test]
    fn a_rightly_signed_token_that_names_no_identity_is_unauthenticated() {
        let now = SystemTime::now();
        let keys = TokenKeys::from_access_key("key");
        let nobody = keys
            .issue("", &voip(), now, now + MIN_LIFETIME)
            .expect("issue");
        let error = keys.verify(&nobody.token, now).expect_err("rejected");
        assert!(error.is(&registry::UNAUTHENTICATED));
        assert_eq!(error.raw_cause(), Some("token names no identity"));
    }

    #[test]
    fn dates_keep_millisecond_precision() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(from_numeric_date(numeric_date(at)), at);
    }

    fn base64url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}

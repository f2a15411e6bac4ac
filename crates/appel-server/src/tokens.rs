//! User access tokens: HS256 JWTs signed with a key derived from the server's access key.
//!
//! The signing key is HMAC-SHA256(access key, fixed label), so a leaked token never exposes the
//! access key itself, and rotating the access key invalidates every token. `iat`, `nbf` and `exp`
//! are NumericDates with millisecond precision (RFC 7519 allows fractions).
//!
//! Revocation does not look at any date a token carries: each identity has a token generation in
//! the database, every token carries the generation it was issued in (`gen`), and revoking bumps
//! the generation, so a token minted with a date in the future gains nothing. Dates are still
//! checked: a token is refused before its `nbf`, and when its `iat` lies further ahead than the
//! clock leeway (`tokens.clock_leeway`), since no honest issuer dates a token in the future.
//! [`TokenKeys::verify`] checks the token alone; [`check_generation`] its standing against the
//! identity's stored state.

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
/// Default tolerance for the issuer's clock being ahead of this server's (`tokens.clock_leeway`).
pub const DEFAULT_CLOCK_LEEWAY: Duration = Duration::from_secs(30);
/// Largest clock leeway the configuration accepts: beyond it, `nbf` would mean little.
pub const MAX_CLOCK_LEEWAY: Duration = Duration::from_secs(5 * 60);

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
    /// Not valid before, in seconds since the epoch; tokens this server issues leave it out
    /// (they are valid from `iat`), but one that carries it is held to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<f64>,
    /// Expires at, in seconds since the epoch (millisecond precision).
    pub exp: f64,
    /// Unique id of this token.
    pub jti: String,
    /// The identity's token generation when the token was issued. `None` for tokens issued before
    /// generations existed, which [`check_generation`] treats as generation 0.
    #[serde(default, rename = "gen", skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
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

    /// When the token becomes valid, when it says.
    pub fn not_before(&self) -> Option<SystemTime> {
        self.nbf.map(from_numeric_date)
    }

    /// The generation the token was issued in (0 for a token older than generations).
    pub fn generation(&self) -> u64 {
        self.generation.unwrap_or(0)
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

    /// Signs a token for `identity`, in the identity's current token `generation`, that expires at
    /// `expires_at`. The REST layer enforces the allowed lifetimes; this lower level lets tests
    /// mint short-lived tokens.
    pub fn issue(
        &self,
        identity: &str,
        scopes: &[String],
        generation: u64,
        issued_at: SystemTime,
        expires_at: SystemTime,
    ) -> Result<IssuedToken, CallingError> {
        let claims = Claims {
            identity: identity.to_string(),
            scopes: scopes.to_vec(),
            iat: numeric_date(issued_at),
            nbf: None,
            exp: numeric_date(expires_at),
            jti: uuid::Uuid::new_v4().to_string(),
            generation: Some(generation),
        };
        let token = self.sign(&claims)?;
        Ok(IssuedToken { token, claims })
    }

    /// Signs whatever claims it is given, unchecked: [`TokenKeys::issue`] is the normal way; this
    /// one lets tests build the tokens an attacker holding the key would (dates in the future, no
    /// generation).
    pub fn sign(&self, claims: &Claims) -> Result<String, CallingError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding).map_err(|e| {
            CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                .with_context("signing a token")
                .with_raw_cause(e.to_string())
        })
    }

    /// Checks algorithm, signature, scope and dates: expired at `exp` (no leeway: the holder was
    /// told when), not yet valid before `nbf`, and refused when `iat` or `nbf` lie further ahead of
    /// `now` than `leeway`. Any failure is 401/10009, with the reason as raw cause so an operator
    /// can tell a forged token from an expired one.
    pub fn verify(
        &self,
        token: &str,
        now: SystemTime,
        leeway: Duration,
    ) -> Result<Claims, CallingError> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Dates are checked below with millisecond precision.
        validation.validate_exp = false;
        validation.validate_nbf = false;
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
        let horizon = now + leeway;
        if let Some(not_before) = claims.not_before() {
            if not_before > horizon {
                return Err(unauthenticated(format!(
                    "token not yet valid: nbf is {} ms ahead (leeway {} ms)",
                    ahead_ms(not_before, now),
                    leeway.as_millis()
                )));
            }
        }
        if claims.issued_at() > horizon {
            return Err(unauthenticated(format!(
                "token issued in the future: iat is {} ms ahead (leeway {} ms)",
                ahead_ms(claims.issued_at(), now),
                leeway.as_millis()
            )));
        }
        Ok(claims)
    }
}

/// Whether a verified token still speaks for its identity, given the identity's stored token
/// `current` generation and the revocation moment recorded before generations existed.
///
/// A token of the current generation stands; an older one was revoked; a newer one cannot come
/// from this database (a restored backup, or a key used elsewhere) and is refused too. A token
/// without a generation was issued before generations existed: it stands only while the identity
/// was never revoked since (generation 0), and only if it was issued after the last revocation of
/// that time, as it was checked then.
pub fn check_generation(
    claims: &Claims,
    current: u64,
    legacy_revoked_before_ms: Option<i64>,
) -> Result<(), CallingError> {
    match claims.generation {
        Some(generation) if generation == current => Ok(()),
        Some(generation) if generation < current => Err(unauthenticated(format!(
            "token revoked: issued in generation {generation}, the identity is at {current}"
        ))),
        Some(generation) => Err(unauthenticated(format!(
            "token generation {generation} is ahead of the identity's {current}"
        ))),
        None if current > 0 => Err(unauthenticated(
            "token revoked: it predates token generations and the identity's tokens were revoked since",
        )),
        None => match legacy_revoked_before_ms {
            Some(before) if crate::store::unix_ms(claims.issued_at()) < before => {
                Err(unauthenticated("token revoked"))
            }
            _ => Ok(()),
        },
    }
}

/// 401/10009 with the precise reason kept as raw cause.
pub fn unauthenticated(raw_cause: impl Into<String>) -> CallingError {
    CallingError::new(&registry::UNAUTHENTICATED).with_raw_cause(raw_cause)
}

fn ahead_ms(at: SystemTime, now: SystemTime) -> u128 {
    at.duration_since(now).map(|d| d.as_millis()).unwrap_or(0)
}

fn derive_signing_key(access_key: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(access_key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(SIGNING_KEY_LABEL);
    mac.finalize().into_bytes().to_vec()
}

/// Seconds since the epoch, rounded to the millisecond.
pub fn numeric_date(at: SystemTime) -> f64 {
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

    const LEEWAY: Duration = Duration::from_secs(30);

    fn voip() -> Vec<String> {
        vec![VOIP_SCOPE.to_string()]
    }

    /// Claims as an attacker holding the key would write them, dated relative to `now`.
    fn claims_at(now: SystemTime, iat: SystemTime, nbf: Option<SystemTime>) -> Claims {
        Claims {
            identity: "alice".into(),
            scopes: voip(),
            iat: numeric_date(iat),
            nbf: nbf.map(numeric_date),
            exp: numeric_date(now + MIN_LIFETIME),
            jti: "j".into(),
            generation: Some(0),
        }
    }

    fn raw_cause(error: &CallingError) -> String {
        assert!(error.is(&registry::UNAUTHENTICATED), "{error}");
        error.raw_cause().unwrap_or_default().to_string()
    }

    #[test]
    fn a_token_verifies_with_the_same_access_key_only() {
        let now = SystemTime::now();
        let keys = TokenKeys::from_access_key("key-one");
        let issued = keys
            .issue("alice", &voip(), 3, now, now + MIN_LIFETIME)
            .expect("issue");
        let claims = keys.verify(&issued.token, now, LEEWAY).expect("verify");
        assert_eq!(claims.generation, Some(3));
        assert_eq!(claims.identity, "alice");
        assert_eq!(claims, issued.claims);

        let other = TokenKeys::from_access_key("key-two");
        let error = other
            .verify(&issued.token, now, LEEWAY)
            .expect_err("wrong key");
        assert!(error.is(&registry::UNAUTHENTICATED));
    }

    #[test]
    fn the_signing_key_is_not_the_access_key() {
        let now = SystemTime::now();
        let claims = claims_at(now, now, None);
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"access"),
        )
        .expect("encode");
        let keys = TokenKeys::from_access_key("access");
        assert!(keys.verify(&forged, now, LEEWAY).is_err());
    }

    #[test]
    fn expired_unscoped_and_unsigned_tokens_are_unauthenticated() {
        let now = SystemTime::now();
        let keys = TokenKeys::from_access_key("key");
        let expired = keys
            .issue(
                "a",
                &voip(),
                0,
                now - MIN_LIFETIME,
                now - Duration::from_millis(1),
            )
            .expect("issue");
        let unscoped = keys
            .issue("a", &["chat".to_string()], 0, now, now + MIN_LIFETIME)
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
            let error = keys.verify(token, now, LEEWAY).expect_err("rejected");
            assert!(error.is(&registry::UNAUTHENTICATED), "{token}");
        }
    }

    #[test]
    fn a_token_before_its_nbf_is_refused_beyond_the_leeway_only() {
        let now = SystemTime::now();
        let keys = TokenKeys::from_access_key("key");
        let early = keys
            .sign(&claims_at(now, now, Some(now + Duration::from_secs(600))))
            .expect("sign");
        let cause = raw_cause(&keys.verify(&early, now, LEEWAY).expect_err("early"));
        assert!(cause.starts_with("token not yet valid"), "{cause}");
        // Valid once the moment comes, and a few seconds early within the leeway.
        assert!(keys
            .verify(&early, now + Duration::from_secs(600), LEEWAY)
            .is_ok());
        let slightly = keys
            .sign(&claims_at(now, now, Some(now + Duration::from_secs(10))))
            .expect("sign");
        assert!(keys.verify(&slightly, now, LEEWAY).is_ok());
        assert!(keys.verify(&slightly, now, Duration::ZERO).is_err());
        let past = keys
            .sign(&claims_at(now, now, Some(now - Duration::from_secs(10))))
            .expect("sign");
        assert!(keys.verify(&past, now, Duration::ZERO).is_ok());
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused_beyond_the_leeway_only() {
        let now = SystemTime::now();
        let keys = TokenKeys::from_access_key("key");
        let future = keys
            .sign(&claims_at(now, now + Duration::from_secs(3600), None))
            .expect("sign");
        let cause = raw_cause(&keys.verify(&future, now, LEEWAY).expect_err("future"));
        assert!(cause.starts_with("token issued in the future"), "{cause}");
        let skewed = keys
            .sign(&claims_at(now, now + Duration::from_secs(20), None))
            .expect("sign");
        assert!(keys.verify(&skewed, now, LEEWAY).is_ok());
        assert!(keys.verify(&skewed, now, Duration::from_secs(19)).is_err());
    }

    #[test]
    fn only_the_current_generation_stands() {
        let now = SystemTime::now();
        let mut claims = claims_at(now, now, None);
        claims.generation = Some(2);
        assert!(check_generation(&claims, 2, None).is_ok());
        let cause = raw_cause(&check_generation(&claims, 3, None).expect_err("older"));
        assert!(cause.starts_with("token revoked"), "{cause}");
        assert!(check_generation(&claims, 1, None).is_err(), "ahead");
        // The revocation moment of old databases says nothing about tokens with a generation,
        // whatever date they carry.
        claims.iat = numeric_date(now + Duration::from_secs(20));
        claims.generation = Some(0);
        assert!(check_generation(&claims, 1, Some(crate::store::unix_ms(now))).is_err());
    }

    #[test]
    fn tokens_older_than_generations_stand_until_the_first_revocation() {
        let now = SystemTime::now();
        let mut legacy = claims_at(now, now, None);
        legacy.generation = None;
        let json = serde_json::to_value(&legacy).expect("json");
        assert!(json.get("gen").is_none(), "{json}");
        assert_eq!(legacy.generation(), 0);
        assert!(check_generation(&legacy, 0, None).is_ok());
        let before_ms = crate::store::unix_ms(now + Duration::from_millis(1));
        assert!(check_generation(&legacy, 0, Some(before_ms)).is_err());
        let after_ms = crate::store::unix_ms(now);
        assert!(check_generation(&legacy, 0, Some(after_ms)).is_ok());
        let cause = raw_cause(&check_generation(&legacy, 1, None).expect_err("revoked since"));
        assert!(cause.contains("predates token generations"), "{cause}");
    }

    #[test]
    fn a_rightly_signed_token_that_names_no_identity_is_unauthenticated() {
        let now = SystemTime::now();
        let keys = TokenKeys::from_access_key("key");
        let nobody = keys
            .issue("", &voip(), 0, now, now + MIN_LIFETIME)
            .expect("issue");
        let error = keys
            .verify(&nobody.token, now, LEEWAY)
            .expect_err("rejected");
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

//! Every access token a client may present, in `hello`, `refreshToken` and `GET /validate`.
//!
//! Three kinds of input: any text at all; a JWT whose header and claims are whatever the fuzzer
//! wrote but whose signature is right (what a leaked signing key, or a bug in the claims checks,
//! would let through); and the same signed with another key. Whatever verifies must name an
//! identity, carry the voip scope, expire after `now`, and have been signed with HS256.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appel_codes::registry;
use appel_server::tokens::{TokenKeys, VOIP_SCOPE};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

const ACCESS_KEY: &str = "fuzz-access-key";
/// The label `tokens.rs` derives its signing key with; [`keys`] checks it still matches.
const SIGNING_KEY_LABEL: &[u8] = b"appel token signing key v1";

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn sign(secret: &[u8], header: &[u8], claims: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = URL_SAFE_NO_PAD.encode(hmac(secret, signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// The server's default tolerance for clocks running ahead of its own.
const LEEWAY: Duration = appel_server::tokens::DEFAULT_CLOCK_LEEWAY;

/// A fixed clock, so a crash found today reproduces tomorrow.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_780_000_000)
}

/// The server's keys and the raw secret behind them. The secret is derived here the same way the
/// server does; a token the server issues is re-signed with it to prove the two agree, otherwise
/// the "valid signature" inputs would quietly test nothing.
fn keys() -> &'static (TokenKeys, Vec<u8>) {
    static KEYS: OnceLock<(TokenKeys, Vec<u8>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let keys = TokenKeys::from_access_key(ACCESS_KEY);
        let secret = hmac(ACCESS_KEY.as_bytes(), SIGNING_KEY_LABEL);
        let issued = keys
            .issue(
                "alice",
                &[VOIP_SCOPE.to_string()],
                0,
                now(),
                now() + Duration::from_secs(3600),
            )
            .expect("issue");
        let (signing_input, signature) = issued.token.rsplit_once('.').expect("three parts");
        let ours = URL_SAFE_NO_PAD.encode(hmac(&secret, signing_input.as_bytes()));
        assert_eq!(
            ours, signature,
            "the fuzz target no longer derives the server's signing key"
        );
        (keys, secret)
    })
}

fuzz_target!(|data: &[u8]| {
    let (keys, secret) = keys();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = match mode % 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        kind => {
            let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let header = &rest[..split];
            let claims = rest.get(split + 1..).unwrap_or_default();
            if kind == 1 {
                sign(secret, header, claims)
            } else {
                sign(b"another key", header, claims)
            }
        }
    };
    match keys.verify(&token, now(), LEEWAY) {
        Ok(claims) => {
            assert!(mode % 3 != 2, "a token signed with another key verified");
            assert!(claims.scopes.iter().any(|s| s == VOIP_SCOPE), "{claims:?}");
            assert!(!claims.identity.is_empty(), "{claims:?}");
            assert!(claims.expires_at() > now(), "{claims:?}");
            // Neither issued nor valid from further ahead than the leeway allows.
            assert!(claims.issued_at() <= now() + LEEWAY, "{claims:?}");
            assert!(
                claims.not_before().is_none_or(|nbf| nbf <= now() + LEEWAY),
                "{claims:?}"
            );
            let header =
                jsonwebtoken::decode_header(&token).expect("a verified token has a header");
            assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
            // The same token with the first character of its signature changed no longer verifies.
            let (signing_input, signature) = token.rsplit_once('.').expect("three parts");
            let first = if signature.starts_with('A') { 'B' } else { 'A' };
            let forged = format!("{signing_input}.{first}{}", &signature[1..]);
            assert!(keys.verify(&forged, now(), LEEWAY).is_err(), "{forged}");
        }
        Err(error) => assert!(error.is(&registry::UNAUTHENTICATED), "{error:?}"),
    }
});

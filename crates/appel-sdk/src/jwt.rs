//! Reading the claims an access token carries, without checking its signature: the SDK only needs
//! to know when the token expires (to refresh it in time) and which identity it names (to refuse a
//! second agent for the same identity before connecting). The server does the real verification.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The claims of an access token the SDK reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TokenClaims {
    /// The identity the token speaks for, when it says.
    pub identity: Option<String>,
    /// When the token expires, when it says.
    pub expires_at: Option<SystemTime>,
    /// The identity provider that issued it, when it says (Appel's own tokens do not).
    pub issuer: Option<String>,
}

/// Reads the payload of a compact JWT. Anything that is not one gives empty claims: an opaque
/// token is still sent to the server, which decides.
pub(crate) fn claims(token: &str) -> TokenClaims {
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return TokenClaims::default();
    };
    let Some(bytes) = base64url_decode(payload) else {
        return TokenClaims::default();
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return TokenClaims::default();
    };
    let text = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    // A provider's token names its user in `sub` (by default): the identity the server gives it
    // is the federated one, which the client's duplicate check must compare.
    let identity = text("identity").or_else(|| match (text("iss"), text("sub")) {
        (Some(issuer), Some(subject)) => Some(appel_protocol::federated::federated_identity(
            &issuer, &subject,
        )),
        (None, subject) => subject,
        (Some(_), None) => None,
    });
    let expires_at = value
        .get("exp")
        .and_then(|v| v.as_f64())
        .filter(|exp| exp.is_finite() && *exp >= 0.0 && *exp < 1e12)
        .map(|exp| UNIX_EPOCH + Duration::from_secs_f64(exp));
    let issuer = text("iss");
    TokenClaims {
        identity,
        expires_at,
        issuer,
    }
}

/// Decodes unpadded (or padded) base64url; `None` for any other character.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
                << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn reads_identity_and_fractional_expiry() {
        let payload = encode(br#"{"identity":"id-1","exp":1700000000.5,"scopes":["voip"]}"#);
        let claims = claims(&format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig"));
        assert_eq!(claims.identity.as_deref(), Some("id-1"));
        assert_eq!(
            claims.expires_at,
            Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_500))
        );
    }

    #[test]
    fn opaque_tokens_give_no_claims() {
        for token in [
            "",
            "opaque",
            "a.b",
            "a.!!!.c",
            "a.b.c.d",
            &format!("h.{}.s", encode(b"[1]")),
        ] {
            assert_eq!(claims(token), TokenClaims::default(), "{token}");
        }
    }

    #[test]
    fn base64url_round_trips_every_length() {
        let data: Vec<u8> = (0u8..=255).collect();
        for len in 0..20 {
            assert_eq!(
                base64url_decode(&encode(&data[..len])).as_deref(),
                Some(&data[..len])
            );
        }
    }
}

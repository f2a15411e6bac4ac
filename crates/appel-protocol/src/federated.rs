//! Federated identity ids: a user signed in by an identity provider the server trusts
//! (docs/identities.md) is `federated:<issuer>:<subject>`, both parts percent-encoded, so the id
//! holds exactly two colons and reads back to one issuer and one subject whatever they contain.
//! Server and SDKs build and read ids with these same functions.

/// What every federated identity id starts with.
pub const FEDERATED_PREFIX: &str = "federated:";

/// Whether `id` names a federated identity.
pub fn is_federated(id: &str) -> bool {
    parse_federated_identity(id).is_some()
}

/// The identity id of `subject` at `issuer`; every byte but `A–Z a–z 0–9 - . _ ~` is
/// percent-encoded in both parts.
pub fn federated_identity(issuer: &str, subject: &str) -> String {
    format!("{FEDERATED_PREFIX}{}:{}", encode(issuer), encode(subject))
}

/// The issuer and subject of a federated identity id; `None` for any other id.
pub fn parse_federated_identity(id: &str) -> Option<(String, String)> {
    let rest = id.strip_prefix(FEDERATED_PREFIX)?;
    let (issuer, subject) = rest.split_once(':')?;
    Some((decode(issuer)?, decode(subject)?))
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b':' => return None,
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_ids_read_back_to_their_issuer_and_subject() {
        let cases = [
            ("https://idp.example/realms/acme", "alice"),
            ("http://127.0.0.1:9/x", "a:b%c d/é"),
            ("https://idp.example:8443/", "federated:https://x:y"),
        ];
        for (issuer, subject) in cases {
            let id = federated_identity(issuer, subject);
            assert_eq!(id.matches(':').count(), 2, "{id}");
            assert_eq!(
                parse_federated_identity(&id),
                Some((issuer.to_string(), subject.to_string()))
            );
        }
        assert_eq!(parse_federated_identity("4f1c-native"), None);
        assert_eq!(parse_federated_identity("federated:a:b:c"), None);
        assert_eq!(parse_federated_identity("federated:a%zz:b"), None);
    }
}

//! Attacks on user tokens and on the handshake, against a real server on loopback: tokens dated in
//! the future, tokens that try to outlive their revocation, and hellos that are not what they
//! claim. Every refusal of a token is 401/10009 with the precise reason as raw cause, at `hello`,
//! at `refreshToken` and on `GET /validate` alike.

mod support;

use std::time::{Duration, SystemTime};

use appel_codes::{registry, CallingError, Entry};
use appel_protocol::{ClientFrame, PROTOCOL_VERSION};
use appel_server::tokens::{numeric_date, Claims, VOIP_SCOPE};
use serde_json::Value;
use support::{Client, TestServer};

/// Claims an attacker holding the signing key (or an issuer whose clock runs ahead) could write.
fn dated(
    identity: &str,
    iat: SystemTime,
    nbf: Option<SystemTime>,
    generation: Option<u64>,
) -> Claims {
    let now = SystemTime::now();
    Claims {
        identity: identity.to_string(),
        scopes: vec![VOIP_SCOPE.to_string()],
        iat: numeric_date(iat),
        nbf: nbf.map(numeric_date),
        exp: numeric_date(now + Duration::from_secs(3600)),
        jti: uuid::Uuid::new_v4().to_string(),
        generation,
    }
}

fn mint(server: &TestServer, claims: &Claims) -> String {
    server.keys().sign(claims).expect("sign")
}

/// The refusal of a `hello` with `token`: it must be fatal and close the connection.
async fn refused_hello(server: &TestServer, token: &str) -> CallingError {
    let mut client = Client::open(&server.ws_url()).await;
    client
        .send(ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            token: token.to_string(),
            endpoint_id: "attacker".into(),
            push: None,
            resume: false,
        })
        .await;
    let (error, fatal) = client.error().await;
    assert!(fatal, "{error}");
    assert!(client.is_closed().await, "{error}");
    error
}

/// The refusal of a first frame sent as raw text.
async fn refused_raw(server: &TestServer, text: &str) -> CallingError {
    let mut client = Client::open(&server.ws_url()).await;
    client.send_raw(text).await;
    let (error, fatal) = client.error().await;
    assert!(fatal, "{text}: {error}");
    assert!(client.is_closed().await, "{text}");
    error
}

async fn refresh(client: &mut Client, token: &str) -> Result<(), CallingError> {
    let token = token.to_string();
    client
        .request(|request_id| ClientFrame::RefreshToken { request_id, token })
        .await
}

/// Asserts 401/10009 whose raw cause starts with `why`.
fn assert_unauthenticated(error: &CallingError, why: &str, what: &str) {
    assert!(error.is(&registry::UNAUTHENTICATED), "{what}: {error}");
    assert_eq!(
        error.category(),
        appel_codes::ResultCategory::UnexpectedClientError,
        "{what}"
    );
    let cause = error.raw_cause().unwrap_or_default();
    assert!(cause.starts_with(why), "{what}: raw cause `{cause}`");
}

/// Asserts a 401/10009 problem document whose raw cause starts with `why`.
fn assert_validate_refused(result: &(u16, Value), why: &str, what: &str) {
    assert_eq!(result.0, 401, "{what}: {}", result.1);
    assert_eq!(result.1["code"], 401, "{what}");
    assert_eq!(result.1["subCode"], 10009, "{what}");
    let cause = result.1["rawCause"].as_str().unwrap_or_default();
    assert!(cause.starts_with(why), "{what}: raw cause `{cause}`");
}

fn assert_entry(error: &CallingError, entry: &Entry, what: &str) {
    assert!(error.is(entry), "{what}: {error}");
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let server = TestServer::start().await;
    let (id, mut live) = server.user("e1").await;
    let now = SystemTime::now();
    let early = mint(
        &server,
        &dated(&id, now, Some(now + Duration::from_secs(600)), Some(0)),
    );

    let error = refused_hello(&server, &early).await;
    assert_unauthenticated(&error, "token not yet valid", "hello");

    let error = refresh(&mut live, &early).await.expect_err("refresh");
    assert_unauthenticated(&error, "token not yet valid", "refreshToken");
    assert!(
        live.still_served().await,
        "a refused refresh keeps the connection"
    );

    assert_validate_refused(
        &server.validate(&early).await,
        "token not yet valid",
        "validate",
    );
}

#[tokio::test]
async fn a_token_issued_in_the_future_is_refused() {
    let server = TestServer::start().await;
    let (id, mut live) = server.user("e1").await;
    let now = SystemTime::now();
    let future = mint(
        &server,
        &dated(&id, now + Duration::from_secs(3600), None, Some(0)),
    );

    let error = refused_hello(&server, &future).await;
    assert_unauthenticated(&error, "token issued in the future", "hello");

    let error = refresh(&mut live, &future).await.expect_err("refresh");
    assert_unauthenticated(&error, "token issued in the future", "refreshToken");
    assert!(live.still_served().await);

    assert_validate_refused(
        &server.validate(&future).await,
        "token issued in the future",
        "validate",
    );
}

#[tokio::test]
async fn tokens_dated_a_little_ahead_are_accepted_within_the_clock_leeway_only() {
    let server = TestServer::start().await;
    let (id, mut live) = server.user("e1").await;
    let now = SystemTime::now();
    // An issuer whose clock runs ten seconds ahead: within the default 30 s.
    let ahead = Duration::from_secs(10);
    let skewed = mint(
        &server,
        &dated(&id, now + ahead, Some(now + ahead), Some(0)),
    );

    let other = Client::sign_in(&server.ws_url(), &skewed, "e2", None)
        .await
        .expect("a token within the leeway signs in");
    drop(other);
    refresh(&mut live, &skewed)
        .await
        .expect("a token within the leeway refreshes");
    assert_eq!(server.validate(&skewed).await.0, 200);

    // The same token on a server configured without leeway.
    let strict = TestServer::start_with(|c| c.tokens.clock_leeway = Duration::ZERO).await;
    let id = strict.create_identity().await;
    let now = SystemTime::now();
    let skewed = mint(&strict, &dated(&id, now + ahead, None, Some(0)));
    let error = refused_hello(&strict, &skewed).await;
    assert_unauthenticated(&error, "token issued in the future", "no leeway");
}

#[tokio::test]
async fn a_future_dated_token_does_not_survive_revocation() {
    let server = TestServer::start().await;
    let id = server.create_identity().await;
    let now = SystemTime::now();
    // Dated 20 s ahead, within the leeway: a revocation comparing dates would let it live on.
    let future_dated = server
        .keys()
        .issue(
            &id,
            &[VOIP_SCOPE.to_string()],
            0,
            now + Duration::from_secs(20),
            now + Duration::from_secs(3600),
        )
        .expect("issue")
        .token;
    let mut attacker = Client::sign_in(&server.ws_url(), &future_dated, "stolen", None)
        .await
        .expect("accepted before the revocation");
    let mut owner = server.connect(&id, "phone").await;

    server.revoke_tokens(&id).await;

    // Every live connection of the identity ends, whatever token it signed in with.
    for (who, client) in [("attacker", &mut attacker), ("owner", &mut owner)] {
        let (error, fatal) = client.error().await;
        assert!(fatal, "{who}");
        assert_entry(&error, &registry::UNAUTHENTICATED, who);
        assert!(client.is_closed().await, "{who}");
    }

    // The future-dated token is dead everywhere.
    let error = refused_hello(&server, &future_dated).await;
    assert_unauthenticated(&error, "token revoked", "hello");
    assert_validate_refused(
        &server.validate(&future_dated).await,
        "token revoked",
        "validate",
    );

    // A token issued after the revocation works, and cannot be swapped for the revoked one.
    let fresh = server.token(&id).await;
    let mut owner = Client::sign_in(&server.ws_url(), &fresh, "phone", None)
        .await
        .expect("a token issued after the revocation signs in");
    let error = refresh(&mut owner, &future_dated)
        .await
        .expect_err("refresh");
    assert_unauthenticated(&error, "token revoked", "refreshToken");
    refresh(&mut owner, &server.token(&id).await)
        .await
        .expect("a new token refreshes");
    assert_eq!(server.validate(&fresh).await.0, 200);
    assert!(owner.still_served().await);
}

#[tokio::test]
async fn a_token_from_before_token_generations_stands_until_the_first_revocation() {
    let server = TestServer::start().await;
    let id = server.create_identity().await;
    // A token as this server issued them before generations existed: no `gen` claim.
    let legacy = mint(&server, &dated(&id, SystemTime::now(), None, None));
    let client = Client::sign_in(&server.ws_url(), &legacy, "old-app", None)
        .await
        .expect("an older token still signs in");
    drop(client);
    server.revoke_tokens(&id).await;
    let error = refused_hello(&server, &legacy).await;
    assert_unauthenticated(&error, "token revoked", "legacy token after revocation");
    // A token naming a generation the identity never reached is refused too.
    let ahead = mint(&server, &dated(&id, SystemTime::now(), None, Some(7)));
    let error = refused_hello(&server, &ahead).await;
    assert_unauthenticated(&error, "token generation 7", "generation ahead");
}

#[tokio::test]
async fn a_deleted_identitys_tokens_stay_refused() {
    let server = TestServer::start().await;
    let id = server.create_identity().await;
    let token = server.token(&id).await;
    let deleted = server
        .admin(reqwest::Method::DELETE, &format!("/identities/{id}"))
        .send()
        .await
        .expect("DELETE identity");
    assert_eq!(deleted.status(), 204);
    let error = refused_hello(&server, &token).await;
    assert_unauthenticated(&error, "identity deleted", "hello");
    assert_validate_refused(
        &server.validate(&token).await,
        "identity deleted",
        "validate",
    );
    // Revoking a deleted identity is refused, and does not bring it back.
    let revoke = server
        .admin(reqwest::Method::DELETE, &format!("/identities/{id}/tokens"))
        .send()
        .await
        .expect("DELETE tokens");
    assert_eq!(revoke.status(), 404);
    let error = refused_hello(&server, &token).await;
    assert_unauthenticated(&error, "identity deleted", "hello after revoke");
}

#[tokio::test]
async fn a_hello_without_a_token_is_refused_with_401_10009() {
    let server = TestServer::start().await;
    for hello in [
        r#"{"type":"hello","version":1,"endpointId":"e1"}"#,
        r#"{"type":"hello","version":1,"token":null,"endpointId":"e1"}"#,
        r#"{"type":"hello","version":1,"token":"","endpointId":"e1"}"#,
        r#"{"type":"hello","version":1,"token":"   ","endpointId":"e1"}"#,
    ] {
        let error = refused_raw(&server, hello).await;
        assert_unauthenticated(&error, "hello without a token", hello);
    }
}

#[tokio::test]
async fn a_hello_with_fields_of_the_wrong_type_is_refused_with_400_900002() {
    let server = TestServer::start().await;
    let id = server.create_identity().await;
    let token = server.token(&id).await;
    let hellos = [
        format!(r#"{{"type":"hello","version":"1","token":"{token}","endpointId":"e1"}}"#),
        format!(r#"{{"type":"hello","version":1.5,"token":"{token}","endpointId":"e1"}}"#),
        r#"{"type":"hello","version":1,"token":42,"endpointId":"e1"}"#.to_string(),
        format!(r#"{{"type":"hello","version":1,"token":"{token}","endpointId":7}}"#),
        format!(r#"{{"type":"hello","version":1,"token":"{token}"}}"#),
        format!(r#"{{"type":"hello","version":1,"token":"{token}","endpointId":""}}"#),
        format!(
            r#"{{"type":"hello","version":1,"token":"{token}","endpointId":"{}"}}"#,
            "e".repeat(257)
        ),
        format!(
            r#"{{"type":"hello","version":1,"token":"{token}","endpointId":"e1","resume":"yes"}}"#
        ),
        format!(
            r#"{{"type":"hello","version":1,"token":"{token}","endpointId":"e1","push":"http://127.0.0.1:9"}}"#
        ),
        format!(
            r#"{{"type":"hello","version":1,"token":"{token}","endpointId":"e1","push":{{"url":"ftp://127.0.0.1"}}}}"#
        ),
    ];
    for hello in &hellos {
        let error = refused_raw(&server, hello).await;
        assert_entry(&error, &registry::MALFORMED_FRAME, hello);
        assert_eq!(
            error.category(),
            appel_codes::ResultCategory::UnexpectedClientError,
            "{hello}"
        );
    }
    // Another version is still told apart, even when the rest is not this version's hello.
    let error = refused_raw(&server, r#"{"type":"hello","version":2,"endpointId":7}"#).await;
    assert_entry(&error, &registry::PROTOCOL_VERSION_UNSUPPORTED, "version 2");
    // And a first frame that is not a hello at all stays 900005.
    let error = refused_raw(&server, r#"{"type":"startCall","requestId":1}"#).await;
    assert_entry(&error, &registry::HANDSHAKE_EXPECTED, "startCall first");
    // The same token, in a well-formed hello, is welcome.
    Client::sign_in(&server.ws_url(), &token, "e1", None)
        .await
        .expect("welcome");
}

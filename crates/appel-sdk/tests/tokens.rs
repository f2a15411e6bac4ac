//! What an application sees when the server refuses its token at agent creation: the server's own
//! 401/10009, with the server's reason kept as raw cause, rather than an SDK handshake error.

mod support;

use std::time::{Duration, SystemTime};

use appel_codes::registry;
use appel_sdk::{CallClient, TokenCredential};
use appel_server::tokens::{numeric_date, Claims, TokenKeys, VOIP_SCOPE};
use support::{assert_error, options, TestServer};

/// A token with the server's key, dated as given.
fn dated(server: &TestServer, identity: &str, iat: SystemTime, nbf: Option<SystemTime>) -> String {
    TokenKeys::from_access_key(server.server.access_key())
        .sign(&Claims {
            identity: identity.to_string(),
            scopes: vec![VOIP_SCOPE.to_string()],
            iat: numeric_date(iat),
            nbf: nbf.map(numeric_date),
            exp: numeric_date(SystemTime::now() + Duration::from_secs(3600)),
            jti: uuid::Uuid::new_v4().to_string(),
            generation: Some(0),
        })
        .expect("sign")
}

#[tokio::test]
async fn agent_creation_surfaces_the_servers_token_refusals_as_401_10009() {
    let server = TestServer::start().await;
    let identity = server.create_identity().await;
    let now = SystemTime::now();
    let not_yet = dated(
        &server,
        identity.as_str(),
        now,
        Some(now + Duration::from_secs(600)),
    );
    let future = dated(
        &server,
        identity.as_str(),
        now + Duration::from_secs(3600),
        None,
    );
    // Within the leeway before the revocation, refused after it.
    let skewed = dated(
        &server,
        identity.as_str(),
        now + Duration::from_secs(10),
        None,
    );
    let accepted = CallClient::default()
        .create_call_agent(TokenCredential::new(skewed.clone()), options(&server.url()))
        .await
        .expect("a token within the leeway creates an agent");
    accepted.dispose().await;
    let revoke = server
        .http
        .delete(format!("{}/identities/{identity}/tokens", server.url()))
        .bearer_auth(server.server.access_key())
        .send()
        .await
        .expect("DELETE tokens");
    assert_eq!(revoke.status(), 204);

    for (token, why) in [
        (String::new(), "hello without a token"),
        (not_yet, "token not yet valid"),
        (future, "token issued in the future"),
        (skewed, "token revoked"),
    ] {
        let result = CallClient::default()
            .create_call_agent(TokenCredential::new(token), options(&server.url()))
            .await;
        let error = assert_error(result, &registry::UNAUTHENTICATED);
        let cause = error.raw_cause().unwrap_or_default();
        assert!(cause.starts_with(why), "{why}: raw cause `{cause}`");
    }

    let fresh = server.token(&identity).await;
    let agent = CallClient::default()
        .create_call_agent(TokenCredential::new(fresh), options(&server.url()))
        .await
        .expect("a token issued after the revocation creates an agent");
    agent.dispose().await;
}

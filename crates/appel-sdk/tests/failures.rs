//! The SDK's own errors: reaching the server, the handshake, one agent per identity, and the
//! operations whose confirmation never comes.

mod support;

use std::time::Duration;

use appel_codes::registry;
use appel_sdk::{
    CallClient, CallClientOptions, CallState, IdentityId, StartCallOptions, TokenCredential,
};
use support::fake::{Behaviour, FakeServer};
use support::{assert_error, assert_reason, end_of, options, reach, within, TestServer};

#[tokio::test]
async fn an_unreachable_server_is_40114() {
    // A port that was just free and is closed again: the connection is refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = CallClient::new(CallClientOptions::default());
    let result = client
        .create_call_agent(
            TokenCredential::new("t"),
            options(&format!("http://{addr}")),
        )
        .await;
    let error = assert_error(result, &registry::SIGNALING_UNREACHABLE);
    assert!(
        error.raw_cause().unwrap().contains("ConnectionRefused"),
        "{error}"
    );

    let result = client
        .create_call_agent(
            TokenCredential::new("t"),
            options("http://appel-host.invalid:80"),
        )
        .await;
    assert_error(result, &registry::SIGNALING_UNREACHABLE);
}

#[tokio::test]
async fn a_refused_upgrade_is_40115() {
    let fake = FakeServer::start(Behaviour::RefuseUpgrade).await;
    let result = CallClient::default()
        .create_call_agent(TokenCredential::new("t"), options(&fake.url()))
        .await;
    let error = assert_error(result, &registry::SIGNALING_HANDSHAKE_FAILED);
    assert!(error.raw_cause().unwrap().contains("404"), "{error}");
}

#[tokio::test]
async fn a_malformed_welcome_is_40115() {
    let fake = FakeServer::start(Behaviour::GarbageWelcome).await;
    let result = CallClient::default()
        .create_call_agent(TokenCredential::new("t"), options(&fake.url()))
        .await;
    assert_error(result, &registry::SIGNALING_HANDSHAKE_FAILED);
}

#[tokio::test]
async fn no_welcome_in_time_is_40101() {
    let fake = FakeServer::start(Behaviour::SilentAfterHello).await;
    let mut options = options(&fake.url());
    options.timeouts.registration = Duration::from_millis(200);
    let result = CallClient::default()
        .create_call_agent(TokenCredential::new("t"), options)
        .await;
    assert_error(result, &registry::CALL_AGENT_REGISTRATION_TIMEOUT);
}

#[tokio::test]
async fn a_refresher_that_never_answers_during_creation_is_40104() {
    let server = TestServer::start().await;
    let credential = TokenCredential::with_refresher(|| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok::<String, appel_codes::CallingError>(String::new())
    });
    let mut options = options(&server.url());
    options.timeouts.token_fetch = Duration::from_millis(200);
    let result = CallClient::default()
        .create_call_agent(credential, options)
        .await;
    assert_error(result, &registry::CALL_AGENT_CREATION_STEP_TIMEOUT);
}

#[tokio::test]
async fn a_forged_token_gets_the_servers_401_10009() {
    let server = TestServer::start().await;
    let result = CallClient::default()
        .create_call_agent(TokenCredential::new("not-a-token"), options(&server.url()))
        .await;
    assert_error(result, &registry::UNAUTHENTICATED);

    let identity = server.create_identity().await;
    let expired = server.short_token(&identity, Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let result = CallClient::default()
        .create_call_agent(TokenCredential::new(expired), options(&server.url()))
        .await;
    assert_error(result, &registry::UNAUTHENTICATED);
}

#[tokio::test]
async fn one_agent_per_identity_per_client_until_disposed_40228() {
    let server = TestServer::start().await;
    let identity = server.create_identity().await;
    let token = server.token(&identity).await;
    let client = CallClient::default();
    let first = client
        .create_call_agent(TokenCredential::new(token.clone()), options(&server.url()))
        .await
        .expect("first agent");
    let second = client
        .create_call_agent(TokenCredential::new(token.clone()), options(&server.url()))
        .await;
    assert_error(second, &registry::CALL_AGENT_ALREADY_EXISTS);

    // Another client (another device) may sign the same identity in.
    let elsewhere = CallClient::default()
        .create_call_agent(TokenCredential::new(token.clone()), options(&server.url()))
        .await
        .expect("an agent in another client");

    first.dispose().await;
    let again = client
        .create_call_agent(TokenCredential::new(token), options(&server.url()))
        .await
        .expect("works again after dispose");
    assert_eq!(again.identity(), &identity);
    assert_error(
        first.start_call(&[IdentityId::from("someone")], StartCallOptions::default()),
        &registry::CALL_AGENT_DISPOSED,
    );
    again.dispose().await;
    elsewhere.dispose().await;
}

#[tokio::test]
async fn a_call_the_server_never_confirms_ends_with_408_4506() {
    let fake = FakeServer::start(Behaviour::NeverConfirmCalls).await;
    let mut options = options(&fake.url());
    options.timeouts.call_establishment = Duration::from_millis(200);
    let agent = CallClient::default()
        .create_call_agent(TokenCredential::new("t"), options)
        .await
        .expect("agent");
    let call = agent
        .start_call(&[IdentityId::from("callee")], StartCallOptions::default())
        .expect("started");
    assert_eq!(call.state(), CallState::Connecting);
    assert_reason(end_of(&call).await, &registry::CALL_SETUP_TIMEOUT);
    assert_eq!(call.state(), CallState::Disconnected);
    assert!(call.id().is_none());
    agent.dispose().await;
}

#[tokio::test]
async fn hold_and_resume_not_confirmed_are_41033_and_41034() {
    let fake = FakeServer::start(Behaviour::NeverConfirmHold).await;
    let agent = CallClient::default()
        .create_call_agent(TokenCredential::new("t"), options(&fake.url()))
        .await
        .expect("agent");
    let call = agent
        .start_call(&[IdentityId::from("callee")], StartCallOptions::default())
        .expect("started");
    reach(&call, CallState::Connected).await;
    assert_error(within("hold", call.hold()).await, &registry::HOLD_FAILED);
    assert_error(
        within("resume", call.resume()).await,
        &registry::RESUME_FAILED,
    );
    within("hang up", call.hang_up(Default::default()))
        .await
        .expect("hang up");
    assert_reason(end_of(&call).await, &registry::CALL_ENDED_LOCALLY);
    agent.dispose().await;
}

#[tokio::test]
async fn a_hang_up_the_server_never_answers_is_900401_and_the_call_still_ends_here() {
    let fake = FakeServer::start(Behaviour::NeverConfirmHangUp).await;
    let agent = CallClient::default()
        .create_call_agent(TokenCredential::new("t"), options(&fake.url()))
        .await
        .expect("agent");
    let call = agent
        .start_call(&[IdentityId::from("callee")], StartCallOptions::default())
        .expect("started");
    reach(&call, CallState::Connected).await;
    assert_error(
        within("hang up", call.hang_up(Default::default())).await,
        &registry::SIGNALING_REQUEST_TIMEOUT,
    );
    assert_reason(end_of(&call).await, &registry::CALL_ENDED_LOCALLY);
    agent.dispose().await;
}

#[tokio::test]
async fn no_targets_is_refused_locally() {
    let fake = FakeServer::start(Behaviour::NeverConfirmCalls).await;
    let agent = CallClient::default()
        .create_call_agent(TokenCredential::new("t"), options(&fake.url()))
        .await
        .expect("agent");
    assert_error(
        agent.start_call(&[], StartCallOptions::default()),
        &registry::NO_TARGETS,
    );
    assert_error(
        agent.start_call(&[agent.identity().clone()], StartCallOptions::default()),
        &registry::NO_TARGETS,
    );
    agent.dispose().await;
}

/// An unsigned JWT whose payload says it expires `lifetime` from now (the stand-in server does not
/// check signatures; the SDK reads only `exp`).
fn token_expiring_in(lifetime: Duration) -> String {
    jwt_with_exp(
        (std::time::SystemTime::now() + lifetime)
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64(),
    )
}

/// An unsigned JWT that expired a minute ago.
fn expired_token() -> String {
    jwt_with_exp(
        (std::time::SystemTime::now() - Duration::from_secs(60))
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64(),
    )
}

fn jwt_with_exp(exp: f64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let payload = format!("{{\"identity\":\"fake-identity\",\"exp\":{exp:.3}}}");
    let mut encoded = String::new();
    for chunk in payload.as_bytes().chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            encoded.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    format!("eyJhbGciOiJub25lIn0.{encoded}.sig")
}

#[tokio::test]
async fn the_sdk_itself_ends_calls_495_4507_when_the_refresher_fails_and_the_token_lapses() {
    let fake = FakeServer::start(Behaviour::NeverConfirmHold).await;
    let credential = TokenCredential::with_refresher(|| async {
        Err(
            appel_codes::CallingError::new(&registry::HTTP_REQUEST_FAILED)
                .with_raw_cause("backend down"),
        )
    })
    .initial_token(token_expiring_in(Duration::from_millis(900)))
    .refresh_proactively(true)
    .refresh_lead(Duration::from_millis(600));
    let agent = CallClient::default()
        .create_call_agent(credential, options(&fake.url()))
        .await
        .expect("agent");
    let call = agent
        .start_call(&[IdentityId::from("callee")], StartCallOptions::default())
        .expect("started");
    reach(&call, CallState::Connected).await;
    assert_reason(end_of(&call).await, &registry::TOKEN_EXPIRED_DURING_CALL);
    let raw = call.end_raw_cause().unwrap_or_default();
    assert!(raw.contains("backend down"), "{raw}");
    agent.dispose().await;
}

#[tokio::test]
async fn the_sdk_itself_ends_calls_495_4507_when_the_refresher_returns_an_expired_token() {
    let fake = FakeServer::start(Behaviour::NeverConfirmHold).await;
    let credential = TokenCredential::with_refresher(|| async { Ok(expired_token()) })
        .initial_token(token_expiring_in(Duration::from_millis(900)))
        .refresh_proactively(true)
        .refresh_lead(Duration::from_millis(600));
    let agent = CallClient::default()
        .create_call_agent(credential, options(&fake.url()))
        .await
        .expect("agent");
    let call = agent
        .start_call(&[IdentityId::from("callee")], StartCallOptions::default())
        .expect("started");
    reach(&call, CallState::Connected).await;
    assert_reason(end_of(&call).await, &registry::TOKEN_EXPIRED_DURING_CALL);
    let raw = call.end_raw_cause().unwrap_or_default();
    assert!(raw.contains("expired token"), "{raw}");
    agent.dispose().await;
}

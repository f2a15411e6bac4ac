//! Call scenarios against the real server: who sees which end reason (docs/protocol.md, "Who receives which end reason"), the
//! accept/reject errors after ringing stopped, and reconnection through a proxy that is cut.

mod support;

use std::time::Duration;

use appel_codes::registry;
use appel_sdk::{CallState, ConnectionState, HangUpOptions, IncomingCall, StartCallOptions};
use futures_util::StreamExt;
use support::{
    assert_error, assert_reason, connected_call, departure, end_of, next_incoming, stop_of, within,
    Proxy, TestServer,
};

#[tokio::test]
async fn two_party_call_connects_and_hangs_up_0_0() {
    let server = TestServer::start().await;
    let (alice, a) = server.agent().await;
    let (bob, b) = server.agent().await;
    let (outgoing, accepted) = connected_call(&a, &b).await;
    assert!(outgoing.id().is_some());
    assert_eq!(outgoing.id(), accepted.id());
    assert!(outgoing
        .remote_participants()
        .iter()
        .any(|p| p.identity == bob));
    assert!(accepted
        .remote_participants()
        .iter()
        .any(|p| p.identity == alice));

    within("hang up", outgoing.hang_up(HangUpOptions::default()))
        .await
        .expect("hang up");
    assert_reason(end_of(&outgoing).await, &registry::CALL_ENDED_LOCALLY);
    assert_reason(
        departure(&accepted, &alice).await,
        &registry::CALL_ENDED_LOCALLY,
    );
    assert_reason(end_of(&accepted).await, &registry::CALL_ENDED_LOCALLY);
    assert_eq!(accepted.state(), CallState::Disconnected);
    a.dispose().await;
    b.dispose().await;
}

#[tokio::test]
async fn caller_cancels_every_ringing_endpoint_sees_487_0_and_accept_reject_give_41006_41007() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (bob, b1) = server.agent().await;
    let b2 = server.endpoint(&bob, &server.url()).await;
    let call = a
        .start_call(std::slice::from_ref(&bob), StartCallOptions::default())
        .unwrap();
    let ring1 = next_incoming(&b1).await;
    let ring2 = next_incoming(&b2).await;
    within("cancel", call.hang_up(HangUpOptions::default()))
        .await
        .expect("cancel");
    assert_reason(end_of(&call).await, &registry::CALL_ENDED_LOCALLY);
    assert_reason(stop_of(&ring1).await, &registry::CALL_CANCELLED_BY_CALLER);
    assert_reason(stop_of(&ring2).await, &registry::CALL_CANCELLED_BY_CALLER);
    assert_error(
        ring1.accept(Default::default()).await,
        &registry::ACCEPT_NOT_RINGING,
    );
    assert_error(ring2.reject().await, &registry::REJECT_NOT_RINGING);
}

#[tokio::test]
async fn the_only_endpoint_declines_the_caller_sees_603_0() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (bob, b) = server.agent().await;
    let call = a.start_call(&[bob], StartCallOptions::default()).unwrap();
    let ring = next_incoming(&b).await;
    within("reject", ring.reject()).await.expect("reject");
    assert_reason(end_of(&call).await, &registry::CALL_DECLINED);
    assert_error(
        ring.accept(Default::default()).await,
        &registry::ACCEPT_NOT_RINGING,
    );
}

#[tokio::test]
async fn every_endpoint_declines_the_caller_sees_487_10024() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (bob, b1) = server.agent().await;
    let b2 = server.endpoint(&bob, &server.url()).await;
    let call = a.start_call(&[bob], StartCallOptions::default()).unwrap();
    let ring1 = next_incoming(&b1).await;
    let ring2 = next_incoming(&b2).await;
    within("reject 1", ring1.reject()).await.expect("reject 1");
    within("reject 2", ring2.reject()).await.expect("reject 2");
    assert_reason(end_of(&call).await, &registry::ALL_ENDPOINTS_DECLINED);
}

#[tokio::test]
async fn accepted_elsewhere_the_other_endpoint_sees_487_10003_then_41006_41007() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (bob, b1) = server.agent().await;
    let b2 = server.endpoint(&bob, &server.url()).await;
    let call = a.start_call(&[bob], StartCallOptions::default()).unwrap();
    let ring1 = next_incoming(&b1).await;
    let ring2 = next_incoming(&b2).await;
    let accepted = within("accept", ring1.accept(Default::default()))
        .await
        .expect("accept");
    assert_reason(stop_of(&ring2).await, &registry::CALL_ACCEPTED_ELSEWHERE);
    assert_error(
        ring2.accept(Default::default()).await,
        &registry::ACCEPT_NOT_RINGING,
    );
    assert_error(ring2.reject().await, &registry::REJECT_NOT_RINGING);
    support::reach(&call, CallState::Connected).await;
    support::reach(&accepted, CallState::Connected).await;
}

#[tokio::test]
async fn nobody_answers_caller_and_every_endpoint_see_487_10004() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (bob, b1) = server.agent().await;
    let b2 = server.endpoint(&bob, &server.url()).await;
    let call = a.start_call(&[bob], StartCallOptions::default()).unwrap();
    let ring1 = next_incoming(&b1).await;
    let ring2 = next_incoming(&b2).await;
    assert_reason(end_of(&call).await, &registry::RINGING_TIMEOUT);
    assert_reason(stop_of(&ring1).await, &registry::RINGING_TIMEOUT);
    assert_reason(stop_of(&ring2).await, &registry::RINGING_TIMEOUT);
    assert_error(
        ring1.accept(Default::default()).await,
        &registry::ACCEPT_NOT_RINGING,
    );
    assert_error(ring2.reject().await, &registry::REJECT_NOT_RINGING);
}

#[tokio::test]
async fn a_target_that_never_registered_is_480_10037() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let never = server.create_identity().await;
    let call = a.start_call(&[never], StartCallOptions::default()).unwrap();
    assert_reason(end_of(&call).await, &registry::TARGET_NEVER_REGISTERED);
}

/// Rings `callee` behind `proxy`, holds back what the server sends it, stops the ringing with
/// `stop`, lets `answer` reach the server, then releases the held frames: the SDK learns that the
/// call stopped only together with the server's answer, so the error is the server's.
async fn answer_after_unseen_stop<T: std::fmt::Debug>(
    stop: impl std::future::Future<Output = ()>,
    ring: &IncomingCall,
    proxy: &Proxy,
    answer: impl std::future::Future<Output = Result<T, appel_codes::CallingError>>,
) -> Result<T, appel_codes::CallingError> {
    proxy.pause_downstream(true);
    stop.await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(ring.end_reason().is_none(), "the SDK must not know yet");
    let released = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        proxy.pause_downstream(false);
    };
    let (result, ()) = tokio::join!(answer, released);
    result
}

#[tokio::test]
async fn the_server_answers_41006_and_41007_when_the_sdk_did_not_know_ringing_stopped() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.server.addr()).await;
    let (_, a) = server.agent().await;
    let bob = server.create_identity().await;
    let b = server.endpoint(&bob, &proxy.url()).await;

    // Cancelled by the caller, then accepted.
    let call = a
        .start_call(std::slice::from_ref(&bob), StartCallOptions::default())
        .unwrap();
    let ring = next_incoming(&b).await;
    let cancel = async {
        call.hang_up(HangUpOptions::default())
            .await
            .expect("cancel");
    };
    let result =
        answer_after_unseen_stop(cancel, &ring, &proxy, ring.accept(Default::default())).await;
    let error = assert_error(result, &registry::ACCEPT_NOT_RINGING);
    assert!(
        !error
            .raw_cause()
            .unwrap_or_default()
            .starts_with("stopped ringing"),
        "the server's answer: {error}"
    );
    assert_reason(stop_of(&ring).await, &registry::CALL_CANCELLED_BY_CALLER);

    // Cancelled by the caller, then rejected.
    let call = a
        .start_call(std::slice::from_ref(&bob), StartCallOptions::default())
        .unwrap();
    let ring = next_incoming_after(&b, ring.id()).await;
    let cancel = async {
        call.hang_up(HangUpOptions::default())
            .await
            .expect("cancel");
    };
    let result = answer_after_unseen_stop(cancel, &ring, &proxy, ring.reject()).await;
    let error = assert_error(result, &registry::REJECT_NOT_RINGING);
    assert!(
        !error
            .raw_cause()
            .unwrap_or_default()
            .starts_with("stopped ringing"),
        "the server's answer: {error}"
    );
    assert_reason(stop_of(&ring).await, &registry::CALL_CANCELLED_BY_CALLER);
}

/// The next incoming call of `agent` other than `previous`.
async fn next_incoming_after(
    agent: &appel_sdk::CallAgent,
    previous: &appel_sdk::CallId,
) -> IncomingCall {
    let mut calls = agent.incoming_calls();
    within("a new incoming call", async {
        loop {
            let call = calls.next().await.expect("incoming stream open");
            if call.id() != previous {
                return call;
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_connection_lost_past_the_grace_ends_the_call_496_7_and_the_other_sees_0_4521() {
    let server = TestServer::start().await;
    let mut proxy = Proxy::start(server.server.addr()).await;
    let alice = server.create_identity().await;
    let mut options = support::options(&proxy.url());
    options.reconnect.grace = Duration::from_millis(400);
    let a = appel_sdk::CallClient::default()
        .create_call_agent(
            appel_sdk::TokenCredential::new(server.token(&alice).await),
            options,
        )
        .await
        .expect("agent");
    let (_, b) = server.agent().await;
    let (outgoing, accepted) = connected_call(&a, &b).await;

    proxy.kill();
    assert_reason(end_of(&outgoing).await, &registry::NETWORK_LOST);
    assert_eq!(a.connection_state(), ConnectionState::Reconnecting);
    assert_reason(
        departure(&accepted, &alice).await,
        &registry::ABRUPT_DISCONNECT,
    );
    let other_end = end_of(&accepted).await;
    assert_reason(other_end, &registry::ABRUPT_DISCONNECT);

    // The agent itself comes back once the network does.
    proxy.restart().await;
    let mut states = a.connection_states();
    within("reconnected", async {
        while let Some(state) = states.next().await {
            if state == ConnectionState::Connected {
                return;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_connection_regained_within_the_grace_keeps_the_call() {
    let server = TestServer::start_with(|config| {
        config.timers.abrupt_disconnect = Duration::from_secs(3);
    })
    .await;
    let mut proxy = Proxy::start(server.server.addr()).await;
    let alice = server.create_identity().await;
    let a = server.endpoint(&alice, &proxy.url()).await;
    let (bob, b) = server.agent().await;
    let (outgoing, accepted) = connected_call(&a, &b).await;

    let mut states = a.connection_states();
    proxy.kill();
    within("reconnecting", async {
        while let Some(state) = states.next().await {
            if state == ConnectionState::Reconnecting {
                return;
            }
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.restart().await;
    within("reconnected", async {
        while let Some(state) = states.next().await {
            if state == ConnectionState::Connected {
                return;
            }
        }
    })
    .await;
    assert_eq!(outgoing.end_reason(), None);
    assert_eq!(outgoing.state(), CallState::Connected);
    assert_eq!(accepted.end_reason(), None);

    // The resumed call still works end to end.
    within("hang up", accepted.hang_up(HangUpOptions::default()))
        .await
        .expect("hang up");
    assert_reason(end_of(&accepted).await, &registry::CALL_ENDED_LOCALLY);
    assert_reason(
        departure(&outgoing, &bob).await,
        &registry::CALL_ENDED_LOCALLY,
    );
    assert_reason(end_of(&outgoing).await, &registry::CALL_ENDED_LOCALLY);
}

#[tokio::test]
async fn a_token_that_expires_during_a_call_without_a_valid_refresh_ends_it_495_4507() {
    let server = TestServer::start().await;
    let alice = server.create_identity().await;
    let short = server.short_token(&alice, Duration::from_millis(1500));
    let credential = appel_sdk::TokenCredential::with_refresher(|| async {
        Err(
            appel_codes::CallingError::new(&registry::HTTP_REQUEST_FAILED)
                .with_raw_cause("backend down"),
        )
    })
    .initial_token(short)
    .refresh_proactively(true)
    .refresh_lead(Duration::from_millis(700));
    let a = appel_sdk::CallClient::default()
        .create_call_agent(credential, support::options(&server.url()))
        .await
        .expect("agent");
    let (_, b) = server.agent().await;
    let (outgoing, _accepted) = connected_call(&a, &b).await;
    let reason = end_of(&outgoing).await;
    assert_reason(reason, &registry::TOKEN_EXPIRED_DURING_CALL);
    // The server ends the leg at expiry too (same reason); `failures.rs` checks the SDK's own path
    // against a server that does not.
    assert!(outgoing.end_raw_cause().is_some());
}

#[tokio::test]
async fn a_proactive_refresh_keeps_the_call_past_the_first_tokens_expiry() {
    let server = std::sync::Arc::new(TestServer::start().await);
    let alice = server.create_identity().await;
    let short = server.short_token(&alice, Duration::from_millis(1500));
    let refresher_server = server.clone();
    let refresher_identity = alice.clone();
    let credential = appel_sdk::TokenCredential::with_refresher(move || {
        let token = refresher_server.short_token(&refresher_identity, Duration::from_secs(3600));
        async move { Ok(token) }
    })
    .initial_token(short)
    .refresh_proactively(true)
    .refresh_lead(Duration::from_millis(1000));
    let a = appel_sdk::CallClient::default()
        .create_call_agent(credential.clone(), support::options(&server.url()))
        .await
        .expect("agent");
    let (_, b) = server.agent().await;
    let (outgoing, _accepted) = connected_call(&a, &b).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        outgoing.end_reason(),
        None,
        "{:?}",
        outgoing.end_raw_cause()
    );
    assert_eq!(outgoing.state(), CallState::Connected);
    assert!(
        credential.expires_at().unwrap() > std::time::SystemTime::now() + Duration::from_secs(3000)
    );
}

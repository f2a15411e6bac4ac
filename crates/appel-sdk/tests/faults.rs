//! What an application sees when the SDK itself fails: the session task that owns an agent's
//! connection dies while it starts (a fault injected at the SDK's one fault point, compiled only
//! into test builds). The failure must come back as 500/40216 from `create_call_agent`, never as a
//! hang or an agent whose operations go nowhere, and the identity must be usable again at once.
//!
//! The fault registry is global to the process, so this file holds one test: it runs alone in
//! its own test binary.

mod support;

use appel_codes::{registry, ResultCategory};
use appel_sdk::{CallClient, TokenCredential};
use support::{assert_error, connected_call, options, TestServer};

const START_POINT: &str = "appel-sdk::session::start";

#[tokio::test]
async fn a_session_task_that_dies_while_the_agent_is_created_is_40216_and_leaves_nothing_behind() {
    let scenario = fail::FailScenario::setup();
    let server = TestServer::start().await;
    let identity = server.create_identity().await;
    let client = CallClient::default();

    fail::cfg(START_POINT, "panic(injected session fault)").expect("configure the fault point");
    let result = client
        .create_call_agent(
            TokenCredential::new(server.token(&identity).await),
            options(&server.url()),
        )
        .await;
    let error = assert_error(result, &registry::CALL_AGENT_INTERNAL_FAILURE);
    assert_eq!(error.category(), ResultCategory::UnexpectedClientError);
    assert!(
        error
            .raw_cause()
            .is_some_and(|cause| cause.contains("injected session fault")),
        "the panic's message is kept as raw cause: {error:?}"
    );

    // The same client can sign the same identity in again (no 40228), and the agent works: a call
    // to another identity connects.
    fail::remove(START_POINT);
    let agent = client
        .create_call_agent(
            TokenCredential::new(server.token(&identity).await),
            options(&server.url()),
        )
        .await
        .expect("the identity is free again once the failed session is gone");
    let (_, callee) = server.agent().await;
    let (call, _) = connected_call(&agent, &callee).await;
    call.hang_up(Default::default()).await.expect("hang up");
    agent.dispose().await;
    callee.dispose().await;
    scenario.teardown();
}

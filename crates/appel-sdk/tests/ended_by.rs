//! Who ended a call, as the native SDK tells its application, against the real server: the one
//! who hung up is `Ender::This` on its own side and named on the other (both ways), a removal by
//! the call-control API is never blamed on a participant, and a timer is the server's. The call
//! records say the same.

mod support;

use appel_codes::registry;
use appel_sdk::{Ender, HangUpOptions, ServerCause, StartCallOptions};
use support::{assert_reason, connected_call, end_of, next_incoming, stop_of, within, TestServer};

async fn record(server: &TestServer, call_id: &str) -> serde_json::Value {
    for _ in 0..50 {
        let response = server
            .http
            .get(format!("{}/calls/{call_id}", server.url()))
            .bearer_auth(server.server.access_key())
            .send()
            .await
            .expect("GET /calls/{id}");
        if response.status().is_success() {
            let body: serde_json::Value = response.json().await.expect("record");
            if !body["endedAt"].is_null() {
                return body;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("call {call_id} has no ended record");
}

#[tokio::test]
async fn hanging_up_either_way_names_the_one_who_hung_up_on_both_sides() {
    let server = TestServer::start().await;
    let (alice, a) = server.agent().await;
    let (bob, b) = server.agent().await;
    for caller_hangs_up in [true, false] {
        let (outgoing, accepted) = connected_call(&a, &b).await;
        let (hanging, other, who) = if caller_hangs_up {
            (&outgoing, &accepted, &alice)
        } else {
            (&accepted, &outgoing, &bob)
        };
        within("hang up", hanging.hang_up(HangUpOptions::default()))
            .await
            .expect("hang up");
        assert_reason(end_of(hanging).await, &registry::CALL_ENDED_LOCALLY);
        assert_reason(end_of(other).await, &registry::CALL_ENDED_LOCALLY);
        assert_eq!(hanging.ended_by(), Some(Ender::This));
        let participant = hanging.participant_id().expect("named");
        assert_eq!(
            other.ended_by(),
            Some(Ender::Participant {
                participant_id: participant.clone(),
                identity: who.clone(),
            })
        );
        // The one who left is named on the other side's list of participants too.
        let gone = other
            .remote_participants()
            .into_iter()
            .find(|p| &p.identity == who)
            .expect("the other party is listed");
        assert_eq!(gone.ended_by, other.ended_by());

        let record = record(&server, outgoing.id().expect("id").as_str()).await;
        let by = serde_json::json!({"by": "participant", "participantId": participant.as_str(), "identity": who.as_str()});
        assert_eq!(record["endedBy"], by, "{record}");
        for leg in record["legs"].as_array().expect("legs") {
            assert_eq!(leg["endedBy"], by, "{record}");
        }
        let timeline = record["timeline"].as_array().expect("timeline");
        assert!(
            timeline.iter().any(|e| e["kind"] == "hungUp"
                && e["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with(who.as_str()))),
            "{record}"
        );
    }
}

#[tokio::test]
async fn a_removal_by_the_call_control_api_is_the_apis_on_both_sides() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (_, b) = server.agent().await;
    let (outgoing, accepted) = connected_call(&a, &b).await;
    let call_id = outgoing.id().expect("id");
    let removed = accepted.participant_id().expect("named");
    let response = server
        .http
        .delete(format!(
            "{}/call-control/calls/{call_id}/participants/{removed}",
            server.url()
        ))
        .bearer_auth(server.server.access_key())
        .send()
        .await
        .expect("DELETE participant");
    assert!(response.status().is_success(), "{}", response.status());
    assert_reason(end_of(&accepted).await, &registry::REMOVED_BY_SERVER);
    end_of(&outgoing).await;
    assert_eq!(accepted.ended_by(), Some(Ender::CallControl));
    assert_eq!(outgoing.ended_by(), Some(Ender::CallControl));
    let record = record(&server, call_id.as_str()).await;
    assert_eq!(record["endedBy"], serde_json::json!({"by": "callControl"}));
}

#[tokio::test]
async fn nobody_answering_is_the_servers_timer_for_the_caller_and_the_callee() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (bob, b) = server.agent().await;
    let call = a.start_call(&[bob], StartCallOptions::default()).unwrap();
    let ring = next_incoming(&b).await;
    assert_reason(end_of(&call).await, &registry::RINGING_TIMEOUT);
    assert_reason(stop_of(&ring).await, &registry::RINGING_TIMEOUT);
    let timer = Some(Ender::Server(ServerCause::Timer));
    assert_eq!(call.ended_by(), timer);
    assert_eq!(ring.ended_by(), timer);
}

#[tokio::test]
async fn a_decline_is_this_side_for_the_callee_and_the_callee_for_the_caller() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (bob, b) = server.agent().await;
    let call = a
        .start_call(std::slice::from_ref(&bob), StartCallOptions::default())
        .unwrap();
    let ring = next_incoming(&b).await;
    within("reject", ring.reject()).await.expect("reject");
    assert_reason(end_of(&call).await, &registry::CALL_DECLINED);
    assert_eq!(ring.ended_by(), Some(Ender::This));
    assert!(
        matches!(call.ended_by(), Some(Ender::Participant { identity, .. }) if identity == bob),
        "{:?}",
        call.ended_by()
    );
}

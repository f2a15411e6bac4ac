//! Who ended a call, as each party's `callEnded` and `participantLeft`, the leg records and the
//! timeline tell it (docs/protocol.md, "Who ended it"). Each test is a way an end screen could
//! name the wrong person: the one who hung up is named on both sides, a timer is never blamed on
//! a participant, and the call-control API is never blamed on anyone in the call.

mod common;

use std::time::Duration;

use appel_controller::{Control, RecordEvent, TimelineKind};
use appel_protocol::{CallId, EndedBy, ParticipantId, ServerCause, ServerFrame};
use common::Harness;

fn participant_id(h: &Harness, call: &CallId, identity: &str) -> ParticipantId {
    h.controller
        .snapshot_of(call)
        .and_then(|c| {
            c.participants
                .into_iter()
                .find(|p| p.identity.as_str() == identity)
        })
        .map(|p| p.id)
        .expect("participant in the call")
}

/// The `endedBy` of every `callEnded` `endpoint` got for `call`.
fn ended_by(h: &Harness, endpoint: &str, call: &CallId) -> Vec<Option<EndedBy>> {
    h.frames(endpoint)
        .iter()
        .filter_map(|f| match f {
            ServerFrame::CallEnded {
                call_id, ended_by, ..
            } if call_id == call => Some(ended_by.clone()),
            _ => None,
        })
        .collect()
}

/// The `endedBy` of the `participantLeft` `endpoint` got about `identity`.
fn left_by(h: &Harness, endpoint: &str, call: &CallId, identity: &str) -> Vec<Option<EndedBy>> {
    h.frames(endpoint)
        .iter()
        .filter_map(|f| match f {
            ServerFrame::ParticipantLeft {
                call_id,
                identity: who,
                ended_by,
                ..
            } if call_id == call && who.as_str() == identity => Some(ended_by.clone()),
            _ => None,
        })
        .collect()
}

fn leg_ends(h: &Harness, call: &CallId) -> Vec<(String, EndedBy)> {
    h.records
        .iter()
        .filter_map(|r| match r {
            RecordEvent::LegLeft {
                call: c,
                identity,
                ended_by,
                ..
            } if c == call => Some((identity.to_string(), ended_by.clone())),
            _ => None,
        })
        .collect()
}

fn call_end(h: &Harness, call: &CallId) -> EndedBy {
    h.records
        .iter()
        .find_map(|r| match r {
            RecordEvent::CallEnded {
                call: c, ended_by, ..
            } if c == call => Some(ended_by.clone()),
            _ => None,
        })
        .expect("the call ended")
}

#[test]
fn the_one_who_hangs_up_is_named_to_both_sides_and_on_the_timeline() {
    for (hanging_up, other) in [("alice", "bob"), ("bob", "alice")] {
        let mut h = Harness::new();
        h.online("alice", "alice");
        h.online("bob", "bob");
        let call = h.connected_call("alice", "bob");
        let who = participant_id(&h, &call, hanging_up);
        h.hang_up(hanging_up, &call);
        let by = EndedBy::participant(who.clone(), hanging_up.into());
        assert_eq!(ended_by(&h, hanging_up, &call), vec![Some(by.clone())]);
        assert_eq!(ended_by(&h, other, &call), vec![Some(by.clone())]);
        assert_eq!(
            left_by(&h, other, &call, hanging_up),
            vec![Some(by.clone())]
        );
        // Both legs and the call record the same person.
        let legs = leg_ends(&h, &call);
        assert_eq!(legs.len(), 2);
        assert!(legs.iter().all(|(_, b)| *b == by), "{legs:?}");
        assert_eq!(call_end(&h, &call), by);
        let hung_up: Vec<&String> = h
            .records
            .iter()
            .filter_map(|r| match r {
                RecordEvent::Timeline {
                    kind: TimelineKind::HungUp,
                    detail,
                    ..
                } => Some(detail),
                _ => None,
            })
            .collect();
        assert_eq!(hung_up, vec![&format!("{hanging_up} ({who})")]);
    }
}

#[test]
fn a_decline_names_the_callee_and_a_cancel_names_the_caller() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.start("alice", &["bob"]);
    h.ack("bob", &call);
    let bob = participant_id(&h, &call, "bob");
    h.reject("bob", &call);
    let by_bob = Some(EndedBy::participant(bob, "bob".into()));
    assert_eq!(ended_by(&h, "alice", &call), vec![by_bob.clone()]);
    assert_eq!(ended_by(&h, "bob", &call), vec![by_bob.clone()]);
    assert_eq!(left_by(&h, "alice", &call, "bob"), vec![by_bob]);

    let call = h.start("alice", &["bob"]);
    h.ack("bob", &call);
    let alice = participant_id(&h, &call, "alice");
    h.hang_up("alice", &call);
    let by_alice = Some(EndedBy::participant(alice, "alice".into()));
    assert_eq!(ended_by(&h, "bob", &call), vec![by_alice.clone()]);
    assert_eq!(ended_by(&h, "alice", &call), vec![by_alice]);
}

#[test]
fn nobody_answering_is_the_servers_timer_and_an_offline_callee_is_unreachable() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.start("alice", &["bob"]);
    h.ack("bob", &call);
    h.advance(Duration::from_secs(120));
    let timer = Some(EndedBy::Server {
        cause: ServerCause::Timer,
    });
    assert_eq!(ended_by(&h, "alice", &call), vec![timer.clone()]);
    assert_eq!(ended_by(&h, "bob", &call), vec![timer]);

    let call = h.start("alice", &["nobody"]);
    let unreachable = Some(EndedBy::Server {
        cause: ServerCause::Unreachable,
    });
    assert_eq!(ended_by(&h, "alice", &call), vec![unreachable.clone()]);
    assert_eq!(left_by(&h, "alice", &call, "nobody"), vec![unreachable]);
}

#[test]
fn a_dropped_connection_is_the_detection_timer_not_the_one_who_dropped() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.connected_call("alice", "bob");
    h.input(appel_controller::Input::EndpointLost {
        endpoint: h.key("bob"),
    });
    h.advance(Duration::from_secs(40));
    let timer = Some(EndedBy::Server {
        cause: ServerCause::Timer,
    });
    assert_eq!(left_by(&h, "alice", &call, "bob"), vec![timer.clone()]);
    assert_eq!(ended_by(&h, "alice", &call), vec![timer]);
}

#[test]
fn removal_and_hang_up_by_the_call_control_api_name_the_api() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.connected_call("alice", "bob");
    let bob = participant_id(&h, &call, "bob");
    h.control(Control::RemoveParticipant {
        call: call.clone(),
        participant: bob,
    })
    .expect("remove");
    assert_eq!(ended_by(&h, "bob", &call), vec![Some(EndedBy::CallControl)]);
    assert_eq!(
        left_by(&h, "alice", &call, "bob"),
        vec![Some(EndedBy::CallControl)]
    );
    assert_eq!(
        ended_by(&h, "alice", &call),
        vec![Some(EndedBy::CallControl)]
    );
    assert_eq!(call_end(&h, &call), EndedBy::CallControl);

    let call = h.connected_call("alice", "bob");
    h.control(Control::HangUpAll { call: call.clone() })
        .expect("hang up");
    for endpoint in ["alice", "bob"] {
        assert_eq!(
            ended_by(&h, endpoint, &call),
            vec![Some(EndedBy::CallControl)]
        );
    }
}

#[test]
fn a_removal_by_another_participant_names_the_remover() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    h.online("carol", "carol");
    let call = h.start("alice", &["bob", "carol"]);
    for callee in ["bob", "carol"] {
        h.ack(callee, &call);
        h.accept(callee, &call);
        h.media_ready(callee, &call);
    }
    let alice = participant_id(&h, &call, "alice");
    let carol = participant_id(&h, &call, "carol");
    let request = h.request("alice", |request_id| {
        appel_protocol::ClientFrame::RemoveParticipant {
            request_id,
            call_id: call.clone(),
            participant_id: carol,
        }
    });
    assert!(h.acked("alice", request));
    let by_alice = Some(EndedBy::participant(alice, "alice".into()));
    assert_eq!(ended_by(&h, "carol", &call), vec![by_alice.clone()]);
    assert_eq!(left_by(&h, "bob", &call, "carol"), vec![by_alice]);
}

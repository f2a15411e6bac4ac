//! Operations and their answers: hold and resume, accept and reject of calls that stopped ringing,
//! unknown calls, limits, signal relay, and the states each endpoint is shown.

mod common;

use std::time::Duration;

use appel_codes::registry;
use appel_controller::{ControllerConfig, Input};
use appel_protocol::{CallId, CallState, ClientFrame, ParticipantState, ServerFrame};
use common::Harness;
use serde_json::json;

fn three_online() -> Harness {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob-laptop", "bob");
    h.online("bob-phone", "bob");
    h
}

#[test]
fn caller_and_callee_see_the_states_of_a_call_in_order() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.start("alice", &["bob"]);
    h.ack("bob", &call);
    h.accept("bob", &call);
    h.media_ready("bob", &call);
    assert_eq!(
        h.states("alice", &call),
        vec![
            CallState::Connecting,
            CallState::Ringing,
            CallState::Connected
        ]
    );
    assert_eq!(
        h.states("bob", &call),
        vec![CallState::Connecting, CallState::Connected]
    );
    let bob_seen: Vec<ParticipantState> = h
        .frames("alice")
        .iter()
        .filter_map(|f| match f {
            ServerFrame::ParticipantUpdated { participant, .. } => Some(participant.state),
            _ => None,
        })
        .collect();
    assert_eq!(
        bob_seen,
        vec![
            ParticipantState::Connecting,
            ParticipantState::Ringing,
            ParticipantState::Connecting,
            ParticipantState::Connected
        ]
    );
    let incoming = h.frames("bob").iter().find_map(|f| match f {
        ServerFrame::IncomingCall { from, video, .. } => Some((from.clone(), *video)),
        _ => None,
    });
    assert_eq!(incoming, Some(("alice".into(), false)));
}

#[test]
fn hold_shows_local_hold_to_the_holder_and_remote_hold_to_the_other() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.connected_call("alice", "bob");
    h.clear();
    let request = h.hold("alice", &call);
    assert!(h.acked("alice", request));
    assert_eq!(h.states("alice", &call), vec![CallState::LocalHold]);
    assert_eq!(h.states("bob", &call), vec![CallState::RemoteHold]);
    let held = h.frames("bob").iter().any(|f| {
        matches!(f, ServerFrame::ParticipantUpdated { participant, .. } if participant.state == ParticipantState::Hold)
    });
    assert!(held);
    h.clear();
    let request = h.resume("alice", &call);
    assert!(h.acked("alice", request));
    assert_eq!(h.states("alice", &call), vec![CallState::Connected]);
    assert_eq!(h.states("bob", &call), vec![CallState::Connected]);
}

#[test]
fn both_sides_holding_each_see_local_hold_until_they_resume() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.connected_call("alice", "bob");
    h.hold("alice", &call);
    h.hold("bob", &call);
    h.clear();
    h.resume("alice", &call);
    assert_eq!(h.states("alice", &call), vec![CallState::RemoteHold]);
    assert!(h.states("bob", &call).is_empty(), "bob still holds");
}

#[test]
fn hold_and_resume_in_a_wrong_state_answer_invalid_state() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.start("alice", &["bob"]);
    let request = h.hold("alice", &call);
    assert!(h
        .error("alice", request)
        .is(&registry::CALL_OPERATION_INVALID_STATE));
    h.ack("bob", &call);
    h.accept("bob", &call);
    h.media_ready("bob", &call);
    let request = h.resume("alice", &call);
    assert!(h
        .error("alice", request)
        .is(&registry::CALL_OPERATION_INVALID_STATE));
    h.hold("alice", &call);
    let request = h.hold("alice", &call);
    assert!(h
        .error("alice", request)
        .is(&registry::CALL_OPERATION_INVALID_STATE));
    assert_eq!(h.states("alice", &call).last(), Some(&CallState::LocalHold));
}

/// Each way ringing can stop, then an accept and a reject from the endpoint it rang on.
fn assert_not_ringing(h: &mut Harness, endpoint: &str, call: &CallId) {
    let request = h.accept(endpoint, call);
    let error = h.error(endpoint, request);
    assert!(error.is(&registry::ACCEPT_NOT_RINGING), "{error}");
    let request = h.reject(endpoint, call);
    let error = h.error(endpoint, request);
    assert!(error.is(&registry::REJECT_NOT_RINGING), "{error}");
}

#[test]
fn accept_and_reject_after_the_caller_cancelled_are_not_ringing() {
    let mut h = three_online();
    let call = h.start("alice", &["bob"]);
    h.hang_up("alice", &call);
    assert_not_ringing(&mut h, "bob-phone", &call);
}

#[test]
fn accept_and_reject_after_it_was_taken_elsewhere_are_not_ringing() {
    let mut h = three_online();
    let call = h.start("alice", &["bob"]);
    h.accept("bob-laptop", &call);
    assert_not_ringing(&mut h, "bob-phone", &call);
    // And the accepting endpoint itself cannot answer twice.
    let request = h.accept("bob-laptop", &call);
    assert!(h
        .error("bob-laptop", request)
        .is(&registry::ACCEPT_NOT_RINGING));
}

#[test]
fn accept_and_reject_after_the_ringing_timeout_are_not_ringing() {
    let mut h = three_online();
    let call = h.start("alice", &["bob"]);
    h.ack("bob-laptop", &call);
    h.ack("bob-phone", &call);
    h.advance(Duration::from_secs(120));
    assert_not_ringing(&mut h, "bob-phone", &call);
}

#[test]
fn accept_and_reject_after_declining_are_not_ringing() {
    let mut h = three_online();
    let call = h.start("alice", &["bob"]);
    h.ack("bob-laptop", &call);
    h.ack("bob-phone", &call);
    h.reject("bob-phone", &call);
    // The call still rings on the laptop, not on the phone.
    assert_not_ringing(&mut h, "bob-phone", &call);
    h.reject("bob-laptop", &call);
    assert_not_ringing(&mut h, "bob-laptop", &call);
}

#[test]
fn operations_on_unknown_calls_answer_unknown_call() {
    let mut h = three_online();
    let ghost = CallId::from("no-such-call");
    for request in [
        h.accept("alice", &ghost),
        h.reject("alice", &ghost),
        h.hang_up("alice", &ghost),
        h.hold("alice", &ghost),
        h.resume("alice", &ghost),
    ] {
        assert!(h
            .error("alice", request)
            .is(&registry::CALL_OPERATION_UNKNOWN_CALL));
    }
    h.media_ready("alice", &ghost);
    h.ack("alice", &ghost);
    h.frame(
        "alice",
        ClientFrame::Signal {
            call_id: ghost.clone(),
            to: None,
            payload: json!({}),
        },
    );
    let unsolicited = h.unsolicited_errors("alice");
    assert_eq!(unsolicited.len(), 3);
    assert!(unsolicited
        .iter()
        .all(|e| e.is(&registry::CALL_OPERATION_UNKNOWN_CALL)));
    // A call one is not part of is unknown too.
    let call = h.start("bob-laptop", &["carol"]);
    let request = h.hang_up("alice", &call);
    assert!(h
        .error("alice", request)
        .is(&registry::CALL_OPERATION_UNKNOWN_CALL));
    assert_eq!(h.controller.call_count(), 0);
}

#[test]
fn more_targets_than_the_participant_limit_is_refused() {
    let mut h = Harness::with(ControllerConfig {
        max_participants: 3,
        ..ControllerConfig::default()
    });
    h.online("alice", "alice");
    let request = h.request("alice", |request_id| ClientFrame::StartCall {
        request_id,
        targets: vec!["b".into(), "c".into(), "d".into()],
        video: false,
        joinable: false,
    });
    assert!(h
        .error("alice", request)
        .is(&registry::CALL_PARTICIPANT_LIMIT));
    assert_eq!(h.controller.call_count(), 0);
    let call = h.start("alice", &["b", "c"]);
    assert!(!call.as_str().is_empty());
    assert_eq!(ControllerConfig::default().max_participants, 350);
}

#[test]
fn starting_a_call_with_no_target_or_only_oneself_is_refused() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    for targets in [
        vec![],
        vec!["alice".into()],
        vec!["alice".into(), "alice".into()],
    ] {
        let request = h.request("alice", |request_id| ClientFrame::StartCall {
            request_id,
            targets,
            video: true,
            joinable: false,
        });
        assert!(h.error("alice", request).is(&registry::NO_TARGETS));
    }
    assert_eq!(h.controller.call_count(), 0);
}

#[test]
fn signals_are_relayed_only_to_participants_of_the_call() {
    let mut h = Harness::new();
    for who in ["alice", "bob", "carol", "dave"] {
        h.online(who, who);
    }
    let call = h.start("alice", &["bob", "carol"]);
    h.ack("bob", &call);
    h.accept("bob", &call);
    let other = h.start("dave", &["nobody-else"]);
    assert!(!other.as_str().is_empty());
    h.clear();
    let payload = json!({"sdp": "v=0"});
    h.frame(
        "alice",
        ClientFrame::Signal {
            call_id: call.clone(),
            to: None,
            payload: payload.clone(),
        },
    );
    let relayed: Vec<_> = h
        .frames("bob")
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Signal { from, payload, .. } => Some((from.clone(), payload.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(relayed.len(), 1);
    assert_eq!(relayed[0].1, payload);
    assert!(
        h.frames("carol").is_empty(),
        "a ringing target is not in the call yet"
    );
    assert!(h.frames("dave").is_empty());
    assert!(h.frames("alice").is_empty());

    // Directed to alice's participant, from bob.
    let alice_id = relayed[0].0.clone();
    h.frame(
        "bob",
        ClientFrame::Signal {
            call_id: call.clone(),
            to: Some(alice_id),
            payload: json!({"candidate": "x"}),
        },
    );
    assert_eq!(h.frames("alice").len(), 1);
    // Directed to nobody in the call.
    h.frame(
        "bob",
        ClientFrame::Signal {
            call_id: call.clone(),
            to: Some("p-unknown".into()),
            payload: json!(1),
        },
    );
    assert!(h.unsolicited_errors("bob")[0].is(&registry::INVALID_ARGUMENT));
    // A ringing endpoint cannot signal into the call.
    h.frame(
        "carol",
        ClientFrame::Signal {
            call_id: call,
            to: None,
            payload: json!(2),
        },
    );
    assert!(h.unsolicited_errors("carol")[0].is(&registry::CALL_OPERATION_UNKNOWN_CALL));
}

#[test]
fn frames_meant_for_the_connection_layer_are_answered() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.frame("alice", ClientFrame::Ping);
    assert_eq!(h.frames("alice"), &[ServerFrame::Pong]);
    h.frame(
        "alice",
        ClientFrame::Hello {
            version: 1,
            token: "t".into(),
            endpoint_id: "alice".into(),
            push: None,
            resume: false,
        },
    );
    assert!(h.unsolicited_errors("alice")[0].is(&registry::HANDSHAKE_EXPECTED));
    // Frames of an endpoint the controller does not know reach nobody.
    h.frame("stranger", ClientFrame::Ping);
    assert!(h.frames("stranger").is_empty());
}

#[test]
fn a_lost_endpoint_hears_nothing_until_it_resumes() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.connected_call("alice", "bob");
    h.input(Input::EndpointLost {
        endpoint: h.key("bob"),
    });
    h.clear();
    h.hold("alice", &call);
    assert!(h.frames("bob").is_empty());
    h.online_with("bob", "bob", None, true);
    let resumed = h.controller.resumed_calls(&h.key("bob"));
    assert_eq!(resumed[0].state, CallState::RemoteHold);
    assert_eq!(resumed[0].participants[0].state, ParticipantState::Hold);
}

#[test]
fn a_closed_endpoint_leaves_its_calls_with_0_0() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.connected_call("alice", "bob");
    h.input(Input::EndpointClosed {
        endpoint: h.key("bob"),
    });
    assert_eq!(
        h.left("alice", &call, "bob"),
        common::reason(&registry::CALL_ENDED_LOCALLY)
    );
    // Events about a forgotten endpoint are ignored.
    h.input(Input::EndpointLost {
        endpoint: h.key("bob"),
    });
    h.input(Input::EndpointClosed {
        endpoint: h.key("bob"),
    });
    assert_eq!(h.controller.endpoint_count(), 1);
}

#[test]
fn an_identity_cannot_ring_more_calls_than_its_cap() {
    let mut h = Harness::with(ControllerConfig {
        max_outgoing_calls_per_identity: 2,
        ..ControllerConfig::default()
    });
    h.online("alice-phone", "alice");
    h.online("alice-laptop", "alice");
    for callee in ["bob", "carol", "dave"] {
        h.online(callee, callee);
    }
    // The cap counts the identity's calls, whichever of its endpoints started them.
    let first = h.start("alice-phone", &["bob"]);
    let second = h.start("alice-laptop", &["bob"]);
    h.clear();
    let request = h.request("alice-phone", |request_id| ClientFrame::StartCall {
        request_id,
        targets: vec!["carol".into()],
        video: false,
        joinable: false,
    });
    let error = h.error("alice-phone", request);
    assert!(error.is(&registry::OUTGOING_CALLS_LIMIT), "{error}");
    assert_eq!(h.controller.call_count(), 2);
    assert!(
        h.frames("carol").is_empty(),
        "nothing rang: {:?}",
        h.frames("carol")
    );
    // Another identity is not held to alice's count.
    let theirs = h.start("dave", &["carol"]);
    assert_eq!(h.incoming("carol", &theirs), 1);
    // An answered call no longer counts: bob takes the first, and alice may ring carol.
    h.ack("bob", &first);
    h.accept("bob", &first);
    let third = h.start("alice-phone", &["carol"]);
    // Full again; ending an unanswered call frees its place.
    h.clear();
    let request = h.request("alice-laptop", |request_id| ClientFrame::StartCall {
        request_id,
        targets: vec!["dave".into()],
        video: false,
        joinable: false,
    });
    assert!(h
        .error("alice-laptop", request)
        .is(&registry::OUTGOING_CALLS_LIMIT));
    h.hang_up("alice-laptop", &second);
    let fourth = h.start("alice-laptop", &["dave"]);
    // The ringing timeout ends both unanswered calls, and the places come back.
    h.advance(ControllerConfig::default().ringing_timeout + Duration::from_secs(1));
    assert!(h.ends("alice-phone", &third).len() == 1);
    assert!(h.ends("alice-laptop", &fourth).len() == 1);
    h.start("alice-phone", &["carol"]);
    h.start("alice-phone", &["dave"]);
    assert_eq!(
        ControllerConfig::default().max_outgoing_calls_per_identity,
        32
    );
}

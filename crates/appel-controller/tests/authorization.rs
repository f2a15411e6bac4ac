//! Who may act on which call, written as the attacks they stop: an outsider with a call's id, an
//! identity borrowing another's endpoint id. Driven with the fake clock.

mod common;

use std::time::Duration;

use appel_codes::{registry, CallingError};
use appel_controller::{EndpointKey, Input};
use appel_protocol::{CallId, CallState, ClientFrame, ServerFrame};
use common::{reason, Harness, TOKEN_LIFETIME};

/// A connected 1:1 call of alice and bob, with mallory online but not in it.
fn one_to_one(h: &mut Harness) -> CallId {
    for who in ["alice", "bob", "mallory"] {
        h.online(who, who);
    }
    let call = h.connected_call("alice", "bob");
    h.clear();
    call
}

fn join(h: &mut Harness, endpoint: &str, call: &CallId) -> u64 {
    let call_id = call.clone();
    h.request(endpoint, |request_id| ClientFrame::JoinCall {
        request_id,
        call_id,
        video: false,
    })
}

/// The answer an outsider gets must be the one a call id that never existed gets.
fn assert_answered_as_unknown(error: &CallingError, call: &CallId, unknown: &CallingError) {
    assert!(
        error.is(&registry::CALL_OPERATION_UNKNOWN_CALL),
        "{error:?}"
    );
    assert_eq!(error.code(), unknown.code());
    assert_eq!(error.entry().subcode, unknown.entry().subcode);
    assert_eq!(error.context(), Some(format!("call {call}").as_str()));
    assert_eq!(error.raw_cause(), unknown.raw_cause());
}

fn random_id_error(h: &mut Harness, endpoint: &str) -> (CallId, CallingError) {
    let made_up = CallId::from("0000000000000000ffffffffffffffffffffffffffffffff");
    let request = join(h, endpoint, &made_up);
    let error = h.error(endpoint, request);
    assert_eq!(error.context(), Some(format!("call {made_up}").as_str()));
    (made_up, error)
}

#[test]
fn an_uninvited_identity_cannot_join_a_one_to_one_call() {
    let mut h = Harness::new();
    let call = one_to_one(&mut h);
    let (_, unknown) = random_id_error(&mut h, "mallory");
    let request = join(&mut h, "mallory", &call);
    assert_answered_as_unknown(&h.error("mallory", request), &call, &unknown);
    assert!(h.frames("alice").is_empty(), "{:#?}", h.frames("alice"));
    assert!(h.frames("bob").is_empty(), "{:#?}", h.frames("bob"));
    // The call goes on between its two parties only.
    let snapshot = h.controller.snapshot_of(&call).expect("still in progress");
    assert_eq!(snapshot.participants.len(), 2);
}

#[test]
fn an_outsider_is_answered_as_for_an_unknown_call_by_every_call_frame() {
    let mut h = Harness::new();
    let call = one_to_one(&mut h);
    let alice = h
        .controller
        .snapshot_of(&call)
        .expect("in progress")
        .participants[0]
        .id
        .clone();
    let frames: Vec<Box<dyn Fn(u64) -> ClientFrame>> = vec![
        Box::new(|request_id| ClientFrame::HangUp {
            request_id,
            call_id: call.clone(),
            for_everyone: true,
        }),
        Box::new(|request_id| ClientFrame::Hold {
            request_id,
            call_id: call.clone(),
        }),
        Box::new(|request_id| ClientFrame::Resume {
            request_id,
            call_id: call.clone(),
        }),
        Box::new(|request_id| ClientFrame::RemoveParticipant {
            request_id,
            call_id: call.clone(),
            participant_id: alice.clone(),
        }),
        Box::new(|request_id| ClientFrame::AddParticipant {
            request_id,
            call_id: call.clone(),
            identity: "mallory".into(),
        }),
        Box::new(|request_id| ClientFrame::MediaState {
            request_id,
            call_id: call.clone(),
            audio: true,
            video: true,
            screen_share: true,
        }),
        Box::new(|request_id| ClientFrame::Accept {
            request_id,
            call_id: call.clone(),
            video: false,
        }),
        Box::new(|request_id| ClientFrame::Reject {
            request_id,
            call_id: call.clone(),
        }),
    ];
    let (_, unknown) = random_id_error(&mut h, "mallory");
    for build in &frames {
        let request = h.request("mallory", build);
        assert_answered_as_unknown(&h.error("mallory", request), &call, &unknown);
    }
    // Frames without a request id get the same error, without one.
    for frame in [
        ClientFrame::Signal {
            call_id: call.clone(),
            to: None,
            payload: serde_json::json!({"sdp": "v=0 forged"}),
        },
        ClientFrame::Signal {
            call_id: call.clone(),
            to: Some(alice.clone()),
            payload: serde_json::json!({"sdp": "v=0 forged"}),
        },
        ClientFrame::MediaReady {
            call_id: call.clone(),
        },
        ClientFrame::AckIncoming {
            call_id: call.clone(),
        },
    ] {
        h.frame("mallory", frame);
    }
    let unsolicited = h.unsolicited_errors("mallory");
    assert_eq!(unsolicited.len(), 4, "{unsolicited:?}");
    for error in &unsolicited {
        assert_answered_as_unknown(error, &call, &unknown);
    }
    assert!(h.frames("alice").is_empty(), "{:#?}", h.frames("alice"));
    assert!(h.frames("bob").is_empty(), "{:#?}", h.frames("bob"));
    let snapshot = h.controller.snapshot_of(&call).expect("still in progress");
    assert_eq!(snapshot.participants.len(), 2);
    assert!(snapshot
        .participants
        .iter()
        .all(|p| p.state == appel_protocol::ParticipantState::Connected));
}

#[test]
fn an_invited_target_and_an_added_identity_may_join_by_id_on_any_endpoint() {
    let mut h = Harness::new();
    let call = one_to_one(&mut h);
    // bob's other device joins the call it was called to.
    h.online("bob-tablet", "bob");
    let request = join(&mut h, "bob-tablet", &call);
    assert!(h.frames("bob-tablet").iter().any(
        |f| matches!(f, ServerFrame::CallJoined { request_id, .. } if *request_id == request)
    ));
    // carol, added by alice, joins from a device that was never rung.
    h.online("carol-laptop", "carol");
    let added = h.request("alice", |request_id| ClientFrame::AddParticipant {
        request_id,
        call_id: call.clone(),
        identity: "carol".into(),
    });
    assert!(h.acked("alice", added));
    h.online("carol-phone", "carol");
    let request = join(&mut h, "carol-phone", &call);
    assert!(h.frames("carol-phone").iter().any(
        |f| matches!(f, ServerFrame::CallJoined { request_id, .. } if *request_id == request)
    ));
    // mallory still may not.
    let refused = join(&mut h, "mallory", &call);
    assert!(h
        .error("mallory", refused)
        .is(&registry::CALL_OPERATION_UNKNOWN_CALL));
}

#[test]
fn a_removed_identity_cannot_come_back_by_id() {
    let mut h = Harness::new();
    let call = one_to_one(&mut h);
    h.online("carol", "carol");
    let added = h.request("alice", |request_id| ClientFrame::AddParticipant {
        request_id,
        call_id: call.clone(),
        identity: "carol".into(),
    });
    assert!(h.acked("alice", added));
    h.ack("carol", &call);
    h.accept("carol", &call);
    h.media_ready("carol", &call);
    let carol = h
        .controller
        .snapshot_of(&call)
        .expect("in progress")
        .participants
        .iter()
        .find(|p| p.identity.as_str() == "carol")
        .expect("carol is in")
        .id
        .clone();
    let removal = h.request("alice", |request_id| ClientFrame::RemoveParticipant {
        request_id,
        call_id: call.clone(),
        participant_id: carol,
    });
    assert!(h.acked("alice", removal));
    let request = join(&mut h, "carol", &call);
    assert!(h
        .error("carol", request)
        .is(&registry::CALL_OPERATION_UNKNOWN_CALL));
}

#[test]
fn anyone_with_the_id_joins_a_joinable_call_started_without_targets() {
    let mut h = Harness::new();
    for who in ["alice", "bob", "carol"] {
        h.online(who, who);
    }
    let call = h.start_with("alice", &[], true);
    // The caller waits alone for the first joiner.
    assert_eq!(h.controller.call_count(), 1);
    assert!(h.ends("alice", &call).is_empty());
    for who in ["bob", "carol"] {
        let request = join(&mut h, who, &call);
        assert!(h.frames(who).iter().any(
            |f| matches!(f, ServerFrame::CallJoined { request_id, .. } if *request_id == request)
        ));
        h.media_ready(who, &call);
    }
    assert_eq!(h.states("alice", &call).last(), Some(&CallState::Connected));
    // Once the others leave, the caller is alone and the call ends as any group call does.
    h.hang_up("bob", &call);
    h.hang_up("carol", &call);
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::CALL_ENDED_LOCALLY)
    );
    assert_eq!(h.controller.call_count(), 0);
}

#[test]
fn a_joinable_call_nobody_joins_ends_at_the_ringing_timeout() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    let call = h.start_with("alice", &[], true);
    h.advance(Duration::from_secs(119));
    assert!(h.ends("alice", &call).is_empty());
    h.advance(Duration::from_secs(1));
    assert_eq!(h.ended("alice", &call), reason(&registry::RINGING_TIMEOUT));
    assert_eq!(h.controller.call_count(), 0);
}

#[test]
fn a_call_with_no_target_must_be_joinable() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    let request = h.request("alice", |request_id| ClientFrame::StartCall {
        request_id,
        targets: Vec::new(),
        video: false,
        joinable: false,
    });
    assert!(h.error("alice", request).is(&registry::NO_TARGETS));
}

#[test]
fn a_borrowed_endpoint_id_neither_closes_nor_resumes_the_owner() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.connected_call("alice", "bob");
    h.clear();
    for resume in [false, true] {
        // mallory signs in with alice's endpoint id.
        let borrowed = EndpointKey::new("mallory", "alice");
        h.input(Input::EndpointOnline {
            endpoint: borrowed.clone(),
            ever_registered: true,
            token_expires_at: h.now + TOKEN_LIFETIME,
            push_url: None,
            resume,
        });
        assert!(h.controller.resumed_calls(&borrowed).is_empty());
        assert!(h.frames("alice").is_empty(), "{:#?}", h.frames("alice"));
        assert!(h.frames("bob").is_empty(), "{:#?}", h.frames("bob"));
        assert!(h.closes.is_empty());
        // Its frames act as mallory's, on nothing of alice's.
        h.input(Input::Frame {
            endpoint: borrowed.clone(),
            frame: ClientFrame::HangUp {
                request_id: 900,
                call_id: call.clone(),
                for_everyone: true,
            },
        });
        assert!(h.inbox[&borrowed].iter().any(|f| matches!(
            f,
            ServerFrame::Error { request_id: Some(900), error, .. }
                if error.is(&registry::CALL_OPERATION_UNKNOWN_CALL)
        )));
        // Its going away takes nothing of alice's with it.
        h.input(Input::EndpointClosed { endpoint: borrowed });
        assert!(h.frames("alice").is_empty(), "{:#?}", h.frames("alice"));
        assert!(h.frames("bob").is_empty(), "{:#?}", h.frames("bob"));
    }
    assert_eq!(
        h.controller
            .snapshot_of(&call)
            .expect("alice's call goes on")
            .participants
            .len(),
        2
    );
    // alice's own reconnection still resumes her call.
    h.input(Input::EndpointLost {
        endpoint: h.key("alice"),
    });
    h.online_with("alice", "alice", None, true);
    assert_eq!(h.controller.resumed_calls(&h.key("alice")).len(), 1);
}

//! Each call-end reason of docs/protocol.md, "Who receives which end reason" that 1:1 and multi-target calls produce, with what each
//! party's endpoint receives.

mod common;

use std::time::Duration;

use appel_codes::registry;
use appel_controller::{ControllerConfig, EndpointKey, Input, RecordEvent};
use appel_protocol::CallState;
use common::{reason, Harness, TOKEN_LIFETIME};

#[test]
fn local_hang_up_gives_0_0_to_the_one_who_hangs_up_and_to_the_other_side() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.connected_call("alice", "bob");
    let request = h.hang_up("alice", &call);
    assert!(h.acked("alice", request));
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::CALL_ENDED_LOCALLY)
    );
    assert_eq!(
        h.left("bob", &call, "alice"),
        reason(&registry::CALL_ENDED_LOCALLY)
    );
    assert_eq!(h.ended("bob", &call), reason(&registry::CALL_ENDED_LOCALLY));
    assert_eq!(h.controller.call_count(), 0);
}

#[test]
fn caller_cancelling_gives_487_0_to_each_ringing_endpoint() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob-laptop", "bob");
    h.online("bob-phone", "bob");
    let call = h.start("alice", &["bob"]);
    h.ack("bob-laptop", &call);
    h.hang_up("alice", &call);
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::CALL_ENDED_LOCALLY)
    );
    for endpoint in ["bob-laptop", "bob-phone"] {
        assert_eq!(
            h.ended(endpoint, &call),
            reason(&registry::CALL_CANCELLED_BY_CALLER)
        );
    }
}

#[test]
fn a_single_ringing_endpoint_declining_gives_the_caller_603_0() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.start("alice", &["bob"]);
    h.ack("bob", &call);
    let request = h.reject("bob", &call);
    assert!(h.acked("bob", request));
    assert_eq!(h.ended("bob", &call), reason(&registry::CALL_ENDED_LOCALLY));
    assert_eq!(
        h.left("alice", &call, "bob"),
        reason(&registry::CALL_DECLINED)
    );
    assert_eq!(h.ended("alice", &call), reason(&registry::CALL_DECLINED));
}

#[test]
fn several_ringing_endpoints_all_declining_give_the_caller_487_10024() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob-laptop", "bob");
    h.online("bob-phone", "bob");
    let call = h.start("alice", &["bob"]);
    h.ack("bob-laptop", &call);
    h.ack("bob-phone", &call);
    h.reject("bob-laptop", &call);
    assert!(
        h.ends("alice", &call).is_empty(),
        "one endpoint still rings"
    );
    h.reject("bob-phone", &call);
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::ALL_ENDPOINTS_DECLINED)
    );
}

#[test]
fn every_endpoint_of_every_target_declining_gives_the_caller_0_5003() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob-laptop", "bob");
    h.online("bob-phone", "bob");
    h.online("carol", "carol");
    let call = h.start("alice", &["bob", "carol"]);
    for endpoint in ["bob-laptop", "bob-phone", "carol"] {
        h.ack(endpoint, &call);
        h.reject(endpoint, &call);
    }
    assert_eq!(
        h.left("alice", &call, "bob"),
        reason(&registry::ALL_ENDPOINTS_DECLINED)
    );
    assert_eq!(
        h.left("alice", &call, "carol"),
        reason(&registry::CALL_DECLINED)
    );
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::ALL_TARGETS_DECLINED)
    );
}

#[test]
fn one_endpoint_accepting_gives_the_others_487_10003() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    for endpoint in ["bob-laptop", "bob-phone", "bob-tablet"] {
        h.online(endpoint, "bob");
    }
    let call = h.start("alice", &["bob"]);
    h.ack("bob-laptop", &call);
    h.ack("bob-phone", &call);
    let request = h.accept("bob-phone", &call);
    assert!(h.acked("bob-phone", request));
    assert!(h.ends("bob-phone", &call).is_empty());
    for endpoint in ["bob-laptop", "bob-tablet"] {
        assert_eq!(
            h.ended(endpoint, &call),
            reason(&registry::CALL_ACCEPTED_ELSEWHERE)
        );
    }
    assert!(h.ends("alice", &call).is_empty());
}

#[test]
fn nobody_answering_gives_487_10004_to_the_caller_and_every_ringing_endpoint() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob-laptop", "bob");
    h.online("bob-phone", "bob");
    let call = h.start("alice", &["bob"]);
    h.ack("bob-laptop", &call);
    h.ack("bob-phone", &call);
    h.advance(Duration::from_secs(119));
    assert!(h.ends("alice", &call).is_empty());
    h.advance(Duration::from_secs(1));
    assert_eq!(h.ended("alice", &call), reason(&registry::RINGING_TIMEOUT));
    for endpoint in ["bob-laptop", "bob-phone"] {
        assert_eq!(h.ended(endpoint, &call), reason(&registry::RINGING_TIMEOUT));
    }
}

#[test]
fn a_target_that_never_registered_gives_480_10037() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    let call = h.start("alice", &["nobody"]);
    assert_eq!(
        h.left("alice", &call, "nobody"),
        reason(&registry::TARGET_NEVER_REGISTERED)
    );
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::TARGET_NEVER_REGISTERED)
    );
    assert!(h.pushes.is_empty());
}

#[test]
fn a_registered_target_with_no_endpoint_online_and_no_push_gives_480_10076() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    // Known from the shell's store…
    h.input(Input::RegistrationKnown {
        identity: "bob".into(),
        push_url: None,
    });
    let call = h.start("alice", &["bob"]);
    assert_eq!(h.ended("alice", &call), reason(&registry::TARGET_OFFLINE));
    // …or from an earlier connection this run.
    h.online("carol", "carol");
    h.input(Input::EndpointClosed {
        endpoint: h.key("carol"),
    });
    let call = h.start("alice", &["carol"]);
    assert_eq!(h.ended("alice", &call), reason(&registry::TARGET_OFFLINE));
}

#[test]
fn a_push_with_no_endpoint_coming_online_gives_480_10077_after_the_push_wait() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.input(Input::RegistrationKnown {
        identity: "bob".into(),
        push_url: Some("https://push.example/bob".into()),
    });
    let call = h.start("alice", &["bob"]);
    assert_eq!(
        h.pushes,
        vec![(
            "bob".into(),
            "https://push.example/bob".into(),
            call.clone()
        )]
    );
    h.input(Input::PushDelivered {
        identity: "bob".into(),
        ok: true,
    });
    h.advance(Duration::from_secs(29));
    assert!(h.ends("alice", &call).is_empty());
    h.advance(Duration::from_secs(1));
    assert_eq!(
        h.left("alice", &call, "bob"),
        reason(&registry::TARGET_OFFLINE_AFTER_PUSH)
    );
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::TARGET_OFFLINE_AFTER_PUSH)
    );
}

#[test]
fn a_push_that_fails_gives_480_10076_at_once() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.input(Input::RegistrationKnown {
        identity: "bob".into(),
        push_url: Some("https://push.example/bob".into()),
    });
    let call = h.start("alice", &["bob"]);
    h.input(Input::PushDelivered {
        identity: "bob".into(),
        ok: false,
    });
    assert_eq!(h.ended("alice", &call), reason(&registry::TARGET_OFFLINE));
}

#[test]
fn an_endpoint_woken_by_push_rings_and_can_answer() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online_with("bob-phone", "bob", Some("https://push.example/bob"), false);
    h.input(Input::EndpointClosed {
        endpoint: h.key("bob-phone"),
    });
    let call = h.start("alice", &["bob"]);
    assert_eq!(h.pushes.len(), 1);
    h.advance(Duration::from_secs(10));
    h.online("bob-phone", "bob");
    assert_eq!(h.incoming("bob-phone", &call), 1);
    h.ack("bob-phone", &call);
    h.advance(Duration::from_secs(30));
    assert!(
        h.ends("alice", &call).is_empty(),
        "the push wait no longer applies"
    );
    h.accept("bob-phone", &call);
    h.media_ready("bob-phone", &call);
    assert_eq!(h.states("alice", &call).last(), Some(&CallState::Connected));
}

#[test]
fn endpoints_that_never_acknowledge_delivery_give_480_10078() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob-laptop", "bob");
    h.online("bob-phone", "bob");
    let call = h.start("alice", &["bob"]);
    h.advance(Duration::from_millis(4_999));
    assert!(h.ends("alice", &call).is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::TARGET_UNREACHABLE)
    );
    for endpoint in ["bob-laptop", "bob-phone"] {
        assert_eq!(
            h.ended(endpoint, &call),
            reason(&registry::TARGET_UNREACHABLE)
        );
    }
}

#[test]
fn one_endpoint_acknowledging_keeps_the_call_ringing_when_another_does_not() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob-laptop", "bob");
    h.online("bob-phone", "bob");
    let call = h.start("alice", &["bob"]);
    h.ack("bob-laptop", &call);
    h.advance(Duration::from_secs(5));
    assert_eq!(
        h.ended("bob-phone", &call),
        reason(&registry::TARGET_UNREACHABLE)
    );
    assert!(h.ends("alice", &call).is_empty());
    assert_eq!(
        h.states("alice", &call),
        vec![CallState::Connecting, CallState::Ringing]
    );
}

#[test]
fn a_callee_that_never_becomes_media_ready_gives_408_10057_to_both() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.start("alice", &["bob"]);
    h.ack("bob", &call);
    h.accept("bob", &call);
    h.advance(Duration::from_secs(84));
    assert!(h.ends("bob", &call).is_empty());
    h.advance(Duration::from_secs(1));
    assert_eq!(
        h.ended("bob", &call),
        reason(&registry::CALLEE_SETUP_INCOMPLETE)
    );
    assert_eq!(
        h.left("alice", &call, "bob"),
        reason(&registry::CALLEE_SETUP_INCOMPLETE)
    );
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::CALLEE_SETUP_INCOMPLETE)
    );
}

#[test]
fn a_callee_vanishing_mid_setup_gives_408_10057() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.start("alice", &["bob"]);
    h.ack("bob", &call);
    h.accept("bob", &call);
    h.input(Input::EndpointLost {
        endpoint: h.key("bob"),
    });
    h.advance(Duration::from_secs(40));
    assert_eq!(
        h.left("alice", &call, "bob"),
        reason(&registry::CALLEE_SETUP_INCOMPLETE)
    );
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::CALLEE_SETUP_INCOMPLETE)
    );
    let left = h.records.iter().find_map(|r| match r {
        RecordEvent::LegLeft {
            identity, reason, ..
        } if identity.as_str() == "bob" => Some(*reason),
        _ => None,
    });
    assert_eq!(left, Some(reason(&registry::CALLEE_SETUP_INCOMPLETE)));
}

#[test]
fn a_token_expiring_mid_call_gives_495_4507_and_closes_with_401_10009() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.input(Input::EndpointOnline {
        endpoint: EndpointKey::new("bob", "bob"),
        ever_registered: true,
        token_expires_at: h.now + Duration::from_secs(600),
        push_url: None,
        resume: false,
    });
    let call = h.connected_call("alice", "bob");
    h.advance(Duration::from_secs(600));
    assert_eq!(
        h.ended("bob", &call),
        reason(&registry::TOKEN_EXPIRED_DURING_CALL)
    );
    assert_eq!(
        h.left("alice", &call, "bob"),
        reason(&registry::TOKEN_EXPIRED_DURING_CALL)
    );
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::CALL_ENDED_LOCALLY)
    );
    assert_eq!(h.closes.len(), 1);
    assert_eq!(h.closes[0].0.endpoint.as_str(), "bob");
    assert!(h.closes[0].1.is(&registry::UNAUTHENTICATED));
    assert_eq!(h.controller.endpoint_count(), 1);
}

#[test]
fn a_refreshed_token_keeps_the_call_going() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.input(Input::EndpointOnline {
        endpoint: EndpointKey::new("bob", "bob"),
        ever_registered: true,
        token_expires_at: h.now + Duration::from_secs(600),
        push_url: None,
        resume: false,
    });
    let call = h.connected_call("alice", "bob");
    h.advance(Duration::from_secs(500));
    h.input(Input::TokenRefreshed {
        endpoint: h.key("bob"),
        expires_at: h.now + Duration::from_secs(3600),
    });
    h.advance(Duration::from_secs(600));
    assert!(h.ends("bob", &call).is_empty());
    assert!(h.closes.is_empty());
    h.advance(Duration::from_secs(3000));
    assert_eq!(
        h.ended("bob", &call),
        reason(&registry::TOKEN_EXPIRED_DURING_CALL)
    );
}

#[test]
fn a_connection_lost_and_not_resumed_gives_the_others_0_4521() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.connected_call("alice", "bob");
    h.input(Input::EndpointLost {
        endpoint: h.key("bob"),
    });
    h.advance(Duration::from_secs(39));
    assert!(h.ends("alice", &call).is_empty());
    h.advance(Duration::from_secs(1));
    assert_eq!(
        h.left("alice", &call, "bob"),
        reason(&registry::ABRUPT_DISCONNECT)
    );
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::ABRUPT_DISCONNECT)
    );
    assert!(
        h.ends("bob", &call).is_empty(),
        "nothing can reach a vanished endpoint"
    );
    assert_eq!(h.controller.endpoint_count(), 1);
}

#[test]
fn a_connection_resumed_within_the_window_keeps_its_calls() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.connected_call("alice", "bob");
    h.input(Input::EndpointLost {
        endpoint: h.key("bob"),
    });
    h.advance(Duration::from_secs(30));
    h.online_with("bob", "bob", None, true);
    let resumed = h.controller.resumed_calls(&h.key("bob"));
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].call_id, call);
    assert_eq!(resumed[0].state, CallState::Connected);
    assert_eq!(resumed[0].participants.len(), 1);
    assert_eq!(resumed[0].participants[0].identity.as_str(), "alice");
    h.advance(Duration::from_secs(60));
    assert!(h.ends("alice", &call).is_empty());
    h.hang_up("bob", &call);
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::CALL_ENDED_LOCALLY)
    );
}

#[test]
fn reconnecting_without_resuming_ends_old_legs_with_0_4521_and_rings_again() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    h.online("carol", "carol");
    let connected = h.connected_call("alice", "bob");
    let ringing = h.start("carol", &["bob"]);
    h.ack("bob", &ringing);
    h.online("bob", "bob");
    assert_eq!(
        h.ended("alice", &connected),
        reason(&registry::ABRUPT_DISCONNECT)
    );
    assert_eq!(h.incoming("bob", &ringing), 2);
    assert!(h.ends("carol", &ringing).is_empty());
    assert!(h.controller.resumed_calls(&h.key("bob")).is_empty());
}

#[test]
fn revoked_tokens_end_live_legs_with_401_10009() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.connected_call("alice", "bob");
    h.input(Input::TokensRevoked {
        identity: "bob".into(),
    });
    assert_eq!(h.ended("bob", &call), reason(&registry::UNAUTHENTICATED));
    assert_eq!(
        h.left("alice", &call, "bob"),
        reason(&registry::UNAUTHENTICATED)
    );
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::CALL_ENDED_LOCALLY)
    );
    assert_eq!(h.closes.len(), 1);
    assert!(h.closes[0].1.is(&registry::UNAUTHENTICATED));
}

#[test]
fn a_deleted_identity_is_closed_with_401_10009_and_calls_to_it_end_with_480_10037() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    h.online("carol", "carol");
    let connected = h.connected_call("alice", "bob");
    let ringing = h.start("carol", &["bob"]);
    h.input(Input::IdentityDeleted {
        identity: "bob".into(),
    });
    assert_eq!(
        h.ended("bob", &connected),
        reason(&registry::UNAUTHENTICATED)
    );
    assert_eq!(
        h.left("alice", &connected, "bob"),
        reason(&registry::UNAUTHENTICATED)
    );
    assert_eq!(
        h.ended("carol", &ringing),
        reason(&registry::TARGET_NEVER_REGISTERED)
    );
    // Once deleted, it is unknown.
    let again = h.start("alice", &["bob"]);
    assert_eq!(
        h.ended("alice", &again),
        reason(&registry::TARGET_NEVER_REGISTERED)
    );
}

#[test]
fn the_server_ending_a_call_gives_every_party_its_reason() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    h.online("carol", "carol");
    let call = h.start("alice", &["bob", "carol"]);
    h.ack("bob", &call);
    h.accept("bob", &call);
    h.media_ready("bob", &call);
    h.ack("carol", &call);
    let shutdown = reason(&registry::SERVER_SHUTTING_DOWN);
    assert_eq!(h.controller.call_ids(), vec![call.clone()]);
    h.input(Input::HangUpAll {
        call: call.clone(),
        reason: shutdown,
    });
    for endpoint in ["alice", "bob", "carol"] {
        assert_eq!(h.ended(endpoint, &call), shutdown);
    }
    assert_eq!(h.controller.call_count(), 0);
}

#[test]
fn hanging_up_for_everyone_gives_the_others_0_4097() {
    let mut h = Harness::new();
    for who in ["alice", "bob", "carol"] {
        h.online(who, who);
    }
    let call = h.start("alice", &["bob", "carol"]);
    for who in ["bob", "carol"] {
        h.ack(who, &call);
        h.accept(who, &call);
        h.media_ready(who, &call);
    }
    // The organizer (the caller) ends it for everyone.
    h.frame(
        "alice",
        appel_protocol::ClientFrame::HangUp {
            request_id: 99,
            call_id: call.clone(),
            for_everyone: true,
        },
    );
    assert_eq!(
        h.ended("alice", &call),
        reason(&registry::CALL_ENDED_LOCALLY)
    );
    for who in ["bob", "carol"] {
        assert_eq!(
            h.left(who, &call, "alice"),
            reason(&registry::CALL_ENDED_LOCALLY)
        );
        assert_eq!(h.ended(who, &call), reason(&registry::ENDED_FOR_EVERYONE));
    }
}

#[test]
fn a_group_call_goes_on_while_two_parties_are_connected() {
    let mut h = Harness::new();
    for who in ["alice", "bob", "carol"] {
        h.online(who, who);
    }
    let call = h.start("alice", &["bob", "carol"]);
    for who in ["bob", "carol"] {
        h.ack(who, &call);
        h.accept(who, &call);
        h.media_ready(who, &call);
    }
    h.hang_up("alice", &call);
    for who in ["bob", "carol"] {
        assert_eq!(
            h.left(who, &call, "alice"),
            reason(&registry::CALL_ENDED_LOCALLY)
        );
        assert!(h.ends(who, &call).is_empty());
    }
    h.input(Input::EndpointLost {
        endpoint: h.key("carol"),
    });
    h.advance(Duration::from_secs(40));
    assert_eq!(
        h.left("bob", &call, "carol"),
        reason(&registry::ABRUPT_DISCONNECT)
    );
    assert_eq!(h.ended("bob", &call), reason(&registry::ABRUPT_DISCONNECT));
}

#[test]
fn a_target_declining_leaves_a_connected_group_call_going() {
    let mut h = Harness::new();
    for who in ["alice", "bob", "carol"] {
        h.online(who, who);
    }
    let call = h.start("alice", &["bob", "carol"]);
    h.ack("bob", &call);
    h.accept("bob", &call);
    h.media_ready("bob", &call);
    h.ack("carol", &call);
    h.reject("carol", &call);
    for who in ["alice", "bob"] {
        assert_eq!(
            h.left(who, &call, "carol"),
            reason(&registry::CALL_DECLINED)
        );
        assert!(h.ends(who, &call).is_empty());
    }
    // The ringing timeout no longer concerns anyone.
    h.advance(Duration::from_secs(200));
    assert!(h.ends("alice", &call).is_empty());
}

#[test]
fn a_caller_leaving_a_group_while_a_target_rings_ends_the_call_for_the_last_party() {
    let mut h = Harness::new();
    for who in ["alice", "bob", "carol"] {
        h.online(who, who);
    }
    let call = h.start("alice", &["bob", "carol"]);
    h.ack("bob", &call);
    h.accept("bob", &call);
    h.media_ready("bob", &call);
    h.ack("carol", &call);
    h.hang_up("alice", &call);
    assert_eq!(h.ended("bob", &call), reason(&registry::CALL_ENDED_LOCALLY));
    assert_eq!(
        h.ended("carol", &call),
        reason(&registry::CALL_CANCELLED_BY_CALLER)
    );
}

#[test]
fn records_carry_the_same_reasons_as_the_frames() {
    let mut h = Harness::with(ControllerConfig {
        id_seed: [1; 32],
        ..ControllerConfig::default()
    });
    h.input(Input::EndpointOnline {
        endpoint: EndpointKey::new("alice", "alice"),
        ever_registered: false,
        token_expires_at: h.now + TOKEN_LIFETIME,
        push_url: None,
        resume: false,
    });
    assert_eq!(h.registered, vec!["alice".into()]);
    h.online("bob", "bob");
    let call = h.start("alice", &["bob"]);
    h.ack("bob", &call);
    h.reject("bob", &call);
    let created = h.records.iter().any(|r| {
        matches!(r, RecordEvent::CallCreated { call: c, caller, targets, .. }
            if *c == call && caller.as_str() == "alice" && targets == &vec!["bob".into()])
    });
    assert!(created);
    let caller_left = h.records.iter().find_map(|r| match r {
        RecordEvent::LegLeft {
            call: c,
            identity,
            reason,
            ..
        } if *c == call && identity.as_str() == "alice" => Some(*reason),
        _ => None,
    });
    assert_eq!(caller_left, Some(reason(&registry::CALL_DECLINED)));
    let ended = h.records.iter().find_map(|r| match r {
        RecordEvent::CallEnded {
            call: c, reason, ..
        } if *c == call => Some(*reason),
        _ => None,
    });
    assert_eq!(ended, Some(reason(&registry::CALL_DECLINED)));
    // A second connection of a registered identity is not marked again.
    h.online("alice-phone", "alice");
    assert_eq!(h.registered.len(), 1);
}

#[test]
fn no_timer_outlives_the_calls_it_guards() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let tokens_only = h.controller.timer_count();
    let call = h.connected_call("alice", "bob");
    h.hang_up("bob", &call);
    assert_eq!(h.controller.timer_count(), tokens_only);
    let call = h.start("alice", &["bob"]);
    h.hang_up("alice", &call);
    assert_eq!(h.controller.timer_count(), tokens_only);
    // The ringing timer of the ended call must not fire into a later one.
    let later = h.start("alice", &["bob"]);
    h.ack("bob", &later);
    h.advance(Duration::from_secs(119));
    assert!(h.ends("alice", &later).is_empty());
    h.advance(Duration::from_secs(1));
    assert_eq!(h.ended("alice", &later), reason(&registry::RINGING_TIMEOUT));
}

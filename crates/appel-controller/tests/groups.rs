//! Group calls, rooms and the call-control commands, driven with the fake clock.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use appel_codes::registry;
use appel_controller::{Control, Input, RoomRole, RoomSpec};
use appel_protocol::{CallId, ClientFrame, ServerFrame};
use common::{reason, Harness};

/// The call `endpoint` joined with `request_id`.
fn joined(h: &Harness, endpoint: &str, request_id: u64) -> CallId {
    h.frames(endpoint)
        .iter()
        .find_map(|f| match f {
            ServerFrame::CallJoined {
                request_id: r,
                call_id,
                ..
            } if *r == request_id => Some(call_id.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{endpoint} did not join: {:#?}", h.frames(endpoint)))
}

/// The participant id of `identity` in `call` as `endpoint` last heard of it.
fn participant_of(h: &Harness, endpoint: &str, call: &CallId, identity: &str) -> String {
    h.frames(endpoint)
        .iter()
        .rev()
        .find_map(|f| match f {
            ServerFrame::ParticipantUpdated {
                call_id,
                participant,
            } if call_id == call && participant.identity.as_str() == identity => {
                Some(participant.id.to_string())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("{endpoint} never heard of {identity}"))
}

/// A connected group call of alice with bob and carol, that anyone with its id may join.
fn group(h: &mut Harness) -> CallId {
    for who in ["alice", "bob", "carol"] {
        h.online(who, who);
    }
    let call = h.start_with("alice", &["bob", "carol"], true);
    for who in ["bob", "carol"] {
        h.ack(who, &call);
        h.accept(who, &call);
        h.media_ready(who, &call);
    }
    call
}

fn join_room(h: &mut Harness, endpoint: &str, room: &str) -> u64 {
    h.request(endpoint, |request_id| ClientFrame::JoinRoom {
        request_id,
        room_id: room.into(),
        video: false,
    })
}

fn room(h: &Harness, roster: &[(&str, RoomRole)]) -> RoomSpec {
    RoomSpec {
        id: "r1".into(),
        valid_from: h.now,
        valid_until: h.now + Duration::from_secs(3600),
        roster: roster
            .iter()
            .map(|(who, role)| ((*who).into(), *role))
            .collect::<HashMap<_, _>>(),
    }
}

#[test]
fn only_the_organizer_may_end_a_call_for_everyone() {
    let mut h = Harness::new();
    let call = group(&mut h);
    let refused = h.request("bob", |request_id| ClientFrame::HangUp {
        request_id,
        call_id: call.clone(),
        for_everyone: true,
    });
    assert!(h
        .error("bob", refused)
        .is(&registry::END_FOR_EVERYONE_NOT_ALLOWED));
    assert!(h.ends("carol", &call).is_empty());
    assert_eq!(h.controller.call_count(), 1);
    // Granted the capability, bob may.
    let bob = participant_of(&h, "alice", &call, "bob");
    h.control(Control::GrantEndForEveryone {
        call: call.clone(),
        participant: bob.as_str().into(),
    })
    .expect("granted");
    let granted = h.request("bob", |request_id| ClientFrame::HangUp {
        request_id,
        call_id: call.clone(),
        for_everyone: true,
    });
    assert!(h.acked("bob", granted));
    for who in ["alice", "carol"] {
        assert_eq!(h.ended(who, &call), reason(&registry::ENDED_FOR_EVERYONE));
    }
}

#[test]
fn a_participant_joins_a_group_call_by_id_and_is_removed_with_0_5000() {
    let mut h = Harness::new();
    let call = group(&mut h);
    h.online("dave", "dave");
    let request = h.request("dave", |request_id| ClientFrame::JoinCall {
        request_id,
        call_id: call.clone(),
        video: false,
    });
    assert_eq!(joined(&h, "dave", request), call);
    h.media_ready("dave", &call);
    let dave = participant_of(&h, "bob", &call, "dave");
    let removal = h.request("bob", |request_id| ClientFrame::RemoveParticipant {
        request_id,
        call_id: call.clone(),
        participant_id: dave.as_str().into(),
    });
    assert!(h.acked("bob", removal));
    let removed = reason(&registry::REMOVED_BY_PARTICIPANT);
    assert_eq!(h.ended("dave", &call), removed);
    for who in ["alice", "bob", "carol"] {
        assert_eq!(h.left(who, &call, "dave"), removed);
    }
}

#[test]
fn joining_past_the_participant_limit_is_refused() {
    let mut h = Harness::with(appel_controller::ControllerConfig {
        id_seed: [7; 32],
        max_participants: 3,
        ..Default::default()
    });
    let call = group(&mut h);
    h.online("dave", "dave");
    let request = h.request("dave", |request_id| ClientFrame::JoinCall {
        request_id,
        call_id: call.clone(),
        video: false,
    });
    assert!(h
        .error("dave", request)
        .is(&registry::CALL_PARTICIPANT_LIMIT));
}

#[test]
fn an_added_participant_rings_with_the_outcomes_of_a_call_to_it() {
    let mut h = Harness::new();
    h.online("alice", "alice");
    h.online("bob", "bob");
    let call = h.connected_call("alice", "bob");
    h.online("carol", "carol");
    let add = h.request("alice", |request_id| ClientFrame::AddParticipant {
        request_id,
        call_id: call.clone(),
        identity: "carol".into(),
    });
    assert!(h.acked("alice", add));
    assert_eq!(h.incoming("carol", &call), 1);
    h.ack("carol", &call);
    h.reject("carol", &call);
    assert_eq!(
        h.left("alice", &call, "carol"),
        reason(&registry::CALL_DECLINED)
    );
    // Nobody known as "zoe": 480/10037, the call goes on.
    h.request("bob", |request_id| ClientFrame::AddParticipant {
        request_id,
        call_id: call.clone(),
        identity: "zoe".into(),
    });
    assert_eq!(
        h.left("bob", &call, "zoe"),
        reason(&registry::TARGET_NEVER_REGISTERED)
    );
    // An added target nobody answers: 487/10004 after the ringing timeout.
    h.online("erin", "erin");
    h.request("alice", |request_id| ClientFrame::AddParticipant {
        request_id,
        call_id: call.clone(),
        identity: "erin".into(),
    });
    h.ack("erin", &call);
    h.advance(h.controller.config().ringing_timeout);
    assert_eq!(h.ended("erin", &call), reason(&registry::RINGING_TIMEOUT));
    assert_eq!(
        h.left("alice", &call, "erin"),
        reason(&registry::RINGING_TIMEOUT)
    );
    assert!(h.ends("alice", &call).is_empty());
}

#[test]
fn room_joins_are_refused_off_roster_outside_the_window_and_for_non_users() {
    let mut h = Harness::new();
    let spec = room(
        &h,
        &[
            ("alice", RoomRole::Presenter),
            ("+33123456789", RoomRole::Attendee),
        ],
    );
    h.input(Input::RoomUpserted { room: spec });
    h.online("mallory", "mallory");
    let r = join_room(&mut h, "mallory", "r1");
    assert!(h.error("mallory", r).is(&registry::ROOM_NOT_INVITED));
    h.online("phone", "+33123456789");
    let r = join_room(&mut h, "phone", "r1");
    assert!(h
        .error("phone", r)
        .is(&registry::ROOM_USER_KIND_NOT_ALLOWED));
    h.online("alice", "alice");
    let r = join_room(&mut h, "alice", "nowhere");
    assert!(h.error("alice", r).is(&registry::ROOM_NOT_FOUND));
    h.advance(Duration::from_secs(3601));
    let r = join_room(&mut h, "alice", "r1");
    assert!(h.error("alice", r).is(&registry::ROOM_OUTSIDE_VALIDITY));
    assert_eq!(h.controller.call_count(), 0);
}

#[test]
fn room_roles_are_enforced_and_a_role_change_removes_with_0_5317() {
    let mut h = Harness::new();
    let spec = room(
        &h,
        &[
            ("alice", RoomRole::Presenter),
            ("bob", RoomRole::Attendee),
            ("carol", RoomRole::Consumer),
        ],
    );
    h.input(Input::RoomUpserted { room: spec.clone() });
    for who in ["alice", "bob", "carol"] {
        h.online(who, who);
        let r = join_room(&mut h, who, "r1");
        let call = joined(&h, who, r);
        h.media_ready(who, &call);
    }
    let call = joined(&h, "alice", 2);
    assert_eq!(h.controller.call_count(), 1);
    let media = |audio, video, screen_share| {
        move |request_id| ClientFrame::MediaState {
            request_id,
            call_id: "".into(),
            audio,
            video,
            screen_share,
        }
    };
    let with_call = |frame: ClientFrame, call: &CallId| match frame {
        ClientFrame::MediaState {
            request_id,
            audio,
            video,
            screen_share,
            ..
        } => ClientFrame::MediaState {
            request_id,
            call_id: call.clone(),
            audio,
            video,
            screen_share,
        },
        other => other,
    };
    let r = h.request("carol", |id| {
        with_call(media(true, false, false)(id), &call)
    });
    assert!(h
        .error("carol", r)
        .is(&registry::ROOM_ROLE_CANNOT_SEND_MEDIA));
    let r = h.request("bob", |id| with_call(media(true, true, true)(id), &call));
    assert!(h
        .error("bob", r)
        .is(&registry::ROOM_ROLE_CANNOT_SCREEN_SHARE));
    let r = h.request("bob", |id| with_call(media(true, true, false)(id), &call));
    assert!(h.acked("bob", r));
    let carol = participant_of(&h, "alice", &call, "carol");
    let r = h.request("bob", |request_id| ClientFrame::RemoveParticipant {
        request_id,
        call_id: call.clone(),
        participant_id: carol.as_str().into(),
    });
    assert!(h
        .error("bob", r)
        .is(&registry::ROOM_ROLE_CANNOT_REMOVE_PARTICIPANTS));
    let r = h.request("alice", |request_id| ClientFrame::HangUp {
        request_id,
        call_id: call.clone(),
        for_everyone: true,
    });
    assert!(h
        .error("alice", r)
        .is(&registry::ROOM_END_FOR_EVERYONE_REFUSED));
    // Bob becomes a Consumer: he is removed with 0/5317; carol leaves the roster: the same.
    let mut changed = spec;
    changed.roster.insert("bob".into(), RoomRole::Consumer);
    changed
        .roster
        .remove(&appel_protocol::IdentityId::from("carol"));
    h.input(Input::RoomUpserted { room: changed });
    let removed = reason(&registry::REMOVED_ROLE_CHANGED);
    assert_eq!(h.ended("bob", &call), removed);
    assert_eq!(h.ended("carol", &call), removed);
    assert_eq!(h.left("alice", &call, "bob"), removed);
    // Alice alone keeps the room's call; a Presenter may remove.
    assert_eq!(h.controller.call_count(), 1);
    assert!(h.ends("alice", &call).is_empty());
}

#[test]
fn control_commands_remove_with_0_5300_mute_and_end_with_0_7000() {
    let mut h = Harness::new();
    let call = group(&mut h);
    let carol = participant_of(&h, "alice", &call, "carol");
    h.control(Control::Mute {
        call: call.clone(),
        participant: carol.as_str().into(),
    })
    .expect("mute");
    assert!(h
        .frames("carol")
        .iter()
        .any(|f| matches!(f, ServerFrame::Muted { call_id } if *call_id == call)));
    h.control(Control::RemoveParticipant {
        call: call.clone(),
        participant: carol.as_str().into(),
    })
    .expect("remove");
    let by_server = reason(&registry::REMOVED_BY_SERVER);
    assert_eq!(h.ended("carol", &call), by_server);
    assert_eq!(h.left("bob", &call, "carol"), by_server);
    let missing = h.control(Control::RemoveParticipant {
        call: call.clone(),
        participant: carol.as_str().into(),
    });
    assert!(missing.is_err_and(|e| e.is(&registry::PARTICIPANT_NOT_FOUND)));
    assert_eq!(h.controller.snapshots().len(), 1);
    h.control(Control::HangUpAll { call: call.clone() })
        .expect("hang up");
    for who in ["alice", "bob"] {
        assert_eq!(h.ended(who, &call), reason(&registry::ENDED_BY_SERVER));
    }
    let unknown = h.control(Control::HangUpAll { call: call.clone() });
    assert!(unknown.is_err_and(|e| e.is(&registry::CALL_OPERATION_UNKNOWN_CALL)));
}

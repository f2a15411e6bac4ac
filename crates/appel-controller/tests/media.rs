//! Media through the media server, as the controller sees it: who may connect, what it asks the
//! media server, and what the media server's reports do to the calls. Driven with the fake clock.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use appel_codes::{registry, CallingError};
use appel_controller::{Action, ControllerConfig, Input, MediaReport, RoomRole, RoomSpec};
use appel_protocol::{CallId, ClientFrame, ParticipantId, ServerFrame};
use common::{reason, Harness};

fn with_media() -> Harness {
    Harness::with(ControllerConfig {
        id_seed: [7; 32],
        media_server: true,
        ..ControllerConfig::default()
    })
}

/// A joinable call of alice that bob and carol joined by its id (none sent `mediaReady`).
fn group(h: &mut Harness) -> CallId {
    for who in ["alice", "bob", "carol"] {
        h.online(who, who);
    }
    let call = h.start_with("alice", &[], true);
    for who in ["bob", "carol"] {
        let call_id = call.clone();
        h.request(who, |request_id| ClientFrame::JoinCall {
            request_id,
            call_id,
            video: true,
        });
    }
    call
}

fn media_offer(h: &mut Harness, who: &str, call: &CallId) -> u64 {
    let call_id = call.clone();
    h.request(who, |request_id| ClientFrame::MediaOffer {
        request_id,
        call_id,
        sdp: format!("offer of {who}"),
    })
}

/// The participant the controller asked the media server to connect for `request_id`.
fn joined_media(h: &Harness, request_id: u64) -> (ParticipantId, bool) {
    h.media
        .iter()
        .find_map(|a| match a {
            Action::MediaJoin {
                request_id: r,
                participant,
                publish,
                ..
            } if *r == request_id => Some((participant.clone(), *publish)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no MediaJoin for request {request_id}: {:?}", h.media))
}

fn report(h: &mut Harness, call: &CallId, participant: &ParticipantId, report: MediaReport) {
    h.input(Input::Media {
        call: call.clone(),
        participant: participant.clone(),
        report,
    });
}

#[test]
fn a_participant_joined_to_a_group_call_reaches_the_media_server_and_gets_its_answer_back() {
    let mut h = with_media();
    let call = group(&mut h);
    let request = media_offer(&mut h, "bob", &call);
    let (bob, publish) = joined_media(&h, request);
    assert!(publish);
    assert!(matches!(
        &h.media[0],
        Action::MediaJoin { sdp, call: c, .. } if sdp == "offer of bob" && c == &call
    ));
    report(
        &mut h,
        &call,
        &bob,
        MediaReport::Answered {
            request_id: request,
            sdp: "answer".into(),
        },
    );
    assert!(h.frames("bob").iter().any(|f| matches!(
        f,
        ServerFrame::MediaAnswer { request_id, sdp, .. } if *request_id == request && sdp == "answer"
    )));
    // A re-offer of the media server reaches bob, and bob's answer goes back to it.
    report(
        &mut h,
        &call,
        &bob,
        MediaReport::Offer {
            sdp: "re-offer".into(),
        },
    );
    assert!(h
        .frames("bob")
        .iter()
        .any(|f| matches!(f, ServerFrame::MediaOffer { sdp, .. } if sdp == "re-offer")));
    h.frame(
        "bob",
        ClientFrame::MediaAnswer {
            call_id: call.clone(),
            sdp: "bob's answer".into(),
        },
    );
    assert!(matches!(
        h.media.last(),
        Some(Action::MediaAnswer { participant, sdp, .. }) if participant == &bob && sdp == "bob's answer"
    ));
    // Nobody else was told anything about bob's SDP.
    for other in ["alice", "carol"] {
        assert!(!h.frames(other).iter().any(|f| matches!(
            f,
            ServerFrame::MediaAnswer { .. } | ServerFrame::MediaOffer { .. }
        )));
    }
}

#[test]
fn media_is_refused_without_a_media_server_in_a_one_to_one_call_twice_and_to_strangers() {
    let mut h = Harness::new();
    let call = group(&mut h);
    let request = media_offer(&mut h, "bob", &call);
    assert!(h.error("bob", request).is(&registry::MEDIA_SERVER_DISABLED));

    let mut h = with_media();
    h.online("dan", "dan");
    h.online("erin", "erin");
    let one_to_one = h.connected_call("dan", "erin");
    let request = media_offer(&mut h, "dan", &one_to_one);
    assert!(h
        .error("dan", request)
        .is(&registry::MEDIA_SERVER_NOT_FOR_THIS_CALL));

    let call = group(&mut h);
    h.online("mallory", "mallory");
    let request = media_offer(&mut h, "mallory", &call);
    assert!(h
        .error("mallory", request)
        .is(&registry::CALL_OPERATION_UNKNOWN_CALL));
    // An answer nobody asked for is refused too, and reaches no media server.
    h.frame(
        "carol",
        ClientFrame::MediaAnswer {
            call_id: call.clone(),
            sdp: "unsolicited".into(),
        },
    );
    assert!(h
        .unsolicited_errors("carol")
        .iter()
        .any(|e| e.is(&registry::MEDIA_SDP_REFUSED)));

    let first = media_offer(&mut h, "bob", &call);
    joined_media(&h, first);
    let second = media_offer(&mut h, "bob", &call);
    assert!(h
        .error("bob", second)
        .is(&registry::MEDIA_ALREADY_CONNECTED));
    assert_eq!(
        h.media
            .iter()
            .filter(|a| matches!(a, Action::MediaJoin { .. }))
            .count(),
        1,
        "only the admitted offer reached the media server"
    );
}

#[test]
fn a_refused_offer_leaves_room_for_a_corrected_one() {
    let mut h = with_media();
    let call = group(&mut h);
    let request = media_offer(&mut h, "bob", &call);
    let (bob, _) = joined_media(&h, request);
    let error = CallingError::new(&registry::MEDIA_SDP_REFUSED).with_context("no m-line");
    report(
        &mut h,
        &call,
        &bob,
        MediaReport::Refused {
            request_id: request,
            error,
        },
    );
    assert!(h.error("bob", request).is(&registry::MEDIA_SDP_REFUSED));
    let again = media_offer(&mut h, "bob", &call);
    joined_media(&h, again);
}

#[test]
fn setup_failure_removes_the_participant_with_301004_and_the_others_see_the_same_reason() {
    let mut h = with_media();
    let call = group(&mut h);
    let request = media_offer(&mut h, "carol", &call);
    let (carol, _) = joined_media(&h, request);
    report(&mut h, &call, &carol, MediaReport::SetupFailed);
    let expected = reason(&registry::MEDIA_SERVER_UNREACHED_DURING_SETUP);
    assert_eq!(h.ended("carol", &call), expected);
    assert_eq!(h.left("alice", &call, "carol"), expected);
    assert_eq!(h.left("bob", &call, "carol"), expected);
    // It was the server's media setup timer, for everyone who sees the end.
    let by_timer = Some(appel_protocol::EndedBy::Server {
        cause: appel_protocol::ServerCause::Timer,
    });
    let ended_by: Vec<_> = h
        .frames("carol")
        .iter()
        .chain(h.frames("alice"))
        .filter_map(|f| match f {
            appel_protocol::ServerFrame::CallEnded { ended_by, .. }
            | appel_protocol::ServerFrame::ParticipantLeft { ended_by, .. } => {
                Some(ended_by.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(ended_by, vec![by_timer.clone(), by_timer]);
    // The media server forgot carol itself: it is not asked to again.
    assert!(!h
        .media
        .iter()
        .any(|a| matches!(a, Action::MediaLeave { participant, .. } if participant == &carol)));
}

#[test]
fn loss_removes_the_participant_with_301005_and_a_late_report_about_it_is_ignored() {
    let mut h = with_media();
    let call = group(&mut h);
    let request = media_offer(&mut h, "bob", &call);
    let (bob, _) = joined_media(&h, request);
    report(&mut h, &call, &bob, MediaReport::Connected);
    report(&mut h, &call, &bob, MediaReport::Lost);
    let expected = reason(&registry::MEDIA_SERVER_CONNECTION_LOST);
    assert_eq!(h.ended("bob", &call), expected);
    assert_eq!(h.left("alice", &call, "bob"), expected);
    assert_eq!(h.left("carol", &call, "bob"), expected);
    h.clear();
    report(&mut h, &call, &bob, MediaReport::Lost);
    report(
        &mut h,
        &call,
        &bob,
        MediaReport::Offer { sdp: "late".into() },
    );
    for who in ["alice", "bob", "carol"] {
        assert!(h.frames(who).is_empty(), "{who}: {:?}", h.frames(who));
    }
}

#[test]
fn the_media_servers_connected_report_stands_for_media_ready_so_joiners_are_not_timed_out() {
    let mut h = with_media();
    let call = group(&mut h);
    let request = media_offer(&mut h, "bob", &call);
    let (bob, _) = joined_media(&h, request);
    report(&mut h, &call, &bob, MediaReport::Connected);
    h.advance(ControllerConfig::default().establishment_timeout + Duration::from_secs(1));
    // Carol never connected her media: the establishment timer removes her, not bob.
    assert_eq!(
        h.ended("carol", &call),
        reason(&registry::CALLEE_SETUP_INCOMPLETE)
    );
    assert!(h.ends("bob", &call).is_empty());
}

#[test]
fn leaving_the_call_tells_the_media_server_to_drop_the_peer_connection() {
    let mut h = with_media();
    let call = group(&mut h);
    let request = media_offer(&mut h, "bob", &call);
    let (bob, _) = joined_media(&h, request);
    h.hang_up("bob", &call);
    assert!(matches!(
        h.media.last(),
        Some(Action::MediaLeave { participant, call: c }) if participant == &bob && c == &call
    ));
}

#[test]
fn a_room_consumer_may_receive_but_its_tracks_are_not_forwarded() {
    let mut h = with_media();
    for who in ["alice", "carol"] {
        h.online(who, who);
    }
    h.input(Input::RoomUpserted {
        room: RoomSpec {
            id: "r1".into(),
            valid_from: h.now,
            valid_until: h.now + Duration::from_secs(3600),
            roster: [
                ("alice".into(), RoomRole::Presenter),
                ("carol".into(), RoomRole::Consumer),
            ]
            .into_iter()
            .collect::<HashMap<_, _>>(),
        },
    });
    let mut calls = Vec::new();
    for who in ["alice", "carol"] {
        let request = h.request(who, |request_id| ClientFrame::JoinRoom {
            request_id,
            room_id: "r1".into(),
            video: false,
        });
        calls.push(
            h.frames(who)
                .iter()
                .find_map(|f| match f {
                    ServerFrame::CallJoined {
                        request_id,
                        call_id,
                        ..
                    } if *request_id == request => Some(call_id.clone()),
                    _ => None,
                })
                .expect("joined"),
        );
    }
    let call = calls[0].clone();
    let presenter = media_offer(&mut h, "alice", &call);
    let consumer = media_offer(&mut h, "carol", &call);
    assert!(joined_media(&h, presenter).1);
    assert!(!joined_media(&h, consumer).1);
}

fn media_state(h: &mut Harness, who: &str, call: &CallId, audio: bool) {
    let call_id = call.clone();
    let request = h.request(who, |request_id| ClientFrame::MediaState {
        request_id,
        call_id,
        audio,
        video: true,
        screen_share: false,
    });
    assert!(h.acked(who, request));
}

fn mutes(h: &Harness, participant: &ParticipantId) -> Vec<bool> {
    h.media
        .iter()
        .filter_map(|a| match a {
            Action::MediaMute {
                participant: p,
                muted,
                ..
            } if p == participant => Some(*muted),
            _ => None,
        })
        .collect()
}

#[test]
fn a_microphone_turned_off_or_a_mute_from_the_backend_holds_the_audio_back_in_the_media_server() {
    let mut h = with_media();
    let call = group(&mut h);
    // Declared before connecting: the media server starts with the audio held back.
    media_state(&mut h, "carol", &call, false);
    let request = media_offer(&mut h, "carol", &call);
    assert!(matches!(
        h.media.last(),
        Some(Action::MediaJoin { request_id, audio_muted: true, .. }) if *request_id == request
    ));

    let request = media_offer(&mut h, "bob", &call);
    let (bob, _) = joined_media(&h, request);
    media_state(&mut h, "bob", &call, false);
    media_state(&mut h, "bob", &call, true);
    assert_eq!(mutes(&h, &bob), vec![true, false]);
    h.control(appel_controller::Control::Mute {
        call: call.clone(),
        participant: bob.clone(),
    })
    .expect("mute");
    assert_eq!(mutes(&h, &bob), vec![true, false, true]);
    assert!(h
        .frames("bob")
        .iter()
        .any(|f| matches!(f, ServerFrame::Muted { .. })));
}

#[test]
fn an_answer_the_media_server_closed_the_connection_over_lets_the_participant_start_over() {
    let mut h = with_media();
    let call = group(&mut h);
    let request = media_offer(&mut h, "bob", &call);
    let (bob, _) = joined_media(&h, request);
    let error = CallingError::new(&registry::MEDIA_SDP_REFUSED);
    // Unreadable: the connection stays, so a second offer is still refused.
    report(
        &mut h,
        &call,
        &bob,
        MediaReport::AnswerRefused {
            error: error.clone(),
            closed: false,
        },
    );
    let again = media_offer(&mut h, "bob", &call);
    assert!(h.error("bob", again).is(&registry::MEDIA_ALREADY_CONNECTED));
    // Not fitting the offer: the media server closed it, so a new offer is admitted.
    report(
        &mut h,
        &call,
        &bob,
        MediaReport::AnswerRefused {
            error,
            closed: true,
        },
    );
    assert!(h
        .unsolicited_errors("bob")
        .iter()
        .all(|e| e.is(&registry::MEDIA_SDP_REFUSED)));
    let fresh = media_offer(&mut h, "bob", &call);
    joined_media(&h, fresh);
}

//! `mediaView` as the controller sees it: only a participant connected to the media server may
//! say what size it renders a video at; the media server decides, and each request is answered
//! once, with `ack` or 500/43204. Driven with the fake clock.

mod common;

use appel_codes::{registry, CallingError};
use appel_controller::{Action, ControllerConfig, Input, MediaReport};
use appel_protocol::{CallId, ClientFrame, ServerFrame};
use common::Harness;

fn with_media() -> Harness {
    Harness::with(ControllerConfig {
        id_seed: [9; 32],
        media_server: true,
        ..ControllerConfig::default()
    })
}

fn group(h: &mut Harness) -> CallId {
    for who in ["alice", "bob"] {
        h.online(who, who);
    }
    let call = h.start_with("alice", &[], true);
    let call_id = call.clone();
    h.request("bob", |request_id| ClientFrame::JoinCall {
        request_id,
        call_id,
        video: true,
    });
    call
}

fn view(h: &mut Harness, who: &str, call: &CallId, width: u32) -> u64 {
    let call_id = call.clone();
    h.request(who, |request_id| ClientFrame::MediaView {
        request_id,
        call_id,
        participant: "p-someone".into(),
        width,
        height: width / 2,
    })
}

fn answer(h: &Harness, who: &str, request_id: u64) -> Option<Result<(), CallingError>> {
    h.frames(who).iter().find_map(|f| match f {
        ServerFrame::Ack { request_id: r } if *r == request_id => Some(Ok(())),
        ServerFrame::Error {
            request_id: Some(r),
            error,
            ..
        } if *r == request_id => Some(Err(error.clone())),
        _ => None,
    })
}

#[test]
fn a_view_without_a_media_connection_is_43204_and_never_reaches_the_media_server() {
    let mut h = with_media();
    let call = group(&mut h);
    let request = view(&mut h, "bob", &call, 640);
    let error = answer(&h, "bob", request)
        .expect("answered")
        .expect_err("refused");
    assert!(error.is(&registry::VIDEO_SUBSCRIPTION_FAILED));
    assert!(error.raw_cause().unwrap_or_default().contains("mediaOffer"));
    assert!(!h
        .media
        .iter()
        .any(|a| matches!(a, Action::MediaView { .. })));
    // Nor may a stranger to the call send one.
    h.online("mallory", "mallory");
    let request = view(&mut h, "mallory", &call, 640);
    let error = answer(&h, "mallory", request).unwrap().unwrap_err();
    assert!(error.is(&registry::CALL_OPERATION_UNKNOWN_CALL));
}

#[test]
fn a_connected_participants_view_goes_to_the_media_server_and_its_verdict_answers_the_request() {
    let mut h = with_media();
    let call = group(&mut h);
    let call_id = call.clone();
    let offer = h.request("bob", |request_id| ClientFrame::MediaOffer {
        request_id,
        call_id,
        sdp: "bob's offer".into(),
    });
    let bob = h
        .media
        .iter()
        .find_map(|a| match a {
            Action::MediaJoin {
                request_id,
                participant,
                ..
            } if *request_id == offer => Some(participant.clone()),
            _ => None,
        })
        .expect("joined");
    let first = view(&mut h, "bob", &call, 640);
    let second = view(&mut h, "bob", &call, 0);
    // The media server is asked, keyed by bob's own participant id; nothing is answered yet.
    let asked: Vec<(u64, u32)> = h
        .media
        .iter()
        .filter_map(|a| match a {
            Action::MediaView {
                participant,
                request_id,
                width,
                ..
            } if participant == &bob => Some((*request_id, *width)),
            _ => None,
        })
        .collect();
    assert_eq!(asked, vec![(first, 640), (second, 0)]);
    assert!(answer(&h, "bob", first).is_none());
    for (request_id, error) in [
        (first, None),
        (
            second,
            Some(CallingError::new(&registry::VIDEO_SUBSCRIPTION_FAILED).with_raw_cause("limit")),
        ),
    ] {
        h.input(Input::Media {
            call: call.clone(),
            participant: bob.clone(),
            report: MediaReport::Viewed { request_id, error },
        });
    }
    assert_eq!(answer(&h, "bob", first), Some(Ok(())));
    let refused = answer(&h, "bob", second).unwrap().unwrap_err();
    assert!(refused.is(&registry::VIDEO_SUBSCRIPTION_FAILED));
    assert_eq!(refused.raw_cause(), Some("limit"));
    // Alice heard nothing of it.
    assert!(!h
        .frames("alice")
        .iter()
        .any(|f| matches!(f, ServerFrame::Error { .. })));
}

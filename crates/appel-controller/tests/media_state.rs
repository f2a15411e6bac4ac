//! What the others are told of a participant's media in a call through the media server: the
//! server's own record (what it forwards), never what a page says of itself. Driven with the fake
//! clock.

mod common;

use appel_controller::{Control, ControllerConfig};
use appel_protocol::{CallId, ClientFrame, ParticipantId, ParticipantMedia, ServerFrame};
use common::Harness;

fn with_media() -> Harness {
    Harness::with(ControllerConfig {
        id_seed: [9; 32],
        media_server: true,
        ..ControllerConfig::default()
    })
}

/// A joinable call of alice that bob joined by its id.
fn group(h: &mut Harness) -> CallId {
    for who in ["alice", "bob", "carol"] {
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

fn media_state(h: &mut Harness, who: &str, call: &CallId, audio: bool, video: bool) {
    let call_id = call.clone();
    let request = h.request(who, |request_id| ClientFrame::MediaState {
        request_id,
        call_id,
        audio,
        video,
        screen_share: false,
    });
    assert!(h.acked(who, request));
}

/// Every `media` `endpoint` was told of `identity`, in order.
fn seen(h: &Harness, endpoint: &str, identity: &str) -> Vec<Option<ParticipantMedia>> {
    h.frames(endpoint)
        .iter()
        .filter_map(|f| match f {
            ServerFrame::ParticipantUpdated { participant, .. }
                if participant.identity.0 == identity =>
            {
                Some(participant.media)
            }
            _ => None,
        })
        .collect()
}

fn id_of(h: &Harness, endpoint: &str, identity: &str) -> ParticipantId {
    h.frames(endpoint)
        .iter()
        .find_map(|f| match f {
            ServerFrame::ParticipantUpdated { participant, .. }
                if participant.identity.0 == identity =>
            {
                Some(participant.id.clone())
            }
            _ => None,
        })
        .expect("participant seen")
}

const HEARD_WITH_VIDEO: ParticipantMedia = ParticipantMedia {
    audio: true,
    video: true,
    screen_share: false,
};
const MUTED_WITH_VIDEO: ParticipantMedia = ParticipantMedia {
    audio: false,
    video: true,
    screen_share: false,
};

#[test]
fn a_microphone_turned_off_reaches_the_others_as_the_servers_word_and_only_on_a_change() {
    let mut h = with_media();
    let call = group(&mut h);
    media_state(&mut h, "bob", &call, true, true);
    assert_eq!(
        seen(&h, "alice", "bob").last(),
        Some(&Some(HEARD_WITH_VIDEO))
    );
    h.clear();
    media_state(&mut h, "bob", &call, false, true);
    assert_eq!(seen(&h, "alice", "bob"), vec![Some(MUTED_WITH_VIDEO)]);
    // Nobody is told of itself, and a mediaState that changes nothing sends nothing.
    assert!(seen(&h, "bob", "bob").is_empty());
    h.clear();
    media_state(&mut h, "bob", &call, false, true);
    assert!(seen(&h, "alice", "bob").is_empty());
    media_state(&mut h, "bob", &call, true, false);
    assert_eq!(
        seen(&h, "alice", "bob"),
        vec![Some(ParticipantMedia {
            audio: true,
            video: false,
            screen_share: false
        })]
    );
}

#[test]
fn a_mute_from_the_backend_is_shown_to_the_others_even_when_the_page_claims_it_is_heard() {
    let mut h = with_media();
    let call = group(&mut h);
    media_state(&mut h, "bob", &call, true, true);
    let bob = id_of(&h, "alice", "bob");
    h.clear();
    h.control(Control::Mute {
        call: call.clone(),
        participant: bob,
    })
    .expect("mute");
    assert_eq!(seen(&h, "alice", "bob"), vec![Some(MUTED_WITH_VIDEO)]);
    // Only the page's own unmute (a new mediaState) makes it heard again, and then the others see
    // that too.
    h.clear();
    media_state(&mut h, "bob", &call, true, true);
    assert_eq!(seen(&h, "alice", "bob"), vec![Some(HEARD_WITH_VIDEO)]);
}

#[test]
fn a_joiner_learns_who_is_muted_when_it_joins() {
    let mut h = with_media();
    let call = group(&mut h);
    media_state(&mut h, "bob", &call, false, true);
    let call_id = call.clone();
    h.request("carol", |request_id| ClientFrame::JoinCall {
        request_id,
        call_id,
        video: true,
    });
    assert_eq!(seen(&h, "carol", "bob"), vec![Some(MUTED_WITH_VIDEO)]);
}

#[test]
fn a_peer_to_peer_call_carries_no_media_field_until_it_moves_to_the_media_server() {
    let mut h = with_media();
    for who in ["alice", "bob", "carol"] {
        h.online(who, who);
    }
    let call = h.connected_call("alice", "bob");
    media_state(&mut h, "bob", &call, false, false);
    // Peer to peer the server forwards nothing, so it has nothing to vouch for.
    assert!(seen(&h, "alice", "bob").iter().all(Option::is_none));
    h.clear();
    let call_id = call.clone();
    h.request("alice", |request_id| ClientFrame::AddParticipant {
        request_id,
        call_id,
        identity: "carol".into(),
    });
    assert!(h
        .frames("alice")
        .iter()
        .any(|f| matches!(f, ServerFrame::MediaServer { .. })));
    // Its earlier microphone-off is what the media server enforces from its first packet.
    assert_eq!(
        seen(&h, "alice", "bob").last(),
        Some(&Some(ParticipantMedia {
            audio: false,
            video: false,
            screen_share: false
        }))
    );
}

/// `mediaRestart`, answered through the media server's `MediaJoin` of the fresh offer, after it
/// dropped the old connection.
fn restart(h: &mut Harness, who: &str, call: &CallId) -> u64 {
    let call_id = call.clone();
    h.request(who, |request_id| ClientFrame::MediaRestart {
        request_id,
        call_id,
        sdp: format!("fresh offer of {who}"),
    })
}

#[test]
fn a_connection_lost_on_the_client_side_is_replaced_once_it_had_come_up_and_never_churned_faster() {
    use appel_controller::{Action, Input, MediaReport};
    let mut h = with_media();
    let call = group(&mut h);
    // Never connected: nothing to replace (a first connection is mediaOffer's).
    let early = restart(&mut h, "bob", &call);
    assert_eq!(
        h.error("bob", early).name(),
        appel_codes::registry::MEDIA_RESTART_NOT_CONNECTED.name
    );
    let call_id = call.clone();
    let first = h.request("bob", |request_id| ClientFrame::MediaOffer {
        request_id,
        call_id,
        sdp: "offer of bob".into(),
    });
    let bob = h
        .media
        .iter()
        .find_map(|a| match a {
            Action::MediaJoin {
                request_id,
                participant,
                ..
            } if *request_id == first => Some(participant.clone()),
            _ => None,
        })
        .expect("joined the media server");
    // Offered but not yet up: still refused, so a client cannot make the others renegotiate in
    // a loop.
    let too_soon = restart(&mut h, "bob", &call);
    assert_eq!(
        h.error("bob", too_soon).name(),
        appel_codes::registry::MEDIA_RESTART_NOT_CONNECTED.name
    );
    let up = |h: &mut Harness| {
        h.input(Input::Media {
            call: call.clone(),
            participant: bob.clone(),
            report: MediaReport::Connected,
        })
    };
    up(&mut h);
    // Muted meanwhile: the fresh connection starts with the audio held back too.
    media_state(&mut h, "bob", &call, false, true);
    h.media.clear();
    let request = restart(&mut h, "bob", &call);
    assert!(
        matches!(
            h.media.as_slice(),
            [
                Action::MediaLeave { participant: left, .. },
                Action::MediaJoin { participant: joined, request_id, audio_muted: true, .. },
            ] if left == &bob && joined == &bob && *request_id == request
        ),
        "{:?}",
        h.media
    );
    // The leg went on: nobody left, and a second restart waits for the new connection.
    assert!(h.ends("bob", &call).is_empty());
    let again = restart(&mut h, "bob", &call);
    assert_eq!(
        h.error("bob", again).name(),
        appel_codes::registry::MEDIA_RESTART_NOT_CONNECTED.name
    );
    up(&mut h);
    h.media.clear();
    restart(&mut h, "bob", &call);
    assert_eq!(h.media.len(), 2, "{:?}", h.media);
}

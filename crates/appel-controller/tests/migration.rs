//! A one-to-one call that gains a third participant moves its media to the media server without
//! ending: each joined leg is told once with `mediaServer`, and the media server then admits the
//! two first participants' `mediaOffer`s. Driven with the fake clock.

mod common;

use std::time::Duration;

use appel_codes::registry;
use appel_controller::{Action, ControllerConfig};
use appel_protocol::{CallId, ClientFrame, ServerFrame};
use common::Harness;

fn with_media() -> Harness {
    Harness::with(ControllerConfig {
        id_seed: [9; 32],
        media_server: true,
        ..ControllerConfig::default()
    })
}

fn told(h: &Harness, endpoint: &str, call: &CallId) -> usize {
    h.frames(endpoint)
        .iter()
        .filter(|f| matches!(f, ServerFrame::MediaServer { call_id } if call_id == call))
        .count()
}

fn media_offer(h: &mut Harness, who: &str, call: &CallId) -> u64 {
    let call_id = call.clone();
    h.request(who, |request_id| ClientFrame::MediaOffer {
        request_id,
        call_id,
        sdp: format!("offer of {who}"),
    })
}

#[test]
fn a_one_to_one_call_that_gains_a_third_participant_is_told_to_move_and_goes_on() {
    let mut h = with_media();
    for who in ["alice", "bob", "carol"] {
        h.online(who, who);
    }
    let call = h.connected_call("alice", "bob");
    // Peer to peer while it is one-to-one: nobody is told, and the media server is refused.
    assert_eq!(told(&h, "alice", &call) + told(&h, "bob", &call), 0);
    let early = media_offer(&mut h, "alice", &call);
    assert!(h
        .error("alice", early)
        .is(&registry::MEDIA_SERVER_NOT_FOR_THIS_CALL));

    h.advance(Duration::from_secs(30));
    let call_id = call.clone();
    let added = h.request("bob", |request_id| ClientFrame::AddParticipant {
        request_id,
        call_id,
        identity: "carol".into(),
    });
    assert!(h.acked("bob", added));
    // Both legs learn it the moment carol is added, while she still rings; carol, not joined
    // yet, learns nothing.
    assert_eq!(told(&h, "alice", &call), 1);
    assert_eq!(told(&h, "bob", &call), 1);
    assert_eq!(told(&h, "carol", &call), 0);
    assert_eq!(h.incoming("carol", &call), 1);

    h.ack("carol", &call);
    let accepted = h.accept("carol", &call);
    assert!(h.acked("carol", accepted));
    assert_eq!(
        told(&h, "carol", &call),
        1,
        "the third is told as she joins"
    );
    // Told once each: carol's arrival does not repeat it to the two others.
    assert_eq!(told(&h, "alice", &call), 1);
    assert_eq!(told(&h, "bob", &call), 1);

    // The call never ended for anyone, and the three connect to the media server.
    for who in ["alice", "bob", "carol"] {
        assert!(
            h.ends(who, &call).is_empty(),
            "{who}: {:?}",
            h.ends(who, &call)
        );
        let request = media_offer(&mut h, who, &call);
        assert!(
            h.media.iter().any(
                |a| matches!(a, Action::MediaJoin { request_id, .. } if *request_id == request)
            ),
            "{who}'s offer reached the media server"
        );
    }
}

#[test]
fn a_callee_learns_at_its_accept_that_a_joinable_call_uses_the_media_server() {
    let mut h = with_media();
    for who in ["alice", "bob"] {
        h.online(who, who);
    }
    let call = h.start_with("alice", &["bob"], true);
    assert_eq!(told(&h, "alice", &call), 1, "the caller with callCreated");
    h.ack("bob", &call);
    assert_eq!(told(&h, "bob", &call), 0, "not while it rings");
    h.accept("bob", &call);
    assert_eq!(told(&h, "bob", &call), 1);

    // Without a media server nobody is told: there is nowhere to move.
    let mut h = Harness::new();
    for who in ["alice", "bob", "carol"] {
        h.online(who, who);
    }
    let call = h.start("alice", &["bob", "carol"]);
    assert_eq!(told(&h, "alice", &call), 0);
}

//! What a group call's participants are told of each other's media is what the media server does
//! with it: a real server on loopback, native peers on real UDP sockets that keep sending audio
//! whatever they declared. The attack: a participant that would look muted while heard, or heard
//! while held back.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use appel_protocol::{CallId, ClientFrame, ParticipantMedia, ServerFrame};
use support::media::{answer_offers, offer, MediaPeer};
use support::{Client, TestServer};

async fn join(client: &mut Client, call: &CallId) -> String {
    let request_id = client.request_id();
    client
        .send(ClientFrame::JoinCall {
            request_id,
            call_id: call.clone(),
            video: true,
        })
        .await;
    client
        .wait_for("callJoined", |f| match f {
            ServerFrame::CallJoined {
                request_id: r,
                participant_id,
                ..
            } if *r == request_id => Some(participant_id.to_string()),
            _ => None,
        })
        .await
}

/// Answers the media server's offers while `ms` pass, and keeps every `media` a client was told
/// of each participant (by participant id), in order.
async fn serve(
    clients: &mut [Client],
    peers: &[MediaPeer],
    ms: u64,
    told: &mut [BTreeMap<String, Vec<ParticipantMedia>>],
) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    while tokio::time::Instant::now() < deadline {
        for (index, (client, peer)) in clients.iter_mut().zip(peers).enumerate() {
            answer_offers(client, peer).await;
            for frame in client.take_backlog() {
                if let ServerFrame::ParticipantUpdated { participant, .. } = &frame {
                    if let Some(media) = participant.media {
                        told[index]
                            .entry(participant.id.to_string())
                            .or_default()
                            .push(media);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn audio_of(peer: &MediaPeer, id: &str) -> usize {
    peer.counts().get(id).map(|c| c.0).unwrap_or(0)
}

#[tokio::test]
async fn the_others_see_a_participant_muted_exactly_while_the_media_server_holds_its_audio_back() {
    let server = TestServer::start_with(|config| {
        config.timers.establishment = Duration::from_secs(20);
    })
    .await;
    let mut clients = Vec::new();
    for name in ["alice", "bob"] {
        let identity = server.create_identity().await;
        clients.push(server.connect(&identity, name).await);
    }
    let (call, first) = clients[0].start_call_with(&[], true).await;
    let bob = join(&mut clients[1], &call).await;
    let ids = [first.to_string(), bob.clone()];
    let mut peers = Vec::new();
    for (client, id) in clients.iter_mut().zip(&ids) {
        let (peer, sdp) = MediaPeer::new(id).await;
        let answer = offer(client, &call, sdp)
            .await
            .expect("mediaOffer accepted");
        peer.accept_answer(&answer);
        peers.push(peer);
    }
    let mut told = vec![BTreeMap::new(), BTreeMap::new()];
    let mut heard = false;
    for _ in 0..40 {
        serve(&mut clients, &peers, 500, &mut told).await;
        if audio_of(&peers[0], &bob) > 10 {
            heard = true;
            break;
        }
    }
    assert!(heard, "bob never heard: {:?}", peers[0].counts());
    let shown = |told: &[BTreeMap<String, Vec<ParticipantMedia>>]| {
        told[0].get(&bob).and_then(|seen| seen.last().copied())
    };
    assert_eq!(shown(&told).map(|m| m.audio), Some(true), "{told:?}");

    // Bob declares his microphone off, while his peer keeps sending (and his page could say
    // anything in a signal): alice is told he is muted, and gets none of his audio.
    let call_id = call.clone();
    clients[1]
        .request(|request_id| ClientFrame::MediaState {
            request_id,
            call_id,
            audio: false,
            video: true,
            screen_share: false,
        })
        .await
        .expect("mediaState acknowledged");
    serve(&mut clients, &peers, 300, &mut told).await;
    assert_eq!(
        shown(&told),
        Some(ParticipantMedia {
            audio: false,
            video: true,
            screen_share: false
        })
    );
    let before = audio_of(&peers[0], &bob);
    serve(&mut clients, &peers, 800, &mut told).await;
    assert_eq!(audio_of(&peers[0], &bob), before, "muted yet heard");
    assert!(
        !told[1].contains_key(&bob),
        "bob is told nothing of himself"
    );

    // Heard again: alice is told so, and hears him.
    let call_id = call.clone();
    clients[1]
        .request(|request_id| ClientFrame::MediaState {
            request_id,
            call_id,
            audio: true,
            video: true,
            screen_share: false,
        })
        .await
        .expect("mediaState acknowledged");
    serve(&mut clients, &peers, 1000, &mut told).await;
    assert_eq!(shown(&told).map(|m| m.audio), Some(true));
    assert!(
        audio_of(&peers[0], &bob) > before + 10,
        "unmuted yet silent"
    );

    // The application's backend mutes him: alice is told, and his audio stops again.
    let response = server
        .admin(
            reqwest::Method::POST,
            &format!("/call-control/calls/{call}/participants/{bob}/mute"),
        )
        .send()
        .await
        .expect("call-control reachable");
    assert!(response.status().is_success(), "{}", response.status());
    serve(&mut clients, &peers, 300, &mut told).await;
    assert_eq!(shown(&told).map(|m| m.audio), Some(false));
    let before = audio_of(&peers[0], &bob);
    serve(&mut clients, &peers, 800, &mut told).await;
    assert_eq!(
        audio_of(&peers[0], &bob),
        before,
        "muted by the backend yet heard"
    );
}

/// `mediaRestart` with `sdp`; the media server's answer or the refusal.
async fn restart(
    client: &mut Client,
    call: &CallId,
    sdp: String,
) -> Result<String, appel_codes::CallingError> {
    let request_id = client.request_id();
    client
        .send(ClientFrame::MediaRestart {
            request_id,
            call_id: call.clone(),
            sdp,
        })
        .await;
    client
        .wait_for("mediaAnswer or error", |f| match f {
            ServerFrame::MediaAnswer {
                request_id: r, sdp, ..
            } if *r == request_id => Some(Ok(sdp.clone())),
            ServerFrame::Error {
                request_id: Some(r),
                error,
                ..
            } if *r == request_id => Some(Err(error.clone())),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn a_participant_whose_connection_died_on_its_side_replaces_it_and_is_heard_again_without_leaving(
) {
    // A short loss timer: the dead connection would end bob's leg (410/301005) within a second.
    let server = TestServer::start_with(|config| {
        config.timers.establishment = Duration::from_secs(20);
        config.timers.media_loss = Duration::from_millis(1500);
    })
    .await;
    let mut clients = Vec::new();
    for name in ["alice", "bob"] {
        let identity = server.create_identity().await;
        clients.push(server.connect(&identity, name).await);
    }
    let (call, first) = clients[0].start_call_with(&[], true).await;
    let bob = join(&mut clients[1], &call).await;
    let alice = first.to_string();
    let mut peers = Vec::new();
    for (client, id) in clients.iter_mut().zip([&alice, &bob]) {
        let (peer, sdp) = MediaPeer::new(id).await;
        let answer = offer(client, &call, sdp)
            .await
            .expect("mediaOffer accepted");
        peer.accept_answer(&answer);
        peers.push(peer);
    }
    // A restart before bob's connection came up is refused, and changes nothing.
    let refused = restart(&mut clients[1], &call, "v=0\r\n".into())
        .await
        .expect_err("nothing to replace yet");
    assert_eq!(
        refused.name(),
        appel_codes::registry::MEDIA_RESTART_NOT_CONNECTED.name
    );
    let mut told = vec![BTreeMap::new(), BTreeMap::new()];
    let mut up = false;
    for _ in 0..40 {
        serve(&mut clients, &peers, 300, &mut told).await;
        if audio_of(&peers[0], &bob) > 10 && audio_of(&peers[1], &alice) > 10 {
            up = true;
            break;
        }
    }
    assert!(up, "{:?} {:?}", peers[0].counts(), peers[1].counts());

    // Bob's network drops everything; his client opens a fresh connection and offers it.
    peers[1].cut();
    serve(&mut clients, &peers, 500, &mut told).await;
    let (fresh, sdp) = MediaPeer::new(&bob).await;
    let answer = restart(&mut clients[1], &call, sdp)
        .await
        .expect("mediaRestart answered");
    fresh.accept_answer(&answer);
    peers[1] = fresh;
    let heard_before = audio_of(&peers[0], &bob);
    let mut again = false;
    for _ in 0..40 {
        serve(&mut clients, &peers, 300, &mut told).await;
        if audio_of(&peers[0], &bob) > heard_before + 10 && audio_of(&peers[1], &alice) > 10 {
            again = true;
            break;
        }
    }
    assert!(
        again,
        "not heard on the fresh connection: {:?} {:?}",
        peers[0].counts(),
        peers[1].counts()
    );
    // Well past the loss timer of the dead connection: nobody left.
    serve(&mut clients, &peers, 2000, &mut told).await;
    for client in clients.iter_mut() {
        let frames = client.drain().await;
        assert!(
            !frames.iter().any(|f| matches!(
                f,
                ServerFrame::ParticipantLeft { .. } | ServerFrame::CallEnded { .. }
            )),
            "{frames:?}"
        );
    }
    assert!(audio_of(&peers[0], &bob) > heard_before + 10);
}

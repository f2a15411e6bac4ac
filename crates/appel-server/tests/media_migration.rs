//! A one-to-one call that gains a third participant moves to the media server without ending: a
//! real server on loopback, native str0m peers on real UDP sockets. The attack it guards against
//! is a call silently left peer to peer (or ended) when it becomes a group call, so that the third
//! participant hears nobody.

mod support;

use std::time::Duration;

use appel_codes::registry;
use appel_protocol::{CallId, ClientFrame, ServerFrame};
use support::media::{answer_offers, assert_nobody_left, hears_everyone_else, offer, MediaPeer};
use support::{Client, TestServer};

/// Waits for `incomingCall`; this identity's participant id should it accept.
async fn incoming(client: &mut Client, call: &CallId) -> String {
    client
        .wait_for("incomingCall", |f| match f {
            ServerFrame::IncomingCall {
                call_id,
                participant_id,
                ..
            } if call_id == call => Some(participant_id.to_string()),
            _ => None,
        })
        .await
}

async fn told_media_server(client: &mut Client, call: &CallId) {
    client
        .wait_for("mediaServer", |f| match f {
            ServerFrame::MediaServer { call_id } if call_id == call => Some(()),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn a_one_to_one_call_that_gains_a_third_participant_moves_to_the_media_server_without_ending()
{
    let server = TestServer::start_with(|config| {
        config.timers.establishment = Duration::from_secs(20);
        // These tests drive media from the same task that reads signaling, so a busy machine may
        // leave pings unanswered for a while; the heartbeat is not what they test.
        config.signaling.heartbeat_interval = Duration::from_secs(5);
    })
    .await;
    let mut clients = Vec::new();
    let mut identities = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let identity = server.create_identity().await;
        clients.push(server.connect(&identity, name).await);
        identities.push(identity);
    }
    let (call, alice) = clients[0].start_call(&[identities[1].as_str()]).await;
    let bob = incoming(&mut clients[1], &call).await;
    clients[1].accept(&call).await.expect("bob accepts");
    clients[1].media_ready(&call).await;

    // One-to-one: its media stays peer to peer, and the media server says so.
    let (early, sdp) = MediaPeer::new(alice.as_str()).await;
    drop(early);
    let refused = offer(&mut clients[0], &call, sdp).await.unwrap_err();
    assert_eq!(
        refused.name(),
        registry::MEDIA_SERVER_NOT_FOR_THIS_CALL.name
    );

    // Bob invites carol: both legs are told at once, before carol even answers.
    let call_id = call.clone();
    let carol_identity = identities[2].clone();
    clients[1]
        .request(|request_id| ClientFrame::AddParticipant {
            request_id,
            call_id,
            identity: carol_identity.as_str().into(),
        })
        .await
        .expect("addParticipant");
    told_media_server(&mut clients[0], &call).await;
    told_media_server(&mut clients[1], &call).await;
    let carol = incoming(&mut clients[2], &call).await;
    clients[2].accept(&call).await.expect("carol accepts");
    told_media_server(&mut clients[2], &call).await;

    // The three connect to the media server and each hears the two others through it.
    let mut peers = Vec::new();
    for (client, id) in clients.iter_mut().zip([alice.to_string(), bob, carol]) {
        let (peer, sdp) = MediaPeer::new(&id).await;
        let answer = offer(client, &call, sdp)
            .await
            .expect("mediaOffer accepted");
        peer.accept_answer(&answer);
        peers.push(peer);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline && !hears_everyone_else(&peers, 25) {
        for (client, peer) in clients.iter_mut().zip(&peers) {
            answer_offers(client, peer).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen: Vec<_> = peers.iter().map(|p| (p.name.clone(), p.counts())).collect();
    assert!(hears_everyone_else(&peers, 25), "{seen:?}");

    // Nobody's call ended or lost anyone on the way.
    assert_nobody_left(&mut clients).await;
}

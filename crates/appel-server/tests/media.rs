//! The media server end to end: a real server on loopback, native str0m peers on real UDP
//! sockets, connected through real signaling (`mediaOffer`/`mediaAnswer`), sending generated Opus
//! and VP8 frames. Each test is the failure it guards against: silence in a group call, a
//! participant whose media never connects, one whose UDP dies mid-call, media from outside the
//! call.

mod support;

use std::time::Duration;

use appel_codes::registry;
use appel_protocol::{CallId, ClientFrame};
use support::client::assert_reason;
use support::media::{self, offer, serve_until, MediaPeer};
use support::{Client, TestServer};

const MEDIA_SETUP: Duration = Duration::from_millis(1500);
const MEDIA_LOSS: Duration = Duration::from_millis(1000);

async fn server() -> TestServer {
    TestServer::start_with(|config| {
        config.timers.media_setup = MEDIA_SETUP;
        config.timers.media_loss = MEDIA_LOSS;
        // Joiners' media connects through the media server, whose report stands for `mediaReady`;
        // the establishment timer must not beat the media timers under test.
        config.timers.establishment = Duration::from_secs(20);
        // These tests drive media from the same task that reads signaling, so a busy machine may
        // leave pings unanswered for a while; the heartbeat is not what they test.
        config.signaling.heartbeat_interval = Duration::from_secs(5);
    })
    .await
}

/// `joinCall`; the participant id joined as.
async fn join(client: &mut Client, call: &CallId) -> String {
    client
        .join_call(call, true)
        .await
        .unwrap_or_else(|error| panic!("joinCall refused: {error}"))
        .to_string()
}

/// A group call of `names` (the first starts it, joinable, the others join by id).
struct Group {
    call: CallId,
    clients: Vec<Client>,
    /// Each one's participant id.
    ids: Vec<String>,
    /// Each one's identity.
    identities: Vec<String>,
}

async fn group_call(server: &TestServer, names: &[&str]) -> Group {
    let mut clients = Vec::new();
    let mut identities = Vec::new();
    for name in names {
        let identity = server.create_identity().await;
        clients.push(server.connect(&identity, name).await);
        identities.push(identity);
    }
    let (call, first) = clients[0].start_call_with(&[], true).await;
    let mut ids = vec![first.to_string()];
    for client in clients.iter_mut().skip(1) {
        ids.push(join(client, &call).await);
    }
    Group {
        call,
        clients,
        ids,
        identities,
    }
}

/// Connects each client's peer through the media server. A peer is named by its participant id,
/// which is how the media server labels the tracks it forwards (the m-line's stream id).
async fn connect_media(call: &CallId, clients: &mut [Client], ids: &[String]) -> Vec<MediaPeer> {
    let mut peers = Vec::new();
    for (client, id) in clients.iter_mut().zip(ids) {
        let (peer, sdp) = MediaPeer::new(id).await;
        let answer = offer(client, call, sdp).await.expect("mediaOffer accepted");
        peer.accept_answer(&answer);
        peers.push(peer);
    }
    peers
}

/// Every peer got at least `at_least` audio and video frames from each other peer, and none of
/// its own.
fn hears_everyone_else(peers: &[MediaPeer], at_least: usize) -> bool {
    media::hears_everyone_else(peers, at_least)
        && peers
            .iter()
            .all(|peer| !peer.counts().contains_key(&peer.name))
}

fn describe(peers: &[MediaPeer]) -> String {
    peers
        .iter()
        .map(|p| {
            format!(
                "{} connected={} got {:?}",
                p.name,
                p.is_connected(),
                p.counts()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn three_native_clients_in_a_group_call_each_receive_the_two_others_audio_and_video() {
    let server = server().await;
    let Group {
        call,
        mut clients,
        ids,
        ..
    } = group_call(&server, &["alice", "bob", "carol"]).await;
    let peers = connect_media(&call, &mut clients, &ids).await;
    let heard = serve_until(&mut clients, &peers, Duration::from_secs(20), |peers| {
        hears_everyone_else(peers, 25)
    })
    .await;
    assert!(heard, "not everyone heard everyone: {}", describe(&peers));
    // Nobody left: the media server's reports did not remove anyone who was fine.
    media::assert_nobody_left(&mut clients).await;
}

#[tokio::test]
async fn a_participant_whose_media_never_connects_is_removed_with_301004_and_the_others_see_why() {
    let server = server().await;
    let Group {
        call,
        mut clients,
        ids,
        identities,
    } = group_call(&server, &["alice", "bob", "carol"]).await;
    let peers = connect_media(&call, &mut clients[..2], &ids[..2]).await;
    // Carol's offer is answered, but her UDP is blocked before ICE can start.
    let (carol, sdp) = MediaPeer::new(&ids[2]).await;
    carol.cut();
    let answer = offer(&mut clients[2], &call, sdp)
        .await
        .expect("mediaOffer accepted");
    carol.accept_answer(&answer);
    let started = tokio::time::Instant::now();
    let reason = clients[2].call_ended(&call).await;
    assert_reason(
        reason,
        &registry::MEDIA_SERVER_UNREACHED_DURING_SETUP,
        "carol",
    );
    assert!(started.elapsed() >= MEDIA_SETUP - Duration::from_millis(100));
    for (client, who) in clients.iter_mut().take(2).zip(["alice", "bob"]) {
        let seen = client.participant_left(&call, &identities[2]).await;
        assert_reason(seen, &registry::MEDIA_SERVER_UNREACHED_DURING_SETUP, who);
    }
    // The two others go on, hearing each other.
    let heard = serve_until(
        &mut clients[..2],
        &peers,
        Duration::from_secs(20),
        |peers| hears_everyone_else(peers, 10),
    )
    .await;
    assert!(heard, "{}", describe(&peers));
}

#[tokio::test]
async fn a_participant_whose_udp_is_cut_mid_call_is_removed_with_301005_while_its_signaling_lives()
{
    let server = server().await;
    let Group {
        call,
        mut clients,
        ids,
        identities,
    } = group_call(&server, &["alice", "bob", "carol"]).await;
    let peers = connect_media(&call, &mut clients, &ids).await;
    let heard = serve_until(&mut clients, &peers, Duration::from_secs(20), |peers| {
        hears_everyone_else(peers, 10)
    })
    .await;
    assert!(heard, "{}", describe(&peers));
    peers[2].cut();
    let reason = clients[2].call_ended(&call).await;
    assert_reason(reason, &registry::MEDIA_SERVER_CONNECTION_LOST, "carol");
    assert!(
        clients[2].still_served().await,
        "carol's signaling connection is kept"
    );
    for (client, who) in clients.iter_mut().take(2).zip(["alice", "bob"]) {
        let seen = client.participant_left(&call, &identities[2]).await;
        assert_reason(seen, &registry::MEDIA_SERVER_CONNECTION_LOST, who);
    }
    // 301005 is retryable: carol joins again, with a new peer connection, and is heard again.
    let mut peers = peers;
    let carol_again = join(&mut clients[2], &call).await;
    let (peer, sdp) = MediaPeer::new(&carol_again).await;
    let answer = offer(&mut clients[2], &call, sdp)
        .await
        .expect("mediaOffer accepted");
    peer.accept_answer(&answer);
    peers[2] = peer;
    let heard = serve_until(&mut clients, &peers, Duration::from_secs(20), |peers| {
        hears_everyone_else(peers, 10)
    })
    .await;
    assert!(heard, "after rejoining: {}", describe(&peers));
}

#[tokio::test]
async fn a_one_to_one_call_is_refused_the_media_server_and_strangers_are_refused_any_call() {
    let server = server().await;
    let alice_id = server.create_identity().await;
    let bob_id = server.create_identity().await;
    let mut alice = server.connect(&alice_id, "alice").await;
    let mut bob = server.connect(&bob_id, "bob").await;
    let (call, _) = alice.start_call(&[bob_id.as_str()]).await;
    let incoming = bob.incoming().await;
    bob.accept(&incoming).await.expect("accept");
    let (_peer, sdp) = MediaPeer::new("alice").await;
    let refused = offer(&mut alice, &call, sdp.clone()).await.unwrap_err();
    assert_eq!(
        refused.name(),
        registry::MEDIA_SERVER_NOT_FOR_THIS_CALL.name
    );

    // Someone outside a group call cannot push media into it by naming its id.
    let group = group_call(&server, &["dan", "erin"]).await.call;
    let mallory_id = server.create_identity().await;
    let mut mallory = server.connect(&mallory_id, "mallory").await;
    let refused = offer(&mut mallory, &group, sdp.clone()).await.unwrap_err();
    assert_eq!(refused.name(), registry::CALL_OPERATION_UNKNOWN_CALL.name);

    // Unreadable SDP changes nothing and says why: a good offer afterwards is accepted, and a
    // second one is refused rather than replacing the first connection.
    let Group {
        call: own,
        clients: mut members,
        ..
    } = group_call(&server, &["fay", "gus"]).await;
    let refused = offer(&mut members[0], &own, "v=0 garbage".into())
        .await
        .unwrap_err();
    assert_eq!(refused.name(), registry::MEDIA_SDP_REFUSED.name);
    let (_fay, good) = MediaPeer::new("fay").await;
    offer(&mut members[0], &own, good.clone())
        .await
        .expect("a readable offer after a refused one");
    let refused = offer(&mut members[0], &own, good).await.unwrap_err();
    assert_eq!(refused.name(), registry::MEDIA_ALREADY_CONNECTED.name);
}

#[tokio::test]
async fn a_participant_who_turns_its_microphone_off_is_not_heard_though_its_client_keeps_sending() {
    let server = server().await;
    let Group {
        call,
        mut clients,
        ids,
        ..
    } = group_call(&server, &["alice", "bob"]).await;
    let peers = connect_media(&call, &mut clients, &ids).await;
    let heard = serve_until(&mut clients, &peers, Duration::from_secs(20), |peers| {
        hears_everyone_else(peers, 10)
    })
    .await;
    assert!(heard, "{}", describe(&peers));
    // Bob declares his microphone off; his test peer goes on sending audio regardless.
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
    // Frames already on their way when the ack left may still land.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = peers[0].counts()[&ids[1]];
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after = peers[0].counts()[&ids[1]];
    assert_eq!(after.0, before.0, "bob's audio still reached alice");
    assert!(
        after.1 >= before.1 + 10,
        "bob's video stopped too: {before:?} → {after:?}"
    );
}

#[tokio::test]
async fn a_server_started_without_its_media_server_binds_no_udp_and_says_so() {
    let server = TestServer::start_with(|config| config.media.enabled = false).await;
    assert_eq!(server.server.media_addr(), None);
    let Group {
        call, mut clients, ..
    } = group_call(&server, &["alice", "bob"]).await;
    let (_peer, sdp) = MediaPeer::new("alice").await;
    let refused = offer(&mut clients[0], &call, sdp).await.unwrap_err();
    assert_eq!(refused.name(), registry::MEDIA_SERVER_DISABLED.name);
    // The one that runs it announces a loopback UDP address with a real port.
    let with_media = TestServer::start().await;
    let addr = with_media
        .server
        .media_addr()
        .expect("media server running");
    assert!(addr.ip().is_loopback() && addr.port() != 0);
}

//! Video that fits and recovers, end to end: a real server on loopback, native str0m peers on
//! real UDP sockets, signaling through `mediaOffer`/`mediaAnswer`/`mediaView`. A simulcast
//! publisher sends three layers; subscribers that render it small and large each get one layer,
//! counted in bytes per layer; a resize switches at a keyframe; a view the media server cannot
//! serve gets 500/43204 naming why; packets lost on the way to a subscriber are sent again.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appel_codes::{registry, CallingError};
use appel_media::client::MediaClient;
use appel_protocol::{CallId, ClientFrame, ServerFrame};
use support::media::{serve_until, AnswersOffers};
use support::{Client, TestServer};
use tokio::net::UdpSocket;
use tokio::sync::Notify;

const FRAME_INTERVAL: Duration = Duration::from_millis(33);
/// A publisher sends a keyframe of each layer this often, besides those asked for.
const KEYFRAME_EVERY: u32 = 90;

/// Rid, picture size and bytes per frame of the three layers of a 720p camera.
const LAYERS: [(&str, u32, u32, usize); 3] = [
    ("q", 320, 180, 80),
    ("h", 640, 360, 240),
    ("f", 1280, 720, 700),
];

/// A VP8 frame carrying `label`, padded to `size`; a keyframe announces its picture size.
fn vp8_frame(keyframe: bool, width: u32, height: u32, label: &str, size: usize) -> Vec<u8> {
    let mut frame = if keyframe {
        let mut header = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        header.extend_from_slice(&(width as u16).to_le_bytes());
        header.extend_from_slice(&(height as u16).to_le_bytes());
        header
    } else {
        vec![0x11, 0x02, 0x00]
    };
    frame.extend_from_slice(label.as_bytes());
    frame.push(b';');
    frame.resize(size.max(frame.len()), 0x01);
    frame
}

/// (layer, round, keyframe) of a received video frame.
fn parse_label(data: &[u8]) -> Option<(String, u32, bool)> {
    let text = String::from_utf8_lossy(data);
    let start = text.find("v:")?;
    let end = start + text[start..].find(';')?;
    let parts: Vec<&str> = text[start + 2..end].split(':').collect();
    let [_, rid, round, kind] = parts[..] else {
        return None;
    };
    Some((rid.to_string(), round.parse().ok()?, kind == "K"))
}

/// RTP, not RTCP nor ICE or DTLS (RFC 7983, RFC 5761).
fn is_rtp(bytes: &[u8]) -> bool {
    bytes.len() > 12 && (128..=191).contains(&bytes[0]) && !(192..=223).contains(&bytes[1])
}

#[derive(Clone, Copy, PartialEq)]
enum Sends {
    /// Audio and video in the three layers.
    Simulcast,
    /// Audio and unlayered video.
    Plain,
    /// Audio only.
    Audio,
    /// Nothing.
    Nothing,
}

/// A native peer on its own UDP socket, driven by its own task.
struct Peer {
    name: String,
    client: Arc<Mutex<MediaClient>>,
    /// One inbound RTP datagram in this many is dropped (0: none).
    lossy: Arc<AtomicU32>,
    /// How many rounds of frames this peer has sent so far.
    sent: Arc<AtomicU32>,
    kick: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Peer {
    async fn new(name: &str, sends: Sends) -> (Peer, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
        let local: SocketAddr = socket.local_addr().unwrap();
        let now = Instant::now();
        let (client, offer) = match sends {
            Sends::Simulcast => MediaClient::new_simulcast(now, local, true, &["q", "h", "f"]),
            Sends::Plain => MediaClient::new(now, local, true, true),
            Sends::Audio => MediaClient::new(now, local, true, false),
            Sends::Nothing => MediaClient::new(now, local, false, false),
        };
        let client = Arc::new(Mutex::new(client));
        let lossy = Arc::new(AtomicU32::new(0));
        let sent = Arc::new(AtomicU32::new(0));
        let kick = Arc::new(Notify::new());
        let task = tokio::spawn(drive(
            socket,
            Arc::clone(&client),
            Arc::clone(&lossy),
            Arc::clone(&sent),
            Arc::clone(&kick),
            name.to_string(),
            sends,
        ));
        let peer = Peer {
            name: name.into(),
            client,
            lossy,
            sent,
            kick,
            task,
        };
        (peer, offer)
    }

    /// Video frames received from `from`: (layer, round, keyframe), in arrival order.
    fn video_from(&self, from: &str) -> Vec<(String, u32, bool)> {
        self.client
            .lock()
            .unwrap()
            .received()
            .iter()
            .filter(|r| r.video && r.from == from)
            .filter_map(|r| parse_label(&r.data))
            .collect()
    }

    /// Bytes of video received from `from` per layer.
    fn bytes_per_layer(&self, from: &str) -> BTreeMap<String, usize> {
        let client = self.client.lock().unwrap();
        let mut bytes = BTreeMap::new();
        for r in client
            .received()
            .iter()
            .filter(|r| r.video && r.from == from)
        {
            if let Some((rid, _, _)) = parse_label(&r.data) {
                *bytes.entry(rid).or_insert(0) += r.data.len();
            }
        }
        bytes
    }

    fn audio_from(&self, from: &str) -> usize {
        self.client
            .lock()
            .unwrap()
            .counts()
            .get(from)
            .map_or(0, |c| c.0)
    }

    fn keyframe_requests_for(&self, rid: &str) -> u64 {
        self.client.lock().unwrap().keyframe_requests_for(Some(rid))
    }
}

async fn drive(
    socket: UdpSocket,
    client: Arc<Mutex<MediaClient>>,
    lossy: Arc<AtomicU32>,
    sent: Arc<AtomicU32>,
    kick: Arc<Notify>,
    name: String,
    sends: Sends,
) {
    let mut buf = vec![0u8; 2048];
    let mut next_frame = Instant::now();
    let mut round = 0u32;
    let mut answered: BTreeMap<&str, u64> = BTreeMap::new();
    let mut noise = 0x9e37_79b9_u32;
    loop {
        let wake = client.lock().unwrap().poll_timeout().min(next_frame);
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = received {
                    let every = lossy.load(Ordering::SeqCst);
                    noise ^= noise << 13;
                    noise ^= noise >> 17;
                    noise ^= noise << 5;
                    let dropped = every > 0 && is_rtp(&buf[..n]) && noise % every == 0;
                    if !dropped {
                        client.lock().unwrap().receive(Instant::now(), source, &buf[..n]);
                    }
                }
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                let now = Instant::now();
                let mut client = client.lock().unwrap();
                client.handle_timeout(now);
                if now >= next_frame {
                    next_frame = now + FRAME_INTERVAL;
                    if client.is_connected() && sends != Sends::Nothing {
                        client.send_audio(now, format!("a:{name}:{round}").as_bytes());
                        let periodic = round % KEYFRAME_EVERY == 0;
                        // An encoder answers a keyframe request with its next frame.
                        let mut keyframe = |client: &MediaClient, rid: &'static str| {
                            let asked = client.keyframe_requests_for((rid != "-").then_some(rid));
                            let seen = answered.entry(rid).or_insert(0);
                            let fresh = asked > *seen;
                            *seen = asked;
                            periodic || fresh
                        };
                        match sends {
                            Sends::Simulcast => {
                                let frames: Vec<(&str, Vec<u8>)> = LAYERS
                                    .iter()
                                    .map(|(rid, w, h, size)| {
                                        let key = keyframe(&client, rid);
                                        let tag = if key { "K" } else { "D" };
                                        let label = format!("v:{name}:{rid}:{round}:{tag}");
                                        (*rid, vp8_frame(key, *w, *h, &label, *size))
                                    })
                                    .collect();
                                let layers: Vec<(&str, &[u8])> =
                                    frames.iter().map(|(r, f)| (*r, f.as_slice())).collect();
                                client.send_video_layers(now, &layers);
                            }
                            Sends::Plain => {
                                let key = keyframe(&client, "-");
                                let tag = if key { "K" } else { "D" };
                                let label = format!("v:{name}:-:{round}:{tag}");
                                client.send_video(now, &vp8_frame(key, 640, 360, &label, 300));
                            }
                            Sends::Audio | Sends::Nothing => {}
                        }
                        round += 1;
                        sent.store(round, Ordering::SeqCst);
                    }
                }
            }
            () = kick.notified() => {}
        }
        let outgoing: Vec<_> = {
            let mut client = client.lock().unwrap();
            std::iter::from_fn(|| client.poll_transmit()).collect()
        };
        for t in outgoing {
            let _ = socket.send_to(&t.contents, t.destination).await;
        }
    }
}

/// `mediaOffer` with the peer's offer; applies the answer.
async fn connect_media(client: &mut Client, call: &CallId, peer: &Peer, sdp: String) {
    let answer = support::media::offer(client, call, sdp)
        .await
        .unwrap_or_else(|error| panic!("mediaOffer refused: {error}"));
    peer.client
        .lock()
        .unwrap()
        .accept_answer(&answer)
        .expect("the media server's answer is accepted");
    peer.kick.notify_one();
}

/// Answers the server's pending `mediaOffer`s.
async fn answer_offers(client: &mut Client, peer: &Peer) {
    let mut kept = Vec::new();
    for frame in client.drain().await {
        match frame {
            ServerFrame::MediaOffer { call_id, sdp } => {
                let answer = peer
                    .client
                    .lock()
                    .unwrap()
                    .accept_offer(&sdp)
                    .expect("the media server's offer is accepted");
                peer.kick.notify_one();
                client
                    .send(ClientFrame::MediaAnswer {
                        call_id,
                        sdp: answer,
                    })
                    .await;
            }
            other => kept.push(other),
        }
    }
    client.restore_backlog(kept);
}

impl AnswersOffers for Peer {
    async fn answer_offers(&self, client: &mut Client) {
        answer_offers(client, self).await;
    }
}

async fn view(
    client: &mut Client,
    call: &CallId,
    publisher: &str,
    width: u32,
    height: u32,
) -> Result<(), CallingError> {
    let call_id = call.clone();
    client
        .request(|request_id| ClientFrame::MediaView {
            request_id,
            call_id,
            participant: publisher.into(),
            width,
            height,
        })
        .await
}

/// A joinable group call of `names`, each with a media connection of the kind given.
async fn group(server: &TestServer, members: &[(&str, Sends)]) -> (CallId, Vec<Client>, Vec<Peer>) {
    let mut clients = Vec::new();
    for (name, _) in members {
        let identity = server.create_identity().await;
        clients.push(server.connect(&identity, name).await);
    }
    let (call, first) = clients[0].start_call_with(&[], true).await;
    let mut ids = vec![first.to_string()];
    for client in clients.iter_mut().skip(1) {
        let request_id = client.request_id();
        client
            .send(ClientFrame::JoinCall {
                request_id,
                call_id: call.clone(),
                video: true,
            })
            .await;
        let id = client
            .wait_for("callJoined", |f| match f {
                ServerFrame::CallJoined {
                    request_id: r,
                    participant_id,
                    ..
                } if *r == request_id => Some(participant_id.to_string()),
                _ => None,
            })
            .await;
        ids.push(id);
    }
    let mut peers = Vec::new();
    for ((client, id), (_, sends)) in clients.iter_mut().zip(&ids).zip(members) {
        let (peer, sdp) = Peer::new(id, *sends).await;
        connect_media(client, &call, &peer, sdp).await;
        peers.push(peer);
    }
    (call, clients, peers)
}

fn media_server(max_videos: usize) -> impl FnOnce(&mut appel_server::Config) {
    move |config| {
        config.timers.media_setup = Duration::from_secs(5);
        config.timers.media_loss = Duration::from_secs(5);
        config.timers.establishment = Duration::from_secs(20);
        // These tests drive media from the same task that reads signaling, so a busy machine may
        // leave pings unanswered for a while; the heartbeat is not what they test.
        config.signaling.heartbeat_interval = Duration::from_secs(5);
        config.media.max_video_subscriptions = max_videos;
    }
}

#[tokio::test]
async fn a_small_and_a_large_viewer_of_a_simulcast_publisher_each_get_one_layer_and_a_resize_switches_at_a_keyframe(
) {
    let server = TestServer::start_with(media_server(25)).await;
    let (call, mut clients, peers) = group(
        &server,
        &[
            ("alice", Sends::Simulcast),
            ("bob", Sends::Nothing),
            ("carol", Sends::Nothing),
        ],
    )
    .await;
    let alice = peers[0].name.clone();
    let flowing = serve_until(&mut clients, &peers, Duration::from_secs(20), |p| {
        !p[1].video_from(&alice).is_empty() && !p[2].video_from(&alice).is_empty()
    })
    .await;
    assert!(flowing, "alice's video never reached both");
    view(&mut clients[1], &call, &alice, 320, 180)
        .await
        .expect("bob's view acknowledged");
    view(&mut clients[2], &call, &alice, 1280, 720)
        .await
        .expect("carol's view acknowledged");
    // From a second after the views on, each counts what it gets per layer.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let from_bob = peers[1].bytes_per_layer(&alice);
    let from_carol = peers[2].bytes_per_layer(&alice);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let gained = |before: &BTreeMap<String, usize>, after: BTreeMap<String, usize>| {
        after
            .into_iter()
            .map(|(rid, n)| (rid.clone(), n - before.get(&rid).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect::<BTreeMap<_, _>>()
    };
    let bob = gained(&from_bob, peers[1].bytes_per_layer(&alice));
    let carol = gained(&from_carol, peers[2].bytes_per_layer(&alice));
    // Two seconds at 30 frames a second: about 60 frames of one layer each, nothing of the rest.
    assert_eq!(bob.keys().collect::<Vec<_>>(), vec!["q"], "bob: {bob:?}");
    assert!(bob["q"] >= 40 * 80, "bob: {bob:?}");
    assert_eq!(
        carol.keys().collect::<Vec<_>>(),
        vec!["f"],
        "carol: {carol:?}"
    );
    assert!(carol["f"] >= 40 * 700, "carol: {carol:?}");
    // The small viewer costs a ninth of the large one's bytes.
    assert!(bob["q"] * 5 < carol["f"]);

    // Bob enlarges his tile: the media server asks alice for a keyframe of the full layer and
    // switches him on it.
    let asked = peers[0].keyframe_requests_for("f");
    let seen = peers[1].video_from(&alice).len();
    view(&mut clients[1], &call, &alice, 1280, 720)
        .await
        .expect("resize acknowledged");
    let switched = serve_until(&mut clients, &peers, Duration::from_secs(10), |p| {
        p[1].video_from(&alice)[seen..]
            .iter()
            .filter(|(rid, _, _)| rid == "f")
            .count()
            >= 20
    })
    .await;
    assert!(switched, "bob never got the full layer");
    assert!(peers[0].keyframe_requests_for("f") > asked);
    let after = peers[1].video_from(&alice)[seen..].to_vec();
    let first_f = after.iter().position(|(rid, _, _)| rid == "f").unwrap();
    assert!(
        after[first_f].2,
        "switched on a delta frame: {:?}",
        &after[..first_f + 2]
    );
    assert!(after[first_f..].iter().all(|(rid, _, _)| rid == "f"));
    // Audio reached both all along.
    assert!(peers[1].audio_from(&alice) >= 100 && peers[2].audio_from(&alice) >= 100);
}

#[tokio::test]
async fn a_view_of_a_gone_stream_or_beyond_the_video_limit_is_answered_43204_naming_why() {
    let server = TestServer::start_with(media_server(1)).await;
    let (call, mut clients, peers) = group(
        &server,
        &[
            ("alice", Sends::Plain),
            ("bob", Sends::Plain),
            ("erin", Sends::Audio),
            ("dan", Sends::Nothing),
        ],
    )
    .await;
    let (alice, bob, erin) = (
        peers[0].name.clone(),
        peers[1].name.clone(),
        peers[2].name.clone(),
    );
    // Dan may receive one video: alice's, the first published; bob's arrives paused.
    let flowing = serve_until(&mut clients, &peers, Duration::from_secs(20), |p| {
        p[3].video_from(&alice).len() >= 20 && p[3].audio_from(&bob) >= 20
    })
    .await;
    assert!(flowing, "dan does not get alice's video and bob's audio");
    assert!(
        peers[3].video_from(&bob).is_empty(),
        "bob's video was not paused"
    );

    let refused = view(&mut clients[3], &call, &bob, 640, 360)
        .await
        .expect_err("a second video beyond the limit of one");
    assert_eq!(refused.name(), registry::VIDEO_SUBSCRIPTION_FAILED.name);
    let cause = refused.raw_cause().unwrap_or_default().to_string();
    assert!(cause.contains("already receives 1 videos"), "{cause}");

    for (who, why) in [
        (&erin, "audio only"),
        (&"p-nobody".to_string(), "not in the call"),
    ] {
        let refused = view(&mut clients[3], &call, who, 640, 360)
            .await
            .expect_err(why);
        assert_eq!(
            refused.name(),
            registry::VIDEO_SUBSCRIPTION_FAILED.name,
            "{why}"
        );
        let cause = refused.raw_cause().unwrap_or_default().to_string();
        assert!(cause.contains("receives no video"), "{why}: {cause}");
    }

    // Pausing alice's video frees the place for bob's.
    view(&mut clients[3], &call, &alice, 0, 0)
        .await
        .expect("pause");
    view(&mut clients[3], &call, &bob, 640, 360)
        .await
        .expect("bob's video now fits");
    let bob_flows = serve_until(&mut clients, &peers, Duration::from_secs(10), |p| {
        p[3].video_from(&bob).len() >= 20
    })
    .await;
    assert!(bob_flows, "bob's video never came after the view");

    // Bob hangs up: his video is gone, and a view of it says so.
    clients[1].hang_up(&call).await.expect("bob hangs up");
    let gone = async {
        for _ in 0..40 {
            match view(&mut clients[3], &call, &bob, 640, 360).await {
                Err(error) => return error,
                Ok(()) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        panic!("a view of bob's video was still acknowledged after he left");
    }
    .await;
    assert_eq!(gone.name(), registry::VIDEO_SUBSCRIPTION_FAILED.name);

    // A participant without a media connection has nothing a view could change.
    let frank = server.create_identity().await;
    let mut frank = server.connect(&frank, "frank").await;
    let request_id = frank.request_id();
    frank
        .send(ClientFrame::JoinCall {
            request_id,
            call_id: call.clone(),
            video: true,
        })
        .await;
    frank
        .wait_for("callJoined", |f| {
            matches!(f, ServerFrame::CallJoined { request_id: r, .. } if *r == request_id)
                .then_some(())
        })
        .await;
    let refused = view(&mut frank, &call, &alice, 640, 360)
        .await
        .expect_err("no media connection");
    assert_eq!(refused.name(), registry::VIDEO_SUBSCRIPTION_FAILED.name);
    assert!(refused
        .raw_cause()
        .unwrap_or_default()
        .contains("send mediaOffer first"));
}

#[tokio::test]
async fn packets_lost_on_the_way_to_a_subscriber_are_sent_again_and_every_frame_arrives() {
    let server = TestServer::start_with(media_server(25)).await;
    let (_call, mut clients, peers) =
        group(&server, &[("alice", Sends::Plain), ("bob", Sends::Nothing)]).await;
    let alice = peers[0].name.clone();
    let flowing = serve_until(&mut clients, &peers, Duration::from_secs(20), |p| {
        p[1].video_from(&alice).len() >= 20
    })
    .await;
    assert!(flowing, "alice's video never reached bob");
    // About one packet in eight never reaches bob while alice sends 90 frames (three seconds at
    // her rate; longer when a loaded machine slows her down, so the window always holds as many).
    peers[1].lossy.store(8, Ordering::SeqCst);
    let first_lossy = peers[1].video_from(&alice).last().unwrap().1 + 1;
    let window_end = first_lossy + 90;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while peers[0].sent.load(Ordering::SeqCst) < window_end {
        assert!(
            tokio::time::Instant::now() < deadline,
            "alice stopped sending"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    peers[1].lossy.store(0, Ordering::SeqCst);
    let last_lossy = peers[1].video_from(&alice).last().unwrap().1;
    serve_until(&mut clients, &peers, Duration::from_secs(2), |_| false).await;
    // Not stalled: within a second and a half of what alice had sent when the loss stopped (a
    // frame retransmission cannot repair waits for the keyframe the core asks for within a
    // second; a busy machine delays bob's reading too).
    assert!(
        last_lossy + 45 >= window_end,
        "video stalled during the loss: the last frame bob got was {last_lossy}, alice was at {window_end}"
    );
    let got: BTreeSet<u32> = peers[1]
        .video_from(&alice)
        .iter()
        .map(|(_, round, _)| *round)
        .collect();
    let missing: Vec<u32> = (first_lossy..=last_lossy)
        .filter(|r| !got.contains(r))
        .collect();
    // Retransmission repairs what it can in time; a frame it could not is replaced by a
    // keyframe, never by a frozen picture: at most a few frames go missing.
    assert!(
        missing.len() * 20 <= (last_lossy - first_lossy) as usize,
        "{} of {} frames never arrived: {missing:?}",
        missing.len(),
        last_lossy - first_lossy
    );
}

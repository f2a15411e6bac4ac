//! What makes video fit and recover, driven through the core with real str0m clients on an
//! in-memory wire and a made-up clock: a simulcast publisher's layers chosen per subscriber by
//! the size it renders and by what its path carries, switching only at a keyframe, paused
//! videos, the per-subscriber video limit, and lost packets sent again.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use appel_media::client::MediaClient;
use appel_media::{MediaConfig, MediaError, MediaEvent, ParticipantKey, Sfu};

const SERVER: &str = "127.0.0.1:40000";
const STEP: Duration = Duration::from_millis(10);
const FRAME: Duration = Duration::from_millis(33);

/// The three layers a browser sends of a 720p camera: rid, picture size, bytes per frame.
const LAYERS: [(&str, u32, u32, usize); 3] = [
    ("q", 320, 180, 60),
    ("h", 640, 360, 180),
    ("f", 1280, 720, 1200),
];

/// A VP8 frame of `width`×`height` carrying `label`, padded to `size` bytes. A keyframe has the
/// frame tag's lowest bit clear and announces its size after the start code, as an encoder's
/// does; the padding bytes are odd so no packet of a delta frame looks like a keyframe's start.
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
    while frame.len() < size {
        frame.push(0x01);
    }
    frame
}

/// A received video frame's label: (publisher, layer, round, keyframe).
fn parse_label(data: &[u8]) -> Option<(String, String, u32, bool)> {
    let text = String::from_utf8_lossy(data);
    let start = text.find("v:")?;
    let end = start + text[start..].find(';')?;
    let mut parts = text[start + 2..end].split(':');
    let name = parts.next()?.to_string();
    let rid = parts.next()?.to_string();
    let round = parts.next()?.parse().ok()?;
    let keyframe = parts.next()? == "K";
    Some((name, rid, round, keyframe))
}

/// RTP (not RTCP, not ICE or DTLS), told apart as RFC 7983 and RFC 5761 do.
fn is_rtp(bytes: &[u8]) -> bool {
    bytes.len() > 12 && (128..=191).contains(&bytes[0]) && !(192..=223).contains(&bytes[1])
}

/// One direction of a peer's wire: drops about one RTP datagram in `drop_every` while set (on a
/// fixed pseudo-random pattern, so a retransmission is not lost in step with what it repairs), and may
/// carry at most `rate` bits a second (a queue of at most `max_queue`, beyond which it drops).
#[derive(Default)]
struct Link {
    drop_every: Option<u32>,
    seen: u32,
    noise: u32,
    dropped: u32,
    rate: Option<u64>,
    max_queue: Duration,
    busy_until: Option<Instant>,
    queue: VecDeque<(Instant, Vec<u8>)>,
}

impl Link {
    /// Whether the datagram goes through now; a rate-limited link queues it instead.
    fn admit(&mut self, now: Instant, bytes: &[u8]) -> Option<Vec<u8>> {
        if is_rtp(bytes) {
            if let Some(every) = self.drop_every {
                self.seen += 1;
                // xorshift: the same losses on every run.
                let mut x = self.noise.wrapping_add(self.seen).max(1);
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                self.noise = x;
                if x % every == 0 {
                    self.dropped += 1;
                    return None;
                }
            }
        }
        let Some(rate) = self.rate else {
            return Some(bytes.to_vec());
        };
        let start = self.busy_until.map_or(now, |at| at.max(now));
        if start.saturating_duration_since(now) > self.max_queue {
            self.dropped += 1;
            return None;
        }
        let on_wire = Duration::from_micros((bytes.len() as u64 + 28) * 8 * 1_000_000 / rate);
        self.busy_until = Some(start + on_wire);
        self.queue.push_back((start + on_wire, bytes.to_vec()));
        None
    }

    fn due(&mut self, now: Instant) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while self.queue.front().is_some_and(|(at, _)| *at <= now) {
            out.push(self.queue.pop_front().unwrap().1);
        }
        out
    }
}

struct Peer {
    key: ParticipantKey,
    client: MediaClient,
    /// The core to the peer.
    down: Link,
    /// The peer to the core.
    up: Link,
    /// Keyframe requests per layer already answered with a keyframe.
    answered: HashMap<String, u64>,
}

struct Net {
    sfu: Sfu,
    server: SocketAddr,
    peers: Vec<Peer>,
    now: Instant,
    round: u32,
}

impl Net {
    fn new(max_videos: usize) -> Self {
        let server: SocketAddr = SERVER.parse().unwrap();
        let now = Instant::now();
        let mut config = MediaConfig::new(server);
        config.max_video_subscriptions = max_videos;
        Net {
            sfu: Sfu::new(config, now),
            server,
            peers: Vec::new(),
            now,
            round: 0,
        }
    }

    fn add(&mut self, name: &str, made: (MediaClient, String)) -> usize {
        let (mut client, offer) = made;
        let key = ParticipantKey::new("call-1", name);
        let answer = self
            .sfu
            .join(self.now, key.clone(), &offer, true, false)
            .unwrap();
        client.accept_answer(&answer).unwrap();
        self.peers.push(Peer {
            key,
            client,
            down: Link::default(),
            up: Link::default(),
            answered: HashMap::new(),
        });
        self.pump();
        self.peers.len() - 1
    }

    fn local(&self) -> SocketAddr {
        format!("127.0.0.1:{}", 41000 + self.peers.len())
            .parse()
            .unwrap()
    }

    /// A publisher of audio and simulcast video in the three layers.
    fn simulcast(&mut self, name: &str) -> usize {
        let made = MediaClient::new_simulcast(self.now, self.local(), true, &["q", "h", "f"]);
        self.add(name, made)
    }

    /// A publisher of audio and (when `video`) unlayered video.
    fn plain(&mut self, name: &str, video: bool) -> usize {
        let made = MediaClient::new(self.now, self.local(), true, video);
        self.add(name, made)
    }

    /// A participant that sends nothing.
    fn watcher(&mut self, name: &str) -> usize {
        let made = MediaClient::new(self.now, self.local(), false, false);
        self.add(name, made)
    }

    fn key(&self, index: usize) -> ParticipantKey {
        self.peers[index].key.clone()
    }

    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.sfu.poll_transmit() {
                moved = true;
                let now = self.now;
                if let Some(peer) = self
                    .peers
                    .iter_mut()
                    .find(|p| p.client.local_address() == t.destination)
                {
                    if let Some(bytes) = peer.down.admit(now, &t.contents) {
                        peer.client.receive(now, self.server, &bytes);
                    }
                }
            }
            for i in 0..self.peers.len() {
                while let Some(t) = self.peers[i].client.poll_transmit() {
                    moved = true;
                    if let Some(bytes) = self.peers[i].up.admit(self.now, &t.contents) {
                        self.sfu.receive(self.now, t.source, self.server, &bytes);
                    }
                }
            }
            while let Some(event) = self.sfu.poll_event() {
                moved = true;
                if let MediaEvent::Offer { participant, sdp } = &event {
                    let peer = self
                        .peers
                        .iter_mut()
                        .find(|p| &p.key == participant)
                        .unwrap();
                    let answer = peer.client.accept_offer(sdp).unwrap();
                    self.sfu
                        .accept_answer(self.now, participant, &answer)
                        .unwrap();
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn run_for(&mut self, span: Duration) {
        let end = self.now + span;
        while self.now < end {
            self.now += STEP;
            let now = self.now;
            for i in 0..self.peers.len() {
                for bytes in self.peers[i].down.due(now) {
                    self.peers[i].client.receive(now, self.server, &bytes);
                }
                let source = self.peers[i].client.local_address();
                for bytes in self.peers[i].up.due(now) {
                    self.sfu.receive(now, source, self.server, &bytes);
                }
            }
            if self.sfu.poll_timeout().is_some_and(|at| at <= now) {
                self.sfu.handle_timeout(now);
            }
            for peer in &mut self.peers {
                if peer.client.poll_timeout() <= now {
                    peer.client.handle_timeout(now);
                }
            }
            self.pump();
        }
    }

    fn connect(&mut self) {
        self.run_for(Duration::from_secs(2));
        for peer in &self.peers {
            assert!(peer.client.is_connected(), "{} did not connect", peer.key);
        }
    }

    /// One frame time: every publisher sends an audio frame and a video frame (of each layer
    /// when it sends layers). A layer's frame is a keyframe on the first round, every
    /// `keyframe_every` rounds, and right after a keyframe request for it, as an encoder does.
    fn frame(&mut self, keyframe_every: u32) {
        let round = self.round;
        self.round += 1;
        let now = self.now;
        for peer in &mut self.peers {
            let name = peer.key.participant.clone();
            peer.client
                .send_audio(now, format!("a:{name}:{round}").as_bytes());
            let periodic = round % keyframe_every == 0;
            let keyframe_for = |peer: &mut Peer, rid: &str| {
                let asked = peer
                    .client
                    .keyframe_requests_for((rid != "-").then_some(rid));
                let seen = peer.answered.entry(rid.to_string()).or_insert(0);
                let fresh = asked > *seen;
                *seen = asked;
                periodic || fresh
            };
            if name.starts_with("sim") {
                let frames: Vec<(&str, Vec<u8>)> = LAYERS
                    .iter()
                    .map(|(rid, w, h, size)| {
                        let key = keyframe_for(peer, rid);
                        let tag = if key { "K" } else { "D" };
                        let label = format!("v:{name}:{rid}:{round}:{tag}");
                        (*rid, vp8_frame(key, *w, *h, &label, *size))
                    })
                    .collect();
                let layers: Vec<(&str, &[u8])> =
                    frames.iter().map(|(r, f)| (*r, f.as_slice())).collect();
                peer.client.send_video_layers(now, &layers);
            } else {
                let key = keyframe_for(peer, "-");
                let tag = if key { "K" } else { "D" };
                let label = format!("v:{name}:-:{round}:{tag}");
                peer.client
                    .send_video(now, &vp8_frame(key, 640, 360, &label, 200));
            }
        }
        self.pump();
        self.run_for(FRAME);
    }

    fn frames(&mut self, count: u32, keyframe_every: u32) {
        for _ in 0..count {
            self.frame(keyframe_every);
        }
    }

    /// The video frames peer `index` got from `publisher`, in arrival order.
    fn video_from(&self, index: usize, publisher: &str) -> Vec<(String, u32, bool)> {
        self.peers[index]
            .client
            .received()
            .iter()
            .filter(|r| r.video && r.from == publisher)
            .filter_map(|r| parse_label(&r.data))
            .map(|(_, rid, round, key)| (rid, round, key))
            .collect()
    }

    fn audio_from(&self, index: usize, publisher: &str) -> usize {
        self.peers[index]
            .client
            .received()
            .iter()
            .filter(|r| !r.video && r.from == publisher)
            .count()
    }

    /// Frames per layer peer `index` got from `publisher` from its `skip`-th video frame on.
    fn layers_from(&self, index: usize, publisher: &str, skip: usize) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for (rid, _, _) in self.video_from(index, publisher).into_iter().skip(skip) {
            *counts.entry(rid).or_insert(0) += 1;
        }
        counts
    }
}

#[test]
fn each_subscriber_gets_the_one_layer_that_fits_the_size_it_renders() {
    let mut net = Net::new(25);
    net.simulcast("sim-alice");
    let small = net.watcher("bob");
    let large = net.watcher("carol");
    let silent = net.watcher("dan");
    net.connect();
    net.sfu
        .set_view(net.now, &net.key(small), "sim-alice", 300, 170)
        .unwrap();
    net.sfu
        .set_view(net.now, &net.key(large), "sim-alice", 1280, 720)
        .unwrap();
    net.frames(60, 30);
    let bob = net.layers_from(small, "sim-alice", 0);
    let carol = net.layers_from(large, "sim-alice", 0);
    let dan = net.layers_from(silent, "sim-alice", 0);
    for i in [small, large, silent] {
        eprintln!("est {:?}", net.sfu.bandwidth_estimate(&net.key(i)));
    }
    eprintln!("dan {:?}", net.video_from(silent, "sim-alice"));
    // One layer each, never the others: a small tile costs the small layer's bytes only.
    assert_eq!(bob.keys().collect::<Vec<_>>(), vec!["q"], "{bob:?}");
    assert!(bob["q"] >= 50, "{bob:?}");
    assert_eq!(carol.keys().collect::<Vec<_>>(), vec!["f"], "{carol:?}");
    assert!(carol["f"] >= 50, "{carol:?}");
    // One that never said its size gets the best the publisher sends.
    assert_eq!(dan.keys().collect::<Vec<_>>(), vec!["f"], "{dan:?}");
    // A view between two layers gets the smallest that still covers it.
    net.sfu
        .set_view(net.now, &net.key(small), "sim-alice", 400, 300)
        .unwrap();
    let before = net.video_from(small, "sim-alice").len();
    net.frames(30, 1000);
    let after = net.layers_from(small, "sim-alice", before + 5);
    assert_eq!(after.keys().collect::<Vec<_>>(), vec!["h"], "{after:?}");
    assert_eq!(
        net.sfu.forwarded_layer(&net.key(small), "sim-alice"),
        Some(Some("h".into()))
    );
    // Audio is forwarded to all, whatever their views.
    for index in [small, large, silent] {
        assert!(net.audio_from(index, "sim-alice") >= 80);
    }
}

#[test]
fn a_subscriber_switches_layer_only_at_a_keyframe_of_the_new_one_which_the_core_asks_for() {
    let mut net = Net::new(25);
    let alice = net.simulcast("sim-alice");
    let bob = net.watcher("bob");
    net.connect();
    let key = net.key(bob);
    net.sfu
        .set_view(net.now, &key, "sim-alice", 320, 180)
        .unwrap();
    // Keyframes only on request from here on, as a real encoder would send them.
    net.frames(30, 1000);
    let asked_before = net.peers[alice].client.keyframe_requests_for(Some("f"));
    let received_before = net.video_from(bob, "sim-alice").len();
    net.sfu
        .set_view(net.now, &key, "sim-alice", 1920, 1080)
        .unwrap();
    net.frames(30, 1000);
    assert!(
        net.peers[alice].client.keyframe_requests_for(Some("f")) > asked_before,
        "the publisher was never asked for a keyframe of the layer the subscriber needs"
    );
    let after: Vec<_> = net.video_from(bob, "sim-alice")[received_before..].to_vec();
    let first_f = after
        .iter()
        .position(|(rid, _, _)| rid == "f")
        .expect("bob never got the full layer");
    // Until the switch, the old layer goes on (no freeze); the first frame of the new layer is
    // a keyframe; after it, nothing of the old one. No round is missing across the switch.
    assert!(after[..first_f].iter().all(|(rid, _, _)| rid == "q"));
    assert!(
        after[first_f].2,
        "the switch happened on a delta frame: {after:?}"
    );
    assert!(
        after[first_f..].iter().all(|(rid, _, _)| rid == "f"),
        "{after:?}"
    );
    // The new layer may start on the picture last sent of the old one (both layers carry it).
    let rounds: Vec<u32> = after.iter().map(|(_, round, _)| *round).collect();
    assert!(
        rounds
            .windows(2)
            .enumerate()
            .all(|(i, w)| w[1] == w[0] + 1 || (w[1] == w[0] && i + 1 == first_f)),
        "a round was lost or repeated across the switch: {rounds:?}"
    );

    // 0×0 pauses the video; the audio goes on.
    net.sfu.set_view(net.now, &key, "sim-alice", 0, 0).unwrap();
    net.frames(3, 1000);
    let paused_at = net.video_from(bob, "sim-alice").len();
    let audio_at = net.audio_from(bob, "sim-alice");
    net.frames(20, 1000);
    assert_eq!(net.video_from(bob, "sim-alice").len(), paused_at);
    assert!(net.audio_from(bob, "sim-alice") >= audio_at + 18);
    assert_eq!(net.sfu.forwarded_layer(&key, "sim-alice"), None);
    // A new size resumes it, at a keyframe of the layer that fits.
    net.sfu
        .set_view(net.now, &key, "sim-alice", 640, 360)
        .unwrap();
    net.frames(20, 1000);
    let resumed: Vec<_> = net.video_from(bob, "sim-alice")[paused_at..].to_vec();
    assert!(resumed.len() >= 15, "{resumed:?}");
    assert!(resumed[0].2, "resumed on a delta frame: {resumed:?}");
    assert!(resumed.iter().all(|(rid, _, _)| rid == "h"), "{resumed:?}");
}

#[test]
fn beyond_its_video_limit_a_subscriber_gets_new_videos_paused_and_a_view_that_would_exceed_it_is_refused(
) {
    let mut net = Net::new(2);
    net.plain("alice", true);
    net.plain("bob", true);
    let dan = net.watcher("dan");
    // Carol publishes after dan has his two videos: hers arrives paused.
    net.plain("carol", true);
    net.connect();
    net.frames(20, 1);
    for who in ["alice", "bob"] {
        assert!(
            net.video_from(dan, who).len() >= 18,
            "{who}: {:?}",
            net.video_from(dan, who)
        );
    }
    assert!(net.video_from(dan, "carol").is_empty());
    assert!(net.audio_from(dan, "carol") >= 18, "audio is never limited");
    let key = net.key(dan);
    assert_eq!(
        net.sfu.set_view(net.now, &key, "carol", 640, 360),
        Err(MediaError::TooManyVideos {
            subscriber: key.clone(),
            limit: 2
        })
    );
    // Resizing one already received is no new subscription.
    net.sfu.set_view(net.now, &key, "alice", 320, 180).unwrap();
    // Pausing one frees a place.
    net.sfu.set_view(net.now, &key, "alice", 0, 0).unwrap();
    net.sfu.set_view(net.now, &key, "carol", 640, 360).unwrap();
    net.frames(3, 1);
    let alice_at = net.video_from(dan, "alice").len();
    net.frames(20, 1);
    assert!(net.video_from(dan, "carol").len() >= 18);
    assert_eq!(net.video_from(dan, "alice").len(), alice_at);
    // And taking it back is refused again.
    assert!(matches!(
        net.sfu.set_view(net.now, &key, "alice", 640, 360),
        Err(MediaError::TooManyVideos { limit: 2, .. })
    ));
}

#[test]
fn a_view_of_a_video_that_does_not_exist_is_refused_and_changes_nothing() {
    let mut net = Net::new(25);
    net.plain("alice", false);
    let bob = net.plain("bob", true);
    let dan = net.watcher("dan");
    net.connect();
    let key = net.key(dan);
    for (who, reason) in [("alice", "audio only"), ("nobody", "not in the call")] {
        assert_eq!(
            net.sfu.set_view(net.now, &key, who, 640, 360),
            Err(MediaError::NoVideo {
                subscriber: key.clone(),
                publisher: who.into()
            }),
            "{reason}"
        );
    }
    // Nor may a view reach into another session.
    let ghost = ParticipantKey::new("call-2", "dan");
    assert_eq!(
        net.sfu.set_view(net.now, &ghost, "bob", 640, 360),
        Err(MediaError::UnknownParticipant(ghost.clone()))
    );
    net.frames(10, 1);
    assert!(net.video_from(dan, "bob").len() >= 8);
    // Gone: bob left.
    assert!(net.sfu.leave(net.now, &net.key(bob)));
    net.pump();
    assert!(matches!(
        net.sfu.set_view(net.now, &key, "bob", 640, 360),
        Err(MediaError::NoVideo { .. })
    ));
}

#[test]
fn packets_lost_on_either_side_of_the_core_are_sent_again_and_every_frame_arrives() {
    let mut net = Net::new(25);
    net.plain("alice", true);
    let bob = net.watcher("bob");
    net.connect();
    net.frames(10, 1000);
    // Every seventh packet from the core to bob is lost for a while...
    net.peers[bob].down.drop_every = Some(7);
    net.frames(40, 1000);
    net.peers[bob].down.drop_every = None;
    // ...then every seventh from alice to the core.
    net.peers[0].up.drop_every = Some(7);
    net.frames(40, 1000);
    net.peers[0].up.drop_every = None;
    net.frames(10, 1000);
    assert!(
        net.peers[bob].down.dropped >= 10,
        "{}",
        net.peers[bob].down.dropped
    );
    assert!(net.peers[0].up.dropped >= 10, "{}", net.peers[0].up.dropped);
    let got: BTreeSet<u32> = net
        .video_from(bob, "alice")
        .iter()
        .map(|(_, round, _)| *round)
        .collect();
    let missing: Vec<u32> = (0..net.round).filter(|r| !got.contains(r)).collect();
    assert!(
        missing.is_empty(),
        "frames lost for good (nothing asked again): {missing:?} {:?}",
        net.peers[bob].client.counts()
    );
}

#[test]
fn a_subscriber_whose_path_cannot_carry_the_layer_it_renders_gets_a_lower_one() {
    let mut net = Net::new(25);
    net.simulcast("sim-alice");
    let wide = net.watcher("bob");
    let narrow = net.watcher("carol");
    // Carol's downlink carries 150 kbit/s: the full layer (about 290 kbit/s here) cannot fit,
    // the half one (about 45 kbit/s) can.
    net.peers[narrow].down.rate = Some(150_000);
    net.peers[narrow].down.max_queue = Duration::from_millis(300);
    net.connect();
    for index in [wide, narrow] {
        let key = net.key(index);
        net.sfu
            .set_view(net.now, &key, "sim-alice", 1280, 720)
            .unwrap();
    }
    net.frames(400, 60);
    let since = |index: usize, from: u32| -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for (rid, round, _) in net.video_from(index, "sim-alice") {
            if round >= from {
                *counts.entry(rid).or_insert(0) += 1;
            }
        }
        counts
    };
    let bob = since(wide, 10);
    let carol = since(narrow, 100);
    assert_eq!(bob.keys().collect::<Vec<_>>(), vec!["f"], "{bob:?}");
    assert!(bob["f"] >= 380, "{bob:?}");
    // Carol steps down to the half layer. The core tries the full one again now and then (after
    // 5 s, then 10 s...), and steps down again when her reports say it does not fit.
    let half = carol.get("h").copied().unwrap_or(0);
    let full = carol.get("f").copied().unwrap_or(0);
    assert!(
        half >= 200,
        "carol did not settle on the half layer: {carol:?}"
    );
    assert!(
        full * 10 <= half,
        "carol spent too long on the full layer: {carol:?}"
    );
}

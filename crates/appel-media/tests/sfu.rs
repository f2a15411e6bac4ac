//! The forwarding core driven with real str0m clients over an in-memory network, on a made-up
//! clock: every timer (setup, loss, keyframe throttling) is reached by moving the clock, never by
//! sleeping.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use appel_media::client::MediaClient;
use appel_media::{MediaConfig, MediaError, MediaEvent, ParticipantKey, Sfu};

const SERVER: &str = "127.0.0.1:40000";
const STEP: Duration = Duration::from_millis(10);

struct Peer {
    key: ParticipantKey,
    client: MediaClient,
    /// Its datagrams no longer reach the server, nor the server's reach it.
    cut: bool,
    /// When a datagram of it last reached the server.
    last_delivered: Option<Instant>,
}

/// The core, its clients and the wire between them.
struct Net {
    sfu: Sfu,
    server: SocketAddr,
    peers: Vec<Peer>,
    now: Instant,
    events: Vec<MediaEvent>,
    /// Offers to this participant are kept in `held` instead of being answered.
    hold_offers_to: Option<ParticipantKey>,
    held: Vec<String>,
}

impl Net {
    fn new(setup: Duration, loss: Duration) -> Self {
        let server: SocketAddr = SERVER.parse().unwrap();
        let now = Instant::now();
        let mut config = MediaConfig::new(server);
        config.setup_timeout = setup;
        config.loss_timeout = loss;
        Net {
            sfu: Sfu::new(config, now),
            server,
            peers: Vec::new(),
            now,
            events: Vec::new(),
            hold_offers_to: None,
            held: Vec::new(),
        }
    }

    /// A client joins `session` through the core, as signaling would carry its offer.
    fn join(&mut self, session: &str, name: &str, publish: bool) -> usize {
        self.join_with(session, name, publish, true)
    }

    /// As [`Net::join`]; without `tracks` the client offers nothing to send (receive only).
    fn join_with(&mut self, session: &str, name: &str, publish: bool, tracks: bool) -> usize {
        let port = 41000 + self.peers.len() as u16;
        let local: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let (mut client, offer) = MediaClient::new(self.now, local, tracks, tracks);
        let key = ParticipantKey::new(session, name);
        let answer = self
            .sfu
            .join(self.now, key.clone(), &offer, publish, false)
            .unwrap();
        client.accept_answer(&answer).unwrap();
        self.peers.push(Peer {
            key,
            client,
            cut: false,
            last_delivered: None,
        });
        self.pump();
        self.peers.len() - 1
    }

    /// Carries datagrams and offers until nothing moves.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.sfu.poll_transmit() {
                moved = true;
                if let Some(peer) = self
                    .peers
                    .iter_mut()
                    .find(|p| p.client.local_address() == t.destination && !p.cut)
                {
                    peer.client.receive(self.now, self.server, &t.contents);
                }
            }
            for i in 0..self.peers.len() {
                while let Some(t) = self.peers[i].client.poll_transmit() {
                    moved = true;
                    if !self.peers[i].cut {
                        self.peers[i].last_delivered = Some(self.now);
                        self.sfu
                            .receive(self.now, t.source, self.server, &t.contents);
                    }
                }
            }
            while let Some(event) = self.sfu.poll_event() {
                moved = true;
                if let MediaEvent::Offer { participant, sdp } = &event {
                    if self.hold_offers_to.as_ref() == Some(participant) {
                        self.held.push(sdp.clone());
                        self.events.push(event);
                        continue;
                    }
                    // The newest peer of that key: one that started over replaces the old.
                    let peer = self
                        .peers
                        .iter_mut()
                        .rev()
                        .find(|p| &p.key == participant)
                        .unwrap();
                    let answer = peer.client.accept_offer(sdp).unwrap();
                    self.sfu
                        .accept_answer(self.now, participant, &answer)
                        .unwrap();
                }
                self.events.push(event);
            }
            if !moved {
                return;
            }
        }
    }

    /// Moves the clock by `span` in small steps, firing every timer that falls due.
    fn run_for(&mut self, span: Duration) {
        let end = self.now + span;
        while self.now < end {
            self.now += STEP;
            if self.sfu.poll_timeout().is_some_and(|at| at <= self.now) {
                self.sfu.handle_timeout(self.now);
            }
            for peer in &mut self.peers {
                if !peer.cut && peer.client.poll_timeout() <= self.now {
                    peer.client.handle_timeout(self.now);
                }
            }
            self.pump();
        }
    }

    /// Every publishing peer sends one audio and one video frame naming itself.
    fn send_frames(&mut self, round: u32) {
        for peer in &mut self.peers {
            if peer.cut {
                continue;
            }
            let name = peer.key.participant.clone();
            assert!(peer
                .client
                .send_audio(self.now, format!("a:{name}:{round}").as_bytes()));
            // Lowest bit of the first byte clear: a keyframe, so the receiver can start with it.
            let mut frame = vec![0x10];
            frame.extend_from_slice(format!("v:{name}:{round}").as_bytes());
            assert!(peer.client.send_video(self.now, &frame));
        }
        self.pump();
    }

    /// Only peer `index` sends a frame of each kind.
    fn send_frames_from(&mut self, index: usize, round: u32) {
        let peer = &mut self.peers[index];
        let name = peer.key.participant.clone();
        assert!(peer
            .client
            .send_audio(self.now, format!("a:{name}:{round}").as_bytes()));
        self.pump();
    }

    fn connect_all(&mut self) {
        self.run_for(Duration::from_secs(2));
        for peer in &self.peers {
            assert!(peer.client.is_connected(), "{} did not connect", peer.key);
            assert!(self.sfu.is_connected(&peer.key));
        }
    }
}

#[test]
fn three_participants_each_receive_the_other_twos_audio_and_video_and_never_their_own() {
    let mut net = Net::new(Duration::from_secs(10), Duration::from_secs(10));
    for name in ["alice", "bob", "carol"] {
        net.join("call-1", name, true);
    }
    net.connect_all();
    for round in 0..20 {
        net.send_frames(round);
        net.run_for(Duration::from_millis(30));
    }
    for peer in &net.peers {
        let counts = peer.client.counts();
        let me = &peer.key.participant;
        assert!(
            !counts.contains_key(me),
            "{me} got its own media back: {counts:?}"
        );
        assert_eq!(
            counts.len(),
            2,
            "{me} should hear exactly two others: {counts:?}"
        );
        for (from, (audio, video)) in &counts {
            assert!(
                *audio >= 15 && *video >= 15,
                "{me} from {from}: {audio} audio, {video} video"
            );
        }
        // What arrives is what the publisher wrote, byte for byte.
        let sample = peer.client.received().iter().find(|r| !r.video).unwrap();
        let text = String::from_utf8(sample.data.clone()).unwrap();
        assert!(text.starts_with(&format!("a:{}:", sample.from)), "{text}");
    }
    assert!(net
        .events
        .iter()
        .any(|e| matches!(e, MediaEvent::MediaFlowing(k) if k.participant == "alice")));
}

#[test]
fn sessions_are_sealed_from_each_other() {
    let mut net = Net::new(Duration::from_secs(10), Duration::from_secs(10));
    net.join("call-1", "alice", true);
    net.join("call-1", "bob", true);
    net.join("call-2", "mallory", true);
    net.connect_all();
    for round in 0..10 {
        net.send_frames(round);
        net.run_for(Duration::from_millis(30));
    }
    let mallory = net.peers[2].client.counts();
    assert!(mallory.is_empty(), "call-2 heard call-1: {mallory:?}");
    let alice = net.peers[0].client.counts();
    assert_eq!(alice.keys().collect::<Vec<_>>(), vec!["bob"]);
}

#[test]
fn a_participant_that_never_connects_fails_setup_exactly_at_the_setup_timeout() {
    let setup = Duration::from_secs(3);
    let mut net = Net::new(setup, Duration::from_secs(10));
    let alice = net.join("call-1", "alice", true);
    // Its offer was answered, but not one datagram of it ever reaches the server.
    net.peers[alice].cut = true;
    net.run_for(setup - Duration::from_millis(50));
    assert!(!net
        .events
        .iter()
        .any(|e| matches!(e, MediaEvent::SetupFailed(_))));
    assert_eq!(net.sfu.participant_count(), 1);
    net.run_for(Duration::from_millis(100));
    assert_eq!(
        net.events
            .iter()
            .filter(|e| matches!(e, MediaEvent::SetupFailed(k) if k.participant == "alice"))
            .count(),
        1
    );
    assert_eq!(net.sfu.participant_count(), 0);
    assert_eq!(
        net.sfu.poll_timeout(),
        None,
        "nothing left to wake the core for"
    );
}

#[test]
fn a_connected_participant_that_goes_silent_is_lost_after_the_loss_timeout_and_withdrawn() {
    let loss = Duration::from_secs(2);
    let mut net = Net::new(Duration::from_secs(10), loss);
    net.join("call-1", "alice", true);
    net.join("call-1", "bob", true);
    net.connect_all();
    for round in 0..10 {
        net.send_frames(round);
        net.run_for(Duration::from_millis(30));
    }
    net.peers[1].cut = true;
    let last = net.peers[1].last_delivered.unwrap();
    let offers_before = net
        .events
        .iter()
        .filter(|e| matches!(e, MediaEvent::Offer { participant, .. } if participant.participant == "alice"))
        .count();
    // Alice goes on talking; bob's datagrams no longer arrive.
    let mut detected = None;
    for round in 10..200 {
        net.send_frames_from(0, round);
        net.run_for(Duration::from_millis(30));
        if net.events.iter().any(|e| matches!(e, MediaEvent::Lost(_))) {
            detected = Some(net.now);
            break;
        }
    }
    let detected = detected.expect("bob was never found lost");
    let silence = detected - last;
    assert!(
        silence >= loss && silence <= loss + Duration::from_millis(50),
        "lost after {silence:?} of silence, the limit is {loss:?}"
    );
    let lost: Vec<_> = net
        .events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Lost(k) => Some(k.participant.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(lost, vec!["bob"]);
    assert!(!net.sfu.is_connected(&ParticipantKey::new("call-1", "bob")));
    // Alice is offered a change that stops bob's tracks.
    let offers_after = net
        .events
        .iter()
        .filter(|e| matches!(e, MediaEvent::Offer { participant, .. } if participant.participant == "alice"))
        .count();
    assert_eq!(offers_after, offers_before + 1);
    // And alice, who kept talking, is still there.
    for round in 200..300 {
        net.send_frames_from(0, round);
        net.run_for(Duration::from_millis(30));
    }
    assert!(net
        .sfu
        .is_connected(&ParticipantKey::new("call-1", "alice")));
}

#[test]
fn a_subscribers_keyframe_request_reaches_the_publisher_at_most_once_a_second() {
    let mut net = Net::new(Duration::from_secs(10), Duration::from_secs(10));
    net.join("call-1", "alice", true);
    net.join("call-1", "bob", true);
    net.connect_all();
    net.send_frames(0);
    net.run_for(Duration::from_millis(50));
    let before = net.peers[0].client.keyframe_requests();
    // A newcomer can only start decoding from a keyframe: its subscription asks alice for one.
    net.join("call-1", "carol", true);
    net.run_for(Duration::from_secs(2));
    let after = net.peers[0].client.keyframe_requests();
    assert!(
        after > before,
        "alice was never asked for a keyframe for carol"
    );
    // The core throttles: over two seconds at most a few requests, not one per frame.
    assert!(after - before <= 3, "{} requests", after - before);
}

#[test]
fn a_participant_that_may_not_publish_receives_but_is_never_forwarded() {
    let mut net = Net::new(Duration::from_secs(10), Duration::from_secs(10));
    net.join("room-call", "presenter", true);
    net.join("room-call", "viewer", false);
    net.connect_all();
    for round in 0..10 {
        net.send_frames(round);
        net.run_for(Duration::from_millis(30));
    }
    assert!(
        net.peers[0].client.counts().is_empty(),
        "the viewer's media got through"
    );
    assert!(net.peers[1].client.counts().contains_key("presenter"));
}

#[test]
fn refused_commands_change_nothing() {
    let mut net = Net::new(Duration::from_secs(10), Duration::from_secs(10));
    net.join("call-1", "alice", true);
    let key = ParticipantKey::new("call-1", "alice");
    let (_, offer) = MediaClient::new(net.now, "127.0.0.1:42000".parse().unwrap(), true, false);
    assert_eq!(
        net.sfu.join(net.now, key.clone(), &offer, true, false),
        Err(MediaError::AlreadyJoined(key.clone()))
    );
    assert!(matches!(
        net.sfu.join(
            net.now,
            ParticipantKey::new("call-1", "bob"),
            "not sdp",
            true,
            false
        ),
        Err(MediaError::BadSdp(_))
    ));
    assert_eq!(
        net.sfu.accept_answer(net.now, &key, "v=0"),
        Err(MediaError::NoPendingOffer(key.clone()))
    );
    let ghost = ParticipantKey::new("call-1", "ghost");
    assert_eq!(
        net.sfu.accept_answer(net.now, &ghost, "v=0"),
        Err(MediaError::UnknownParticipant(ghost.clone()))
    );
    assert!(!net.sfu.leave(net.now, &ghost));
    assert_eq!(net.sfu.participant_count(), 1);
    // A datagram from nobody known is dropped and counted.
    net.sfu.receive(
        net.now,
        "127.0.0.1:9".parse().unwrap(),
        net.server,
        &[0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1],
    );
    assert_eq!(net.sfu.unmatched_datagrams(), 1);
    // A binding request naming nobody's credentials is not taken for anyone's check either.
    let mut stun = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(&[7; 12]);
    net.sfu
        .receive(net.now, "127.0.0.1:9".parse().unwrap(), net.server, &stun);
    assert_eq!(net.sfu.unmatched_datagrams(), 2);
    net.connect_all();
}

#[test]
fn leaving_withdraws_the_tracks_from_the_others_without_an_event() {
    let mut net = Net::new(Duration::from_secs(10), Duration::from_secs(10));
    net.join("call-1", "alice", true);
    net.join("call-1", "bob", true);
    net.connect_all();
    let events_before = net.events.len();
    assert!(net
        .sfu
        .leave(net.now, &ParticipantKey::new("call-1", "bob")));
    net.pump();
    let new: Vec<_> = net.events[events_before..].to_vec();
    assert!(new.iter().all(
        |e| matches!(e, MediaEvent::Offer { participant, .. } if participant.participant == "alice")
    ));
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(net.sfu.participant_count(), 1);
}

#[test]
fn a_muted_participants_audio_is_held_back_and_its_video_is_not() {
    let mut net = Net::new(Duration::from_secs(10), Duration::from_secs(10));
    net.join("call-1", "alice", true);
    net.join("call-1", "bob", true);
    net.connect_all();
    let bob = ParticipantKey::new("call-1", "bob");
    assert!(net.sfu.set_audio_muted(net.now, &bob, true));
    for round in 0..10 {
        net.send_frames(round);
        net.run_for(Duration::from_millis(30));
    }
    let (audio, video) = net.peers[0].client.counts()["bob"];
    assert_eq!(audio, 0, "bob's audio got through while muted");
    assert!(video >= 8, "bob's video stopped too: {video}");
    // Bob hears alice all along.
    assert!(net.peers[1].client.counts()["alice"].0 >= 8);
    assert!(net.sfu.set_audio_muted(net.now, &bob, false));
    for round in 10..20 {
        net.send_frames(round);
        net.run_for(Duration::from_millis(30));
    }
    assert!(net.peers[0].client.counts()["bob"].0 >= 8);
    assert!(!net
        .sfu
        .set_audio_muted(net.now, &ParticipantKey::new("call-1", "ghost"), true));
}

#[test]
fn an_answer_that_does_not_fit_closes_the_peer_connection_and_the_participant_may_start_over() {
    let mut net = Net::new(Duration::from_secs(10), Duration::from_secs(10));
    net.join("call-1", "alice", true);
    net.join("call-1", "bob", true);
    let bob = ParticipantKey::new("call-1", "bob");
    net.hold_offers_to = Some(bob.clone());
    // Carol arrives: bob is offered her tracks.
    net.join("call-1", "carol", true);
    net.connect_all();
    let offer = net.held.pop().expect("carol's tracks were offered to bob");
    // Unreadable: refused, nothing changes, the same offer still waits.
    assert!(matches!(
        net.sfu.accept_answer(net.now, &bob, "v=0\r\n"),
        Err(MediaError::BadSdp(_))
    ));
    assert!(net.sfu.is_connected(&bob));
    // Readable but not fitting the offer (an m-line missing): bob's connection is closed, and
    // the others are offered the removal of his tracks.
    let reply = net.peers[1].client.accept_offer(&offer).unwrap();
    let cut_at = reply.rfind("m=").unwrap();
    assert!(matches!(
        net.sfu.accept_answer(net.now, &bob, &reply[..cut_at]),
        Err(MediaError::AnswerRejected(..))
    ));
    assert!(!net.sfu.is_connected(&bob));
    assert_eq!(net.sfu.participant_count(), 2);
    // He starts over with a new peer connection and hears carol.
    net.hold_offers_to = None;
    net.peers[1].cut = true;
    net.join("call-1", "bob", true);
    net.run_for(Duration::from_secs(1));
    for round in 0..10 {
        net.send_frames(round);
        net.run_for(Duration::from_millis(30));
    }
    let counts = net.peers[3].client.counts();
    assert!(
        counts.contains_key("carol") && counts.contains_key("alice"),
        "{counts:?}"
    );
}

#[test]
fn a_receive_only_latecomer_gets_the_tracks_of_those_already_talking() {
    let mut net = Net::new(Duration::from_secs(10), Duration::from_secs(10));
    net.join("call-1", "alice", true);
    net.join("call-1", "bob", true);
    net.connect_all();
    net.send_frames(0);
    net.run_for(Duration::from_millis(100));
    // Dan sends nothing at all: his offer has a single receive-only line.
    let dan = net.join_with("call-1", "dan", true, false);
    net.run_for(Duration::from_secs(1));
    for round in 1..11 {
        for i in 0..2 {
            let name = net.peers[i].key.participant.clone();
            let now = net.now;
            net.peers[i]
                .client
                .send_audio(now, format!("a:{name}:{round}").as_bytes());
        }
        net.pump();
        net.run_for(Duration::from_millis(30));
    }
    let counts = net.peers[dan].client.counts();
    assert!(
        counts.get("alice").is_some_and(|c| c.0 >= 8)
            && counts.get("bob").is_some_and(|c| c.0 >= 8),
        "{counts:?}"
    );
}

#[test]
fn a_subscribers_own_keyframe_request_reaches_the_publisher_and_no_one_else() {
    let mut net = Net::new(Duration::from_secs(10), Duration::from_secs(10));
    net.join("call-1", "alice", true);
    net.join("call-1", "bob", true);
    net.join("call-1", "carol", true);
    net.connect_all();
    for round in 0..5 {
        net.send_frames(round);
        net.run_for(Duration::from_millis(30));
    }
    // Past the throttle window of the requests the subscriptions themselves caused.
    net.run_for(Duration::from_millis(1100));
    let before: Vec<u64> = net
        .peers
        .iter()
        .map(|p| p.client.keyframe_requests())
        .collect();
    assert!(
        net.peers[1].client.request_keyframe("alice"),
        "bob receives no video of alice"
    );
    net.pump();
    net.run_for(Duration::from_millis(100));
    let after: Vec<u64> = net
        .peers
        .iter()
        .map(|p| p.client.keyframe_requests())
        .collect();
    assert!(
        after[0] > before[0],
        "alice was not asked: {before:?} → {after:?}"
    );
    assert_eq!(after[2], before[2], "carol was asked for alice's keyframe");
}

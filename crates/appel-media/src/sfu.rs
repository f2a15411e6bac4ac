//! The forwarding core: participants grouped in sessions, datagrams routed to their peer
//! connection, media and keyframe requests carried between them.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::bwe::BweKind;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::crypto::CryptoProvider;
use str0m::format::Codec;
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, MediaTime, Mid, Rid};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, RtcConfig};

use crate::participant::{HashMap, OutState, Participant, Slot, TrackIn, TrackOut};
use crate::{MediaConfig, MediaError, MediaEvent, ParticipantKey, Transmit};

/// A layer that sent nothing for this long is taken as switched off by its publisher (a browser
/// drops its top layers when its own uplink is short) and no longer chosen.
const LAYER_STALE: Duration = Duration::from_millis(1500);

/// A new layered video is forwarded once it has flowed this long, so the subscriber starts on the
/// layer that fits rather than on whichever layer's first frame happened to arrive first.
const LAYER_SETTLE: Duration = Duration::from_millis(200);

/// Sent datagrams' buffers kept for reuse: enough for a frame's packets to a full room between
/// two turns of the shell, small enough (at most 128 × 2 KiB or so) not to matter as memory.
const SPARE_BUFFERS: usize = 128;

/// The share of its packets a subscriber may report lost before its videos step down a layer.
const LOSS_LIMIT: f32 = 0.1;

/// How long after a step down the core waits before it tries the layers above again; doubled
/// each time the path is found congested again, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// After a step down, receiver reports (about one a second) still describe the layer before it
/// and the queue it left behind for a while: none is acted on for this long.
const STEP_COOLDOWN: Duration = Duration::from_secs(3);

/// What the core knows of one layer when it chooses for a subscriber.
#[derive(Clone, Copy, Debug)]
struct LayerInfo {
    rid: Rid,
    size: Option<(u32, u32)>,
    rate: u64,
}

/// The layer of a simulcast video that fits a subscriber: the smallest whose picture covers the
/// size it renders (the largest when none does, or when the sizes are not known), then lower
/// while the layer's rate exceeds the ceiling its path's congestion set. `None` when no layer is
/// flowing.
fn choose_layer(
    layers: &[LayerInfo],
    view: Option<(u32, u32)>,
    ceiling: Option<u64>,
) -> Option<Rid> {
    let mut layers = layers.to_vec();
    if layers.is_empty() {
        return None;
    }
    let by_size = layers.iter().all(|l| l.size.is_some());
    if by_size {
        layers.sort_by_key(|l| {
            let (w, h) = l.size.unwrap_or_default();
            (u64::from(w) * u64::from(h), l.rate)
        });
    } else {
        layers.sort_by_key(|l| l.rate);
    }
    let mut index = layers.len() - 1;
    if let (Some((width, height)), true) = (view, by_size) {
        if let Some(fit) = layers
            .iter()
            .position(|l| l.size.is_some_and(|(w, h)| w >= width && h >= height))
        {
            index = fit;
        }
    }
    if let Some(ceiling) = ceiling {
        while index > 0 && layers[index].rate > ceiling {
            index -= 1;
        }
    }
    Some(layers[index].rid)
}

/// The picture size a VP8 keyframe announces (its frame tag, start code, then 14-bit width and
/// height); `None` for anything else.
fn vp8_keyframe_size(frame: &[u8]) -> Option<(u32, u32)> {
    if frame.len() < 10 || frame[0] & 1 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u32::from(u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff);
    let height = u32::from(u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff);
    (width > 0 && height > 0).then_some((width, height))
}

/// What one participant's output means for the others. Short-lived (built and consumed in one
/// `run`), so the media frame is not boxed.
#[allow(clippy::large_enum_variant)]
enum Propagate {
    /// It publishes a new track.
    TrackOpen { mid: Mid, kind: MediaKind },
    /// A media frame of one of its tracks.
    Media(MediaData),
    /// It asks for a keyframe of a track it receives from `origin`'s `mid_in` (of layer `rid`,
    /// or of every layer when `None`).
    Keyframe {
        origin: Slot,
        mid_in: Mid,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
    },
    /// New reports of how the participant's path carries what it is sent.
    Feedback,
}

/// The selective forwarding unit. See the crate's documentation.
pub struct Sfu {
    config: MediaConfig,
    crypto: Arc<CryptoProvider>,
    participants: HashMap<Slot, Participant>,
    by_key: HashMap<ParticipantKey, Slot>,
    /// Members of each session, in join order.
    sessions: HashMap<String, Vec<Slot>>,
    /// The participant a source address last reached, tried first for its next datagram.
    by_source: HashMap<SocketAddr, Slot>,
    next_slot: Slot,
    now: Instant,
    transmits: VecDeque<Transmit>,
    /// Buffers of datagrams already sent, handed back by the shell ([`Sfu::recycle`]) so the
    /// next datagrams are copied into them instead of into new allocations.
    spare: Vec<Vec<u8>>,
    events: VecDeque<MediaEvent>,
    /// Datagrams that no participant's peer connection accepted (stray or forged traffic).
    unmatched: u64,
}

impl Sfu {
    /// A core with no participant. `now` is the shell's clock at start; every later instant fed
    /// in must not be earlier (an earlier one is taken as `now` again).
    pub fn new(config: MediaConfig, now: Instant) -> Self {
        Sfu {
            config,
            // Chosen per peer connection rather than installed process-wide, so two cores (or a
            // core and a test client) in one process never depend on global state.
            crypto: Arc::new(str0m::crypto::from_feature_flags()),
            participants: HashMap::default(),
            by_key: HashMap::default(),
            sessions: HashMap::default(),
            by_source: HashMap::default(),
            next_slot: 0,
            now,
            transmits: VecDeque::new(),
            spare: Vec::new(),
            events: VecDeque::new(),
            unmatched: 0,
        }
    }

    /// The configuration the core runs with.
    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// How many participants have a peer connection.
    pub fn participant_count(&self) -> usize {
        self.participants.len()
    }

    /// Whether `key` has a peer connection whose ICE and DTLS completed.
    pub fn is_connected(&self, key: &ParticipantKey) -> bool {
        self.by_key
            .get(key)
            .and_then(|slot| self.participants.get(slot))
            .is_some_and(|p| p.connected)
    }

    /// Datagrams dropped because no participant's peer connection accepted them.
    pub fn unmatched_datagrams(&self) -> u64 {
        self.unmatched
    }

    fn advance(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }

    /// A participant joins `key.session` with its SDP offer and gets the SDP answer to send back.
    /// With `publish` false its own tracks are accepted but never forwarded (a role that may only
    /// watch); with `audio_muted` its audio is held back until [`Sfu::set_audio_muted`] says
    /// otherwise. The tracks others already publish come in a follow-up [`MediaEvent::Offer`].
    pub fn join(
        &mut self,
        now: Instant,
        key: ParticipantKey,
        offer: &str,
        publish: bool,
        audio_muted: bool,
    ) -> Result<String, MediaError> {
        let now = self.advance(now);
        if self.by_key.contains_key(&key) {
            return Err(MediaError::AlreadyJoined(key));
        }
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| MediaError::BadSdp(e.to_string()))?;
        let mut rtc = RtcConfig::new()
            .set_crypto_provider(self.crypto.clone())
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .enable_h264(true)
            // Receiver reports (the losses each subscriber sees, what each publisher's layers
            // bring) summed up once a second: the layer choice and the stall check read them.
            .set_stats_interval(Some(Duration::from_secs(1)))
            .build(now);
        let candidate = Candidate::host(self.config.public_address, "udp")
            .map_err(|e| MediaError::BadSdp(format!("local candidate: {e}")))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;

        let slot = self.next_slot;
        self.next_slot += 1;
        let limit = self.config.max_video_subscriptions;
        let members = self.sessions.entry(key.session.clone()).or_default();
        // Everything the others already publish is offered to the newcomer; videos beyond its
        // limit come paused.
        let mut tracks_out: Vec<TrackOut> = Vec::new();
        for other in members.iter() {
            let Some(publisher) = self.participants.get(other).filter(|p| p.publish) else {
                continue;
            };
            for track in &publisher.tracks_in {
                let mut out = TrackOut::new(
                    *other,
                    publisher.key.participant.clone(),
                    track.mid,
                    track.kind,
                );
                let active = tracks_out.iter().filter(|t| t.is_active_video()).count();
                out.paused = track.kind == MediaKind::Video && active >= limit;
                tracks_out.push(out);
            }
        }
        members.push(slot);
        self.by_key.insert(key.clone(), slot);
        self.participants.insert(
            slot,
            Participant {
                key,
                rtc,
                publish,
                joined_at: now,
                connected: false,
                last_heard: now,
                tracks_in: Vec::new(),
                tracks_out,
                pending: None,
                rtc_timeout: now,
                flowing: false,
                audio_muted,
                views: HashMap::default(),
                estimate: None,
                loss: None,
                congestion: Default::default(),
            },
        );
        self.run(vec![slot]);
        // A newcomer that publishes nothing touches no session, yet must get the others' tracks.
        self.negotiate(slot);
        Ok(answer.to_sdp_string())
    }

    /// The participant's SDP answer to the core's last [`MediaEvent::Offer`] to it. Unreadable
    /// text changes nothing (the offer still waits); an answer that does not fit the offer closes
    /// the participant's peer connection ([`MediaError::AnswerRejected`]).
    pub fn accept_answer(
        &mut self,
        now: Instant,
        key: &ParticipantKey,
        answer: &str,
    ) -> Result<(), MediaError> {
        self.advance(now);
        let slot = *self
            .by_key
            .get(key)
            .ok_or_else(|| MediaError::UnknownParticipant(key.clone()))?;
        let Some(p) = self.participants.get_mut(&slot) else {
            return Err(MediaError::UnknownParticipant(key.clone()));
        };
        if p.pending.is_none() {
            return Err(MediaError::NoPendingOffer(key.clone()));
        }
        let answer =
            SdpAnswer::from_sdp_string(answer).map_err(|e| MediaError::BadSdp(e.to_string()))?;
        let pending = p.pending.take().expect("checked above");
        let accepted = p.rtc.sdp_api().accept_answer(pending, answer);
        let mut keyframes = Vec::new();
        match accepted {
            Ok(()) => {
                for track in &mut p.tracks_out {
                    if let OutState::Negotiating(mid) = track.state {
                        track.state = OutState::Open(mid);
                        if track.kind == MediaKind::Video && !track.paused {
                            // The new subscriber can only decode from a keyframe.
                            keyframes.push((track.origin, track.mid_in));
                        }
                    }
                }
                p.tracks_out
                    .retain(|t| !matches!(t.state, OutState::NegotiatingStop(_)));
            }
            Err(e) => {
                // The client applied the offer and answered something that does not fit it: the
                // two sides no longer agree on the m-lines, and no later offer could fix that.
                // The peer connection is closed so the participant can start over.
                self.remove(slot, None);
                return Err(MediaError::AnswerRejected(key.clone(), e.to_string()));
            }
        }
        let mut dirty = vec![slot];
        for (origin, mid_in) in keyframes {
            if self.request_keyframe(origin, mid_in, None, KeyframeRequestKind::Pli) {
                dirty.push(origin);
            }
        }
        self.run(dirty);
        // What changed while this offer was out goes in the next one.
        self.negotiate(slot);
        Ok(())
    }

    /// The participant leaves (hung up, removed): its peer connection is closed without an event,
    /// and its tracks are withdrawn from the others. `false` when it had none.
    pub fn leave(&mut self, now: Instant, key: &ParticipantKey) -> bool {
        self.advance(now);
        let Some(slot) = self.by_key.get(key).copied() else {
            return false;
        };
        self.remove(slot, None);
        true
    }

    /// Stops (or resumes) forwarding the participant's audio: it turned its microphone off, or the
    /// application muted it. What it sends meanwhile is dropped here, so a client that keeps
    /// sending is not heard. `false` when it has no peer connection.
    pub fn set_audio_muted(&mut self, now: Instant, key: &ParticipantKey, muted: bool) -> bool {
        self.advance(now);
        let Some(p) = self
            .by_key
            .get(key)
            .and_then(|slot| self.participants.get_mut(slot))
        else {
            return false;
        };
        p.audio_muted = muted;
        true
    }

    /// `key` renders the video `publisher` publishes at `width`×`height` pixels: it gets the one
    /// simulcast layer that fits that size (and its path), switching at a keyframe. A zero width
    /// or height pauses that video, which frees a place under
    /// [`MediaConfig::max_video_subscriptions`]; any other size resumes it. Refused when `key`
    /// receives no video of `publisher` ([`MediaError::NoVideo`]) or resuming would exceed the
    /// limit ([`MediaError::TooManyVideos`]); nothing changes then.
    pub fn set_view(
        &mut self,
        now: Instant,
        key: &ParticipantKey,
        publisher: &str,
        width: u32,
        height: u32,
    ) -> Result<(), MediaError> {
        self.advance(now);
        let limit = self.config.max_video_subscriptions;
        let Some(p) = self
            .by_key
            .get(key)
            .and_then(|slot| self.participants.get_mut(slot))
        else {
            return Err(MediaError::UnknownParticipant(key.clone()));
        };
        let named =
            |t: &TrackOut| t.origin_id == publisher && t.kind == MediaKind::Video && !t.origin_gone;
        let wanted = p.tracks_out.iter().filter(|t| named(t)).count();
        if wanted == 0 {
            return Err(MediaError::NoVideo {
                subscriber: key.clone(),
                publisher: publisher.to_string(),
            });
        }
        let pause = width == 0 || height == 0;
        if !pause {
            let others = p
                .tracks_out
                .iter()
                .filter(|t| t.is_active_video() && !named(t))
                .count();
            if others + wanted > limit {
                return Err(MediaError::TooManyVideos {
                    subscriber: key.clone(),
                    limit,
                });
            }
        }
        for track in p.tracks_out.iter_mut().filter(|t| named(t)) {
            if track.paused != pause {
                // Paused, it must start again from a keyframe; resumed, it waits for one.
                track.started = false;
            }
            track.paused = pause;
        }
        p.views.insert(publisher.to_string(), (width, height));
        Ok(())
    }

    /// The layer `key` receives of `publisher`'s video now: `Some(None)` for an unlayered video,
    /// `None` when nothing of it is forwarded (paused, or no keyframe yet).
    pub fn forwarded_layer(&self, key: &ParticipantKey, publisher: &str) -> Option<Option<String>> {
        let p = self
            .by_key
            .get(key)
            .and_then(|s| self.participants.get(s))?;
        p.tracks_out
            .iter()
            .find(|t| {
                t.origin_id == publisher
                    && t.kind == MediaKind::Video
                    && !t.origin_gone
                    && !t.paused
                    && t.started
            })
            .map(|t| t.current.map(|rid| rid.to_string()))
    }

    /// What `key`'s receiver last estimated its path carries (REMB), bits a second (`None`
    /// before its first estimate, and for a receiver that sends none).
    pub fn bandwidth_estimate(&self, key: &ParticipantKey) -> Option<u64> {
        self.by_key
            .get(key)
            .and_then(|slot| self.participants.get(slot))
            .and_then(|p| p.estimate)
    }

    /// A UDP datagram arrived on the core's socket.
    pub fn receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
    ) {
        let now = self.advance(now);
        let Ok(contents) = DatagramRecv::try_from(bytes) else {
            self.unmatched += 1;
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        let cached = self.by_source.get(&source).copied().filter(|slot| {
            self.participants
                .get(slot)
                .is_some_and(|p| p.rtc.accepts(&input))
        });
        // Only an ICE check can come from an address no participant used yet (RFC 7983: STUN
        // starts with 0–3); anything else from a stranger is dropped without asking every peer
        // connection, so junk costs the same however many participants there are.
        let is_stun = bytes.first().is_some_and(|b| *b < 4);
        let slot = cached.or_else(|| {
            if !is_stun {
                return None;
            }
            self.participants
                .iter()
                .find(|(_, p)| p.rtc.accepts(&input))
                .map(|(slot, _)| *slot)
        });
        let Some(slot) = slot else {
            self.unmatched += 1;
            return;
        };
        self.by_source.insert(source, slot);
        let p = self.participants.get_mut(&slot).expect("found above");
        p.last_heard = now;
        if let Err(e) = p.rtc.handle_input(input) {
            tracing::debug!(participant = %p.key, error = %e, "datagram refused; peer connection closed");
            p.rtc.disconnect();
        }
        self.run(vec![slot]);
    }

    /// The time reached `now`: timers of the peer connections, and the setup and loss limits.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        let (setup, loss) = (self.config.setup_timeout, self.config.loss_timeout);
        let mut failed = Vec::new();
        let mut due = Vec::new();
        for (slot, p) in &self.participants {
            if !p.connected && now >= p.joined_at + setup {
                failed.push((*slot, MediaEvent::SetupFailed(p.key.clone())));
            } else if p.connected && now >= p.last_heard + loss {
                failed.push((*slot, MediaEvent::Lost(p.key.clone())));
            } else if now >= p.rtc_timeout {
                due.push(*slot);
            }
        }
        failed.sort_by_key(|(slot, _)| *slot);
        for (slot, event) in failed {
            self.remove(slot, Some(event));
        }
        for slot in &due {
            if let Some(p) = self.participants.get_mut(slot) {
                if let Err(e) = p.rtc.handle_input(Input::Timeout(now)) {
                    tracing::debug!(participant = %p.key, error = %e, "peer connection failed");
                    p.rtc.disconnect();
                }
            }
        }
        self.run(due);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Gives back the buffer of a [`Transmit`] once it was sent, to carry a later datagram. Up to
    /// `SPARE_BUFFERS` are kept; optional (a buffer not given back is simply freed).
    pub fn recycle(&mut self, mut contents: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS {
            contents.clear();
            self.spare.push(contents);
        }
    }

    /// The next event for the shell.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When [`Sfu::handle_timeout`] must be called next; `None` with no participant.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (setup, loss) = (self.config.setup_timeout, self.config.loss_timeout);
        self.participants
            .values()
            .map(|p| p.deadline(setup, loss))
            .min()
    }

    /// Polls every participant in `dirty` until it has nothing more to say, carrying what it
    /// produced to the others (whose own output is polled in turn), then sends the offers the
    /// changes call for.
    fn run(&mut self, mut dirty: Vec<Slot>) {
        let mut touched_sessions: Vec<String> = Vec::new();
        while let Some(slot) = dirty.pop() {
            let propagations = self.poll_participant(slot);
            // Most turns (a subscriber that only had packets to send) carry nothing to the
            // others: no session name is copied for them.
            if propagations.is_empty() {
                continue;
            }
            let Some(session) = self.participants.get(&slot).map(|p| p.key.session.clone()) else {
                continue;
            };
            for propagation in propagations {
                match propagation {
                    Propagate::TrackOpen { mid, kind } => {
                        self.open_track(slot, &session, mid, kind);
                        if !touched_sessions.contains(&session) {
                            touched_sessions.push(session.clone());
                        }
                    }
                    Propagate::Media(data) => self.forward(slot, &session, &data, &mut dirty),
                    Propagate::Keyframe {
                        origin,
                        mid_in,
                        rid,
                        kind,
                    } => {
                        if self.request_keyframe(origin, mid_in, rid, kind)
                            && !dirty.contains(&origin)
                        {
                            dirty.push(origin);
                        }
                    }
                    Propagate::Feedback => self.adapt(slot),
                }
            }
        }
        for session in touched_sessions {
            self.negotiate_session(&session);
        }
    }

    /// Drains one participant's peer connection. A connection that died is removed here.
    fn poll_participant(&mut self, slot: Slot) -> Vec<Propagate> {
        let now = self.now;
        let mut out = Vec::new();
        let Some(p) = self.participants.get_mut(&slot) else {
            return out;
        };
        let mut dead = false;
        loop {
            if !p.rtc.is_alive() {
                dead = true;
                break;
            }
            match p.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    p.rtc_timeout = at;
                    break;
                }
                Ok(Output::Transmit(t)) => {
                    let mut contents = self.spare.pop().unwrap_or_default();
                    contents.extend_from_slice(&t.contents);
                    self.transmits.push_back(Transmit {
                        source: t.source,
                        destination: t.destination,
                        contents,
                    });
                }
                Ok(Output::Event(event)) => match event {
                    Event::Connected => {
                        p.connected = true;
                        p.last_heard = now;
                        self.events.push_back(MediaEvent::Connected(p.key.clone()));
                    }
                    Event::MediaAdded(added) => {
                        // Only what the participant sends is a track of its own; the m-lines the
                        // core added to send others' tracks come back as send-only from here.
                        let receives =
                            matches!(added.direction, Direction::RecvOnly | Direction::SendRecv);
                        if receives && !p.tracks_in.iter().any(|t| t.mid == added.mid) {
                            p.tracks_in.push(TrackIn {
                                mid: added.mid,
                                kind: added.kind,
                                layers: Vec::new(),
                                first_frame: None,
                            });
                            if p.publish {
                                out.push(Propagate::TrackOpen {
                                    mid: added.mid,
                                    kind: added.kind,
                                });
                            }
                        }
                    }
                    Event::MediaData(data) => {
                        if !p.publish {
                            continue;
                        }
                        if !p.flowing {
                            p.flowing = true;
                            self.events
                                .push_back(MediaEvent::MediaFlowing(p.key.clone()));
                        }
                        if let Some(track) = p
                            .tracks_in
                            .iter_mut()
                            .find(|t| t.mid == data.mid && t.kind == MediaKind::Video)
                        {
                            track.first_frame.get_or_insert(now);
                            let layer = track.layer_mut(data.rid, now);
                            layer.last_seen = Some(now);
                            if data.is_keyframe() && data.params.spec().codec == Codec::Vp8 {
                                if let Some(size) = vp8_keyframe_size(&data.data) {
                                    layer.size = Some(size);
                                }
                            }
                            layer.count(now, data.data.len());
                        }
                        if !data.contiguous {
                            // A gap that retransmission requests (sent by the peer connection
                            // on its own) could not fill in time: subscribers of this layer will
                            // need a fresh keyframe.
                            out.push(Propagate::Keyframe {
                                origin: slot,
                                mid_in: data.mid,
                                rid: data.rid,
                                kind: KeyframeRequestKind::Fir,
                            });
                        }
                        out.push(Propagate::Media(data));
                    }
                    Event::KeyframeRequest(request) => {
                        if let Some(track) = p
                            .tracks_out
                            .iter()
                            .find(|t| t.mid() == Some(request.mid) && !t.origin_gone)
                        {
                            // The subscriber knows one stream; the keyframe it needs is of the
                            // layer it is being sent (or about to be).
                            let rid = if track.started {
                                track.current
                            } else {
                                track.target
                            };
                            out.push(Propagate::Keyframe {
                                origin: track.origin,
                                mid_in: track.mid_in,
                                rid,
                                kind: request.kind,
                            });
                        }
                    }
                    Event::EgressBitrateEstimate(
                        BweKind::Twcc { estimate, .. } | BweKind::Remb { estimate, .. },
                    ) => {
                        p.estimate = Some(estimate.as_u64());
                        out.push(Propagate::Feedback);
                    }
                    Event::MediaIngressStats(stats) if p.publish => {
                        // Packets of a layer keep coming, yet no frame of it came out since
                        // the previous count (a second ago): a loss retransmission could not repair left the decoder (here
                        // and at every subscriber) waiting for a keyframe the publisher will not
                        // send unless asked.
                        if let Some(track) = p
                            .tracks_in
                            .iter_mut()
                            .find(|t| t.mid == stats.mid && t.kind == MediaKind::Video)
                        {
                            let layer = track.layer_mut(stats.rid, now);
                            let grew = stats.packets > layer.ingress_packets;
                            // Not one frame since the previous count, a full interval ago.
                            let stalled = layer
                                .ingress_at
                                .is_some_and(|before| layer.last_seen.is_none_or(|at| at < before));
                            layer.ingress_packets = stats.packets;
                            layer.ingress_at = Some(now);
                            if grew && stalled {
                                out.push(Propagate::Keyframe {
                                    origin: slot,
                                    mid_in: stats.mid,
                                    rid: stats.rid,
                                    kind: KeyframeRequestKind::Pli,
                                });
                            }
                        }
                    }
                    Event::MediaEgressStats(stats) => {
                        let video = p
                            .tracks_out
                            .iter()
                            .any(|t| t.kind == MediaKind::Video && t.open_mid() == Some(stats.mid));
                        if let (true, Some(loss)) = (video, stats.loss) {
                            p.loss = Some(p.loss.map_or(loss, |seen| seen.max(loss)));
                            out.push(Propagate::Feedback);
                        }
                    }
                    _ => {}
                },
                Err(e) => {
                    tracing::debug!(participant = %p.key, error = %e, "peer connection failed");
                    p.rtc.disconnect();
                    dead = true;
                    break;
                }
            }
        }
        if dead {
            let event = if p.connected {
                MediaEvent::Lost(p.key.clone())
            } else {
                MediaEvent::SetupFailed(p.key.clone())
            };
            self.remove(slot, Some(event));
            return Vec::new();
        }
        out
    }

    /// `origin` published `mid`: every other member of the session is to receive it.
    fn open_track(&mut self, origin: Slot, session: &str, mid: Mid, kind: MediaKind) {
        let Some(origin_id) = self
            .participants
            .get(&origin)
            .map(|p| p.key.participant.clone())
        else {
            return;
        };
        let limit = self.config.max_video_subscriptions;
        for member in self.sessions.get(session).into_iter().flatten() {
            if *member == origin {
                continue;
            }
            if let Some(p) = self.participants.get_mut(member) {
                let mut out = TrackOut::new(origin, origin_id.clone(), mid, kind);
                // Beyond its limit a subscriber gets the video paused, until it views it.
                let active = p.tracks_out.iter().filter(|t| t.is_active_video()).count();
                out.paused = kind == MediaKind::Video && active >= limit;
                p.tracks_out.push(out);
            }
        }
    }

    /// Writes one media frame of `origin` to every subscriber whose m-line for it is agreed and
    /// that is to get it: audio unless muted; video unless paused, of the one layer chosen for
    /// the subscriber, starting (and switching layer) at a keyframe.
    fn forward(&mut self, origin: Slot, session: &str, data: &MediaData, dirty: &mut Vec<Slot>) {
        let now = self.now;
        let Some(publisher) = self.participants.get(&origin) else {
            return;
        };
        let Some(track_in) = publisher.tracks_in.iter().find(|t| t.mid == data.mid) else {
            return;
        };
        if publisher.audio_muted && track_in.kind == MediaKind::Audio {
            return;
        }
        let video = track_in.kind == MediaKind::Video;
        let layered = track_in.is_layered();
        if layered
            && track_in
                .first_frame
                .is_none_or(|at| now.saturating_duration_since(at) < LAYER_SETTLE)
        {
            return;
        }
        // What a layer choice reads, gathered once per frame (nothing for unlayered media).
        let origin_id = if layered {
            publisher.key.participant.clone()
        } else {
            String::new()
        };
        let layers: Vec<LayerInfo> = track_in
            .layers
            .iter()
            .filter(|_| layered)
            .filter(|l| {
                l.last_seen
                    .is_some_and(|at| now.saturating_duration_since(at) < LAYER_STALE)
            })
            .filter_map(|l| {
                Some(LayerInfo {
                    rid: l.rid?,
                    size: l.size,
                    rate: l.rate,
                })
            })
            .collect();
        let keyframe = data.is_keyframe();
        let mut keyframes: Vec<Option<Rid>> = Vec::new();
        let Some(members) = self.sessions.get(session) else {
            return;
        };
        for member in members {
            if *member == origin {
                continue;
            }
            let Some(p) = self.participants.get_mut(member) else {
                continue;
            };
            let view = if layered {
                p.views.get(&origin_id).copied()
            } else {
                None
            };
            let Some(track) = p
                .tracks_out
                .iter_mut()
                .find(|t| t.origin == origin && t.mid_in == data.mid && !t.origin_gone)
            else {
                continue;
            };
            let Some(mid) = track.open_mid() else {
                continue;
            };
            if video {
                if track.paused {
                    continue;
                }
                if layered {
                    track.target = choose_layer(&layers, view, track.ceiling);
                }
                let wanted = track.target;
                let switching = !track.started || track.current != wanted;
                if switching {
                    if data.rid != wanted || !keyframe {
                        // Stay on the current layer (if any) until the wanted one's keyframe.
                        if !keyframes.contains(&wanted) {
                            keyframes.push(wanted);
                        }
                        if !(track.started && data.rid == track.current) {
                            continue;
                        }
                    } else {
                        // The subscriber's timeline runs on from the last frame it got, by the
                        // time that passed since.
                        if let Some((last, at)) = track.last_written {
                            let hz = u64::from(data.time.denom());
                            let gap = data.network_time.saturating_duration_since(at);
                            let ticks = (gap.as_micros() as u64 * hz / 1_000_000).max(1);
                            track.time_offset = (last + ticks) as i64 - data.time.numer() as i64;
                        }
                        track.current = wanted;
                        track.started = true;
                    }
                } else if data.rid != track.current {
                    continue;
                }
            }
            let time = if video {
                let numer = (data.time.numer() as i64 + track.time_offset).max(0) as u64;
                track.last_written = Some((numer, data.network_time));
                MediaTime::new(numer, data.time.frequency())
            } else {
                data.time
            };
            let Some(writer) = p.rtc.writer(mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                // The subscriber did not accept this codec; nothing it could decode.
                continue;
            };
            if let Err(e) = writer.write(pt, data.network_time, time, data.data.clone()) {
                tracing::debug!(participant = %p.key, error = %e, "forwarding failed");
                continue;
            }
            if !dirty.contains(member) {
                dirty.push(*member);
            }
        }
        for rid in keyframes {
            if self.request_keyframe(origin, data.mid, rid, KeyframeRequestKind::Pli)
                && !dirty.contains(&origin)
            {
                dirty.push(origin);
            }
        }
    }

    /// Reads what `slot`'s path reported. When it loses more than `LOSS_LIMIT` of what it is
    /// sent, or the bandwidth its receiver estimates (REMB) fell under a third of what it is sent,
    /// each of its layered
    /// videos gets a ceiling just under the layer it receives (so the next keyframe moves it one
    /// layer down); once the backoff passed without congestion the ceilings go, and the layers
    /// that fit its views are tried again.
    fn adapt(&mut self, slot: Slot) {
        let now = self.now;
        let Some(p) = self.participants.get(&slot) else {
            return;
        };
        // The rate of the layer each of its videos is sent now.
        let rates: Vec<(usize, u64)> = p
            .tracks_out
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_active_video() && t.started)
            .filter_map(|(i, t)| {
                let origin = self.participants.get(&t.origin)?;
                let track = origin.tracks_in.iter().find(|x| x.mid == t.mid_in)?;
                let layer = track.layers.iter().find(|l| l.rid == t.current)?;
                Some((i, layer.rate))
            })
            .collect();
        let Some(p) = self.participants.get_mut(&slot) else {
            return;
        };
        let sending: u64 = rates.iter().map(|(_, rate)| rate).sum();
        let lossy = p.loss.take().is_some_and(|loss| loss > LOSS_LIMIT);
        let short = p.estimate.is_some_and(|e| sending > 0 && e < sending / 3);
        let cooling = p
            .congestion
            .last_step
            .is_some_and(|at| now.saturating_duration_since(at) < STEP_COOLDOWN);
        if (lossy || short) && !cooling {
            let mut stepped = false;
            for (index, rate) in rates {
                let track = &mut p.tracks_out[index];
                if track.current.is_some() && rate > 0 {
                    track.ceiling = Some(rate - 1);
                    stepped = true;
                }
            }
            if stepped {
                let backoff = p
                    .congestion
                    .backoff
                    .map_or(FIRST_BACKOFF, |b| (b * 2).min(MAX_BACKOFF));
                p.congestion.backoff = Some(backoff);
                p.congestion.retry_at = Some(now + backoff);
                p.congestion.last_step = Some(now);
                tracing::debug!(participant = %p.key, lossy, short, ?backoff, "path congested: videos step down a layer");
            }
        } else if !lossy && !short && p.congestion.retry_at.is_some_and(|at| now >= at) {
            p.congestion.retry_at = None;
            p.congestion.last_step = Some(now);
            for track in &mut p.tracks_out {
                track.ceiling = None;
            }
        }
    }

    /// Asks `origin` for a keyframe on its track `mid_in` (of layer `rid`, or of every layer
    /// seen when `None`), at most once per configured interval and layer. `true` when a request
    /// was written (the publisher then has output to poll).
    fn request_keyframe(
        &mut self,
        origin: Slot,
        mid_in: Mid,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
    ) -> bool {
        let now = self.now;
        let interval = self.config.keyframe_request_interval;
        let Some(p) = self.participants.get_mut(&origin) else {
            return false;
        };
        let Some(track) = p.tracks_in.iter_mut().find(|t| t.mid == mid_in) else {
            return false;
        };
        if track.kind != MediaKind::Video {
            return false;
        }
        let rids: Vec<Option<Rid>> = match rid {
            Some(rid) => vec![Some(rid)],
            None if track.is_layered() => track
                .layers
                .iter()
                .filter(|l| l.rid.is_some())
                .map(|l| l.rid)
                .collect(),
            None => vec![None],
        };
        let mut asked = false;
        for rid in rids {
            let layer = track.layer_mut(rid, now);
            if layer
                .last_keyframe_request
                .is_some_and(|at| now.saturating_duration_since(at) < interval)
            {
                continue;
            }
            let Some(mut writer) = p.rtc.writer(mid_in) else {
                return asked;
            };
            if !writer.is_request_keyframe_possible(kind) {
                return asked;
            }
            if writer.request_keyframe(rid, kind).is_ok() {
                layer.last_keyframe_request = Some(now);
                asked = true;
            }
        }
        asked
    }

    /// Sends an offer to every member of `session` whose received tracks changed and that has
    /// no offer waiting already.
    fn negotiate_session(&mut self, session: &str) {
        let members = self.sessions.get(session).cloned().unwrap_or_default();
        for member in members {
            self.negotiate(member);
        }
    }

    fn negotiate(&mut self, slot: Slot) {
        let Some(p) = self.participants.get_mut(&slot) else {
            return;
        };
        if p.pending.is_some() {
            // One offer at a time; what changed meanwhile goes in the next one.
            return;
        }
        for track in &mut p.tracks_out {
            if let (true, OutState::Open(mid)) = (track.origin_gone, track.state) {
                track.state = OutState::ToStop(mid);
            }
        }
        p.tracks_out
            .retain(|t| !(t.origin_gone && t.state == OutState::ToOpen));
        let mut change = p.rtc.sdp_api();
        for track in &mut p.tracks_out {
            match track.state {
                OutState::ToOpen => {
                    let mid = change.add_media(
                        track.kind,
                        Direction::SendOnly,
                        Some(track.origin_id.clone()),
                        Some(format!("{}-{}", track.origin_id, track.mid_in)),
                        None,
                    );
                    track.state = OutState::Negotiating(mid);
                }
                OutState::ToStop(mid) => {
                    change.stop_media(mid);
                    track.state = OutState::NegotiatingStop(mid);
                }
                _ => {}
            }
        }
        if !change.has_changes() {
            return;
        }
        if let Some((offer, pending)) = change.apply() {
            p.pending = Some(pending);
            self.events.push_back(MediaEvent::Offer {
                participant: p.key.clone(),
                sdp: offer.to_sdp_string(),
            });
        }
    }

    /// Forgets a participant and withdraws its tracks from the others; `event` is reported when
    /// the core decided it (a timeout, a failed connection) rather than the shell.
    fn remove(&mut self, slot: Slot, event: Option<MediaEvent>) {
        let Some(mut p) = self.participants.remove(&slot) else {
            return;
        };
        p.rtc.disconnect();
        self.by_key.remove(&p.key);
        self.by_source.retain(|_, s| *s != slot);
        if let Some(members) = self.sessions.get_mut(&p.key.session) {
            members.retain(|s| *s != slot);
            if members.is_empty() {
                self.sessions.remove(&p.key.session);
            }
        }
        if let Some(event) = event {
            self.events.push_back(event);
        }
        let members = self
            .sessions
            .get(&p.key.session)
            .cloned()
            .unwrap_or_default();
        for member in &members {
            if let Some(other) = self.participants.get_mut(member) {
                for track in &mut other.tracks_out {
                    if track.origin == slot {
                        track.origin_gone = true;
                    }
                }
            }
        }
        for member in members {
            self.negotiate(member);
        }
    }
}

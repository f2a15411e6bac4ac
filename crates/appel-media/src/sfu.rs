//! The forwarding core: participants grouped in sessions, datagrams routed to their peer
//! connection, media and keyframe requests carried between them.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::crypto::CryptoProvider;
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, RtcConfig};

use crate::participant::{OutState, Participant, Slot, TrackIn, TrackOut};
use crate::{MediaConfig, MediaError, MediaEvent, ParticipantKey, Transmit};

/// What one participant's output means for the others. Short-lived (built and consumed in one
/// `run`), so the media frame is not boxed.
#[allow(clippy::large_enum_variant)]
enum Propagate {
    /// It publishes a new track.
    TrackOpen { mid: Mid, kind: MediaKind },
    /// A media frame of one of its tracks.
    Media(MediaData),
    /// It asks for a keyframe of a track it receives from `origin`'s `mid_in`.
    Keyframe {
        origin: Slot,
        mid_in: Mid,
        kind: KeyframeRequestKind,
    },
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
            participants: HashMap::new(),
            by_key: HashMap::new(),
            sessions: HashMap::new(),
            by_source: HashMap::new(),
            next_slot: 0,
            now,
            transmits: VecDeque::new(),
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
        let members = self.sessions.entry(key.session.clone()).or_default();
        // Everything the others already publish is offered to the newcomer.
        let mut tracks_out = Vec::new();
        for other in members.iter() {
            let Some(publisher) = self.participants.get(other).filter(|p| p.publish) else {
                continue;
            };
            for track in &publisher.tracks_in {
                tracks_out.push(TrackOut {
                    origin: *other,
                    origin_id: publisher.key.participant.clone(),
                    mid_in: track.mid,
                    kind: track.kind,
                    state: OutState::ToOpen,
                    origin_gone: false,
                });
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
                        if track.kind == MediaKind::Video {
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
            if self.request_keyframe(origin, mid_in, KeyframeRequestKind::Pli) {
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
                        kind,
                    } => {
                        if self.request_keyframe(origin, mid_in, kind) && !dirty.contains(&origin) {
                            dirty.push(origin);
                        }
                    }
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
                Ok(Output::Transmit(t)) => self.transmits.push_back(Transmit {
                    source: t.source,
                    destination: t.destination,
                    contents: t.contents.to_vec(),
                }),
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
                                last_keyframe_request: None,
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
                        if !data.contiguous {
                            // A gap the jitter buffer could not fill: subscribers will need a
                            // fresh keyframe.
                            out.push(Propagate::Keyframe {
                                origin: slot,
                                mid_in: data.mid,
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
                            out.push(Propagate::Keyframe {
                                origin: track.origin,
                                mid_in: track.mid_in,
                                kind: request.kind,
                            });
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
        for member in self.sessions.get(session).into_iter().flatten() {
            if *member == origin {
                continue;
            }
            if let Some(p) = self.participants.get_mut(member) {
                p.tracks_out.push(TrackOut {
                    origin,
                    origin_id: origin_id.clone(),
                    mid_in: mid,
                    kind,
                    state: OutState::ToOpen,
                    origin_gone: false,
                });
            }
        }
    }

    /// Writes one media frame of `origin` to every subscriber whose m-line for it is agreed.
    fn forward(&mut self, origin: Slot, session: &str, data: &MediaData, dirty: &mut Vec<Slot>) {
        // Simulcast layers are not chosen per subscriber yet: a layered stream is forwarded by
        // its top layer only ("h", as browsers name it), unlayered streams as they are.
        if data.rid.is_some_and(|rid| &*rid != "h") {
            return;
        }
        let muted = self.participants.get(&origin).is_some_and(|p| {
            p.audio_muted
                && p.tracks_in
                    .iter()
                    .any(|t| t.mid == data.mid && t.kind == MediaKind::Audio)
        });
        if muted {
            return;
        }
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
            let Some(mid) = p
                .tracks_out
                .iter()
                .find(|t| t.origin == origin && t.mid_in == data.mid && !t.origin_gone)
                .and_then(TrackOut::open_mid)
            else {
                continue;
            };
            let Some(writer) = p.rtc.writer(mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                // The subscriber did not accept this codec; nothing it could decode.
                continue;
            };
            if let Err(e) = writer.write(pt, data.network_time, data.time, data.data.clone()) {
                tracing::debug!(participant = %p.key, error = %e, "forwarding failed");
                continue;
            }
            if !dirty.contains(member) {
                dirty.push(*member);
            }
        }
    }

    /// Asks `origin` for a keyframe on its track `mid_in`, at most once per configured
    /// interval. `true` when a request was written (the publisher then has output to poll).
    fn request_keyframe(&mut self, origin: Slot, mid_in: Mid, kind: KeyframeRequestKind) -> bool {
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
        if track
            .last_keyframe_request
            .is_some_and(|at| now.saturating_duration_since(at) < interval)
        {
            return false;
        }
        let Some(mut writer) = p.rtc.writer(mid_in) else {
            return false;
        };
        if !writer.is_request_keyframe_possible(kind) {
            return false;
        }
        match writer.request_keyframe(None, kind) {
            Ok(()) => {
                track.last_keyframe_request = Some(now);
                true
            }
            Err(_) => false,
        }
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

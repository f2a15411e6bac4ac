//! The WebRTC peer connection of a 1:1 call: offer/answer and ICE candidates over the server's
//! `signal` relay, and the media outcomes read from the real ICE state.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use appel_codes::CallingError;
use appel_protocol::{ClientFrame, ParticipantId};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStreamTrack, RtcConfiguration, RtcIceCandidateInit, RtcIceConnectionState,
    RtcIceGatheringState, RtcIceTransportPolicy, RtcPeerConnection, RtcPeerConnectionIceEvent,
    RtcRtpSender, RtcRtpTransceiver, RtcRtpTransceiverDirection, RtcRtpTransceiverInit, RtcSdpType,
    RtcSessionDescriptionInit, RtcTrackEvent,
};

use super::agent::AgentOptions;
use super::call::CallInner;
use super::js;
use crate::media_outcome::{media_end_error, MediaEvent};

/// One peer connection towards the other participant.
pub(crate) struct Peer {
    call: Weak<CallInner>,
    pc: RtcPeerConnection,
    remote: String,
    allowed: Vec<String>,
    video_sender: RefCell<Option<RtcRtpSender>>,
    remote_set: Cell<bool>,
    queued: RefCell<Vec<Value>>,
    usable_candidates: Cell<u32>,
    connected_once: Cell<bool>,
    closed: Cell<bool>,
    /// How long ICE may stay `disconnected` before the call counts as lost (3101).
    recovery_window_ms: i32,
}

fn media_error(call: &Weak<CallInner>, event: MediaEvent<'_>, had_connected: bool) {
    if let Some(call) = call.upgrade() {
        call.end_with_error(&media_end_error(event, had_connected));
    }
}

fn candidate_address(candidate: &str) -> Option<&str> {
    // candidate:<foundation> <component> <transport> <priority> <address> <port> typ …
    candidate.split_whitespace().nth(4)
}

impl Peer {
    pub(crate) fn open(
        call: &Rc<CallInner>,
        options: &AgentOptions,
        remote: String,
        offerer: bool,
    ) -> Result<Rc<Peer>, CallingError> {
        let config = RtcConfiguration::new();
        // The relay fetched before the call's media (wasm/network.rs); none when not asked for.
        config.set_ice_servers(&super::network::ice_servers(call.relay.borrow().as_ref()));
        if options.relay_only {
            config.set_ice_transport_policy(RtcIceTransportPolicy::Relay);
        }
        let pc = RtcPeerConnection::new_with_configuration(&config).map_err(|e| {
            media_end_error(
                MediaEvent::DescriptionRejected(&format!("{:?}", js::from_js(&e))),
                false,
            )
        })?;
        let peer = Rc::new(Peer {
            call: Rc::downgrade(call),
            pc,
            remote,
            allowed: options.allowed_addresses.clone(),
            video_sender: RefCell::new(None),
            remote_set: Cell::new(false),
            queued: RefCell::new(Vec::new()),
            usable_candidates: Cell::new(0),
            connected_once: Cell::new(false),
            closed: Cell::new(false),
            recovery_window_ms: options.network.recovery_window_ms,
        });
        peer.wire(call);
        if offerer {
            if let Ok(stream) = web_sys::MediaStream::new() {
                if let Some(track) = call.local_audio.borrow().as_ref() {
                    peer.pc.add_track_0(track, &stream);
                }
            }
            let init = RtcRtpTransceiverInit::new();
            init.set_direction(RtcRtpTransceiverDirection::Sendrecv);
            let transceiver = peer.pc.add_transceiver_with_str_and_init("video", &init);
            *peer.video_sender.borrow_mut() = Some(transceiver.sender());
            peer.send_video(call.outgoing_video());
            let offering = peer.clone();
            wasm_bindgen_futures::spawn_local(async move { offering.offer().await });
        }
        Ok(peer)
    }

    fn wire(self: &Rc<Self>, call: &Rc<CallInner>) {
        let weak = Rc::downgrade(self);
        self.pc.set_onicecandidate(Some(&js::callback(move |event| {
            let Some(peer) = weak.upgrade() else { return };
            let event: RtcPeerConnectionIceEvent = event.unchecked_into();
            if let Some(candidate) = event.candidate() {
                let text = candidate.candidate();
                let address = candidate_address(&text).unwrap_or_default();
                if peer.allowed.is_empty() || peer.allowed.iter().any(|a| a == address) {
                    peer.usable_candidates.set(peer.usable_candidates.get() + 1);
                    peer.signal(json!({"candidate": {
                        "candidate": text,
                        "sdpMid": candidate.sdp_mid(),
                        "sdpMLineIndex": candidate.sdp_m_line_index(),
                    }}));
                }
            }
        })));
        let weak = Rc::downgrade(self);
        self.pc
            .set_onicegatheringstatechange(Some(&js::callback(move |_| {
                let Some(peer) = weak.upgrade() else { return };
                if peer.pc.ice_gathering_state() == RtcIceGatheringState::Complete
                    && peer.usable_candidates.get() == 0
                    && !peer.connected_once.get()
                {
                    media_error(&peer.call, MediaEvent::NoUsableCandidates, false);
                }
            })));
        let weak = Rc::downgrade(self);
        self.pc
            .set_oniceconnectionstatechange(Some(&js::callback(move |_| {
                let Some(peer) = weak.upgrade() else { return };
                if peer.closed.get() {
                    return;
                }
                let state = peer.pc.ice_connection_state();
                // Every change goes on the call's timeline: a drop and its recovery (or not)
                // explain a media end better than its reason alone.
                if let Some(call) = peer.call.upgrade() {
                    call.report(
                        appel_protocol::ReportKind::IceState,
                        Some(format!("{state:?}").to_lowercase()),
                    );
                }
                match state {
                    // Only the first connection counts; later ones are recoveries.
                    RtcIceConnectionState::Connected | RtcIceConnectionState::Completed
                        if !peer.connected_once.replace(true) =>
                    {
                        if let Some(call) = peer.call.upgrade() {
                            call.media_connected();
                        }
                    }
                    RtcIceConnectionState::Failed => {
                        media_error(&peer.call, MediaEvent::IceFailed, peer.connected_once.get())
                    }
                    RtcIceConnectionState::Disconnected => {
                        let weak = Rc::downgrade(&peer);
                        js::after(peer.recovery_window_ms, move || {
                            let Some(peer) = weak.upgrade() else { return };
                            if !peer.closed.get()
                                && peer.pc.ice_connection_state()
                                    == RtcIceConnectionState::Disconnected
                            {
                                let had_connected = peer.connected_once.get();
                                media_error(
                                    &peer.call,
                                    MediaEvent::IceLostNotRecovered,
                                    had_connected,
                                );
                            }
                        });
                    }
                    _ => {}
                }
            })));
        // `Clone::clone`, not the inherent JavaScript `MediaStream.clone()` (a different stream).
        let stream = Clone::clone(&call.remote_stream);
        let weak_call = Rc::downgrade(call);
        self.pc.set_ontrack(Some(&js::callback(move |event| {
            let event: RtcTrackEvent = event.unchecked_into();
            stream.add_track(&event.track());
            if let Some(call) = weak_call.upgrade() {
                call.emitter.emit("remoteStreamChanged", &stream);
            }
        })));
    }

    fn signal(&self, payload: Value) {
        let Some(call) = self.call.upgrade() else {
            return;
        };
        let (Some(agent), Some(call_id)) = (call.agent.upgrade(), call.call_id()) else {
            return;
        };
        agent.send(&ClientFrame::Signal {
            call_id,
            to: Some(ParticipantId::new(self.remote.clone())),
            payload,
        });
    }

    /// Sends `track` as this side's video (or nothing), and tells the other side.
    pub(crate) fn send_video(&self, track: Option<MediaStreamTrack>) {
        if let Some(sender) = self.video_sender.borrow().as_ref() {
            let _ = sender.replace_track(track.as_ref());
        }
        self.signal(json!({"video": track.is_some()}));
    }

    async fn offer(self: Rc<Self>) {
        let result: Result<(), JsValue> = async {
            let offer = JsFuture::from(self.pc.create_offer()).await?;
            let sdp = js::member(&offer, "sdp").as_string().unwrap_or_default();
            let init = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
            init.set_sdp(&sdp);
            JsFuture::from(self.pc.set_local_description(&init)).await?;
            self.signal(json!({"sdp": {"type": "offer", "sdp": sdp}}));
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let why = format!("{}", js::from_js(&e));
            media_error(&self.call, MediaEvent::DescriptionRejected(&why), false);
        }
    }

    pub(crate) fn on_signal(self: &Rc<Self>, payload: Value) {
        if let Some(video) = payload.get("video").and_then(Value::as_bool) {
            if let Some(call) = self.call.upgrade() {
                call.remote_video.set(video);
                call.emitter
                    .emit("remoteVideoChanged", &JsValue::from_bool(video));
            }
        }
        if let Some(candidate) = payload.get("candidate") {
            if self.remote_set.get() {
                self.add_candidate(candidate);
            } else {
                self.queued.borrow_mut().push(candidate.clone());
            }
        }
        if let Some(sdp) = payload.get("sdp") {
            let peer = self.clone();
            let sdp = sdp.clone();
            wasm_bindgen_futures::spawn_local(async move { peer.apply_description(sdp).await });
        }
    }

    fn add_candidate(&self, candidate: &Value) {
        let init = RtcIceCandidateInit::new(candidate["candidate"].as_str().unwrap_or_default());
        init.set_sdp_mid(candidate["sdpMid"].as_str());
        init.set_sdp_m_line_index(candidate["sdpMLineIndex"].as_u64().map(|i| i as u16));
        let _ = self
            .pc
            .add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init));
    }

    async fn apply_description(self: Rc<Self>, sdp: Value) {
        let kind = sdp["type"].as_str().unwrap_or_default();
        let text = sdp["sdp"].as_str().unwrap_or_default();
        let result: Result<(), JsValue> = async {
            let sdp_type = match kind {
                "offer" => RtcSdpType::Offer,
                "answer" => RtcSdpType::Answer,
                other => return Err(JsValue::from_str(&format!("description type `{other}`"))),
            };
            let init = RtcSessionDescriptionInit::new(sdp_type);
            init.set_sdp(text);
            JsFuture::from(self.pc.set_remote_description(&init)).await?;
            self.remote_set.set(true);
            if sdp_type == RtcSdpType::Offer {
                self.answer().await?;
            }
            let queued: Vec<Value> = self.queued.borrow_mut().drain(..).collect();
            for candidate in queued {
                self.add_candidate(&candidate);
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let why = js::member(&e, "message")
                .as_string()
                .unwrap_or_else(|| format!("{}", js::from_js(&e)));
            media_error(&self.call, MediaEvent::DescriptionRejected(&why), false);
        }
    }

    async fn answer(&self) -> Result<(), JsValue> {
        let call = self.call.upgrade().ok_or(JsValue::NULL)?;
        let transceivers = self.pc.get_transceivers();
        for t in transceivers.iter() {
            let t: RtcRtpTransceiver = t.unchecked_into();
            let kind = t.receiver().track().kind();
            t.set_direction(RtcRtpTransceiverDirection::Sendrecv);
            if kind == "audio" {
                if let Some(track) = call.local_audio.borrow().as_ref() {
                    let _ = t.sender().replace_track(Some(track));
                }
            } else if kind == "video" && self.video_sender.borrow().is_none() {
                *self.video_sender.borrow_mut() = Some(t.sender());
            }
        }
        self.send_video(call.outgoing_video());
        let answer = JsFuture::from(self.pc.create_answer()).await?;
        let sdp = js::member(&answer, "sdp").as_string().unwrap_or_default();
        let init = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        init.set_sdp(&sdp);
        JsFuture::from(self.pc.set_local_description(&init)).await?;
        self.signal(json!({"sdp": {"type": "answer", "sdp": sdp}}));
        Ok(())
    }

    /// The participant at its other end.
    pub(crate) fn remote(&self) -> &str {
        &self.remote
    }

    /// Whether its media connected at least once.
    pub(crate) fn connected(&self) -> bool {
        self.connected_once.get()
    }

    pub(crate) fn close(&self) {
        self.closed.set(true);
        self.pc.close();
    }
}

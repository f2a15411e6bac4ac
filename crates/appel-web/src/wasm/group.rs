//! A group call's media: one peer connection to the media server (docs/protocol.md, `mediaOffer`),
//! the other participants' tracks sorted by publisher, and the `RemoteParticipant` and
//! `RemoteVideoStream` objects the page reads them through.
//!
//! The client offers what it publishes (a send-only audio and a send-only video m-line) once; the
//! server then offers every other participant's tracks, one m-line each, whose stream id is the
//! publisher's participant id. The server has at most one offer out, and its answer to our offer
//! comes before any of its offers, so one queue of descriptions, applied in order, is all the
//! negotiation there is.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use appel_codes::CallingError;
use appel_protocol::ClientFrame;
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    HtmlAudioElement, MediaStream, MediaStreamTrack, RtcConfiguration, RtcIceConnectionState,
    RtcIceGatheringState, RtcIceTransportPolicy, RtcPeerConnection, RtcRtpReceiver, RtcRtpSender,
    RtcRtpTransceiverDirection, RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit,
    RtcTrackEvent,
};

use super::agent::AgentOptions;
use super::call::CallInner;
use super::devices::VideoStreamRenderer;
use super::js;
use crate::media_outcome::{media_end_error, MediaEvent};

/// How long the offer waits for ICE gathering before it leaves with the candidates found so far.
const GATHERING_WAIT_MS: f64 = 3000.0;
/// How long a peer-to-peer connection is kept after the media server's connection came up, when no
/// media arrives through the server (the others may publish nothing).
const HANDOVER_WAIT_MS: f64 = 10_000.0;

/// One other participant of the call, as this page sees it.
pub(crate) struct RemoteMedia {
    pub(crate) id: String,
    pub(crate) identity: RefCell<String>,
    pub(crate) state: RefCell<String>,
    /// Its video as the media server forwards it.
    pub(crate) video: MediaStream,
    /// Its audio as the media server forwards it, played by `player`.
    pub(crate) audio: MediaStream,
    player: RefCell<Option<HtmlAudioElement>>,
    audio_receiver: RefCell<Option<RtcRtpReceiver>>,
    /// What it last said it sends (`signal` `{video}`), `None` before it said anything.
    pub(crate) video_on: Cell<Option<bool>>,
    pub(crate) muted: Cell<bool>,
    /// It shares its screen, on the server's word.
    pub(crate) screen_sharing: Cell<bool>,
    /// The server spoke for its media (`participantUpdated.media`): from then on what it says of
    /// itself in a `signal` is ignored, so its page cannot look muted while it is heard, or
    /// heard while the media server holds its audio back.
    pub(crate) vouched: Cell<bool>,
    pub(crate) gone: Cell<bool>,
    /// Its video's receiver, for the layer it arrives in (wasm/views.rs).
    pub(crate) video_receiver: RefCell<Option<RtcRtpReceiver>>,
    /// The sizes this page's views render its video at (wasm/views.rs).
    pub(crate) views: super::views::ViewSizes,
}

fn empty_stream() -> MediaStream {
    MediaStream::new().unwrap_or_else(|_| JsValue::NULL.unchecked_into())
}

impl RemoteMedia {
    pub(crate) fn new(id: String) -> Rc<RemoteMedia> {
        Rc::new(RemoteMedia {
            id,
            identity: RefCell::new(String::new()),
            state: RefCell::new("Connecting".into()),
            video: empty_stream(),
            audio: empty_stream(),
            player: RefCell::new(None),
            audio_receiver: RefCell::new(None),
            video_on: Cell::new(None),
            muted: Cell::new(false),
            screen_sharing: Cell::new(false),
            vouched: Cell::new(false),
            gone: Cell::new(false),
            video_receiver: RefCell::new(None),
            views: Default::default(),
        })
    }

    fn video_track(&self) -> Option<MediaStreamTrack> {
        self.video.get_video_tracks().get(0).dyn_into().ok()
    }

    /// Whether frames of its video can be expected from the media server now.
    pub(crate) fn video_available(&self) -> bool {
        if self.gone.get() {
            return false;
        }
        let Some(track) = self.video_track() else {
            return false;
        };
        if track.ready_state() != web_sys::MediaStreamTrackState::Live {
            return false;
        }
        match self.video_on.get() {
            Some(on) => on,
            // It has not said: a track whose packets flow is available.
            None => !track.muted(),
        }
    }

    pub(crate) fn add_track(&self, track: &MediaStreamTrack, receiver: RtcRtpReceiver) {
        if track.kind() == "audio" {
            for old in self.audio.get_audio_tracks().iter() {
                self.audio.remove_track(&old.unchecked_into());
            }
            self.audio.add_track(track);
            *self.audio_receiver.borrow_mut() = Some(receiver);
            self.play();
        } else {
            for old in self.video.get_video_tracks().iter() {
                self.video.remove_track(&old.unchecked_into());
            }
            self.video.add_track(track);
            *self.video_receiver.borrow_mut() = Some(receiver);
        }
    }

    /// Plays its audio: an element of its own, outside the page's layout.
    fn play(&self) {
        if self.player.borrow().is_none() {
            let element = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.create_element("audio").ok())
                .map(|e| e.unchecked_into::<HtmlAudioElement>());
            let Some(element) = element else { return };
            element.set_autoplay(true);
            element.set_src_object(Some(&self.audio));
            *self.player.borrow_mut() = Some(element);
        }
        if let Some(element) = self.player.borrow().as_ref() {
            if let Ok(playing) = element.play() {
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = JsFuture::from(playing).await;
                });
            }
        }
    }

    /// It left: its audio stops playing here.
    pub(crate) fn left(&self) {
        self.gone.set(true);
        *self.state.borrow_mut() = "Disconnected".into();
        if let Some(element) = self.player.borrow_mut().take() {
            let _ = element.pause();
            element.set_src_object(None);
        }
    }

    /// `{packetsReceived, bytesReceived}` of its audio through the media server (zeros without).
    async fn audio_stats(&self) -> Result<JsValue, JsValue> {
        let (mut packets, mut bytes) = (0.0, 0.0);
        let receiver = self.audio_receiver.borrow().clone();
        if let Some(receiver) = receiver {
            let report = JsFuture::from(receiver.get_stats()).await?;
            for_each_stat(&report, |stat| {
                if js::member(stat, "type").as_string().as_deref() == Some("inbound-rtp") {
                    packets += js::member(stat, "packetsReceived").as_f64().unwrap_or(0.0);
                    bytes += js::member(stat, "bytesReceived").as_f64().unwrap_or(0.0);
                }
            });
        }
        let out = js_sys::Object::new();
        js::set(&out, "packetsReceived", &JsValue::from_f64(packets));
        js::set(&out, "bytesReceived", &JsValue::from_f64(bytes));
        Ok(out.into())
    }
}

/// Calls `f` with every entry of an `RTCStatsReport` (a map-like object).
pub(crate) fn for_each_stat(report: &JsValue, mut f: impl FnMut(&JsValue)) {
    let Ok(values) = js_sys::Reflect::get(report, &JsValue::from_str("values")) else {
        return;
    };
    let Ok(values) = values.dyn_into::<js_sys::Function>() else {
        return;
    };
    let Ok(iterator) = values.call0(report) else {
        return;
    };
    if let Ok(Some(iter)) = js_sys::try_iter(&iterator) {
        for stat in iter.flatten() {
            f(&stat);
        }
    }
}

enum Description {
    /// The media server's answer to our offer.
    Answer(String),
    /// An offer of the media server (others' tracks added or stopped).
    Offer(String),
}

/// The one peer connection of this call to the media server.
pub(crate) struct ServerPeer {
    call: Weak<CallInner>,
    pc: RtcPeerConnection,
    audio_sender: RtcRtpSender,
    video_sender: RtcRtpSender,
    allowed: Vec<String>,
    /// Only relayed paths: the offer waits for the relay's candidate (or the end of gathering).
    relay_only: bool,
    /// This connection replaces one that went down (`mediaRestart` rather than `mediaOffer`).
    replaces: bool,
    /// How long a `disconnected` connection may stay so before it is replaced.
    recovery_window_ms: i32,
    queue: RefCell<VecDeque<Description>>,
    busy: Cell<bool>,
    /// The server's answer to this connection's offer came.
    answered: Cell<bool>,
    connected_once: Cell<bool>,
    closed: Cell<bool>,
}

fn fail(call: &Weak<CallInner>, error: CallingError) {
    if let Some(call) = call.upgrade() {
        call.media_server_failed(&error);
    }
}

impl ServerPeer {
    pub(crate) fn open(
        call: &Rc<CallInner>,
        options: &AgentOptions,
        replaces: bool,
    ) -> Result<Rc<ServerPeer>, CallingError> {
        let config = RtcConfiguration::new();
        // Every m-line on one transport: the media server (ICE-lite) has one address.
        js::set(&config, "bundlePolicy", &JsValue::from_str("max-bundle"));
        // The same relay as a 1:1 call's (fetched before the call's media, docs/relay.md): a
        // network that lets nothing but the relay out reaches the media server through it.
        config.set_ice_servers(&super::network::ice_servers(call.relay.borrow().as_ref()));
        if options.relay_only {
            config.set_ice_transport_policy(RtcIceTransportPolicy::Relay);
        }
        let allowed = options.allowed_addresses.clone();
        let relay_only = options.relay_only;
        let pc = RtcPeerConnection::new_with_configuration(&config).map_err(|e| {
            media_end_error(
                MediaEvent::DescriptionRejected(&format!("{:?}", js::from_js(&e))),
                false,
            )
        })?;
        let send_only = || {
            let init = RtcRtpTransceiverInit::new();
            init.set_direction(RtcRtpTransceiverDirection::Sendonly);
            init
        };
        let audio = pc.add_transceiver_with_str_and_init("audio", &send_only());
        let video =
            pc.add_transceiver_with_str_and_init("video", &super::views::video_transceiver(call));
        let peer = Rc::new(ServerPeer {
            call: Rc::downgrade(call),
            pc,
            audio_sender: audio.sender(),
            video_sender: video.sender(),
            allowed,
            relay_only,
            replaces,
            recovery_window_ms: options.network.recovery_window_ms,
            queue: RefCell::new(VecDeque::new()),
            busy: Cell::new(false),
            answered: Cell::new(false),
            connected_once: Cell::new(false),
            closed: Cell::new(false),
        });
        peer.send_audio(call.local_audio.borrow().clone());
        peer.send_video(call.outgoing_video());
        peer.wire();
        let offering = peer.clone();
        wasm_bindgen_futures::spawn_local(async move { offering.offer().await });
        Ok(peer)
    }

    pub(crate) fn send_audio(&self, track: Option<MediaStreamTrack>) {
        let _ = self.audio_sender.replace_track(track.as_ref());
    }

    pub(crate) fn send_video(&self, track: Option<MediaStreamTrack>) {
        let _ = self.video_sender.replace_track(track.as_ref());
    }

    fn wire(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        self.pc
            .set_oniceconnectionstatechange(Some(&js::callback(move |_| {
                let Some(peer) = weak.upgrade() else { return };
                if peer.closed.get() {
                    return;
                }
                let state = peer.pc.ice_connection_state();
                let Some(call) = peer.call.upgrade() else {
                    return;
                };
                call.report(
                    appel_protocol::ReportKind::IceState,
                    Some(format!("{state:?}").to_lowercase()),
                );
                match state {
                    RtcIceConnectionState::Connected | RtcIceConnectionState::Completed
                        if !peer.connected_once.replace(true) =>
                    {
                        call.media_server_connected();
                        let watching = peer.clone();
                        wasm_bindgen_futures::spawn_local(
                            async move { watching.hand_over().await },
                        );
                    }
                    // A connection that came up and went down is replaced once, before the
                    // media server's loss timer ends the leg (docs/web-media.md); one that never
                    // came up, or a replacement that did not, ends the call as before.
                    RtcIceConnectionState::Failed => peer.lost(),
                    RtcIceConnectionState::Disconnected if peer.connected_once.get() => {
                        let weak = Rc::downgrade(&peer);
                        js::after(peer.recovery_window_ms, move || {
                            let Some(peer) = weak.upgrade() else { return };
                            if !peer.closed.get()
                                && peer.pc.ice_connection_state()
                                    == RtcIceConnectionState::Disconnected
                            {
                                peer.lost();
                            }
                        });
                    }
                    _ => {}
                }
            })));
        let weak_call = self.call.clone();
        self.pc.set_ontrack(Some(&js::callback(move |event| {
            let event: RtcTrackEvent = event.unchecked_into();
            let Some(call) = weak_call.upgrade() else {
                return;
            };
            // The stream id is the publisher's participant id (docs/protocol.md, `mediaOffer`).
            let Some(stream) = event.streams().get(0).dyn_into::<MediaStream>().ok() else {
                return;
            };
            let track = event.track();
            call.server_track(&stream.id(), &track, event.receiver());
        })));
    }

    /// The connection is down for good: replaced by a fresh one when it had come up, else the
    /// call's media through the server has failed.
    fn lost(self: &Rc<Self>) {
        if self.closed.get() {
            return;
        }
        let had = self.connected_once.get();
        match self.call.upgrade() {
            Some(call) if had => call.replace_media_server(),
            _ => fail(
                &self.call,
                media_end_error(MediaEvent::IceFailed, had || self.replaces),
            ),
        }
    }

    /// Once media arrives through the server (or after a while without), the call's
    /// peer-to-peer connection, if it had one, is closed.
    async fn hand_over(self: Rc<Self>) {
        let started = js_sys::Date::now();
        loop {
            if self.closed.get() {
                return;
            }
            let mut flowing = false;
            if let Ok(report) = JsFuture::from(self.pc.get_stats()).await {
                for_each_stat(&report, |stat| {
                    if js::member(stat, "type").as_string().as_deref() == Some("inbound-rtp")
                        && js::member(stat, "packetsReceived").as_f64().unwrap_or(0.0) > 0.0
                    {
                        flowing = true;
                    }
                });
            }
            if flowing || js_sys::Date::now() - started > HANDOVER_WAIT_MS {
                if let Some(call) = self.call.upgrade() {
                    call.close_peer_to_peer();
                }
                return;
            }
            super::devices::sleep(200).await;
        }
    }

    /// Our SDP with only the candidates the page allows (as the peer-to-peer connection sends).
    fn filtered(&self, sdp: &str) -> String {
        if self.allowed.is_empty() {
            return sdp.to_string();
        }
        sdp.split("\r\n")
            .filter(|line| {
                let Some(candidate) = line.strip_prefix("a=candidate:") else {
                    return true;
                };
                let address = candidate.split_whitespace().nth(4).unwrap_or_default();
                self.allowed.iter().any(|a| a == address)
            })
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    async fn offer(self: Rc<Self>) {
        let result: Result<Option<String>, JsValue> = async {
            let offer = JsFuture::from(self.pc.create_offer()).await?;
            let sdp = js::member(&offer, "sdp").as_string().unwrap_or_default();
            let init = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
            init.set_sdp(&sdp);
            JsFuture::from(self.pc.set_local_description(&init)).await?;
            // The media server learns our address from our checks (it is ICE-lite), but a
            // complete offer spares a round of trickling it does not take.
            let started = js_sys::Date::now();
            // Relay-only, the media server can be reached only from the relay's address, which
            // comes when the relay answered: the wait is the browser's own gathering, as for a
            // 1:1 call, so an unreachable relay ends it with 3112 rather than a setup timeout.
            while self.pc.ice_gathering_state() != RtcIceGatheringState::Complete
                && (self.relay_only || js_sys::Date::now() - started < GATHERING_WAIT_MS)
            {
                if self.closed.get() {
                    return Ok(None);
                }
                super::devices::sleep(50).await;
            }
            let sdp = self.pc.local_description().map(|d| d.sdp()).unwrap_or(sdp);
            Ok(Some(self.filtered(&sdp)))
        }
        .await;
        let sdp = match result {
            Ok(None) => return,
            Ok(Some(sdp)) if self.relay_only && !sdp.contains("a=candidate:") => {
                return fail(
                    &self.call,
                    media_end_error(MediaEvent::NoUsableCandidates, false),
                );
            }
            Ok(Some(sdp)) => sdp,
            Err(e) => {
                let why = format!("{}", js::from_js(&e));
                return fail(
                    &self.call,
                    media_end_error(MediaEvent::DescriptionRejected(&why), false),
                );
            }
        };
        let Some(call) = self.call.upgrade() else {
            return;
        };
        let (Some(agent), Some(call_id)) = (call.agent.upgrade(), call.call_id()) else {
            return;
        };
        let replaces = self.replaces;
        let answered = agent.request(
            |request_id| {
                if replaces {
                    ClientFrame::MediaRestart {
                        request_id,
                        call_id,
                        sdp,
                    }
                } else {
                    ClientFrame::MediaOffer {
                        request_id,
                        call_id,
                        sdp,
                    }
                }
            },
            &appel_codes::registry::SIGNALING_REQUEST_TIMEOUT,
            if replaces {
                "mediaRestart"
            } else {
                "mediaOffer"
            },
        );
        if let Err(thrown) = JsFuture::from(answered).await {
            let error = crate::errors::error_from_object(&js::from_js(&thrown));
            fail(&self.call, error);
        }
    }

    /// The server's SDP, applied in the order it came.
    pub(crate) fn description(self: &Rc<Self>, answer: bool, sdp: String) {
        // The server answers this connection's offer before it offers anything on it: an offer
        // that comes first was meant for the connection this one replaces (`mediaRestart`), and
        // an answer of this one to it would make the server close the new connection.
        if answer {
            self.answered.set(true);
        } else if !self.answered.get() {
            return;
        }
        self.queue.borrow_mut().push_back(if answer {
            Description::Answer(sdp)
        } else {
            Description::Offer(sdp)
        });
        if self.busy.replace(true) {
            return;
        }
        let peer = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let next = peer.queue.borrow_mut().pop_front();
                let Some(next) = next else { break };
                if peer.closed.get() {
                    continue;
                }
                if let Err(e) = peer.apply(next).await {
                    let why = js::member(&e, "message")
                        .as_string()
                        .unwrap_or_else(|| format!("{}", js::from_js(&e)));
                    fail(
                        &peer.call,
                        media_end_error(MediaEvent::DescriptionRejected(&why), false),
                    );
                }
            }
            peer.busy.set(false);
        });
    }

    async fn apply(&self, description: Description) -> Result<(), JsValue> {
        match description {
            Description::Answer(sdp) => {
                let init = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
                init.set_sdp(&sdp);
                JsFuture::from(self.pc.set_remote_description(&init)).await?;
            }
            Description::Offer(sdp) => {
                let init = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
                init.set_sdp(&sdp);
                JsFuture::from(self.pc.set_remote_description(&init)).await?;
                let answer = JsFuture::from(self.pc.create_answer()).await?;
                let sdp = js::member(&answer, "sdp").as_string().unwrap_or_default();
                let init = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
                init.set_sdp(&sdp);
                JsFuture::from(self.pc.set_local_description(&init)).await?;
                // Replaced meanwhile: the server already dropped this connection.
                if self.closed.get() {
                    return Ok(());
                }
                let call = self.call.upgrade().ok_or(JsValue::NULL)?;
                if let (Some(agent), Some(call_id)) = (call.agent.upgrade(), call.call_id()) {
                    agent.send(&ClientFrame::MediaAnswer { call_id, sdp });
                }
            }
        }
        Ok(())
    }

    pub(crate) fn close(&self) {
        self.closed.set(true);
        self.pc.close();
    }
}

/// Another participant of a call: who it is, where it stands, its video streams and its audio.
#[wasm_bindgen]
pub struct RemoteParticipant {
    call: Rc<CallInner>,
    media: Rc<RemoteMedia>,
}

impl RemoteParticipant {
    pub(crate) fn wrap(call: Rc<CallInner>, media: Rc<RemoteMedia>) -> RemoteParticipant {
        RemoteParticipant { call, media }
    }
}

#[wasm_bindgen]
impl RemoteParticipant {
    /// Its participant id in this call.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.media.id.clone()
    }

    /// Its identity.
    #[wasm_bindgen(getter)]
    pub fn identity(&self) -> String {
        self.media.identity.borrow().clone()
    }

    /// `Connecting`, `Ringing`, `Connected`, `Hold`, `Disconnected`…
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.media.state.borrow().clone()
    }

    /// Whether its audio does not reach this page: in a call through the media server, the
    /// server's word (it holds a muted participant's audio back); peer to peer, what it said.
    #[wasm_bindgen(getter, js_name = isMuted)]
    pub fn is_muted(&self) -> bool {
        self.media.muted.get()
    }

    /// Whether it shares its screen (the server's word, in a call through the media server).
    #[wasm_bindgen(getter, js_name = isScreenSharing)]
    pub fn is_screen_sharing(&self) -> bool {
        self.media.screen_sharing.get()
    }

    /// Its video (none or one stream), for `new VideoStreamRenderer(stream)`.
    #[wasm_bindgen(getter, js_name = videoStreams)]
    pub fn video_streams(&self) -> Vec<RemoteVideoStream> {
        vec![RemoteVideoStream {
            call: self.call.clone(),
            media: self.media.clone(),
        }]
    }

    /// Its audio as received (it already plays; this is for a level meter).
    #[wasm_bindgen(getter, js_name = audioStream)]
    pub fn audio_stream(&self) -> MediaStream {
        if self.call.carried_peer_to_peer(&self.media) {
            return Clone::clone(&self.call.remote_stream);
        }
        Clone::clone(&self.media.audio)
    }

    /// `{packetsReceived, bytesReceived}` of its audio through the media server so far.
    #[wasm_bindgen(js_name = audioStats, unchecked_return_type = "Promise<{packetsReceived: number, bytesReceived: number}>")]
    pub fn audio_stats(&self) -> Promise {
        let media = self.media.clone();
        wasm_bindgen_futures::future_to_promise(async move { media.audio_stats().await })
    }
}

/// One video stream of a remote participant.
#[wasm_bindgen]
pub struct RemoteVideoStream {
    call: Rc<CallInner>,
    pub(crate) media: Rc<RemoteMedia>,
}

impl RemoteVideoStream {
    pub(crate) fn renderer(&self) -> VideoStreamRenderer {
        VideoStreamRenderer::of_participant(self.call.clone(), self.media.clone())
    }
}

#[wasm_bindgen]
impl RemoteVideoStream {
    /// The participant whose video it is.
    #[wasm_bindgen(getter, js_name = participantId)]
    pub fn participant_id(&self) -> String {
        self.media.id.clone()
    }

    /// `Video`.
    #[wasm_bindgen(getter, js_name = mediaStreamType)]
    pub fn media_stream_type(&self) -> String {
        "Video".into()
    }

    /// Whether its frames can be shown now (`createView` fails with 43200 otherwise).
    #[wasm_bindgen(getter, js_name = isAvailable)]
    pub fn is_available(&self) -> bool {
        self.call.participant_video_available(&self.media)
    }
}

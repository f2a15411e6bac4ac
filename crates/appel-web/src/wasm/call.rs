//! `Call` and `IncomingCall`: a call's state, end reason, operations and local media.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use appel_client::{CallRef, Ender};
use appel_codes::{registry, CallEndReason, CallingError};
use appel_protocol::{CallId, CallState, ClientFrame, ParticipantInfo};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaStream, MediaStreamTrack};

use super::agent::AgentInner;
use super::devices::{get_user_media, VideoStreamRenderer};
use super::group::{RemoteMedia, RemoteParticipant, ServerPeer};
use super::js::{self, Emitter};
use super::local_stream::{stream_of, LocalStreamInner, LocalVideoStream};
use super::peer::Peer;
use crate::errors::DeviceOperation;

fn state_name(state: CallState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn reason_js(reason: CallEndReason) -> JsValue {
    js::to_js(&serde_json::json!({"code": reason.code, "subCode": reason.subcode}))
}

/// `{kind, participantId?, identity?, cause?}`, or `null` when nobody said.
fn ended_by_js(ended_by: Option<&Ender>) -> JsValue {
    ended_by
        .map(|by| js::to_js(&by.to_json()))
        .unwrap_or(JsValue::NULL)
}

/// The `ended`/`stopped` payload: the reason, and who ended it (`endedBy`, added beside).
fn end_js(reason: CallEndReason, ended_by: Option<&Ender>) -> JsValue {
    let by = ended_by
        .map(Ender::to_json)
        .unwrap_or(serde_json::Value::Null);
    js::to_js(&serde_json::json!({"code": reason.code, "subCode": reason.subcode, "endedBy": by}))
}

fn rejected(error: &CallingError) -> Promise {
    Promise::reject(&js::error_js(error))
}

/// The state shared by a `Call` object, the agent's shell over the client core and the peer
/// connection.
pub(crate) struct CallInner {
    pub(crate) agent: Weak<AgentInner>,
    /// The call in the agent's core, once started or accepted there.
    pub(crate) core_ref: Cell<Option<CallRef>>,
    pub(crate) self_ref: RefCell<Weak<CallInner>>,
    pub(crate) id: RefCell<Option<String>>,
    participant_id: RefCell<Option<String>>,
    direction: &'static str,
    remote_identity: RefCell<String>,
    state: Cell<CallState>,
    end_reason: Cell<Option<CallEndReason>>,
    ended_by: RefCell<Option<Ender>>,
    pub(crate) emitter: Emitter,
    pub(crate) local_audio: RefCell<Option<MediaStreamTrack>>,
    pub(crate) local_video: RefCell<Option<MediaStreamTrack>>,
    /// What `local_video` comes from: a camera (switchable) or a page's own stream.
    pub(crate) local_video_stream: RefCell<Option<Rc<LocalStreamInner>>>,
    pub(crate) screen: RefCell<Option<MediaStreamTrack>>,
    pub(crate) remote_stream: MediaStream,
    pub(crate) remote_video: Cell<bool>,
    pub(crate) peer: RefCell<Option<Rc<Peer>>>,
    /// The other participants, in the order the server named them.
    participants: RefCell<Vec<Rc<RemoteMedia>>>,
    /// The server said this call's media goes through the media server (`mediaServer`).
    via_server: Cell<bool>,
    /// The peer connection to the media server, once `via_server`.
    server: RefCell<Option<Rc<ServerPeer>>>,
    /// The relay credentials fetched for this call (wasm/network.rs), if the page asked for them.
    pub(crate) relay: RefCell<Option<appel_client::relay::RelayCredentials>>,
    muted: Cell<bool>,
    /// A `startVideo` waits for its camera: a second one is refused like when video runs.
    video_starting: Cell<bool>,
}

impl CallInner {
    fn new(agent: &Rc<AgentInner>, direction: &'static str, remote: String) -> Rc<CallInner> {
        let call = Rc::new(CallInner {
            agent: Rc::downgrade(agent),
            core_ref: Cell::new(None),
            self_ref: RefCell::new(Weak::new()),
            id: RefCell::new(None),
            participant_id: RefCell::new(None),
            direction,
            remote_identity: RefCell::new(remote),
            state: Cell::new(CallState::Connecting),
            end_reason: Cell::new(None),
            ended_by: RefCell::new(None),
            emitter: Emitter::default(),
            local_audio: RefCell::new(None),
            local_video: RefCell::new(None),
            local_video_stream: RefCell::new(None),
            screen: RefCell::new(None),
            remote_stream: MediaStream::new().unwrap_or_else(|_| JsValue::NULL.unchecked_into()),
            remote_video: Cell::new(false),
            peer: RefCell::new(None),
            participants: RefCell::new(Vec::new()),
            via_server: Cell::new(false),
            server: RefCell::new(None),
            relay: RefCell::new(None),
            muted: Cell::new(false),
            video_starting: Cell::new(false),
        });
        *call.self_ref.borrow_mut() = Rc::downgrade(&call);
        call
    }

    pub(crate) fn outgoing(agent: &Rc<AgentInner>, remote: String, _video: bool) -> Rc<CallInner> {
        Self::new(agent, "Outgoing", remote)
    }

    pub(crate) fn has_ended(&self) -> bool {
        self.end_reason.get().is_some()
    }

    pub(crate) fn call_id(&self) -> Option<CallId> {
        self.id.borrow().clone().map(CallId::new)
    }

    /// Asks for the microphone (and the camera when `video`); a camera that fails leaves the call
    /// audio-only and reports 41048 through the `videoFailed` event.
    pub(crate) async fn prepare_local_media(&self, video: bool) {
        let timeout = self.media_timeout_ms();
        match get_user_media(true, false, DeviceOperation::StartAudio, timeout).await {
            Ok(stream) => {
                let track: Option<MediaStreamTrack> =
                    stream.get_audio_tracks().get(0).dyn_into().ok();
                if let Some(track) = &track {
                    self.watch(track);
                }
                *self.local_audio.borrow_mut() = track;
            }
            Err(error) => self.emitter.emit("microphoneFailed", &js::error_js(&error)),
        }
        if video {
            match get_user_media(false, true, DeviceOperation::StartVideo, timeout).await {
                Ok(stream) => {
                    let track: Option<MediaStreamTrack> =
                        stream.get_video_tracks().get(0).dyn_into().ok();
                    if let Some(track) = &track {
                        self.adopt_stream(LocalStreamInner::of_track(track));
                        self.watch(track);
                    }
                    *self.local_video.borrow_mut() = track;
                    self.emitter.emit("localVideoChanged", &JsValue::TRUE);
                }
                Err(cause) => {
                    let error = CallingError::new(&registry::VIDEO_FAILED_DURING_SETUP)
                        .with_raw_cause(format!(
                            "{}: {}",
                            cause.name(),
                            cause.raw_cause().unwrap_or_default()
                        ));
                    self.emitter.emit("videoFailed", &js::error_js(&error));
                }
            }
        }
    }

    pub(crate) fn created(&self, id: String, participant_id: String) {
        *self.id.borrow_mut() = Some(id.clone());
        *self.participant_id.borrow_mut() = Some(participant_id);
        self.emitter.emit("idChanged", &JsValue::from_str(&id));
    }

    pub(crate) fn set_state(&self, state: CallState) {
        if self.has_ended() || self.state.replace(state) == state {
            return;
        }
        self.emitter
            .emit("stateChanged", &JsValue::from_str(&state_name(state)));
    }

    pub(crate) fn participant_updated(&self, participant: &ParticipantInfo) {
        *self.remote_identity.borrow_mut() = participant.identity.0.clone();
        let info = serde_json::to_value(participant).unwrap_or_default();
        let state = info["state"].as_str().unwrap_or_default().to_string();
        let media = self.remote(participant.id.as_str());
        *media.identity.borrow_mut() = participant.identity.0.clone();
        let was = media.state.replace(state.clone());
        // Someone who just connected has not heard what this side sends.
        if was != "Connected" && state == "Connected" {
            self.announce_media_flags();
        }
        self.emitter
            .emit("remoteParticipantsUpdated", &js::to_js(&info));
        if let Some(said) = participant.media {
            self.server_media(&media, said);
        }
    }

    /// The application's backend muted this participant (`muted`): the media server already
    /// holds its audio back and the others are told so; the microphone goes off here too, so the
    /// page's own mute button says what the others get, and unmuting is the page's own act.
    pub(crate) fn muted_by_server(&self) {
        if let Some(track) = self.local_audio.borrow().as_ref() {
            track.set_enabled(false);
        }
        if !self.muted.replace(true) {
            self.send_media_state();
            self.announce_media_flags();
            self.emitter.emit("mutedChanged", &JsValue::TRUE);
        }
        self.emitter.emit("mutedByServer", &JsValue::TRUE);
    }

    /// What the server forwards of `media`'s participant: the source of its muted and video
    /// state from now on.
    fn server_media(&self, media: &RemoteMedia, said: appel_protocol::ParticipantMedia) {
        media.vouched.set(true);
        let id = JsValue::from_str(&media.id);
        let muted = !said.audio;
        if media.muted.replace(muted) != muted {
            self.emitter.emit("remoteMutedChanged", &id);
        }
        let video = Some(said.video || said.screen_share);
        let sharing = media.screen_sharing.replace(said.screen_share) != said.screen_share;
        if media.video_on.replace(video) != video || sharing {
            self.emitter.emit("remoteVideoChanged", &id);
        }
    }

    /// The participant `id`, added when first heard of.
    fn remote(&self, id: &str) -> Rc<RemoteMedia> {
        if let Some(found) = self.participants.borrow().iter().find(|p| p.id == id) {
            return found.clone();
        }
        let media = RemoteMedia::new(id.to_string());
        self.participants.borrow_mut().push(media.clone());
        media
    }

    /// The other participants still in the call.
    pub(crate) fn remote_participants(&self) -> Vec<Rc<RemoteMedia>> {
        self.participants.borrow().clone()
    }

    /// Whether `media`'s media comes over the peer-to-peer connection: in a 1:1 call, and for the
    /// other end of that connection while the call moves to the media server.
    pub(crate) fn carried_peer_to_peer(&self, media: &RemoteMedia) -> bool {
        match self.peer.borrow().as_ref() {
            Some(peer) => peer.remote() == media.id,
            None => !self.via_server.get(),
        }
    }

    /// Whether `media`'s video can be shown now, on whichever connection carries it.
    pub(crate) fn participant_video_available(&self, media: &RemoteMedia) -> bool {
        if self.carried_peer_to_peer(media) {
            return !media.gone.get()
                && self.remote_video.get()
                && self.remote_stream.get_video_tracks().length() > 0;
        }
        media.video_available()
    }

    /// The stream a view of `media`'s video shows.
    pub(crate) fn participant_stream(&self, media: &RemoteMedia) -> MediaStream {
        if self.carried_peer_to_peer(media) {
            Clone::clone(&self.remote_stream)
        } else {
            Clone::clone(&media.video)
        }
    }

    /// `mediaServer`: this call's media goes through the media server from now on. A
    /// peer-to-peer connection that never connected is dropped at once; one that carries media
    /// stays until media flows through the server.
    pub(crate) fn move_to_media_server(&self) {
        if self.has_ended() || self.via_server.replace(true) {
            return;
        }
        let unconnected = self
            .peer
            .borrow()
            .as_ref()
            .is_some_and(|peer| !peer.connected());
        if unconnected {
            if let Some(peer) = self.peer.borrow_mut().take() {
                peer.close();
            }
        }
        let (Some(me), Some(agent)) = (self.self_ref.borrow().upgrade(), self.agent.upgrade())
        else {
            return;
        };
        // The media server holds back a muted microphone from the first packet.
        self.send_media_state();
        match ServerPeer::open(&me, &agent.options, false) {
            Ok(server) => *self.server.borrow_mut() = Some(server),
            Err(error) => self.media_server_failed(&error),
        }
        self.announce_media_flags();
        self.emitter
            .emit("mediaPathChanged", &JsValue::from_str("mediaServer"));
    }

    /// The media server's answer (`answer`) or offer, for its peer connection.
    pub(crate) fn server_description(&self, answer: bool, sdp: String) {
        let server = self.server.borrow().clone();
        if let Some(server) = server {
            server.description(answer, sdp);
        }
    }

    /// A track the media server forwards, of the participant whose id is `stream_id`.
    pub(crate) fn server_track(
        &self,
        stream_id: &str,
        track: &MediaStreamTrack,
        receiver: web_sys::RtcRtpReceiver,
    ) {
        let media = self.remote(stream_id);
        media.add_track(track, receiver);
        let weak = self.self_ref.borrow().clone();
        let id = stream_id.to_string();
        let changed = move |_| {
            if let Some(call) = weak.upgrade() {
                call.emitter
                    .emit("remoteVideoChanged", &JsValue::from_str(&id));
            }
        };
        track.set_onunmute(Some(&js::callback(changed.clone())));
        track.set_onmute(Some(&js::callback(changed)));
        self.emitter
            .emit("remoteVideoChanged", &JsValue::from_str(stream_id));
    }

    /// The media server's connection came up and then went down on this side (ICE `failed`,
    /// or `disconnected` past the recovery window): a fresh connection replaces it
    /// (`mediaRestart`), the others' tracks come again on it, and the page hears
    /// `mediaPathChanged` ('mediaServer') to make its views again. Should the fresh one not come
    /// up, the call ends with 410/3101 as before.
    pub(crate) fn replace_media_server(&self) {
        let (Some(me), Some(agent)) = (self.self_ref.borrow().upgrade(), self.agent.upgrade())
        else {
            return;
        };
        if let Some(old) = self.server.borrow_mut().take() {
            old.close();
        }
        match ServerPeer::open(&me, &agent.options, true) {
            Ok(server) => *self.server.borrow_mut() = Some(server),
            Err(error) => return self.media_server_failed(&error),
        }
        self.emitter
            .emit("mediaPathChanged", &JsValue::from_str("mediaServer"));
    }

    /// The media server's connection came up (ICE + DTLS).
    pub(crate) fn media_server_connected(&self) {
        self.report(appel_protocol::ReportKind::MediaConnected, None);
        self.emitter.emit("mediaConnected", &JsValue::TRUE);
    }

    /// Media flows through the server: the peer-to-peer connection, if any, is closed.
    pub(crate) fn close_peer_to_peer(&self) {
        let Some(peer) = self.peer.borrow_mut().take() else {
            return;
        };
        peer.close();
        self.emitter
            .emit("mediaPathChanged", &JsValue::from_str("mediaServer"));
    }

    /// The media server's connection failed: a call that still has its peer-to-peer media goes
    /// on with it (and says why); otherwise it ends with the reason.
    pub(crate) fn media_server_failed(&self, error: &CallingError) {
        if self.peer.borrow().as_ref().is_some_and(|p| p.connected()) {
            if let Some(server) = self.server.borrow_mut().take() {
                server.close();
            }
            self.emitter.emit("error", &js::error_js(error));
            return;
        }
        self.end_with_error(error);
    }

    /// Tells the others what this side sends (`signal` to everyone: `{video, muted}`), in a call
    /// through the media server, whose forwarded tracks do not say it.
    fn announce_media_flags(&self) {
        if !self.via_server.get() {
            return;
        }
        let (Some(agent), Some(call_id)) = (self.agent.upgrade(), self.call_id()) else {
            return;
        };
        agent.send(&ClientFrame::Signal {
            call_id,
            to: None,
            payload: serde_json::json!({
                "video": self.outgoing_video().is_some(),
                "muted": self.muted.get(),
            }),
        });
    }

    /// `mediaState` with what this side sends now; the media server holds back muted audio.
    fn send_media_state(&self) {
        if !self.via_server.get() {
            return;
        }
        let (Some(agent), Some(call_id)) = (self.agent.upgrade(), self.call_id()) else {
            return;
        };
        let audio = !self.muted.get() && self.local_audio.borrow().is_some();
        let video = self.local_video.borrow().is_some();
        let screen_share = self.screen.borrow().is_some();
        let answer = agent.request(
            |request_id| ClientFrame::MediaState {
                request_id,
                call_id,
                audio,
                video,
                screen_share,
            },
            &registry::SIGNALING_REQUEST_TIMEOUT,
            "mediaState",
        );
        let weak = self.self_ref.borrow().clone();
        wasm_bindgen_futures::spawn_local(async move {
            // A refusal (a room role that may not send) is the page's to know.
            if let Err(thrown) = JsFuture::from(answer).await {
                if let Some(call) = weak.upgrade() {
                    call.emitter.emit("error", &thrown);
                }
            }
        });
    }

    /// Watches a local track for its source ending under the SDK (a camera or microphone
    /// unplugged, or taken back by the system): `ended` fires only then, never for the SDK's own
    /// `stop()`.
    fn watch(&self, track: &MediaStreamTrack) {
        let weak = self.self_ref.borrow().clone();
        let id = track.id();
        track.set_onended(Some(&js::callback(move |_| {
            if let Some(call) = weak.upgrade() {
                call.track_ended(&id);
            }
        })));
    }

    /// A local track ended under the SDK. The call goes on: without video (900710, through
    /// `videoFailed`), or unheard (900711, through `microphoneFailed`).
    fn track_ended(&self, id: &str) {
        if self.has_ended() {
            return;
        }
        let is = |slot: &RefCell<Option<MediaStreamTrack>>| {
            slot.borrow().as_ref().is_some_and(|t| t.id() == id)
        };
        if is(&self.local_video) {
            let error = CallingError::new(&registry::CAMERA_ENDED_DURING_CALL)
                .with_raw_cause("the camera track ended");
            self.release_local_video();
            self.refresh_video();
            self.device_failed(&error);
            self.emitter.emit("videoFailed", &js::error_js(&error));
        } else if is(&self.local_audio) {
            let error = CallingError::new(&registry::MICROPHONE_ENDED_DURING_CALL)
                .with_raw_cause("the microphone track ended");
            self.device_failed(&error);
            self.emitter.emit("microphoneFailed", &js::error_js(&error));
        }
    }

    /// A device failed while the call goes on: the server's timeline hears of it (when it takes
    /// reports), so the failure explains what the others saw.
    pub(crate) fn device_failed(&self, error: &CallingError) {
        if self.has_ended() {
            return;
        }
        self.report(
            appel_protocol::ReportKind::DeviceError,
            Some(crate::errors::device_report_detail(error)),
        );
    }

    pub(crate) fn participant_left(
        &self,
        id: &str,
        identity: &str,
        reason: CallEndReason,
        ended_by: Option<&Ender>,
    ) {
        let by = ended_by
            .map(Ender::to_json)
            .unwrap_or(serde_json::Value::Null);
        let gone = self.participants.borrow().iter().position(|p| p.id == id);
        if let Some(index) = gone {
            let media = self.participants.borrow_mut().remove(index);
            media.left();
        }
        let info = serde_json::json!({
            "id": id, "identity": identity,
            "callEndReason": {"code": reason.code, "subCode": reason.subcode},
            "endedBy": by,
        });
        self.emitter
            .emit("remoteParticipantLeft", &js::to_js(&info));
    }

    pub(crate) fn on_signal(&self, from: String, payload: serde_json::Value) {
        if self.has_ended() {
            return;
        }
        let media = self.remote(&from);
        // What a page says of itself counts only until the server speaks for it.
        let flags = !media.vouched.get();
        let video = payload
            .get("video")
            .and_then(serde_json::Value::as_bool)
            .filter(|_| flags);
        if let Some(video) = video {
            media.video_on.set(Some(video));
        }
        let muted = payload
            .get("muted")
            .and_then(serde_json::Value::as_bool)
            .filter(|_| flags);
        if let Some(muted) = muted {
            media.muted.set(muted);
            self.emitter
                .emit("remoteMutedChanged", &JsValue::from_str(&from));
        }
        let peer = self.peer.borrow().clone();
        let peer = match peer {
            Some(peer) => peer,
            // Through the media server: no peer-to-peer connection is opened any more.
            None if self.via_server.get() => {
                if video.is_some() {
                    self.emitter
                        .emit("remoteVideoChanged", &JsValue::from_str(&from));
                }
                return;
            }
            None => match self.open_peer(from, false) {
                Some(peer) => peer,
                None => return,
            },
        };
        peer.on_signal(payload);
    }

    /// Creates the peer connection towards `remote` (the offerer is the callee that accepted).
    pub(crate) fn open_peer(&self, remote: String, offerer: bool) -> Option<Rc<Peer>> {
        let me = self.self_ref.borrow().upgrade()?;
        let agent = self.agent.upgrade()?;
        match Peer::open(&me, &agent.options, remote, offerer) {
            Ok(peer) => {
                *self.peer.borrow_mut() = Some(peer.clone());
                Some(peer)
            }
            Err(error) => {
                self.end_with_error(&error);
                None
            }
        }
    }

    /// This side ended the call (the page, its media, its network).
    pub(crate) fn finish(&self, reason: CallEndReason) {
        self.finish_by(reason, Some(Ender::This));
    }

    /// The call ended here with `reason`, ended by `ended_by`.
    pub(crate) fn finish_by(&self, reason: CallEndReason, ended_by: Option<Ender>) {
        if self.end_reason.get().is_some() {
            return;
        }
        self.end_reason.set(Some(reason));
        *self.ended_by.borrow_mut() = ended_by;
        if let Some(peer) = self.peer.borrow_mut().take() {
            peer.close();
        }
        if let Some(server) = self.server.borrow_mut().take() {
            server.close();
        }
        for media in self.participants.borrow().iter() {
            media.left();
        }
        self.release_local_video();
        for track in [&self.local_audio, &self.local_video, &self.screen] {
            if let Some(track) = track.borrow_mut().take() {
                track.stop();
            }
        }
        self.state.set(CallState::Disconnected);
        self.emitter
            .emit("stateChanged", &JsValue::from_str("Disconnected"));
        let payload = end_js(reason, self.ended_by.borrow().as_ref());
        self.emitter.emit("ended", &payload);
    }

    /// Media failed: this client leaves the call and ends it with the media reason.
    pub(crate) fn end_with_error(&self, error: &CallingError) {
        if self.has_ended() {
            return;
        }
        self.emitter.emit("error", &js::error_js(error));
        self.finish(error.as_reason());
        self.leave();
    }

    /// Leaves the call without waiting for the server: the core sends the `hangUp` now, or as
    /// soon as the server names the call.
    pub(crate) fn hang_up_now(&self) {
        self.finish(CallEndReason::of(&registry::CALL_ENDED_LOCALLY));
        self.leave();
    }

    fn leave(&self) {
        if let (Some(agent), Some(call)) = (self.agent.upgrade(), self.core_ref.get()) {
            agent.leave(call);
        }
    }

    /// Tells the server a fact of this call that only the page sees, for the call's timeline.
    pub(crate) fn report(&self, kind: appel_protocol::ReportKind, detail: Option<String>) {
        if let (Some(agent), Some(call)) = (self.agent.upgrade(), self.core_ref.get()) {
            agent.report(call, kind, detail);
        }
    }

    pub(crate) fn media_connected(&self) {
        self.report(appel_protocol::ReportKind::MediaConnected, None);
        if self.direction == "Incoming" {
            if let (Some(agent), Some(call_id)) = (self.agent.upgrade(), self.call_id()) {
                agent.send(&ClientFrame::MediaReady { call_id });
            }
        }
        self.emitter.emit("mediaConnected", &JsValue::TRUE);
    }

    /// The track a peer connection sends as video: the screen when shared, else the camera.
    pub(crate) fn outgoing_video(&self) -> Option<MediaStreamTrack> {
        self.screen
            .borrow()
            .clone()
            .or_else(|| self.local_video.borrow().clone())
    }

    fn media_timeout_ms(&self) -> u32 {
        self.agent
            .upgrade()
            .map(|agent| agent.client().media_timeout_ms)
            .unwrap_or(super::devices::DEFAULT_MEDIA_TIMEOUT_MS)
    }

    /// Makes `stream` the one this call sends (its camera track goes in `local_video`).
    fn adopt_stream(&self, stream: Rc<LocalStreamInner>) {
        *stream.call.borrow_mut() = self.self_ref.borrow().clone();
        *self.local_video_stream.borrow_mut() = Some(stream);
    }

    /// Stops sending the local video: a camera's track is stopped, a page's own stream is left
    /// running (it belongs to the page).
    fn release_local_video(&self) {
        let stream = self.local_video_stream.borrow_mut().take();
        let track = self.local_video.borrow_mut().take();
        let custom = stream.as_ref().is_some_and(|s| s.is_custom());
        if let Some(stream) = stream {
            *stream.call.borrow_mut() = Weak::new();
        }
        if let (Some(track), false) = (track, custom) {
            track.stop();
        }
    }

    /// `switchSource` of the stream this call sends: the new camera's track replaces the old
    /// one. False when the call no longer sends `stream`.
    pub(crate) fn replace_camera(
        &self,
        stream: &Rc<LocalStreamInner>,
        track: MediaStreamTrack,
    ) -> bool {
        let sent = self.local_video_stream.borrow().clone();
        if self.has_ended() || !sent.is_some_and(|s| Rc::ptr_eq(&s, stream)) {
            return false;
        }
        self.watch(&track);
        if let Some(old) = self.local_video.borrow_mut().replace(track) {
            old.stop();
        }
        self.refresh_video();
        true
    }

    fn refresh_video(&self) {
        if let Some(peer) = self.peer.borrow().clone() {
            peer.send_video(self.outgoing_video());
        }
        let server = self.server.borrow().clone();
        if let Some(server) = server {
            server.send_video(self.outgoing_video());
        }
        self.announce_media_flags();
        self.send_media_state();
        let on = self.outgoing_video().is_some();
        self.emitter
            .emit("localVideoChanged", &JsValue::from_bool(on));
    }
}

/// A call this agent placed or accepted.
#[wasm_bindgen]
pub struct Call {
    inner: Rc<CallInner>,
}

impl Call {
    pub(crate) fn wrap(inner: Rc<CallInner>) -> Call {
        Call { inner }
    }
}

#[wasm_bindgen]
impl Call {
    /// The call id, once the server confirmed the call (empty before).
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.inner.id.borrow().clone().unwrap_or_default()
    }

    /// `Outgoing` or `Incoming`.
    #[wasm_bindgen(getter)]
    pub fn direction(&self) -> String {
        self.inner.direction.to_string()
    }

    /// Who is on the other side (the identity called, or the caller).
    #[wasm_bindgen(getter, js_name = remoteIdentity)]
    pub fn remote_identity(&self) -> String {
        self.inner.remote_identity.borrow().clone()
    }

    /// `Connecting`, `Ringing`, `Connected`, `LocalHold`, `RemoteHold`, `Disconnected`…
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        state_name(self.inner.state.get())
    }

    /// `{code, subCode}` once the call ended, `null` before.
    #[wasm_bindgen(getter, js_name = callEndReason, unchecked_return_type = "CallEndReason | null")]
    pub fn call_end_reason(&self) -> JsValue {
        self.inner
            .end_reason
            .get()
            .map(reason_js)
            .unwrap_or(JsValue::NULL)
    }

    /// Who ended the call, once it has: `{kind: "this"}` (this side hung up, declined or gave
    /// up), `{kind: "participant", participantId, identity}`, `{kind: "callControl"}` or
    /// `{kind: "server", cause: "timer" | "unreachable" | "shutdown"}`; `null` before, or when the
    /// server did not say.
    #[wasm_bindgen(getter, js_name = endedBy, unchecked_return_type = "EndedBy | null")]
    pub fn ended_by(&self) -> JsValue {
        ended_by_js(self.inner.ended_by.borrow().as_ref())
    }

    /// Whether the microphone is muted.
    #[wasm_bindgen(getter, js_name = isMuted)]
    pub fn is_muted(&self) -> bool {
        self.inner.muted.get()
    }

    /// Whether this side sends camera video or a screen.
    #[wasm_bindgen(getter, js_name = isVideoOn)]
    pub fn is_video_on(&self) -> bool {
        self.inner.outgoing_video().is_some()
    }

    /// Whether the other side sends video now.
    #[wasm_bindgen(getter, js_name = isRemoteVideoAvailable)]
    pub fn is_remote_video_available(&self) -> bool {
        self.inner.remote_video.get()
    }

    /// The remote audio and video, for a `<video>` element.
    #[wasm_bindgen(getter, js_name = remoteMediaStream)]
    pub fn remote_media_stream(&self) -> MediaStream {
        // `MediaStream` has an inherent `clone` (the JavaScript one, a new stream with copies of
        // the tracks) that shadows `Clone::clone`; the page must get the stream the peer fills.
        Clone::clone(&self.inner.remote_stream)
    }

    /// The local camera or screen, for a preview (`null` when none is sent).
    #[wasm_bindgen(getter, js_name = localVideoStream, unchecked_return_type = "MediaStream | null")]
    pub fn local_video_stream(&self) -> JsValue {
        match self.inner.outgoing_video() {
            Some(track) => MediaStream::new()
                .map(|stream| {
                    stream.add_track(&track);
                    stream.into()
                })
                .unwrap_or(JsValue::NULL),
            None => JsValue::NULL,
        }
    }

    /// The microphone this call sends, for a level meter (`null` without one).
    #[wasm_bindgen(getter, js_name = localAudioStream)]
    pub fn local_audio_stream(&self) -> Option<MediaStream> {
        let track = self.inner.local_audio.borrow().clone()?;
        let stream = MediaStream::new().ok()?;
        stream.add_track(&track);
        Some(stream)
    }

    /// Registers a handler: `stateChanged`, `ended`, `idChanged`, `remoteParticipantsUpdated`,
    /// `remoteParticipantLeft`, `remoteVideoChanged`, `remoteMutedChanged`, `mediaPathChanged`,
    /// `localVideoChanged`, `mediaConnected`,
    /// `videoFailed` (41048), `microphoneFailed` (900640–900642), `mutedChanged`, `error`.
    pub fn on(&self, event: &str, handler: Function) {
        self.inner.emitter.on(event, handler);
    }

    /// Removes a handler.
    pub fn off(&self, event: &str, handler: &Function) {
        self.inner.emitter.off(event, handler);
    }

    /// Leaves the call (`{forEveryone: true}` ends it for all). Ends with 0/0 here even when the
    /// server cannot be told; a refused end-for-everyone (403/900500, 403/900501) rejects and
    /// leaves the call going on.
    #[wasm_bindgen(js_name = hangUp, unchecked_return_type = "Promise<void>")]
    pub fn hang_up(
        &self,
        #[wasm_bindgen(unchecked_param_type = "HangUpOptions | undefined")] options: JsValue,
    ) -> Promise {
        let for_everyone = js::member(&options, "forEveryone")
            .as_bool()
            .unwrap_or(false);
        let inner = self.inner.clone();
        let (Some(agent), Some(call_id)) = (inner.agent.upgrade(), inner.call_id()) else {
            inner.hang_up_now();
            return Promise::resolve(&JsValue::UNDEFINED);
        };
        if inner.has_ended() {
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        let answer = agent.request(
            |request_id| ClientFrame::HangUp {
                request_id,
                call_id,
                for_everyone,
            },
            &registry::SIGNALING_REQUEST_TIMEOUT,
            "hangUp",
        );
        wasm_bindgen_futures::future_to_promise(async move {
            if let Err(thrown) = JsFuture::from(answer).await {
                let refused = js::member(&thrown, "name").as_string().is_some_and(|name| {
                    name == registry::END_FOR_EVERYONE_NOT_ALLOWED.name
                        || name == registry::ROOM_END_FOR_EVERYONE_REFUSED.name
                });
                if refused {
                    return Err(thrown);
                }
            }
            // Whatever else the server answers, this side has left.
            inner.finish(CallEndReason::of(&registry::CALL_ENDED_LOCALLY));
            if let (Some(agent), Some(call)) = (inner.agent.upgrade(), inner.core_ref.get()) {
                agent.ended_locally(call);
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Puts the call on hold (local media paused); 41033 when the server does not confirm.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn hold(&self) -> Promise {
        self.hold_or_resume(true)
    }

    /// Takes the call off hold; 41034 when the server does not confirm.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn resume(&self) -> Promise {
        self.hold_or_resume(false)
    }

    fn hold_or_resume(&self, hold: bool) -> Promise {
        let (Some(agent), Some(call_id)) = (self.inner.agent.upgrade(), self.inner.call_id())
        else {
            return rejected(
                &CallingError::new(&registry::CALL_OPERATION_INVALID_STATE).with_context(if hold {
                    "hold"
                } else {
                    "resume"
                }),
            );
        };
        let answer = if hold {
            agent.request(
                |request_id| ClientFrame::Hold {
                    request_id,
                    call_id,
                },
                &registry::HOLD_FAILED,
                "hold",
            )
        } else {
            agent.request(
                |request_id| ClientFrame::Resume {
                    request_id,
                    call_id,
                },
                &registry::RESUME_FAILED,
                "resume",
            )
        };
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            JsFuture::from(answer).await?;
            let sending = !hold;
            if let Some(track) = inner.local_audio.borrow().as_ref() {
                track.set_enabled(sending && !inner.muted.get());
            }
            if let Some(track) = inner.outgoing_video() {
                track.set_enabled(sending);
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Mutes the microphone; 41015 when there is no microphone track to change.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn mute(&self) -> Promise {
        self.set_muted(true)
    }

    /// Unmutes the microphone; 41016 when there is no microphone track to change.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn unmute(&self) -> Promise {
        self.set_muted(false)
    }

    fn set_muted(&self, muted: bool) -> Promise {
        let audio = self.inner.local_audio.borrow().clone();
        match audio {
            Some(track) if track.ready_state() == web_sys::MediaStreamTrackState::Live => {
                track.set_enabled(!muted);
                self.inner.muted.set(muted);
                self.inner.send_media_state();
                self.inner.announce_media_flags();
                self.inner
                    .emitter
                    .emit("mutedChanged", &JsValue::from_bool(muted));
                Promise::resolve(&JsValue::UNDEFINED)
            }
            _ => {
                let entry = if muted {
                    &registry::MUTE_FAILED
                } else {
                    &registry::UNMUTE_FAILED
                };
                let error = CallingError::new(entry).with_context("no live microphone track");
                self.inner.device_failed(&error);
                rejected(&error)
            }
        }
    }

    /// Sends video: the default camera, or `stream` (a camera or a page's own `MediaStream`).
    /// 41027 when video is already sent; 41025, 43017, 43019 or 41073 for a stream that cannot be
    /// sent; 43001/43013/43000/… from the browser's `getUserMedia` failure.
    #[wasm_bindgen(js_name = startVideo, unchecked_return_type = "Promise<void>")]
    pub fn start_video(
        &self,
        #[wasm_bindgen(unchecked_param_type = "LocalVideoStream")] stream: Option<js_sys::Object>,
    ) -> Promise {
        if self.inner.local_video.borrow().is_some() || self.inner.video_starting.get() {
            return rejected(&CallingError::new(&registry::VIDEO_ALREADY_STARTED));
        }
        let given = match stream {
            None => None,
            Some(value) => match stream_of(&value) {
                Some(stream) => Some(stream),
                None => {
                    return rejected(
                        &CallingError::new(&registry::START_VIDEO_INVALID_STREAM)
                            .with_context("expected a LocalVideoStream"),
                    )
                }
            },
        };
        let inner = self.inner.clone();
        inner.video_starting.set(true);
        wasm_bindgen_futures::future_to_promise(async move {
            let timeout = inner.media_timeout_ms();
            let custom_streams = inner
                .agent
                .upgrade()
                .is_none_or(|agent| agent.custom_streams.get());
            let acquired =
                match &given {
                    Some(stream) => stream.track(custom_streams, timeout).await,
                    None => get_user_media(false, true, DeviceOperation::StartVideo, timeout)
                        .await
                        .and_then(|stream| {
                            stream.get_video_tracks().get(0).dyn_into().map_err(|_| {
                                CallingError::new(&registry::START_VIDEO_INVALID_STREAM)
                            })
                        }),
                };
            inner.video_starting.set(false);
            let track: MediaStreamTrack = acquired.map_err(|e| {
                inner.device_failed(&e);
                js::error_js(&e)
            })?;
            let stream = given.unwrap_or_else(|| LocalStreamInner::of_track(&track));
            if inner.has_ended() {
                if !stream.is_custom() {
                    track.stop();
                }
                return Ok(JsValue::UNDEFINED);
            }
            inner.adopt_stream(stream);
            inner.watch(&track);
            *inner.local_video.borrow_mut() = Some(track);
            inner.refresh_video();
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stops sending video; 41030 when none is sent, 41032 when `stream` is not the one sent.
    #[wasm_bindgen(js_name = stopVideo, unchecked_return_type = "Promise<void>")]
    pub fn stop_video(
        &self,
        #[wasm_bindgen(unchecked_param_type = "LocalVideoStream")] stream: Option<js_sys::Object>,
    ) -> Promise {
        if self.inner.local_video.borrow().is_none() {
            return rejected(&CallingError::new(&registry::VIDEO_ALREADY_STOPPED));
        }
        if let Some(value) = stream {
            let sent = self.inner.local_video_stream.borrow().clone();
            let given = stream_of(&value);
            if !matches!((sent, given), (Some(s), Some(g)) if Rc::ptr_eq(&s, &g)) {
                return rejected(
                    &CallingError::new(&registry::STOP_VIDEO_STREAM_NOT_SENT)
                        .with_context("pass the stream given to startVideo (localVideoStreams)"),
                );
            }
        }
        self.inner.release_local_video();
        self.inner.refresh_video();
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// The video streams this call sends (none or one), for `stopVideo` and `switchSource`.
    #[wasm_bindgen(getter, js_name = localVideoStreams)]
    pub fn local_video_streams(&self) -> Vec<LocalVideoStream> {
        self.inner
            .local_video_stream
            .borrow()
            .clone()
            .map(LocalVideoStream::wrap)
            .into_iter()
            .collect()
    }

    /// Shares the screen instead of the camera: 41071 unless the call is Connected, 41035 when
    /// already sharing.
    #[wasm_bindgen(js_name = startScreenShare, unchecked_return_type = "Promise<void>")]
    pub fn start_screen_share(&self) -> Promise {
        if self.inner.state.get() != CallState::Connected {
            return rejected(
                &CallingError::new(&registry::SCREEN_SHARE_CALL_NOT_CONNECTED)
                    .with_context(format!("call state {}", state_name(self.inner.state.get()))),
            );
        }
        if self.inner.screen.borrow().is_some() {
            return rejected(&CallingError::new(&registry::SCREEN_SHARE_ALREADY_STARTED));
        }
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let devices = web_sys::window()
                .and_then(|w| w.navigator().media_devices().ok())
                .ok_or_else(|| js::error_js(&CallingError::new(&registry::MEDIA_REQUEST_FAILED)))?;
            let promise = devices.get_display_media().map_err(|e| {
                js::error_js(&super::devices::dom_error(&e, DeviceOperation::StartVideo))
            })?;
            let stream: MediaStream = JsFuture::from(promise)
                .await
                .map_err(|e| {
                    js::error_js(&super::devices::dom_error(&e, DeviceOperation::StartVideo))
                })?
                .unchecked_into();
            *inner.screen.borrow_mut() = stream.get_video_tracks().get(0).dyn_into().ok();
            inner.refresh_video();
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stops sharing the screen; 41041 when not sharing.
    #[wasm_bindgen(js_name = stopScreenShare, unchecked_return_type = "Promise<void>")]
    pub fn stop_screen_share(&self) -> Promise {
        let Some(track) = self.inner.screen.borrow_mut().take() else {
            return rejected(&CallingError::new(&registry::SCREEN_SHARE_ALREADY_STOPPED));
        };
        track.stop();
        self.inner.refresh_video();
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// The other participants: who they are, where they stand, their video streams (for
    /// `new VideoStreamRenderer(stream)`) and their audio, in a 1:1 call as in a group call.
    #[wasm_bindgen(getter, js_name = remoteParticipants)]
    pub fn remote_participants(&self) -> Vec<RemoteParticipant> {
        self.inner
            .remote_participants()
            .into_iter()
            .map(|media| RemoteParticipant::wrap(self.inner.clone(), media))
            .collect()
    }

    /// Whether this call's media goes through the media server (a group call, or a 1:1 call that
    /// gained a third participant); `mediaPathChanged` tells when it starts to.
    #[wasm_bindgen(getter, js_name = usesMediaServer)]
    pub fn uses_media_server(&self) -> bool {
        self.inner.via_server.get()
    }

    /// Rings `identity` into this call (the call moves to the media server if it was 1:1);
    /// 412/900201 when it is in the call already or the call is a room's, 403/900202 past the
    /// participant limit.
    #[wasm_bindgen(js_name = addParticipant, unchecked_return_type = "Promise<void>")]
    pub fn add_participant(&self, identity: String) -> Promise {
        let (Some(agent), Some(call_id)) = (self.inner.agent.upgrade(), self.inner.call_id())
        else {
            return rejected(
                &CallingError::new(&registry::CALL_OPERATION_INVALID_STATE)
                    .with_context("addParticipant before the server named the call"),
            );
        };
        agent.request(
            |request_id| ClientFrame::AddParticipant {
                request_id,
                call_id,
                identity: identity.into(),
            },
            &registry::SIGNALING_REQUEST_TIMEOUT,
            "addParticipant",
        )
    }

    /// A renderer of the remote video; each `createView()` counts against the client's limit.
    #[wasm_bindgen(js_name = createRemoteRenderer)]
    pub fn create_remote_renderer(&self) -> VideoStreamRenderer {
        VideoStreamRenderer::new(self.inner.clone())
    }
}

/// A call ringing on this endpoint.
pub(crate) struct IncomingInner {
    agent: Weak<AgentInner>,
    id: String,
    from: String,
    from_participant: String,
    video: bool,
    end_reason: Cell<Option<CallEndReason>>,
    ended_by: RefCell<Option<Ender>>,
    /// Accepted here: its ringing stops without a `stopped` event (the call goes on).
    answered: Cell<bool>,
    emitter: Emitter,
}

impl IncomingInner {
    pub(crate) fn new(
        agent: &Rc<AgentInner>,
        id: String,
        from: String,
        from_participant: String,
        video: bool,
    ) -> Rc<IncomingInner> {
        Rc::new(IncomingInner {
            agent: Rc::downgrade(agent),
            id,
            from,
            from_participant,
            video,
            end_reason: Cell::new(None),
            ended_by: RefCell::new(None),
            answered: Cell::new(false),
            emitter: Emitter::default(),
        })
    }

    pub(crate) fn stopped(&self, reason: CallEndReason, ended_by: Option<Ender>) {
        let quiet =
            self.answered.get() && reason == CallEndReason::of(&registry::CALL_ENDED_LOCALLY);
        if self.end_reason.replace(Some(reason)).is_none() {
            *self.ended_by.borrow_mut() = ended_by;
            if !quiet {
                let payload = end_js(reason, self.ended_by.borrow().as_ref());
                self.emitter.emit("stopped", &payload);
            }
        }
    }
}

/// A call ringing here: accept or reject it, or learn why it stopped (`on('stopped', …)`).
#[wasm_bindgen]
pub struct IncomingCall {
    inner: Rc<IncomingInner>,
}

impl IncomingCall {
    pub(crate) fn wrap(inner: Rc<IncomingInner>) -> IncomingCall {
        IncomingCall { inner }
    }
}

#[wasm_bindgen]
impl IncomingCall {
    /// The call id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.inner.id.clone()
    }

    /// Who calls.
    #[wasm_bindgen(getter)]
    pub fn from(&self) -> String {
        self.inner.from.clone()
    }

    /// Whether the caller started with video.
    #[wasm_bindgen(getter)]
    pub fn video(&self) -> bool {
        self.inner.video
    }

    /// `{code, subCode}` once it stopped ringing here, `null` while it rings.
    #[wasm_bindgen(getter, js_name = callEndReason, unchecked_return_type = "CallEndReason | null")]
    pub fn call_end_reason(&self) -> JsValue {
        self.inner
            .end_reason
            .get()
            .map(reason_js)
            .unwrap_or(JsValue::NULL)
    }

    /// Who stopped it ringing here, as `Call.endedBy`; `null` while it rings.
    #[wasm_bindgen(getter, js_name = endedBy, unchecked_return_type = "EndedBy | null")]
    pub fn ended_by(&self) -> JsValue {
        ended_by_js(self.inner.ended_by.borrow().as_ref())
    }

    /// Registers a handler: `stopped` (with `{code, subCode, endedBy}`).
    pub fn on(&self, event: &str, handler: Function) {
        self.inner.emitter.on(event, handler);
    }

    /// Answers (`{video?: boolean}`); resolves to the `Call`. 41006 when it no longer rings.
    #[wasm_bindgen(unchecked_return_type = "Promise<Call>")]
    pub fn accept(
        &self,
        #[wasm_bindgen(unchecked_param_type = "AcceptOptions | undefined")] options: JsValue,
    ) -> Promise {
        let video = js::member(&options, "video").as_bool().unwrap_or(false);
        let incoming = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let not_ringing = || {
                js::error_js(
                    &CallingError::new(&registry::ACCEPT_NOT_RINGING)
                        .with_context(format!("call {}", incoming.id)),
                )
            };
            if incoming.end_reason.get().is_some() {
                return Err(not_ringing());
            }
            let agent = incoming.agent.upgrade().ok_or_else(not_ringing)?;
            let call = CallInner::new(&agent, "Incoming", incoming.from.clone());
            *call.id.borrow_mut() = Some(incoming.id.clone());
            call.prepare_local_media(video).await;
            if incoming.end_reason.get().is_some() {
                call.finish(CallEndReason::of(&registry::CALL_ENDED_LOCALLY));
                return Err(not_ringing());
            }
            incoming.answered.set(true);
            let answer = match agent.accept(&call, &incoming.id, video) {
                Ok(answer) => answer,
                Err(error) => {
                    incoming.answered.set(false);
                    call.finish(CallEndReason::of(&registry::CALL_ENDED_LOCALLY));
                    return Err(js::error_js(&error));
                }
            };
            if let Err(error) = JsFuture::from(answer).await {
                // The core ended the call with the server's reason, or left it (no answer).
                call.finish(CallEndReason::of(&registry::CALL_ENDED_LOCALLY));
                return Err(error);
            }
            agent.forget_incoming(&incoming.id);
            match call.prepare_relay(agent.options.relay_only).await {
                // A group call's media goes through the media server (`mediaServer` said so, or
                // will, and then drops a connection that did not come up).
                Ok(()) if call.via_server.get() => {}
                Ok(()) => {
                    call.open_peer(incoming.from_participant.clone(), true);
                }
                Err(error) => {
                    // Ended once the page holds the call and its handlers, not before.
                    let ending = call.clone();
                    js::after(0, move || ending.end_with_error(&error));
                }
            }
            Ok(Call::wrap(call).into())
        })
    }

    /// Declines on this endpoint; 41007 when it no longer rings.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn reject(&self) -> Promise {
        if self.inner.end_reason.get().is_some() {
            return rejected(
                &CallingError::new(&registry::REJECT_NOT_RINGING)
                    .with_context(format!("call {}", self.inner.id)),
            );
        }
        let Some(agent) = self.inner.agent.upgrade() else {
            return rejected(&CallingError::new(&registry::CALL_AGENT_DISPOSED));
        };
        agent.reject(&self.inner.id)
    }
}

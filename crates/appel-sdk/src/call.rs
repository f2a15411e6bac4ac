//! A call this agent takes part in: its state, its remote participants, its events and its end.

use appel_client::Ender;
use std::sync::{Arc, Mutex, MutexGuard};

use appel_codes::{registry, CallEndReason, CallingError};
use appel_protocol::{
    CallId, CallState, ClientFrame, IdentityId, ParticipantId, ParticipantInfo, ParticipantState,
};
use tokio::sync::watch;

use appel_client::CallRef;

use crate::errors;
use crate::events::{EventLog, EventStream};
use crate::link::{AgentLink, Command};
use crate::options::{HangUpOptions, MediaState, Timeouts};

/// Who started the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallDirection {
    /// This agent started it.
    Outgoing,
    /// This agent accepted it.
    Incoming,
    /// This agent joined it in progress (by call id, or a room's call).
    Joined,
}

/// Another participant of a call, as this agent last heard of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteParticipant {
    /// Its id in the call.
    pub id: ParticipantId,
    /// Who it is.
    pub identity: IdentityId,
    /// Where it stands (`Disconnected` once it left).
    pub state: ParticipantState,
    /// Why its leg ended, once it left: the same value its own endpoint received.
    pub end_reason: Option<CallEndReason>,
    /// Who ended its leg, once it left and when the server said.
    pub ended_by: Option<Ender>,
}

/// Something that happened to a call.
#[derive(Clone, Debug, PartialEq)]
pub enum CallEvent {
    /// The server confirmed the started call and named it.
    IdAssigned(CallId),
    /// The call's state changed.
    StateChanged(CallState),
    /// Participants joined (or were first heard of) or left; those that left carry their reason.
    RemoteParticipantsUpdated {
        /// New participants.
        added: Vec<RemoteParticipant>,
        /// Participants that left, with `end_reason` set.
        removed: Vec<RemoteParticipant>,
    },
    /// A known participant changed state (ringing, connected, hold…).
    RemoteParticipantStateChanged(RemoteParticipant),
    /// An opaque message (SDP, ICE) from another participant.
    Signal {
        /// The sender.
        from: ParticipantId,
        /// As sent.
        payload: serde_json::Value,
    },
    /// The application's backend muted this participant through the call-control API; the SDK
    /// stops sending its audio ([`Call::unmute`] takes it back).
    MutedByServer,
    /// Media flows through the media server (a group call; see [`Call::media_status`]).
    MediaConnected,
    /// A device of the call failed and the call goes on without it: the microphone at the start
    /// (403/900640, 412/900641, 412/900642), the camera asked for at the start (410/41048, the
    /// camera's own error as raw cause), or either one mid-call (its own error: 412/43000,
    /// 403/43001, 412/43019, 412/900641…). Unmute or start video again once it works.
    DeviceFailed(CallingError),
    /// The call ended for this agent; the last event.
    Ended(CallEndReason),
}

/// What the agent knows of one call; shared by its handles and the session task.
pub(crate) struct CallShared {
    direction: CallDirection,
    video: bool,
    data: Mutex<CallData>,
    events: Arc<EventLog<CallEvent>>,
    end: watch::Sender<Option<CallEndReason>>,
    /// The call's name in the session's protocol core, once the session registered it.
    core_ref: Mutex<Option<CallRef>>,
    /// Its devices and its connection to the media server.
    #[cfg(feature = "media")]
    media: std::sync::OnceLock<Arc<crate::media::CallMedia>>,
    /// A one-to-one call's media task, started only once a third participant appears: most calls
    /// stay one-to-one, and a task per call that only waits costs every call (docs/sdk.md).
    #[cfg(feature = "media")]
    pending_media: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

struct CallData {
    id: Option<CallId>,
    participant_id: Option<ParticipantId>,
    state: CallState,
    remotes: Vec<RemoteParticipant>,
    end_reason: Option<CallEndReason>,
    raw_cause: Option<String>,
    ended_by: Option<Ender>,
    relay: Option<appel_client::relay::RelayCredentials>,
}

impl CallShared {
    pub(crate) fn new(
        direction: CallDirection,
        video: bool,
        id: Option<CallId>,
        participant_id: Option<ParticipantId>,
    ) -> Arc<Self> {
        let events = EventLog::new();
        events.push(CallEvent::StateChanged(CallState::Connecting));
        Arc::new(CallShared {
            direction,
            video,
            data: Mutex::new(CallData {
                id,
                participant_id,
                state: CallState::Connecting,
                remotes: Vec::new(),
                end_reason: None,
                raw_cause: None,
                ended_by: None,
                relay: None,
            }),
            events,
            end: watch::channel(None).0,
            core_ref: Mutex::new(None),
            #[cfg(feature = "media")]
            media: std::sync::OnceLock::new(),
            #[cfg(feature = "media")]
            pending_media: Mutex::new(None),
        })
    }

    /// Keeps `start` until the call has a second remote participant, then runs it; at once if it
    /// already has.
    #[cfg(feature = "media")]
    pub(crate) fn start_media_with_a_third(&self, start: Box<dyn FnOnce() + Send>) {
        if self.remote_count() >= 2 {
            start();
        } else if let Ok(mut slot) = self.pending_media.lock() {
            *slot = Some(start);
        }
        // A participant may have arrived between the count and the store.
        self.start_pending_media();
    }

    #[cfg(feature = "media")]
    fn start_pending_media(&self) {
        if self.remote_count() < 2 || self.is_ended() {
            return;
        }
        let start = self
            .pending_media
            .lock()
            .ok()
            .and_then(|mut slot| slot.take());
        if let Some(start) = start {
            start();
        }
    }

    #[cfg(feature = "media")]
    pub(crate) fn set_media(&self, media: Arc<crate::media::CallMedia>) {
        let _ = self.media.set(media);
    }

    #[cfg(feature = "media")]
    pub(crate) fn media(&self) -> Option<&Arc<crate::media::CallMedia>> {
        self.media.get()
    }

    /// Every event so far, then live ones.
    #[cfg(feature = "media")]
    pub(crate) fn events_stream(&self) -> EventStream<CallEvent> {
        self.events.stream()
    }

    /// An event of the call's media (ignored once the call ended).
    #[cfg(feature = "media")]
    pub(crate) fn push_event(&self, event: CallEvent) {
        if !self.is_ended() {
            self.events.push(event);
        }
    }

    /// How many other participants were heard of, gone or not.
    #[cfg(feature = "media")]
    pub(crate) fn remote_count(&self) -> usize {
        self.data().remotes.len()
    }

    pub(crate) fn set_core_ref(&self, call: CallRef) {
        if let Ok(mut slot) = self.core_ref.lock() {
            *slot = Some(call);
        }
    }

    pub(crate) fn core_ref(&self) -> Option<CallRef> {
        self.core_ref.lock().ok().and_then(|slot| *slot)
    }

    fn data(&self) -> MutexGuard<'_, CallData> {
        // A panic while holding this lock leaves plain data behind, still fine to read.
        self.data
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn id(&self) -> Option<CallId> {
        self.data().id.clone()
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.data().end_reason.is_some()
    }

    pub(crate) fn set_relay(&self, credentials: Option<appel_client::relay::RelayCredentials>) {
        self.data().relay = credentials;
    }

    /// Binds the call to the id the server chose; `false` when it already ended.
    pub(crate) fn assign_id(&self, id: CallId, participant: ParticipantId) -> bool {
        let mut data = self.data();
        data.id = Some(id.clone());
        data.participant_id = Some(participant);
        if data.end_reason.is_some() {
            return false;
        }
        drop(data);
        self.events.push(CallEvent::IdAssigned(id));
        true
    }

    pub(crate) fn set_state(&self, state: CallState) {
        let mut data = self.data();
        if data.end_reason.is_some() || data.state == state || state == CallState::Disconnected {
            // Disconnected comes with the end reason, through `finish`.
            return;
        }
        data.state = state;
        drop(data);
        self.events.push(CallEvent::StateChanged(state));
    }

    pub(crate) fn participant_updated(&self, info: ParticipantInfo) {
        let mut data = self.data();
        if data.end_reason.is_some() {
            return;
        }
        let event = match data.remotes.iter_mut().find(|r| r.id == info.id) {
            Some(known) if known.state == info.state => return,
            Some(known) => {
                known.state = info.state;
                known.end_reason = None;
                known.ended_by = None;
                CallEvent::RemoteParticipantStateChanged(known.clone())
            }
            None => {
                let added = RemoteParticipant {
                    id: info.id,
                    identity: info.identity,
                    state: info.state,
                    end_reason: None,
                    ended_by: None,
                };
                data.remotes.push(added.clone());
                CallEvent::RemoteParticipantsUpdated {
                    added: vec![added],
                    removed: Vec::new(),
                }
            }
        };
        drop(data);
        self.events.push(event);
        #[cfg(feature = "media")]
        self.start_pending_media();
    }

    pub(crate) fn participant_left(
        &self,
        id: ParticipantId,
        identity: IdentityId,
        reason: CallEndReason,
        ended_by: Option<Ender>,
    ) {
        let mut data = self.data();
        let removed = match data.remotes.iter_mut().find(|r| r.id == id) {
            Some(known) if known.state == ParticipantState::Disconnected => return,
            Some(known) => {
                known.state = ParticipantState::Disconnected;
                known.end_reason = Some(reason);
                known.ended_by = ended_by;
                known.clone()
            }
            None => {
                let gone = RemoteParticipant {
                    id,
                    identity,
                    state: ParticipantState::Disconnected,
                    end_reason: Some(reason),
                    ended_by,
                };
                data.remotes.push(gone.clone());
                gone
            }
        };
        drop(data);
        self.events.push(CallEvent::RemoteParticipantsUpdated {
            added: Vec::new(),
            removed: vec![removed],
        });
    }

    pub(crate) fn muted_by_server(&self) {
        #[cfg(feature = "media")]
        if let Some(media) = self.media() {
            media.muted_by_server();
        }
        if !self.is_ended() {
            self.events.push(CallEvent::MutedByServer);
        }
    }

    pub(crate) fn signal(&self, from: ParticipantId, payload: serde_json::Value) {
        self.events.push(CallEvent::Signal { from, payload });
    }

    /// Ends the call with `reason` decided by this agent; `false` when it had already ended (the
    /// first reason stays).
    pub(crate) fn finish(&self, reason: CallEndReason, raw_cause: Option<String>) -> bool {
        self.finish_by(reason, raw_cause, Some(Ender::This))
    }

    /// Ends the call with `reason`, ended by `ended_by`; `false` when it had already ended.
    pub(crate) fn finish_by(
        &self,
        reason: CallEndReason,
        raw_cause: Option<String>,
        ended_by: Option<Ender>,
    ) -> bool {
        let mut data = self.data();
        if data.end_reason.is_some() {
            return false;
        }
        data.end_reason = Some(reason);
        data.raw_cause = raw_cause;
        data.ended_by = ended_by;
        data.state = CallState::Disconnected;
        drop(data);
        self.events
            .push(CallEvent::StateChanged(CallState::Disconnected));
        self.events.push(CallEvent::Ended(reason));
        self.events.close();
        self.end.send_replace(Some(reason));
        true
    }
}

/// A call this agent started or accepted. Cloning gives another handle to the same call.
#[derive(Clone)]
pub struct Call {
    shared: Arc<CallShared>,
    link: AgentLink,
    timeouts: Timeouts,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("id", &self.id())
            .field("direction", &self.direction())
            .field("state", &self.state())
            .field("end_reason", &self.end_reason())
            .finish()
    }
}

impl Call {
    pub(crate) fn new(shared: Arc<CallShared>, link: AgentLink, timeouts: Timeouts) -> Self {
        Call {
            shared,
            link,
            timeouts,
        }
    }

    /// The call's id; `None` for a started call until the server confirms it
    /// ([`CallEvent::IdAssigned`]).
    pub fn id(&self) -> Option<CallId> {
        self.shared.id()
    }

    /// This agent's participant id in the call, once known.
    pub fn participant_id(&self) -> Option<ParticipantId> {
        self.shared.data().participant_id.clone()
    }

    /// The call's state as this agent sees it.
    pub fn state(&self) -> CallState {
        self.shared.data().state
    }

    /// Whether this agent started or accepted the call.
    pub fn direction(&self) -> CallDirection {
        self.shared.direction
    }

    /// Whether the call was started or accepted with video.
    pub fn video(&self) -> bool {
        self.shared.video
    }

    /// Every remote participant heard of, including those that left (state `Disconnected`, with
    /// their own end reason).
    pub fn remote_participants(&self) -> Vec<RemoteParticipant> {
        self.shared.data().remotes.clone()
    }

    /// Why the call ended, once it has.
    pub fn end_reason(&self) -> Option<CallEndReason> {
        self.shared.data().end_reason
    }

    /// Who ended the call, once it has: [`Ender::This`] for this agent's own hang-up (or an end
    /// the SDK decided here), another participant with its id and identity, the call-control API,
    /// or the server; `None` when the server did not say (an older server).
    pub fn ended_by(&self) -> Option<Ender> {
        self.shared.data().ended_by.clone()
    }

    /// The protocol cause behind the end reason, when the server (or the SDK) gave one.
    pub fn end_raw_cause(&self) -> Option<String> {
        self.shared.data().raw_cause.clone()
    }

    /// Every event of the call since it began, then live ones; ends after [`CallEvent::Ended`].
    pub fn events(&self) -> EventStream<CallEvent> {
        self.shared.events.stream()
    }

    /// Waits until the call ends and gives the reason.
    pub async fn ended(&self) -> CallEndReason {
        let mut end = self.shared.end.subscribe();
        loop {
            if let Some(reason) = *end.borrow_and_update() {
                return reason;
            }
            if end.changed().await.is_err() {
                // The sender lives in `shared`, which this handle keeps alive.
                continue;
            }
        }
    }

    /// The relay (TURN) credentials and ICE server urls fetched for this call's media when the
    /// agent uses the relay ([`crate::RelayMode`]); `None` otherwise or before they arrived. They
    /// expire at [`crate::RelayCredentials::expires_at`].
    pub fn relay_credentials(&self) -> Option<crate::RelayCredentials> {
        self.shared.data().relay.clone()
    }

    /// Ends the call for this agent with `error`'s reason and leaves it on the server: a call
    /// whose media path could not be set up (490/4502 after an accept).
    pub(crate) async fn leave_with(&self, error: &CallingError) {
        self.shared
            .finish(error.as_reason(), error.raw_cause().map(str::to_owned));
        if let Some(call_id) = self.id() {
            let _ = self
                .link
                .request(
                    move |request_id| ClientFrame::HangUp {
                        request_id,
                        call_id,
                        for_everyone: false,
                    },
                    self.timeouts.request,
                )
                .await;
        }
        self.link.command(Command::Ended(self.shared.clone()));
    }

    /// Leaves the call, or ends it for everyone. The call ends for this agent (0/0) even when the
    /// server cannot be told; the error then says so (900401). Hanging up an ended call does nothing.
    /// Ending it for everyone is for the organizer only (403/900500 otherwise) and never in a room
    /// (403/900501); such a refusal leaves the call going on.
    pub async fn hang_up(&self, options: HangUpOptions) -> Result<(), CallingError> {
        if self.shared.is_ended() {
            return Ok(());
        }
        let local = CallEndReason::of(&registry::CALL_ENDED_LOCALLY);
        let Some(call_id) = self.id() else {
            // Not confirmed yet: the session hangs it up as soon as `callCreated` arrives.
            self.shared.finish(local, None);
            self.link.command(Command::Ended(self.shared.clone()));
            return Ok(());
        };
        let timeout = self.timeouts.request;
        let answer = self
            .link
            .request(
                {
                    let call_id = call_id.clone();
                    move |request_id| ClientFrame::HangUp {
                        request_id,
                        call_id,
                        for_everyone: options.for_everyone,
                    }
                },
                timeout,
            )
            .await;
        // A refused end-for-everyone leaves the call going on, for this agent too.
        if let Ok(Err(error)) = &answer {
            if error.is(&registry::END_FOR_EVERYONE_NOT_ALLOWED)
                || error.is(&registry::ROOM_END_FOR_EVERYONE_REFUSED)
            {
                return Err(error.clone());
            }
        }
        self.shared.finish(local, None);
        self.link.command(Command::Ended(self.shared.clone()));
        match answer {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) if error.is(&registry::CALL_OPERATION_UNKNOWN_CALL) => Ok(()),
            Ok(Err(error)) => Err(error),
            Err(why) => Err(errors::no_answer(
                &registry::SIGNALING_REQUEST_TIMEOUT,
                why,
                &format!("hang up call {call_id}"),
                timeout,
            )),
        }
    }

    /// Puts the call on hold; 41033 when the server does not confirm in time.
    pub async fn hold(&self) -> Result<(), CallingError> {
        self.hold_or_resume(true).await
    }

    /// Takes the call off hold; 41034 when the server does not confirm in time.
    pub async fn resume(&self) -> Result<(), CallingError> {
        self.hold_or_resume(false).await
    }

    async fn hold_or_resume(&self, hold: bool) -> Result<(), CallingError> {
        let (operation, entry) = if hold {
            ("hold", &registry::HOLD_FAILED)
        } else {
            ("resume", &registry::RESUME_FAILED)
        };
        let call_id = self.active_id(operation)?;
        let timeout = self.timeouts.hold;
        let answer = self
            .link
            .request(
                {
                    let call_id = call_id.clone();
                    move |request_id| {
                        if hold {
                            ClientFrame::Hold {
                                request_id,
                                call_id,
                            }
                        } else {
                            ClientFrame::Resume {
                                request_id,
                                call_id,
                            }
                        }
                    }
                },
                timeout,
            )
            .await;
        match answer {
            Ok(result) => result,
            Err(why) => Err(errors::no_answer(
                entry,
                why,
                &format!("{operation} call {call_id}"),
                timeout,
            )),
        }
    }

    /// Rings `identity` into this call; it then appears among the remote participants and, if it
    /// does not join, leaves with the reason a call started to it would have had (480/10037,
    /// 603/0, 487/10004…).
    pub async fn add_participant(&self, identity: &IdentityId) -> Result<(), CallingError> {
        let call_id = self.active_id("add_participant")?;
        let identity = identity.clone();
        self.request("add participant", move |request_id| {
            ClientFrame::AddParticipant {
                request_id,
                call_id: call_id.clone(),
                identity: identity.clone(),
            }
        })
        .await
    }

    /// Removes another participant from the call: it sees 0/5000. In a room, only a Presenter may
    /// (403/900504 otherwise).
    pub async fn remove_participant(
        &self,
        participant: &ParticipantId,
    ) -> Result<(), CallingError> {
        let call_id = self.active_id("remove_participant")?;
        let participant = participant.clone();
        self.request("remove participant", move |request_id| {
            ClientFrame::RemoveParticipant {
                request_id,
                call_id: call_id.clone(),
                participant_id: participant.clone(),
            }
        })
        .await
    }

    /// Declares what this agent is about to send. In a room the server refuses audio and video to a
    /// Consumer (403/900502) and screen sharing to an Attendee or a Consumer (403/900503).
    pub async fn set_media_state(&self, state: MediaState) -> Result<(), CallingError> {
        let call_id = self.active_id("set_media_state")?;
        self.request("set media state", move |request_id| {
            ClientFrame::MediaState {
                request_id,
                call_id: call_id.clone(),
                audio: state.audio,
                video: state.video,
                screen_share: state.screen_share,
            }
        })
        .await
    }

    /// Where the call's connection to the media server stands (group calls connect by
    /// themselves once joined).
    #[cfg(feature = "media")]
    pub fn media_status(&self) -> crate::media::MediaStatus {
        self.shared
            .media()
            .map(|m| m.status())
            .unwrap_or(crate::media::MediaStatus::Off)
    }

    /// The local UDP address of the call's media connection, once opened.
    #[cfg(feature = "media")]
    pub fn media_address(&self) -> Option<std::net::SocketAddr> {
        self.shared.media().and_then(|m| m.address())
    }

    /// What arrived so far from each remote participant, per stream (audio, video): packets,
    /// frames, bytes and when the last frame came.
    #[cfg(feature = "media")]
    pub fn remote_streams(&self) -> Vec<crate::media::RemoteStream> {
        self.shared
            .media()
            .map(|m| m.remote_streams())
            .unwrap_or_default()
    }

    /// How many frames of `kind` this call sent to the media server so far.
    #[cfg(feature = "media")]
    pub fn sent_frames(&self, kind: crate::media::StreamKind) -> u64 {
        self.shared.media().map_or(0, |m| m.sent_frames(kind))
    }

    /// Whether the microphone is muted (by [`Call::mute`], or by the call-control API:
    /// [`CallEvent::MutedByServer`]).
    #[cfg(feature = "media")]
    pub fn is_muted(&self) -> bool {
        self.shared.media().is_some_and(|m| m.is_muted())
    }

    /// Whether the call captures sound: a microphone opened and not failed since (muted or not).
    #[cfg(feature = "media")]
    pub fn has_microphone(&self) -> bool {
        self.shared.media().is_some_and(|m| m.has_microphone())
    }

    /// Whether video is sent.
    #[cfg(feature = "media")]
    pub fn is_video_on(&self) -> bool {
        self.local_video_stream().is_some()
    }

    /// The video stream sent, if any.
    #[cfg(feature = "media")]
    pub fn local_video_stream(&self) -> Option<crate::LocalVideoStream> {
        self.shared.media().and_then(|m| m.video_stream())
    }

    /// Mutes the microphone: nothing more is sent and the server holds back the audio (a
    /// `mediaState`). 500/41015 when the call has no live microphone; the server's refusal or
    /// 408/900401 when it does not confirm (the microphone stays muted here either way).
    #[cfg(feature = "media")]
    pub async fn mute(&self) -> Result<(), CallingError> {
        let call_id = self.active_id("mute")?;
        let media = self.local_media(&registry::MUTE_FAILED)?;
        media.set_muted(true)?;
        self.declare_media(call_id, &media, "mute").await
    }

    /// Unmutes the microphone, opening it again if it had failed. 400/41016 when it cannot
    /// capture (the device's own error as raw cause); the server's refusal (403/900502 for a
    /// room Consumer) leaves it muted.
    #[cfg(feature = "media")]
    pub async fn unmute(&self) -> Result<(), CallingError> {
        let call_id = self.active_id("unmute")?;
        let media = self.local_media(&registry::UNMUTE_FAILED)?;
        let was_muted = media.set_muted(false)?;
        let declared = self.declare_media(call_id, &media, "unmute").await;
        if declared.is_err() {
            media.restore(was_muted, media.video_stream());
        }
        declared
    }

    /// Sends video: `stream`, or the first camera's. 400/41027 when video is already sent,
    /// 400/41025 for a stream of another client's devices, 412/43013 with no camera at all, the
    /// camera's own error otherwise (412/43019 unplugged, 412/43000 in use, 403/43001 refused);
    /// the server's refusal (403/900502 for a room Consumer) leaves video off.
    #[cfg(feature = "media")]
    pub async fn start_video(
        &self,
        stream: Option<crate::LocalVideoStream>,
    ) -> Result<crate::LocalVideoStream, CallingError> {
        let call_id = self.active_id("start_video")?;
        let media = self.local_media(&registry::START_VIDEO_UNKNOWN_FAILURE)?;
        let started = media.start_video(stream)?;
        if let Err(error) = self.declare_media(call_id, &media, "start_video").await {
            media.restore(media.is_muted(), None);
            return Err(error);
        }
        Ok(started)
    }

    /// Stops sending video. 400/41030 when none is sent; 400/41032 when `stream` is not the one
    /// sent.
    #[cfg(feature = "media")]
    pub async fn stop_video(
        &self,
        stream: Option<&crate::LocalVideoStream>,
    ) -> Result<(), CallingError> {
        let call_id = self.active_id("stop_video")?;
        let media = self.local_media(&registry::VIDEO_ALREADY_STOPPED)?;
        media.stop_video(stream)?;
        self.declare_media(call_id, &media, "stop_video").await
    }

    #[cfg(feature = "media")]
    fn local_media(
        &self,
        entry: &'static appel_codes::Entry,
    ) -> Result<Arc<crate::media::CallMedia>, CallingError> {
        self.shared
            .media()
            .cloned()
            .ok_or_else(|| CallingError::new(entry).with_context("this call has no local media"))
    }

    /// Tells the server what the call sends now (`mediaState`).
    #[cfg(feature = "media")]
    async fn declare_media(
        &self,
        call_id: CallId,
        media: &crate::media::CallMedia,
        operation: &str,
    ) -> Result<(), CallingError> {
        let (audio, video) = media.sending();
        self.request(operation, move |request_id| ClientFrame::MediaState {
            request_id,
            call_id,
            audio,
            video,
            screen_share: false,
        })
        .await
    }

    async fn request(
        &self,
        operation: &str,
        frame: impl FnOnce(u64) -> ClientFrame + Send + 'static,
    ) -> Result<(), CallingError> {
        let timeout = self.timeouts.request;
        match self.link.request(frame, timeout).await {
            Ok(result) => result,
            Err(why) => Err(errors::no_answer(
                &registry::SIGNALING_REQUEST_TIMEOUT,
                why,
                operation,
                timeout,
            )),
        }
    }

    /// Tells the server this agent's media is connected. Needed only with
    /// [`crate::CallAgentOptions::manual_media_ready`]; an accepted call whose media never becomes
    /// ready ends with 408/10057.
    pub fn media_ready(&self) -> Result<(), CallingError> {
        let call_id = self.active_id("mediaReady")?;
        self.send(ClientFrame::MediaReady { call_id }, "mediaReady")
    }

    /// Relays an opaque message (SDP, ICE candidate) to one participant, or to all others.
    pub fn send_signal(
        &self,
        to: Option<ParticipantId>,
        payload: serde_json::Value,
    ) -> Result<(), CallingError> {
        let call_id = self.active_id("signal")?;
        self.send(
            ClientFrame::Signal {
                call_id,
                to,
                payload,
            },
            "signal",
        )
    }

    fn send(&self, frame: ClientFrame, operation: &str) -> Result<(), CallingError> {
        if self.link.command(Command::Send(frame)) {
            Ok(())
        } else {
            Err(errors::disposed(operation))
        }
    }

    /// The id of a call that has not ended, or the error of acting on it.
    fn active_id(&self, operation: &str) -> Result<CallId, CallingError> {
        if self.link.is_disposed() {
            return Err(errors::disposed(operation));
        }
        let data = self.shared.data();
        if let Some(reason) = data.end_reason {
            return Err(CallingError::new(&registry::CALL_OPERATION_UNKNOWN_CALL)
                .with_context(format!("{operation}: the call ended with {reason}")));
        }
        data.id.clone().ok_or_else(|| {
            CallingError::new(&registry::CALL_OPERATION_INVALID_STATE).with_context(format!(
                "{operation}: the server has not confirmed the call yet"
            ))
        })
    }
}

//! What the controller asks the shell to do.

use std::collections::VecDeque;

use appel_codes::CallingError;
use appel_protocol::{CallId, IdentityId, ParticipantId, ServerFrame};

use crate::endpoint::EndpointKey;
use crate::records::RecordEvent;

/// One output of the controller, drained with [`crate::Controller::poll_action`] in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Send a frame to a connected endpoint (the controller never addresses a dropped one).
    Send {
        /// The endpoint.
        endpoint: EndpointKey,
        /// The frame.
        frame: ServerFrame,
    },
    /// Send `error` as a fatal `error` frame and close the connection. The controller has already
    /// forgotten the endpoint; a later `EndpointClosed` or `EndpointLost` for it is ignored.
    Close {
        /// The endpoint.
        endpoint: EndpointKey,
        /// Why (401/10009 `UNAUTHENTICATED` for an expired or revoked token).
        error: CallingError,
    },
    /// POST a push notice of an incoming call to `url`, then feed
    /// [`crate::Input::PushDelivered`] with the outcome.
    Push {
        /// The identity to wake.
        identity: IdentityId,
        /// Its push URL.
        url: String,
        /// The call that rings.
        call: CallId,
        /// Who calls.
        from: IdentityId,
    },
    /// Persist that `identity` has registered (it connected for the first time).
    MarkRegistered {
        /// The identity.
        identity: IdentityId,
    },
    /// Store a fact in the call records.
    Record(RecordEvent),
    /// Give the media server this participant's SDP offer; report the answer (or the refusal) with
    /// [`crate::Input::Media`], echoing `request_id`.
    MediaJoin {
        /// The call (the media server's session).
        call: CallId,
        /// The participant.
        participant: ParticipantId,
        /// The `mediaOffer` to answer.
        request_id: u64,
        /// Its SDP offer.
        sdp: String,
        /// Whether its tracks may be forwarded (its room role may send media).
        publish: bool,
        /// Whether its audio is held back from the start (see [`Action::MediaMute`]).
        audio_muted: bool,
    },
    /// Stop (or resume) forwarding the participant's audio: its `mediaState` turned the microphone
    /// off (or on), or the call-control API muted it.
    MediaMute {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
        /// Held back when true.
        muted: bool,
    },
    /// Give the media server the participant's answer to the server's last `mediaOffer`.
    MediaAnswer {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
        /// Its SDP answer.
        sdp: String,
    },
    /// The participant renders `publisher`'s video at `width`×`height` (0 for either: paused);
    /// the media server answers with [`crate::MediaReport::Viewed`].
    MediaView {
        /// The call.
        call: CallId,
        /// The subscriber.
        participant: ParticipantId,
        /// Its `mediaView`, to answer.
        request_id: u64,
        /// Whose video.
        publisher: ParticipantId,
        /// Rendered width in pixels.
        width: u32,
        /// Rendered height in pixels.
        height: u32,
    },
    /// The participant's leg ended: the media server closes its peer connection and withdraws its
    /// tracks from the others.
    MediaLeave {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
    },
}

/// The queue of actions, in the order they were decided.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    queue: VecDeque<Action>,
}

impl Outbox {
    pub(crate) fn push(&mut self, action: Action) {
        self.queue.push_back(action);
    }

    pub(crate) fn send(&mut self, endpoint: &EndpointKey, frame: ServerFrame) {
        self.queue.push_back(Action::Send {
            endpoint: endpoint.clone(),
            frame,
        });
    }

    pub(crate) fn record(&mut self, event: RecordEvent) {
        self.queue.push_back(Action::Record(event));
    }

    pub(crate) fn pop(&mut self) -> Option<Action> {
        self.queue.pop_front()
    }
}

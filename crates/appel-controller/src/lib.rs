//! Appel's call controller: a sans-IO state machine that owns calls, participants, ringing
//! endpoints and timers.
//!
//! The controller does no I/O and reads no clock. The shell (the server's async layer) feeds it
//! [`Input`]s with the current [`Instant`], drains [`Action`]s after every call, and calls
//! [`Controller::handle_timeout`] when [`Controller::poll_timeout`] is due, in the manner of
//! `quinn-proto` and `str0m`. Tests drive it with a clock they advance by hand.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use appel_controller::{Action, Controller, ControllerConfig, EndpointKey, Input};
//! use appel_protocol::{ClientFrame, ServerFrame};
//!
//! let mut controller = Controller::new(ControllerConfig::default());
//! let now = Instant::now();
//! controller.handle(now, Input::EndpointOnline {
//!     endpoint: EndpointKey::new("alice", "alice-laptop"),
//!     ever_registered: true,
//!     token_expires_at: now + Duration::from_secs(3600),
//!     push_url: None,
//!     resume: false,
//! });
//! controller.handle(now, Input::Frame {
//!     endpoint: EndpointKey::new("alice", "alice-laptop"),
//!     frame: ClientFrame::StartCall {
//!         request_id: 1,
//!         targets: vec!["bob".into()],
//!         video: false,
//!         joinable: false,
//!     },
//! });
//! let mut created = false;
//! while let Some(action) = controller.poll_action() {
//!     if let Action::Send { frame: ServerFrame::CallCreated { request_id: 1, .. }, .. } = action {
//!         created = true;
//!     }
//! }
//! assert!(created);
//! ```
//!
//! Every outcome is a catalogue entry: errors answering a request are [`appel_codes::CallingError`]s
//! and every end of a call or leg carries an [`appel_codes::CallEndReason`], the same value for the
//! endpoint that ended, for every other participant (`participantLeft`) and for the records.

mod action;
mod call;
mod config;
mod control;
mod controller;
mod directory;
mod endpoint;
mod ids;
mod input;
mod records;
mod ringing;
mod rooms;
mod timers;

pub use action::Action;
pub use config::ControllerConfig;
pub use control::{CallSnapshot, Control, ParticipantSnapshot, Presence};
pub use controller::Controller;
pub use endpoint::EndpointKey;
pub use input::{Input, MediaReport};
pub use records::{RecordEvent, TimelineKind};
pub use rooms::{IdentityKind, RoomRole, RoomSpec};

#[doc(no_inline)]
pub use std::time::Instant;

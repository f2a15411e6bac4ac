//! Appel's signaling protocol: the JSON frames an SDK and the server exchange over a WebSocket.
//!
//! Every frame is one JSON object whose `type` field names it; the other fields are camelCase.
//! [`ClientFrame`] travels from the SDK to the server, [`ServerFrame`] the other way. The first client
//! frame of a connection is always [`ClientFrame::Hello`], answered by [`ServerFrame::Welcome`].
//!
//! ```
//! use appel_protocol::{parse_client_frame, ClientFrame};
//!
//! let frame = parse_client_frame(r#"{"type":"hold","requestId":7,"callId":"c1"}"#).unwrap();
//! assert!(matches!(frame, ClientFrame::Hold { request_id: 7, .. }));
//!
//! let error = parse_client_frame(r#"{"type":"teleport"}"#).unwrap_err();
//! assert!(error.is(&appel_codes::registry::UNKNOWN_FRAME_TYPE));
//! ```
//!
//! Requests that expect an answer carry a client-chosen `requestId`; the server answers each with
//! [`ServerFrame::Ack`] (or a more specific confirmation such as [`ServerFrame::CallCreated`]) or
//! with [`ServerFrame::Error`] carrying the same `requestId`. `docs/protocol.md` describes every frame.
//!
//! The crate depends only on serde and the catalogue, so it builds for `wasm32-unknown-unknown`.

mod client;
mod ended_by;
pub mod federated;
mod ids;
mod parse;
mod server;
mod state;

pub use client::{ClientFrame, PushRegistration, ReportKind};
pub use ended_by::{EndedBy, ServerCause};
pub use ids::{CallId, EndpointId, IdentityId, ParticipantId};
pub use parse::{parse_client_frame, parse_server_frame};
pub use server::ServerFrame;
pub use state::{CallState, ParticipantInfo, ParticipantMedia, ParticipantState, ResumedCall};

/// The protocol version this crate speaks; sent in `hello` and `welcome`.
pub const PROTOCOL_VERSION: u16 = 1;

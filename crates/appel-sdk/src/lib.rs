//! The native Rust SDK of Appel: sign an identity in, place and receive calls, and learn why every
//! call ended — each outcome a catalogue entry of [`appel_codes`].
//!
//! ```no_run
//! use appel_sdk::{CallAgentOptions, CallClient, CallClientOptions, IdentityId, StartCallOptions, TokenCredential};
//!
//! # async fn run() -> Result<(), appel_sdk::CallingError> {
//! let client = CallClient::new(CallClientOptions::default());
//! let agent = client
//!     .create_call_agent(TokenCredential::new("<token>"), CallAgentOptions::new("http://127.0.0.1:8080"))
//!     .await?;
//! let call = agent.start_call(&[IdentityId::from("<callee>")], StartCallOptions::default())?;
//! let reason = call.ended().await;
//! println!("ended with {reason}: {}", reason.entry().name);
//! agent.dispose().await;
//! # Ok(()) }
//! ```
//!
//! - [`CallClient`] creates [`CallAgent`]s, one per identity at a time (40228 otherwise).
//! - A [`CallAgent`] starts [`Call`]s and yields [`IncomingCall`]s; it reconnects by itself after a
//!   dropped connection and keeps its calls for the reconnect grace (then they end with 496/7).
//! - A [`Call`] has a state, remote participants (each with its own end reason once gone), an event
//!   stream and an end reason.
//! - [`TokenCredential`] holds a static token or renews it through an async refresher.
//! - With the `media` feature (on by default), a group call or a room's call carries its audio and
//!   video through the media server by itself, from the devices of the client's `DeviceManager`
//!   (virtual microphones and cameras in this build), and counts what it receives per remote
//!   participant and stream; device operations fail with the catalogue's entries for the devices'
//!   state.
//!
//! Every operation is bounded by a timeout of [`Timeouts`] that maps to a catalogue entry, so none
//! can hang. `docs/sdk.md` is the guide.
//!
//! The protocol decisions (request ids and timeouts, call setup, token refresh, reconnect and its
//! grace) are made by the sans-IO core of `appel-client`, which the browser SDK is to share; this
//! crate is its tokio shell: the socket, the clock, the tasks and the handles.

mod agent;
mod call;
mod client;
mod credential;
mod errors;
mod events;
mod federated;
mod incoming;
mod jwt;
mod link;
#[cfg(feature = "media")]
mod media;
mod options;
mod relay;
mod session;
mod transport;

pub use agent::{CallAgent, ConnectionState};
pub use appel_client::relay::{IceServer, RelayCredentials};
pub use appel_client::Ender;
pub use appel_protocol::federated::{federated_identity, is_federated, parse_federated_identity};
pub use call::{Call, CallDirection, CallEvent, RemoteParticipant};
pub use client::CallClient;
pub use credential::{TokenCredential, TokenRefresher, DEFAULT_REFRESH_LEAD};
pub use events::EventStream;
pub use federated::FederatedCallAgent;
pub use incoming::IncomingCall;
#[cfg(feature = "media")]
pub use media::devices::{
    AudioDeviceInfo, DeviceFailure, DeviceManager, LocalVideoStream, VideoDeviceInfo, VirtualDevice,
};
#[cfg(feature = "media")]
pub use media::{is_opus_frame, is_vp8_frame, MediaStatus, RemoteStream, StreamKind};
pub use options::{
    AcceptOptions, CallAgentOptions, CallClientOptions, HangUpOptions, JoinCallOptions, MediaState,
    ReconnectPolicy, RelayMode, StartCallOptions, Timeouts,
};

pub use appel_codes::{CallEndReason, CallingError, Locale, ResultCategory};
pub use appel_protocol::{
    CallId, CallState, EndpointId, IdentityId, ParticipantId, ParticipantState, ServerCause,
};

//! The client's protocol core, sans-IO: everything an Appel endpoint decides — which request waits
//! for which answer and until when, which calls and ringing calls exist and how the server's frames
//! change them, when to refresh the token, when to reconnect and when the reconnect grace ends —
//! with no socket, task or clock of its own. A shell (the native tokio SDK, a browser shell over
//! the page's WebSocket and timers) feeds it the time and what happened, drains its outputs and
//! wakes it at its next timeout:
//!
//! ```
//! use std::time::Duration;
//! use appel_client::{Config, Core, Now, Instant, Output, ReconnectPolicy, TokenPolicy, Welcome};
//! use appel_protocol::{EndpointId, ServerFrame};
//!
//! let config = Config {
//!     endpoint_id: EndpointId::new("laptop"),
//!     push_url: None,
//!     manual_media_ready: false,
//!     call_establishment: Duration::from_secs(85),
//!     request_timeout: Duration::from_secs(10),
//!     reconnect: ReconnectPolicy::default(),
//!     token: TokenPolicy { can_refresh: false, proactive: false, lead: Duration::from_secs(600) },
//!     random_seed: 7,
//! };
//! let now = Now { at: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
//! let welcome = Welcome {
//!     heartbeat: Duration::from_secs(15),
//!     token_expires_unix_ms: now.unix_ms + 3_600_000,
//!     resumed_calls: Vec::new(),
//!     client_reports: true,
//! };
//! let mut core = Core::new(config, now, "<token>".into(), welcome);
//! core.frame(now, ServerFrame::Ping);
//! assert!(matches!(core.poll_output(), Some(Output::Send(_)))); // the pong
//! assert_eq!(core.poll_timeout(), Some(Instant::from_millis(15_000))); // the next ping
//! ```
//!
//! Its time is [`Instant`] (milliseconds from the shell's origin) because `std::time::Instant`
//! cannot be read in a browser. Nothing here waits: tests drive every timer on a made-up clock.

mod core;
mod ender;
mod errors;
mod reconnect;
pub mod relay;
mod time;
mod token;

pub use crate::core::{
    CallRef, Config, ConnectionState, Core, Event, NoAnswer, Output, Remote, Welcome,
    SILENT_INTERVALS,
};
pub use ender::Ender;
pub use errors::{disposed, no_answer};
pub use reconnect::{Reconnect, ReconnectDue, ReconnectPolicy};
pub use time::{Instant, Now};
pub use token::{TokenDue, TokenPolicy, TokenSchedule, MIN_REFRESH_RETRY};

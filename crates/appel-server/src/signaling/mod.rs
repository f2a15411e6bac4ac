//! The WebSocket signaling endpoint: the handshake, then one task per connection that relays frames
//! between the socket and the controller task.

mod connection;
mod handshake;

use appel_codes::{registry, CallingError};
use axum::extract::ws::{rejection::WebSocketUpgradeRejection, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::http::problem::ApiError;
use crate::state::AppState;

/// Frames above `max_frame_bytes` but below this cap are refused one by one (900001) and the
/// connection goes on; above it the WebSocket layer itself gives up on the connection.
fn hard_cap(max_frame_bytes: usize) -> usize {
    max_frame_bytes.saturating_mul(4).max(1 << 20)
}

/// `GET /signaling`: upgrades to a WebSocket and hands it to a connection task.
pub async fn upgrade(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return ApiError(
                CallingError::new(&registry::INVALID_REQUEST)
                    .with_context("GET /signaling must be a WebSocket upgrade")
                    .with_raw_cause(rejection.body_text()),
            )
            .into_response()
        }
    };
    let cap = hard_cap(state.config().signaling.max_frame_bytes);
    upgrade
        .max_message_size(cap)
        .max_frame_size(cap)
        .on_upgrade(move |socket| connection::run(socket, state))
}

//! The WebSocket signaling endpoint: the handshake, then one task per connection that relays frames
//! between the socket and the controller task.

mod connection;
mod handshake;
mod limits;
pub(crate) mod outbox;

use appel_codes::{registry, CallingError};
use axum::extract::ws::{rejection::WebSocketUpgradeRejection, WebSocketUpgrade};

/// Bytes read from a signaling socket at a time; larger frames still arrive (the buffer grows to
/// hold them). Signaling frames are 50–700 bytes, and every idle connection keeps this buffer.
const SIGNALING_READ_BUFFER: usize = 1024;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::http::problem::ApiError;
use crate::state::AppState;

/// The WebSocket layer's write buffer: a burst of small frames goes out in one write. Past it the
/// layer writes on its own; what it holds while the peer does not read counts against
/// `signaling.send_buffer_bytes` (see `outbox`).
const SIGNALING_WRITE_BUFFER: usize = 16 * 1024;

/// Frames above `max_frame_bytes` but below this cap are refused one by one (900001) and the
/// connection goes on; above it the WebSocket layer itself gives up on the connection. It is also
/// the most a client can make the server buffer for one incoming message, so it stays a fraction
/// of the output budget: 256 KiB with the default frame limit.
fn hard_cap(max_frame_bytes: usize) -> usize {
    max_frame_bytes.saturating_mul(4).max(256 * 1024)
}

/// `GET /signaling`: upgrades to a WebSocket and hands it to a connection task.
#[utoipa::path(get, path = "/signaling", tag = "calls",
    summary = "WebSocket signaling (JSON frames; docs/protocol.md): the first frame must be hello; refusals are error frames with fatal: true",
    description = "A WebSocket upgrade (RFC 6455) only: an HTTP request without the upgrade headers is answered 400/900102. HTTP test tools that cannot upgrade leave this operation out (scripts/test).",
    params(
        ("Upgrade" = String, Header, description = "websocket"),
        ("Connection" = String, Header, description = "Upgrade"),
        ("Sec-WebSocket-Version" = String, Header, description = "13"),
        ("Sec-WebSocket-Key" = String, Header, description = "16 random bytes, base64"),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "400/900102: not a WebSocket upgrade"),
    ))]
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
    let signaling = &state.config().signaling;
    let cap = hard_cap(signaling.max_frame_bytes);
    // Never reached while the outbox's accounting holds (it stops feeding the layer at the budget);
    // a backstop so that the layer itself can never hold much more than the budget.
    let max_write = SIGNALING_WRITE_BUFFER
        .saturating_add(cap)
        .saturating_add(signaling.send_buffer_bytes);
    // Signaling frames are small: a 1 KiB read buffer instead of the 128 KiB default keeps each idle
    // connection's memory low and avoids zero-filling a large buffer on every read (measured with
    // 4 KiB: about 90 % less server RSS per agent and 46 % more call cycles per second).
    upgrade
        .read_buffer_size(SIGNALING_READ_BUFFER)
        .write_buffer_size(SIGNALING_WRITE_BUFFER)
        .max_write_buffer_size(max_write)
        .max_message_size(cap)
        .max_frame_size(cap)
        .on_upgrade(move |socket| connection::run(socket, state))
}

//! `GET /relay/credentials`: a signed-in user's short-lived media relay (TURN) credentials.

use std::time::SystemTime;

use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;

use super::extract::SignedIn;
use super::problem::ApiError;
use crate::relay::{self, RelayCredentials};
use crate::state::AppState;

/// Only a valid user token gets credentials (else 401/10009, like the signaling handshake): the
/// relay forwards anything for whoever holds them, so they are never handed to an anonymous page.
#[utoipa::path(get, path = "/relay/credentials", tag = "calls",
    summary = "Short-lived media relay (TURN) credentials and ICE server urls for the caller's calls (docs/relay.md)",
    description = "username = `<expiry unix time>:<identity>`, credential = base64(HMAC-SHA1(relay.secret, username)), checked by the relay itself. Without a configured relay, iceServers is empty.",
    security(("userToken" = [])),
    responses(
        (status = 200, description = "The ICE servers to use", body = RelayCredentials),
        (status = 401, description = "401/10009: a missing, forged, expired or revoked user token"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn credentials(
    SignedIn(claims): SignedIn,
    State(state): State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    let answer: RelayCredentials =
        relay::issue(&state.config().relay, &claims.identity, SystemTime::now());
    let mut headers = HeaderMap::new();
    headers.insert(
        CACHE_CONTROL,
        "no-store".parse().expect("a valid header value"),
    );
    Ok((headers, Json(answer)))
}

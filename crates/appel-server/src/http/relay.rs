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

//! The HTTP surface: REST routes, problem documents, the OpenAPI document, and the signaling upgrade.

pub mod extract;
pub mod openapi;
pub mod problem;
pub mod routes;

use axum::routing::{delete, get, post};
use axum::{Json, Router};

use crate::state::AppState;

/// The router of every route in [`openapi::ROUTES`].
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(routes::health))
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
        .route("/identities", post(routes::create_identity))
        .route("/identities/{id}", delete(routes::delete_identity))
        .route("/identities/{id}/token", post(routes::issue_token))
        .route("/identities/{id}/tokens", delete(routes::revoke_tokens))
        .route("/validate", get(routes::validate))
        .route("/calls", get(routes::list_calls))
        .route("/calls/{id}", get(routes::get_call))
        .route("/signaling", get(crate::signaling::upgrade))
        .with_state(state)
}

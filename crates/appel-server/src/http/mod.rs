//! The HTTP surface: REST routes, problem documents, the OpenAPI document, and the signaling upgrade.

pub mod call_control;
pub mod extract;
pub mod openapi;
pub mod problem;
pub mod rooms;
pub mod routes;
pub mod web;
pub mod webhooks;

use axum::routing::{delete, get, patch, post};
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
        .route("/rooms", post(rooms::create_room).get(rooms::list_rooms))
        .route(
            "/rooms/{id}",
            get(rooms::get_room)
                .patch(rooms::update_room)
                .delete(rooms::delete_room),
        )
        .route(
            "/rooms/{id}/participants",
            patch(rooms::upsert_participants),
        )
        .route(
            "/rooms/{id}/participants/{identity}",
            delete(rooms::remove_participant),
        )
        .route("/call-control/calls", get(call_control::list_calls))
        .route("/call-control/calls/{id}", get(call_control::get_call))
        .route(
            "/call-control/calls/{id}/participants",
            post(call_control::add_participant),
        )
        .route(
            "/call-control/calls/{id}/participants/{participant}",
            delete(call_control::remove_participant),
        )
        .route(
            "/call-control/calls/{id}/participants/{participant}/mute",
            post(call_control::mute_participant),
        )
        .route(
            "/call-control/calls/{id}/participants/{participant}/end-for-everyone",
            post(call_control::grant_end_for_everyone),
        )
        .route(
            "/call-control/calls/{id}/hang-up",
            post(call_control::hang_up),
        )
        .route("/webhooks", post(webhooks::subscribe).get(webhooks::list))
        .route("/webhooks/{id}", delete(webhooks::unsubscribe))
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .with_state(state.clone())
        .merge(web::router(state))
}

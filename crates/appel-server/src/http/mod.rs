//! The HTTP surface: REST routes, problem documents, the OpenAPI document, and the signaling upgrade.

pub mod call_control;
pub mod extract;
pub mod federation;
pub mod identities;
pub mod limits;
pub mod listener;
pub mod openapi;
pub mod problem;
pub mod relay;
pub mod rooms;
pub mod routes;
pub mod web;
pub mod webhooks;

use appel_codes::{registry, CallingError};
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};

use crate::state::AppState;
use problem::ApiError;

/// The router of every route in [`openapi::ROUTES`]; what matches no route, or no method of a
/// route, is a problem document too.
pub fn router(state: AppState) -> Router {
    let max_body_bytes = state.config().http.max_body_bytes;
    Router::new()
        .route("/health", get(routes::health))
        .route("/ready", get(routes::ready))
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
        .route(
            "/identities",
            post(identities::create_identity).get(identities::list_identities),
        )
        .route(
            "/identities/{id}",
            get(identities::get_identity)
                .patch(identities::rename_identity)
                .delete(routes::delete_identity),
        )
        .route("/people", get(identities::people))
        .route("/identities/{id}/token", post(routes::issue_token))
        .route("/identities/{id}/tokens", delete(routes::revoke_tokens))
        .route("/validate", get(routes::validate))
        .route("/calls", get(routes::list_calls))
        .route("/calls/summary", get(routes::call_summary))
        .route("/metrics", get(routes::metrics))
        .route("/calls/{id}", get(routes::get_call))
        .route("/signaling", get(crate::signaling::upgrade))
        .route("/relay/credentials", get(relay::credentials))
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
        .route(
            "/federation/issuers",
            post(federation::add).get(federation::list),
        )
        .route("/federation/issuers/{id}", delete(federation::remove))
        .route("/webhooks", post(webhooks::subscribe).get(webhooks::list))
        .route("/webhooks/{id}", delete(webhooks::unsubscribe))
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .with_state(state.clone())
        .merge(web::router(state))
        .fallback(no_such_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(max_body_bytes))
}

/// The path as quoted back in a problem: cut short, since it is the client's own text.
fn quoted(uri: &Uri) -> String {
    const SHOWN: usize = 200;
    let path = uri.path();
    match path.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &path[..end]),
        None => path.to_string(),
    }
}

/// 404/900110.
async fn no_such_route(method: Method, uri: Uri) -> ApiError {
    CallingError::new(&registry::ROUTE_NOT_FOUND)
        .with_context(format!("{method} {}", quoted(&uri)))
        .into()
}

/// 405/900111; the router adds the `Allow` header.
async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    CallingError::new(&registry::METHOD_NOT_ALLOWED)
        .with_context(format!("{method} {}", quoted(&uri)))
        .into()
}

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
use axum::Router;

use crate::state::AppState;
use problem::ApiError;

/// The router of every route of [`openapi::api`] (where each route is declared once, with its
/// handler); what matches no route, or no method of a route, is a problem document too.
pub fn router(state: AppState) -> Router {
    let max_body_bytes = state.config().http.max_body_bytes;
    let (routes, _) = openapi::api().split_for_parts();
    routes
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

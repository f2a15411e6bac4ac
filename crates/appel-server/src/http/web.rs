//! The web app at `/` (files of the folder `web.dir`, read at request time so a server built
//! before the app still serves it), and the development-mode routes `/dev/*` that hand the page
//! identities and tokens without the access key (`appel serve --dev` only).

use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use appel_codes::{registry, CallingError};
use axum::extract::{Path as UrlPath, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::{invalid_request, JsonBody, QueryParams};
use super::limits::{self, MAX_ID_CHARS};
use super::problem::ApiError;
use crate::state::AppState;
use crate::store::CallFilter;
use crate::tokens::VOIP_SCOPE;

/// The page `/` answers while the web app has not been built.
const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Appel</title>\
<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>Appel is running</h1>\
<p>The web app has not been built, so there is nothing to show here yet. From the repository root:</p>\
<pre>rustup target add wasm32-unknown-unknown\ncargo install wasm-bindgen-cli --version 0.2.130\nweb/build.sh</pre>\
<p>then reload this page (the server reads <code>web/dist</code>, or the folder set by \
<code>web.dir</code> / <code>APPEL_WEB_DIR</code>). The REST API is described at \
<a href=\"/openapi.json\">/openapi.json</a>.</p></body></html>";

#[derive(Clone)]
struct WebState {
    app: AppState,
    dir: PathBuf,
}

/// The routes of the web app, plus `/dev/*` when development mode is on.
pub fn router(app: AppState) -> Router {
    let config = app.config();
    let dev = config.dev;
    let state = WebState {
        dir: config.web_dir.clone(),
        app: app.clone(),
    };
    let mut router = Router::new()
        .route("/", get(index))
        .route("/app/{*path}", get(asset));
    if dev {
        tracing::warn!(
            "DEVELOPMENT MODE IS ON (--dev): anyone who reaches this server gets identities and \
             tokens from /dev/session and reads call records from /dev/calls. Never use it on a \
             reachable address."
        );
        router = router
            .route("/dev/session", post(dev_session))
            .route("/dev/users", get(dev_users))
            .route("/dev/calls", get(dev_calls));
    }
    router.with_state(state)
}

async fn index(State(state): State<WebState>) -> Response {
    match tokio::fs::read(state.dir.join("index.html")).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], bytes).into_response(),
        Err(_) => Html(NOT_BUILT).into_response(),
    }
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A path below the web folder, refusing `..`, absolute parts and the like.
fn confined(root: &Path, relative: &str) -> Option<PathBuf> {
    let relative = Path::new(relative);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| root.join(relative))
}

async fn asset(State(state): State<WebState>, path: Option<UrlPath<String>>) -> Response {
    let file = path.and_then(|UrlPath(path)| confined(&state.dir, &path));
    let Some(file) = file else {
        return no_such_file();
    };
    match tokio::fs::read(&file).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type(&file))], bytes).into_response(),
        Err(_) => no_such_file(),
    }
}

/// 404/900110, as for any address that serves nothing.
fn no_such_file() -> Response {
    ApiError(
        CallingError::new(&registry::ROUTE_NOT_FOUND).with_context("no such file of the web app"),
    )
    .into_response()
}

/// The body of `POST /dev/session`.
#[derive(Default, Deserialize)]
struct SessionRequest {
    name: String,
}

/// `POST /dev/session {"name"}`: the identity of that name (created the first time) and a token.
async fn dev_session(
    State(state): State<WebState>,
    JsonBody(request): JsonBody<SessionRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let name = request.name.trim().to_string();
    limits::text("name", &name, 64)?;
    if name.is_empty() {
        return Err(invalid_request("name: 1 to 64 characters", name));
    }
    // The name is the identity's display name in the database, so every server sharing it signs
    // the same name in as the same identity.
    let identity = state
        .app
        .store()
        .identity_named(&name, SystemTime::now())
        .await?;
    let generation = match state.app.store().identity_state(&identity).await? {
        Some(known) if !known.deleted => known.token_generation,
        _ => {
            return Err(CallingError::new(&registry::IDENTITY_NOT_FOUND)
                .with_context(format!("identity `{identity}` of `{name}` was deleted"))
                .into())
        }
    };
    let now = SystemTime::now();
    let lifetime = state.app.config().tokens.default_lifetime;
    let issued = state.app.keys().issue(
        &identity,
        &[VOIP_SCOPE.to_string()],
        generation,
        now,
        now + lifetime,
    )?;
    Ok(Json(
        serde_json::json!({ "name": name, "identity": identity, "token": issued.token }),
    ))
}

/// `GET /dev/users`: the people with a name, with their presence (`offline`, `online`, `inCall`).
async fn dev_users(State(state): State<WebState>) -> Result<Json<serde_json::Value>, ApiError> {
    let people = state
        .app
        .store()
        .identities(None, true, None, DEV_USERS)
        .await?;
    let presence = state
        .app
        .runtime()
        .presence(
            people
                .iter()
                .map(|p| appel_protocol::IdentityId::new(p.id.clone()))
                .collect(),
        )
        .await;
    let users: Vec<serde_json::Value> = people
        .into_iter()
        .zip(presence)
        .map(|(person, presence)| {
            serde_json::json!({
                "name": person.display_name,
                "identity": person.id,
                "presence": presence,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "users": users })))
}

/// Most people `GET /dev/users` lists.
const DEV_USERS: usize = 500;

/// Query of `GET /dev/calls`.
#[derive(Deserialize)]
struct DevCallsQuery {
    identity: String,
}

/// `GET /dev/calls?identity=…`: the latest call records of one identity (as `GET /calls`).
async fn dev_calls(
    State(state): State<WebState>,
    QueryParams(query): QueryParams<DevCallsQuery>,
) -> Result<Json<crate::store::CallPage>, ApiError> {
    if query.identity.is_empty() {
        return Err(CallingError::new(&registry::INVALID_REQUEST)
            .with_context("identity")
            .into());
    }
    limits::text("identity", &query.identity, MAX_ID_CHARS)?;
    state.app.records().flush().await;
    let filter = CallFilter {
        identity: Some(query.identity),
        limit: 20,
        ..CallFilter::default()
    };
    Ok(Json(state.app.store().call_records(filter).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_paths_stay_inside_the_web_folder() {
        let root = Path::new("/srv/web");
        assert_eq!(
            confined(root, "pkg/appel_web.js"),
            Some(root.join("pkg/appel_web.js"))
        );
        assert_eq!(confined(root, "../secret"), None);
        assert_eq!(confined(root, "/etc/passwd"), None);
        assert_eq!(content_type(Path::new("a.wasm")), "application/wasm");
    }
}

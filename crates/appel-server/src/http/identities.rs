//! `/identities` (the access key's view: create, name, list, search) and `/people` (a signed-in
//! user's view: who can be called, by name, with their presence). Presence comes from the call
//! controller; names and ids from the store.

use std::time::SystemTime;

use appel_codes::{registry, CallingError};
use appel_controller::Presence;
use appel_protocol::IdentityId;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::extract::{invalid_request, AccessKey, JsonBody, PathParams, QueryParams, SignedIn};
use super::limits::{self, MAX_NAME_CHARS};
use super::problem::ApiError;
use crate::state::AppState;
use crate::store::{rfc3339, IdentityCursor, IdentityEntry};

type ApiResult<T> = Result<T, ApiError>;

/// Default and largest page of the lists.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;

/// The body of `POST /identities` and `PATCH /identities/{id}`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityBody {
    display_name: Option<String>,
}

/// An identity as `/identities` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityView {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    created_at: String,
    presence: Presence,
}

/// A page of identities; `next` is the `after` of the following page, absent on the last one.
#[derive(Serialize)]
pub struct IdentityPage {
    identities: Vec<IdentityView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// Query of `GET /identities` and `GET /people`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Names starting with this, case ignored.
    name: Option<String>,
    /// The `next` of the previous page.
    after: Option<String>,
    limit: Option<usize>,
}

/// A display name trimmed and checked: 1 to 128 characters, no control characters.
fn display_name(value: Option<String>) -> ApiResult<Option<String>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let name = value.trim().to_string();
    limits::text("displayName", &name, MAX_NAME_CHARS)?;
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(invalid_request(
            format!("displayName: 1 to {MAX_NAME_CHARS} characters, no control characters"),
            "empty, or a control character",
        ));
    }
    Ok(Some(name))
}

fn encode_cursor(entry: &IdentityEntry) -> String {
    let name: String = crate::store::name_key(entry.display_name.as_deref().unwrap_or(""))
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{name}.{}", entry.id)
}

fn decode_cursor(text: &str) -> ApiResult<IdentityCursor> {
    let bad = || invalid_request("after: the `next` of a previous page", text.to_string());
    limits::text("after", text, 2 * MAX_NAME_CHARS * 4 + 300)?;
    let (hex, id) = text.split_once('.').ok_or_else(bad)?;
    if hex.len() % 2 != 0 || id.is_empty() {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    let name = String::from_utf8(bytes).map_err(|_| bad())?;
    Ok(IdentityCursor {
        name,
        id: id.to_string(),
    })
}

/// One page of live identities with their presence.
async fn page(state: &AppState, query: ListQuery, named_only: bool) -> ApiResult<IdentityPage> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid_request(
            format!("limit: 1 to {MAX_PAGE}"),
            limit.to_string(),
        ));
    }
    if let Some(name) = &query.name {
        limits::text("name", name, MAX_NAME_CHARS)?;
    }
    let cursor = query.after.as_deref().map(decode_cursor).transpose()?;
    // One more than asked tells whether another page follows.
    let mut entries = state
        .store()
        .identities(query.name.clone(), named_only, cursor, limit + 1)
        .await?;
    let next = (entries.len() > limit).then(|| {
        entries.truncate(limit);
        entries.last().map(encode_cursor)
    });
    let presence = state
        .runtime()
        .presence(
            entries
                .iter()
                .map(|e| IdentityId::new(e.id.clone()))
                .collect(),
        )
        .await;
    Ok(IdentityPage {
        identities: entries
            .into_iter()
            .zip(presence)
            .map(|(entry, presence)| IdentityView {
                id: entry.id,
                display_name: entry.display_name,
                created_at: rfc3339(entry.created_ms),
                presence,
            })
            .collect(),
        next: next.flatten(),
    })
}

fn not_found(id: &str) -> ApiError {
    CallingError::new(&registry::IDENTITY_NOT_FOUND)
        .with_context(format!("identity {id}"))
        .into()
}

/// `POST /identities {displayName?}`.
pub async fn create_identity(
    _: AccessKey,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<IdentityBody>,
) -> ApiResult<(StatusCode, Json<IdentityView>)> {
    let name = display_name(body.display_name)?;
    let now = SystemTime::now();
    let id = state.store().create_identity(now, name.clone()).await?;
    Ok((
        StatusCode::CREATED,
        Json(IdentityView {
            id,
            display_name: name,
            created_at: rfc3339(crate::store::unix_ms(now)),
            presence: Presence::Offline,
        }),
    ))
}

/// `GET /identities?name=&after=&limit=`.
pub async fn list_identities(
    _: AccessKey,
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<IdentityPage>> {
    Ok(Json(page(&state, query, false).await?))
}

/// `GET /identities/{id}`.
pub async fn get_identity(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<IdentityView>> {
    view(&state, &id).await
}

/// `PATCH /identities/{id} {displayName}`: a null name removes it.
pub async fn rename_identity(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<IdentityBody>,
) -> ApiResult<Json<IdentityView>> {
    let name = display_name(body.display_name)?;
    if !state.store().rename_identity(&id, name).await? {
        return Err(not_found(&id));
    }
    view(&state, &id).await
}

/// The live identity `id` with its presence, or 404/900101.
async fn view(state: &AppState, id: &str) -> ApiResult<Json<IdentityView>> {
    let entry = state
        .store()
        .identity(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let presence = state
        .runtime()
        .presence(vec![IdentityId::new(entry.id.clone())])
        .await
        .pop()
        .unwrap_or(Presence::Offline);
    Ok(Json(IdentityView {
        id: entry.id,
        display_name: entry.display_name,
        created_at: rfc3339(entry.created_ms),
        presence,
    }))
}

/// `GET /people?name=&after=&limit=`: for a signed-in user (a user token as bearer), the named
/// people of this server with their presence, so an application can offer "call Bob" instead of
/// an id. Identities without a display name are not listed. Off with `directory.people = false`.
pub async fn people(
    _: SignedIn,
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<IdentityPage>> {
    if !state.config().directory.people {
        return Err(CallingError::new(&registry::PEOPLE_DIRECTORY_DISABLED)
            .with_context("directory.people = false")
            .into());
    }
    Ok(Json(page(&state, query, true).await?))
}

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
use utoipa::{IntoParams, ToSchema};

use super::extract::{
    invalid_request, AccessKey, JsonBody, OptionalJsonBody, PathParams, QueryParams, SignedIn,
};
use super::limits::{self, MAX_NAME_CHARS};
use super::problem::ApiError;
use crate::state::AppState;
use crate::store::{rfc3339, IdentityCursor, IdentityEntry};

type ApiResult<T> = Result<T, ApiError>;

/// Default and largest page of the lists.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;

/// A display name as the handlers take it: at most 128 characters as sent; trimmed of white space
/// (as Rust's `str::trim` counts it), it is not empty and holds no control character.
pub const DISPLAY_NAME_PATTERN: &str = "^[\\t\\n\\u000B\\u000C\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]([^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000])?[\\t\\n\\u000B\\u000C\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*$";

/// The body of `POST /identities`.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityBody {
    /// The display name (none when absent or null).
    #[schema(
        max_length = 128,
        pattern = "^[\\t\\n\\u000B\\u000C\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]([^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000])?[\\t\\n\\u000B\\u000C\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*$"
    )]
    display_name: Option<String>,
}

/// The body of `PATCH /identities/{id}`: `displayName` is required, and null removes the name
/// (an empty body or `{}` is refused, so a client mistake cannot erase it).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenameBody {
    /// The new display name, or null to remove it.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(
        required = true,
        max_length = 128,
        pattern = "^[\\t\\n\\u000B\\u000C\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]([^\\u0000-\\u001F\\u007F-\\u009F]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000])?[\\t\\n\\u000B\\u000C\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*$"
    )]
    display_name: Option<String>,
}

/// An identity as `/identities` shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Identity)]
pub struct IdentityView {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    presence: Presence,
}

/// A page of identities; `next` is the `after` of the following page, absent on the last one.
#[derive(Serialize, ToSchema)]
pub struct IdentityPage {
    identities: Vec<IdentityView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// Query of `GET /identities` and `GET /people`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Display names starting with this, case ignored.
    #[param(max_length = 128)]
    name: Option<String>,
    /// The `next` of the previous page: hexadecimal bytes, a dot, an identity id.
    #[param(max_length = 1324, pattern = r"^([0-9A-Fa-f]{2})*\.[\s\S]+$")]
    after: Option<String>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
}

/// A display name trimmed and checked: 1 to 128 characters, no control characters.
fn display_name(value: Option<String>) -> ApiResult<Option<String>> {
    let Some(value) = value else {
        return Ok(None);
    };
    // The limit is on what was sent, as the OpenAPI document's maxLength says.
    limits::text("displayName", &value, MAX_NAME_CHARS)?;
    let name = value.trim().to_string();
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

/// The longest `after`: a name's key in hex (4 bytes a character at most) and an id.
const MAX_CURSOR_CHARS: usize = 2 * MAX_NAME_CHARS * 4 + 300;

fn decode_cursor(text: &str) -> ApiResult<IdentityCursor> {
    let bad = || invalid_request("after: the `next` of a previous page", text.to_string());
    limits::text("after", text, MAX_CURSOR_CHARS)?;
    let (hex, id) = text.split_once('.').ok_or_else(bad)?;
    if hex.len() % 2 != 0 || id.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    // A cursor is only a position in the name order: bytes that are not UTF-8 (a hand-made
    // cursor) still name a position, as their lossy reading.
    let name = String::from_utf8_lossy(&bytes).into_owned();
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
#[utoipa::path(post, path = "/identities", tag = "identities",
    summary = "Create an identity, with a display name if given",
    security(("accessKey" = [])),
    request_body(content = Option<IdentityBody>, description = "May be left out: an identity without a name"),
    responses(
        (status = 201, description = "Created", body = IdentityView),
        (status = 400, description = "400/900102: an invalid body or display name; 400/900117: a display name over 128 characters"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn create_identity(
    _: AccessKey,
    State(state): State<AppState>,
    OptionalJsonBody(body): OptionalJsonBody<IdentityBody>,
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
#[utoipa::path(get, path = "/identities", tag = "identities",
    summary = "List live identities by display name (case ignored), with their presence",
    security(("accessKey" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of identities", body = IdentityPage),
        (status = 400, description = "400/900102: an invalid or unknown parameter or cursor; 400/900117: name or after over its maxLength"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn list_identities(
    _: AccessKey,
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<IdentityPage>> {
    Ok(Json(page(&state, query, false).await?))
}

/// `GET /identities/{id}`.
#[utoipa::path(get, path = "/identities/{id}", tag = "identities",
    summary = "One live identity with its presence",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Identity id")),
    responses(
        (status = 200, description = "The identity", body = IdentityView),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900101: no such live identity"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn get_identity(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<IdentityView>> {
    view(&state, &id).await
}

/// `PATCH /identities/{id} {displayName}`: a null name removes it.
#[utoipa::path(patch, path = "/identities/{id}", tag = "identities",
    summary = "Set (or, with null, remove) an identity's display name",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Identity id")),
    request_body = RenameBody,
    responses(
        (status = 200, description = "The identity as it now is", body = IdentityView),
        (status = 400, description = "400/900102: a missing or invalid body or display name; 400/900117: a display name over 128 characters"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900101: no such live identity"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn rename_identity(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<RenameBody>,
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
#[utoipa::path(get, path = "/people", tag = "identities",
    summary = "For a signed-in user: the named people of this server with their presence",
    security(("userToken" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of people (identities with a display name)", body = IdentityPage),
        (status = 400, description = "400/900102: an invalid or unknown parameter or cursor; 400/900117: name or after over its maxLength"),
        (status = 401, description = "401/10009: a missing or invalid user token"),
        (status = 403, description = "403/900122: directory.people is off on this server"),
        (status = 500, description = "500: the database failed"),
    ))]
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

//! `/rooms`: rooms with a validity window and a roster of participants with roles. Every change
//! is stored, then given to the controller, which removes a participant of the room's call whose
//! role changed or who left the roster (0/5317).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use appel_codes::{registry, CallingError};
use appel_controller::RoomRole;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{
    invalid_request, utc_time, AccessKey, JsonBody, OptionalJsonBody, PathParams,
};
use super::limits::{self, MAX_ID_CHARS, MAX_ROSTER_ENTRIES};
use super::problem::ApiError;
use crate::state::AppState;
use crate::store::{rfc3339, unix_ms, Room, RoomChange, RoomUpdate};

type ApiResult<T> = Result<T, ApiError>;

/// How long a room stays open when `validUntil` is not given.
const DEFAULT_VALIDITY: Duration = Duration::from_secs(180 * 24 * 3600);

/// A roster entry as the API reads and writes it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RosterEntry {
    /// The identity.
    #[schema(min_length = 1, max_length = 256)]
    pub identity: String,
    /// Its role.
    pub role: RoomRole,
}

/// A room as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Room)]
pub struct RoomView {
    id: String,
    #[schema(format = DateTime)]
    valid_from: String,
    #[schema(format = DateTime)]
    valid_until: String,
    participants: Vec<RosterEntry>,
}

impl From<Room> for RoomView {
    fn from(room: Room) -> Self {
        RoomView {
            id: room.id,
            valid_from: rfc3339(room.valid_from_ms),
            valid_until: rfc3339(room.valid_until_ms),
            participants: room
                .participants
                .into_iter()
                .map(|(identity, role)| RosterEntry { identity, role })
                .collect(),
        }
    }
}

/// The body of `POST /rooms` and `PATCH /rooms/{id}`; validFrom comes before validUntil.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoomRequest {
    /// Default on creation: now.
    #[schema(format = DateTime, max_length = 64, pattern = r"^(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$")]
    valid_from: Option<String>,
    /// Default on creation: 180 days after now.
    #[schema(format = DateTime, max_length = 64, pattern = r"^(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$")]
    valid_until: Option<String>,
    /// The roster (on a change, it replaces the stored one); at most 1000 entries, also once
    /// added to the stored roster.
    #[schema(max_items = 1000)]
    participants: Option<Vec<RosterEntry>>,
}

/// The body of `PATCH /rooms/{id}/participants`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RosterRequest {
    /// Entries to add or whose role changes; the stored roster holds at most 1000.
    #[schema(max_items = 1000)]
    participants: Vec<RosterEntry>,
}

/// The answer of `GET /rooms`.
#[derive(Serialize, ToSchema)]
pub struct RoomList {
    rooms: Vec<RoomView>,
}

fn time(field: &str, value: &str) -> Result<i64, ApiError> {
    utc_time(field, value)
}

fn roster(entries: Vec<RosterEntry>) -> Result<BTreeMap<String, RoomRole>, ApiError> {
    limits::items("participants", &entries, MAX_ROSTER_ENTRIES)?;
    let mut roster = BTreeMap::new();
    for (i, entry) in entries.into_iter().enumerate() {
        if entry.identity.is_empty() {
            return Err(invalid_request(
                format!("participants[{i}].identity: not empty"),
                "empty identity",
            ));
        }
        limits::text(
            &format!("participants[{i}].identity"),
            &entry.identity,
            MAX_ID_CHARS,
        )?;
        roster.insert(entry.identity, entry.role);
    }
    Ok(roster)
}

fn check_window(from: i64, until: i64) -> Result<(), ApiError> {
    if from >= until {
        return Err(empty_window(from, until));
    }
    Ok(())
}

fn empty_window(from: i64, until: i64) -> ApiError {
    invalid_request(
        "validFrom must come before validUntil",
        format!("{} >= {}", rfc3339(from), rfc3339(until)),
    )
}

/// 404/900505.
fn not_found(id: &str) -> ApiError {
    CallingError::new(&registry::ROOM_NOT_FOUND)
        .with_context(format!("room {id}"))
        .into()
}

/// `POST /rooms`.
#[utoipa::path(post, path = "/rooms", tag = "rooms",
    summary = "Create a room with a validity window and a roster",
    security(("accessKey" = [])),
    request_body(content = Option<RoomRequest>, description = "May be left out: a room open from now for 180 days, with an empty roster"),
    responses(
        (status = 201, description = "Created", body = RoomView),
        (status = 400, description = "400/900102: an invalid body, or validFrom not before validUntil; 400/900117: a field or the roster over its limit"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn create_room(
    _: AccessKey,
    State(state): State<AppState>,
    OptionalJsonBody(request): OptionalJsonBody<RoomRequest>,
) -> ApiResult<(StatusCode, Json<RoomView>)> {
    let now = SystemTime::now();
    let from = match &request.valid_from {
        Some(value) => time("validFrom", value)?,
        None => unix_ms(now),
    };
    let until = match &request.valid_until {
        Some(value) => time("validUntil", value)?,
        None => unix_ms(now + DEFAULT_VALIDITY),
    };
    check_window(from, until)?;
    let room = Room {
        id: uuid::Uuid::new_v4().to_string(),
        valid_from_ms: from,
        valid_until_ms: until,
        participants: roster(request.participants.unwrap_or_default())?,
    };
    state.store().create_room(room.clone(), now).await?;
    state.runtime().room_changed(room.clone()).await;
    Ok((StatusCode::CREATED, Json(room.into())))
}

/// `GET /rooms`.
#[utoipa::path(get, path = "/rooms", tag = "rooms", summary = "List rooms",
    security(("accessKey" = [])),
    responses(
        (status = 200, description = "Every room", body = RoomList),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn list_rooms(_: AccessKey, State(state): State<AppState>) -> ApiResult<Json<RoomList>> {
    let rooms = state.store().rooms().await?;
    Ok(Json(RoomList {
        rooms: rooms.into_iter().map(RoomView::from).collect(),
    }))
}

/// `GET /rooms/{id}`.
#[utoipa::path(get, path = "/rooms/{id}", tag = "rooms", summary = "Get a room",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Room id")),
    responses(
        (status = 200, description = "The room", body = RoomView),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900505: no such room"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn get_room(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<RoomView>> {
    match state.store().room(&id).await? {
        Some(room) => Ok(Json(room.into())),
        None => Err(not_found(&id)),
    }
}

/// Stores `change` (its checks run in the store's transaction) and hands the room as it now is to
/// the controller.
async fn apply(state: &AppState, id: &str, change: RoomChange) -> ApiResult<Room> {
    let room = match state.store().update_room(id, change).await? {
        RoomUpdate::Updated(room) => room,
        RoomUpdate::NotFound => return Err(not_found(id)),
        RoomUpdate::EmptyWindow { from, until } => return Err(empty_window(from, until)),
        RoomUpdate::RosterTooLarge { has, would_have } => {
            return Err(limits::too_large(format!(
                "participants: a roster holds at most {MAX_ROSTER_ENTRIES} entries (it has {has}, \
                 and this request would make it {would_have})"
            )))
        }
    };
    state.runtime().room_changed(room.clone()).await;
    Ok(room)
}

/// `PATCH /rooms/{id}`: changes the window; `participants`, when given, replaces the roster.
#[utoipa::path(patch, path = "/rooms/{id}", tag = "rooms",
    summary = "Change the window; `participants` replaces the roster (those whose role changed or who left it are removed from the room's call with 0/5317)",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Room id")),
    request_body = RoomRequest,
    responses(
        (status = 200, description = "The room", body = RoomView),
        (status = 400, description = "400/900102: a missing or invalid body, or validFrom not before validUntil; 400/900117: a field or the roster over its limit"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900505: no such room"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn update_room(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    JsonBody(request): JsonBody<RoomRequest>,
) -> ApiResult<Json<RoomView>> {
    let valid_from_ms = request
        .valid_from
        .as_deref()
        .map(|v| time("validFrom", v))
        .transpose()?;
    let valid_until_ms = request
        .valid_until
        .as_deref()
        .map(|v| time("validUntil", v))
        .transpose()?;
    if let (Some(from), Some(until)) = (valid_from_ms, valid_until_ms) {
        check_window(from, until)?;
    }
    let replace_roster = request.participants.is_some();
    let upsert = roster(request.participants.unwrap_or_default())?;
    let change = RoomChange {
        valid_from_ms,
        valid_until_ms,
        upsert,
        replace_roster,
        max_roster: MAX_ROSTER_ENTRIES,
        ..RoomChange::default()
    };
    Ok(Json(apply(&state, &id, change).await?.into()))
}

/// `DELETE /rooms/{id}`: everyone in the room's call leaves with 0/5317.
#[utoipa::path(delete, path = "/rooms/{id}", tag = "rooms",
    summary = "Delete a room; everyone in its call leaves with 0/5317",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Room id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900505: no such room"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn delete_room(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<StatusCode> {
    if !state.store().delete_room(&id).await? {
        return Err(not_found(&id));
    }
    state.runtime().room_deleted(&id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `PATCH /rooms/{id}/participants`: adds participants or changes their role.
#[utoipa::path(patch, path = "/rooms/{id}/participants", tag = "rooms",
    summary = "Add roster participants or change their role (a role change removes the participant from the room's call with 0/5317)",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Room id")),
    request_body = RosterRequest,
    responses(
        (status = 200, description = "The room", body = RoomView),
        (status = 400, description = "400/900102: a missing or invalid body; 400/900117: a field or the roster over its limit"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900505: no such room"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn upsert_participants(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    JsonBody(request): JsonBody<RosterRequest>,
) -> ApiResult<Json<RoomView>> {
    let change = RoomChange {
        upsert: roster(request.participants)?,
        max_roster: MAX_ROSTER_ENTRIES,
        ..RoomChange::default()
    };
    Ok(Json(apply(&state, &id, change).await?.into()))
}

/// `DELETE /rooms/{id}/participants/{identity}`: takes the identity off the roster.
#[utoipa::path(delete, path = "/rooms/{id}/participants/{identity}", tag = "rooms",
    summary = "Take an identity off the roster (removed from the room's call with 0/5317)",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Room id"), ("identity" = String, Path, description = "Identity id")),
    responses(
        (status = 200, description = "The room", body = RoomView),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900505: no such room"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn remove_participant(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams((id, identity)): PathParams<(String, String)>,
) -> ApiResult<Json<RoomView>> {
    let change = RoomChange {
        remove: vec![identity],
        max_roster: MAX_ROSTER_ENTRIES,
        ..RoomChange::default()
    };
    Ok(Json(apply(&state, &id, change).await?.into()))
}

//! `/call-control`: the application's backend steers calls in progress — lists them, rings
//! someone in, removes (0/5300) or mutes a participant, and ends a call for everyone (0/7000).

use appel_controller::{CallSnapshot, Control};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{invalid_request, AccessKey, JsonBody, PathParams};
use super::limits::{self, MAX_ID_CHARS};
use super::problem::ApiError;
use crate::state::AppState;
use appel_codes::{registry, CallingError};

type ApiResult<T> = Result<T, ApiError>;

/// The answer of `GET /call-control/calls`.
#[derive(Serialize, ToSchema)]
pub struct ActiveCalls {
    calls: Vec<CallSnapshot>,
}

/// The body of `POST /call-control/calls/{id}/participants`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddParticipant {
    /// The identity to ring in.
    #[schema(min_length = 1, max_length = 256)]
    identity: String,
}

/// `GET /call-control/calls`.
#[utoipa::path(get, path = "/call-control/calls", tag = "call control",
    summary = "List the calls in progress",
    security(("accessKey" = [])),
    responses(
        (status = 200, description = "Calls in progress", body = ActiveCalls),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
    ))]
pub async fn list_calls(_: AccessKey, State(state): State<AppState>) -> Json<ActiveCalls> {
    Json(ActiveCalls {
        calls: state.runtime().snapshots(None).await,
    })
}

/// `GET /call-control/calls/{id}`.
#[utoipa::path(get, path = "/call-control/calls/{id}", tag = "call control",
    summary = "Get a call in progress",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Call id")),
    responses(
        (status = 200, description = "The call", body = CallSnapshot),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900200: the call is not in progress"),
    ))]
pub async fn get_call(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<CallSnapshot>> {
    state
        .runtime()
        .snapshots(Some(id.as_str().into()))
        .await
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| {
            CallingError::new(&registry::CALL_OPERATION_UNKNOWN_CALL)
                .with_context(format!("call {id}"))
                .into()
        })
}

/// `POST /call-control/calls/{id}/participants`: rings the identity into the call.
#[utoipa::path(post, path = "/call-control/calls/{id}/participants", tag = "call control",
    summary = "Ring an identity into the call (it then leaves or joins with the outcomes of a call started to it)",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Call id")),
    request_body = AddParticipant,
    responses(
        (status = 202, description = "Ringing"),
        (status = 400, description = "400/900102: a missing or invalid body"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 403, description = "403/900202: the participant limit is reached"),
        (status = 404, description = "404/900200: the call is not in progress"),
        (status = 412, description = "412/900201: already in the call, or a room's call"),
    ))]
pub async fn add_participant(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    JsonBody(request): JsonBody<AddParticipant>,
) -> ApiResult<StatusCode> {
    if request.identity.is_empty() {
        return Err(invalid_request("identity: not empty", "empty identity"));
    }
    limits::text("identity", &request.identity, MAX_ID_CHARS)?;
    state
        .runtime()
        .control(Control::AddParticipant {
            call: id.as_str().into(),
            identity: request.identity.as_str().into(),
        })
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE /call-control/calls/{id}/participants/{participantId}`: removes it with 0/5300.
#[utoipa::path(delete, path = "/call-control/calls/{id}/participants/{participant}", tag = "call control",
    summary = "Remove a participant: it sees 0/5300",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Call id"), ("participant" = String, Path, description = "Participant id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900200: the call is not in progress; 404/900506: the participant is not in the call"),
    ))]
pub async fn remove_participant(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams((id, participant)): PathParams<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .runtime()
        .control(Control::RemoveParticipant {
            call: id.as_str().into(),
            participant: participant.as_str().into(),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /call-control/calls/{id}/participants/{participantId}/mute`.
#[utoipa::path(post, path = "/call-control/calls/{id}/participants/{participant}/mute", tag = "call control",
    summary = "Mute a participant (its SDK gets a `muted` frame and turns the microphone off)",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Call id"), ("participant" = String, Path, description = "Participant id")),
    responses(
        (status = 204, description = "Muted"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900200: the call is not in progress; 404/900506: the participant is not in the call"),
    ))]
pub async fn mute_participant(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams((id, participant)): PathParams<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .runtime()
        .control(Control::Mute {
            call: id.as_str().into(),
            participant: participant.as_str().into(),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /call-control/calls/{id}/participants/{participantId}/end-for-everyone`: grants the
/// participant the organizer's capability to end the call for everyone.
#[utoipa::path(post, path = "/call-control/calls/{id}/participants/{participant}/end-for-everyone", tag = "call control",
    summary = "Grant a participant the organizer's capability to end the call for everyone (others see 0/4097)",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Call id"), ("participant" = String, Path, description = "Participant id")),
    responses(
        (status = 204, description = "Granted"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 403, description = "403/900501: a room's call"),
        (status = 404, description = "404/900200: the call is not in progress; 404/900506: the participant is not in the call"),
    ))]
pub async fn grant_end_for_everyone(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams((id, participant)): PathParams<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .runtime()
        .control(Control::GrantEndForEveryone {
            call: id.as_str().into(),
            participant: participant.as_str().into(),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /call-control/calls/{id}/hang-up`: ends the call for everyone with 0/7000.
#[utoipa::path(post, path = "/call-control/calls/{id}/hang-up", tag = "call control",
    summary = "End the call for everyone: every party sees 0/7000",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Call id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900200: the call is not in progress"),
    ))]
pub async fn hang_up(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<StatusCode> {
    state
        .runtime()
        .control(Control::HangUpAll {
            call: id.as_str().into(),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

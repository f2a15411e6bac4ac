//! `/call-control`: the application's backend steers calls in progress — lists them, rings
//! someone in, removes (0/5300) or mutes a participant, and ends a call for everyone (0/7000).

use appel_controller::{CallSnapshot, Control};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::extract::{invalid_request, AccessKey, JsonBody, PathParams};
use super::limits::{self, MAX_ID_CHARS};
use super::problem::ApiError;
use crate::state::AppState;
use appel_codes::{registry, CallingError};

type ApiResult<T> = Result<T, ApiError>;

/// The answer of `GET /call-control/calls`.
#[derive(Serialize)]
pub struct ActiveCalls {
    calls: Vec<CallSnapshot>,
}

/// The body of `POST /call-control/calls/{id}/participants`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddParticipant {
    identity: String,
}

/// `GET /call-control/calls`.
pub async fn list_calls(_: AccessKey, State(state): State<AppState>) -> Json<ActiveCalls> {
    Json(ActiveCalls {
        calls: state.runtime().snapshots(None).await,
    })
}

/// `GET /call-control/calls/{id}`.
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

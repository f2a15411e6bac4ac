//! `/federation/issuers`: the identity providers whose tokens sign users in (docs/identities.md).

use std::time::SystemTime;

use appel_codes::{registry, CallingError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::extract::{invalid_request, AccessKey, JsonBody, PathParams};
use super::limits::{self, MAX_URL_CHARS};
use super::problem::ApiError;
use crate::federation::{check_issuer_url, check_key_set, IssuerView};
use crate::state::AppState;
use crate::store::StoredIssuer;

type ApiResult<T> = Result<T, ApiError>;

/// Longest audience or claim name accepted.
const MAX_NAME_CHARS: usize = 256;
/// Largest static key set accepted, in bytes of JSON.
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The body of `POST /federation/issuers`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssuerRequest {
    issuer: String,
    audience: String,
    user_claim: Option<String>,
    calling: Option<bool>,
    rooms: Option<bool>,
    jwks: Option<serde_json::Value>,
}

/// The answer of `GET /federation/issuers`.
#[derive(Serialize)]
pub struct IssuerList {
    issuers: Vec<IssuerView>,
}

/// `POST /federation/issuers`: trusts a provider (its keys fetched from its discovery document,
/// or the static `jwks` given). 409/900661 when it is already trusted.
pub async fn add(
    _: AccessKey,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<IssuerRequest>,
) -> ApiResult<(StatusCode, Json<IssuerView>)> {
    limits::text("issuer", &request.issuer, MAX_URL_CHARS)?;
    limits::text("audience", &request.audience, MAX_NAME_CHARS)?;
    let issuer = check_issuer_url(&request.issuer)
        .map_err(|why| invalid_request("issuer: an https URL (http only on loopback)", why))?;
    if request.audience.is_empty() {
        return Err(invalid_request("audience: not empty", "empty audience"));
    }
    let user_claim = request.user_claim.unwrap_or_else(|| "sub".to_string());
    limits::text("userClaim", &user_claim, MAX_NAME_CHARS)?;
    if user_claim.is_empty() {
        return Err(invalid_request("userClaim: not empty", "empty claim name"));
    }
    let jwks = match &request.jwks {
        Some(set) => {
            let text = check_key_set(set)
                .map_err(|why| invalid_request("jwks: a JWK set of public signing keys", why))?;
            if text.len() > MAX_JWKS_BYTES {
                return Err(invalid_request(
                    format!("jwks: at most {MAX_JWKS_BYTES} bytes"),
                    format!("{} bytes", text.len()),
                ));
            }
            Some(text)
        }
        None => None,
    };
    if let Some(existing) = state.federation().find(&issuer) {
        return Err(already_trusted(&existing.id));
    }
    let stored = StoredIssuer {
        id: uuid::Uuid::new_v4().to_string(),
        issuer,
        audience: request.audience,
        user_claim,
        calling: request.calling.unwrap_or(true),
        rooms: request.rooms.unwrap_or(false),
        jwks,
    };
    if !state
        .store()
        .save_federation_issuer(stored.clone(), SystemTime::now())
        .await?
    {
        return Err(already_trusted("a stored entry"));
    }
    let view = state.federation().add(&stored)?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /federation/issuers`: those of the config file, then those added here.
pub async fn list(_: AccessKey, State(state): State<AppState>) -> Json<IssuerList> {
    Json(IssuerList {
        issuers: state.federation().list(),
    })
}

/// `DELETE /federation/issuers/{id}`: stops trusting a provider added here; its users' tokens are
/// refused from then on, and its users still connected may no longer call or join rooms.
pub async fn remove(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<StatusCode> {
    match state.federation().by_id(&id) {
        Some(view) if view.source == "config" => {
            Err(CallingError::new(&registry::FEDERATION_ISSUER_FROM_CONFIG)
                .with_context(format!("issuer {}", view.issuer))
                .into())
        }
        Some(_) => {
            state.store().delete_federation_issuer(&id).await?;
            state.federation().remove(&id);
            Ok(StatusCode::NO_CONTENT)
        }
        None => Err(CallingError::new(&registry::FEDERATION_ISSUER_NOT_FOUND)
            .with_context(format!("issuer {id}"))
            .into()),
    }
}

fn already_trusted(id: &str) -> ApiError {
    CallingError::new(&registry::FEDERATION_ISSUER_ALREADY_TRUSTED)
        .with_context(format!("trusted as {id}"))
        .into()
}

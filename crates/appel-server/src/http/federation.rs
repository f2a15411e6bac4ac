//! `/federation/issuers`: the identity providers whose tokens sign users in (docs/identities.md).

use std::time::SystemTime;

use appel_codes::{registry, CallingError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{invalid_request, no_blanks, AccessKey, JsonBody, PathParams};
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
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssuerRequest {
    /// The `iss` of its tokens: https (plain http only on a loopback host), no query or fragment.
    #[schema(
        format = "uri",
        max_length = 2048,
        pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000?#]+$"
    )]
    issuer: String,
    /// The `aud` its tokens must carry.
    #[schema(min_length = 1, max_length = 256)]
    audience: String,
    /// The claim naming the user. Default: sub.
    #[schema(min_length = 1, max_length = 256)]
    user_claim: Option<String>,
    /// Its users may start, join and answer calls (else 412/41056). Default: true.
    calling: Option<bool>,
    /// Its users may join rooms (else 403/5830). Default: false.
    rooms: Option<bool>,
    /// A static JWK set (`{"keys": [...]}` of public RSA, EC or OKP signing keys), at most 64 KiB
    /// of JSON. Default: the keys are fetched from the issuer's discovery document.
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
}

/// The answer of `GET /federation/issuers`.
#[derive(Serialize, ToSchema)]
pub struct IssuerList {
    issuers: Vec<IssuerView>,
}

/// `POST /federation/issuers`: trusts a provider (its keys fetched from its discovery document,
/// or the static `jwks` given). 409/900661 when it is already trusted.
#[utoipa::path(post, path = "/federation/issuers", tag = "federation",
    summary = "Trust an identity provider (docs/identities.md): its tokens then sign users in as `federated:<issuer>:<subject>`",
    description = "Keys come from its discovery document unless `jwks` is given.",
    security(("accessKey" = [])),
    request_body = IssuerRequest,
    responses(
        (status = 201, description = "Trusted", body = IssuerView),
        (status = 400, description = "400/900102: a missing or invalid body, issuer URL (https, or http on loopback), empty audience or claim, or a jwks without a usable public signing key; 400/900117: a field over its maxLength"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 409, description = "409/900661: already trusted"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn add(
    _: AccessKey,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<IssuerRequest>,
) -> ApiResult<(StatusCode, Json<IssuerView>)> {
    limits::text("issuer", &request.issuer, MAX_URL_CHARS)?;
    limits::text("audience", &request.audience, MAX_NAME_CHARS)?;
    no_blanks("issuer", &request.issuer)?;
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
#[utoipa::path(get, path = "/federation/issuers", tag = "federation",
    summary = "List the trusted identity providers (config file and API)",
    security(("accessKey" = [])),
    responses(
        (status = 200, description = "Providers", body = IssuerList),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
    ))]
pub async fn list(_: AccessKey, State(state): State<AppState>) -> Json<IssuerList> {
    Json(IssuerList {
        issuers: state.federation().list(),
    })
}

/// `DELETE /federation/issuers/{id}`: stops trusting a provider added here; its users' tokens are
/// refused from then on, and its users still connected may no longer call or join rooms.
#[utoipa::path(delete, path = "/federation/issuers/{id}", tag = "federation",
    summary = "Stop trusting a provider added through the API",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Issuer id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900660: no such provider"),
        (status = 409, description = "409/900662: it comes from the config file"),
        (status = 500, description = "500: the database failed"),
    ))]
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

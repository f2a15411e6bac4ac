//! Extractors whose rejections are catalogue problems instead of axum's plain-text ones.

use appel_codes::{registry, CallingError};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::ApiError;
use crate::access_key;
use crate::state::AppState;

/// Proof that the request carried the server's access key as a bearer token (else 401/900100).
pub struct AccessKey;

impl FromRequestParts<AppState> for AccessKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match bearer(parts) {
            Some(given) if access_key::matches(state.access_key(), given) => Ok(AccessKey),
            Some(_) => Err(CallingError::new(&registry::ACCESS_KEY_INVALID)
                .with_context("the bearer token is not the access key")
                .into()),
            None => Err(CallingError::new(&registry::ACCESS_KEY_INVALID)
                .with_context("no `Authorization: Bearer` header")
                .into()),
        }
    }
}

/// The bearer token of the request, if it has one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A JSON body; an empty body reads as `T::default()`. Anything unreadable is 400/900102.
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| invalid_request("the body could not be read", e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| invalid_request(format!("body: {e}"), e.to_string()))
    }
}

/// Query parameters; anything unreadable is 400/900102.
pub struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|e| invalid_request(format!("query: {}", e.body_text()), e.body_text()))
    }
}

/// 400/900102 naming what is wrong.
pub fn invalid_request(context: impl Into<String>, raw_cause: impl Into<String>) -> ApiError {
    CallingError::new(&registry::INVALID_REQUEST)
        .with_context(context)
        .with_raw_cause(raw_cause)
        .into()
}

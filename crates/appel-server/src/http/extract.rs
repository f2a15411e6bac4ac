//! Extractors whose rejections are catalogue problems instead of axum's plain-text ones.

use appel_codes::{registry, CallingError};
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, FromRequestParts, Path, RawPathParams, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::limits::{self, MAX_ID_CHARS, MAX_TIME_CHARS};
use super::listener::{BodyReadTimeout, RequestLimits};
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

/// A signed-in user: the request's bearer token passed the same check as the signaling handshake
/// (else 401/10009, the access key included, which is not a user token).
pub struct SignedIn(pub crate::tokens::Claims);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token =
            bearer(parts).ok_or_else(|| crate::tokens::unauthenticated("no bearer token"))?;
        Ok(SignedIn(state.authenticate(token).await?))
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

/// A JSON object body, required: an empty body is 400/900102 like any other that is not an
/// object. Anything unreadable is 400/900102, a body over the size limit 413/900112, and one that
/// does not arrive in time 408/900115.
pub struct JsonBody<T>(pub T);

/// A JSON object body that may be left out: an empty body reads as `T::default()`; a body that is
/// there follows the rules of [`JsonBody`].
pub struct OptionalJsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match read_object(request, state).await? {
            Some(value) => Ok(JsonBody(value)),
            None => Err(invalid_request(
                "body: a JSON object is required",
                "empty body",
            )),
        }
    }
}

impl<T, S> FromRequest<S> for OptionalJsonBody<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Ok(OptionalJsonBody(
            read_object(request, state).await?.unwrap_or_default(),
        ))
    }
}

/// The body as `T`, or `None` when it is empty. Only a JSON object is taken: serde would also
/// fill a struct from an array (`[null, null]` read as a request with every member left out),
/// which no client means.
async fn read_object<T, S>(request: Request, state: &S) -> Result<Option<T>, ApiError>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    let limits = request.extensions().get::<RequestLimits>().copied();
    let bytes = axum::body::Bytes::from_request(request, state)
        .await
        .map_err(|rejection| unreadable_body(&rejection, limits))?;
    let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Ok(None);
    };
    if *first != b'{' {
        return Err(invalid_request(
            "body: a JSON object",
            "the body is not a JSON object",
        ));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| invalid_request(format!("body: {e}"), e.to_string()))
}

/// Why a body could not be read, as the catalogue says it.
fn unreadable_body(rejection: &BytesRejection, limits: Option<RequestLimits>) -> ApiError {
    if let BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) = rejection {
        let context = match limits {
            Some(l) => format!(
                "the body is over {} bytes (http.max_body_bytes)",
                l.max_body_bytes
            ),
            None => "the body is over the size limit".to_string(),
        };
        return CallingError::new(&registry::REQUEST_BODY_TOO_LARGE)
            .with_context(context)
            .into();
    }
    if caused_by::<BodyReadTimeout>(rejection) {
        let context = match limits {
            Some(l) => format!(
                "the body was not complete {} after the headers (http.body_read_timeout)",
                humantime::format_duration(l.body_read_timeout)
            ),
            None => "the body was not complete in time".to_string(),
        };
        return CallingError::new(&registry::REQUEST_READ_TIMEOUT)
            .with_context(context)
            .into();
    }
    invalid_request("the body could not be read", rejection.body_text())
}

/// Whether `E` is anywhere in the chain of causes of `error`.
fn caused_by<E: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if current.is::<E>() {
            return true;
        }
        cause = current.source();
    }
    false
}

/// Path parameters; each is at most [`MAX_ID_CHARS`] characters (else 400/900117), and anything
/// unreadable is 400/900102.
pub struct PathParams<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| invalid_request(format!("path: {}", e.body_text()), e.body_text()))?;
        for (name, value) in &raw {
            limits::text(&format!("path parameter `{name}`"), value, MAX_ID_CHARS)?;
        }
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PathParams(p.0))
            .map_err(|e| invalid_request(format!("path: {}", e.body_text()), e.body_text()))
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

/// The times the API reads (`since`, `until`, `validFrom`, `validUntil`): RFC 3339 in UTC (`Z` or
/// `+00:00`), from 1970 on, with any fraction of a second. The OpenAPI document declares exactly
/// this pattern beside `format: date-time`.
pub const UTC_TIME_PATTERN: &str = r"^(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$";

/// A time of [`UTC_TIME_PATTERN`] as milliseconds since the epoch; anything else is 400/900102
/// naming `field`, one over [`MAX_TIME_CHARS`] 400/900117.
pub fn utc_time(field: &str, text: &str) -> Result<i64, ApiError> {
    limits::text(field, text, MAX_TIME_CHARS)?;
    let bad = |why: String| invalid_request(format!("{field}: an RFC 3339 time in UTC"), why);
    let bytes = text.as_bytes();
    let utc = text.ends_with('Z') || text.ends_with("+00:00");
    if bytes.get(10) != Some(&b'T') || !utc {
        return Err(bad(
            "the form is 2026-01-31T12:00:00Z (T, and Z or +00:00)".into()
        ));
    }
    humantime::parse_rfc3339_weak(text)
        .map(crate::store::unix_ms)
        .map_err(|e| bad(e.to_string()))
}

/// Refuses a URL with white space or a control character anywhere: a URL parser drops tabs and
/// line breaks and trims spaces, so the text stored would not be the URL used or compared.
pub fn no_blanks(field: &str, text: &str) -> Result<(), ApiError> {
    match text
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
    {
        Some((at, c)) => Err(invalid_request(
            format!("{field}: no white space or control character"),
            format!("U+{:04X} at byte {at}", u32::from(c)),
        )),
        None => Ok(()),
    }
}

/// 400/900102 naming what is wrong.
pub fn invalid_request(context: impl Into<String>, raw_cause: impl Into<String>) -> ApiError {
    CallingError::new(&registry::INVALID_REQUEST)
        .with_context(context)
        .with_raw_cause(raw_cause)
        .into()
}

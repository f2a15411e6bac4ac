//! Errors as RFC 9457 problem documents (`application/problem+json`).
//!
//! Every REST error is a [`CallingError`]; [`ApiError`] is the one place that turns it into a
//! response, so the members (`type`, `title`, `status`, `detail`) and the catalogue extensions
//! (`code`, `subCode`, `resultCategory`, `name`) are the same for every route.

use appel_codes::{CallingError, Locale, ResultCategory};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A [`CallingError`] on its way to becoming an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub CallingError);

impl From<CallingError> for ApiError {
    fn from(error: CallingError) -> Self {
        ApiError(error)
    }
}

/// The HTTP status of an error: the entry's code when it is a registered HTTP status, otherwise 500
/// for server-side categories and 400 for the others.
pub fn http_status(error: &CallingError) -> StatusCode {
    let code = error.code().0;
    match StatusCode::from_u16(code) {
        Ok(status) if (400..=599).contains(&code) && status.canonical_reason().is_some() => status,
        _ if error.category() == ResultCategory::UnexpectedServerError => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

/// An error as every REST route answers it (`application/problem+json`): the RFC 9457 members and
/// the catalogue entry. The OpenAPI document's `Problem` schema is derived from this type.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// `urn:appel:code:<NAME>`.
    #[serde(rename = "type")]
    #[schema(format = "uri")]
    pub kind: String,
    /// The entry's message.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What this occurrence was about, and the entry's advice.
    pub detail: String,
    /// The entry's code.
    pub code: u16,
    /// The entry's subcode (null for a bare HTTP status).
    #[schema(required = true)]
    pub sub_code: Option<u32>,
    /// The entry's category.
    #[schema(value_type = super::openapi::ResultCategorySchema)]
    pub result_category: ResultCategory,
    /// The entry's stable name.
    pub name: String,
    /// Whether the same request may succeed later.
    pub retryable: bool,
    /// The underlying cause, verbatim, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_cause: Option<String>,
}

/// The problem document of an error.
pub fn problem_document(error: &CallingError) -> serde_json::Value {
    let status = http_status(error);
    let entry = error.entry();
    let detail = match error.context() {
        Some(context) => format!("{context}. {}", entry.advice(Locale::En)),
        None => entry.advice(Locale::En).to_string(),
    };
    let problem = Problem {
        kind: format!("urn:appel:code:{}", entry.name),
        title: entry.message(Locale::En).to_string(),
        status: status.as_u16(),
        detail,
        code: error.code().0,
        sub_code: error.subcode(),
        result_category: error.category(),
        name: entry.name.to_string(),
        retryable: error.retryable(),
        raw_cause: error.raw_cause().map(str::to_string),
    };
    serde_json::to_value(problem).unwrap_or_default()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = http_status(&self.0);
        if status.is_server_error() {
            tracing::error!(error = %self.0, "request failed");
        }
        (
            status,
            [(header::CONTENT_TYPE, PROBLEM_JSON)],
            problem_document(&self.0).to_string(),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use appel_codes::registry;

    #[test]
    fn status_is_the_code_when_http_knows_it() {
        let cases = [
            (&registry::ACCESS_KEY_INVALID, 401),
            (&registry::IDENTITY_NOT_FOUND, 404),
            (&registry::FRAME_TOO_LARGE, 413),
            (&registry::UNAUTHENTICATED, 401),
            (&registry::SERVER_SHUTTING_DOWN, 503),
            // 495 and 487 are not HTTP statuses: the category decides.
            (&registry::TOKEN_EXPIRED_DURING_CALL, 400),
            (&registry::CALL_CANCELLED, 400),
            (&registry::INCOMING_CALL_FAILED, 500),
        ];
        for (entry, status) in cases {
            assert_eq!(
                http_status(&CallingError::new(entry)).as_u16(),
                status,
                "{}",
                entry.name
            );
        }
    }

    #[test]
    fn the_document_carries_the_catalogue_members() {
        let error = CallingError::new(&registry::IDENTITY_NOT_FOUND).with_context("identity `x`");
        let document = problem_document(&error);
        assert_eq!(document["status"], 404);
        assert_eq!(document["code"], 404);
        assert_eq!(document["subCode"], 900101);
        assert_eq!(document["resultCategory"], "ExpectedError");
        assert_eq!(document["name"], "IDENTITY_NOT_FOUND");
        assert!(document["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("identity `x`.")));
        assert!(document["type"].as_str().is_some());
        assert!(document["title"].as_str().is_some());
    }
}

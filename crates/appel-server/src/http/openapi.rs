//! The OpenAPI 3.1 document served at `GET /openapi.json`, derived from the handlers: each route is
//! written once, in the `#[utoipa::path]` attribute of its handler, and [`api`] registers that
//! handler both in the router and in the document, so neither can list a route the other lacks.
//! Bodies, queries and answers are the handlers' own Rust types (`ToSchema`, `IntoParams`), with
//! the limits the handlers enforce written on their fields. What every route shares (the problem
//! body of its errors, the listener's answers, the length limit of path ids) is added by
//! [`finish`] from the extractors' rules. `docs/openapi.json` is a copy; a test fails when it drifts.

use std::sync::OnceLock;

use appel_codes::ResultCategory;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::limits::MAX_ID_CHARS;
use super::problem::{Problem, PROBLEM_JSON};
use super::{call_control, federation, identities, relay, rooms, routes, webhooks};
use crate::state::AppState;

/// The description of the whole API: what every operation may also answer.
const DESCRIPTION: &str =
    "Identities, access tokens, call records, rooms, call control, webhooks, \
federation, and the WebSocket signaling endpoint. Every error is an RFC 9457 problem document \
(application/problem+json) carrying the catalogue entry (code, subCode, resultCategory, name; \
docs/codes.md). Besides the answers listed on each operation, the listener may answer any \
request with 404/900110 (no such route), 405/900111 (wrong method), 414/900113 (path and query \
over http.max_uri_bytes), 431/900114 (headers over http.max_header_bytes, or more than 64 of \
them) and 503/900116 (http.max_connections connections already open); these are listed on every \
operation. This document is generated from the server's handlers (docs/openapi.json is a copy). \
See docs/protocol.md, HTTP limits.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Appel server", description = DESCRIPTION),
    components(schemas(Problem, ResultCategorySchema)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// The two bearer schemes: the server's access key (backends) and a user token.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        let mut key = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        key.description = Some("The server's access key (backends only)".into());
        components.add_security_scheme("accessKey", SecurityScheme::Http(key));
        let mut user = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        user.description = Some("A user access token (POST /identities/{id}/token)".into());
        components.add_security_scheme("userToken", SecurityScheme::Http(user));
    }
}

/// `ResultCategory` as JSON shows it: the names come from serializing every category.
pub struct ResultCategorySchema;

impl PartialSchema for ResultCategorySchema {
    fn schema() -> RefOr<Schema> {
        let names = ResultCategory::ALL
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok());
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(names))
            .into()
    }
}

impl ToSchema for ResultCategorySchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "ResultCategory".into()
    }
}

/// Every REST route with its handler; the router and the document both come from here.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::health))
        .routes(routes!(routes::ready))
        .routes(routes!(openapi_json))
        .routes(routes!(
            identities::create_identity,
            identities::list_identities
        ))
        .routes(routes!(
            identities::get_identity,
            identities::rename_identity,
            routes::delete_identity
        ))
        .routes(routes!(identities::people))
        .routes(routes!(routes::issue_token))
        .routes(routes!(routes::revoke_tokens))
        .routes(routes!(routes::validate))
        .routes(routes!(routes::list_calls))
        .routes(routes!(routes::call_summary))
        .routes(routes!(routes::metrics))
        .routes(routes!(routes::get_call))
        .routes(routes!(crate::signaling::upgrade))
        .routes(routes!(relay::credentials))
        .routes(routes!(rooms::create_room, rooms::list_rooms))
        .routes(routes!(
            rooms::get_room,
            rooms::update_room,
            rooms::delete_room
        ))
        .routes(routes!(rooms::upsert_participants))
        .routes(routes!(rooms::remove_participant))
        .routes(routes!(call_control::list_calls))
        .routes(routes!(call_control::get_call))
        .routes(routes!(call_control::add_participant))
        .routes(routes!(call_control::remove_participant))
        .routes(routes!(call_control::mute_participant))
        .routes(routes!(call_control::grant_end_for_everyone))
        .routes(routes!(call_control::hang_up))
        .routes(routes!(federation::add, federation::list))
        .routes(routes!(federation::remove))
        .routes(routes!(webhooks::subscribe, webhooks::list))
        .routes(routes!(webhooks::unsubscribe))
        .routes(routes!(webhooks::deliveries))
}

/// The document, built once.
pub fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (_, mut document) = api().split_for_parts();
        finish(&mut document);
        document
    })
}

/// The document as served and as committed in docs/openapi.json (pretty, with a final newline).
pub fn document_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(document()).unwrap_or_default();
        text.push('\n');
        text
    })
}

/// The document itself.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], document_text())
}

/// Answers an operation gets from the extractors and the listener rather than from its handler.
const LISTENER_ANSWERS: [(&str, &str); 3] = [
    (
        "414",
        "414/900113: the path and query are over http.max_uri_bytes",
    ),
    (
        "431",
        "431/900114: the headers are over http.max_header_bytes, or more than 64",
    ),
    (
        "503",
        "503/900116: http.max_connections connections are already open",
    ),
];

/// What every operation shares, added from the rules of the extractors and the listener: the
/// problem body of every error answer, the length limit of path ids (400/900117), 413 and 408
/// where there is a body, and the listener's answers.
fn finish(document: &mut Document) {
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.patch,
            &mut item.delete,
            &mut item.put,
        ];
        for operation in operations.into_iter().flatten() {
            finish_operation(operation);
        }
    }
}

fn finish_operation(operation: &mut Operation) {
    let mut has_path_ids = false;
    for parameter in operation.parameters.iter_mut().flatten() {
        if parameter.parameter_in == ParameterIn::Path {
            has_path_ids = true;
            parameter.schema = Some(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .max_length(Some(MAX_ID_CHARS))
                    .into(),
            );
        }
    }
    let has_body = operation.request_body.is_some();
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, text: &str| {
        let description = match responses.get(status) {
            Some(RefOr::T(existing)) if !existing.description.contains(text) => {
                format!("{}; {text}", existing.description)
            }
            Some(RefOr::T(existing)) => existing.description.clone(),
            _ => text.to_string(),
        };
        responses.insert(status.to_string(), RefOr::T(problem(&description)));
    };
    if has_body {
        add(
            "400",
            "400/900102: the body is missing where required, not a JSON object, or does not follow its schema (an unknown member included)",
        );
        add("413", "413/900112: the body is over http.max_body_bytes");
        add(
            "408",
            "408/900115: the body was not complete within http.body_read_timeout",
        );
    }
    if has_body || has_path_ids {
        add(
            "400",
            "400/900117: a field, a list or a path id over its maxLength or maxItems (nothing is stored)",
        );
    }
    for (status, text) in LISTENER_ANSWERS {
        add(status, text);
    }
    // The handlers write their error answers without a body schema: each is a problem document.
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(response) = response {
            if status.starts_with('4') || status.starts_with('5') {
                *response = problem(&response.description);
            }
        }
    }
    if let Some(body) = &mut operation.request_body {
        optional_body_is_absent_not_null(body);
    }
}

/// A handler taking `OptionalJsonBody` is annotated with `Option<T>`, which utoipa writes as
/// "null or T". The extractor reads a left-out body as the defaults but refuses a `null` body
/// (only an object is a body), so the document says: not required, and when there, a T.
fn optional_body_is_absent_not_null(body: &mut RequestBody) {
    let mut optional = false;
    for media in body.content.values_mut() {
        if let Some(RefOr::T(Schema::OneOf(one_of))) = &media.schema {
            let not_null = one_of.items.iter().find(|item| {
                !matches!(item, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
            });
            if let (2, Some(schema)) = (one_of.items.len(), not_null) {
                media.schema = Some(schema.clone());
                optional = true;
            }
        }
    }
    body.required = Some(if optional {
        utoipa::openapi::Required::False
    } else {
        utoipa::openapi::Required::True
    });
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, Content::new(Some(Problem::schema_ref())))
        .build()
}

trait SchemaRef {
    fn schema_ref() -> RefOr<Schema>;
}

impl<T: ToSchema> SchemaRef for T {
    fn schema_ref() -> RefOr<Schema> {
        RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name()))
    }
}

/// Every operation of the document as `(method, path)`, methods in lower case.
pub fn operations() -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, item) in &document().paths.paths {
        let methods = [
            ("get", &item.get),
            ("post", &item.post),
            ("patch", &item.patch),
            ("delete", &item.delete),
            ("put", &item.put),
        ];
        for (method, operation) in methods {
            if operation.is_some() {
                found.push((method.to_string(), path.clone()));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::extract::UTC_TIME_PATTERN;
    use crate::http::identities::DISPLAY_NAME_PATTERN;
    use crate::http::limits::{
        MAX_EVENT_CHARS, MAX_NAME_CHARS, MAX_ROSTER_ENTRIES, MAX_SCOPES, MAX_SCOPE_CHARS,
        MAX_SECRET_CHARS, MAX_TIME_CHARS, MAX_URL_CHARS,
    };
    use crate::tokens::{MAX_LIFETIME, MIN_LIFETIME};
    use serde_json::Value;

    fn json() -> Value {
        serde_json::to_value(document()).expect("the document is JSON")
    }

    /// utoipa takes only literal numbers in its attributes: each literal must equal the constant
    /// the handler checks.
    #[test]
    fn every_declared_limit_is_the_one_the_handler_enforces() {
        let document = json();
        let schemas = &document["components"]["schemas"];
        let cases = [
            (
                &schemas["RosterEntry"]["properties"]["identity"]["maxLength"],
                MAX_ID_CHARS,
            ),
            (
                &schemas["RoomRequest"]["properties"]["participants"]["maxItems"],
                MAX_ROSTER_ENTRIES,
            ),
            (
                &schemas["RosterRequest"]["properties"]["participants"]["maxItems"],
                MAX_ROSTER_ENTRIES,
            ),
            (
                &schemas["RoomRequest"]["properties"]["validFrom"]["maxLength"],
                MAX_TIME_CHARS,
            ),
            (
                &schemas["SubscriptionRequest"]["properties"]["url"]["maxLength"],
                MAX_URL_CHARS,
            ),
            (
                &schemas["SubscriptionRequest"]["properties"]["secret"]["maxLength"],
                MAX_SECRET_CHARS,
            ),
            (
                &schemas["SubscriptionRequest"]["properties"]["events"]["items"]["maxLength"],
                MAX_EVENT_CHARS,
            ),
            (
                &schemas["IssuerRequest"]["properties"]["issuer"]["maxLength"],
                MAX_URL_CHARS,
            ),
            (
                &schemas["TokenRequest"]["properties"]["scopes"]["maxItems"],
                MAX_SCOPES,
            ),
            (
                &schemas["TokenRequest"]["properties"]["scopes"]["items"]["maxLength"],
                MAX_SCOPE_CHARS,
            ),
            (
                &schemas["IdentityBody"]["properties"]["displayName"]["maxLength"],
                MAX_NAME_CHARS,
            ),
            (
                &schemas["RenameBody"]["properties"]["displayName"]["maxLength"],
                MAX_NAME_CHARS,
            ),
            (
                &schemas["AddParticipant"]["properties"]["identity"]["maxLength"],
                MAX_ID_CHARS,
            ),
            (
                &schemas["TokenRequest"]["properties"]["expiresInMinutes"]["minimum"],
                (MIN_LIFETIME.as_secs() / 60) as usize,
            ),
            (
                &schemas["TokenRequest"]["properties"]["expiresInMinutes"]["maximum"],
                (MAX_LIFETIME.as_secs() / 60) as usize,
            ),
        ];
        for (i, (declared, enforced)) in cases.iter().enumerate() {
            assert_eq!(
                declared.as_u64(),
                Some(*enforced as u64),
                "case {i}: {declared}"
            );
        }
        for schema in ["IdentityBody", "RenameBody"] {
            assert_eq!(
                schemas[schema]["properties"]["displayName"]["pattern"],
                DISPLAY_NAME_PATTERN
            );
        }
        for field in ["validFrom", "validUntil"] {
            assert_eq!(
                schemas["RoomRequest"]["properties"][field]["pattern"],
                UTC_TIME_PATTERN
            );
        }
        let calls = &document["paths"]["/calls"]["get"]["parameters"];
        let since = calls
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "since"))
            .expect("since");
        assert_eq!(since["schema"]["pattern"], UTC_TIME_PATTERN);
        assert_eq!(since["schema"]["maxLength"], MAX_TIME_CHARS);
    }

    /// Every body the handlers read refuses members they do not know.
    #[test]
    fn request_bodies_refuse_unknown_members() {
        let document = json();
        let schemas = &document["components"]["schemas"];
        for name in [
            "IdentityBody",
            "RenameBody",
            "TokenRequest",
            "RoomRequest",
            "RosterRequest",
            "RosterEntry",
            "AddParticipant",
            "SubscriptionRequest",
            "IssuerRequest",
        ] {
            assert_eq!(schemas[name]["additionalProperties"], false, "{name}");
        }
    }

    /// Each error answer carries the problem schema, each operation the listener's answers, and
    /// each path id its length limit.
    #[test]
    fn every_answer_and_path_id_is_declared() {
        let document = json();
        let mut operations_seen = 0;
        for (path, item) in document["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("item") {
                operations_seen += 1;
                let responses = operation["responses"].as_object().expect("responses");
                for status in ["414", "431", "503"] {
                    assert!(responses.contains_key(status), "{method} {path} {status}");
                }
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            response["content"]["application/problem+json"]["schema"]["$ref"],
                            "#/components/schemas/Problem",
                            "{method} {path} {status}"
                        );
                    }
                }
                if operation.get("requestBody").is_some() {
                    for status in ["400", "408", "413"] {
                        assert!(responses.contains_key(status), "{method} {path} {status}");
                    }
                }
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    if parameter["in"] == "path" {
                        assert_eq!(parameter["schema"]["maxLength"], MAX_ID_CHARS, "{path}");
                    }
                }
            }
        }
        assert_eq!(operations_seen, operations().len());
        let text = serde_json::to_string(&document).expect("text");
        for reference in text.split("\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(
                document["components"]["schemas"][name].is_object(),
                "unresolved schema {name}"
            );
        }
    }
}

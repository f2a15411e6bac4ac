//! The OpenAPI 3.1 document served at `GET /openapi.json`, written by hand so it says exactly what
//! the handlers do. A test checks that it lists every route of the router.

use serde_json::{json, Value};

use super::limits::{
    MAX_EVENT_CHARS, MAX_ID_CHARS, MAX_NAME_CHARS, MAX_ROSTER_ENTRIES, MAX_SCOPES, MAX_SCOPE_CHARS,
    MAX_SECRET_CHARS, MAX_TIME_CHARS, MAX_URL_CHARS,
};

/// Every route the REST API serves, as `(method, path)`; the router and the document both follow it.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/openapi.json"),
    ("post", "/identities"),
    ("get", "/identities"),
    ("get", "/identities/{id}"),
    ("patch", "/identities/{id}"),
    ("delete", "/identities/{id}"),
    ("get", "/people"),
    ("post", "/identities/{id}/token"),
    ("delete", "/identities/{id}/tokens"),
    ("get", "/validate"),
    ("get", "/calls"),
    ("get", "/calls/summary"),
    ("get", "/metrics"),
    ("get", "/calls/{id}"),
    ("get", "/signaling"),
    ("get", "/relay/credentials"),
    ("post", "/rooms"),
    ("get", "/rooms"),
    ("get", "/rooms/{id}"),
    ("patch", "/rooms/{id}"),
    ("delete", "/rooms/{id}"),
    ("patch", "/rooms/{id}/participants"),
    ("delete", "/rooms/{id}/participants/{identity}"),
    ("get", "/call-control/calls"),
    ("get", "/call-control/calls/{id}"),
    ("post", "/call-control/calls/{id}/participants"),
    (
        "delete",
        "/call-control/calls/{id}/participants/{participant}",
    ),
    (
        "post",
        "/call-control/calls/{id}/participants/{participant}/mute",
    ),
    (
        "post",
        "/call-control/calls/{id}/participants/{participant}/end-for-everyone",
    ),
    ("post", "/call-control/calls/{id}/hang-up"),
    ("post", "/webhooks"),
    ("get", "/webhooks"),
    ("delete", "/webhooks/{id}"),
    ("get", "/webhooks/{id}/deliveries"),
    ("post", "/federation/issuers"),
    ("get", "/federation/issuers"),
    ("delete", "/federation/issuers/{id}"),
];

/// Its own function: inline, the document outgrows the `json!` macro's recursion limit.
fn call_summary_schema() -> Value {
    json!({
        "type": "object",
        "required": ["since", "until", "legs", "calls", "reasons", "categories", "bucketMs", "buckets"],
        "properties": {
            "since": { "type": "string", "format": "date-time" },
            "until": { "type": "string", "format": "date-time" },
            "legs": { "type": "integer", "description": "Legs that ended in the window" },
            "calls": { "type": "integer", "description": "Calls that ended in the window" },
            "reasons": { "type": "array", "items": { "type": "object",
                "required": ["code", "subCode", "resultCategory", "name", "count", "share"],
                "properties": {
                    "code": { "type": "integer" }, "subCode": { "type": "integer" },
                    "resultCategory": { "$ref": "#/components/schemas/ResultCategory" },
                    "name": { "type": "string" }, "count": { "type": "integer" },
                    "share": { "type": "number", "minimum": 0, "maximum": 1 }
                } } },
            "categories": { "type": "array", "items": { "type": "object",
                "required": ["resultCategory", "count", "share"],
                "properties": {
                    "resultCategory": { "$ref": "#/components/schemas/ResultCategory" },
                    "count": { "type": "integer" },
                    "share": { "type": "number", "minimum": 0, "maximum": 1 }
                } } },
            "bucketMs": { "type": "integer" },
            "buckets": { "type": "array", "items": { "type": "object",
                "required": ["start", "categories"],
                "properties": {
                    "start": { "type": "string", "format": "date-time" },
                    "categories": { "type": "object", "additionalProperties": { "type": "integer" } }
                } } }
        }
    })
}

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
    })
}

fn ok(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

fn id_param(what: &str) -> Value {
    path_param("id", what)
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

/// The document.
pub fn document() -> Value {
    let access_key = json!([{ "accessKey": [] }]);
    let user_token = json!([{ "userToken": [] }]);
    let list_params = json!([
        { "name": "name", "in": "query", "required": false, "description": "Display names starting with this, case ignored", "schema": { "type": "string", "maxLength": MAX_NAME_CHARS } },
        { "name": "after", "in": "query", "required": false, "description": "The `next` of the previous page", "schema": { "type": "string" } },
        { "name": "limit", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": 200, "default": 50 } }
    ]);
    let key_problem = problem("401/900100: the access key is missing or wrong");
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Appel server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Identities, access tokens, call records, and the WebSocket signaling endpoint. Every error is an RFC 9457 problem document carrying the catalogue entry (code, subCode, resultCategory, name). Every operation may also answer, from the listener: 404/900110 (no such route), 405/900111 (wrong method), 414/900113 (path and query over http.max_uri_bytes, 8 KiB by default), 431/900114 (headers over http.max_header_bytes, 16 KiB by default, or more than 64 of them), 503/900116 (http.max_connections HTTP connections already open); operations with a body also 413/900112 (body over http.max_body_bytes, 1 MiB by default) and 408/900115 (body not complete within http.body_read_timeout). A field over its maxLength or a list over its maxItems is 400/900117, and nothing is stored. See docs/protocol.md, HTTP limits."
        },
        "paths": {
            "/health": { "get": {
                "summary": "Liveness check and the signaling settings SDKs need",
                "responses": { "200": ok("The server is up", "Health") }
            }},
            "/ready": { "get": {
                "summary": "Readiness: whether this server can take calls now (not shutting down; the database, the call controller and the records writer answer)",
                "responses": {
                    "200": ok("Ready", "Ready"),
                    "503": problem("503/900118: not ready; the detail names the failing parts")
                }
            }},
            "/openapi.json": { "get": {
                "summary": "This document",
                "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": {} } } }
            }},
            "/identities": {
                "post": {
                    "summary": "Create an identity, with a display name if given",
                    "security": access_key,
                    "requestBody": { "required": false, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/IdentityBody" } } } },
                    "responses": {
                        "201": ok("Created", "Identity"),
                        "400": problem("400/900102: invalid body or display name; 400/900117: display name over 128 characters"),
                        "401": key_problem
                    }
                },
                "get": {
                    "summary": "List live identities by display name (case ignored), with their presence",
                    "security": access_key,
                    "parameters": list_params.clone(),
                    "responses": {
                        "200": ok("A page of identities", "IdentityPage"),
                        "400": problem("400/900102: invalid query or cursor; 400/900117: name over 128 characters"),
                        "401": key_problem
                    }
                }
            },
            "/people": { "get": {
                "summary": "For a signed-in user: the named people of this server with their presence",
                "security": user_token,
                "parameters": list_params,
                "responses": {
                    "200": ok("A page of people (identities with a display name)", "IdentityPage"),
                    "400": problem("400/900102: invalid query or cursor"),
                    "401": problem("401/10009: missing or invalid user token"),
                    "403": problem("403/900122: directory.people is off on this server")
                }
            }},
            "/identities/{id}": {
              "get": {
                "summary": "One live identity with its presence",
                "security": access_key,
                "parameters": [id_param("Identity id")],
                "responses": {
                    "200": ok("The identity", "Identity"),
                    "401": key_problem,
                    "404": problem("404/900101: no such live identity")
                }
              },
              "patch": {
                "summary": "Set (or, with null, remove) an identity's display name",
                "security": access_key,
                "parameters": [id_param("Identity id")],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/IdentityBody" } } } },
                "responses": {
                    "200": ok("The identity as it now is", "Identity"),
                    "400": problem("400/900102: invalid body or display name; 400/900117: display name over 128 characters"),
                    "401": key_problem,
                    "404": problem("404/900101: no such live identity")
                }
              },
              "delete": {
                "summary": "Delete an identity; its live connections are closed with 401/10009",
                "security": access_key,
                "parameters": [id_param("Identity id")],
                "responses": {
                    "204": { "description": "Deleted" },
                    "401": key_problem,
                    "404": problem("404/900101: no such identity")
                }
            }},
            "/identities/{id}/token": { "post": {
                "summary": "Issue a user access token",
                "security": access_key,
                "parameters": [id_param("Identity id")],
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TokenRequest" } } } },
                "responses": {
                    "200": ok("The token", "TokenResponse"),
                    "400": problem("400/900102: invalid body; 400/900103: lifetime outside 60–1440 minutes"),
                    "401": key_problem,
                    "404": problem("404/900101: no such identity")
                }
            }},
            "/identities/{id}/tokens": { "delete": {
                "summary": "Revoke every token issued so far, whatever dates it carries; live connections are closed with 401/10009",
                "description": "Bumps the identity's token generation: tokens carry the generation they were issued in (claim `gen`) and only the current one is accepted (docs/tokens.md).",
                "security": access_key,
                "parameters": [id_param("Identity id")],
                "responses": {
                    "204": { "description": "Revoked" },
                    "401": key_problem,
                    "404": problem("404/900101: no such identity")
                }
            }},
            "/validate": { "get": {
                "summary": "Check a user token exactly as the signaling handshake would",
                "security": user_token,
                "responses": {
                    "200": ok("The token is valid", "Validation"),
                    "401": problem("401/10009: missing, forged, expired, not yet valid (nbf) or revoked token, a token issued in the future (iat beyond tokens.clock_leeway), or deleted identity; the problem's rawCause names which")
                }
            }},
            "/calls": { "get": {
                "summary": "List call records, newest first",
                "security": access_key,
                "parameters": [
                    query("code", "A leg ended with this code", json!({ "type": "integer" })),
                    query("subCode", "A leg ended with this subcode", json!({ "type": "integer" })),
                    query("category", "A leg ended with this result category", json!({ "$ref": "#/components/schemas/ResultCategory" })),
                    query("identity", "The caller, a target or a participant", json!({ "type": "string" })),
                    query("since", "Created at or after (RFC 3339, UTC)", json!({ "type": "string", "format": "date-time", "maxLength": MAX_TIME_CHARS })),
                    query("until", "Created before (RFC 3339, UTC)", json!({ "type": "string", "format": "date-time", "maxLength": MAX_TIME_CHARS })),
                    query("limit", "Page size, 1–500 (default 50)", json!({ "type": "integer", "minimum": 1, "maximum": 500 })),
                    query("cursor", "nextCursor of the previous page", json!({ "type": "string" }))
                ],
                "responses": {
                    "200": ok("A page of calls", "CallPage"),
                    "400": problem("400/900102: invalid parameter"),
                    "401": key_problem
                }
            }},
            "/calls/summary": { "get": {
                "summary": "Leg ends over a window: counts and shares by code/subCode and by category, and the categories over time",
                "security": access_key,
                "parameters": [
                    query("since", "Legs that ended at or after (RFC 3339, UTC; default 24 hours before until)", json!({ "type": "string", "format": "date-time", "maxLength": MAX_TIME_CHARS })),
                    query("until", "Legs that ended before (RFC 3339, UTC; default now)", json!({ "type": "string", "format": "date-time", "maxLength": MAX_TIME_CHARS })),
                    query("buckets", "Equal slices of the window for the trend, 1–500 (default 24)", json!({ "type": "integer", "minimum": 1, "maximum": 500 }))
                ],
                "responses": {
                    "200": ok("The summary", "CallSummary"),
                    "400": problem("400/900102: invalid parameter"),
                    "401": key_problem
                }
            }},
            "/metrics": { "get": {
                "summary": "Prometheus metrics (text exposition): call and leg ends by code, subCode and category, setup latency, active calls, connected endpoints, webhook attempts, records queue depth, process (docs/operations.md)",
                "security": access_key,
                "responses": {
                    "200": { "description": "The metrics", "content": { "text/plain": { "schema": { "type": "string" } } } },
                    "401": key_problem
                }
            }},
            "/calls/{id}": { "get": {
                "summary": "One call: every leg with its end reason, and the timeline",
                "security": access_key,
                "parameters": [id_param("Call id")],
                "responses": {
                    "200": ok("The call", "CallRecord"),
                    "401": key_problem,
                    "404": problem("404/900104: no such call")
                }
            }},
            "/relay/credentials": { "get": {
                "summary": "Short-lived media relay (TURN) credentials and ICE server urls for the caller's calls (docs/relay.md)",
                "description": "username = `<expiry unix time>:<identity>`, credential = base64(HMAC-SHA1(relay.secret, username)), checked by the relay itself. Without a configured relay, iceServers is empty.",
                "security": user_token,
                "responses": {
                    "200": ok("The ICE servers to use", "RelayCredentials"),
                    "401": problem("401/10009: missing, forged, expired or revoked user token")
                }
            }},
            "/signaling": { "get": {
                "summary": "WebSocket signaling (JSON frames; see docs/protocol.md). The first frame must be hello; refusals are error frames with fatal: true",
                "responses": {
                    "101": { "description": "Switching to the WebSocket protocol" },
                    "400": { "description": "Not a WebSocket upgrade" }
                }
            }}
        },
        "components": {
            "securitySchemes": {
                "accessKey": { "type": "http", "scheme": "bearer", "description": "The server's access key (backends only)" },
                "userToken": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A user access token" }
            },
            "schemas": {
                "ResultCategory": { "type": "string", "enum": ["Success", "ExpectedError", "UnexpectedClientError", "UnexpectedServerError"] },
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail", "code", "subCode", "resultCategory", "name"],
                    "properties": {
                        "type": { "type": "string", "format": "uri" },
                        "title": { "type": "string", "description": "The entry's message" },
                        "status": { "type": "integer" },
                        "detail": { "type": "string", "description": "What this occurrence was about, and the entry's advice" },
                        "code": { "type": "integer" },
                        "subCode": { "type": ["integer", "null"] },
                        "resultCategory": { "$ref": "#/components/schemas/ResultCategory" },
                        "name": { "type": "string" },
                        "retryable": { "type": "boolean" },
                        "rawCause": { "type": "string" }
                    }
                },
                "Ready": {
                    "type": "object",
                    "required": ["status"],
                    "properties": { "status": { "const": "ready" } }
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "signaling"],
                    "properties": {
                        "status": { "const": "ok" },
                        "signaling": {
                            "type": "object",
                            "description": "What an SDK needs before connecting; it applies the reconnect grace itself (496/7 when it runs out)",
                            "properties": {
                                "protocolVersion": { "type": "integer" },
                                "heartbeatIntervalMs": { "type": "integer" },
                                "reconnectGraceMs": { "type": "integer" },
                                "maxFrameBytes": { "type": "integer" }
                            }
                        }
                    }
                },
                "IdentityBody": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": { "displayName": { "type": ["string", "null"], "minLength": 1, "maxLength": MAX_NAME_CHARS } }
                },
                "Identity": {
                    "type": "object",
                    "required": ["id", "createdAt", "presence"],
                    "properties": {
                        "id": { "type": "string" },
                        "displayName": { "type": "string" },
                        "createdAt": { "type": "string", "format": "date-time" },
                        "presence": { "enum": ["offline", "online", "inCall"] }
                    }
                },
                "IdentityPage": {
                    "type": "object",
                    "required": ["identities"],
                    "properties": {
                        "identities": { "type": "array", "items": { "$ref": "#/components/schemas/Identity" } },
                        "next": { "type": "string", "description": "Pass as `after` for the next page; absent on the last page" }
                    }
                },
                "TokenRequest": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "scopes": { "type": "array", "items": { "const": "voip", "maxLength": MAX_SCOPE_CHARS }, "maxItems": MAX_SCOPES, "default": ["voip"] },
                        "expiresInMinutes": { "type": "integer", "minimum": 60, "maximum": 1440, "default": 1440 }
                    }
                },
                "TokenResponse": {
                    "type": "object",
                    "required": ["token", "expiresOn"],
                    "properties": {
                        "token": { "type": "string", "description": "An HS256 JWT with the claims identity, scopes, iat, exp, jti and gen (the identity's token generation); docs/tokens.md" },
                        "expiresOn": { "type": "string", "format": "date-time" }
                    }
                },
                "RelayCredentials": {
                    "type": "object",
                    "required": ["iceServers", "ttl"],
                    "properties": {
                        "iceServers": { "type": "array", "items": {
                            "type": "object",
                            "required": ["urls", "username", "credential"],
                            "properties": {
                                "urls": { "type": "array", "items": { "type": "string" } },
                                "username": { "type": "string" },
                                "credential": { "type": "string" }
                            }
                        }},
                        "ttl": { "type": "integer", "description": "Seconds the credentials stay valid" },
                        "expiresAt": { "type": "integer", "description": "Unix seconds" }
                    }
                },
                "Validation": {
                    "type": "object",
                    "required": ["identity", "expiresOn"],
                    "properties": { "identity": { "type": "string" }, "expiresOn": { "type": "string", "format": "date-time" } }
                },
                "EndReason": {
                    "type": "object",
                    "required": ["code", "subCode", "resultCategory", "name"],
                    "properties": {
                        "code": { "type": "integer" },
                        "subCode": { "type": "integer" },
                        "resultCategory": { "$ref": "#/components/schemas/ResultCategory" },
                        "name": { "type": "string" }
                    }
                },
                "Leg": {
                    "type": "object",
                    "required": ["participantId", "identity", "joinedAt"],
                    "properties": {
                        "participantId": { "type": "string" },
                        "endpointId": { "type": ["string", "null"] },
                        "identity": { "type": "string" },
                        "joinedAt": { "type": "string", "format": "date-time" },
                        "leftAt": { "type": ["string", "null"], "format": "date-time" },
                        "durationMs": { "type": ["integer", "null"] },
                        "endReason": { "oneOf": [{ "$ref": "#/components/schemas/EndReason" }, { "type": "null" }] },
                        "rawCause": { "type": ["string", "null"] },
                        "answered": { "type": "boolean", "description": "false for a target that never joined: its leg starts with the call and carries the target's own end reason" }
                    }
                },
                "TimelineEntry": {
                    "type": "object",
                    "required": ["at", "kind"],
                    "properties": { "at": { "type": "string", "format": "date-time" }, "kind": { "type": "string" }, "detail": {} }
                },
                "CallRecord": {
                    "type": "object",
                    "required": ["id", "caller", "targets", "createdAt", "legs"],
                    "properties": {
                        "id": { "type": "string" },
                        "caller": { "type": "string" },
                        "targets": { "type": "array", "items": { "type": "string" } },
                        "createdAt": { "type": "string", "format": "date-time" },
                        "endedAt": { "type": ["string", "null"], "format": "date-time" },
                        "endReason": { "oneOf": [{ "$ref": "#/components/schemas/EndReason" }, { "type": "null" }] },
                        "legs": { "type": "array", "items": { "$ref": "#/components/schemas/Leg" } },
                        "rings": { "type": "array", "description": "Single-call reads: each endpoint that rang and stopped, with the reason it was given (participantId, endpointId, identity, endedAt, endReason, rawCause)", "items": { "type": "object" } },
                        "timeline": { "type": "array", "items": { "$ref": "#/components/schemas/TimelineEntry" } }
                    }
                },
                "CallSummary": call_summary_schema(),
                "CallPage": {
                    "type": "object",
                    "required": ["calls", "nextCursor"],
                    "properties": {
                        "calls": { "type": "array", "items": { "$ref": "#/components/schemas/CallRecord" } },
                        "nextCursor": { "type": ["string", "null"] }
                    }
                }
            }
        }
    });
    add_group_api(&mut document);
    add_limit_answers(&mut document);
    document
}

/// The answers an operation gets from the limits rather than from its handler: 413 and 408 where
/// there is a body, 400/900117 where a field or a path id can be too long.
fn add_limit_answers(document: &mut Value) {
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let has_ids = path.contains('{');
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for operation in operations.values_mut() {
            let has_body = operation.get("requestBody").is_some();
            let Some(responses) = operation["responses"].as_object_mut() else {
                continue;
            };
            if has_body {
                responses.insert(
                    "413".into(),
                    problem("413/900112: the body is over http.max_body_bytes (1 MiB by default)"),
                );
                responses.insert(
                    "408".into(),
                    problem("408/900115: the body was not complete within http.body_read_timeout"),
                );
            }
            if has_body || has_ids {
                let mut description = responses
                    .get("400")
                    .and_then(|r| r["description"].as_str())
                    .map(|d| format!("{d}; "))
                    .unwrap_or_default();
                description.push_str(if has_body {
                    "400/900117: a field over its maxLength or a list over its maxItems (nothing is stored)"
                } else {
                    "400/900117: a path id over its maxLength"
                });
                responses.insert("400".into(), problem(&description));
            }
        }
    }
}

fn path_param(name: &str, what: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": what, "schema": { "type": "string", "maxLength": MAX_ID_CHARS } })
}

/// A date-time text, as bodies and queries take it.
fn time_schema(description: &str) -> Value {
    json!({ "type": "string", "format": "date-time", "maxLength": MAX_TIME_CHARS, "description": description })
}

fn body(schema: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

/// Rooms, call control and webhooks: paths and schemas.
fn add_group_api(document: &mut Value) {
    let key = json!([{ "accessKey": [] }]);
    let key_problem = problem("401/900100: the access key is missing or wrong");
    let bad = problem("400/900102: the body or a parameter is not valid");
    let no_room = problem("404/900505: no such room");
    let no_call = problem("404/900200: the call is not in progress");
    let no_participant = problem("404/900506: the participant is not in the call");
    let no_hook = problem("404/900507: no such subscription");
    let room = path_param("id", "Room id");
    let call = path_param("id", "Call id");
    let participant = path_param("participant", "Participant id");
    let paths = json!({
        "/rooms": {
            "post": { "summary": "Create a room with a validity window and a roster", "security": key, "requestBody": body("RoomRequest"),
                "responses": { "201": ok("Created", "Room"), "400": bad, "401": key_problem } },
            "get": { "summary": "List rooms", "security": key, "responses": { "200": ok("Every room", "RoomList"), "401": key_problem } }
        },
        "/rooms/{id}": {
            "get": { "summary": "Get a room", "security": key, "parameters": [room], "responses": { "200": ok("The room", "Room"), "401": key_problem, "404": no_room } },
            "patch": { "summary": "Change the window; `participants` replaces the roster (those whose role changed or who left it are removed from the room's call with 0/5317)", "security": key, "parameters": [room], "requestBody": body("RoomRequest"),
                "responses": { "200": ok("The room", "Room"), "400": bad, "401": key_problem, "404": no_room } },
            "delete": { "summary": "Delete a room; everyone in its call leaves with 0/5317", "security": key, "parameters": [room],
                "responses": { "204": { "description": "Deleted" }, "401": key_problem, "404": no_room } }
        },
        "/rooms/{id}/participants": {
            "patch": { "summary": "Add roster participants or change their role (a role change removes the participant from the room's call with 0/5317)", "security": key, "parameters": [room], "requestBody": body("RosterRequest"),
                "responses": { "200": ok("The room", "Room"), "400": bad, "401": key_problem, "404": no_room } }
        },
        "/rooms/{id}/participants/{identity}": {
            "delete": { "summary": "Take an identity off the roster (removed from the room's call with 0/5317)", "security": key, "parameters": [room, path_param("identity", "Identity id")],
                "responses": { "200": ok("The room", "Room"), "401": key_problem, "404": no_room } }
        },
        "/call-control/calls": {
            "get": { "summary": "List the calls in progress", "security": key, "responses": { "200": ok("Calls in progress", "ActiveCalls"), "401": key_problem } }
        },
        "/call-control/calls/{id}": {
            "get": { "summary": "Get a call in progress", "security": key, "parameters": [call], "responses": { "200": ok("The call", "ActiveCall"), "401": key_problem, "404": no_call } }
        },
        "/call-control/calls/{id}/participants": {
            "post": { "summary": "Ring an identity into the call (it then leaves or joins with the outcomes of a call started to it)", "security": key, "parameters": [call], "requestBody": body("AddParticipant"),
                "responses": { "202": { "description": "Ringing" }, "400": bad, "401": key_problem, "403": problem("403/900202: the participant limit is reached"), "404": no_call, "412": problem("412/900201: already in the call, or a room's call") } }
        },
        "/call-control/calls/{id}/participants/{participant}": {
            "delete": { "summary": "Remove a participant: it sees 0/5300", "security": key, "parameters": [call, participant],
                "responses": { "204": { "description": "Removed" }, "401": key_problem, "404": no_participant } }
        },
        "/call-control/calls/{id}/participants/{participant}/mute": {
            "post": { "summary": "Mute a participant (its SDK gets a `muted` frame and turns the microphone off)", "security": key, "parameters": [call, participant],
                "responses": { "204": { "description": "Muted" }, "401": key_problem, "404": no_participant } }
        },
        "/call-control/calls/{id}/participants/{participant}/end-for-everyone": {
            "post": { "summary": "Grant a participant the organizer's capability to end the call for everyone (others see 0/4097); refused in rooms (403/900501)", "security": key, "parameters": [call, participant],
                "responses": { "204": { "description": "Granted" }, "401": key_problem, "403": problem("403/900501: a room's call"), "404": no_participant } }
        },
        "/call-control/calls/{id}/hang-up": {
            "post": { "summary": "End the call for everyone: every party sees 0/7000", "security": key, "parameters": [call],
                "responses": { "204": { "description": "Ended" }, "401": key_problem, "404": no_call } }
        },
        "/webhooks": {
            "post": { "summary": "Subscribe a receiver to call events (CallStarted, ParticipantJoined, ParticipantLeft, CallEnded). Each POST carries the header `appel-signature: t=<unix ms>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with the secret>`; a non-2xx answer is retried with exponential backoff for `webhooks.retry_for`", "security": key, "requestBody": body("SubscriptionRequest"),
                "responses": { "201": ok("Subscribed; the secret is shown only here", "CreatedSubscription"), "400": bad, "401": key_problem } },
            "get": { "summary": "List subscriptions", "security": key, "responses": { "200": ok("Subscriptions", "SubscriptionList"), "401": key_problem } }
        },
        "/webhooks/{id}": {
            "delete": { "summary": "Unsubscribe", "security": key, "parameters": [path_param("id", "Subscription id")],
                "responses": { "204": { "description": "Removed" }, "401": key_problem, "404": no_hook } }
        },
        "/federation/issuers": {
            "post": { "summary": "Trust an identity provider (docs/identities.md): its tokens then sign users in as `federated:<issuer>:<subject>`. Keys come from its discovery document unless `jwks` is given", "security": key, "requestBody": body("IssuerRequest"),
                "responses": { "201": ok("Trusted", "Issuer"), "400": bad, "401": key_problem, "409": problem("409/900661: already trusted") } },
            "get": { "summary": "List the trusted identity providers (config file and API)", "security": key, "responses": { "200": ok("Providers", "IssuerList"), "401": key_problem } }
        },
        "/federation/issuers/{id}": {
            "delete": { "summary": "Stop trusting a provider added through the API", "security": key, "parameters": [path_param("id", "Issuer id")],
                "responses": { "204": { "description": "Removed" }, "401": key_problem, "404": problem("404/900660: no such provider"), "409": problem("409/900662: it comes from the config file") } }
        },
        "/webhooks/{id}/deliveries": {
            "get": { "summary": "The latest delivery attempts, newest first", "security": key,
                "parameters": [path_param("id", "Subscription id"), query("limit", "At most this many (1–1000, default 100)", json!({ "type": "integer" }))],
                "responses": { "200": ok("Attempts", "DeliveryLog"), "401": key_problem, "404": no_hook } }
        }
    });
    let role =
        json!({ "type": "string", "enum": ["Presenter", "Attendee", "Consumer", "Collaborator"] });
    let entry = json!({ "type": "object", "required": ["identity", "role"], "properties": { "identity": { "type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS }, "role": role } });
    let roster = json!({ "type": "array", "maxItems": MAX_ROSTER_ENTRIES, "items": { "$ref": "#/components/schemas/RosterEntry" },
        "description": format!("At most {MAX_ROSTER_ENTRIES} entries, also once added to the stored roster") });
    let schemas = json!({
        "RosterEntry": entry,
        "RoomRequest": { "type": "object", "additionalProperties": false, "properties": {
            "validFrom": time_schema("Default: now"),
            "validUntil": time_schema("Default: 180 days after now"),
            "participants": roster } },
        "RosterRequest": { "type": "object", "required": ["participants"], "properties": { "participants": roster } },
        "Room": { "type": "object", "required": ["id", "validFrom", "validUntil", "participants"], "properties": {
            "id": { "type": "string" }, "validFrom": { "type": "string", "format": "date-time" }, "validUntil": { "type": "string", "format": "date-time" },
            "participants": { "type": "array", "items": { "$ref": "#/components/schemas/RosterEntry" } } } },
        "RoomList": { "type": "object", "required": ["rooms"], "properties": { "rooms": { "type": "array", "items": { "$ref": "#/components/schemas/Room" } } } },
        "ActiveParticipant": { "type": "object", "required": ["id", "identity", "state", "organizer"], "properties": {
            "id": { "type": "string" }, "identity": { "type": "string" }, "state": { "type": "string" }, "organizer": { "type": "boolean" }, "role": role } },
        "ActiveCall": { "type": "object", "required": ["id", "video", "participants"], "properties": {
            "id": { "type": "string" }, "room": { "type": "string" }, "video": { "type": "boolean" },
            "participants": { "type": "array", "items": { "$ref": "#/components/schemas/ActiveParticipant" } } } },
        "ActiveCalls": { "type": "object", "required": ["calls"], "properties": { "calls": { "type": "array", "items": { "$ref": "#/components/schemas/ActiveCall" } } } },
        "AddParticipant": { "type": "object", "required": ["identity"], "properties": { "identity": { "type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS } } },
        "SubscriptionRequest": { "type": "object", "required": ["url"], "additionalProperties": false, "properties": {
            "url": { "type": "string", "format": "uri", "maxLength": MAX_URL_CHARS }, "secret": { "type": "string", "minLength": 1, "maxLength": MAX_SECRET_CHARS, "description": "Default: 32 random bytes, hex" },
            "events": { "type": "array", "maxItems": crate::webhooks::EVENT_TYPES.len(), "items": { "enum": ["CallStarted", "ParticipantJoined", "ParticipantLeft", "CallEnded"], "maxLength": MAX_EVENT_CHARS }, "description": "Default: every event" } } },
        "Subscription": { "type": "object", "required": ["id", "url", "events"], "properties": {
            "id": { "type": "string" }, "url": { "type": "string" }, "events": { "type": "array", "items": { "type": "string" } } } },
        "CreatedSubscription": { "allOf": [{ "$ref": "#/components/schemas/Subscription" }, { "type": "object", "required": ["secret"], "properties": { "secret": { "type": "string" } } }] },
        "SubscriptionList": { "type": "object", "required": ["subscriptions"], "properties": { "subscriptions": { "type": "array", "items": { "$ref": "#/components/schemas/Subscription" } } } },
        "Delivery": { "type": "object", "required": ["subscriptionId", "eventId", "eventType", "attempt", "at", "delivered"], "properties": {
            "subscriptionId": { "type": "string" }, "eventId": { "type": "string" }, "eventType": { "type": "string" }, "attempt": { "type": "integer" },
            "at": { "type": "string", "format": "date-time" }, "status": { "type": "integer" }, "error": { "type": "string" }, "delivered": { "type": "boolean" } } },
        "IssuerRequest": { "type": "object", "required": ["issuer", "audience"], "additionalProperties": false, "properties": {
            "issuer": { "type": "string", "format": "uri", "maxLength": MAX_URL_CHARS, "description": "The `iss` of its tokens: https (http only on a loopback host)" },
            "audience": { "type": "string", "minLength": 1, "maxLength": 256, "description": "The `aud` its tokens must carry" },
            "userClaim": { "type": "string", "minLength": 1, "maxLength": 256, "description": "The claim naming the user. Default: sub" },
            "calling": { "type": "boolean", "description": "Its users may start, join and answer calls (else 412/41056). Default: true" },
            "rooms": { "type": "boolean", "description": "Its users may join rooms (else 403/5830). Default: false" },
            "jwks": { "type": "object", "description": "A static JWK set (public signing keys); default: fetched from the discovery document" } } },
        "Issuer": { "type": "object", "required": ["id", "issuer", "audience", "userClaim", "calling", "rooms", "keys", "source"], "properties": {
            "id": { "type": "string" }, "issuer": { "type": "string" }, "audience": { "type": "string" }, "userClaim": { "type": "string" },
            "calling": { "type": "boolean" }, "rooms": { "type": "boolean" }, "keys": { "enum": ["discovery", "static"] }, "source": { "enum": ["config", "api"] } } },
        "IssuerList": { "type": "object", "required": ["issuers"], "properties": { "issuers": { "type": "array", "items": { "$ref": "#/components/schemas/Issuer" } } } },
        "DeliveryLog": { "type": "object", "required": ["deliveries"], "properties": { "deliveries": { "type": "array", "items": { "$ref": "#/components/schemas/Delivery" } } } }
    });
    for (target, additions) in [("paths", paths), ("schemas", schemas)] {
        let slot = if target == "paths" {
            &mut document["paths"]
        } else {
            &mut document["components"]["schemas"]
        };
        if let (Some(slot), Value::Object(additions)) = (slot.as_object_mut(), additions) {
            slot.extend(additions);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_every_ref_resolves() {
        let document = document();
        for (method, path) in ROUTES {
            assert!(
                document["paths"][path][method].is_object(),
                "{method} {path} is missing"
            );
        }
        let text = document.to_string();
        for reference in text.split("\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(
                document["components"]["schemas"][name].is_object(),
                "unresolved schema {name}"
            );
        }
    }

    #[test]
    fn the_limits_are_documented_where_they_apply() {
        let document = document();
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            schemas["RosterEntry"]["properties"]["identity"]["maxLength"],
            MAX_ID_CHARS
        );
        assert_eq!(
            schemas["RoomRequest"]["properties"]["participants"]["maxItems"],
            MAX_ROSTER_ENTRIES
        );
        assert_eq!(
            schemas["SubscriptionRequest"]["properties"]["url"]["maxLength"],
            MAX_URL_CHARS
        );
        assert_eq!(
            schemas["TokenRequest"]["properties"]["scopes"]["maxItems"],
            MAX_SCOPES
        );
        for (method, path) in [
            ("post", "/rooms"),
            ("post", "/webhooks"),
            ("patch", "/rooms/{id}/participants"),
        ] {
            let responses = &document["paths"][path][method]["responses"];
            assert!(responses["413"].is_object(), "{method} {path}");
            assert!(responses["408"].is_object(), "{method} {path}");
            assert!(responses["400"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("900117")));
        }
        assert!(document["paths"]["/health"]["get"]["responses"]["413"].is_null());
    }
}

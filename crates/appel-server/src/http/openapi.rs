//! The OpenAPI 3.1 document served at `GET /openapi.json`, written by hand so it says exactly what
//! the handlers do. A test checks that it lists every route of the router.

use serde_json::{json, Value};

/// Every route the REST API serves, as `(method, path)`; the router and the document both follow it.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/openapi.json"),
    ("post", "/identities"),
    ("delete", "/identities/{id}"),
    ("post", "/identities/{id}/token"),
    ("delete", "/identities/{id}/tokens"),
    ("get", "/validate"),
    ("get", "/calls"),
    ("get", "/calls/{id}"),
    ("get", "/signaling"),
];

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
    json!({ "name": "id", "in": "path", "required": true, "description": what, "schema": { "type": "string" } })
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

/// The document.
pub fn document() -> Value {
    let access_key = json!([{ "accessKey": [] }]);
    let user_token = json!([{ "userToken": [] }]);
    let key_problem = problem("401/900100: the access key is missing or wrong");
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Appel server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Identities, access tokens, call records, and the WebSocket signaling endpoint. Every error is an RFC 9457 problem document carrying the catalogue entry (code, subCode, resultCategory, name)."
        },
        "paths": {
            "/health": { "get": {
                "summary": "Liveness check and the signaling settings SDKs need",
                "responses": { "200": ok("The server is up", "Health") }
            }},
            "/openapi.json": { "get": {
                "summary": "This document",
                "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": {} } } }
            }},
            "/identities": { "post": {
                "summary": "Create an identity",
                "security": access_key,
                "responses": { "201": ok("Created", "CreatedIdentity"), "401": key_problem }
            }},
            "/identities/{id}": { "delete": {
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
                "summary": "Revoke every token issued so far; live connections are closed with 401/10009",
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
                    "401": problem("401/10009: missing, forged, expired or revoked token, or deleted identity")
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
                    query("since", "Created at or after (RFC 3339, UTC)", json!({ "type": "string", "format": "date-time" })),
                    query("until", "Created before (RFC 3339, UTC)", json!({ "type": "string", "format": "date-time" })),
                    query("limit", "Page size, 1–500 (default 50)", json!({ "type": "integer", "minimum": 1, "maximum": 500 })),
                    query("cursor", "nextCursor of the previous page", json!({ "type": "string" }))
                ],
                "responses": {
                    "200": ok("A page of calls", "CallPage"),
                    "400": problem("400/900102: invalid parameter"),
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
                "CreatedIdentity": { "type": "object", "required": ["id"], "properties": { "id": { "type": "string" } } },
                "TokenRequest": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "scopes": { "type": "array", "items": { "const": "voip" }, "default": ["voip"] },
                        "expiresInMinutes": { "type": "integer", "minimum": 60, "maximum": 1440, "default": 1440 }
                    }
                },
                "TokenResponse": {
                    "type": "object",
                    "required": ["token", "expiresOn"],
                    "properties": { "token": { "type": "string" }, "expiresOn": { "type": "string", "format": "date-time" } }
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
                        "rawCause": { "type": ["string", "null"] }
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
                        "timeline": { "type": "array", "items": { "$ref": "#/components/schemas/TimelineEntry" } }
                    }
                },
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
    })
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
}

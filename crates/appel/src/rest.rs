//! The REST calls the command line makes with the access key: identities, tokens.

use appel_codes::{registry, CallingError};
use serde::Deserialize;

/// The server's REST API, authenticated with the access key.
#[derive(Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base: String,
    access_key: String,
}

/// An identity as the server shows it (`GET /identities`).
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// Its id.
    pub id: String,
    /// Its display name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// `offline`, `online` or `inCall`.
    pub presence: String,
}

/// One page of identities; `next` leads to the following one.
#[derive(Clone, Debug, Deserialize)]
pub struct IdentityPage {
    /// The identities of this page.
    pub identities: Vec<Identity>,
    /// The `after` of the next page; `None` on the last.
    pub next: Option<String>,
}

/// A user token and its expiry.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    /// The token.
    pub token: String,
    /// When it expires (RFC 3339).
    pub expires_on: String,
}

/// `http://host:port` from `http(s)://host:port[/path]` or `ws(s)://…`.
pub fn http_base(server: &str) -> Result<String, CallingError> {
    let (scheme, rest) = server.split_once("://").ok_or_else(|| {
        CallingError::new(&registry::INVALID_ARGUMENT)
            .with_context(format!("--server `{server}`: expected http://host:port"))
    })?;
    let scheme = match scheme {
        "http" | "ws" => "http",
        "https" | "wss" => "https",
        other => {
            return Err(CallingError::new(&registry::INVALID_ARGUMENT)
                .with_context(format!("--server: unknown scheme `{other}`")))
        }
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(CallingError::new(&registry::INVALID_ARGUMENT)
            .with_context(format!("--server `{server}`: no host")));
    }
    Ok(format!("{scheme}://{authority}"))
}

impl RestClient {
    /// A client of the server at `server` (any form [`http_base`] reads).
    pub fn new(server: &str, access_key: &str) -> Result<RestClient, CallingError> {
        Ok(RestClient {
            http: reqwest::Client::new(),
            base: http_base(server)?,
            access_key: access_key.to_string(),
        })
    }

    /// `POST /identities`: a new identity's id.
    pub async fn create_identity(&self) -> Result<String, CallingError> {
        Ok(self.create_named_identity(None).await?.id)
    }

    /// `POST /identities {displayName}`: a new identity, named when `name` is given.
    pub async fn create_named_identity(
        &self,
        name: Option<&str>,
    ) -> Result<Identity, CallingError> {
        let body = match name {
            Some(name) => serde_json::json!({ "displayName": name }),
            None => serde_json::json!({}),
        };
        self.send(reqwest::Method::POST, "/identities", Some(body))
            .await
    }

    /// `GET /identities?name=&after=&limit=`: one page of live identities.
    pub async fn identities(
        &self,
        name: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<IdentityPage, CallingError> {
        let mut path = format!("/identities?limit={limit}");
        for (key, value) in [("name", name), ("after", after)] {
            if let Some(value) = value {
                path.push_str(&format!("&{key}={}", encode(value)));
            }
        }
        self.send(reqwest::Method::GET, &path, None).await
    }

    /// `GET /people?name=`: named people whose name starts with `name`, for a client whose key is
    /// a user token.
    pub async fn people(&self, name: &str) -> Result<IdentityPage, CallingError> {
        self.send(
            reqwest::Method::GET,
            &format!("/people?limit=20&name={}", encode(name)),
            None,
        )
        .await
    }

    /// `PATCH /identities/{id} {displayName}`.
    pub async fn rename_identity(&self, id: &str, name: &str) -> Result<Identity, CallingError> {
        let body = serde_json::json!({ "displayName": name });
        self.send(
            reqwest::Method::PATCH,
            &format!("/identities/{}", encode(id)),
            Some(body),
        )
        .await
    }

    /// `DELETE /identities/{id}`.
    pub async fn delete_identity(&self, id: &str) -> Result<(), CallingError> {
        self.send_for_status(
            reqwest::Method::DELETE,
            &format!("/identities/{}", encode(id)),
        )
        .await
    }

    /// `DELETE /identities/{id}/tokens`: every token issued so far stops working.
    pub async fn revoke_tokens(&self, id: &str) -> Result<(), CallingError> {
        self.send_for_status(
            reqwest::Method::DELETE,
            &format!("/identities/{}/tokens", encode(id)),
        )
        .await
    }

    /// `POST /identities/{id}/token`: a user token of that identity.
    pub async fn issue_token(&self, identity: &str) -> Result<String, CallingError> {
        Ok(self.issue_token_for(identity, None).await?.token)
    }

    /// `GET {path}` (path and query, e.g. `/calls?identity=bob`), the answer as JSON.
    pub async fn get_json(&self, path_and_query: &str) -> Result<serde_json::Value, CallingError> {
        self.send(reqwest::Method::GET, path_and_query, None).await
    }

    /// `POST /identities/{id}/token {expiresInMinutes}`: a user token and its expiry.
    pub async fn issue_token_for(
        &self,
        identity: &str,
        minutes: Option<u32>,
    ) -> Result<IssuedToken, CallingError> {
        let body = match minutes {
            Some(minutes) => serde_json::json!({ "expiresInMinutes": minutes }),
            None => serde_json::json!({}),
        };
        self.send(
            reqwest::Method::POST,
            &format!("/identities/{}/token", encode(identity)),
            Some(body),
        )
        .await
    }

    async fn send_for_status(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<(), CallingError> {
        self.exchange(method, path, None).await.map(|_| ())
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, CallingError> {
        let what = format!("{method} {path}");
        let text = self.exchange(method, path, body).await?;
        serde_json::from_str(&text).map_err(|e| {
            CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                .with_context(format!("{what}: unreadable answer"))
                .with_raw_cause(e.to_string())
        })
    }

    /// Sends one request with the access key and answers the body of a 2xx; anything else is the
    /// server's own problem document as an error (its code and subCode name the cause).
    async fn exchange(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<String, CallingError> {
        let what = format!("{method} {}{path}", self.base);
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.access_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let unreachable = |e: reqwest::Error| {
            CallingError::new(&registry::SIGNALING_UNREACHABLE)
                .with_context(what.clone())
                .with_raw_cause(e.to_string())
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let text = response.text().await.map_err(unreachable)?;
        if !status.is_success() {
            return Err(match serde_json::from_str::<CallingError>(&text) {
                Ok(error) => error.with_context(what),
                Err(_) => CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                    .with_context(format!("{what} answered {status}"))
                    .with_raw_cause(text),
            });
        }
        Ok(text)
    }
}

/// The one identity of `page` named `name` exactly (case and accents aside, as the server
/// compares names); `None` when none or several are.
pub fn named(page: &IdentityPage, name: &str) -> Option<String> {
    let key = appel_server::store::name_key(name.trim());
    let mut matches = page.identities.iter().filter(|i| {
        i.display_name
            .as_deref()
            .is_some_and(|n| appel_server::store::name_key(n) == key)
    });
    let first = matches.next()?;
    matches.next().is_none().then(|| first.id.clone())
}

/// `text` percent-encoded for a path segment or a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_base_keeps_the_authority_only() {
        assert_eq!(
            http_base("ws://127.0.0.1:80/signaling").unwrap(),
            "http://127.0.0.1:80"
        );
        assert_eq!(http_base("http://[::1]:9").unwrap(), "http://[::1]:9");
        assert!(http_base("127.0.0.1:80").is_err());
        assert!(http_base("ftp://x").is_err());
    }
}

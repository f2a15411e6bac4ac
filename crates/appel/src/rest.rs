//! The few REST calls the command line makes with the access key: create identities, issue tokens.

use appel_codes::{registry, CallingError};
use serde::Deserialize;

/// The server's REST API, authenticated with the access key.
#[derive(Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base: String,
    access_key: String,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct Issued {
    token: String,
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
        let created: Created = self
            .post(&format!("{}/identities", self.base), "{}")
            .await?;
        Ok(created.id)
    }

    /// `POST /identities/{id}/token`: a user token of that identity.
    pub async fn issue_token(&self, identity: &str) -> Result<String, CallingError> {
        let issued: Issued = self
            .post(&format!("{}/identities/{identity}/token", self.base), "{}")
            .await?;
        Ok(issued.token)
    }

    /// `GET {path}` (path and query, e.g. `/calls?identity=bob`), the answer as JSON.
    pub async fn get_json(&self, path_and_query: &str) -> Result<serde_json::Value, CallingError> {
        let url = format!("{}{path_and_query}", self.base);
        let response = self
            .http
            .get(&url)
            .bearer_auth(&self.access_key)
            .send()
            .await
            .map_err(|e| {
                CallingError::new(&registry::SIGNALING_UNREACHABLE)
                    .with_context(format!("GET {url}"))
                    .with_raw_cause(e.to_string())
            })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            CallingError::new(&registry::SIGNALING_UNREACHABLE)
                .with_context(format!("GET {url}"))
                .with_raw_cause(e.to_string())
        })?;
        if !status.is_success() {
            return Err(match serde_json::from_str::<CallingError>(&text) {
                Ok(error) => error.with_context(format!("GET {url}")),
                Err(_) => CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                    .with_context(format!("GET {url} answered {status}"))
                    .with_raw_cause(text),
            });
        }
        serde_json::from_str(&text).map_err(|e| {
            CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                .with_context(format!("GET {url}: unreadable answer"))
                .with_raw_cause(e.to_string())
        })
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        body: &str,
    ) -> Result<T, CallingError> {
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.access_key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| {
                CallingError::new(&registry::SIGNALING_UNREACHABLE)
                    .with_context(format!("POST {url}"))
                    .with_raw_cause(e.to_string())
            })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            CallingError::new(&registry::SIGNALING_UNREACHABLE)
                .with_context(format!("POST {url}"))
                .with_raw_cause(e.to_string())
        })?;
        if !status.is_success() {
            // Problem documents carry code and subCode: the server's own entry names the cause.
            return Err(match serde_json::from_str::<CallingError>(&text) {
                Ok(error) => error.with_context(format!("POST {url}")),
                Err(_) => CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                    .with_context(format!("POST {url} answered {status}"))
                    .with_raw_cause(text),
            });
        }
        serde_json::from_str(&text).map_err(|e| {
            CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                .with_context(format!("POST {url}: unreadable answer"))
                .with_raw_cause(e.to_string())
        })
    }
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

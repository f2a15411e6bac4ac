//! Identity providers trusted over REST (`/federation/issuers`); the config file's are not stored.

use std::time::SystemTime;

use appel_codes::CallingError;
use rusqlite::params;

use super::{unix_ms, Store};

/// A trusted identity provider as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredIssuer {
    /// Its id in the API.
    pub id: String,
    /// The `iss` its tokens carry.
    pub issuer: String,
    /// The `aud` its tokens must carry.
    pub audience: String,
    /// The claim that names the user.
    pub user_claim: String,
    /// Whether its users may call.
    pub calling: bool,
    /// Whether its users may join rooms.
    pub rooms: bool,
    /// A static key set (JSON), when its keys are not fetched.
    pub jwks: Option<String>,
}

impl Store {
    /// Every stored issuer, oldest first.
    pub async fn federation_issuers(&self) -> Result<Vec<StoredIssuer>, CallingError> {
        self.run("reading the trusted identity providers", |db| {
            let mut statement = db.prepare(
                "SELECT id, issuer, audience, user_claim, calling, rooms, jwks
                 FROM federation_issuers ORDER BY created_ms, id",
            )?;
            let rows = statement.query_map([], |r| {
                Ok(StoredIssuer {
                    id: r.get(0)?,
                    issuer: r.get(1)?,
                    audience: r.get(2)?,
                    user_claim: r.get(3)?,
                    calling: r.get(4)?,
                    rooms: r.get(5)?,
                    jwks: r.get(6)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Stores a new issuer; `false` when one with the same `iss` is already stored.
    pub async fn save_federation_issuer(
        &self,
        issuer: StoredIssuer,
        now: SystemTime,
    ) -> Result<bool, CallingError> {
        self.run("saving a trusted identity provider", move |db| {
            let inserted = db.execute(
                "INSERT INTO federation_issuers
                     (id, issuer, audience, user_claim, calling, rooms, jwks, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(issuer) DO NOTHING",
                params![
                    issuer.id,
                    issuer.issuer,
                    issuer.audience,
                    issuer.user_claim,
                    issuer.calling,
                    issuer.rooms,
                    issuer.jwks,
                    unix_ms(now)
                ],
            )?;
            Ok(inserted == 1)
        })
        .await
    }

    /// Removes a stored issuer; `false` when there is none with that id.
    pub async fn delete_federation_issuer(&self, id: &str) -> Result<bool, CallingError> {
        let id = id.to_string();
        self.run("removing a trusted identity provider", move |db| {
            Ok(db.execute("DELETE FROM federation_issuers WHERE id = ?1", [id])? == 1)
        })
        .await
    }
}

//! Identities, their token revocations, and whether they ever registered an endpoint.

use std::time::SystemTime;

use appel_codes::CallingError;
use rusqlite::{params, Connection, OptionalExtension};

use super::{unix_ms, Store};

/// What token validation needs to know about an identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdentityState {
    /// Whether the identity was deleted.
    pub deleted: bool,
    /// Tokens issued before this moment (ms since the epoch) are revoked.
    pub revoked_before_ms: Option<i64>,
}

impl Store {
    /// Creates an identity and returns its id.
    pub async fn create_identity(&self, now: SystemTime) -> Result<String, CallingError> {
        let id = uuid::Uuid::new_v4().to_string();
        let stored = id.clone();
        self.run("creating an identity", move |db| {
            db.execute(
                "INSERT INTO identities (id, created_ms) VALUES (?1, ?2)",
                params![stored, unix_ms(now)],
            )
        })
        .await?;
        Ok(id)
    }

    /// The identity's state, `None` when it never existed.
    pub async fn identity_state(&self, id: &str) -> Result<Option<IdentityState>, CallingError> {
        let id = id.to_string();
        self.run("reading an identity", move |db| state(db, &id))
            .await
    }

    /// Marks the identity deleted; `false` when there is no live identity with that id.
    pub async fn delete_identity(&self, id: &str, now: SystemTime) -> Result<bool, CallingError> {
        let id = id.to_string();
        self.run("deleting an identity", move |db| {
            let changed = db.execute(
                "UPDATE identities SET deleted_ms = ?2 WHERE id = ?1 AND deleted_ms IS NULL",
                params![id, unix_ms(now)],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    /// Revokes every token of the identity issued before `now`; `false` when there is no live
    /// identity with that id.
    pub async fn revoke_tokens(&self, id: &str, now: SystemTime) -> Result<bool, CallingError> {
        let id = id.to_string();
        self.run("revoking tokens", move |db| {
            let live: bool = db
                .query_row(
                    "SELECT 1 FROM identities WHERE id = ?1 AND deleted_ms IS NULL",
                    [&id],
                    |_| Ok(true),
                )
                .optional()?
                .unwrap_or(false);
            if live {
                db.execute(
                    "INSERT INTO token_revocations (identity, revoked_before_ms) VALUES (?1, ?2)
                     ON CONFLICT(identity) DO UPDATE SET revoked_before_ms = excluded.revoked_before_ms",
                    params![id, unix_ms(now)],
                )?;
            }
            Ok(live)
        })
        .await
    }

    /// Remembers that the identity has registered an endpoint at least once.
    pub async fn mark_registered(&self, id: &str, now: SystemTime) -> Result<(), CallingError> {
        let id = id.to_string();
        self.run("recording a registration", move |db| {
            db.execute(
                "INSERT OR IGNORE INTO registrations (identity, first_ms) VALUES (?1, ?2)",
                params![id, unix_ms(now)],
            )
            .map(|_| ())
        })
        .await
    }

    /// Whether the identity has ever registered an endpoint.
    pub async fn ever_registered(&self, id: &str) -> Result<bool, CallingError> {
        let id = id.to_string();
        self.run("reading registrations", move |db| {
            Ok(db
                .query_row(
                    "SELECT 1 FROM registrations WHERE identity = ?1",
                    [&id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
        .await
    }

    /// Keeps the push URL an endpoint of the identity registered, so it survives a restart.
    pub async fn remember_push_url(
        &self,
        id: &str,
        url: &str,
        now: SystemTime,
    ) -> Result<(), CallingError> {
        let (id, url) = (id.to_string(), url.to_string());
        self.run("recording a push URL", move |db| {
            db.execute(
                "INSERT INTO registrations (identity, first_ms, push_url) VALUES (?1, ?2, ?3)
                 ON CONFLICT(identity) DO UPDATE SET push_url = excluded.push_url",
                params![id, unix_ms(now), url],
            )
            .map(|_| ())
        })
        .await
    }

    /// Every identity that has ever registered an endpoint, with its last push URL.
    pub async fn registered_identities(
        &self,
    ) -> Result<Vec<(String, Option<String>)>, CallingError> {
        self.run("reading registrations", |db| {
            let mut statement =
                db.prepare("SELECT identity, push_url FROM registrations ORDER BY identity")?;
            let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .await
    }
}

fn state(db: &Connection, id: &str) -> rusqlite::Result<Option<IdentityState>> {
    db.query_row(
        "SELECT i.deleted_ms IS NOT NULL, r.revoked_before_ms
         FROM identities i LEFT JOIN token_revocations r ON r.identity = i.id
         WHERE i.id = ?1",
        [id],
        |row| {
            Ok(IdentityState {
                deleted: row.get(0)?,
                revoked_before_ms: row.get(1)?,
            })
        },
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn identities_are_created_revoked_deleted_and_registered() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        let now = SystemTime::now();
        let id = store.create_identity(now).await.expect("create");
        assert_eq!(
            store.identity_state(&id).await.expect("state"),
            Some(IdentityState {
                deleted: false,
                revoked_before_ms: None
            })
        );
        assert!(store
            .revoke_tokens(&id, now + Duration::from_secs(1))
            .await
            .expect("revoke"));
        let state = store
            .identity_state(&id)
            .await
            .expect("state")
            .expect("exists");
        assert_eq!(
            state.revoked_before_ms,
            Some(unix_ms(now + Duration::from_secs(1)))
        );

        assert!(!store.ever_registered(&id).await.expect("registered"));
        store.mark_registered(&id, now).await.expect("mark");
        store.mark_registered(&id, now).await.expect("mark twice");
        assert!(store.ever_registered(&id).await.expect("registered"));
        assert_eq!(
            store.registered_identities().await.expect("list"),
            vec![(id.clone(), None)]
        );
        store
            .remember_push_url(&id, "http://127.0.0.1:9/push", now)
            .await
            .expect("push url");
        assert_eq!(
            store.registered_identities().await.expect("list"),
            vec![(id.clone(), Some("http://127.0.0.1:9/push".to_string()))]
        );

        assert!(store.delete_identity(&id, now).await.expect("delete"));
        assert!(!store.delete_identity(&id, now).await.expect("delete twice"));
        assert!(!store.revoke_tokens(&id, now).await.expect("revoke deleted"));
        assert!(store
            .identity_state(&id)
            .await
            .expect("state")
            .is_some_and(|s| s.deleted));
        assert_eq!(store.identity_state("nobody").await.expect("state"), None);
    }
}

//! Identities, their token generations, and whether they ever registered an endpoint.

use std::time::SystemTime;

use appel_codes::CallingError;
use rusqlite::{params, Connection, OptionalExtension};

use super::{unix_ms, Store};

/// What token validation needs to know about an identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdentityState {
    /// Whether the identity was deleted.
    pub deleted: bool,
    /// The generation tokens must carry to be accepted; revoking bumps it.
    pub token_generation: u64,
    /// The last revocation recorded before generations existed (ms since the epoch): it still
    /// decides for tokens that carry no generation, until the identity's next revocation.
    pub revoked_before_ms: Option<i64>,
}

/// A live identity as the directory shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityEntry {
    /// Its id.
    pub id: String,
    /// The name people know it by, if it has one.
    pub display_name: Option<String>,
    /// When it was created (ms since the epoch).
    pub created_ms: i64,
}

/// How names compare and are searched: decomposed, without their combining marks (accents), in
/// lower case, so "Bérénice", "BERENICE" and "berenice" are one key and a search for "bere"
/// finds each.
pub fn name_key(name: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    name.nfd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase()
}

/// Where a page of [`Store::identities`] starts: after this name key and id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdentityCursor {
    /// The [`name_key`] of the last name of the previous page (`""` for identities without a
    /// name, listed first).
    pub name: String,
    /// The last id of the previous page.
    pub id: String,
}

fn entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<IdentityEntry> {
    Ok(IdentityEntry {
        id: row.get(0)?,
        display_name: row.get(1)?,
        created_ms: row.get(2)?,
    })
}

impl Store {
    /// Creates an identity, with a display name if given, and returns its id.
    pub async fn create_identity(
        &self,
        now: SystemTime,
        display_name: Option<String>,
    ) -> Result<String, CallingError> {
        let id = uuid::Uuid::new_v4().to_string();
        let stored = id.clone();
        self.run("creating an identity", move |db| {
            let key = display_name.as_deref().map(name_key);
            db.execute(
                "INSERT INTO identities (id, created_ms, display_name, name_key)
                 VALUES (?1, ?2, ?3, ?4)",
                params![stored, unix_ms(now), display_name, key],
            )
        })
        .await?;
        Ok(id)
    }

    /// The live identity named exactly `display_name`, created with that name when there is none;
    /// in one transaction, so two servers (or two requests) never create the same name twice.
    /// Development mode signs people in by name with it.
    pub async fn identity_named(
        &self,
        display_name: &str,
        now: SystemTime,
    ) -> Result<String, CallingError> {
        let name = display_name.to_string();
        self.run("finding or creating a named identity", move |db| {
            let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let known: Option<String> = tx
                .query_row(
                    "SELECT id FROM identities WHERE display_name = ?1 AND deleted_ms IS NULL
                     ORDER BY created_ms, id LIMIT 1",
                    [&name],
                    |row| row.get(0),
                )
                .optional()?;
            let id = match known {
                Some(id) => id,
                None => {
                    let id = uuid::Uuid::new_v4().to_string();
                    tx.execute(
                        "INSERT INTO identities (id, created_ms, display_name, name_key)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![id, unix_ms(now), name, name_key(&name)],
                    )?;
                    id
                }
            };
            tx.commit()?;
            Ok(id)
        })
        .await
    }

    /// A live identity, `None` when there is none with that id (or it was deleted).
    pub async fn identity(&self, id: &str) -> Result<Option<IdentityEntry>, CallingError> {
        let id = id.to_string();
        self.run("reading an identity", move |db| {
            db.query_row(
                "SELECT id, display_name, created_ms FROM identities
                 WHERE id = ?1 AND deleted_ms IS NULL",
                [id],
                entry,
            )
            .optional()
        })
        .await
    }

    /// Gives a live identity a display name (`None` removes it); `false` when there is none.
    pub async fn rename_identity(
        &self,
        id: &str,
        display_name: Option<String>,
    ) -> Result<bool, CallingError> {
        let id = id.to_string();
        self.run("renaming an identity", move |db| {
            let key = display_name.as_deref().map(name_key);
            let changed = db.execute(
                "UPDATE identities SET display_name = ?2, name_key = ?3
                 WHERE id = ?1 AND deleted_ms IS NULL",
                params![id, display_name, key],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    /// Live identities ordered by [`name_key`] then id, whose key starts with the key of
    /// `name_prefix` when given, only those with a name when `named_only`, after
    /// `cursor`, at most `limit`.
    pub async fn identities(
        &self,
        name_prefix: Option<String>,
        named_only: bool,
        cursor: Option<IdentityCursor>,
        limit: usize,
    ) -> Result<Vec<IdentityEntry>, CallingError> {
        self.run("listing identities", move |db| {
            let cursor = cursor.unwrap_or_default();
            let after = !cursor.id.is_empty();
            // A prefix as a key range, which the name index serves (a LIKE pattern would not be,
            // and would need its wildcards escaped).
            let low = name_prefix.as_deref().map(name_key);
            let high = low.as_ref().map(|low| format!("{low}\u{10FFFF}"));
            let mut statement = db.prepare_cached(
                "SELECT id, display_name, created_ms FROM identities
                 WHERE deleted_ms IS NULL
                   AND (?1 IS NULL OR (name_key >= ?1 AND name_key < ?7))
                   AND (NOT ?6 OR name_key IS NOT NULL)
                   AND (NOT ?2 OR (coalesce(name_key, ''), id) > (?3, ?4))
                 ORDER BY coalesce(name_key, ''), id
                 LIMIT ?5",
            )?;
            let rows = statement.query_map(
                params![
                    low,
                    after,
                    cursor.name,
                    cursor.id,
                    limit as i64,
                    named_only,
                    high
                ],
                entry,
            )?;
            rows.collect()
        })
        .await
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

    /// Revokes every token of the identity issued so far by bumping its token generation, in one
    /// statement so concurrent revocations (from any server sharing the database) each count.
    /// Returns the new generation, `None` when there is no live identity with that id.
    pub async fn revoke_tokens(&self, id: &str) -> Result<Option<u64>, CallingError> {
        let id = id.to_string();
        self.run("revoking tokens", move |db| {
            let generation: Option<i64> = db
                .query_row(
                    "UPDATE identities SET token_generation = token_generation + 1
                     WHERE id = ?1 AND deleted_ms IS NULL
                     RETURNING token_generation",
                    [&id],
                    |row| row.get(0),
                )
                .optional()?;
            Ok(generation.map(|g| u64::try_from(g).unwrap_or(0)))
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
        "SELECT i.deleted_ms IS NOT NULL, i.token_generation, r.revoked_before_ms
         FROM identities i LEFT JOIN token_revocations r ON r.identity = i.id
         WHERE i.id = ?1",
        [id],
        |row| {
            Ok(IdentityState {
                deleted: row.get(0)?,
                token_generation: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                revoked_before_ms: row.get(2)?,
            })
        },
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn identities_are_created_revoked_deleted_and_registered() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        let now = SystemTime::now();
        let id = store.create_identity(now, None).await.expect("create");
        assert_eq!(
            store.identity_state(&id).await.expect("state"),
            Some(IdentityState {
                deleted: false,
                token_generation: 0,
                revoked_before_ms: None
            })
        );
        assert_eq!(store.revoke_tokens(&id).await.expect("revoke"), Some(1));
        assert_eq!(store.revoke_tokens(&id).await.expect("revoke"), Some(2));
        let state = store
            .identity_state(&id)
            .await
            .expect("state")
            .expect("exists");
        assert_eq!(state.token_generation, 2);
        assert_eq!(state.revoked_before_ms, None);

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
        assert_eq!(
            store.revoke_tokens(&id).await.expect("revoke deleted"),
            None
        );
        assert_eq!(store.revoke_tokens("nobody").await.expect("revoke"), None);
        assert!(store
            .identity_state(&id)
            .await
            .expect("state")
            .is_some_and(|s| s.deleted));
        assert_eq!(store.identity_state("nobody").await.expect("state"), None);
    }
}

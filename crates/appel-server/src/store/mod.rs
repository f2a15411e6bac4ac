//! Durable state in SQLite (WAL): identities, token revocations, registrations and call records.
//!
//! Short requests (identities, tokens, record queries) share one connection behind a mutex and run on
//! tokio's blocking pool; call records are written by [`records::RecordWriter`] on its own thread and
//! connection, so the call controller never waits for the disk; `/ready` checks the database on a
//! third connection with a short busy timeout, so a locked database never stalls the shared one.

mod calls;
mod federation;
mod identities;
pub mod migrations;
pub mod records;
mod rooms;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appel_codes::{registry, CallingError};
use rusqlite::Connection;

pub use calls::{
    CallFilter, CallPage, CallRecord, CallSummary, EndReasonView, Interrupted, LegRecord,
    TimelineEntry,
};
pub use federation::StoredIssuer;
pub use identities::{name_key, IdentityCursor, IdentityEntry, IdentityState};
pub use records::{RecordOp, RecordWriter};
pub use rooms::{Room, RoomChange, RoomUpdate};
pub use webhooks::{Delivery, Lane, OutboxEvent, OutboxRow, Subscription};

/// File name of the database inside the data folder.
pub const DATABASE_FILE: &str = "appel.db";

/// How long the readiness probe's own connection waits for the database's write lock: a locked
/// database makes `/ready` answer "not ready" this quickly, not after the shared 5 s busy timeout.
pub const PROBE_BUSY_TIMEOUT: Duration = Duration::from_millis(250);

/// The database shared by the HTTP handlers and the signaling handshake.
#[derive(Clone)]
pub struct Store {
    db: Arc<Mutex<Connection>>,
    /// The readiness probe's own connection, so a probe never queues behind (or holds up) the
    /// requests that share `db`.
    probe: Arc<tokio::sync::Mutex<Connection>>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> Result<Store, CallingError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            storage_error(
                format!("creating the data folder {}", data_dir.display()),
                e,
            )
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let mut db = open_connection(&path)
            .map_err(|e| storage_error(format!("opening {}", path.display()), e))?;
        migrations::migrate(&mut db).map_err(|e| storage_error("migrating the database", e))?;
        let probe = open_connection(&path)
            .and_then(|probe| probe.busy_timeout(PROBE_BUSY_TIMEOUT).map(|()| probe))
            .map_err(|e| storage_error("opening the readiness probe's connection", e))?;
        Ok(Store {
            db: Arc::new(Mutex::new(db)),
            probe: Arc::new(tokio::sync::Mutex::new(probe)),
            path,
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the database's write lock and lets it go, to tell that records and changes can be
    /// stored now (`/ready`): a database another program holds still answers reads. Runs on the
    /// probe's own connection, waiting at most [`PROBE_BUSY_TIMEOUT`] for the database's lock, and
    /// as long again for a probe already under way (probes wait asynchronously: a load balancer
    /// polling hard never piles up blocked threads).
    pub async fn ping(&self) -> Result<(), CallingError> {
        const WHAT: &str = "checking that the database takes writes";
        let probe = tokio::time::timeout(PROBE_BUSY_TIMEOUT, Arc::clone(&self.probe).lock_owned())
            .await
            .map_err(|_| storage_error(WHAT, "the previous readiness check has not finished"))?;
        let outcome = tokio::task::spawn_blocking(move || {
            probe
                .execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
                .map_err(|e| {
                    // A transaction whose ROLLBACK failed must not stay open on this connection.
                    if !probe.is_autocommit() {
                        let _ = probe.execute_batch("ROLLBACK");
                    }
                    storage_error(WHAT, e)
                })
        })
        .await;
        match outcome {
            Ok(result) => result,
            Err(join) => Err(storage_error(WHAT, join)),
        }
    }

    /// Runs `job` on the shared connection, on the blocking pool.
    pub async fn run<T, F>(&self, what: &'static str, job: F) -> Result<T, CallingError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        let outcome = tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves the connection itself usable.
            let mut guard = db.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            job(&mut guard)
        })
        .await;
        match outcome {
            Ok(result) => result.map_err(|e| storage_error(what, e)),
            Err(join) => Err(storage_error(what, join)),
        }
    }
}

/// Opens a connection with the settings every connection of the server uses.
pub(crate) fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    db.busy_timeout(Duration::from_secs(5))?;
    // WAL lets readers run beside the records writer; FULL makes every commit survive a crash.
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "FULL")?;
    db.pragma_update(None, "foreign_keys", "ON")?;
    Ok(db)
}

/// 500 with what was being done and the underlying error kept as raw cause.
pub fn storage_error(what: impl Into<String>, cause: impl std::fmt::Display) -> CallingError {
    CallingError::new(&registry::INTERNAL_SERVER_ERROR)
        .with_context(what)
        .with_raw_cause(cause.to_string())
}

/// Milliseconds since the epoch, as stored.
pub fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The stored milliseconds back as a time.
pub fn from_unix_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// RFC 3339 with milliseconds, UTC.
pub fn rfc3339(ms: i64) -> String {
    humantime::format_rfc3339_millis(from_unix_ms(ms)).to_string()
}

//! What every request handler and connection task shares.

use std::sync::Arc;
use std::time::SystemTime;

use appel_codes::CallingError;

use crate::config::Config;
use crate::runtime::RuntimeHandle;
use crate::shutdown::ShutdownSignal;
use crate::store::{RecordWriter, Store};
use crate::tokens::{self, Claims, TokenKeys};

/// Cheap to clone: everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    config: Config,
    access_key: String,
    keys: TokenKeys,
    store: Store,
    records: RecordWriter,
    runtime: RuntimeHandle,
    shutdown: ShutdownSignal,
}

impl AppState {
    /// Bundles the server's parts.
    pub(crate) fn new(
        config: Config,
        access_key: String,
        store: Store,
        records: RecordWriter,
        runtime: RuntimeHandle,
        shutdown: ShutdownSignal,
    ) -> AppState {
        let keys = TokenKeys::from_access_key(&access_key);
        AppState {
            inner: Arc::new(Shared {
                config,
                access_key,
                keys,
                store,
                records,
                runtime,
                shutdown,
            }),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The access key.
    pub fn access_key(&self) -> &str {
        &self.inner.access_key
    }

    /// The token keys derived from the access key.
    pub fn keys(&self) -> &TokenKeys {
        &self.inner.keys
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The batched writer of call records.
    pub fn records(&self) -> &RecordWriter {
        &self.inner.records
    }

    /// The controller task.
    pub(crate) fn runtime(&self) -> &RuntimeHandle {
        &self.inner.runtime
    }

    /// Fires when the server starts shutting down.
    pub(crate) fn shutdown(&self) -> &ShutdownSignal {
        &self.inner.shutdown
    }

    /// Checks a user token the way the signaling handshake does: signature, algorithm, scope and
    /// expiry, then that the identity exists, is not deleted, and the token is not revoked. Every
    /// refusal is 401/10009 with the precise reason as raw cause.
    pub async fn authenticate(&self, token: &str) -> Result<Claims, CallingError> {
        let now = SystemTime::now();
        let claims = self.keys().verify(token, now)?;
        let state = self.store().identity_state(&claims.identity).await?;
        match state {
            None => Err(tokens::unauthenticated("unknown identity")),
            Some(s) if s.deleted => Err(tokens::unauthenticated("identity deleted")),
            Some(s)
                if s.revoked_before_ms
                    .is_some_and(|before| crate::store::unix_ms(claims.issued_at()) < before) =>
            {
                Err(tokens::unauthenticated("token revoked"))
            }
            Some(_) => Ok(claims),
        }
    }
}

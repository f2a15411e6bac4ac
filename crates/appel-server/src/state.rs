//! What every request handler and connection task shares.

use std::sync::Arc;
use std::time::SystemTime;

use appel_codes::CallingError;

use crate::config::Config;
use crate::federation::{self, Federation};
use crate::metrics::Metrics;
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
    federation: Arc<Federation>,
    metrics: Arc<Metrics>,
}

/// What the server assembles once at start and every handler shares.
pub(crate) struct Parts {
    pub config: Config,
    pub access_key: String,
    pub store: Store,
    pub records: RecordWriter,
    pub runtime: RuntimeHandle,
    pub shutdown: ShutdownSignal,
    pub federation: Federation,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// Bundles the server's parts.
    pub(crate) fn new(parts: Parts) -> AppState {
        let Parts {
            config,
            access_key,
            store,
            records,
            runtime,
            shutdown,
            federation,
            metrics,
        } = parts;
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
                federation: Arc::new(federation),
                metrics,
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

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The controller task.
    pub(crate) fn runtime(&self) -> &RuntimeHandle {
        &self.inner.runtime
    }

    /// Fires when the server starts shutting down.
    pub(crate) fn shutdown(&self) -> &ShutdownSignal {
        &self.inner.shutdown
    }

    /// The trusted identity providers.
    pub fn federation(&self) -> &Federation {
        &self.inner.federation
    }

    /// Checks a user token, the same way at `hello`, at `refreshToken` and on every REST route
    /// that takes one: signature, algorithm, scope and dates (with `tokens.clock_leeway`), then
    /// that the identity exists, is not deleted, and that the token belongs to the identity's
    /// current token generation (read from the database, so a revocation made through any server
    /// sharing it counts at once). Every refusal is 401/10009 with the precise reason as raw cause.
    pub async fn authenticate(&self, token: &str) -> Result<Claims, CallingError> {
        if token.trim().is_empty() {
            return Err(tokens::unauthenticated("no token"));
        }
        // Appel's own tokens carry no `iss`; one that does is checked against its provider
        // (docs/identities.md), and never reaches the native check.
        if let Some(issuer) = federation::token_issuer(token) {
            return self
                .federation()
                .verify(token, &issuer, self.config().tokens.clock_leeway)
                .await;
        }
        let now = SystemTime::now();
        let claims = self
            .keys()
            .verify(token, now, self.config().tokens.clock_leeway)?;
        match self.store().identity_state(&claims.identity).await? {
            None => Err(tokens::unauthenticated("unknown identity")),
            Some(s) if s.deleted => Err(tokens::unauthenticated("identity deleted")),
            Some(s) => {
                tokens::check_generation(&claims, s.token_generation, s.revoked_before_ms)?;
                Ok(claims)
            }
        }
    }
}

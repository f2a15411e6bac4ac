//! Starting and stopping a server: what `appel serve` runs, and what tests start on a free port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use appel_codes::{registry, CallingError};
use tokio::task::JoinHandle;

use crate::access_key::{self, AccessKeyOrigin};
use crate::config::Config;
use crate::runtime::{self, RuntimeHandle};
use crate::shutdown::ShutdownSignal;
use crate::state::AppState;
use crate::store::{RecordWriter, Store};
use crate::webhooks::WebhookHub;

/// How long shutdown waits for signaling connections to write their last frames.
const CONNECTION_DRAIN: Duration = Duration::from_secs(5);

/// Entry point: [`Server::start`].
pub struct Server;

/// A started server.
pub struct RunningServer {
    addr: SocketAddr,
    access_key: String,
    origin: AccessKeyOrigin,
    state: AppState,
    shutdown: ShutdownSignal,
    runtime: RuntimeHandle,
    runtime_task: JoinHandle<()>,
    http_task: JoinHandle<()>,
    records: RecordWriter,
    media_addr: Option<SocketAddr>,
}

impl Server {
    /// Opens the data folder, starts the controller task and listens on `config.listen` (port 0
    /// picks a free port; see [`RunningServer::addr`]).
    pub async fn start(config: Config) -> Result<RunningServer, CallingError> {
        let (access_key, origin) = access_key::resolve(config.access_key.as_deref(), &config.data)?;
        let store = Store::open(&config.data)?;
        let mut subscriptions = store.subscriptions().await?;
        if let Some(url) = &config.webhooks.url {
            subscriptions.push(crate::store::Subscription {
                id: crate::webhooks::CONFIG_SUBSCRIPTION.into(),
                url: url.clone(),
                secret: config.webhooks.secret.clone().unwrap_or_default(),
                events: Vec::new(),
            });
        }
        // Before the records writer starts: it moves the last-alive mark the crash is dated by.
        let interrupted = store.close_interrupted_calls(subscriptions.clone()).await?;
        if interrupted.calls > 0 || interrupted.legs > 0 {
            tracing::warn!(
                calls = interrupted.calls,
                legs = interrupted.legs,
                last_alive_ms = interrupted.last_alive_ms,
                "the server had stopped unexpectedly: the calls it left open are closed with 500/900301"
            );
        }
        let records = RecordWriter::start(
            store.path(),
            config.records.batch_size,
            config.records.flush_interval,
        )?;
        let registered = store.registered_identities().await?;
        let rooms = store.rooms().await?;
        let dropped = store
            .outbox_keep_only(subscriptions.iter().map(|s| s.id.clone()).collect())
            .await?;
        if dropped > 0 {
            tracing::warn!(
                events = dropped,
                "webhook events of a subscription no longer configured were discarded"
            );
        }
        let metrics = Arc::new(crate::metrics::Metrics::new().map_err(|e| {
            CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                .with_context("setting up the metrics")
                .with_raw_cause(e.to_string())
        })?);
        let webhooks = WebhookHub::start(
            &config.webhooks,
            store.clone(),
            subscriptions,
            records.outbox_signal(),
            Arc::clone(&metrics),
        );
        let media = if config.media.enabled {
            let shell = crate::media::MediaShell::bind(&config).await?;
            tracing::info!(address = %shell.public_address(), "media server listening (UDP)");
            Some(shell)
        } else {
            None
        };
        let media_addr = media.as_ref().map(|m| m.public_address());
        let (runtime, runtime_task) = runtime::start(
            &config,
            random_seed()?,
            registered,
            rooms,
            store.clone(),
            records.clone(),
            webhooks,
            media,
            Arc::clone(&metrics),
        );
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| bind_error(config.listen, &e))?;
        let addr = listener.local_addr().map_err(|e| {
            CallingError::new(&registry::INTERNAL_SERVER_ERROR).with_raw_cause(e.to_string())
        })?;
        let federation = crate::federation::Federation::new(
            &config.federation,
            store.federation_issuers().await?,
        )?;
        let shutdown = ShutdownSignal::new();
        let state = AppState::new(crate::state::Parts {
            config,
            access_key: access_key.clone(),
            store,
            records: records.clone(),
            runtime: runtime.clone(),
            shutdown: shutdown.clone(),
            federation,
            metrics,
        });
        let router = crate::http::router(state.clone());
        let http_task = tokio::spawn(crate::http::listener::serve(
            listener,
            router,
            state.config().http.clone(),
            shutdown.clone(),
        ));
        tracing::info!(%addr, "appel server listening");
        Ok(RunningServer {
            addr,
            access_key,
            origin,
            state,
            shutdown,
            runtime,
            runtime_task,
            http_task,
            records,
            media_addr,
        })
    }
}

impl RunningServer {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The access key in use.
    /// The UDP address the media server announces, when it runs.
    pub fn media_addr(&self) -> Option<SocketAddr> {
        self.media_addr
    }

    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// Whether the key was configured, read from the data folder, or generated by this start.
    pub fn access_key_origin(&self) -> AccessKeyOrigin {
        self.origin
    }

    /// The same routes the listener serves, over the same state: lets the fuzz targets send
    /// requests in-process, thousands of times a second, without a socket per request.
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.state.clone())
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        self.state.config()
    }

    /// Stops gracefully: no new connections, every call in progress ends with 503/900300 for every
    /// party, connections get their last frames, and every record is committed. HTTP requests in
    /// progress get `http.shutdown_drain` to finish; connections still open after it are dropped.
    pub async fn shutdown(self) {
        self.shutdown.trigger();
        self.runtime.shutdown().await;
        if !self.shutdown.connections_closed(CONNECTION_DRAIN).await {
            tracing::warn!("some connections did not close in time");
        }
        if let Err(e) = self.runtime_task.await {
            tracing::error!(error = %e, "the controller task failed");
        }
        if let Err(e) = self.http_task.await {
            tracing::error!(error = %e, "the HTTP task failed");
        }
        self.records.close().await;
    }
}

/// The seed of the controller's id generator: call ids grant access to group calls, so it comes
/// from the operating system's cryptographic generator, fresh at every start.
fn random_seed() -> Result<[u8; 32], CallingError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        CallingError::new(&registry::INTERNAL_SERVER_ERROR)
            .with_context("seeding call ids")
            .with_raw_cause(e.to_string())
    })?;
    Ok(bytes)
}

/// The catalogue entry of a listener that cannot bind, by the system's reason.
fn bind_error(address: std::net::SocketAddr, error: &std::io::Error) -> CallingError {
    let entry = match error.kind() {
        std::io::ErrorKind::AddrInUse => &registry::LISTEN_ADDRESS_IN_USE,
        std::io::ErrorKind::PermissionDenied => &registry::LISTEN_ADDRESS_FORBIDDEN,
        std::io::ErrorKind::AddrNotAvailable => &registry::LISTEN_ADDRESS_UNAVAILABLE,
        _ => &registry::INVALID_ARGUMENT,
    };
    CallingError::new(entry)
        .with_context(format!("listen on {address}"))
        .with_raw_cause(error.to_string())
}

//! The Appel server: identities and tokens over REST, WebSocket signaling driven by the sans-IO call
//! controller, and call records in SQLite.
//!
//! - [`config`]: settings from defaults, a TOML file, `APPEL_*` variables and the command line.
//! - [`store`]: SQLite (WAL) with versioned migrations and the batched writer of call records.
//! - [`tokens`]: HS256 user tokens signed with a key derived from the access key.
//! - [`http`]: REST routes, RFC 9457 problem documents, the OpenAPI document.
//! - `signaling`: the WebSocket handshake and connection tasks.
//! - `runtime`: the task that owns the call controller.
//!
//! `appel serve` calls [`serve`]; tests call [`Server::start`] with a configuration of their own.

pub mod access_key;
pub mod config;
pub mod config_docs;
pub mod federation;
pub mod http;
mod media;
pub mod metrics;
pub mod push;
pub mod relay;
mod runtime;
mod server;
pub mod shutdown;
mod signaling;
pub mod state;
pub mod store;
pub mod tokens;
pub mod webhooks;

use appel_codes::CallingError;

pub use access_key::AccessKeyOrigin;
pub use config::{Config, ServeArgs};
pub use runtime::controller_config;
pub use server::{RunningServer, Server};

/// Runs `appel serve`: loads the configuration, starts the server, and stops it gracefully on
/// SIGINT or SIGTERM.
pub async fn serve(args: ServeArgs) -> Result<(), CallingError> {
    let config = Config::load(&args)?;
    let server = Server::start(config).await?;
    println!("appel server listening on http://{}", server.addr());
    if server.access_key_origin() == AccessKeyOrigin::Generated {
        println!(
            "generated access key (stored in {}; shown only this once): {}",
            server
                .config()
                .data
                .join(access_key::ACCESS_KEY_FILE)
                .display(),
            server.access_key()
        );
    }
    shutdown::os_signal().await;
    println!("shutting down: ending calls and flushing records");
    server.shutdown().await;
    Ok(())
}

//! A real server on a free loopback port, and identities with tokens from its REST API.
#![allow(dead_code)]

use std::time::Duration;

use appel::rest::RestClient;
use appel_server::{Config, RunningServer, Server};

/// The access key every test server uses.
pub const ACCESS_KEY: &str = "cli-test-access-key";

/// A running server and its data folder.
pub struct TestServer {
    pub server: RunningServer,
    pub data: tempfile::TempDir,
}

impl TestServer {
    /// A server on 127.0.0.1 with a free port and a fresh data folder.
    pub async fn start() -> TestServer {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("loopback address"),
            data: data.path().to_path_buf(),
            access_key: Some(ACCESS_KEY.into()),
            ..Config::default()
        };
        config.records.flush_interval = Duration::from_millis(10);
        let server = Server::start(config).await.expect("server starts");
        TestServer { server, data }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    pub fn rest(&self) -> RestClient {
        RestClient::new(&self.url(), ACCESS_KEY).expect("rest client")
    }

    /// A new identity's id.
    pub async fn identity(&self) -> String {
        self.rest()
            .create_identity()
            .await
            .expect("identity created")
    }
}

/// `appel ARGS` in `dir` with only the environment given (plus PATH), like a fresh shell whose home
/// is `dir`; the caller adds the pipes it needs and runs it.
pub fn fresh_shell(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_appel"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("LANG", "C.UTF-8");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

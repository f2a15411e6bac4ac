//! `appel identities` and `appel token` as an operator uses them against a real server: names,
//! lists with presence, tokens that the server accepts and then refuses once revoked, and where the
//! command finds the server and its key (flags, environment, profile, a local server's key file).

mod support;

use std::path::Path;
use std::process::Output;

use support::{fresh_shell, TestServer, ACCESS_KEY};

/// Runs `appel ARGS` in `dir` with only the environment given (plus PATH), like a fresh shell.
fn appel_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    fresh_shell(dir, args, env).output().expect("appel runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `appel ARGS` as a blocking task, so the in-process server keeps running.
async fn appel(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        appel_in(&dir, &args, &env)
    })
    .await
    .expect("appel ran")
}

async fn validate(server: &TestServer, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/validate", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /validate")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_names_people_lists_them_and_issues_tokens_without_curl() {
    let server = TestServer::start().await;
    let home = tempfile::tempdir().expect("home");
    let url = server.url();
    let env = [
        ("APPEL_SERVER", url.as_str()),
        ("APPEL_ACCESS_KEY", ACCESS_KEY),
    ];

    let out = appel(
        home.path(),
        &["identities", "create", "--name", "Bob"],
        &env,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert!(
        line.starts_with("created identity ") && line.contains("(Bob)"),
        "{line}"
    );
    let bob = line["created identity ".len()..]
        .split_whitespace()
        .next()
        .expect("id")
        .to_string();
    let out = appel(
        home.path(),
        &["identities", "create", "--name", "Alice", "--json"],
        &env,
    )
    .await;
    let alice: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(alice["displayName"], "Alice");
    assert_eq!(alice["presence"], "offline");

    let out = appel(home.path(), &["identities", "list"], &env).await;
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("PRESENCE"),
        "{table}"
    );
    assert!(
        lines[1].contains("Alice") && lines[2].contains("Bob"),
        "by name: {table}"
    );
    let out = appel(
        home.path(),
        &["identities", "list", "--name", "b", "--json"],
        &env,
    )
    .await;
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found[0]["id"], bob.as_str());

    // The token alone on stdout, so a shell can capture it; the server accepts it, then refuses
    // it once revoked.
    let out = appel(
        home.path(),
        &["token", "issue", &bob, "--minutes", "60"],
        &env,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    assert_eq!(validate(&server, &token).await, 200);
    let out = appel(home.path(), &["token", "revoke", &bob], &env).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(validate(&server, &token).await, 401);

    let out = appel(
        home.path(),
        &["identities", "rename", &bob, "--name", "Robert"],
        &env,
    )
    .await;
    assert!(
        text(&out.stdout).contains("(Robert)"),
        "{}",
        text(&out.stdout)
    );
    let out = appel(home.path(), &["identities", "delete", &bob], &env).await;
    assert!(out.status.success());
    let out = appel(home.path(), &["identities", "delete", &bob], &env).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("900101/404"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_and_key_come_from_a_profile_or_a_local_servers_data_folder() {
    let server = TestServer::start().await;
    let url = server.url();

    // Where `appel serve` ran with its defaults, its key file is found without being named.
    let here = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(here.path().join("appel-data")).expect("data");
    std::fs::write(
        here.path().join("appel-data/access-key"),
        format!("{ACCESS_KEY}\n"),
    )
    .expect("key file");
    let out = appel(
        here.path(),
        &["identities", "create", "--server", &url],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    // A profile names both.
    let elsewhere = tempfile::tempdir().expect("dir");
    let profile = elsewhere.path().join("profile.toml");
    std::fs::write(
        &profile,
        format!("server = \"{url}\"\naccess_key = \"{ACCESS_KEY}\"\n"),
    )
    .expect("profile");
    let profile = profile.display().to_string();
    let out = appel(
        elsewhere.path(),
        &["identities", "list", "--json"],
        &[("APPEL_PROFILE", profile.as_str())],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    // A wrong key is the server's own refusal; no key at all says every way to give one.
    let out = appel(
        elsewhere.path(),
        &[
            "identities",
            "list",
            "--server",
            &url,
            "--access-key",
            "nope",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("900100/401"),
        "{}",
        text(&out.stderr)
    );
    let out = appel(
        elsewhere.path(),
        &["identities", "list", "--server", &url],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let error = text(&out.stderr);
    assert!(
        error.contains("900900/400") && error.contains("APPEL_ACCESS_KEY"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sign_in_and_call_by_name() {
    let server = TestServer::start().await;
    let url = server.url();
    let dir = tempfile::tempdir().expect("dir");
    let env = [
        ("APPEL_SERVER", url.as_str()),
        ("APPEL_ACCESS_KEY", ACCESS_KEY),
    ];
    for name in ["Zoé", "Yann"] {
        let out = appel(dir.path(), &["identities", "create", "--name", name], &env).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    // Zoé answers; Yann calls "zoe" (any case, no accent) and hangs up once connected.
    let callee = spawn_agent(
        dir.path(),
        &["agent", "--identity", "Zoé", "--auto-accept"],
        &env,
        "",
    );
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let caller = spawn_agent(
        dir.path(),
        &["agent", "--identity", "Yann"],
        &env,
        "call zoe\n",
    );
    let caller_out = tokio::task::spawn_blocking(move || wait_for(caller, "state Connected"))
        .await
        .expect("caller");
    assert!(caller_out.contains("state Connected"), "{caller_out}");
    let callee_out = tokio::task::spawn_blocking(move || wait_for(callee, "state Connected"))
        .await
        .expect("callee");
    assert!(callee_out.contains("incoming call"), "{callee_out}");
}

/// `appel agent` with stdin fed `input`, then held open.
fn spawn_agent(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    input: &str,
) -> std::process::Child {
    use std::io::Write;
    let mut command = fresh_shell(dir, args, env);
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    let mut child = command.spawn().expect("appel agent starts");
    if let Some(stdin) = child.stdin.as_mut() {
        stdin.write_all(input.as_bytes()).expect("input");
    }
    child
}

/// Reads the agent's output until a line contains `wanted` (or 15 s pass), then stops it.
fn wait_for(mut child: std::process::Child, wanted: &str) -> String {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout");
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut all = String::new();
    while let Ok(line) =
        seen.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
    {
        all.push_str(&line);
        all.push('\n');
        if line.contains(wanted) {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    all
}

//! The `appel` binary as a user runs it: explain and codes, with good and bad input.

use std::process::{Command, Output};

fn appel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_appel"))
        .args(args)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8")
        .output()
        .expect("the appel binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn explain_accepts_a_subcode_a_pair_and_flags() {
    for args in [
        &["explain", "10004"][..],
        &["explain", "487/10004"],
        &["explain", "--code", "487", "--subcode", "10004"],
    ] {
        let out = appel(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.starts_with("487/10004  RINGING_TIMEOUT"),
            "{args:?}: {text}"
        );
        assert!(text.contains("Category: ExpectedError"), "{text}");
        assert!(text.contains("Advice: "), "{text}");
    }
}

#[test]
fn explain_a_code_alone_shows_the_code_only_entry() {
    let out = appel(&["explain", "603"]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("603  DECLINED_EVERYWHERE  (code-only fallback)"));
}

#[test]
fn explain_speaks_french_by_flag_or_environment() {
    let out = appel(&["explain", "10003", "--lang", "fr"]);
    assert!(stdout(&out).contains("Conseil : "), "{}", stdout(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_appel"))
        .args(["explain", "10003"])
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "fr_FR.UTF-8")
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("raison de fin d'appel"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn explain_json_carries_the_entry_and_how_it_was_found() {
    let out = appel(&["explain", "487/123", "--json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["requested"],
        serde_json::json!({"code": 487, "subCode": 123})
    );
    assert_eq!(json["matched"], "codeOnly");
    assert_eq!(json["name"], "CALL_CANCELLED");
    assert!(json["subCode"].is_null());
    assert!(json["advice"]["fr"].as_str().unwrap().len() > 10);
}

#[test]
fn explain_refuses_bad_input_with_status_2_and_no_panic() {
    for bad in [
        "abc",
        "-5",
        "487/",
        "4x7/1",
        "1000",
        "487/99999999999",
        "99999999999999999999",
    ] {
        let out = appel(&["explain", bad]);
        let err = stderr(&out);
        if bad == "1000" {
            // A lone number above 999 is a subcode; none is 1000, so it is "not found", status 1.
            assert_eq!(out.status.code(), Some(1), "{bad}: {err}");
        } else {
            assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        }
        assert!(
            err.starts_with("appel explain: 900900/400 ExpectedError: "),
            "{bad}: {err}"
        );
        assert!(!err.contains("panicked"), "{bad}: {err}");
    }
    let out = appel(&["explain", "--code", "1200"]);
    assert_eq!(out.status.code(), Some(2));
    let out = appel(&["explain", "10004", "--lang", "de"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn codes_lists_filters_and_prints_json() {
    let out = appel(&["codes"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("CALL_ACCEPTED_ELSEWHERE"));

    let out = appel(&["codes", "--scope", "code-only", "--json"]);
    let json: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json.len(),
        19 + 6,
        "19 code-only rows and the 6 class fallbacks"
    );
    assert!(json.iter().all(|e| e["scope"] == "codeOnly"));

    let out = appel(&[
        "codes",
        "--scope",
        "sdk",
        "--category",
        "unexpectedclienterror",
        "--json",
    ]);
    let json: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!json.is_empty());
    assert!(json
        .iter()
        .all(|e| e["scope"] == "sdk" && e["resultCategory"] == "UnexpectedClientError"));

    let out = appel(&["codes", "--category", "Nope"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn codes_json_is_the_committed_catalogue() {
    let out = appel(&["codes", "--json"]);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalog/codes.json");
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root).unwrap()).unwrap();
    assert_eq!(printed, committed);
}

#[test]
fn completions_are_valid_scripts_that_know_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let out = appel(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for subcommand in [
            "serve",
            "explain",
            "codes",
            "agent",
            "bench",
            "completions",
            "man",
        ] {
            assert!(script.contains(subcommand), "{shell} lacks {subcommand}");
        }
    }
    // The bash script must at least parse in bash (syntax check only, nothing runs).
    let script = stdout(&appel(&["completions", "bash"]));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("appel.bash");
    std::fs::write(&path, script).expect("write");
    let check = Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("bash runs");
    assert!(check.status.success(), "{}", stderr(&check));
    let bad = appel(&["completions", "nosh"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_manual_page_is_roff_generated_from_the_commands() {
    let out = appel(&["man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains(".TH appel 1"), "{page}");
    for subcommand in ["serve", "explain", "codes", "agent", "bench"] {
        assert!(page.contains(subcommand), "the page lacks {subcommand}");
    }
}

#[test]
fn every_setting_is_discoverable_from_the_command_line() {
    let example = appel(&["config", "example"]);
    assert!(example.status.success(), "{}", stderr(&example));
    let example = stdout(&example);
    let help = appel(&["serve", "--help"]);
    assert!(help.status.success(), "{}", stderr(&help));
    let help = stdout(&help);
    for key in appel_server::config::keys() {
        let (section, name) = key.split_once('.').unwrap_or(("", key));
        if !section.is_empty() {
            assert!(example.contains(&format!("[{section}]")), "{section}");
        }
        assert!(
            example.contains(&format!("{name} = ")),
            "the example lacks {key}"
        );
        assert!(help.contains(key), "serve --help lacks {key}");
        assert!(
            help.contains(&appel_server::config::env_name(key)),
            "serve --help lacks the variable of {key}"
        );
    }
    assert!(help.contains("timers.ringing = \"2m\""), "{help}");
}

#[test]
fn a_port_already_in_use_is_its_own_entry_with_advice() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let (code, text) = serve_on(&address, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("900119/409"), "{text}");
    assert!(text.contains(&address), "the address is named: {text}");
    assert!(text.contains("ss -ltnp"), "the advice is printed: {text}");
}

/// Runs `appel serve --listen ADDRESS` with a fresh data folder, through `wrapper` when given;
/// returns its exit code and stderr.
fn serve_on(address: &str, wrapper: &[&str]) -> (Option<i32>, String) {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o777))
        .expect("a data folder anyone may write");
    let binary = env!("CARGO_BIN_EXE_appel");
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    let out = command
        .args(["serve", "--listen", address, "--data"])
        .arg(data.path())
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .expect("appel serve runs");
    (out.status.code(), stderr(&out))
}

#[test]
fn an_address_this_machine_does_not_have_is_its_own_entry() {
    // 192.0.2.0/24 is reserved for documentation: no machine has it on an interface. Binding
    // fails locally; nothing is sent anywhere.
    let (code, text) = serve_on("192.0.2.1:8080", &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("900121/400"), "{text}");
    assert!(text.contains("ip addr"), "the advice is printed: {text}");
}

#[test]
fn a_privileged_port_for_an_unprivileged_user_is_its_own_entry() {
    // As an unprivileged user (the suite may run as root: drop to `nobody` with setpriv), a port
    // below the system's unprivileged start cannot be bound.
    let is_root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let wrapper: &[&str] = if is_root {
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ]
    } else {
        &[]
    };
    let (code, text) = serve_on("127.0.0.1:1", wrapper);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("900120/403"), "{text}");
    assert!(
        text.contains("cap_net_bind_service"),
        "the advice is printed: {text}"
    );
}

//! `appel agent` as a user runs it: two processes against a real server, one answering by itself,
//! the other calling; each prints the end reasons it sees, explained.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use appel_codes::{registry, Locale};
use support::{TestServer, ACCESS_KEY};

/// The longest a test waits for one line.
const LINE_WAIT: Duration = Duration::from_secs(15);

/// One `appel agent` process and the lines it printed so far.
struct Agent {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    /// The last line it prints, in its language.
    signed_out: &'static str,
}

impl Agent {
    fn start(server: &str, identity: &str, extra: &[&str]) -> Agent {
        let mut child = Command::new(env!("CARGO_BIN_EXE_appel"))
            .args(["agent", "--server", server, "--identity", identity])
            .args(["--access-key", ACCESS_KEY])
            .args(extra)
            .env_remove("APPEL_TOKEN")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("appel agent starts");
        let stdin = child.stdin.take().expect("stdin piped");
        let stdout = child.stdout.take().expect("stdout piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let french = extra.windows(2).any(|pair| pair == ["--lang", "fr"]);
        Agent {
            child,
            stdin,
            lines,
            seen: Vec::new(),
            signed_out: if french { "déconnecté" } else { "signed out" },
        }
    }

    /// Waits for a line containing every part, and returns it.
    fn expect(&mut self, parts: &[&str]) -> String {
        let deadline = Instant::now() + LINE_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if parts.iter().all(|p| line.contains(p)) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {parts:?}; saw:\n{}", self.seen.join("\n")),
            }
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("command written");
        self.stdin.flush().expect("command flushed");
    }

    /// `quit`, then the process must exit successfully.
    fn quit(mut self) {
        self.send("quit");
        self.expect(&[self.signed_out]);
        let deadline = Instant::now() + LINE_WAIT;
        loop {
            match self.child.try_wait().expect("wait") {
                Some(status) => {
                    assert!(status.success(), "appel agent exited with {status}");
                    return;
                }
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                None => {
                    let _ = self.child.kill();
                    panic!("appel agent did not exit after quit");
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_auto_accepts_and_both_ends_print_0_0_explained() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.identity().await, server.identity().await);
    let url = server.url();
    tokio::task::spawn_blocking(move || {
        let mut callee = Agent::start(&url, &bob, &["--auto-accept"]);
        callee.expect(&["signed in as", &bob]);
        let mut caller = Agent::start(&url, &alice, &["--call", &bob]);
        caller.expect(&["signed in as", &alice]);
        caller.expect(&["state Connected"]);
        callee.expect(&["incoming call", &alice]);
        callee.expect(&["state Connected"]);
        caller.send("hangup");
        let ended_locally = &registry::CALL_ENDED_LOCALLY;
        let line = caller.expect(&["call ", "ended 0/0", ended_locally.name]);
        assert!(line.contains(ended_locally.message(Locale::En)), "{line}");
        let line = callee.expect(&["call ", "ended 0/0", ended_locally.name]);
        assert!(line.contains("Advice:"), "{line}");
        caller.quit();
        callee.quit();
    })
    .await
    .expect("agents ran");
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_rejects_and_the_caller_sees_603_0_in_french() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.identity().await, server.identity().await);
    let url = server.url();
    tokio::task::spawn_blocking(move || {
        let mut callee = Agent::start(&url, &bob, &[]);
        callee.expect(&["signed in as"]);
        let mut caller = Agent::start(&url, &alice, &["--lang", "fr"]);
        caller.expect(&["connecté en tant que", &alice]);
        // Every word follows --lang, commands too: `aide` lists them, `appeler` calls.
        caller.send("aide");
        caller.expect(&["raccrocher", "quitter l'appel en cours"]);
        caller.send(&format!("appeler {bob}"));
        caller.expect(&["appel vers", &bob]);
        callee.expect(&["incoming call", &alice]);
        callee.send("reject");
        let declined = &registry::CALL_DECLINED;
        let line = caller.expect(&["appel ", "terminé 603/0", declined.name]);
        assert!(line.contains(declined.message(Locale::Fr)), "{line}");
        // The category is labelled as the catalogue labels it, in French.
        assert!(line.contains("Catégorie : Success."), "{line}");
        assert!(line.contains("Conseil :"), "{line}");
        // The one who declined ended its own ringing: a local action, 0/0 (docs/protocol.md).
        callee.expect(&["ring ", "stopped 0/0"]);
        // Nothing rings any more: the agent says so with 900900 rather than failing.
        callee.send("accept");
        callee.expect(&["error:", "900900", "no call is ringing here"]);
        callee.send("help");
        callee.expect(&["hangup", "leave the current call"]);
        caller.quit();
        callee.quit();
    })
    .await
    .expect("agents ran");
    server.server.shutdown().await;
}

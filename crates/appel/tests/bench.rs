//! `appel bench` against a real server on loopback: a few call cycles, a few idle agents, and the
//! refusal of a server that is not on this machine.

mod support;

use std::process::Command;
use std::time::Duration;

use appel::bench::agents::{self, AgentsSettings};
use appel::bench::calls::{self, CallsSettings};
use support::{TestServer, ACCESS_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_calls_completes_cycles_and_counts_every_end_reason() {
    let server = TestServer::start().await;
    let report = calls::run(CallsSettings {
        server: server.url(),
        access_key: ACCESS_KEY.into(),
        callers: 3,
        rate: 40.0,
        duration: Duration::from_millis(500),
        concurrency: None,
        progress: false,
    })
    .await
    .expect("bench runs");
    assert!(report.attempted >= 10, "{report:?}");
    assert_eq!(report.completed, report.attempted, "{report:?}");
    assert_eq!(report.timed_out, 0);
    // Both parties of every cycle end with 0/0 and nothing else is seen.
    assert_eq!(report.end_reasons.len(), 1, "{report:?}");
    let reason = &report.end_reasons[0];
    assert_eq!((reason.code, reason.sub_code), (0, 0));
    assert_eq!(reason.count, 2 * report.completed);
    assert!(report.latency_ms.p50 > 0.0);
    assert!(report.latency_ms.p50 <= report.latency_ms.p99);
    assert!(report.latency_ms.p99 <= report.latency_ms.max);
    assert!(report.achieved_rate > 0.0);
    assert!(
        report.frames_per_cycle.is_some_and(|f| f >= 8),
        "{report:?}"
    );
    let json: serde_json::Value = serde_json::to_value(&report).expect("json");
    for key in [
        "attempted",
        "completed",
        "achievedRate",
        "latencyMs",
        "endReasons",
    ] {
        assert!(json.get(key).is_some(), "{key} missing in {json}");
    }
    assert_eq!(json["endReasons"][0]["subCode"], 0);
    assert!(json["latencyMs"]["p99"].is_number());
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_agents_connects_idle_agents_and_reads_the_server_memory() {
    let server = TestServer::start().await;
    let report = agents::run(AgentsSettings {
        server: server.url(),
        access_key: ACCESS_KEY.into(),
        count: 25,
        server_pid: None,
        progress: false,
    })
    .await
    .expect("bench runs");
    assert_eq!(report.connected, 25, "{report:?}");
    assert!(report.first_error.is_none(), "{report:?}");
    assert!(report.rss_after_kib > 0);
    assert!(report.connect_rate > 0.0);
    assert_eq!(report.source_addresses, 1);
    server.server.shutdown().await;
}

#[test]
fn bench_refuses_a_server_that_is_not_loopback_with_900800() {
    for tool in [
        &["bench", "calls", "--server", "http://192.0.2.1:8080"][..],
        &[
            "bench",
            "agents",
            "--server",
            "http://192.0.2.1:8080",
            "--count",
            "1",
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_appel"))
            .args(tool)
            .args(["--access-key", "k"])
            .env("LANG", "C.UTF-8")
            .output()
            .expect("appel runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("900800/400"), "{stderr}");
        assert!(stderr.contains("loopback"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

//! `appel bench media` and `appel bench udp` for real, tiny: a server process started by the
//! bench itself, native WebRTC clients on loopback UDP, and a report whose figures must agree with
//! each other (a bench that miscounts would pass a slow server as fast).

use std::process::Command;
use std::time::Duration;

use appel::bench::media::{self, MediaSettings};
use appel::bench::udp::{self, UdpSettings};

fn tiny() -> MediaSettings {
    MediaSettings {
        server: None,
        access_key: None,
        server_pid: None,
        serve_binary: Some(env!("CARGO_BIN_EXE_appel").into()),
        rooms: 2,
        publishers: 2,
        subscribers: 1,
        warmup: Duration::from_millis(300),
        duration: Duration::from_secs(2),
        video_kbps: 300,
        audio: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_media_every_receiver_gets_every_publisher_and_the_report_adds_up() {
    let settings = tiny();
    let report = media::run(settings.clone()).await.expect("bench runs");
    assert!(report.first_error.is_none(), "{report:?}");
    assert_eq!(report.participants, 6);
    // Two rooms, two publishers each reaching the two others of their room, per kind.
    assert_eq!(report.video.streams, 8);
    assert_eq!(report.audio.streams, 8);
    assert_eq!(report.streams, 16);
    assert_eq!(report.silent_pairs, 0, "{report:?}");
    // Four publishers at 30 and 50 frames a second for about two seconds.
    assert!(
        (180..=300).contains(&report.video.sent),
        "{:?}",
        report.video
    );
    assert!(
        (320..=480).contains(&report.audio.sent),
        "{:?}",
        report.audio
    );
    for kind in [&report.video, &report.audio] {
        assert_eq!(kind.expected, kind.sent * 2, "{kind:?}");
        // Nothing is counted twice, and loopback loses (almost) nothing.
        assert!(kind.received <= kind.expected, "{kind:?}");
        assert!(kind.loss < 0.02, "{kind:?}");
    }
    // 300 kbit/s at 30 fps is 1,250 bytes a frame: two RTP packets.
    let expected_packets = (2 * report.video.expected + report.audio.expected) as f64;
    let counted = report.forwarded_packets_per_second * report.elapsed;
    assert!(
        counted > 0.8 * expected_packets && counted < 1.3 * expected_packets,
        "{counted} packets for {expected_packets} expected: {report:?}"
    );
    assert!(!report.server_in_process);
    assert!(report.server_cpu_seconds > 0.0, "{report:?}");
    assert!(report.video_streams_per_core > 0.0);
    assert!(
        (report.streams_per_core - 2.0 * report.video_streams_per_core).abs() < 1e-6,
        "{report:?}"
    );
    assert!(report.rss_after_kib > 0);
    assert_eq!(report.late_frames, 0, "{report:?}");

    let json = serde_json::to_value(&report).expect("json");
    for key in [
        "forwardedPacketsPerSecond",
        "videoStreamsPerCore",
        "streamsPerCore",
        "cpuSecondsPerStream",
        "serverCpuSeconds",
        "rssPerStreamBytes",
        "clientCores",
        "silentPairs",
        "lateFrames",
    ] {
        assert!(json[key].is_number(), "{key} missing in {json}");
    }
    for kind in ["video", "audio"] {
        for key in ["sent", "expected", "received", "loss", "streams"] {
            assert!(
                json[kind][key].is_number(),
                "{kind}.{key} missing in {json}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_media_without_audio_counts_video_streams_only() {
    let report = media::run(MediaSettings {
        rooms: 1,
        subscribers: 2,
        audio: false,
        ..tiny()
    })
    .await
    .expect("bench runs");
    assert!(report.first_error.is_none(), "{report:?}");
    assert_eq!((report.video.streams, report.audio.streams), (6, 0));
    assert_eq!(report.audio.sent + report.audio.received, 0);
    assert_eq!(report.silent_pairs, 0, "{report:?}");
    assert!(report.video.loss < 0.02, "{:?}", report.video);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_udp_moves_datagrams_and_prices_them() {
    let report = udp::run(UdpSettings {
        pairs: 2,
        size: 1200,
        duration: Duration::from_millis(300),
    })
    .await
    .expect("udp baseline runs");
    assert!(report.received > 1_000, "{report:?}");
    assert!(report.datagrams_per_second > 0.0);
    assert!(report.cpu_us_per_datagram > 0.0, "{report:?}");
}

#[test]
fn bench_media_refuses_a_server_that_is_not_loopback_and_bad_sizes() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_appel"))
            .args(["bench", "media"])
            .args(args)
            .env("LANG", "C.UTF-8")
            .env_remove("APPEL_ACCESS_KEY")
            .output()
            .expect("appel runs")
    };
    let out = run(&["--server", "http://192.0.2.1:8080", "--access-key", "k"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("900800/400"), "{stderr}");
    assert!(out.stdout.is_empty());
    // Bounds are checked before any server is started or contacted.
    let out = run(&["--publishers", "1", "--subscribers", "0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("a room needs"), "{stderr}");
    let out = run(&["--server", "http://127.0.0.1:9"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--access-key"), "{stderr}");
}

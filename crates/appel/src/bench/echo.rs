//! `appel bench echo`: the raw loopback WebSocket message rate against `ws-echo`, the baseline that
//! puts Appel's call cycles in proportion to what this machine can move at all.
//!
//! `connections` WebSocket connections each keep `window` messages in flight; every echoed message
//! counts as two messages on the wire (one each way), the unit `frames per cycle` uses too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use appel_codes::{registry, CallingError};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// A message shaped like a typical signaling frame, so sizes compare.
const PAYLOAD: &str = r#"{"type":"callState","callId":"9f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e","state":"Connected","requestId":12345}"#;
/// Most connections one run may open.
pub const MAX_CONNECTIONS: usize = 1_000;
/// Longest run.
pub const MAX_DURATION: Duration = Duration::from_secs(600);

/// What `appel bench echo` was asked.
#[derive(Clone, Debug)]
pub struct EchoSettings {
    /// `ws://127.x:port` of `ws-echo`.
    pub server: String,
    /// Connections.
    pub connections: usize,
    /// Messages in flight per connection.
    pub window: usize,
    /// How long to measure.
    pub duration: Duration,
}

/// The result of a run.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EchoReport {
    /// Messages on the wire (both directions) per second.
    pub messages_per_second: f64,
    /// Round trips completed.
    pub round_trips: u64,
    /// Seconds measured.
    pub elapsed: f64,
}

/// A 4 KiB read buffer instead of tungstenite's 128 KiB, which is zero-filled on every read.
pub fn small_buffers() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096)
}

/// Runs the measurement.
pub async fn run(settings: EchoSettings) -> Result<EchoReport, CallingError> {
    super::within("--connections", settings.connections, 1, MAX_CONNECTIONS)?;
    super::within("--window", settings.window, 1, 10_000)?;
    if settings.duration.is_zero() || settings.duration > MAX_DURATION {
        return Err(
            CallingError::new(&registry::INVALID_ARGUMENT).with_context(format!(
                "--duration must be above 0 and at most {MAX_DURATION:?}"
            )),
        );
    }
    let target = super::loopback_target(&settings.server).await?;
    let url = format!("ws://{target}/");
    let echoed = Arc::new(AtomicU64::new(0));
    let mut sockets = Vec::with_capacity(settings.connections);
    for _ in 0..settings.connections {
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(small_buffers()), true)
                .await
                .map_err(|e| {
                    CallingError::new(&registry::SIGNALING_UNREACHABLE)
                        .with_context(url.clone())
                        .with_raw_cause(e.to_string())
                })?;
        sockets.push(socket);
    }
    let started = Instant::now();
    let deadline = started + settings.duration;
    let mut tasks = Vec::new();
    for socket in sockets {
        let (mut sink, mut source) = socket.split();
        let window = Arc::new(Semaphore::new(settings.window));
        let writer_window = Arc::clone(&window);
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let Ok(permit) = writer_window.acquire().await else {
                    break;
                };
                permit.forget();
                if sink.send(Message::Text(PAYLOAD.into())).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        }));
        let echoed = Arc::clone(&echoed);
        tasks.push(tokio::spawn(async move {
            let until = tokio::time::Instant::from_std(deadline);
            while let Ok(Some(Ok(message))) = tokio::time::timeout_at(until, source.next()).await {
                if matches!(message, Message::Text(_)) {
                    echoed.fetch_add(1, Ordering::Relaxed);
                    window.add_permits(1);
                }
            }
            window.close();
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started
        .elapsed()
        .as_secs_f64()
        .min(settings.duration.as_secs_f64());
    let round_trips = echoed.load(Ordering::Relaxed);
    Ok(EchoReport {
        messages_per_second: 2.0 * round_trips as f64 / elapsed,
        round_trips,
        elapsed,
    })
}

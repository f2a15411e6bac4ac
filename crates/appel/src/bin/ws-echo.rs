//! `ws-echo`: a bare tokio WebSocket echo server, the baseline of `benchmarks/run.sh`. It sends
//! every text or binary message back on the same connection and does nothing else, so the message
//! rate `appel bench echo` gets from it is what this machine's loopback, tokio and tungstenite can
//! do at best.
//!
//! `ws-echo [ADDR] [READ_BUFFER_BYTES]` (default 127.0.0.1:0 and 4096) prints
//! `listening on ws://ADDR` once ready. tungstenite's default read buffer (128 KiB) is zero-filled
//! on every read, which costs more than the echo itself on small messages; pass 131072 to measure
//! with the default.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

// jemalloc instead of the system allocator: under `appel bench calls` it cut the server's CPU per
// call cycle by a fifth (glibc's malloc_consolidate and free were 10 % of the profile). ws-echo uses
// the same allocator so the baseline stays comparable.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let read_buffer = std::env::args()
        .nth(2)
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(4096);
    let config = WebSocketConfig::default().read_buffer_size(read_buffer);
    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("ws-echo: cannot listen on {addr}: {error}");
            std::process::exit(1);
        }
    };
    match listener.local_addr() {
        Ok(local) => println!("listening on ws://{local}"),
        Err(error) => {
            eprintln!("ws-echo: {error}");
            std::process::exit(1);
        }
    }
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(socket) =
                tokio_tungstenite::accept_async_with_config(stream, Some(config)).await
            else {
                return;
            };
            let (mut sink, mut source) = socket.split();
            while let Some(Ok(message)) = source.next().await {
                let echo = match message {
                    Message::Text(_) | Message::Binary(_) => message,
                    Message::Close(_) => break,
                    _ => continue,
                };
                if sink.send(echo).await.is_err() {
                    break;
                }
            }
        });
    }
}

//! A signaling client that can stop reading while it goes on writing: the slow reader of the
//! back-pressure scenarios. Its TCP receive buffer is kept small so that what the server cannot
//! send piles up on the server's side, where the limits apply.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use appel_protocol::{parse_server_frame, CallId, ClientFrame, ServerFrame, PROTOCOL_VERSION};
use futures_util::stream::{SplitSink, SplitStream, StreamExt};
use futures_util::SinkExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::client::FRAME_WAIT;

type Sink = SplitSink<WebSocketStream<TcpStream>, Message>;

/// The client's socket receive buffer (the kernel doubles it).
const RECEIVE_BUFFER: u32 = 4096;

pub struct RawClient {
    sink: Arc<Mutex<Sink>>,
    stream: SplitStream<WebSocketStream<TcpStream>>,
    /// The client's own port: names the connection in the kernel's socket tables.
    pub local_port: u16,
    pinger: Option<tokio::task::JoinHandle<()>>,
}

impl RawClient {
    /// Connects, says hello, and reads until the welcome.
    pub async fn sign_in(server: SocketAddr, token: &str, endpoint: &str) -> RawClient {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .set_recv_buffer_size(RECEIVE_BUFFER)
            .expect("receive buffer");
        let tcp = socket.connect(server).await.expect("tcp connects");
        let local_port = tcp.local_addr().expect("local address").port();
        let (ws, _) = tokio_tungstenite::client_async(format!("ws://{server}/signaling"), tcp)
            .await
            .expect("websocket upgrade");
        let (sink, stream) = ws.split();
        let mut client = RawClient {
            sink: Arc::new(Mutex::new(sink)),
            stream,
            local_port,
            pinger: None,
        };
        client
            .send(ClientFrame::Hello {
                version: PROTOCOL_VERSION,
                token: token.to_string(),
                endpoint_id: endpoint.into(),
                push: None,
                resume: false,
            })
            .await;
        match client.next().await {
            ServerFrame::Welcome { .. } => client,
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    pub async fn send(&mut self, frame: ClientFrame) {
        self.sink
            .lock()
            .await
            .send(Message::Text(frame.to_json().into()))
            .await
            .expect("send");
    }

    /// The next frame, answering the server's pings on the way.
    pub async fn next(&mut self) -> ServerFrame {
        loop {
            let message = tokio::time::timeout(FRAME_WAIT, self.stream.next())
                .await
                .expect("a frame in time")
                .expect("open")
                .expect("readable");
            let Message::Text(text) = message else {
                continue;
            };
            let frame = parse_server_frame(&text).expect("a readable frame");
            if matches!(frame, ServerFrame::Ping) {
                self.send(ClientFrame::Pong).await;
                continue;
            }
            return frame;
        }
    }

    /// Waits for the incoming call, acknowledges and accepts it, and declares its media ready.
    pub async fn answer(&mut self, call: &CallId) {
        loop {
            if let ServerFrame::IncomingCall { call_id, .. } = self.next().await {
                assert_eq!(&call_id, call, "the call that rings");
                break;
            }
        }
        self.send(ClientFrame::AckIncoming {
            call_id: call.clone(),
        })
        .await;
        self.send(ClientFrame::Accept {
            request_id: 1,
            call_id: call.clone(),
            video: false,
        })
        .await;
        loop {
            match self.next().await {
                ServerFrame::Ack { request_id: 1 } => break,
                ServerFrame::Error { error, .. } => panic!("accept refused: {error}"),
                _ => {}
            }
        }
        self.send(ClientFrame::MediaReady {
            call_id: call.clone(),
        })
        .await;
    }

    /// From now on reads nothing, but keeps sending pings so the server hears from it: a client
    /// that looks alive and lets everything sent to it pile up.
    pub fn stop_reading(&mut self) {
        let sink = Arc::clone(&self.sink);
        self.pinger = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let ping = Message::Text(ClientFrame::Ping.to_json().into());
                let sent =
                    tokio::time::timeout(Duration::from_secs(1), sink.lock().await.send(ping))
                        .await;
                // A timed-out ping (the server is blocked writing to us) is just skipped.
                if let Ok(Err(_)) = sent {
                    return;
                }
            }
        }));
    }

    /// Reads what is left; whether the server ended the connection (end of stream or a reset)
    /// within `wait`, and how many bytes of frames came before the end.
    pub async fn drains_to_an_end(&mut self, wait: Duration) -> (bool, usize) {
        let mut bytes = 0;
        let ended = tokio::time::timeout(wait, async {
            loop {
                match self.stream.next().await {
                    Some(Ok(Message::Text(text))) => bytes += text.len(),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await
        .is_ok();
        (ended, bytes)
    }
}

impl Drop for RawClient {
    fn drop(&mut self) {
        if let Some(pinger) = self.pinger.take() {
            pinger.abort();
        }
    }
}

/// The TCP state of the server's end of the connection from `client_port` to `server_port` as the
/// kernel lists it (`/proc/net/tcp`): 1 is established; `None` once the kernel has forgotten it.
/// The server runs in this process and this network namespace, so the table shows its socket.
pub fn server_side_state(server_port: u16, client_port: u16) -> Option<u8> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let port = |field: &str| {
            field
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
        };
        let (local, remote, state) = (fields.get(1)?, fields.get(2)?, fields.get(3)?);
        (port(local) == Some(server_port) && port(remote) == Some(client_port))
            .then(|| u8::from_str_radix(state, 16).ok())
            .flatten()
    })
}

/// Whether the server still holds the connection open.
pub fn server_side_open(server_port: u16, client_port: u16) -> bool {
    server_side_state(server_port, client_port) == Some(1)
}

/// This process's resident memory, in KiB (`VmRSS` of `/proc/self/status`).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

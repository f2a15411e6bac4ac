//! A lean signaling client that speaks the protocol directly, without the SDK: it can bind a chosen
//! 127.x source address (the SDK cannot), costs little memory per connection, and counts every frame
//! it sends and receives.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use appel_codes::{registry, CallingError};
use appel_protocol::{
    parse_server_frame, CallId, ClientFrame, IdentityId, ServerFrame, PROTOCOL_VERSION,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// How long a lean client waits for any one frame.
const FRAME_WAIT: Duration = Duration::from_secs(10);

/// One signed-in connection.
pub struct WireClient {
    socket: WebSocketStream<TcpStream>,
    /// Call frames sent (not hello, ping or pong).
    pub sent: usize,
    /// Call frames received (not welcome, ping or pong).
    pub received: usize,
    next_request: u64,
}

fn unreachable_error(context: String, cause: impl ToString) -> CallingError {
    CallingError::new(&registry::SIGNALING_UNREACHABLE)
        .with_context(context)
        .with_raw_cause(cause.to_string())
}

impl WireClient {
    /// Connects from `source` (port chosen by the system) to the server, says hello and waits for
    /// the welcome. The OS error of a failed bind or connect is the raw cause (EADDRNOTAVAIL when
    /// the source address ran out of ports).
    pub async fn sign_in(
        server: SocketAddr,
        source: Option<IpAddr>,
        token: &str,
        endpoint: String,
    ) -> Result<WireClient, CallingError> {
        let tcp = match server {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| unreachable_error("socket".into(), e))?;
        if let Some(ip) = source {
            tcp.bind(SocketAddr::new(ip, 0))
                .map_err(|e| unreachable_error(format!("bind {ip}"), e))?;
        }
        let stream = tcp
            .connect(server)
            .await
            .map_err(|e| unreachable_error(format!("connect {server}"), e))?;
        let _ = stream.set_nodelay(true);
        let url = format!("ws://{server}/signaling");
        let (socket, _) = tokio_tungstenite::client_async_with_config(
            url.as_str(),
            stream,
            Some(super::echo::small_buffers()),
        )
        .await
        .map_err(|e| {
            CallingError::new(&registry::SIGNALING_HANDSHAKE_FAILED)
                .with_context(url.clone())
                .with_raw_cause(e.to_string())
        })?;
        let mut client = WireClient {
            socket,
            sent: 0,
            received: 0,
            next_request: 1,
        };
        client
            .send_frame(ClientFrame::Hello {
                version: PROTOCOL_VERSION,
                token: token.to_string(),
                endpoint_id: endpoint.into(),
                push: None,
                resume: false,
            })
            .await?;
        match client.next_frame().await? {
            ServerFrame::Welcome { .. } => Ok(client),
            ServerFrame::Error { error, .. } => Err(error),
            other => Err(CallingError::new(&registry::SIGNALING_HANDSHAKE_FAILED)
                .with_context(format!("expected welcome, got {other:?}"))),
        }
    }

    /// A fresh request id.
    pub fn request_id(&mut self) -> u64 {
        self.next_request += 1;
        self.next_request
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: ClientFrame) -> Result<(), CallingError> {
        self.sent += 1;
        self.send_frame(frame).await
    }

    async fn send_frame(&mut self, frame: ClientFrame) -> Result<(), CallingError> {
        self.socket
            .send(Message::Text(frame.to_json().into()))
            .await
            .map_err(|e| unreachable_error("send".into(), e))
    }

    /// The next frame other than ping/pong (pings are answered), within [`FRAME_WAIT`].
    pub async fn next_frame(&mut self) -> Result<ServerFrame, CallingError> {
        loop {
            let message = tokio::time::timeout(FRAME_WAIT, self.socket.next())
                .await
                .map_err(|_| {
                    CallingError::new(&registry::SIGNALING_REQUEST_TIMEOUT)
                        .with_context(format!("no frame within {FRAME_WAIT:?}"))
                })?;
            let text = match message {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) | None => {
                    return Err(unreachable_error("read".into(), "connection closed"))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(unreachable_error("read".into(), e)),
            };
            let frame = parse_server_frame(&text).map_err(|e| {
                CallingError::new(&registry::SIGNALING_HANDSHAKE_FAILED)
                    .with_context("unreadable frame")
                    .with_raw_cause(e.to_string())
            })?;
            match frame {
                ServerFrame::Ping => self.send_frame(ClientFrame::Pong).await?,
                ServerFrame::Pong => {}
                ServerFrame::Welcome { .. } => return Ok(frame),
                other => {
                    self.received += 1;
                    return Ok(other);
                }
            }
        }
    }

    /// Stays connected, answering pings, until the server closes the connection.
    pub async fn idle(mut self) {
        while let Some(Ok(message)) = self.socket.next().await {
            if let Message::Text(text) = message {
                if matches!(parse_server_frame(&text), Ok(ServerFrame::Ping))
                    && self.send_frame(ClientFrame::Pong).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Plays one call cycle (start → ringing → accept → connected → hang-up) with two lean clients, as
/// the SDK does it, and counts the call frames on the wire in both directions and for both parties.
pub async fn frames_per_cycle(
    mut caller: WireClient,
    mut callee: WireClient,
    callee_identity: &IdentityId,
) -> Result<usize, CallingError> {
    let request_id = caller.request_id();
    caller
        .send(ClientFrame::StartCall {
            request_id,
            targets: vec![callee_identity.clone()],
            video: false,
            joinable: false,
        })
        .await?;
    let answering = tokio::spawn(async move {
        let mut call: Option<CallId> = None;
        loop {
            match callee.next_frame().await? {
                ServerFrame::IncomingCall { call_id, .. } => {
                    callee
                        .send(ClientFrame::AckIncoming {
                            call_id: call_id.clone(),
                        })
                        .await?;
                    let request_id = callee.request_id();
                    callee
                        .send(ClientFrame::Accept {
                            request_id,
                            call_id: call_id.clone(),
                            video: false,
                        })
                        .await?;
                    call = Some(call_id);
                }
                ServerFrame::Ack { .. } => {
                    if let Some(call_id) = call.clone() {
                        callee.send(ClientFrame::MediaReady { call_id }).await?;
                    }
                }
                ServerFrame::CallEnded { .. } => return Ok::<_, CallingError>(callee),
                _ => {}
            }
        }
    });
    let mut call: Option<CallId> = None;
    loop {
        match caller.next_frame().await? {
            ServerFrame::CallCreated { call_id, .. } => call = Some(call_id),
            ServerFrame::CallState {
                state: appel_protocol::CallState::Connected,
                call_id,
            } => {
                let request_id = caller.request_id();
                caller
                    .send(ClientFrame::HangUp {
                        request_id,
                        call_id: call.clone().unwrap_or(call_id),
                        for_everyone: false,
                    })
                    .await?;
            }
            ServerFrame::CallEnded { .. } => break,
            _ => {}
        }
    }
    let callee = answering.await.map_err(|e| {
        CallingError::new(&registry::INTERNAL_SERVER_ERROR).with_raw_cause(e.to_string())
    })??;
    let mut total = caller.sent + caller.received + callee.sent + callee.received;
    // Frames the server sends after callEnded (an ack of the hang-up) belong to the cycle too.
    while let Ok(Ok(_)) =
        tokio::time::timeout(Duration::from_millis(100), caller.next_frame()).await
    {
        total += 1;
    }
    Ok(total)
}

//! Stand-in servers that misbehave in one precise way, for the SDK's own timeouts and handshake
//! errors, which a well-behaved server never triggers.

use std::net::SocketAddr;

use appel_protocol::{
    parse_client_frame, CallId, CallState, ClientFrame, ParticipantId, ServerFrame,
    PROTOCOL_VERSION,
};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// How the stand-in answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers the WebSocket upgrade with `404 Not Found`.
    RefuseUpgrade,
    /// Upgrades, then never answers `hello`.
    SilentAfterHello,
    /// Answers `hello` with text that is not a frame.
    GarbageWelcome,
    /// Welcomes, then never confirms a started call.
    NeverConfirmCalls,
    /// Welcomes, confirms started calls as connected, and never answers hold or resume.
    NeverConfirmHold,
    /// Welcomes, confirms started calls as connected, and never answers a hang-up.
    NeverConfirmHangUp,
}

pub struct FakeServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl FakeServer {
    pub async fn start(behaviour: Behaviour) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("fake binds");
        let addr = listener.local_addr().expect("fake address");
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(connection(stream, behaviour));
            }
        });
        FakeServer { addr, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn connection(mut stream: tokio::net::TcpStream, behaviour: Behaviour) {
    if behaviour == Behaviour::RefuseUpgrade {
        let mut request = [0u8; 2048];
        let _ = stream.read(&mut request).await;
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        return;
    }
    let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let mut next_call = 0u32;
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(frame) = parse_client_frame(text.as_str()) else {
            continue;
        };
        let answers: Vec<String> = match (behaviour, frame) {
            (Behaviour::SilentAfterHello, _) => Vec::new(),
            (Behaviour::GarbageWelcome, ClientFrame::Hello { .. }) => {
                vec!["{\"welcome\": true".to_string()]
            }
            (_, ClientFrame::Hello { endpoint_id, .. }) => vec![ServerFrame::Welcome {
                version: PROTOCOL_VERSION,
                identity: "fake-identity".into(),
                endpoint_id,
                heartbeat_interval_ms: 10_000,
                token_expires_at: 4_000_000_000_000,
                resumed_calls: Vec::new(),
                custom_streams: true,
                client_reports: false,
                media_views: false,
            }
            .to_json()],
            (
                Behaviour::NeverConfirmHold | Behaviour::NeverConfirmHangUp,
                ClientFrame::StartCall { request_id, .. },
            ) => {
                next_call += 1;
                let call_id = CallId::new(format!("fake-call-{next_call}"));
                vec![
                    ServerFrame::CallCreated {
                        request_id,
                        call_id: call_id.clone(),
                        participant_id: ParticipantId::new("fake-participant"),
                    }
                    .to_json(),
                    ServerFrame::CallState {
                        call_id,
                        state: CallState::Connected,
                    }
                    .to_json(),
                ]
            }
            (_, ClientFrame::Ping) => vec![ServerFrame::Pong.to_json()],
            (behaviour, ClientFrame::HangUp { request_id, .. })
                if behaviour != Behaviour::NeverConfirmHangUp =>
            {
                vec![ServerFrame::Ack { request_id }.to_json()]
            }
            _ => Vec::new(),
        };
        for answer in answers {
            if socket.send(Message::text(answer)).await.is_err() {
                return;
            }
        }
    }
}

//! A minimal signaling client: answers the server's pings and (unless told not to) acknowledges
//! incoming calls at once, like the SDK; everything else is queued for the test to read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use appel_codes::{CallEndReason, CallingError};
use appel_protocol::{
    parse_server_frame, CallId, ClientFrame, ParticipantId, PushRegistration, ResumedCall,
    ServerFrame, PROTOCOL_VERSION,
};
use futures_util::stream::{SplitSink, StreamExt};
use futures_util::SinkExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

/// How long a test waits for any one frame.
pub const FRAME_WAIT: Duration = Duration::from_secs(5);

/// What the reader saw.
#[derive(Debug)]
pub enum Seen {
    Frame(ServerFrame),
    Closed,
}

pub struct Client {
    sink: Arc<Mutex<Sink>>,
    frames: mpsc::UnboundedReceiver<Seen>,
    reader: tokio::task::JoinHandle<()>,
    auto_ack: Arc<AtomicBool>,
    next_request: u64,
    /// Frames read while waiting for another one, oldest first.
    backlog: Vec<ServerFrame>,
}

impl Client {
    /// Opens a WebSocket without saying hello.
    pub async fn open(url: &str) -> Client {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        let (sink, mut stream) = socket.split();
        let sink = Arc::new(Mutex::new(sink));
        let (sender, frames) = mpsc::unbounded_channel();
        let auto_ack = Arc::new(AtomicBool::new(true));
        let reader = tokio::spawn({
            let sink = Arc::clone(&sink);
            let auto_ack = Arc::clone(&auto_ack);
            async move {
                while let Some(Ok(message)) = stream.next().await {
                    let text = match message {
                        Message::Text(text) => text.to_string(),
                        Message::Close(_) => break,
                        _ => continue,
                    };
                    let Ok(frame) = parse_server_frame(&text) else {
                        panic!("the server sent an unreadable frame: {text}");
                    };
                    let answer = match &frame {
                        ServerFrame::Ping => Some(ClientFrame::Pong),
                        ServerFrame::IncomingCall { call_id, .. }
                            if auto_ack.load(Ordering::SeqCst) =>
                        {
                            Some(ClientFrame::AckIncoming {
                                call_id: call_id.clone(),
                            })
                        }
                        _ => None,
                    };
                    if let Some(answer) = answer {
                        let _ = sink
                            .lock()
                            .await
                            .send(Message::Text(answer.to_json().into()))
                            .await;
                    }
                    if !matches!(frame, ServerFrame::Ping)
                        && sender.send(Seen::Frame(frame)).is_err()
                    {
                        break;
                    }
                }
                let _ = sender.send(Seen::Closed);
            }
        });
        Client {
            sink,
            frames,
            reader,
            auto_ack,
            next_request: 1,
            backlog: Vec::new(),
        }
    }

    /// Opens a connection, says hello and waits for the welcome; the refusal otherwise.
    pub async fn sign_in(
        url: &str,
        token: &str,
        endpoint: &str,
        push_url: Option<String>,
    ) -> Result<Client, CallingError> {
        Self::hello(url, token, endpoint, push_url, false)
            .await
            .map(|(client, _)| client)
    }

    /// Says hello with `resume`; the connection and the calls its welcome says it resumed.
    pub async fn sign_in_resuming(
        url: &str,
        token: &str,
        endpoint: &str,
    ) -> Result<(Client, Vec<ResumedCall>), CallingError> {
        Self::hello(url, token, endpoint, None, true).await
    }

    async fn hello(
        url: &str,
        token: &str,
        endpoint: &str,
        push_url: Option<String>,
        resume: bool,
    ) -> Result<(Client, Vec<ResumedCall>), CallingError> {
        let mut client = Client::open(url).await;
        client
            .send(ClientFrame::Hello {
                version: PROTOCOL_VERSION,
                token: token.to_string(),
                endpoint_id: endpoint.into(),
                push: push_url.map(|url| PushRegistration { url }),
                resume,
            })
            .await;
        match client.next().await {
            Some(ServerFrame::Welcome { resumed_calls, .. }) => Ok((client, resumed_calls)),
            Some(ServerFrame::Error { error, fatal, .. }) => {
                assert!(fatal, "a refused handshake is fatal");
                assert!(
                    client.is_closed().await,
                    "the server closes after a fatal error"
                );
                Err(error)
            }
            other => panic!("expected welcome or error, got {other:?}"),
        }
    }

    /// Stops acknowledging incoming calls (an endpoint that never confirms delivery).
    pub fn never_ack(&self) {
        self.auto_ack.store(false, Ordering::SeqCst);
    }

    pub async fn send(&mut self, frame: ClientFrame) {
        self.send_raw(&frame.to_json()).await;
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.sink
            .lock()
            .await
            .send(Message::Text(text.to_string().into()))
            .await
            .expect("send");
    }

    /// Sends without expecting the connection to be open: `false` once it is not (a flooder
    /// that goes on until the server cuts it).
    pub async fn try_send_raw(&mut self, text: &str) -> bool {
        self.sink
            .lock()
            .await
            .send(Message::Text(text.to_string().into()))
            .await
            .is_ok()
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.sink
            .lock()
            .await
            .send(Message::Binary(bytes.into()))
            .await
            .expect("send");
    }

    pub fn request_id(&mut self) -> u64 {
        self.next_request += 1;
        self.next_request
    }

    /// The next frame (backlog first); `None` once the server closed the socket.
    pub async fn next(&mut self) -> Option<ServerFrame> {
        if !self.backlog.is_empty() {
            return Some(self.backlog.remove(0));
        }
        match tokio::time::timeout(FRAME_WAIT, self.frames.recv()).await {
            Ok(Some(Seen::Frame(frame))) => Some(frame),
            Ok(Some(Seen::Closed)) | Ok(None) => None,
            Err(_) => panic!("no frame within {FRAME_WAIT:?}"),
        }
    }

    /// Waits for the first frame `pick` accepts; frames it passes over stay in the backlog.
    pub async fn wait_for<T>(&mut self, what: &str, pick: impl Fn(&ServerFrame) -> Option<T>) -> T {
        if let Some(i) = self.backlog.iter().position(|f| pick(f).is_some()) {
            let frame = self.backlog.remove(i);
            return pick(&frame).expect("picked");
        }
        let deadline = tokio::time::Instant::now() + FRAME_WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.frames.recv()).await {
                Ok(Some(Seen::Frame(frame))) => match pick(&frame) {
                    Some(found) => return found,
                    None => self.backlog.push(frame),
                },
                Ok(Some(Seen::Closed)) | Ok(None) => {
                    panic!("closed while waiting for {what}; saw {:?}", self.backlog)
                }
                Err(_) => panic!("no {what} within {FRAME_WAIT:?}; saw {:?}", self.backlog),
            }
        }
    }

    /// Whether the server closes the connection (within the frame wait), skipping other frames.
    pub async fn is_closed(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + FRAME_WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.frames.recv()).await {
                Ok(Some(Seen::Frame(frame))) => self.backlog.push(frame),
                Ok(Some(Seen::Closed)) | Ok(None) => return true,
                Err(_) => return false,
            }
        }
    }

    /// Starts a call; the call id and the caller's participant id.
    pub async fn start_call(&mut self, targets: &[&str]) -> (CallId, ParticipantId) {
        self.start_call_with(targets, false).await
    }

    /// Starts a call that anyone with its id may join when `joinable`.
    pub async fn start_call_with(
        &mut self,
        targets: &[&str],
        joinable: bool,
    ) -> (CallId, ParticipantId) {
        let request_id = self.request_id();
        self.send(ClientFrame::StartCall {
            request_id,
            targets: targets.iter().map(|t| (*t).into()).collect(),
            video: false,
            joinable,
        })
        .await;
        self.answer(request_id, "callCreated", |f| match f {
            ServerFrame::CallCreated {
                request_id: r,
                call_id,
                participant_id,
            } if *r == request_id => Some((call_id.clone(), participant_id.clone())),
            _ => None,
        })
        .await
        .unwrap_or_else(|error| panic!("startCall refused: {error}"))
    }

    /// Waits for the answer to request `request_id`: what `pick` finds in it, or the error the
    /// server answered with instead.
    pub async fn answer<T>(
        &mut self,
        request_id: u64,
        what: &str,
        pick: impl Fn(&ServerFrame) -> Option<T>,
    ) -> Result<T, CallingError> {
        self.wait_for(what, |f| match f {
            ServerFrame::Error {
                request_id: Some(r),
                error,
                ..
            } if *r == request_id => Some(Err(error.clone())),
            other => pick(other).map(Ok),
        })
        .await
    }

    /// `joinCall` of `call`; the participant id joined as, or the refusal.
    pub async fn join_call(
        &mut self,
        call: &CallId,
        video: bool,
    ) -> Result<ParticipantId, CallingError> {
        let request_id = self.request_id();
        self.send(ClientFrame::JoinCall {
            request_id,
            call_id: call.clone(),
            video,
        })
        .await;
        self.answer(request_id, "callJoined or error", |f| match f {
            ServerFrame::CallJoined {
                request_id: r,
                participant_id,
                ..
            } if *r == request_id => Some(participant_id.clone()),
            _ => None,
        })
        .await
    }

    /// Waits for an incoming call; its id.
    pub async fn incoming(&mut self) -> CallId {
        self.wait_for("incomingCall", |f| match f {
            ServerFrame::IncomingCall { call_id, .. } => Some(call_id.clone()),
            _ => None,
        })
        .await
    }

    /// Sends a request and waits for its `ack`, or returns the error answering it.
    pub async fn request(
        &mut self,
        make: impl FnOnce(u64) -> ClientFrame,
    ) -> Result<(), CallingError> {
        let request_id = self.request_id();
        self.send(make(request_id)).await;
        self.answer(request_id, "an answer", |f| match f {
            ServerFrame::Ack { request_id: r } if *r == request_id => Some(()),
            _ => None,
        })
        .await
    }

    pub async fn accept(&mut self, call: &CallId) -> Result<(), CallingError> {
        let call_id = call.clone();
        self.request(|request_id| ClientFrame::Accept {
            request_id,
            call_id,
            video: false,
        })
        .await
    }

    pub async fn reject(&mut self, call: &CallId) -> Result<(), CallingError> {
        let call_id = call.clone();
        self.request(|request_id| ClientFrame::Reject {
            request_id,
            call_id,
        })
        .await
    }

    pub async fn hang_up(&mut self, call: &CallId) -> Result<(), CallingError> {
        let call_id = call.clone();
        self.request(|request_id| ClientFrame::HangUp {
            request_id,
            call_id,
            for_everyone: false,
        })
        .await
    }

    pub async fn media_ready(&mut self, call: &CallId) {
        self.send(ClientFrame::MediaReady {
            call_id: call.clone(),
        })
        .await;
    }

    /// Waits for this endpoint's `callEnded` of `call`.
    pub async fn call_ended(&mut self, call: &CallId) -> CallEndReason {
        self.wait_for("callEnded", |f| match f {
            ServerFrame::CallEnded {
                call_id, reason, ..
            } if call_id == call => Some(*reason),
            _ => None,
        })
        .await
    }

    /// Waits for a `participantLeft` of `identity` in `call`.
    pub async fn participant_left(&mut self, call: &CallId, identity: &str) -> CallEndReason {
        self.wait_for("participantLeft", |f| match f {
            ServerFrame::ParticipantLeft {
                call_id,
                identity: who,
                reason,
                ..
            } if call_id == call && who.as_str() == identity => Some(*reason),
            _ => None,
        })
        .await
    }

    /// Waits for an error frame that answers no request.
    pub async fn error(&mut self) -> (CallingError, bool) {
        self.wait_for("error", |f| match f {
            ServerFrame::Error { error, fatal, .. } => Some((error.clone(), *fatal)),
            _ => None,
        })
        .await
    }

    /// Every frame received so far: those waiting in the backlog and those the server sent before
    /// answering a ping (frames are delivered in order, so none sent before it is missed).
    pub async fn drain(&mut self) -> Vec<ServerFrame> {
        self.send(ClientFrame::Ping).await;
        let mut seen = std::mem::take(&mut self.backlog);
        loop {
            match self.next().await {
                Some(ServerFrame::Pong) => return seen,
                Some(frame) => seen.push(frame),
                None => panic!("closed while draining; saw {seen:?}"),
            }
        }
    }

    /// A ping answered by a pong proves the connection is still served.
    pub async fn still_served(&mut self) -> bool {
        self.send(ClientFrame::Ping).await;
        self.wait_for("pong", |f| matches!(f, ServerFrame::Pong).then_some(()))
            .await;
        true
    }

    /// Puts frames back in front of the backlog, in their order (a helper took what it handles).
    pub fn restore_backlog(&mut self, mut frames: Vec<ServerFrame>) {
        frames.append(&mut self.backlog);
        self.backlog = frames;
    }

    /// The frames read while waiting for others, taken out of the backlog.
    pub fn take_backlog(&mut self) -> Vec<ServerFrame> {
        std::mem::take(&mut self.backlog)
    }

    /// Closes in order (close frame).
    pub async fn close(self) {
        let _ = self.sink.lock().await.send(Message::Close(None)).await;
        let _ = self.sink.lock().await.close().await;
        self.reader.abort();
    }

    /// Vanishes without a close frame: the TCP connection just goes away.
    pub async fn vanish(self) {
        self.reader.abort();
        let _ = self.reader.await;
        drop(self.sink);
    }
}

/// Asserts an end reason: exact pair and the category the catalogue gives it.
pub fn assert_reason(seen: CallEndReason, entry: &'static appel_codes::Entry, who: &str) {
    assert_eq!(
        seen,
        CallEndReason::of(entry),
        "{who} saw {seen} ({}), expected {} ({})",
        seen.entry().name,
        CallEndReason::of(entry),
        entry.name
    );
    assert_eq!(seen.category(), entry.category, "{who}: category");
}

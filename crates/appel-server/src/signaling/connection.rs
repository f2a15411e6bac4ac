//! One signaling connection after the handshake: frames in go to the controller task, frames out
//! come from the connection's bounded queue; heartbeats detect a silent peer.
//!
//! Every write is bounded: it gives up after `signaling.write_timeout`, or at once when the
//! controller cuts the connection off (its queue went over budget), and the socket is then dropped
//! without a closing handshake the peer would never read.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use appel_codes::{registry, CallingError};
use appel_controller::EndpointKey;
use appel_protocol::{parse_client_frame, ClientFrame, ServerFrame};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{FutureExt, SinkExt};
use tokio::sync::{Notify, Semaphore};

use super::handshake::{handshake, instant_of, Admitted, Refusal};
use super::limits::{FrameLimiter, SignalLimiter, Verdict};
use super::outbox::{outbox, OutboxReceiver, OutboxSender};
use crate::runtime::{Arrival, Link, Outgoing};
use crate::shutdown::ConnectionGuard;
use crate::state::AppState;
use crate::store::unix_ms;

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// Most frames written before one flush.
const BURST: usize = 32;

/// WebSocket close code for "going away" (server shutdown).
const GOING_AWAY: u16 = 1001;
/// WebSocket close code for a policy violation (refused handshake, closed by the controller).
const POLICY: u16 = 1008;

/// Runs one connection to its end.
///
/// Two futures, because every idle connection keeps its task for its whole life: the admission
/// (handshake, registration with the controller, refusals) is boxed and freed once it is over, so
/// the task keeps only the connection loop's state. As one `async fn` the task was 3,016 bytes,
/// since an async function reserves room for every value it ever held.
pub(crate) fn run(socket: WebSocket, state: AppState) -> impl Future<Output = ()> + Send {
    let admission = Box::pin(admit(socket, state));
    async move {
        let Some(mut live) = admission.await else {
            return;
        };
        let end = live.connection.serve(&mut live.inbox, &live.kill).await;
        Box::pin(live.finish(end)).await;
    }
}

/// A connection that passed the handshake and is known to the controller.
struct Live {
    connection: Connection,
    inbox: OutboxReceiver,
    kill: Arc<Notify>,
    /// Counts the connection as open until it is dropped, for the shutdown to wait on.
    tracked: ConnectionGuard,
}

/// The handshake and the registration with the controller; `None` when the connection was refused
/// (and closed) or the server is stopping.
async fn admit(mut socket: WebSocket, state: AppState) -> Option<Live> {
    let tracked = state.shutdown().track_connection();
    let write_timeout = state.config().signaling.write_timeout;
    let admitted = match handshake(&mut socket, &state).await {
        Ok(admitted) => admitted,
        Err(Refusal::Error(error)) => {
            close_with_error(&mut socket, None, error, write_timeout).await;
            return None;
        }
        Err(Refusal::Gone) => return None,
    };
    let limits = &state.config().signaling;
    let (outbox, inbox) = outbox(limits.send_queue, limits.send_buffer_bytes);
    let kill = Arc::new(Notify::new());
    let conn_id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
    let endpoint = EndpointKey::new(admitted.claims.identity.clone(), admitted.endpoint.clone());
    let token_expires = admitted.claims.expires_at();
    let arrival = arrival(admitted, outbox, Arc::clone(&kill), conn_id);
    let identity = arrival.identity.to_string();
    if !state.runtime().online(arrival).await {
        let error = CallingError::new(&registry::SERVER_SHUTTING_DOWN);
        close_with_error(&mut socket, None, error, write_timeout).await;
        return None;
    }
    let in_flight = Arc::new(Semaphore::new(limits.frames_in_flight.max(1)));
    let mut connection = Connection {
        socket,
        kill: Arc::clone(&kill),
        write_timeout,
        frames: None,
        in_flight,
        signals: None,
        state,
        endpoint,
        identity,
        conn_id,
        last_heard: Instant::now(),
        expiry_notice: None,
        welcomed: false,
    };
    connection.plan_expiry_notice(token_expires);
    Some(Live {
        connection,
        inbox,
        kill,
        tracked,
    })
}

impl Live {
    /// Tells the controller how the connection ended, then stops counting it as open.
    async fn finish(self, end: End) {
        let Live {
            connection,
            tracked,
            ..
        } = self;
        let Connection {
            socket,
            state,
            endpoint,
            conn_id,
            ..
        } = connection;
        // The TCP connection closes now, not once the controller task has taken the news.
        drop(socket);
        match end {
            End::Closed => state.runtime().gone(&endpoint, conn_id, true).await,
            End::Lost => state.runtime().gone(&endpoint, conn_id, false).await,
            End::Dropped => {}
        }
        drop(tracked);
    }
}

fn arrival(admitted: Admitted, outbox: OutboxSender, kill: Arc<Notify>, conn_id: u64) -> Arrival {
    Arrival {
        link: Link {
            endpoint: EndpointKey::new(admitted.claims.identity.clone(), admitted.endpoint),
            conn_id,
            outbox,
            kill,
        },
        identity: admitted.claims.identity.clone().into(),
        ever_registered: admitted.ever_registered,
        token_expires_at: admitted.token_expires_at,
        token_expires_at_ms: u64::try_from(unix_ms(admitted.claims.expires_at())).unwrap_or(0),
        token_generation: admitted.claims.generation(),
        push_url: admitted.push_url,
        resume: admitted.resume,
    }
}

/// How a connection ended, which decides what the controller is told.
enum End {
    /// The client closed it (close frame): an orderly end.
    Closed,
    /// The socket failed or went silent: the endpoint may come back.
    Lost,
    /// The controller task ended it (or forgot it); nothing to report.
    Dropped,
}

/// Why a write did not complete.
enum Stop {
    /// The controller cut the connection off; it already counts it as lost.
    Killed,
    /// The socket failed, or the write stayed blocked past `write_timeout`.
    Failed,
}

impl Stop {
    fn end(self) -> End {
        match self {
            Stop::Killed => End::Dropped,
            Stop::Failed => End::Lost,
        }
    }
}

struct Connection {
    socket: WebSocket,
    /// Notified by the controller task when it cuts this connection off.
    kill: Arc<Notify>,
    write_timeout: Duration,
    /// The rate of all frames, made at the first frame (boxed for the same reason as `signals`).
    frames: Option<Box<FrameLimiter>>,
    /// One permit per frame handed to the controller task and not yet handled by it: with none
    /// left, the connection waits before reading on, so a fast sender's frames wait in its own
    /// socket, not in the queue every other connection shares.
    in_flight: Arc<Semaphore>,
    /// The limits on relayed signals, made at the first signal (most connections send none while
    /// idle, and each keeps this task for its whole life).
    signals: Option<Box<SignalLimiter>>,
    state: AppState,
    endpoint: EndpointKey,
    identity: String,
    conn_id: u64,
    last_heard: Instant,
    /// When to send `tokenExpiring`, and the expiry it announces (Unix ms); `None` once sent.
    expiry_notice: Option<(tokio::time::Instant, u64)>,
    /// Whether `welcome` went out: nothing else may reach the client before it.
    welcomed: bool,
}

impl Connection {
    /// Schedules the `tokenExpiring` notice `timers.token_refresh_ahead` before the token expires,
    /// so a client that does not refresh on its own is told to (the controller ends its calls with
    /// 495/4507 at the expiry itself).
    fn plan_expiry_notice(&mut self, expires: SystemTime) {
        let ahead = self.state.config().timers.token_refresh_ahead;
        let at = instant_of(expires)
            .checked_sub(ahead)
            .unwrap_or_else(Instant::now);
        let expires_ms = u64::try_from(unix_ms(expires)).unwrap_or(0);
        self.expiry_notice = Some((tokio::time::Instant::from_std(at), expires_ms));
    }

    async fn serve(&mut self, inbox: &mut OutboxReceiver, kill: &Notify) -> End {
        let interval = self.state.config().signaling.heartbeat_interval;
        let mut heartbeat =
            tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // One timer for the expiry notice, re-armed only when its deadline changes: a new sleep
        // each turn of the loop cost a timer-wheel insertion and removal for every frame.
        let expiry = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(expiry);
        let mut armed: Option<tokio::time::Instant> = None;
        loop {
            let notice = self.expiry_notice.filter(|_| self.welcomed);
            let deadline = notice.map(|(at, _)| at);
            if deadline != armed {
                if let Some(at) = deadline {
                    expiry.as_mut().reset(at);
                }
                armed = deadline;
            }
            tokio::select! {
                () = &mut expiry, if armed.is_some() => {
                    self.expiry_notice = None;
                    let expires_at = notice.map_or(0, |(_, ms)| ms);
                    if let Err(stop) = self.send(&ServerFrame::TokenExpiring { expires_at }).await {
                        return stop.end();
                    }
                }
                () = kill.notified() => {
                    // Cut off (over budget, or replaced by a newer connection): a close frame only
                    // if the socket takes it without waiting, since a slow peer would never read it.
                    let _ = self.socket.send(Message::Close(None)).now_or_never();
                    return End::Dropped;
                }
                outgoing = inbox.recv() => match outgoing {
                    Some(Outgoing::Frame(frame)) => {
                        // Boxed, like `on_text` below: their state would otherwise be reserved in every idle
                        // connection's task (about 500 bytes each); an allocation per burst is cheap.
                        match Box::pin(self.send_burst(frame, inbox)).await {
                            Ok(None) => {}
                            Ok(Some(error)) => {
                                Box::pin(close_with_error(&mut self.socket, None, error, self.write_timeout)).await;
                                return End::Dropped;
                            }
                            Err(stop) => return stop.end(),
                        }
                    }
                    Some(Outgoing::Close(error)) => {
                        Box::pin(close_with_error(&mut self.socket, None, *error, self.write_timeout)).await;
                        return End::Dropped;
                    }
                    None => {
                        // The controller task let go of this connection: the server is stopping.
                        let close = CloseFrame { code: GOING_AWAY, reason: "server shutting down".into() };
                        let goodbye = async {
                            if self.socket.send(Message::Close(Some(close))).await.is_ok() {
                                await_close_reply(&mut self.socket).await;
                            }
                        };
                        let _ = Box::pin(tokio::time::timeout(self.write_timeout, goodbye)).await;
                        return End::Dropped;
                    }
                },
                incoming = self.socket.recv() => match incoming {
                    Some(Ok(message)) => {
                        self.last_heard = Instant::now();
                        let text = match &message {
                            Message::Text(text) => Some(text.as_str()),
                            Message::Close(_) => return End::Closed,
                            _ => None,
                        };
                        match Box::pin(self.within_rate(text)).await {
                            Ok(true) => {}
                            Ok(false) => continue,
                            Err(end) => return end,
                        }
                        match message {
                            Message::Text(text) => {
                                if let Err(stop) = Box::pin(self.on_text(text.as_str())).await {
                                    return stop.end();
                                }
                            }
                            Message::Binary(_) => {
                                let error = CallingError::new(&registry::MALFORMED_FRAME)
                                    .with_context("binary frames are not part of the protocol");
                                if let Err(stop) = self.send(&ServerFrame::error(None, error)).await {
                                    return stop.end();
                                }
                            }
                            Message::Close(_) => return End::Closed,
                            Message::Ping(_) | Message::Pong(_) => {}
                        }
                    }
                    // Includes frames beyond the WebSocket layer's own cap, which end the socket.
                    Some(Err(error)) => {
                        tracing::debug!(endpoint = %self.endpoint, %error, "socket failed");
                        return End::Lost;
                    }
                    None => return End::Lost,
                },
                _ = heartbeat.tick() => {
                    if self.last_heard.elapsed() > interval * 2 {
                        tracing::debug!(endpoint = %self.endpoint, "heartbeat missed: connection lost");
                        return End::Lost;
                    }
                    if let Err(stop) = self.send(&ServerFrame::Ping).await {
                        return stop.end();
                    }
                }
            }
        }
    }

    /// One text frame from the client. `Err` when the socket can no longer be written.
    async fn on_text(&mut self, text: &str) -> Result<(), Stop> {
        tracing::trace!(endpoint = %self.endpoint, frame = %text, "received");
        let max = self.state.config().signaling.max_frame_bytes;
        if text.len() > max {
            let error = CallingError::new(&registry::FRAME_TOO_LARGE)
                .with_context(format!("{} bytes, limit {max}", text.len()));
            return self.send(&ServerFrame::error(None, error)).await;
        }
        let frame = match parse_client_frame(text) {
            Ok(frame) => frame,
            Err(error) => {
                return self
                    .send(&ServerFrame::error(request_id_of(text), error))
                    .await
            }
        };
        match frame {
            ClientFrame::Ping => self.send(&ServerFrame::Pong).await,
            ClientFrame::Pong => Ok(()),
            ClientFrame::Hello { .. } => {
                let error = CallingError::new(&registry::HANDSHAKE_EXPECTED)
                    .with_context("a second hello on a signed-in connection");
                self.send(&ServerFrame::error(None, error)).await
            }
            ClientFrame::RefreshToken { request_id, token } => {
                Box::pin(self.refresh_token(request_id, &token)).await
            }
            frame => {
                if let Some(error) = self.refused_by_federation(&frame) {
                    return self
                        .send(&ServerFrame::error(request_id_of(text), error))
                        .await;
                }
                if matches!(frame, ClientFrame::Signal { .. })
                    && !self.may_relay(text.len()).await?
                {
                    return Ok(());
                }
                self.state
                    .runtime()
                    .frame(&self.endpoint, self.conn_id, frame, &self.in_flight)
                    .await;
                Ok(())
            }
        }
    }

    /// The refusal a federated user's issuer policy gives this frame (docs/identities.md):
    /// starting, joining or answering a call when its issuer has calling off (412/41056), joining
    /// a room when it has rooms off (403/5830). Read at each frame, so a policy changed or an
    /// issuer removed through the API counts at once.
    fn refused_by_federation(&self, frame: &ClientFrame) -> Option<CallingError> {
        let policy = self.state.federation().policy_of(&self.identity)?;
        match frame {
            ClientFrame::StartCall { .. }
            | ClientFrame::JoinCall { .. }
            | ClientFrame::Accept { .. }
            | ClientFrame::AddParticipant { .. }
                if !policy.calling =>
            {
                Some(
                    CallingError::new(&registry::FEDERATED_CALLING_DISABLED)
                        .with_context("calling is off for this user's identity provider"),
                )
            }
            ClientFrame::JoinRoom { .. } if !policy.rooms => Some(
                CallingError::new(&registry::ROOM_USER_KIND_NOT_ALLOWED)
                    .with_context("rooms are off for this user's identity provider"),
            ),
            _ => None,
        }
    }

    /// Whether a frame (its text, for a text frame) is within the connection's rate. When not, the
    /// client was told if the frame had a `requestId` or began a run of refusals; `Err` when the
    /// connection ends, cut for flooding or because its socket failed.
    async fn within_rate(&mut self, text: Option<&str>) -> Result<bool, End> {
        let now = Instant::now();
        let config = &self.state.config().signaling;
        let limits = self.frames.get_or_insert_with(|| {
            Box::new(FrameLimiter::new(
                config.frame_rate,
                config.frame_burst,
                config.frame_excess,
                now,
            ))
        });
        match limits.check(now) {
            Verdict::Pass => Ok(true),
            Verdict::Refused { error, first } => {
                let request_id = text.and_then(request_id_of);
                if request_id.is_some() || first {
                    tracing::debug!(endpoint = %self.endpoint, %error, "frame refused");
                    self.send(&ServerFrame::error(request_id, error))
                        .await
                        .map_err(Stop::end)?;
                }
                Ok(false)
            }
            Verdict::Cut(error) => {
                tracing::warn!(endpoint = %self.endpoint, %error, "frame flood: connection cut");
                close_with_error(&mut self.socket, None, error, self.write_timeout).await;
                Err(End::Lost)
            }
        }
    }

    /// Whether a `signal` frame of `bytes` may go on to the controller; when not, the sender was
    /// told why and the connection goes on.
    async fn may_relay(&mut self, bytes: usize) -> Result<bool, Stop> {
        let now = Instant::now();
        let config = &self.state.config().signaling;
        let limits = self.signals.get_or_insert_with(|| {
            Box::new(SignalLimiter::new(
                config.max_signal_bytes,
                config.signal_rate,
                config.signal_burst,
                now,
            ))
        });
        match limits.check(bytes, now) {
            Ok(()) => Ok(true),
            Err(error) => {
                tracing::debug!(endpoint = %self.endpoint, %error, "signal refused");
                self.send(&ServerFrame::error(None, error)).await?;
                Ok(false)
            }
        }
    }

    async fn refresh_token(&mut self, request_id: u64, token: &str) -> Result<(), Stop> {
        let checked = match self.state.authenticate(token).await {
            Ok(claims) if claims.identity == self.identity => Ok(claims),
            Ok(_) => Err(crate::tokens::unauthenticated(
                "the new token names another identity",
            )),
            Err(error) => Err(error),
        };
        match checked {
            Ok(claims) => {
                self.plan_expiry_notice(claims.expires_at());
                self.state
                    .runtime()
                    .token_refreshed(
                        &self.endpoint,
                        self.conn_id,
                        instant_of(claims.expires_at()),
                    )
                    .await;
                self.send(&ServerFrame::Ack { request_id }).await
            }
            Err(error) => {
                self.send(&ServerFrame::error(Some(request_id), error))
                    .await
            }
        }
    }

    /// Writes `first` and every frame already queued behind it (up to [`BURST`]) with one flush:
    /// the controller often emits several frames for one connection at once (`ack`, `callState`,
    /// `participantUpdated`), and one write per burst instead of per frame saves a system call and
    /// a TCP segment on both sides for each. Returns a queued `Close` for the caller to carry out.
    async fn send_burst(
        &mut self,
        first: Utf8Bytes,
        inbox: &mut OutboxReceiver,
    ) -> Result<Option<CallingError>, Stop> {
        let burst = write_burst(&mut self.socket, &self.endpoint, first, inbox);
        let result = guarded(&self.kill, self.write_timeout, burst).await;
        // The runtime queues the welcome first, so once anything went out, the welcome did.
        self.welcomed = true;
        result
    }

    async fn send(&mut self, frame: &ServerFrame) -> Result<(), Stop> {
        let json = frame.to_json();
        tracing::trace!(endpoint = %self.endpoint, frame = %json, "sent");
        let write = self.socket.send(Message::Text(json.into()));
        // Boxed: the wait's timer would otherwise be reserved in every idle connection's task.
        Box::pin(guarded(&self.kill, self.write_timeout, write)).await
    }
}

/// Writes `first` and what is queued behind it, then flushes; see [`Connection::send_burst`].
async fn write_burst(
    socket: &mut WebSocket,
    endpoint: &EndpointKey,
    first: Utf8Bytes,
    inbox: &mut OutboxReceiver,
) -> Result<Option<CallingError>, axum::Error> {
    let mut next = Some(first);
    let mut sent = 0;
    let mut close = None;
    while let Some(text) = next.take() {
        tracing::trace!(%endpoint, frame = %text.as_str(), "sent");
        socket.feed(Message::Text(text)).await?;
        sent += 1;
        if sent < BURST {
            match inbox.try_recv() {
                Some(Outgoing::Frame(text)) => next = Some(text),
                Some(Outgoing::Close(error)) => close = Some(*error),
                None => {}
            }
        }
    }
    socket.flush().await?;
    inbox.flushed();
    Ok(close)
}

/// Runs a write unless the controller cuts the connection off first, or the write stays blocked
/// (the peer stopped reading and the kernel's send buffer is full) for longer than `limit`.
async fn guarded<T>(
    kill: &Notify,
    limit: Duration,
    write: impl Future<Output = Result<T, axum::Error>>,
) -> Result<T, Stop> {
    tokio::select! {
        biased;
        () = kill.notified() => Err(Stop::Killed),
        written = tokio::time::timeout(limit, write) => match written {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                tracing::debug!(%error, "socket write failed");
                Err(Stop::Failed)
            }
            Err(_) => {
                tracing::debug!(?limit, "write blocked past signaling.write_timeout: connection cut off");
                Err(Stop::Failed)
            }
        },
    }
}

/// Sends `error` as a fatal frame and closes the socket, giving up after `limit` (a peer that does
/// not read gets no more of the server's time).
async fn close_with_error(
    socket: &mut WebSocket,
    request_id: Option<u64>,
    error: CallingError,
    limit: Duration,
) {
    let frame = ServerFrame::Error {
        request_id,
        error,
        fatal: true,
    };
    let _ = tokio::time::timeout(limit, async {
        if socket
            .send(Message::Text(frame.to_json().into()))
            .await
            .is_ok()
        {
            let close = CloseFrame {
                code: POLICY,
                reason: "refused".into(),
            };
            if socket.send(Message::Close(Some(close))).await.is_ok() {
                await_close_reply(socket).await;
            }
        }
    })
    .await;
}

/// How long a closing connection waits for the client's close frame.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(1);

/// Completes the closing handshake: reads until the client's close frame (or the wait runs out).
/// Dropping the socket at once would reset the TCP connection while the client may still be reading
/// the last frames, and a reset discards them.
async fn await_close_reply(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// The `requestId` of a frame that could not be read, when there is one, so the client's pending
/// request fails at once instead of timing out.
fn request_id_of(text: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()?
        .get("requestId")?
        .as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_recovered_from_unreadable_frames() {
        assert_eq!(request_id_of(r#"{"type":"hold","requestId":7}"#), Some(7));
        assert_eq!(request_id_of(r#"{"type":"hold"}"#), None);
        assert_eq!(request_id_of("not json"), None);
    }
}

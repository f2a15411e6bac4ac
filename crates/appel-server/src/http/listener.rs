//! The HTTP listener: accepts connections, serves each with hyper's HTTP/1 connection, and holds
//! every connection to the limits of `[http]` in the configuration.
//!
//! - A connection owes the end of a request's headers `http.header_read_timeout` after it opened,
//!   or after the first byte of that request; between requests it may stay idle for
//!   `http.idle_timeout`. Past either, the socket is closed without an answer. hyper's own header
//!   timer runs behind these as the last line.
//! - A body must arrive within `http.body_read_timeout` of its headers (else 408/900115), and weigh
//!   at most `http.max_body_bytes` (else 413/900112).
//! - The request target and the headers are measured here, below hyper's ceilings, so that the
//!   answer is a problem document (414/900113, 431/900114); hyper's empty answers only remain for
//!   heads beyond its read buffer.
//! - An answer the client does not read is given up: once a write finds the client's socket full,
//!   the rest of what the server has to send must be handed to the system within
//!   `http.response_write_timeout`, or the connection is dropped and its slot freed.
//! - At most `http.max_connections` connections speak HTTP at once. A connection leaves the count
//!   when it closes or upgrades to WebSocket (signaling counts its connections itself). The next
//!   connection gets one 503/900116 answer and is closed.
//! - On shutdown the listener closes, idle connections close, requests in progress get
//!   `http.shutdown_drain` to finish, and whatever is left is dropped.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use appel_codes::{registry, CallingError};
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, HeaderValue, Request, Response};
use axum::response::IntoResponse;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::limits::MAX_HEADER_COUNT;
use super::problem::ApiError;
use crate::config::Http;
use crate::shutdown::ShutdownSignal;

/// Connections over the limit being answered 503 at once; beyond this they are closed unanswered,
/// so that refusing stays cheaper than the flood it refuses.
const REFUSING_AT_ONCE: usize = 64;
/// How long a refused connection may take to send the request its 503 answers.
const REFUSAL_WAIT: Duration = Duration::from_secs(1);
/// Pause after a failed accept (usually out of file descriptors) instead of spinning on it.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// hyper's own header count ceiling (its default, kept on its stack); the listener's is lower.
const HYPER_MAX_HEADERS: usize = 100;
/// Room in hyper's read buffer beyond the request target and headers (request line, slack).
const HEAD_SLACK: usize = 4096;

/// What a handler may need to know about the limits its request was read under (for messages).
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// `http.max_body_bytes`.
    pub max_body_bytes: usize,
    /// `http.body_read_timeout`.
    pub body_read_timeout: Duration,
}

/// The error a request body yields once its time is up; [`super::extract::JsonBody`] turns it into
/// 408/900115.
#[derive(Debug)]
pub struct BodyReadTimeout;

impl std::fmt::Display for BodyReadTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyReadTimeout {}

/// Serves `router` on `listener` until `shutdown` is triggered and the drain is over.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Http,
    shutdown: ShutdownSignal,
) {
    let limits = Arc::new(limits);
    let builder = Arc::new(connection_builder(&limits));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSING_AT_ONCE));
    let stopping = shutdown.wait();
    tokio::pin!(stopping);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                        () = &mut stopping => break,
                    }
                }
            },
            () = &mut stopping => break,
        };
        // Signaling frames are small and latency-bound: don't let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => {
                tokio::spawn(connection(
                    stream,
                    Arc::clone(&builder),
                    router.clone(),
                    Arc::clone(&limits),
                    shutdown.clone(),
                    slot,
                ));
            }
            Err(_) => match Arc::clone(&refusals).try_acquire_owned() {
                Ok(slot) => {
                    tokio::spawn(refuse(stream, limits.max_connections, slot));
                }
                Err(_) => drop(stream),
            },
        }
    }
    drop(listener);
    // Each connection bounds its own drain; this waits for the last one to hand its slot back.
    let every_slot = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let bound = limits.shutdown_drain + Duration::from_secs(1);
    if tokio::time::timeout(bound, slots.acquire_many(every_slot))
        .await
        .is_err()
    {
        tracing::warn!("some HTTP connections outlived the shutdown drain");
    }
}

fn connection_builder(limits: &Http) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // hyper's clock starts when a connection begins waiting for a request, idle time included,
        // so it never fires before the listener's own.
        .header_read_timeout(limits.idle_timeout + limits.header_read_timeout)
        .max_buf_size((limits.max_uri_bytes + limits.max_header_bytes + HEAD_SLACK).max(8192))
        .max_headers(HYPER_MAX_HEADERS);
    builder
}

/// One connection, from accept to close (or to its upgrade, after which the WebSocket task owns
/// the socket and this slot is free).
async fn connection(
    stream: TcpStream,
    builder: Arc<http1::Builder>,
    router: Router,
    limits: Arc<Http>,
    shutdown: ShutdownSignal,
    _slot: OwnedSemaphorePermit,
) {
    let clock = Arc::new(Clock::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        clock: Arc::clone(&clock),
    });
    let service = hyper::service::service_fn({
        let clock = Arc::clone(&clock);
        let limits = Arc::clone(&limits);
        move |request| {
            handle(
                request,
                router.clone(),
                Arc::clone(&limits),
                Arc::clone(&clock),
            )
        }
    });
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let stopping = shutdown.wait();
    tokio::pin!(stopping);
    let mut drain_until: Option<Instant> = None;
    loop {
        let deadline = earliest(clock.deadline(&limits), drain_until);
        let timer = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "HTTP connection ended with an error");
                }
                return;
            }
            () = &mut stopping, if drain_until.is_none() => {
                conn.as_mut().graceful_shutdown();
                drain_until = Some(Instant::now() + limits.shutdown_drain);
            }
            () = clock.changed.notified() => {}
            () = timer => {
                let now = Instant::now();
                let drained = drain_until.is_some_and(|at| now >= at);
                let late = clock.deadline(&limits).is_some_and(|at| now >= at);
                if drained || late {
                    // Dropping the connection closes the socket.
                    return;
                }
            }
        }
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Checks what can be checked from the head alone, then hands the request to the router with a
/// body that gives up at its deadline.
async fn handle(
    request: Request<Incoming>,
    mut router: Router,
    limits: Arc<Http>,
    clock: Arc<Clock>,
) -> Result<Response<Tracked>, Infallible> {
    clock.set(Phase::Busy);
    let response = match admit(&request, &limits) {
        Err(refusal) => refusal.into_response(),
        Ok(()) => {
            let deadline = Instant::now() + limits.body_read_timeout;
            let mut request = request.map(|body| {
                Body::new(Deadline {
                    inner: body,
                    deadline,
                    timer: None,
                })
            });
            request.extensions_mut().insert(RequestLimits {
                max_body_bytes: limits.max_body_bytes,
                body_read_timeout: limits.body_read_timeout,
            });
            match std::future::poll_fn(|cx| Service::<Request<Body>>::poll_ready(&mut router, cx))
                .await
            {
                Ok(()) => match router.call(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
                Err(never) => match never {},
            }
        }
    };
    Ok(response.map(|body| Tracked { body, clock }))
}

/// The request target, the headers and an announced body length, against the limits.
fn admit<B>(request: &Request<B>, limits: &Http) -> Result<(), ApiError> {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if target > limits.max_uri_bytes {
        return Err(CallingError::new(&registry::URI_TOO_LONG)
            .with_context(format!(
                "the request target has {target} bytes; at most {} (http.max_uri_bytes)",
                limits.max_uri_bytes
            ))
            .into());
    }
    let headers = request.headers();
    if headers.len() > MAX_HEADER_COUNT {
        return Err(CallingError::new(&registry::HEADERS_TOO_LARGE)
            .with_context(format!(
                "{} headers; at most {MAX_HEADER_COUNT}",
                headers.len()
            ))
            .into());
    }
    // As written on the wire: `name: value` and the line end.
    let size: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size > limits.max_header_bytes {
        return Err(CallingError::new(&registry::HEADERS_TOO_LARGE)
            .with_context(format!(
                "the headers take {size} bytes; at most {} (http.max_header_bytes)",
                limits.max_header_bytes
            ))
            .into());
    }
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = announced {
        if length > limits.max_body_bytes as u64 {
            return Err(CallingError::new(&registry::REQUEST_BODY_TOO_LARGE)
                .with_context(format!(
                    "the body announces {length} bytes; at most {} (http.max_body_bytes)",
                    limits.max_body_bytes
                ))
                .into());
        }
    }
    Ok(())
}

/// A connection over the limit: one 503 answer to whatever it asks, then the socket is closed.
async fn refuse(stream: TcpStream, max_connections: usize, _slot: OwnedSemaphorePermit) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(false)
        .header_read_timeout(REFUSAL_WAIT);
    let service = hyper::service::service_fn(move |_request: Request<Incoming>| async move {
        let mut response = ApiError(
            CallingError::new(&registry::TOO_MANY_CONNECTIONS).with_context(format!(
                "{max_connections} HTTP connections are open (http.max_connections)"
            )),
        )
        .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        Ok::<_, Infallible>(response)
    });
    let served = builder.serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(REFUSAL_WAIT * 2, served).await;
}

/// Where a connection stands, for its deadlines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the end of a request's headers (since the connection opened, or since the
    /// request's first byte).
    Head = 0,
    /// A request is being handled; its body has its own deadline.
    Busy = 1,
    /// Between requests, nothing received yet.
    Idle = 2,
}

/// A connection's phase and when it began, packed in one word (milliseconds since the connection
/// opened, shifted, and the phase), read by the connection task to set its timer.
struct Clock {
    origin: Instant,
    state: AtomicU64,
    /// Since when output has waited for the client to read (milliseconds since `origin`, plus one),
    /// or 0 when nothing waits. Separate from the phase: hyper hands a body over, and the server
    /// turns idle, long before the last of it leaves.
    blocked: AtomicU64,
    changed: Notify,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            origin: Instant::now(),
            state: AtomicU64::new(Phase::Head as u64),
            blocked: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn set(&self, phase: Phase) {
        self.set_at(phase, Instant::now());
    }

    fn set_at(&self, phase: Phase, now: Instant) {
        let since = now.saturating_duration_since(self.origin);
        let millis = u64::try_from(since.as_millis()).unwrap_or(u64::MAX >> 2);
        self.state
            .store((millis << 2) | phase as u64, Ordering::Relaxed);
        self.changed.notify_one();
    }

    fn bytes_arrived(&self) {
        self.bytes_arrived_at(Instant::now());
    }

    fn bytes_arrived_at(&self, now: Instant) {
        if self.state.load(Ordering::Relaxed) & 3 == Phase::Idle as u64 {
            self.set_at(Phase::Head, now);
        }
    }

    /// A write found the socket full at `now`: the write deadline starts, unless it already runs.
    fn write_blocked_at(&self, now: Instant) {
        let since = now.saturating_duration_since(self.origin);
        let millis = u64::try_from(since.as_millis()).unwrap_or(u64::MAX - 1) + 1;
        if self
            .blocked
            .compare_exchange(0, millis, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.changed.notify_one();
        }
    }

    /// Everything written so far was handed to the system.
    fn flushed(&self) {
        if self.blocked.swap(0, Ordering::Relaxed) != 0 {
            self.changed.notify_one();
        }
    }

    fn deadline(&self, limits: &Http) -> Option<Instant> {
        let state = self.state.load(Ordering::Relaxed);
        let since = self.origin + Duration::from_millis(state >> 2);
        let phase = match state & 3 {
            0 => Some(since + limits.header_read_timeout),
            2 => Some(since + limits.idle_timeout),
            _ => None,
        };
        let blocked = match self.blocked.load(Ordering::Relaxed) {
            0 => None,
            millis => Some(
                self.origin + Duration::from_millis(millis - 1) + limits.response_write_timeout,
            ),
        };
        earliest(phase, blocked)
    }
}

/// The socket, noting when bytes arrive on an idle connection (a request has begun), when a write
/// finds it full, and when everything written has left.
struct Watched {
    inner: TcpStream,
    clock: Arc<Clock>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.clock.bytes_arrived();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if result.is_pending() {
            this.clock.write_blocked_at(Instant::now());
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if result.is_pending() {
            this.clock.write_blocked_at(Instant::now());
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        // hyper flushes the socket only once its own buffer is empty: all of it has left.
        if matches!(result, Poll::Ready(Ok(()))) {
            this.clock.flushed();
        }
        result
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A request body that fails with [`BodyReadTimeout`] once its deadline passes. The timer is only
/// made when the body is not already there.
struct Deadline<B> {
    inner: B,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> HttpBody for Deadline<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyReadTimeout)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that marks the connection idle once hyper is done with it.
struct Tracked {
    body: Body,
    clock: Arc<Clock>,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.clock.set(Phase::Idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_gives_each_phase_its_own_deadline() {
        let limits = Http {
            header_read_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(9),
            ..Http::default()
        };
        let clock = Clock::new();
        let opened = clock.origin;
        assert_eq!(
            clock.deadline(&limits),
            Some(opened + Duration::from_secs(2))
        );
        let at = |secs| opened + Duration::from_secs(secs);
        clock.set_at(Phase::Busy, at(1));
        assert_eq!(clock.deadline(&limits), None);
        clock.bytes_arrived_at(at(1));
        assert_eq!(clock.deadline(&limits), None, "body bytes start nothing");
        clock.set_at(Phase::Idle, at(1));
        assert_eq!(
            clock.deadline(&limits),
            Some(opened + Duration::from_secs(10))
        );
        clock.bytes_arrived_at(at(6));
        assert_eq!(
            clock.deadline(&limits),
            Some(opened + Duration::from_secs(8))
        );
    }

    #[test]
    fn output_the_client_does_not_read_has_a_deadline_whatever_the_phase() {
        let limits = Http {
            header_read_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(9),
            response_write_timeout: Duration::from_secs(4),
            ..Http::default()
        };
        let clock = Clock::new();
        let at = |secs| clock.origin + Duration::from_secs(secs);
        clock.set_at(Phase::Busy, at(1));
        clock.write_blocked_at(at(3));
        assert_eq!(clock.deadline(&limits), Some(at(7)));
        // Later blocked writes of the same output do not push the deadline back.
        clock.write_blocked_at(at(5));
        assert_eq!(clock.deadline(&limits), Some(at(7)));
        // hyper handed the body over: the idle deadline is later, the write deadline still holds.
        clock.set_at(Phase::Idle, at(5));
        assert_eq!(clock.deadline(&limits), Some(at(7)));
        clock.flushed();
        assert_eq!(clock.deadline(&limits), Some(at(14)));
        clock.set_at(Phase::Busy, at(6));
        assert_eq!(clock.deadline(&limits), None);
        clock.write_blocked_at(at(8));
        assert_eq!(clock.deadline(&limits), Some(at(12)));
    }

    #[test]
    fn the_head_is_measured_against_the_limits() {
        let limits = Http {
            max_uri_bytes: 300,
            max_header_bytes: 100,
            max_body_bytes: 10,
            ..Http::default()
        };
        let refused = |request: Request<()>| {
            admit(&request, &limits)
                .expect_err("refused")
                .0
                .entry()
                .name
        };
        let fine = Request::get("/health").body(()).expect("request");
        assert!(admit(&fine, &limits).is_ok());
        let long = Request::get(format!("/{}", "a".repeat(300)))
            .body(())
            .expect("request");
        assert_eq!(refused(long), "URI_TOO_LONG");
        let heavy = Request::get("/")
            .header("x-big", "b".repeat(100))
            .body(())
            .expect("request");
        assert_eq!(refused(heavy), "HEADERS_TOO_LARGE");
        let mut many = Request::get("/");
        for i in 0..=MAX_HEADER_COUNT {
            many = many.header(format!("x-{i}"), "1");
        }
        let many = many.body(()).expect("request");
        let mut roomy = limits.clone();
        roomy.max_header_bytes = 1 << 20;
        assert_eq!(
            admit(&many, &roomy).expect_err("too many").0.entry().name,
            "HEADERS_TOO_LARGE"
        );
        let big = Request::post("/rooms")
            .header("content-length", "11")
            .body(())
            .expect("request");
        assert_eq!(refused(big), "REQUEST_BODY_TOO_LARGE");
    }
}

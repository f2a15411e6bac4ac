//! Event streams that replay: a subscriber gets every event since the start, then live ones. A call
//! emits few events and ends, so keeping them is cheap, and an application that subscribes a moment
//! after `start_call` returns misses nothing.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::stream::{BoxStream, Stream, StreamExt};
use tokio::sync::watch;

/// An append-only list of events with a close mark, readable as any number of streams.
pub(crate) struct EventLog<T> {
    inner: Mutex<Log<T>>,
    version: watch::Sender<u64>,
}

struct Log<T> {
    events: Vec<T>,
    closed: bool,
}

impl<T: Clone + Send + Sync + 'static> EventLog<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(EventLog {
            inner: Mutex::new(Log {
                events: Vec::new(),
                closed: false,
            }),
            version: watch::channel(0).0,
        })
    }

    /// Appends an event (ignored once closed).
    pub(crate) fn push(&self, event: T) {
        if let Ok(mut log) = self.inner.lock() {
            if log.closed {
                return;
            }
            log.events.push(event);
        }
        self.version.send_modify(|v| *v += 1);
    }

    /// No more events: streams end after the last one.
    pub(crate) fn close(&self) {
        if let Ok(mut log) = self.inner.lock() {
            log.closed = true;
        }
        self.version.send_modify(|v| *v += 1);
    }

    /// The event at `index`, or whether the log is closed when there is none yet.
    fn get(&self, index: usize) -> Result<T, bool> {
        match self.inner.lock() {
            Ok(log) => log.events.get(index).cloned().ok_or(log.closed),
            Err(_) => Err(true),
        }
    }

    /// Every event from the first, then live ones, ending when the log closes.
    pub(crate) fn stream(self: &Arc<Self>) -> EventStream<T> {
        let state = (self.clone(), self.version.subscribe(), 0usize);
        let stream = futures_util::stream::unfold(state, |(log, mut version, index)| async move {
            loop {
                version.borrow_and_update();
                match log.get(index) {
                    Ok(event) => return Some((event, (log, version, index + 1))),
                    Err(true) => return None,
                    Err(false) => {
                        if version.changed().await.is_err() {
                            return None;
                        }
                    }
                }
            }
        });
        EventStream::new(stream.boxed())
    }
}

/// A stream of events of the SDK (call events, incoming calls). Use it with
/// `futures_util::StreamExt::next` or any stream combinator.
pub struct EventStream<T> {
    inner: BoxStream<'static, T>,
}

impl<T> EventStream<T> {
    pub(crate) fn new(inner: BoxStream<'static, T>) -> Self {
        EventStream { inner }
    }
}

impl<T> Stream for EventStream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl<T> std::fmt::Debug for EventStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn late_subscribers_replay_then_follow_until_closed() {
        let log = EventLog::new();
        log.push(1);
        log.push(2);
        let mut early = log.stream();
        assert_eq!(early.next().await, Some(1));
        let pusher = log.clone();
        let task = tokio::spawn(async move {
            tokio::task::yield_now().await;
            pusher.push(3);
            pusher.close();
            pusher.push(4);
        });
        let rest: Vec<i32> = early.collect().await;
        assert_eq!(rest, vec![2, 3]);
        task.await.unwrap();
        let late: Vec<i32> = log.stream().collect().await;
        assert_eq!(late, vec![1, 2, 3]);
    }
}

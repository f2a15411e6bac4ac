//! A connection's queue of outgoing frames: bounded in frames and in bytes, filled by the controller
//! task without waiting, emptied by the connection task.
//!
//! The byte count covers the frames waiting here and those the connection task took and has not yet
//! flushed to the socket (they sit in the WebSocket layer's buffer meanwhile), so a peer that stops
//! reading can make the server hold at most the budget for it, wherever the bytes are.
//!
//! Why not a tokio channel: a tokio channel allocates its first 32 slots when it is created, and
//! every idle connection keeps one, about 1 KiB with the channel's own state. This queue holds no
//! buffer while it is empty, so an idle connection costs a hundred bytes here.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::runtime::Outgoing;

/// A queue that grew past this many slots is given back once empty, so one burst does not stay
/// resident for the connection's whole life.
const KEPT_CAPACITY: usize = 8;

/// What one queued frame costs beyond its text: its slot and the text's allocation header.
pub(crate) const FRAME_OVERHEAD: usize = 64;

/// Creates a queue of at most `capacity` frames and `max_bytes` bytes.
pub(crate) fn outbox(capacity: usize, max_bytes: usize) -> (OutboxSender, OutboxReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        ready: Notify::new(),
        capacity: capacity.max(1),
        max_bytes,
    });
    (OutboxSender(Arc::clone(&shared)), OutboxReceiver(shared))
}

struct Shared {
    state: Mutex<State>,
    /// Woken when a frame is queued or the sender goes away; one waiter, so a wake-up that comes
    /// while nobody waits is kept as a permit.
    ready: Notify,
    capacity: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Outgoing>,
    /// Bytes of the frames in `queue`.
    queued_bytes: usize,
    /// Bytes of the frames taken by the connection task since its last completed flush.
    writing_bytes: usize,
    sender_gone: bool,
    receiver_gone: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, so a poisoned lock still holds a consistent queue.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why [`OutboxSender::try_send`] did not queue a frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The queue holds `capacity` frames, or the frame would take the connection over its byte
    /// budget: the client reads too slowly.
    Full,
    /// The connection task has ended.
    Closed,
}

/// The controller task's end. Dropping it tells the connection no more frames will come.
pub(crate) struct OutboxSender(Arc<Shared>);

impl OutboxSender {
    /// Queues `outgoing` unless the queue is full, the frame would take the connection over its
    /// byte budget, or the connection has ended. A connection with nothing pending takes any one
    /// frame, so a frame larger than the budget is not refused to a client that keeps up.
    pub(crate) fn try_send(&self, outgoing: Outgoing) -> Result<(), Refused> {
        {
            let mut state = self.0.lock();
            if state.receiver_gone {
                return Err(Refused::Closed);
            }
            let pending = state.queued_bytes + state.writing_bytes;
            let cost = outgoing.cost();
            if state.queue.len() >= self.0.capacity
                || (pending > 0 && pending.saturating_add(cost) > self.0.max_bytes)
            {
                return Err(Refused::Full);
            }
            state.queued_bytes += cost;
            state.queue.push_back(outgoing);
        }
        self.0.ready.notify_one();
        Ok(())
    }
}

impl Drop for OutboxSender {
    fn drop(&mut self) {
        self.0.lock().sender_gone = true;
        self.0.ready.notify_one();
    }
}

/// The connection task's end.
pub(crate) struct OutboxReceiver(Arc<Shared>);

impl OutboxReceiver {
    /// The next frame; `None` once the sender is gone and every queued frame was taken.
    /// Cancel-safe: a frame is only taken when this returns it.
    pub(crate) async fn recv(&mut self) -> Option<Outgoing> {
        loop {
            {
                let mut state = self.0.lock();
                if let Some(outgoing) = take(&mut state) {
                    return Some(outgoing);
                }
                if state.sender_gone {
                    return None;
                }
            }
            self.0.ready.notified().await;
        }
    }

    /// The next frame if one is queued now.
    pub(crate) fn try_recv(&mut self) -> Option<Outgoing> {
        take(&mut self.0.lock())
    }

    /// Every frame taken so far reached the socket: their bytes no longer count.
    pub(crate) fn flushed(&mut self) {
        self.0.lock().writing_bytes = 0;
    }

    /// The bytes this connection holds: queued, and taken but not flushed.
    #[cfg(test)]
    fn pending_bytes(&self) -> usize {
        let state = self.0.lock();
        state.queued_bytes + state.writing_bytes
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.receiver_gone = true;
        state.queue = VecDeque::new();
        state.queued_bytes = 0;
        state.writing_bytes = 0;
    }
}

fn take(state: &mut State) -> Option<Outgoing> {
    let outgoing = state.queue.pop_front()?;
    let cost = outgoing.cost();
    state.queued_bytes -= cost;
    state.writing_bytes += cost;
    if state.queue.is_empty() && state.queue.capacity() > KEPT_CAPACITY {
        state.queue = VecDeque::new();
    }
    Some(outgoing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Plenty of bytes: these tests are about frame order and counts.
    const ROOMY: usize = 1 << 20;

    fn frame(request_id: u64) -> Outgoing {
        Outgoing::Frame(format!("{{\"type\":\"ack\",\"requestId\":{request_id}}}").into())
    }

    fn text(bytes: usize) -> Outgoing {
        Outgoing::Frame("x".repeat(bytes).into())
    }

    fn request_id(outgoing: Option<Outgoing>) -> Option<u64> {
        match outgoing {
            Some(Outgoing::Frame(text)) => {
                let value: serde_json::Value = serde_json::from_str(text.as_str()).ok()?;
                value.get("requestId")?.as_u64()
            }
            _ => None,
        }
    }

    #[tokio::test]
    async fn frames_come_out_in_order_then_none_once_the_sender_is_gone() {
        let (sender, mut receiver) = outbox(4, ROOMY);
        for id in 1..=3 {
            sender.try_send(frame(id)).expect("room");
        }
        drop(sender);
        assert_eq!(request_id(receiver.recv().await), Some(1));
        assert_eq!(request_id(receiver.try_recv()), Some(2));
        assert_eq!(request_id(receiver.recv().await), Some(3));
        assert!(receiver.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_full_queue_and_an_ended_connection_refuse_frames() {
        let (sender, receiver) = outbox(2, ROOMY);
        sender.try_send(frame(1)).expect("room");
        sender.try_send(frame(2)).expect("room");
        assert_eq!(sender.try_send(frame(3)), Err(Refused::Full));
        drop(receiver);
        assert_eq!(sender.try_send(frame(4)), Err(Refused::Closed));
    }

    #[test]
    fn bytes_taken_but_not_flushed_still_count_against_the_budget() {
        let budget = 3 * (1000 + FRAME_OVERHEAD);
        let (sender, mut receiver) = outbox(100, budget);
        for _ in 0..3 {
            sender.try_send(text(1000)).expect("within the budget");
        }
        assert_eq!(sender.try_send(text(1)), Err(Refused::Full));
        // The connection task takes everything but its write has not completed: still full.
        while receiver.try_recv().is_some() {}
        assert_eq!(receiver.pending_bytes(), budget);
        assert_eq!(sender.try_send(text(1)), Err(Refused::Full));
        // Once flushed, the budget is free again.
        receiver.flushed();
        assert_eq!(receiver.pending_bytes(), 0);
        sender.try_send(text(1000)).expect("room again");
    }

    #[test]
    fn one_frame_larger_than_the_budget_passes_only_when_nothing_is_pending() {
        let (sender, mut receiver) = outbox(100, 500);
        sender
            .try_send(text(2000))
            .expect("an idle connection takes it");
        assert_eq!(sender.try_send(text(10)), Err(Refused::Full));
        assert!(receiver.try_recv().is_some());
        receiver.flushed();
        sender.try_send(text(10)).expect("drained");
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_frame_sent_later() {
        let (sender, mut receiver) = outbox(2, ROOMY);
        let waiting = tokio::spawn(async move { request_id(receiver.recv().await) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        sender.try_send(frame(7)).expect("room");
        let got = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .expect("task");
        assert_eq!(got, Some(7));
    }

    #[tokio::test]
    async fn a_cancelled_wait_loses_no_frame() {
        let (sender, mut receiver) = outbox(2, ROOMY);
        // A wait abandoned (as `select!` abandons its losing branches) before the frame is sent.
        let _ = tokio::time::timeout(Duration::from_millis(10), receiver.recv()).await;
        sender.try_send(frame(9)).expect("room");
        let got = tokio::time::timeout(Duration::from_secs(5), receiver.recv())
            .await
            .expect("not lost");
        assert_eq!(request_id(got), Some(9));
    }

    #[test]
    fn a_drained_queue_gives_back_a_large_buffer() {
        let (sender, mut receiver) = outbox(100, ROOMY);
        for id in 0..50 {
            sender.try_send(frame(id)).expect("room");
        }
        while receiver.try_recv().is_some() {}
        assert!(receiver.0.lock().queue.capacity() <= KEPT_CAPACITY);
    }
}

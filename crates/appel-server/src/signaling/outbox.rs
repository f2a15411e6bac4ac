//! A connection's queue of outgoing frames: bounded, filled by the controller task without waiting,
//! emptied by the connection task.
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

/// Creates a queue of at most `capacity` frames.
pub(crate) fn outbox(capacity: usize) -> (OutboxSender, OutboxReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        ready: Notify::new(),
        capacity: capacity.max(1),
    });
    (OutboxSender(Arc::clone(&shared)), OutboxReceiver(shared))
}

struct Shared {
    state: Mutex<State>,
    /// Woken when a frame is queued or the sender goes away; one waiter, so a wake-up that comes
    /// while nobody waits is kept as a permit.
    ready: Notify,
    capacity: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Outgoing>,
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
    /// The queue holds `capacity` frames: the client reads too slowly.
    Full,
    /// The connection task has ended.
    Closed,
}

/// The controller task's end. Dropping it tells the connection no more frames will come.
pub(crate) struct OutboxSender(Arc<Shared>);

impl OutboxSender {
    /// Queues `outgoing` unless the queue is full or the connection has ended.
    pub(crate) fn try_send(&self, outgoing: Outgoing) -> Result<(), Refused> {
        {
            let mut state = self.0.lock();
            if state.receiver_gone {
                return Err(Refused::Closed);
            }
            if state.queue.len() >= self.0.capacity {
                return Err(Refused::Full);
            }
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
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.receiver_gone = true;
        state.queue = VecDeque::new();
    }
}

fn take(state: &mut State) -> Option<Outgoing> {
    let outgoing = state.queue.pop_front()?;
    if state.queue.is_empty() && state.queue.capacity() > KEPT_CAPACITY {
        state.queue = VecDeque::new();
    }
    Some(outgoing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use appel_protocol::ServerFrame;
    use std::time::Duration;

    fn frame(request_id: u64) -> Outgoing {
        Outgoing::Frame(Box::new(ServerFrame::Ack { request_id }))
    }

    fn request_id(outgoing: Option<Outgoing>) -> Option<u64> {
        match outgoing {
            Some(Outgoing::Frame(frame)) => match *frame {
                ServerFrame::Ack { request_id } => Some(request_id),
                _ => None,
            },
            _ => None,
        }
    }

    #[tokio::test]
    async fn frames_come_out_in_order_then_none_once_the_sender_is_gone() {
        let (sender, mut receiver) = outbox(4);
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
        let (sender, receiver) = outbox(2);
        sender.try_send(frame(1)).expect("room");
        sender.try_send(frame(2)).expect("room");
        assert_eq!(sender.try_send(frame(3)), Err(Refused::Full));
        drop(receiver);
        assert_eq!(sender.try_send(frame(4)), Err(Refused::Closed));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_frame_sent_later() {
        let (sender, mut receiver) = outbox(2);
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
        let (sender, mut receiver) = outbox(2);
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
        let (sender, mut receiver) = outbox(100);
        for id in 0..50 {
            sender.try_send(frame(id)).expect("room");
        }
        while receiver.try_recv().is_some() {}
        assert!(receiver.0.lock().queue.capacity() <= KEPT_CAPACITY);
    }
}

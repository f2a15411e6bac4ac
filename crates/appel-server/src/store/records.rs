//! The batched writer of call records: a dedicated thread fed by a channel, committing one
//! transaction per batch (at most `batch_size` operations, or whatever arrived within
//! `flush_interval` of the batch's first operation). Sending never blocks the caller.
//!
//! Two things ride along with the records. Webhook events go into the outbox table in the same
//! transaction as the records they describe, so an event exists exactly when its facts do. And a
//! caller can post a numbered mark after some operations: once the batch holding the mark is
//! committed, the writer publishes its number, which is how the runtime's durable mode knows when it
//! may tell the parties that a call ended. Every commit (and every second when idle) also stamps the
//! "last alive" mark that dates the calls a crash leaves open.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use appel_codes::{CallEndReason, CallingError};
use rusqlite::{params, Connection};
use tokio::sync::{oneshot, watch, Notify};

use super::{open_connection, storage_error, unix_ms, OutboxEvent};

/// One fact about a call, as stored. Times are wall-clock.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordOp {
    /// A call was started.
    CallCreated {
        /// Call id.
        call_id: String,
        /// Identity of the caller.
        caller: String,
        /// Identities called.
        targets: Vec<String>,
        /// When.
        at: SystemTime,
    },
    /// A participant leg started (the caller's at creation, a callee's when it is offered the call).
    LegJoined {
        /// Call id.
        call_id: String,
        /// Participant id within the call.
        participant_id: String,
        /// The endpoint carrying the leg, when one is known.
        endpoint_id: Option<String>,
        /// The participant's identity.
        identity: String,
        /// When.
        at: SystemTime,
    },
    /// A participant leg ended, with its reason.
    LegLeft {
        /// Call id.
        call_id: String,
        /// Participant id within the call.
        participant_id: String,
        /// The participant's identity (used when no join was recorded).
        identity: String,
        /// The endpoint that carried the leg, when known.
        endpoint_id: Option<String>,
        /// When.
        at: SystemTime,
        /// Why.
        reason: CallEndReason,
        /// The protocol's own cause, verbatim.
        raw_cause: Option<String>,
        /// Who ended the leg (`EndedBy` as JSON), when known.
        ended_by: Option<String>,
    },
    /// A target's leg ended without ever being answered, with its own reason.
    TargetEnded {
        /// Call id.
        call_id: String,
        /// The target's participant id.
        participant_id: String,
        /// The target's identity.
        identity: String,
        /// When.
        at: SystemTime,
        /// Why.
        reason: CallEndReason,
        /// The protocol's own cause, verbatim.
        raw_cause: Option<String>,
        /// Who ended the leg (`EndedBy` as JSON), when known.
        ended_by: Option<String>,
    },
    /// One endpoint of a target stopped ringing, with its own reason.
    RingEnded {
        /// Call id.
        call_id: String,
        /// The target's participant id.
        participant_id: String,
        /// The endpoint that rang.
        endpoint_id: String,
        /// Whose endpoint.
        identity: String,
        /// When.
        at: SystemTime,
        /// Why it stopped.
        reason: CallEndReason,
        /// The protocol's own cause, verbatim.
        raw_cause: Option<String>,
    },
    /// The call as a whole ended.
    CallEnded {
        /// Call id.
        call_id: String,
        /// When.
        at: SystemTime,
        /// The call's overall end reason, when there is one.
        reason: Option<CallEndReason>,
        /// Who ended the call (`EndedBy` as JSON), when known.
        ended_by: Option<String>,
    },
    /// Anything else worth a line on the call's timeline.
    Timeline {
        /// Call id.
        call_id: String,
        /// When.
        at: SystemTime,
        /// What kind of event (`ringing`, `accepted`, …).
        kind: String,
        /// Details, as JSON.
        detail: serde_json::Value,
    },
    /// A webhook event, stored in the outbox once per subscriber.
    Webhook(Box<OutboxEvent>),
}

/// The records writer's SQLite page cache, in KiB.
const RECORDS_CACHE_KIB: i64 = 32 * 1024;

/// How often an idle writer stamps the "last alive" mark: the precision of a crash's recorded time.
const ALIVE_EVERY: Duration = Duration::from_secs(1);

enum Command {
    /// Operations committed in one transaction (never split across two batches).
    Write(Vec<RecordOp>),
    /// Publish this number once everything sent before it is committed.
    Mark(u64),
    Flush(oneshot::Sender<()>),
    Close,
}

/// Handle to the writer thread. Clones share the thread.
#[derive(Clone)]
pub struct RecordWriter {
    sender: mpsc::Sender<Command>,
    thread: std::sync::Arc<Mutex<Option<JoinHandle<()>>>>,
    committed: watch::Receiver<u64>,
    outbox: Arc<Notify>,
    /// Operations sent and not yet through a commit (the metrics' records queue depth).
    queued: Arc<AtomicI64>,
    /// Statements run by committed batches: what the disk work per call is measured in.
    statements: Arc<AtomicU64>,
}

impl RecordWriter {
    /// Operations queued and not yet committed.
    pub fn queued(&self) -> i64 {
        self.queued.load(Ordering::Relaxed).max(0)
    }

    /// Statements that wrote committed batches so far (each batch also stamps the "last alive"
    /// mark once).
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Whether the writer thread still takes records.
    pub fn is_running(&self) -> bool {
        self.thread
            .lock()
            .map(|thread| thread.as_ref().is_some_and(|t| !t.is_finished()))
            .unwrap_or(false)
    }

    /// Opens its own connection to the database at `path` and starts the thread.
    pub fn start(
        path: &Path,
        batch_size: usize,
        flush_interval: Duration,
    ) -> Result<RecordWriter, CallingError> {
        let db = open_connection(path)
            .map_err(|e| storage_error("opening the records writer's connection", e))?;
        // A batch touches pages all over the calls, legs and timeline trees (their keys are random
        // ids): with SQLite's default 2 MiB page cache, a third of this thread's time went to
        // spilling dirty pages mid-transaction and reading them back.
        db.pragma_update(None, "cache_size", -RECORDS_CACHE_KIB)
            .map_err(|e| storage_error("sizing the records writer's page cache", e))?;
        let (sender, receiver) = mpsc::channel();
        let (marks, committed) = watch::channel(0);
        let outbox = Arc::new(Notify::new());
        let signal = Arc::clone(&outbox);
        let queued = Arc::new(AtomicI64::new(0));
        let done = Arc::clone(&queued);
        let statements = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&statements);
        let thread = std::thread::Builder::new()
            .name("appel-records".into())
            .spawn(move || {
                let signals = Signals {
                    marks,
                    outbox: signal,
                    queued: done,
                    statements: counted,
                };
                run(db, receiver, batch_size.max(1), flush_interval, signals)
            })
            .map_err(|e| storage_error("starting the records writer", e))?;
        Ok(RecordWriter {
            sender,
            thread: std::sync::Arc::new(Mutex::new(Some(thread))),
            committed,
            outbox,
            queued,
            statements,
        })
    }

    /// Queues one operation; never blocks. After [`RecordWriter::close`] it is dropped with a log line.
    pub fn write(&self, op: RecordOp) {
        self.write_all(vec![op]);
    }

    /// Queues operations that must be committed in the same transaction; never blocks.
    pub fn write_all(&self, ops: Vec<RecordOp>) {
        if ops.is_empty() {
            return;
        }
        let count = i64::try_from(ops.len()).unwrap_or(i64::MAX);
        self.queued.fetch_add(count, Ordering::Relaxed);
        if self.sender.send(Command::Write(ops)).is_err() {
            self.queued.fetch_sub(count, Ordering::Relaxed);
            tracing::warn!("call record dropped: the records writer is closed");
        }
    }

    /// Asks for `number` to be published on [`RecordWriter::committed`] once everything queued
    /// before it is committed. Numbers must grow; never blocks.
    pub fn mark(&self, number: u64) {
        if self.sender.send(Command::Mark(number)).is_err() {
            tracing::warn!("records mark dropped: the records writer is closed");
        }
    }

    /// The highest mark whose batch is committed (0 before the first).
    pub fn committed(&self) -> watch::Receiver<u64> {
        self.committed.clone()
    }

    /// Notified after each commit that added webhook events to the outbox.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        Arc::clone(&self.outbox)
    }

    /// Waits until everything queued before this call is committed.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Command::Flush(done)).is_ok() {
            // An error here means the thread ended, which commits what it had.
            let _ = wait.await;
        }
    }

    /// Commits what is queued and stops the thread.
    pub async fn close(&self) {
        let _ = self.sender.send(Command::Close);
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(thread) = thread {
            if tokio::task::spawn_blocking(move || thread.join())
                .await
                .is_err()
            {
                tracing::error!("the records writer thread could not be joined");
            }
        }
    }
}

/// What the writer thread tells the rest of the server after a commit.
struct Signals {
    marks: watch::Sender<u64>,
    outbox: Arc<Notify>,
    queued: Arc<AtomicI64>,
    statements: Arc<AtomicU64>,
}

/// What one transaction gathers.
#[derive(Default)]
struct Batch {
    ops: Vec<RecordOp>,
    waiting: Vec<oneshot::Sender<()>>,
    mark: u64,
}

impl Batch {
    /// Adds a command; `true` when it asks the writer to stop.
    fn take(&mut self, command: Command) -> bool {
        match command {
            Command::Write(ops) => self.ops.extend(ops),
            Command::Mark(number) => self.mark = self.mark.max(number),
            Command::Flush(done) => self.waiting.push(done),
            Command::Close => return true,
        }
        false
    }
}

fn run(
    mut db: Connection,
    receiver: mpsc::Receiver<Command>,
    batch_size: usize,
    flush_interval: Duration,
    signals: Signals,
) {
    let mut closing = false;
    while !closing {
        let first = match receiver.recv_timeout(ALIVE_EVERY) {
            Ok(command) => command,
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = stamp_alive(&db) {
                    tracing::error!(error = %e, "the last-alive mark could not be stored");
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = Batch::default();
        closing = batch.take(first);
        let deadline = Instant::now() + flush_interval;
        while !closing && batch.waiting.is_empty() && batch.ops.len() < batch_size {
            let left = deadline.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(left) {
                Ok(command) => closing = batch.take(command),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => closing = true,
            }
        }
        let webhooks = batch
            .ops
            .iter()
            .any(|op| matches!(op, RecordOp::Webhook(_)));
        if !batch.ops.is_empty() {
            match commit(&mut db, &batch.ops) {
                Ok(statements) => {
                    signals.statements.fetch_add(statements, Ordering::Relaxed);
                }
                // The marks are still published: holding the parties' end frames forever would
                // turn a disk failure into calls that never end for their users.
                Err(e) => {
                    tracing::error!(error = %e, events = batch.ops.len(), "call records could not be committed");
                }
            }
        }
        signals.queued.fetch_sub(
            i64::try_from(batch.ops.len()).unwrap_or(i64::MAX),
            Ordering::Relaxed,
        );
        if batch.mark > 0 {
            signals.marks.send_if_modified(|last| {
                let newer = batch.mark > *last;
                if newer {
                    *last = batch.mark;
                }
                newer
            });
        }
        if webhooks {
            signals.outbox.notify_one();
        }
        for done in batch.waiting {
            let _ = done.send(());
        }
    }
}

/// Stores "the server was running at this time".
fn stamp_alive(db: &Connection) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE server_alive SET last_ms = ?1 WHERE id = 1")?
        .execute([unix_ms(SystemTime::now())])?;
    Ok(())
}

/// Commits `batch` in one transaction; returns how many statements wrote it (the "last alive"
/// stamp included, the transaction's own begin and commit not).
fn commit(db: &mut Connection, batch: &[RecordOp]) -> rusqlite::Result<u64> {
    let tx = db.transaction()?;
    stamp_alive(&tx)?;
    let mut statements = 1;
    let merged = merge_pairs(batch);
    for (index, op) in batch.iter().enumerate() {
        statements += match merged[index] {
            Merge::Alone => apply(&tx, op)?,
            Merge::Skipped => 0,
            Merge::With(start) => apply_pair(&tx, &batch[start], op)?,
        };
    }
    tx.commit()?;
    Ok(statements)
}

/// How one operation of a batch is written.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Merge {
    /// On its own.
    Alone,
    /// Not at all: the later operation it pairs with writes both.
    Skipped,
    /// Together with the start at this index (a leg's join, or the call's creation).
    With(usize),
}

/// Pairs each leg's join with its departure, and a call's creation with its end, when both are in
/// the same batch: one row written once instead of inserted then updated, which costs every index
/// of the table twice (a call cycle went from 11 statements to 8). A start seen twice for the same
/// key is left unpaired, so the order of effects is always that of the operations.
fn merge_pairs(batch: &[RecordOp]) -> Vec<Merge> {
    let mut merged = vec![Merge::Alone; batch.len()];
    // Key → index of the one unpaired start, or None once a second start made it ambiguous.
    let mut starts: HashMap<(&str, Option<&str>), Option<usize>> = HashMap::new();
    for (index, op) in batch.iter().enumerate() {
        match op {
            RecordOp::CallCreated { call_id, .. } => {
                note_start(&mut starts, (call_id.as_str(), None), index);
            }
            RecordOp::LegJoined {
                call_id,
                participant_id,
                ..
            } => note_start(
                &mut starts,
                (call_id.as_str(), Some(participant_id.as_str())),
                index,
            ),
            RecordOp::CallEnded { call_id, .. } => {
                if let Some(Some(start)) = starts.remove(&(call_id.as_str(), None)) {
                    merged[start] = Merge::Skipped;
                    merged[index] = Merge::With(start);
                }
            }
            RecordOp::LegLeft {
                call_id,
                participant_id,
                ..
            } => {
                let key = (call_id.as_str(), Some(participant_id.as_str()));
                if let Some(Some(start)) = starts.remove(&key) {
                    merged[start] = Merge::Skipped;
                    merged[index] = Merge::With(start);
                }
            }
            RecordOp::Timeline { .. }
            | RecordOp::TargetEnded { .. }
            | RecordOp::RingEnded { .. }
            | RecordOp::Webhook(_) => {}
        }
    }
    merged
}

fn note_start<'a>(
    starts: &mut HashMap<(&'a str, Option<&'a str>), Option<usize>>,
    key: (&'a str, Option<&'a str>),
    index: usize,
) {
    starts
        .entry(key)
        .and_modify(|start| *start = None)
        .or_insert(Some(index));
}

/// Writes a start and its end (paired by [`merge_pairs`]) as one row, with the same result as
/// applying them one after the other.
fn apply_pair(db: &Connection, start: &RecordOp, end: &RecordOp) -> rusqlite::Result<u64> {
    match (start, end) {
        (
            RecordOp::CallCreated {
                call_id,
                caller,
                targets,
                at,
            },
            RecordOp::CallEnded {
                at: ended_at,
                reason,
                ended_by,
                ..
            },
        ) => {
            let targets = serde_json::to_string(targets).unwrap_or_else(|_| "[]".into());
            db.prepare_cached(
                "INSERT INTO calls (id, caller, targets, created_ms, ended_ms, end_code, end_subcode,
                                    ended_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(id) DO UPDATE SET
                    ended_ms = excluded.ended_ms, end_code = excluded.end_code,
                    end_subcode = excluded.end_subcode,
                    ended_by = COALESCE(excluded.ended_by, calls.ended_by)",
            )?
            .execute(params![
                call_id,
                caller,
                targets,
                unix_ms(*at),
                unix_ms(*ended_at),
                reason.map(|r| r.code),
                reason.map(|r| r.subcode),
                ended_by
            ])?;
        }
        (
            RecordOp::LegJoined {
                endpoint_id: joined_endpoint,
                identity,
                at: joined_at,
                ..
            },
            RecordOp::LegLeft {
                call_id,
                participant_id,
                endpoint_id,
                at,
                reason,
                raw_cause,
                ended_by,
                ..
            },
        ) => {
            let endpoint = endpoint_id.as_deref().or(joined_endpoint.as_deref());
            let span = (unix_ms(*joined_at), unix_ms(*at));
            leg_ended(
                db,
                (call_id, participant_id),
                endpoint,
                identity,
                span,
                (reason, raw_cause, ended_by),
            )?;
        }
        (start, end) => return Ok(apply(db, start)? + apply(db, end)?),
    }
    Ok(1)
}

/// Writes a leg's end, who ended it included: inserts the whole row, or on a stored leg keeps its
/// join time and identity and sets the rest. One statement, so no reader (and no crash) ever finds
/// an ended leg whose ender is still missing.
fn leg_ended(
    db: &Connection,
    (call_id, participant_id): (&str, &str),
    endpoint_id: Option<&str>,
    identity: &str,
    (joined_ms, left_ms): (i64, i64),
    (reason, raw_cause, ended_by): (&CallEndReason, &Option<String>, &Option<String>),
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO legs (call_id, participant_id, endpoint_id, identity, joined_ms,
                           left_ms, duration_ms, code, subcode, result_category, raw_cause,
                           ended_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, MAX(0, ?6 - ?5), ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT(call_id, participant_id) DO UPDATE SET
            endpoint_id = COALESCE(excluded.endpoint_id, legs.endpoint_id),
            left_ms = excluded.left_ms,
            duration_ms = MAX(0, excluded.left_ms - legs.joined_ms),
            code = excluded.code, subcode = excluded.subcode,
            result_category = excluded.result_category, raw_cause = excluded.raw_cause,
            ended_by = COALESCE(excluded.ended_by, legs.ended_by)",
    )?
    .execute(params![
        call_id,
        participant_id,
        endpoint_id,
        identity,
        joined_ms,
        left_ms,
        reason.code,
        reason.subcode,
        reason.category().as_str(),
        raw_cause,
        ended_by
    ])?;
    Ok(())
}

// Cached statements: parsing the SQL again for every operation was 7 % of the server's CPU under
// `appel bench calls`. Returns how many statements it ran.
fn apply(db: &Connection, op: &RecordOp) -> rusqlite::Result<u64> {
    match op {
        RecordOp::CallCreated {
            call_id,
            caller,
            targets,
            at,
        } => {
            let targets = serde_json::to_string(targets).unwrap_or_else(|_| "[]".into());
            db.prepare_cached(
                "INSERT OR IGNORE INTO calls (id, caller, targets, created_ms) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(
                params![call_id, caller, targets, unix_ms(*at)],
            )?;
        }
        RecordOp::LegJoined {
            call_id,
            participant_id,
            endpoint_id,
            identity,
            at,
        } => {
            db.prepare_cached(
                "INSERT INTO legs (call_id, participant_id, endpoint_id, identity, joined_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(call_id, participant_id) DO UPDATE SET
                    endpoint_id = COALESCE(excluded.endpoint_id, legs.endpoint_id)",
            )?
            .execute(params![
                call_id,
                participant_id,
                endpoint_id,
                identity,
                unix_ms(*at)
            ])?;
        }
        RecordOp::LegLeft {
            call_id,
            participant_id,
            identity,
            endpoint_id,
            at,
            reason,
            raw_cause,
            ended_by,
        } => {
            // Without its join in the batch, the leg is taken to have joined when it left; a stored
            // join time wins on conflict.
            let span = (unix_ms(*at), unix_ms(*at));
            let endpoint = endpoint_id.as_deref();
            leg_ended(
                db,
                (call_id, participant_id),
                endpoint,
                identity,
                span,
                (reason, raw_cause, ended_by),
            )?;
        }
        RecordOp::TargetEnded {
            call_id,
            participant_id,
            identity,
            at,
            reason,
            raw_cause,
            ended_by,
        } => {
            // The leg counts from the call's start (when the target was first offered it) and is
            // marked unanswered; a leg already stored under this participant keeps everything but
            // who ended it.
            db.prepare_cached(
                "INSERT INTO legs (call_id, participant_id, identity, joined_ms, left_ms,
                                   duration_ms, code, subcode, result_category, raw_cause,
                                   answered, ended_by)
                 VALUES (?1, ?2, ?3, MIN(?4, COALESCE((SELECT created_ms FROM calls WHERE id = ?1), ?4)),
                         ?4, 0, ?5, ?6, ?7, ?8, 0, ?9)
                 ON CONFLICT(call_id, participant_id) DO UPDATE SET
                    ended_by = COALESCE(excluded.ended_by, legs.ended_by)",
            )?
            .execute(params![
                call_id,
                participant_id,
                identity,
                unix_ms(*at),
                reason.code,
                reason.subcode,
                reason.category().as_str(),
                raw_cause,
                ended_by
            ])?;
        }
        RecordOp::RingEnded {
            call_id,
            participant_id,
            endpoint_id,
            identity,
            at,
            reason,
            raw_cause,
        } => {
            db.prepare_cached(
                "INSERT INTO rings (call_id, participant_id, endpoint_id, identity, ended_ms,
                                    code, subcode, result_category, raw_cause)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                call_id,
                participant_id,
                endpoint_id,
                identity,
                unix_ms(*at),
                reason.code,
                reason.subcode,
                reason.category().as_str(),
                raw_cause
            ])?;
        }
        RecordOp::CallEnded {
            call_id,
            at,
            reason,
            ended_by,
        } => {
            db.prepare_cached(
                "UPDATE calls SET ended_ms = ?2, end_code = ?3, end_subcode = ?4,
                                  ended_by = COALESCE(?5, ended_by)
                 WHERE id = ?1",
            )?
            .execute(params![
                call_id,
                unix_ms(*at),
                reason.map(|r| r.code),
                reason.map(|r| r.subcode),
                ended_by
            ])?;
        }
        RecordOp::Timeline {
            call_id,
            at,
            kind,
            detail,
        } => {
            db.prepare_cached(
                "INSERT INTO timeline (call_id, at_ms, kind, detail) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![call_id, unix_ms(*at), kind, detail.to_string()])?;
        }
        RecordOp::Webhook(event) => {
            let mut insert = db.prepare_cached(
                "INSERT INTO webhook_outbox
                 (subscription_id, call_id, call_seq, event_id, event_type, body, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for subscriber in &event.subscribers {
                insert.execute(params![
                    subscriber,
                    event.call_id,
                    event.call_seq,
                    event.event_id,
                    event.event_type,
                    event.body,
                    unix_ms(event.at)
                ])?;
            }
            // A call created and ended in this batch has no row yet; it will not be left open.
            db.prepare_cached(
                "UPDATE calls SET webhook_seq = ?2
                 WHERE id = ?1 AND COALESCE(webhook_seq, 0) < ?2",
            )?
            .execute(params![event.call_id, event.call_seq])?;
            return Ok(u64::try_from(event.subscribers.len()).unwrap_or(u64::MAX) + 1);
        }
    }
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use appel_codes::registry;

    fn created(call: &str, at: SystemTime) -> RecordOp {
        RecordOp::CallCreated {
            call_id: call.into(),
            caller: "alice".into(),
            targets: vec!["bob".into()],
            at,
        }
    }

    fn ended(call: &str, at: SystemTime) -> RecordOp {
        RecordOp::CallEnded {
            call_id: call.into(),
            at,
            reason: Some(CallEndReason::of(&registry::CALL_ENDED_LOCALLY)),
            ended_by: None,
        }
    }

    #[tokio::test]
    async fn a_mark_is_published_only_once_what_was_written_before_it_is_committed() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        // A long flush interval: nothing commits before it unless the batch fills up.
        let writer =
            RecordWriter::start(store.path(), 1000, Duration::from_millis(300)).expect("writer");
        let mut committed = writer.committed();
        let at = SystemTime::now();
        writer.write(created("c1", at));
        writer.write(ended("c1", at));
        writer.mark(1);
        assert_eq!(*committed.borrow_and_update(), 0);
        committed.changed().await.expect("the writer publishes");
        assert_eq!(*committed.borrow_and_update(), 1);
        // Read on another connection: the end is on disk by the time the mark is out.
        let call = store.call_record("c1").await.expect("read").expect("c1");
        assert!(call.ended_at.is_some());
        writer.close().await;
    }

    #[tokio::test]
    async fn marks_ride_in_a_batch_without_cutting_it_short_and_never_go_back() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        let writer =
            RecordWriter::start(store.path(), 1000, Duration::from_millis(200)).expect("writer");
        let mut committed = writer.committed();
        let at = SystemTime::now();
        writer.write(created("c1", at));
        writer.mark(1);
        writer.write(created("c2", at));
        writer.mark(2);
        committed.changed().await.expect("the writer publishes");
        // Both marks were in the one batch: the first value seen is the second mark, and both
        // calls are committed.
        assert_eq!(*committed.borrow_and_update(), 2);
        assert!(store.call_record("c2").await.expect("read").is_some());
        // A smaller number later never moves the published value back.
        writer.mark(1);
        writer.flush().await;
        assert_eq!(*committed.borrow(), 2);
        writer.close().await;
    }

    #[tokio::test]
    async fn operations_written_together_share_a_transaction_with_their_webhook_event() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        // Batches of one operation: a group is still never split.
        let writer =
            RecordWriter::start(store.path(), 1, Duration::from_millis(10)).expect("writer");
        let signal = writer.outbox_signal();
        let at = SystemTime::now();
        writer.write_all(vec![
            created("c1", at),
            RecordOp::Webhook(Box::new(OutboxEvent {
                subscribers: vec!["s1".into(), "s2".into()],
                call_id: "c1".into(),
                call_seq: 1,
                event_id: "e1".into(),
                event_type: "CallStarted",
                body: "{}".into(),
                at,
            })),
        ]);
        signal.notified().await;
        let rows = store
            .run("test", |db| {
                db.query_row(
                    "SELECT COUNT(*), (SELECT COUNT(*) FROM calls) FROM webhook_outbox",
                    [],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )
            })
            .await
            .expect("count");
        assert_eq!(rows, (2, 1));
        writer.close().await;
    }

    #[tokio::test]
    async fn a_removed_subscription_takes_its_waiting_events_with_it() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        let writer =
            RecordWriter::start(store.path(), 1000, Duration::from_millis(10)).expect("writer");
        let at = SystemTime::now();
        for (call, seq) in [("c1", 1), ("c1", 2), ("c2", 1)] {
            writer.write(RecordOp::Webhook(Box::new(OutboxEvent {
                subscribers: vec!["kept".into(), "removed".into(), "unconfigured".into()],
                call_id: call.into(),
                call_seq: seq,
                event_id: format!("{call}-{seq}"),
                event_type: "CallStarted",
                body: "{}".into(),
                at,
            })));
        }
        writer.flush().await;
        store.delete_subscription("removed").await.expect("delete");
        let pruned = store
            .outbox_keep_only(vec!["kept".into()])
            .await
            .expect("prune");
        assert_eq!(pruned, 3);
        let page = store.outbox_page(0, 10).await.expect("page");
        assert_eq!(page.len(), 3);
        assert!(page.iter().all(|(_, lane)| lane.subscription_id == "kept"));
        // A lane gives its oldest row first; rows of other calls are other lanes.
        let lane = page[0].1.clone();
        let first = store
            .outbox_next(&lane)
            .await
            .expect("next")
            .expect("a row");
        assert_eq!((first.call_id.as_str(), first.call_seq), ("c1", 1));
        store.outbox_done(first.seq).await.expect("done");
        let second = store
            .outbox_next(&lane)
            .await
            .expect("next")
            .expect("a row");
        assert_eq!(second.call_seq, 2);
        writer.close().await;
    }

    #[tokio::test]
    async fn every_commit_stamps_the_last_alive_mark() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        let before = unix_ms(SystemTime::now());
        let writer =
            RecordWriter::start(store.path(), 1000, Duration::from_millis(10)).expect("writer");
        writer.write(created("c1", SystemTime::now()));
        writer.flush().await;
        let last: Option<i64> = store
            .run("test", |db| {
                db.query_row("SELECT last_ms FROM server_alive", [], |r| r.get(0))
            })
            .await
            .expect("mark");
        assert!(last.is_some_and(|ms| ms >= before), "{last:?}");
        writer.close().await;
    }
}

//! Reading call records back: one call with its legs and timeline, or a filtered, paged list.

use appel_codes::{lookup, registry, CallEndReason, CallingError, ResultCategory};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{rfc3339, Store, Subscription};

/// An end reason as records show it: the pair, its category and the entry's stable name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndReasonView {
    /// 3-digit status.
    pub code: u16,
    /// Exact reason.
    pub sub_code: u32,
    /// Category of the outcome.
    #[schema(value_type = crate::http::openapi::ResultCategorySchema)]
    pub result_category: ResultCategory,
    /// Stable name of the catalogue entry.
    pub name: &'static str,
}

impl EndReasonView {
    fn of(code: u16, sub_code: u32) -> EndReasonView {
        let entry = lookup(code, sub_code).entry;
        EndReasonView {
            code,
            sub_code,
            result_category: entry.category,
            name: entry.name,
        }
    }
}

/// One participant's leg of a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegRecord {
    /// Participant id within the call.
    pub participant_id: String,
    /// Endpoint that carried the leg.
    pub endpoint_id: Option<String>,
    /// Identity of the participant.
    pub identity: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub joined_at: String,
    /// RFC 3339; `null` while the leg is live.
    #[schema(format = DateTime)]
    pub left_at: Option<String>,
    /// Milliseconds between joining and leaving.
    pub duration_ms: Option<i64>,
    /// Why the leg ended; `null` while it is live.
    pub end_reason: Option<EndReasonView>,
    /// The protocol's own cause, verbatim.
    pub raw_cause: Option<String>,
    /// Who ended the leg (as `callEnded.endedBy`); `null` while it is live or for records older
    /// than this field.
    #[schema(value_type = Option<Object>)]
    pub ended_by: Option<serde_json::Value>,
    /// `false` for a target that never joined (declined, unreachable, not answered…): its leg
    /// starts with the call and carries the target's own end reason.
    pub answered: bool,
}

/// One endpoint of a target that rang, and why it stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RingRecord {
    /// The target's participant id.
    pub participant_id: String,
    /// The endpoint that rang.
    pub endpoint_id: String,
    /// Whose endpoint.
    pub identity: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub ended_at: String,
    /// The reason this endpoint was given.
    pub end_reason: EndReasonView,
    /// The protocol's own cause, verbatim.
    pub raw_cause: Option<String>,
}

/// One line of a call's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub at: String,
    /// What happened.
    pub kind: String,
    /// Details.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// A call with its legs (and, for a single call, its timeline).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    /// Call id.
    pub id: String,
    /// Identity of the caller.
    pub caller: String,
    /// Identities called.
    pub targets: Vec<String>,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339; `null` while the call is live.
    #[schema(format = DateTime)]
    pub ended_at: Option<String>,
    /// The call's overall end reason, when it has ended with one.
    pub end_reason: Option<EndReasonView>,
    /// Every leg, in joining order.
    pub legs: Vec<LegRecord>,
    /// Who ended the call; `null` while it is live or for records older than this field.
    #[schema(value_type = Option<Object>)]
    pub ended_by: Option<serde_json::Value>,
    /// Each endpoint that rang and stopped, with the reason it was given; single-call reads only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rings: Option<Vec<RingRecord>>,
    /// The timeline; present on single-call reads only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineEntry>>,
}

/// Filters of `GET /calls`. A call matches when one of its legs matches the reason filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallFilter {
    /// A leg ended with this code.
    pub code: Option<u16>,
    /// A leg ended with this subcode.
    pub sub_code: Option<u32>,
    /// A leg ended with this category.
    pub category: Option<ResultCategory>,
    /// The caller, a target or a leg is this identity.
    pub identity: Option<String>,
    /// Created at or after (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Created before (ms since the epoch).
    pub until_ms: Option<i64>,
    /// Page size.
    pub limit: usize,
    /// Opaque cursor from a previous page.
    pub cursor: Option<i64>,
}

/// One page of calls, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallPage {
    /// The calls.
    pub calls: Vec<CallRecord>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl Store {
    /// One call with its legs and timeline; `None` when unknown.
    pub async fn call_record(&self, id: &str) -> Result<Option<CallRecord>, CallingError> {
        let id = id.to_string();
        self.run("reading a call record", move |db| {
            let Some((_, mut call)) = db
                .query_row(&format!("{CALL_COLUMNS} WHERE id = ?1"), [&id], call_row)
                .optional()?
            else {
                return Ok(None);
            };
            call.legs = legs(db, &call.id)?;
            call.rings = Some(rings(db, &call.id)?);
            call.timeline = Some(timeline(db, &call.id)?);
            Ok(Some(call))
        })
        .await
    }

    /// A page of calls matching `filter`, newest first.
    pub async fn call_records(&self, filter: CallFilter) -> Result<CallPage, CallingError> {
        self.run("listing call records", move |db| {
            let limit = filter.limit.max(1);
            // With an identity, the walk starts from that identity's own list of calls (newest
            // first on its primary key) instead of every call: the filter that used to read the
            // whole table now reads only that identity's calls.
            let source = if filter.identity.is_some() {
                "call_parties p
                 JOIN calls c ON c.seq = p.call_seq
                 WHERE p.identity = ?4 AND (?1 IS NULL OR p.call_seq < ?1)"
            } else {
                "calls c WHERE (?1 IS NULL OR c.seq < ?1)"
            };
            let order = if filter.identity.is_some() {
                "p.call_seq"
            } else {
                "c.seq"
            };
            // A reason filter with an identity asks for a leg of that identity with that reason.
            let mut statement = db.prepare(&format!(
                "SELECT c.seq, c.id, c.caller, c.targets, c.created_ms, c.ended_ms, c.end_code,
                        c.end_subcode, c.ended_by
                 FROM {source}
                   AND (?2 IS NULL OR c.created_ms >= ?2)
                   AND (?3 IS NULL OR c.created_ms < ?3)
                   AND ((?5 IS NULL AND ?6 IS NULL AND ?7 IS NULL)
                        OR EXISTS (SELECT 1 FROM legs l WHERE l.call_id = c.id
                                   AND (?4 IS NULL OR l.identity = ?4)
                                   AND (?5 IS NULL OR l.code = ?5)
                                   AND (?6 IS NULL OR l.subcode = ?6)
                                   AND (?7 IS NULL OR l.result_category = ?7)))
                 ORDER BY {order} DESC LIMIT ?8"
            ))?;
            let rows = statement.query_map(
                params![
                    filter.cursor,
                    filter.since_ms,
                    filter.until_ms,
                    filter.identity,
                    filter.code,
                    filter.sub_code,
                    filter.category.map(|c| c.as_str()),
                    (limit + 1) as i64
                ],
                call_row,
            )?;
            let mut found = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            let next_cursor = if found.len() > limit {
                found.truncate(limit);
                found.last().map(|(seq, _)| seq.to_string())
            } else {
                None
            };
            let mut calls = Vec::with_capacity(found.len());
            for (_, mut call) in found {
                call.legs = legs(db, &call.id)?;
                calls.push(call);
            }
            Ok(CallPage { calls, next_cursor })
        })
        .await
    }
}

/// How many legs ended with one reason over a window.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReasonCount {
    /// The reason.
    #[serde(flatten)]
    pub reason: EndReasonView,
    /// Legs that ended with it.
    pub count: u64,
    /// Its part of all the legs that ended in the window, between 0 and 1.
    #[schema(minimum = 0, maximum = 1)]
    pub share: f64,
}

/// How many legs ended in one category over a window.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoryCount {
    /// The category.
    #[schema(value_type = crate::http::openapi::ResultCategorySchema)]
    pub result_category: String,
    /// Legs that ended in it.
    pub count: u64,
    /// Its part of all the legs that ended in the window, between 0 and 1.
    #[schema(minimum = 0, maximum = 1)]
    pub share: f64,
}

/// Leg ends per category in one slice of the window.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryBucket {
    /// RFC 3339 start of the slice.
    #[schema(format = DateTime)]
    pub start: String,
    /// Category → legs that ended in it during the slice.
    pub categories: std::collections::BTreeMap<String, u64>,
}

/// Leg ends over a window: by reason, by category, and by category over time.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallSummary {
    /// RFC 3339 start of the window.
    #[schema(format = DateTime)]
    pub since: String,
    /// RFC 3339 end of the window.
    #[schema(format = DateTime)]
    pub until: String,
    /// Legs that ended in the window.
    pub legs: u64,
    /// Calls that ended in the window.
    pub calls: u64,
    /// By reason, most frequent first.
    pub reasons: Vec<ReasonCount>,
    /// By category, most frequent first.
    pub categories: Vec<CategoryCount>,
    /// Length of each slice of `buckets`, in milliseconds.
    pub bucket_ms: i64,
    /// By category in equal slices of the window, oldest first.
    pub buckets: Vec<SummaryBucket>,
}

impl Store {
    /// Counts the leg ends between `since_ms` (included) and `until_ms` (excluded), with
    /// `buckets` equal slices for the trend (at least one, at most 500).
    pub async fn call_summary(
        &self,
        since_ms: i64,
        until_ms: i64,
        buckets: usize,
    ) -> Result<CallSummary, CallingError> {
        self.run("summarizing call records", move |db| {
            let until_ms = until_ms.max(since_ms + 1);
            let slices = buckets.clamp(1, 500) as i64;
            let bucket_ms = ((until_ms - since_ms) + slices - 1) / slices;
            // The per-minute counts the triggers keep: one row per minute and reason, whatever
            // the traffic. The window is read to the minute (its first and last minutes whole).
            let mut statement = db.prepare_cached(
                "SELECT MAX(0, (minute * 60000 - ?1) / ?3), code, subcode, SUM(count)
                 FROM leg_end_minutes
                 WHERE minute >= ?1 / 60000 AND minute <= (?2 - 1) / 60000
                 GROUP BY 1, 2, 3",
            )?;
            let rows = statement
                .query_map(params![since_ms, until_ms, bucket_ms], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, u16>(1)?,
                        r.get::<_, u32>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let calls: i64 = db.query_row(
                "SELECT COUNT(*) FROM calls WHERE ended_ms >= ?1 AND ended_ms < ?2",
                params![since_ms, until_ms],
                |r| r.get(0),
            )?;
            let mut by_reason: std::collections::HashMap<(u16, u32), u64> = Default::default();
            let mut by_category: std::collections::HashMap<String, u64> = Default::default();
            let mut slices_out: Vec<SummaryBucket> = (0..slices)
                .map(|i| SummaryBucket {
                    start: rfc3339(since_ms + i * bucket_ms),
                    categories: Default::default(),
                })
                .collect();
            let mut total = 0u64;
            for (slice, code, sub_code, count) in rows {
                let count = count.max(0) as u64;
                let view = EndReasonView::of(code, sub_code);
                let category = view.result_category.as_str().to_string();
                total += count;
                *by_reason.entry((code, sub_code)).or_default() += count;
                *by_category.entry(category.clone()).or_default() += count;
                if let Some(bucket) = usize::try_from(slice)
                    .ok()
                    .and_then(|i| slices_out.get_mut(i))
                {
                    *bucket.categories.entry(category).or_default() += count;
                }
            }
            let share = |count: u64| {
                if total == 0 {
                    0.0
                } else {
                    count as f64 / total as f64
                }
            };
            let mut reasons: Vec<ReasonCount> = by_reason
                .into_iter()
                .map(|((code, sub_code), count)| ReasonCount {
                    reason: EndReasonView::of(code, sub_code),
                    count,
                    share: share(count),
                })
                .collect();
            reasons.sort_by(|a, b| {
                b.count.cmp(&a.count).then(
                    (a.reason.code, a.reason.sub_code).cmp(&(b.reason.code, b.reason.sub_code)),
                )
            });
            let mut categories: Vec<CategoryCount> = by_category
                .into_iter()
                .map(|(result_category, count)| CategoryCount {
                    result_category,
                    count,
                    share: share(count),
                })
                .collect();
            categories.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then(a.result_category.cmp(&b.result_category))
            });
            Ok(CallSummary {
                since: rfc3339(since_ms),
                until: rfc3339(until_ms),
                legs: total,
                calls: calls.max(0) as u64,
                reasons,
                categories,
                bucket_ms,
                buckets: slices_out,
            })
        })
        .await
    }
}

/// What starting again found open after a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted {
    /// Calls closed.
    pub calls: usize,
    /// Legs closed.
    pub legs: usize,
    /// The last-alive mark they were closed at (ms since the epoch), when one was stored.
    pub last_alive_ms: Option<i64>,
}

impl Store {
    /// Ends every call and leg that has no end with 500/900301, at the records writer's last-alive
    /// mark (never before the call or leg began). A graceful stop ends every call, so whatever is
    /// open when the server starts was cut off by a crash. Run before the records writer starts,
    /// which moves the mark. The webhook events of these ends (`ParticipantLeft` for each open
    /// leg, then `CallEnded`) go to the outbox for `subscriptions`, in the same transaction,
    /// numbered after the call's last event.
    pub async fn close_interrupted_calls(
        &self,
        subscriptions: Vec<Subscription>,
    ) -> Result<Interrupted, CallingError> {
        self.run("closing the calls a crash left open", move |db| {
            let tx = db.transaction()?;
            let open = open_calls(&tx)?;
            let last_alive_ms: Option<i64> = tx
                .query_row("SELECT last_ms FROM server_alive WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .optional()?
                .flatten();
            let reason = CallEndReason::of(&registry::SERVER_STOPPED_UNEXPECTEDLY);
            tx.execute(
                "INSERT INTO timeline (call_id, at_ms, kind, detail)
                 SELECT id, MAX(created_ms, COALESCE(?1, created_ms)), 'interrupted',
                        json_object('lastAliveMs', ?1)
                 FROM calls WHERE ended_ms IS NULL",
                params![last_alive_ms],
            )?;
            let legs = tx.execute(
                "UPDATE legs SET
                    left_ms = MAX(joined_ms, COALESCE(?1, joined_ms)),
                    duration_ms = MAX(0, COALESCE(?1, joined_ms) - joined_ms),
                    code = ?2, subcode = ?3, result_category = ?4
                 WHERE left_ms IS NULL",
                params![
                    last_alive_ms,
                    reason.code,
                    reason.subcode,
                    reason.category().as_str()
                ],
            )?;
            let calls = tx.execute(
                "UPDATE calls SET
                    ended_ms = MAX(created_ms, COALESCE(?1, created_ms)),
                    end_code = ?2, end_subcode = ?3
                 WHERE ended_ms IS NULL",
                params![last_alive_ms, reason.code, reason.subcode],
            )?;
            for call in &open {
                crash_events(&tx, call, &subscriptions, reason)?;
            }
            tx.commit()?;
            Ok(Interrupted {
                calls,
                legs,
                last_alive_ms,
            })
        })
        .await
    }
}

/// A call found open after a crash: what its closing events need.
struct OpenCall {
    id: String,
    last_seq: u64,
    /// (participant id, identity) of the legs still open.
    open_legs: Vec<(String, String)>,
}

fn open_calls(db: &Connection) -> rusqlite::Result<Vec<OpenCall>> {
    let mut calls = db
        .prepare("SELECT id, COALESCE(webhook_seq, 0) FROM calls WHERE ended_ms IS NULL")?
        .query_map([], |r| {
            Ok(OpenCall {
                id: r.get(0)?,
                last_seq: r.get(1)?,
                open_legs: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut legs = db.prepare(
        "SELECT participant_id, identity FROM legs
         WHERE call_id = ?1 AND left_ms IS NULL ORDER BY joined_ms, rowid",
    )?;
    for call in &mut calls {
        call.open_legs = legs
            .query_map([&call.id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(calls)
}

/// Writes to the outbox the events a call closed after a crash produces, with the bodies the
/// runtime gives them, for each subscription that takes them. Run once the call is closed.
fn crash_events(
    db: &Connection,
    call: &OpenCall,
    subscriptions: &[Subscription],
    reason: CallEndReason,
) -> rusqlite::Result<()> {
    let ended_ms: i64 = db.query_row(
        "SELECT ended_ms FROM calls WHERE id = ?1",
        [&call.id],
        |r| r.get(0),
    )?;
    let reason_json = serde_json::json!({ "code": reason.code, "subCode": reason.subcode });
    let mut statement = db.prepare(
        "SELECT participant_id, identity, code, subcode FROM legs
         WHERE call_id = ?1 AND code IS NOT NULL ORDER BY left_ms, rowid",
    )?;
    let legs_json = statement
        .query_map([&call.id], |r| {
            Ok(serde_json::json!({
                "participantId": r.get::<_, String>(0)?,
                "identity": r.get::<_, String>(1)?,
                "reason": { "code": r.get::<_, u16>(2)?, "subCode": r.get::<_, u32>(3)? },
            }))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut events = Vec::new();
    for (participant, identity) in &call.open_legs {
        events.push((
            "ParticipantLeft",
            serde_json::json!({
                "callId": call.id, "participantId": participant, "identity": identity,
                "reason": reason_json,
            }),
        ));
    }
    events.push((
        "CallEnded",
        serde_json::json!({ "callId": call.id, "reason": reason_json, "legs": legs_json }),
    ));
    let mut insert = db.prepare_cached(
        "INSERT INTO webhook_outbox
         (subscription_id, call_id, call_seq, event_id, event_type, body, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (index, (kind, mut body)) in events.into_iter().enumerate() {
        let sequence = call.last_seq + 1 + index as u64;
        let id = uuid::Uuid::new_v4().to_string();
        body["type"] = serde_json::json!(kind);
        body["eventId"] = serde_json::json!(id);
        body["time"] = serde_json::json!(rfc3339(ended_ms));
        body["sequence"] = serde_json::json!(sequence);
        let body = body.to_string();
        for subscription in subscriptions
            .iter()
            .filter(|s| s.events.is_empty() || s.events.iter().any(|e| e == kind))
        {
            insert.execute(params![
                subscription.id,
                call.id,
                sequence,
                id,
                kind,
                body,
                ended_ms
            ])?;
        }
    }
    Ok(())
}

const CALL_COLUMNS: &str =
    "SELECT seq, id, caller, targets, created_ms, ended_ms, end_code, end_subcode, ended_by FROM calls";

fn call_row(row: &Row<'_>) -> rusqlite::Result<(i64, CallRecord)> {
    let targets: String = row.get(3)?;
    let ended: Option<i64> = row.get(5)?;
    let code: Option<u16> = row.get(6)?;
    let sub_code: Option<u32> = row.get(7)?;
    Ok((
        row.get(0)?,
        CallRecord {
            id: row.get(1)?,
            caller: row.get(2)?,
            targets: serde_json::from_str(&targets).unwrap_or_default(),
            created_at: rfc3339(row.get(4)?),
            ended_at: ended.map(rfc3339),
            end_reason: code.zip(sub_code).map(|(c, s)| EndReasonView::of(c, s)),
            legs: Vec::new(),
            ended_by: json_column(row.get(8)?),
            rings: None,
            timeline: None,
        },
    ))
}

fn legs(db: &Connection, call_id: &str) -> rusqlite::Result<Vec<LegRecord>> {
    let mut statement = db.prepare_cached(
        "SELECT participant_id, endpoint_id, identity, joined_ms, left_ms, duration_ms,
                code, subcode, raw_cause, ended_by, answered
         FROM legs WHERE call_id = ?1 ORDER BY joined_ms, rowid",
    )?;
    let rows = statement.query_map([call_id], |row| {
        let left: Option<i64> = row.get(4)?;
        let code: Option<u16> = row.get(6)?;
        let sub_code: Option<u32> = row.get(7)?;
        Ok(LegRecord {
            participant_id: row.get(0)?,
            endpoint_id: row.get(1)?,
            identity: row.get(2)?,
            joined_at: rfc3339(row.get(3)?),
            left_at: left.map(rfc3339),
            duration_ms: row.get(5)?,
            end_reason: code.zip(sub_code).map(|(c, s)| EndReasonView::of(c, s)),
            raw_cause: row.get(8)?,
            ended_by: json_column(row.get(9)?),
            answered: row.get::<_, i64>(10)? != 0,
        })
    })?;
    rows.collect()
}

fn rings(db: &Connection, call_id: &str) -> rusqlite::Result<Vec<RingRecord>> {
    let mut statement = db.prepare_cached(
        "SELECT participant_id, endpoint_id, identity, ended_ms, code, subcode, raw_cause
         FROM rings WHERE call_id = ?1 ORDER BY seq",
    )?;
    let rows = statement.query_map([call_id], |row| {
        Ok(RingRecord {
            participant_id: row.get(0)?,
            endpoint_id: row.get(1)?,
            identity: row.get(2)?,
            ended_at: rfc3339(row.get(3)?),
            end_reason: EndReasonView::of(row.get(4)?, row.get(5)?),
            raw_cause: row.get(6)?,
        })
    })?;
    rows.collect()
}

/// A JSON column as a value; text that does not parse (never written by this server) reads as
/// absent rather than failing the whole record.
fn json_column(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn timeline(db: &Connection, call_id: &str) -> rusqlite::Result<Vec<TimelineEntry>> {
    let mut statement = db.prepare_cached(
        "SELECT at_ms, kind, detail FROM timeline WHERE call_id = ?1 ORDER BY seq",
    )?;
    let rows = statement.query_map([call_id], |row| {
        let detail: Option<String> = row.get(2)?;
        Ok(TimelineEntry {
            at: rfc3339(row.get(0)?),
            kind: row.get(1)?,
            detail: detail
                .and_then(|d| serde_json::from_str(&d).ok())
                .unwrap_or(serde_json::Value::Null),
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::super::{RecordOp, RecordWriter};
    use super::*;
    use appel_codes::{registry, CallEndReason};
    use std::time::{Duration, SystemTime};

    fn call_ops(call: &str, at: SystemTime, callee_reason: CallEndReason) -> Vec<RecordOp> {
        vec![
            RecordOp::CallCreated {
                call_id: call.into(),
                caller: "alice".into(),
                targets: vec!["bob".into()],
                at,
            },
            RecordOp::LegJoined {
                call_id: call.into(),
                participant_id: format!("{call}-p1"),
                endpoint_id: Some("alice-phone".into()),
                identity: "alice".into(),
                at,
            },
            RecordOp::Timeline {
                call_id: call.into(),
                at,
                kind: "ringing".into(),
                detail: serde_json::json!({"endpoints": 1}),
            },
            RecordOp::LegLeft {
                call_id: call.into(),
                participant_id: format!("{call}-p2"),
                identity: "bob".into(),
                endpoint_id: Some("bob-phone".into()),
                at: at + Duration::from_millis(5),
                reason: callee_reason,
                raw_cause: Some("declined".into()),
                ended_by: Some(format!(
                    r#"{{"by":"participant","participantId":"{call}-p2","identity":"bob"}}"#
                )),
            },
            RecordOp::LegLeft {
                call_id: call.into(),
                participant_id: format!("{call}-p1"),
                identity: "alice".into(),
                endpoint_id: None,
                at: at + Duration::from_millis(10),
                reason: CallEndReason::of(&registry::CALL_DECLINED),
                raw_cause: None,
                ended_by: Some(r#"{"by":"callControl"}"#.into()),
            },
            RecordOp::CallEnded {
                call_id: call.into(),
                at: at + Duration::from_millis(10),
                reason: Some(CallEndReason::of(&registry::CALL_DECLINED)),
                ended_by: Some(r#"{"by":"server","cause":"timer"}"#.into()),
            },
        ]
    }

    #[tokio::test]
    async fn committed_records_survive_a_restart_and_filter_by_reason() {
        let dir = tempfile::tempdir().expect("dir");
        let at = SystemTime::now();
        {
            let store = Store::open(dir.path()).expect("store");
            let writer =
                RecordWriter::start(store.path(), 3, Duration::from_secs(60)).expect("writer");
            for op in call_ops("c1", at, CallEndReason::of(&registry::CALL_DECLINED)) {
                writer.write(op);
            }
            let later = at + Duration::from_secs(1);
            for op in call_ops("c2", later, CallEndReason::of(&registry::RINGING_TIMEOUT)) {
                writer.write(op);
            }
            writer.close().await;
        }
        let store = Store::open(dir.path()).expect("reopen");
        let call = store
            .call_record("c1")
            .await
            .expect("read")
            .expect("c1 exists");
        assert_eq!(call.legs.len(), 2);
        let alice = &call.legs[0];
        assert_eq!(alice.identity, "alice");
        assert_eq!(alice.endpoint_id.as_deref(), Some("alice-phone"));
        assert_eq!(alice.duration_ms, Some(10));
        let reason = alice.end_reason.as_ref().expect("alice reason");
        assert_eq!((reason.code, reason.sub_code), (603, 0));
        assert_eq!(reason.name, "CALL_DECLINED");
        assert_eq!(call.legs[1].raw_cause.as_deref(), Some("declined"));
        assert_eq!(call.timeline.as_ref().map(Vec::len), Some(1));
        assert!(call.ended_at.is_some());

        let timeouts = store
            .call_records(CallFilter {
                sub_code: Some(10004),
                limit: 10,
                ..CallFilter::default()
            })
            .await
            .expect("list");
        assert_eq!(timeouts.calls.len(), 1);
        assert_eq!(timeouts.calls[0].id, "c2");

        let expected = store
            .call_records(CallFilter {
                category: Some(ResultCategory::ExpectedError),
                identity: Some("bob".into()),
                limit: 10,
                ..CallFilter::default()
            })
            .await
            .expect("list");
        assert_eq!(expected.calls.len(), 1);

        let first = store
            .call_records(CallFilter {
                limit: 1,
                ..CallFilter::default()
            })
            .await
            .expect("page 1");
        assert_eq!(first.calls[0].id, "c2");
        let cursor = first.next_cursor.expect("more pages");
        let second = store
            .call_records(CallFilter {
                limit: 1,
                cursor: cursor.parse().ok(),
                ..CallFilter::default()
            })
            .await
            .expect("page 2");
        assert_eq!(second.calls[0].id, "c1");
        assert_eq!(second.next_cursor, None);
    }

    /// Reads back `ops` written with batches of `batch_size`.
    async fn written(ops: &[RecordOp], batch_size: usize, calls: &[&str]) -> Vec<String> {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        let writer =
            RecordWriter::start(store.path(), batch_size, Duration::from_secs(60)).expect("writer");
        for op in ops {
            writer.write(op.clone());
        }
        writer.close().await;
        let mut out = Vec::new();
        for call in calls {
            let record = store.call_record(call).await.expect("read");
            out.push(serde_json::to_string(&record).expect("json"));
        }
        out
    }

    /// The summary of the records `ops` leave, written in batches of `batch_size`, optionally
    /// after a crash closed what was left open.
    async fn summary_of(ops: &[RecordOp], batch_size: usize, crash: bool) -> CallSummary {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        let writer =
            RecordWriter::start(store.path(), batch_size, Duration::from_secs(60)).expect("writer");
        for op in ops {
            writer.write(op.clone());
        }
        writer.close().await;
        if crash {
            store
                .close_interrupted_calls(Vec::new())
                .await
                .expect("closed");
        }
        let now = super::super::unix_ms(SystemTime::now());
        store
            .call_summary(now - 3_600_000, now + 60_000, 4)
            .await
            .expect("summary")
    }

    #[tokio::test]
    async fn the_summary_counts_each_leg_end_once_however_it_was_written() {
        let at = SystemTime::now();
        let mut ops = call_ops("c1", at, CallEndReason::of(&registry::RINGING_TIMEOUT));
        ops.extend(call_ops(
            "c2",
            at,
            CallEndReason::of(&registry::RINGING_TIMEOUT),
        ));
        // A leg joined in one batch and ended in another: inserted, then updated.
        for (batch, crash) in [(1, false), (1000, false)] {
            let summary = summary_of(&ops, batch, crash).await;
            assert_eq!(summary.legs, 4, "batches of {batch}: {summary:?}");
            let count = |code: u16, sub: u32| {
                summary
                    .reasons
                    .iter()
                    .find(|r| r.reason.code == code && r.reason.sub_code == sub)
                    .map(|r| r.count)
            };
            assert_eq!(count(603, 0), Some(2));
            assert_eq!(count(487, 10004), Some(2));
        }
        // A leg left open by a crash is counted once, when the restart closes it with 500/900301.
        let open = vec![
            ops[0].clone(),
            RecordOp::LegJoined {
                call_id: "c1".into(),
                participant_id: "c1-p1".into(),
                endpoint_id: None,
                identity: "alice".into(),
                at,
            },
        ];
        let summary = summary_of(&open, 1, true).await;
        assert_eq!(summary.legs, 1, "{summary:?}");
        assert_eq!(summary.reasons[0].reason.sub_code, 900301);
        assert_eq!(summary.calls, 1);
    }

    #[tokio::test]
    async fn one_batch_writes_the_same_records_as_one_operation_at_a_time() {
        let at = SystemTime::now();
        let mut ops = call_ops("c1", at, CallEndReason::of(&registry::CALL_DECLINED));
        // A leg joined twice (its endpoint changed) before leaving, and a call ended twice.
        ops.push(RecordOp::LegJoined {
            call_id: "c1".into(),
            participant_id: "c1-p3".into(),
            endpoint_id: Some("carol-phone".into()),
            identity: "carol".into(),
            at,
        });
        ops.push(RecordOp::LegJoined {
            call_id: "c1".into(),
            participant_id: "c1-p3".into(),
            endpoint_id: Some("carol-laptop".into()),
            identity: "carol".into(),
            at: at + Duration::from_millis(1),
        });
        ops.push(RecordOp::LegLeft {
            call_id: "c1".into(),
            participant_id: "c1-p3".into(),
            identity: "carol".into(),
            endpoint_id: None,
            at: at + Duration::from_millis(30),
            reason: CallEndReason::of(&registry::RINGING_TIMEOUT),
            raw_cause: None,
            ended_by: None,
        });
        ops.extend(call_ops(
            "c2",
            at + Duration::from_secs(1),
            CallEndReason::of(&registry::RINGING_TIMEOUT),
        ));
        ops.push(RecordOp::CallEnded {
            call_id: "c2".into(),
            at: at + Duration::from_secs(2),
            reason: None,
            ended_by: None,
        });
        let calls = ["c1", "c2"];
        let one_by_one = written(&ops, 1, &calls).await;
        let together = written(&ops, 1000, &calls).await;
        assert!(one_by_one.iter().all(|record| record != "null"));
        assert_eq!(together, one_by_one);
    }

    #[tokio::test]
    async fn flush_makes_queued_records_readable() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        let writer =
            RecordWriter::start(store.path(), 1000, Duration::from_secs(60)).expect("writer");
        for op in call_ops(
            "c9",
            SystemTime::now(),
            CallEndReason::of(&registry::CALL_DECLINED),
        ) {
            writer.write(op);
        }
        writer.flush().await;
        assert!(store.call_record("c9").await.expect("read").is_some());
        writer.close().await;
    }
}

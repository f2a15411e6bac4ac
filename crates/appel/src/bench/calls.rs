//! `appel bench calls`: call cycles between real SDK agents at a paced rate.
//!
//! `callers` pairs of agents (a caller and a callee that answers at once) are signed in with
//! identities and tokens issued over REST. A pacer hands out cycle starts at `rate` per second for
//! `duration`; each start takes an idle pair, and at most `concurrency` cycles run at once. A cycle
//! is start → ringing → accept → connected → hang-up; its setup latency is the time from
//! `start_call` to the caller seeing `Connected`. Every end reason either party sees is counted, and
//! so is every error of an accept, like sipp's response counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appel_codes::{registry, CallEndReason, CallingError};
use appel_sdk::{
    AcceptOptions, Call, CallAgent, CallAgentOptions, CallClient, CallClientOptions, CallEvent,
    CallState, HangUpOptions, IdentityId, StartCallOptions, TokenCredential,
};
use futures_util::{stream, StreamExt};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};

use super::wire::{self, WireClient};
use crate::rest::RestClient;

/// The longest one cycle may take before it counts as timed out.
pub const CYCLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most pairs of agents one run may sign in.
pub const MAX_CALLERS: usize = 5_000;
/// Highest rate one run may ask for.
pub const MAX_RATE: f64 = 100_000.0;
/// Longest run.
pub const MAX_DURATION: Duration = Duration::from_secs(600);

/// What `appel bench calls` was asked.
#[derive(Clone, Debug)]
pub struct CallsSettings {
    /// The server (loopback only).
    pub server: String,
    /// Its access key, to create identities and issue tokens.
    pub access_key: String,
    /// Pairs of agents.
    pub callers: usize,
    /// Cycle starts per second.
    pub rate: f64,
    /// How long cycles are started.
    pub duration: Duration,
    /// Most cycles in progress at once (default: `callers`).
    pub concurrency: Option<usize>,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

/// Setup latency percentiles, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

/// How many times one end reason was seen.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReasonCount {
    /// The reason's code.
    pub code: u16,
    /// The reason's subcode.
    pub sub_code: u32,
    /// How many times.
    pub count: u64,
}

/// The result of a run; `--json` prints its serde form.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallsReport {
    /// Cycles started.
    pub attempted: u64,
    /// Cycles that reached `Connected` and ended 0/0 for the caller.
    pub completed: u64,
    /// Completed cycles per second of the run.
    pub achieved_rate: f64,
    /// Setup latency of the completed cycles.
    pub latency_ms: LatencyMs,
    /// Every end reason either party saw, by `(code, subCode)`.
    pub end_reasons: Vec<ReasonCount>,
    /// Cycles that did not finish within [`CYCLE_TIMEOUT`].
    pub timed_out: u64,
    /// Seconds from the first start to the last end.
    #[serde(skip)]
    pub elapsed: f64,
    /// Call frames on the wire for one cycle, both directions and both parties (from a probe);
    /// `benchmarks/run.sh` multiplies it by the cycle rate to compare with the raw message rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_per_cycle: Option<usize>,
}

/// What every cycle and callee adds to.
struct Tally {
    latency: Histogram<u64>,
    reasons: BTreeMap<(u16, u32), u64>,
}

impl Tally {
    fn reason(&mut self, reason: CallEndReason) {
        *self
            .reasons
            .entry((reason.code, reason.subcode))
            .or_default() += 1;
    }

    fn error(&mut self, error: &CallingError) {
        self.reason(error.as_reason());
    }
}

type SharedTally = Arc<Mutex<Tally>>;

fn record(tally: &SharedTally, with: impl FnOnce(&mut Tally)) {
    if let Ok(mut tally) = tally.lock() {
        with(&mut tally);
    }
}

/// Checks the settings against the bounds of a run.
pub fn validate(settings: &CallsSettings) -> Result<usize, CallingError> {
    super::within("--callers", settings.callers, 1, MAX_CALLERS)?;
    if !settings.rate.is_finite() || settings.rate <= 0.0 || settings.rate > MAX_RATE {
        return Err(
            CallingError::new(&registry::INVALID_ARGUMENT).with_context(format!(
                "--rate {}: must be above 0 and at most {MAX_RATE}",
                settings.rate
            )),
        );
    }
    if settings.duration.is_zero() || settings.duration > MAX_DURATION {
        return Err(
            CallingError::new(&registry::INVALID_ARGUMENT).with_context(format!(
                "--duration {:?}: must be above 0 and at most {MAX_DURATION:?}",
                settings.duration
            )),
        );
    }
    let concurrency = settings.concurrency.unwrap_or(settings.callers);
    super::within("--concurrency", concurrency, 1, settings.callers)
}

/// Identities with a token each, issued `parallel` at a time.
pub async fn provision(
    rest: &RestClient,
    count: usize,
    parallel: usize,
) -> Result<Vec<(IdentityId, String)>, CallingError> {
    stream::iter(0..count)
        .map(|_| async {
            let id = rest.create_identity().await?;
            let token = rest.issue_token(&id).await?;
            Ok::<_, CallingError>((IdentityId::from(id), token))
        })
        .buffer_unordered(parallel)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Runs the benchmark.
pub async fn run(settings: CallsSettings) -> Result<CallsReport, CallingError> {
    let concurrency = validate(&settings)?;
    let target = super::loopback_target(&settings.server).await?;
    super::raise_open_files_limit();
    let rest = RestClient::new(&settings.server, &settings.access_key)?;
    let identities = provision(&rest, settings.callers * 2 + 2, 16).await?;
    let (probe_ids, identities) = identities.split_at(2);
    let frames = probe_frames(target, probe_ids).await.ok();

    let client = CallClient::new(CallClientOptions::default());
    let agents: Vec<Arc<CallAgent>> = stream::iter(identities.iter().cloned())
        .map(|(_, token)| {
            client.create_call_agent(
                TokenCredential::new(token),
                CallAgentOptions::new(&settings.server),
            )
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(Arc::new)
        .collect();
    let (callers, callees) = agents.split_at(settings.callers);

    let tally: SharedTally = Arc::new(Mutex::new(Tally {
        latency: Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| {
            CallingError::new(&registry::INTERNAL_SERVER_ERROR).with_raw_cause(e.to_string())
        })?,
        reasons: BTreeMap::new(),
    }));
    let answering: Vec<_> = callees.iter().map(|c| answer_all(c, &tally)).collect();

    let (idle_sender, mut idle) = mpsc::unbounded_channel::<usize>();
    for pair in 0..settings.callers {
        let _ = idle_sender.send(pair);
    }
    let pairs: Arc<Vec<(Arc<CallAgent>, IdentityId)>> = Arc::new(
        callers
            .iter()
            .cloned()
            .zip(callees.iter().map(|c| c.identity().clone()))
            .collect(),
    );
    let slots = Arc::new(Semaphore::new(concurrency));
    let completed = Arc::new(AtomicU64::new(0));
    let timed_out = Arc::new(AtomicU64::new(0));
    let expected = (settings.rate * settings.duration.as_secs_f64()).ceil() as u64;
    let bar = progress_bar(settings.progress, expected);

    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / settings.rate));
    let mut attempted = 0u64;
    while started.elapsed() < settings.duration && attempted < expected {
        ticks.tick().await;
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let Some(pair) = idle.recv().await else {
            break;
        };
        attempted += 1;
        let (pairs, tally, completed, timed_out, idle_sender, bar) = (
            Arc::clone(&pairs),
            Arc::clone(&tally),
            Arc::clone(&completed),
            Arc::clone(&timed_out),
            idle_sender.clone(),
            bar.clone(),
        );
        tokio::spawn(async move {
            let (caller, callee) = &pairs[pair];
            match tokio::time::timeout(CYCLE_TIMEOUT, cycle(caller, callee, &tally)).await {
                Ok(true) => {
                    completed.fetch_add(1, Ordering::Relaxed);
                }
                Ok(false) => {}
                Err(_) => {
                    timed_out.fetch_add(1, Ordering::Relaxed);
                }
            }
            bar.inc(1);
            let _ = idle_sender.send(pair);
            drop(slot);
        });
    }
    // Every cycle holds a slot until it is over: holding them all means none is left running.
    let concurrency_u32 = u32::try_from(concurrency).unwrap_or(u32::MAX);
    let _all_done = slots.acquire_many(concurrency_u32).await;
    let elapsed = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    // Give the callees a moment to see their ends before the counters are read.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for task in answering {
        task.abort();
    }
    stream::iter(agents.iter())
        .for_each_concurrent(64, |agent| agent.dispose())
        .await;

    let completed = completed.load(Ordering::Relaxed);
    let tally = tally.lock().map_err(|_| {
        CallingError::new(&registry::INTERNAL_SERVER_ERROR).with_context("tally poisoned")
    })?;
    let ms = |q: f64| tally.latency.value_at_quantile(q) as f64 / 1000.0;
    Ok(CallsReport {
        attempted,
        completed,
        achieved_rate: if elapsed > 0.0 {
            completed as f64 / elapsed
        } else {
            0.0
        },
        latency_ms: if tally.latency.is_empty() {
            LatencyMs::default()
        } else {
            LatencyMs {
                p50: ms(0.5),
                p90: ms(0.9),
                p99: ms(0.99),
                max: tally.latency.max() as f64 / 1000.0,
            }
        },
        end_reasons: tally
            .reasons
            .iter()
            .map(|(&(code, sub_code), &count)| ReasonCount {
                code,
                sub_code,
                count,
            })
            .collect(),
        timed_out: timed_out.load(Ordering::Relaxed),
        elapsed,
        frames_per_cycle: frames,
    })
}

async fn probe_frames(
    target: std::net::SocketAddr,
    ids: &[(IdentityId, String)],
) -> Result<usize, CallingError> {
    let [(_, caller_token), (callee_id, callee_token)] = ids else {
        return Err(CallingError::new(&registry::INTERNAL_SERVER_ERROR));
    };
    let caller = WireClient::sign_in(target, None, caller_token, "probe-caller".into()).await?;
    let callee = WireClient::sign_in(target, None, callee_token, "probe-callee".into()).await?;
    wire::frames_per_cycle(caller, callee, callee_id).await
}

fn progress_bar(show: bool, expected: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(expected);
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} cycles ({per_sec})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Answers every call ringing on `callee` and counts how each ends for it.
fn answer_all(callee: &CallAgent, tally: &SharedTally) -> tokio::task::JoinHandle<()> {
    let mut incoming = callee.incoming_calls();
    let tally = Arc::clone(tally);
    tokio::spawn(async move {
        while let Some(ring) = incoming.next().await {
            let tally = Arc::clone(&tally);
            tokio::spawn(async move {
                match ring.accept(AcceptOptions::default()).await {
                    Ok(call) => {
                        let reason = call.ended().await;
                        record(&tally, |t| t.reason(reason));
                    }
                    Err(error) => record(&tally, |t| t.error(&error)),
                }
            });
        }
    })
}

/// One cycle; true when the caller reached `Connected` and its call ended 0/0.
async fn cycle(caller: &CallAgent, callee: &IdentityId, tally: &SharedTally) -> bool {
    let started = Instant::now();
    let call = match caller.start_call(std::slice::from_ref(callee), StartCallOptions::default()) {
        Ok(call) => call,
        Err(error) => {
            record(tally, |t| t.error(&error));
            return false;
        }
    };
    let connected = reached_connected(&call).await;
    if connected {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        record(tally, |t| {
            let _ = t.latency.record(micros.max(1));
        });
    }
    if let Err(error) = call.hang_up(HangUpOptions::default()).await {
        record(tally, |t| t.error(&error));
    }
    let reason = call.ended().await;
    record(tally, |t| t.reason(reason));
    connected && reason == CallEndReason::of(&registry::CALL_ENDED_LOCALLY)
}

async fn reached_connected(call: &Call) -> bool {
    let mut events = call.events();
    while let Some(event) = events.next().await {
        match event {
            CallEvent::StateChanged(CallState::Connected) => return true,
            CallEvent::Ended(_) => return false,
            _ => {}
        }
    }
    false
}

impl CallsReport {
    /// The table printed without `--json`.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, label: &str, value: String| {
            out.push_str(&format!("{label:<22} {value}\n"));
        };
        line(&mut out, "attempted", self.attempted.to_string());
        line(&mut out, "completed", self.completed.to_string());
        line(&mut out, "timed out", self.timed_out.to_string());
        line(&mut out, "elapsed", format!("{:.2} s", self.elapsed));
        line(
            &mut out,
            "achieved rate",
            format!("{:.1} cycles/s", self.achieved_rate),
        );
        line(
            &mut out,
            "setup latency (ms)",
            format!(
                "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
                self.latency_ms.p50, self.latency_ms.p90, self.latency_ms.p99, self.latency_ms.max
            ),
        );
        if let Some(frames) = self.frames_per_cycle {
            line(&mut out, "frames per cycle", frames.to_string());
        }
        out.push_str("end reasons (both parties):\n");
        out.push_str(&format!(
            "  {:>4} {:>7} {:>9}  NAME\n",
            "CODE", "SUBCODE", "COUNT"
        ));
        for r in &self.end_reasons {
            let name = CallEndReason {
                code: r.code,
                subcode: r.sub_code,
            }
            .entry()
            .name;
            out.push_str(&format!(
                "  {:>4} {:>7} {:>9}  {name}\n",
                r.code, r.sub_code, r.count
            ));
        }
        out
    }
}

//! The server's Prometheus metrics, served at `GET /metrics` (access key). Each server has its own
//! registry, so several servers in one process (the tests) never count each other's calls.

use std::collections::HashMap;
use std::time::Instant;

use appel_codes::CallEndReason;
use appel_controller::RecordEvent;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// The process collector's own registry: the `appel` prefix of the other would rename its
    /// `process_*` metrics, which dashboards and alerts everywhere know by those names.
    process: Registry,
    calls_started: IntCounter,
    call_ends: IntCounterVec,
    leg_ends: IntCounterVec,
    setup_seconds: Histogram,
    active_calls: IntGauge,
    connected_endpoints: IntGauge,
    webhook_attempts: IntCounterVec,
    webhook_given_up: IntCounter,
    records_queue: IntGauge,
}

/// Buckets of the setup latency, in seconds: from a call's start to its first answer.
const SETUP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

impl Metrics {
    /// A fresh registry with every metric at zero, and the process collector where the platform
    /// has one. Fails only on a definition the registry refuses (a bug the first test shows).
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry =
            Registry::new_custom(Some("appel".into()), None).unwrap_or_else(|_| Registry::new());
        let reason_labels = &["code", "sub_code", "category"];
        let calls_started = IntCounter::new("calls_started_total", "Calls started")?;
        let call_ends = IntCounterVec::new(
            Opts::new(
                "call_ends_total",
                "Calls ended, by the call's end reason (the caller's, or the last party's)",
            ),
            reason_labels,
        )?;
        let leg_ends = IntCounterVec::new(
            Opts::new(
                "leg_ends_total",
                "Legs ended, answered or not, by each leg's own end reason",
            ),
            reason_labels,
        )?;
        let setup_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "call_setup_seconds",
                "From a call's start to its first answer (the first callee leg joined)",
            )
            .buckets(SETUP_BUCKETS.to_vec()),
        )?;
        let active_calls = IntGauge::new("active_calls", "Calls in progress")?;
        let connected_endpoints = IntGauge::new(
            "connected_endpoints",
            "Endpoints (SDK agents) connected over signaling",
        )?;
        let webhook_attempts = IntCounterVec::new(
            Opts::new(
                "webhook_attempts_total",
                "Webhook delivery attempts, by outcome (delivered: a 2xx answer; failed: anything else)",
            ),
            &["outcome"],
        )?;
        let webhook_given_up = IntCounter::new(
            "webhook_given_up_total",
            "Webhook events given up after retrying for webhooks.retry_for",
        )?;
        let records_queue = IntGauge::new(
            "records_queue_depth",
            "Call record operations queued for the records writer, not yet committed",
        )?;
        let metrics = Metrics {
            registry,
            process: Registry::new(),
            calls_started,
            call_ends,
            leg_ends,
            setup_seconds,
            active_calls,
            connected_endpoints,
            webhook_attempts,
            webhook_given_up,
            records_queue,
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(metrics.calls_started.clone()),
            Box::new(metrics.call_ends.clone()),
            Box::new(metrics.leg_ends.clone()),
            Box::new(metrics.setup_seconds.clone()),
            Box::new(metrics.active_calls.clone()),
            Box::new(metrics.connected_endpoints.clone()),
            Box::new(metrics.webhook_attempts.clone()),
            Box::new(metrics.webhook_given_up.clone()),
            Box::new(metrics.records_queue.clone()),
        ];
        for collector in collectors {
            metrics.registry.register(collector)?;
        }
        #[cfg(target_os = "linux")]
        {
            // Unprefixed `process_*` names, as every exporter writes them.
            let process = prometheus::process_collector::ProcessCollector::for_self();
            if let Err(e) = metrics.process.register(Box::new(process)) {
                tracing::error!(error = %e, "the process metrics could not be registered");
            }
        }
        // Both outcomes exist from the start, so a rate of failures is 0 rather than absent.
        for outcome in ["delivered", "failed"] {
            metrics.webhook_attempts.with_label_values(&[outcome]);
        }
        Ok(metrics)
    }

    /// A webhook attempt's outcome.
    pub fn webhook_attempt(&self, delivered: bool) {
        let outcome = if delivered { "delivered" } else { "failed" };
        self.webhook_attempts.with_label_values(&[outcome]).inc();
    }

    /// A webhook event given up.
    pub fn webhook_given_up(&self) {
        self.webhook_given_up.inc();
    }

    /// How many endpoints are connected now.
    pub fn set_connected_endpoints(&self, count: usize) {
        self.connected_endpoints
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// The text exposition, with the records queue read at the time of the scrape.
    pub fn render(&self, records_queued: i64) -> String {
        self.records_queue.set(records_queued);
        let mut out = Vec::new();
        let mut families = self.registry.gather();
        families.extend(self.process.gather());
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    fn reason(vec: &IntCounterVec, reason: CallEndReason) {
        let code = reason.code.to_string();
        let sub = reason.subcode.to_string();
        vec.with_label_values(&[code.as_str(), sub.as_str(), reason.category().as_str()])
            .inc();
    }
}

/// One log line per fact of a call, each with the call's id and, for a leg, its participant and
/// identity, so a log store finds every line of a call by `call_id`. Ends are `info` (one to a
/// few lines per call); starts and joins are `debug`, kept out of the default level because the
/// busiest servers start thousands of calls a second.
pub(crate) fn log_call_event(event: &RecordEvent) {
    match event {
        RecordEvent::CallCreated {
            call,
            caller,
            caller_participant,
            targets,
            ..
        } => tracing::debug!(
            call_id = %call,
            participant = %caller_participant,
            identity = %caller,
            targets = targets.len(),
            "call started"
        ),
        RecordEvent::LegJoined {
            call,
            participant,
            endpoint,
            identity,
            ..
        } => tracing::debug!(
            call_id = %call,
            participant = %participant,
            endpoint = %endpoint,
            identity = %identity,
            "leg joined"
        ),
        RecordEvent::LegLeft {
            call,
            participant,
            endpoint,
            identity,
            reason,
            raw_cause,
            ..
        } => tracing::info!(
            call_id = %call,
            participant = %participant,
            endpoint = %endpoint,
            identity = %identity,
            code = reason.code,
            sub_code = reason.subcode,
            category = reason.category().as_str(),
            raw_cause = raw_cause.as_deref(),
            "leg ended"
        ),
        RecordEvent::TargetEnded {
            call,
            participant,
            identity,
            reason,
            raw_cause,
            ..
        } => tracing::info!(
            call_id = %call,
            participant = %participant,
            identity = %identity,
            code = reason.code,
            sub_code = reason.subcode,
            category = reason.category().as_str(),
            raw_cause = raw_cause.as_deref(),
            "target never answered"
        ),
        RecordEvent::RingEnded {
            call,
            participant,
            endpoint,
            identity,
            reason,
            raw_cause,
            ..
        } => tracing::debug!(
            call_id = %call,
            participant = %participant,
            endpoint = %endpoint,
            identity = %identity,
            code = reason.code,
            sub_code = reason.subcode,
            category = reason.category().as_str(),
            raw_cause = raw_cause.as_deref(),
            "ring ended"
        ),
        RecordEvent::CallEnded { call, reason, .. } => tracing::info!(
            call_id = %call,
            code = reason.code,
            sub_code = reason.subcode,
            category = reason.category().as_str(),
            "call ended"
        ),
        RecordEvent::Timeline {
            call, kind, detail, ..
        } => tracing::debug!(call_id = %call, kind = kind.as_str(), detail = %detail, "call event"),
    }
}

/// What the runtime task knows of calls in progress, to time their setup. Owned by that task.
#[derive(Default)]
pub(crate) struct CallClock {
    /// Call → (started, the caller's participant has been seen joining).
    started: HashMap<String, (Instant, bool)>,
}

impl CallClock {
    /// Counts one record event.
    pub(crate) fn observe(&mut self, metrics: &Metrics, event: &RecordEvent) {
        match event {
            RecordEvent::CallCreated { call, at, .. } => {
                metrics.calls_started.inc();
                metrics.active_calls.inc();
                self.started.insert(call.to_string(), (*at, false));
            }
            RecordEvent::LegJoined { call, at, .. } => {
                // The caller's own leg joins first, at the start; the next join is an answer.
                if let Some((started, caller_seen)) = self.started.get_mut(call.as_str()) {
                    if *caller_seen {
                        metrics
                            .setup_seconds
                            .observe(at.saturating_duration_since(*started).as_secs_f64());
                        self.started.remove(call.as_str());
                    } else {
                        *caller_seen = true;
                    }
                }
            }
            RecordEvent::LegLeft { reason, .. } | RecordEvent::TargetEnded { reason, .. } => {
                Metrics::reason(&metrics.leg_ends, *reason);
            }
            RecordEvent::CallEnded { call, reason, .. } => {
                self.started.remove(call.as_str());
                metrics.active_calls.dec();
                Metrics::reason(&metrics.call_ends, *reason);
            }
            RecordEvent::Timeline { .. } | RecordEvent::RingEnded { .. } => {}
        }
    }
}

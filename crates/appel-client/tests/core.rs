//! The core driven as a shell drives it, on a made-up clock: every timer is reached by moving the
//! clock, never by sleeping.

use std::time::Duration;

use appel_client::{
    no_answer, CallRef, Config, ConnectionState, Core, Ender, Event, Instant, NoAnswer, Now,
    Output, ReconnectPolicy, TokenPolicy, Welcome,
};
use appel_codes::{registry, CallEndReason, CallingError};
use appel_protocol::{
    CallId, CallState, ClientFrame, EndedBy, EndpointId, IdentityId, ParticipantId, ResumedCall,
    ServerCause, ServerFrame,
};

const HEARTBEAT: Duration = Duration::from_secs(10);
const HOUR: u64 = 3_600_000;

/// A core and its clock.
struct Rig {
    core: Core,
    now: Now,
}

fn config(token: TokenPolicy) -> Config {
    Config {
        endpoint_id: EndpointId::new("endpoint-1"),
        push_url: None,
        manual_media_ready: false,
        call_establishment: Duration::from_secs(85),
        request_timeout: Duration::from_secs(10),
        reconnect: ReconnectPolicy {
            grace: Duration::from_secs(120),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            jitter: 0.0,
        },
        token,
        random_seed: 1,
    }
}

fn static_token() -> TokenPolicy {
    TokenPolicy {
        can_refresh: false,
        proactive: false,
        lead: Duration::from_secs(600),
    }
}

fn refreshing(proactive: bool) -> TokenPolicy {
    TokenPolicy {
        can_refresh: true,
        proactive,
        lead: Duration::from_secs(600),
    }
}

fn welcome(now: Now, expires_in: u64, resumed: Vec<ResumedCall>) -> Welcome {
    Welcome {
        heartbeat: HEARTBEAT,
        token_expires_unix_ms: now.unix_ms + expires_in,
        resumed_calls: resumed,
        client_reports: true,
    }
}

impl Rig {
    fn new(config: Config) -> Self {
        let now = Now {
            at: Instant::from_millis(0),
            unix_ms: 1_700_000_000_000,
        };
        let core = Core::new(
            config,
            now,
            "token-1".into(),
            welcome(now, HOUR, Vec::new()),
        );
        Rig { core, now }
    }

    fn outputs(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.core.poll_output()).collect()
    }

    fn sent(&mut self) -> Vec<ClientFrame> {
        self.outputs()
            .into_iter()
            .filter_map(|o| match o {
                Output::Send(frame) => Some(frame),
                _ => None,
            })
            .collect()
    }

    /// Moves the clock to `ms`, firing every timer due on the way, in order.
    fn advance_to(&mut self, ms: u64) -> Vec<Output> {
        let target = Instant::from_millis(ms);
        let mut outputs = Vec::new();
        while let Some(at) = self.core.poll_timeout().filter(|at| *at <= target) {
            self.set_time(at);
            self.core.handle_timeout(self.now);
            outputs.extend(self.outputs());
        }
        self.set_time(target);
        outputs
    }

    fn set_time(&mut self, at: Instant) {
        let step = at.saturating_duration_since(self.now.at);
        self.now = self.now.advanced(step);
    }

    fn frame(&mut self, frame: ServerFrame) -> Vec<Output> {
        self.core.frame(self.now, frame);
        self.outputs()
    }

    /// A call started and named `call_id`.
    fn named_call(&mut self, call_id: &str) -> CallRef {
        let call = self
            .core
            .start_call(self.now, |request_id| ClientFrame::StartCall {
                request_id,
                targets: vec![IdentityId::from("bob")],
                video: false,
                joinable: false,
            });
        let request_id = self.sent()[0].request_id().unwrap();
        self.frame(ServerFrame::CallCreated {
            request_id,
            call_id: CallId::new(call_id),
            participant_id: ParticipantId::new("p-1"),
        });
        call
    }
}

fn events(outputs: &[Output]) -> Vec<Event> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn ended(outputs: &[Output]) -> Vec<(CallRef, CallEndReason)> {
    events(outputs)
        .into_iter()
        .filter_map(|e| match e {
            Event::CallEnded { call, reason, .. } => Some((call, reason)),
            _ => None,
        })
        .collect()
}

fn reason(entry: &'static appel_codes::Entry) -> CallEndReason {
    CallEndReason::of(entry)
}

#[test]
fn a_request_without_answer_fails_with_900401_when_its_timeout_runs_out() {
    let mut rig = Rig::new(config(static_token()));
    let call = rig.named_call("c1");
    let call_id = rig.core.call_id(call).unwrap();
    let id = rig
        .core
        .request(rig.now, Duration::from_secs(10), |request_id| {
            ClientFrame::Hold {
                request_id,
                call_id,
            }
        });
    assert!(matches!(&rig.sent()[..], [ClientFrame::Hold { request_id, .. }] if *request_id == id));
    assert!(events(&rig.advance_to(9_999)).is_empty());
    let out = rig.advance_to(10_000);
    assert_eq!(
        events(&out),
        vec![Event::NoAnswer {
            request_id: id,
            why: NoAnswer::Timeout
        }]
    );
    let error = no_answer(
        &registry::SIGNALING_REQUEST_TIMEOUT,
        NoAnswer::Timeout,
        "hold",
        Duration::from_secs(10),
    );
    assert!(error.is(&registry::SIGNALING_REQUEST_TIMEOUT));
    // A late answer finds nobody waiting.
    assert!(events(&rig.frame(ServerFrame::Ack { request_id: id })).is_empty());
}

#[test]
fn an_answered_request_is_delivered_once_and_its_timer_dropped() {
    let mut rig = Rig::new(config(static_token()));
    let call = rig.named_call("c1");
    let call_id = rig.core.call_id(call).unwrap();
    let id = rig
        .core
        .request(rig.now, Duration::from_secs(10), |request_id| {
            ClientFrame::HangUp {
                request_id,
                call_id,
                for_everyone: false,
            }
        });
    assert_ne!(id, 0, "every request gets its own id");
    let error = CallingError::new(&registry::END_FOR_EVERYONE_NOT_ALLOWED);
    let out = rig.frame(ServerFrame::Error {
        request_id: Some(id),
        error: error.clone(),
        fatal: false,
    });
    assert_eq!(
        events(&out),
        vec![Event::Answered {
            request_id: id,
            result: Err(error)
        }]
    );
    assert!(events(&rig.advance_to(20_000)).is_empty());
}

#[test]
fn a_started_call_the_server_never_names_ends_with_408_4506_at_the_establishment_time() {
    let mut rig = Rig::new(config(static_token()));
    let call = rig
        .core
        .start_call(rig.now, |request_id| ClientFrame::JoinRoom {
            request_id,
            room_id: "room".into(),
            video: false,
        });
    rig.sent();
    assert!(ended(&rig.advance_to(84_999)).is_empty());
    let out = rig.advance_to(85_000);
    assert_eq!(
        ended(&out),
        vec![(call, reason(&registry::CALL_SETUP_TIMEOUT))]
    );
    assert!(rig.core.calls().is_empty());
}

#[test]
fn a_joined_call_is_named_and_media_ready_goes_out_by_itself() {
    let mut rig = Rig::new(config(static_token()));
    let call = rig
        .core
        .start_call(rig.now, |request_id| ClientFrame::JoinCall {
            request_id,
            call_id: CallId::new("g1"),
            video: false,
        });
    let request_id = rig.sent()[0].request_id().unwrap();
    let out = rig.frame(ServerFrame::CallJoined {
        request_id,
        call_id: CallId::new("g1"),
        participant_id: ParticipantId::new("p-9"),
    });
    assert_eq!(
        events(&out),
        vec![Event::CallIdAssigned {
            call,
            call_id: CallId::new("g1"),
            participant_id: ParticipantId::new("p-9")
        }]
    );
    assert!(out.contains(&Output::Send(ClientFrame::MediaReady {
        call_id: CallId::new("g1")
    })));
    assert!(
        ended(&rig.advance_to(100_000)).is_empty(),
        "named: no establishment timeout"
    );
}

#[test]
fn a_call_hung_up_before_it_is_named_is_left_with_a_real_request_id() {
    let mut rig = Rig::new(config(static_token()));
    let call = rig
        .core
        .start_call(rig.now, |request_id| ClientFrame::StartCall {
            request_id,
            targets: vec![IdentityId::from("bob")],
            video: false,
            joinable: false,
        });
    let request_id = rig.sent()[0].request_id().unwrap();
    rig.core.end_locally(call);
    assert_eq!(
        ended(&rig.outputs()),
        vec![(call, reason(&registry::CALL_ENDED_LOCALLY))]
    );
    let sent: Vec<_> = rig
        .frame(ServerFrame::CallCreated {
            request_id,
            call_id: CallId::new("c1"),
            participant_id: ParticipantId::new("p-1"),
        })
        .into_iter()
        .collect();
    match &sent[..] {
        [Output::Send(ClientFrame::HangUp {
            request_id: leave,
            call_id,
            for_everyone: false,
        })] => {
            assert_eq!(call_id.as_str(), "c1");
            assert!(*leave > request_id);
        }
        other => panic!("expected one hangUp, got {other:?}"),
    }
}

#[test]
fn heartbeats_go_out_each_interval_and_silence_drops_the_connection() {
    let mut rig = Rig::new(config(static_token()));
    let out = rig.advance_to(10_000);
    assert_eq!(out, vec![Output::Send(ClientFrame::Ping)]);
    rig.frame(ServerFrame::Pong);
    let out = rig.advance_to(20_000);
    assert_eq!(out, vec![Output::Send(ClientFrame::Ping)]);
    // Heard last at 10 s; at 30 s the silence is exactly two intervals, still tolerated.
    assert_eq!(
        rig.advance_to(30_000),
        vec![Output::Send(ClientFrame::Ping)]
    );
    let out = rig.advance_to(40_000);
    assert_eq!(out[0], Output::Disconnect);
    assert!(events(&out).contains(&Event::Connection(ConnectionState::Reconnecting)));
    assert_eq!(rig.core.connection_state(), ConnectionState::Reconnecting);
}

#[test]
fn calls_survive_a_drop_for_the_grace_and_only_then_end_with_496_7() {
    let mut rig = Rig::new(config(static_token()));
    let call = rig.named_call("c1");
    rig.core.connection_lost(rig.now);
    let out = rig.outputs();
    assert!(ended(&out).is_empty(), "a drop alone ends no call");
    // Every attempt fails: backoff 250 ms doubling up to 5 s.
    let mut attempts = Vec::new();
    let mut grace_end = None;
    while rig.now.at < Instant::from_millis(130_000) {
        let Some(at) = rig.core.poll_timeout() else {
            break;
        };
        let out = rig.advance_to(at.as_millis());
        for o in &out {
            if let Output::Connect(hello) = o {
                attempts.push(rig.now.at.as_millis());
                assert!(
                    matches!(hello, ClientFrame::Hello { resume: true, .. }) || grace_end.is_some()
                );
                rig.core.connect_failed(
                    rig.now,
                    &CallingError::new(&registry::SIGNALING_UNREACHABLE),
                );
            }
        }
        if !ended(&out).is_empty() {
            assert_eq!(ended(&out), vec![(call, reason(&registry::NETWORK_LOST))]);
            grace_end = Some(rig.now.at.as_millis());
        }
    }
    assert_eq!(&attempts[..6], &[250, 750, 1_750, 3_750, 7_750, 12_750]);
    assert_eq!(grace_end, Some(120_000));
    assert!(
        attempts.iter().any(|&a| a > 120_000),
        "attempts go on after the grace"
    );
}

#[test]
fn a_reconnect_resumes_the_calls_the_server_kept_ends_the_others_and_flushes_the_queue() {
    let mut rig = Rig::new(config(static_token()));
    let kept = rig.named_call("kept");
    let lost = rig.named_call("lost");
    rig.core.connection_lost(rig.now);
    rig.outputs();
    let queued = rig
        .core
        .request(rig.now, Duration::from_secs(10), |request_id| {
            ClientFrame::Hold {
                request_id,
                call_id: CallId::new("kept"),
            }
        });
    rig.core.send(ClientFrame::Ping);
    let out = rig.advance_to(250);
    assert!(matches!(
        &out[..],
        [Output::Connect(ClientFrame::Hello { resume: true, .. })]
    ));
    let resumed = ResumedCall {
        call_id: CallId::new("kept"),
        participant_id: ParticipantId::new("p-1"),
        state: CallState::Connected,
        video: false,
        participants: Vec::new(),
    };
    rig.core
        .connected(rig.now, welcome(rig.now, HOUR, vec![resumed.clone()]));
    let out = rig.outputs();
    let ev = events(&out);
    assert_eq!(ev[0], Event::Connection(ConnectionState::Connected));
    assert!(ev.contains(&Event::CallResumed {
        call: kept,
        resumed
    }));
    assert_eq!(ended(&out), vec![(lost, reason(&registry::NETWORK_LOST))]);
    assert!(
        out.contains(&Output::Send(ClientFrame::Hold {
            request_id: queued,
            call_id: CallId::new("kept")
        })),
        "what was asked offline goes out once connected"
    );
    assert!(
        !out.contains(&Output::Send(ClientFrame::Ping)),
        "no stale heartbeat"
    );
    rig.frame(ServerFrame::Ack { request_id: queued });
    assert_eq!(
        rig.core.poll_timeout(),
        Some(rig.now.at + HEARTBEAT),
        "only the heartbeat is left: no grace nor attempt timer"
    );
}

#[test]
fn a_request_sent_before_a_drop_gets_no_answer_at_once() {
    let mut rig = Rig::new(config(static_token()));
    rig.named_call("c1");
    let id = rig
        .core
        .request(rig.now, Duration::from_secs(10), |request_id| {
            ClientFrame::Hold {
                request_id,
                call_id: CallId::new("c1"),
            }
        });
    rig.sent();
    rig.core.connection_lost(rig.now);
    assert!(events(&rig.outputs()).contains(&Event::NoAnswer {
        request_id: id,
        why: NoAnswer::ConnectionLost
    }));
}

#[test]
fn token_expiring_starts_a_refresh_whose_token_goes_to_the_server() {
    let mut rig = Rig::new(config(refreshing(false)));
    let expires = rig.now.unix_ms + 60_000;
    let out = rig.frame(ServerFrame::TokenExpiring {
        expires_at: expires,
    });
    assert_eq!(
        out,
        vec![
            Output::Event(Event::TokenExpiring {
                expires_unix_ms: expires
            }),
            Output::FetchToken
        ]
    );
    assert!(
        !rig.frame(ServerFrame::TokenExpiring {
            expires_at: expires
        })
        .contains(&Output::FetchToken),
        "one at a time"
    );
    rig.core
        .token_fetched(rig.now, Ok("token-2".into()), Some(rig.now.unix_ms + HOUR));
    let request_id = match &rig.sent()[..] {
        [ClientFrame::RefreshToken { request_id, token }] if token == "token-2" => *request_id,
        other => panic!("{other:?}"),
    };
    assert_ne!(request_id, 0);
    rig.frame(ServerFrame::Ack { request_id });
    // The expiry moved to an hour away: nothing ends at the old one.
    rig.named_call("c1");
    assert!(ended(&rig.advance_to(61_000)).is_empty());
}

#[test]
fn a_token_that_lapses_ends_every_call_with_495_4507_and_leaves_them() {
    let mut rig = Rig::new(config(refreshing(false)));
    let call = rig.named_call("c1");
    rig.frame(ServerFrame::TokenExpiring {
        expires_at: rig.now.unix_ms + 4_000,
    });
    rig.core.token_fetched(
        rig.now,
        Err(CallingError::new(&registry::TOKEN_EXPIRED_DURING_CALL)
            .with_raw_cause("refresher down")),
        None,
    );
    // Retried halfway to expiry.
    assert_eq!(rig.advance_to(2_000), vec![Output::FetchToken]);
    rig.core.token_fetched(
        rig.now,
        Err(CallingError::new(&registry::TOKEN_EXPIRED_DURING_CALL)
            .with_raw_cause("refresher down")),
        None,
    );
    assert_eq!(rig.advance_to(3_000), vec![Output::FetchToken]);
    rig.core.token_fetched(
        rig.now,
        Err(CallingError::new(&registry::TOKEN_EXPIRED_DURING_CALL)
            .with_raw_cause("refresher down")),
        None,
    );
    assert!(ended(&rig.advance_to(3_999)).is_empty());
    let out = rig.advance_to(4_000);
    match &events(&out)[..] {
        [Event::CallEnded {
            call: c,
            reason: r,
            raw_cause,
            ..
        }] => {
            assert_eq!(
                (*c, *r),
                (call, reason(&registry::TOKEN_EXPIRED_DURING_CALL))
            );
            assert_eq!(
                raw_cause.as_deref(),
                Some("token expired; last refresh failed: refresher down")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Send(ClientFrame::HangUp { .. }))));
}

#[test]
fn a_proactive_credential_refreshes_lead_before_expiry_on_its_own() {
    let mut rig = Rig::new(config(refreshing(true)));
    // Welcome said an hour; the lead is ten minutes.
    assert!(!rig.advance_to(2_999_999).contains(&Output::FetchToken));
    let out = rig.advance_to(3_000_000);
    assert!(out.contains(&Output::FetchToken));
}

#[test]
fn a_refused_token_on_reconnect_fetches_a_new_one_for_the_next_hello() {
    let mut rig = Rig::new(config(refreshing(false)));
    rig.core.connection_lost(rig.now);
    rig.outputs();
    rig.advance_to(250);
    rig.core
        .connect_failed(rig.now, &CallingError::new(&registry::UNAUTHENTICATED));
    assert_eq!(rig.outputs(), vec![Output::FetchToken]);
    rig.core
        .token_fetched(rig.now, Ok("token-2".into()), Some(rig.now.unix_ms + HOUR));
    assert!(rig.sent().is_empty(), "offline: nothing is sent");
    let out = rig.advance_to(750);
    assert!(
        matches!(&out[..], [Output::Connect(ClientFrame::Hello { token, resume: false, .. })] if token == "token-2")
    );
}

#[test]
fn a_fatal_error_ends_everything_with_its_reason_and_stops() {
    let mut rig = Rig::new(config(static_token()));
    let call = rig.named_call("c1");
    let error = CallingError::new(&registry::UNAUTHENTICATED);
    let out = rig.frame(ServerFrame::Error {
        request_id: None,
        error: error.clone(),
        fatal: true,
    });
    assert_eq!(out[0], Output::Disconnect);
    assert_eq!(ended(&out), vec![(call, error.as_reason())]);
    assert!(events(&out).contains(&Event::Connection(ConnectionState::Disconnected)));
    assert_eq!(rig.core.poll_timeout(), None, "a stopped core has no timer");
}

#[test]
fn dispose_leaves_every_call_with_its_own_request_id_and_ends_it_with_0_0() {
    let mut rig = Rig::new(config(static_token()));
    let a = rig.named_call("a");
    let b = rig.named_call("b");
    rig.core.dispose();
    let out = rig.outputs();
    let ids: Vec<u64> = out
        .iter()
        .filter_map(|o| match o {
            Output::Send(ClientFrame::HangUp { request_id, .. }) => Some(*request_id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|&id| id != 0) && ids[0] != ids[1]);
    let local = reason(&registry::CALL_ENDED_LOCALLY);
    assert_eq!(ended(&out), vec![(a, local), (b, local)]);
    assert!(rig.core.is_stopped());
    let late = rig
        .core
        .request(rig.now, Duration::from_secs(1), |request_id| {
            ClientFrame::Hold {
                request_id,
                call_id: CallId::new("a"),
            }
        });
    assert_eq!(
        events(&rig.outputs()),
        vec![Event::NoAnswer {
            request_id: late,
            why: NoAnswer::Disposed
        }]
    );
}

fn ring(rig: &mut Rig, call_id: &str) -> Vec<Output> {
    rig.frame(ServerFrame::IncomingCall {
        call_id: CallId::new(call_id),
        from: IdentityId::from("alice"),
        from_participant_id: ParticipantId::new("p-a"),
        participant_id: ParticipantId::new("p-b"),
        video: false,
    })
}

#[test]
fn an_incoming_call_is_acknowledged_told_once_and_stops_with_the_server_reason() {
    let mut rig = Rig::new(config(static_token()));
    let out = ring(&mut rig, "r1");
    assert_eq!(out.len(), 2);
    assert!(matches!(
        out[0],
        Output::Send(ClientFrame::AckIncoming { .. })
    ));
    let again = ring(&mut rig, "r1");
    assert_eq!(events(&again), vec![], "a repeat is not a second call");
    let cancelled = CallEndReason::of(&registry::CALL_ACCEPTED_ELSEWHERE);
    let out = rig.frame(ServerFrame::CallEnded {
        call_id: CallId::new("r1"),
        reason: cancelled,
        raw_cause: None,
        ended_by: None,
    });
    assert_eq!(
        events(&out),
        vec![Event::IncomingStopped {
            call_id: CallId::new("r1"),
            reason: cancelled,
            raw_cause: None,
            ended_by: None,
        }]
    );
    assert!(!rig.core.is_ringing(&CallId::new("r1")));
}

#[test]
fn accepting_a_call_that_no_longer_rings_is_41006() {
    let mut rig = Rig::new(config(static_token()));
    let error = rig
        .core
        .accept(
            rig.now,
            &CallId::new("nope"),
            false,
            Duration::from_secs(10),
        )
        .unwrap_err();
    assert!(error.is(&registry::ACCEPT_NOT_RINGING));
}

#[test]
fn an_acknowledged_accept_stops_the_ringing_and_sends_media_ready() {
    let mut rig = Rig::new(config(static_token()));
    ring(&mut rig, "r1");
    let (call, request_id) = rig
        .core
        .accept(rig.now, &CallId::new("r1"), true, Duration::from_secs(10))
        .unwrap();
    assert_eq!(rig.core.call_id(call), Some(CallId::new("r1")));
    rig.sent();
    let out = rig.frame(ServerFrame::Ack { request_id });
    assert!(out.contains(&Output::Send(ClientFrame::MediaReady {
        call_id: CallId::new("r1")
    })));
    assert!(events(&out).contains(&Event::Answered {
        request_id,
        result: Ok(())
    }));
    assert!(matches!(events(&out)[0], Event::IncomingStopped { .. }));
}

#[test]
fn an_accept_without_answer_leaves_the_call_and_reports_the_timeout() {
    let mut rig = Rig::new(config(static_token()));
    ring(&mut rig, "r1");
    let (call, request_id) = rig
        .core
        .accept(rig.now, &CallId::new("r1"), false, Duration::from_secs(5))
        .unwrap();
    rig.sent();
    let out = rig.advance_to(5_000);
    assert_eq!(
        ended(&out),
        vec![(call, reason(&registry::CALL_ENDED_LOCALLY))]
    );
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Send(ClientFrame::HangUp { .. }))));
    assert!(events(&out).contains(&Event::NoAnswer {
        request_id,
        why: NoAnswer::Timeout
    }));
}

#[test]
fn a_confirmed_reject_stops_the_ringing_with_0_0_and_a_stale_one_is_41007() {
    let mut rig = Rig::new(config(static_token()));
    ring(&mut rig, "r1");
    let request_id = rig
        .core
        .reject(rig.now, &CallId::new("r1"), Duration::from_secs(10))
        .unwrap();
    assert!(
        matches!(&rig.sent()[..], [ClientFrame::Reject { request_id: id, .. }] if *id == request_id)
    );
    let out = rig.frame(ServerFrame::Ack { request_id });
    assert_eq!(
        events(&out),
        vec![
            Event::IncomingStopped {
                call_id: CallId::new("r1"),
                reason: reason(&registry::CALL_ENDED_LOCALLY),
                raw_cause: Some("rejected here".into()),
                ended_by: Some(Ender::This),
            },
            Event::Answered {
                request_id,
                result: Ok(())
            }
        ]
    );
    let error = rig
        .core
        .reject(rig.now, &CallId::new("r1"), Duration::from_secs(10))
        .unwrap_err();
    assert!(error.is(&registry::REJECT_NOT_RINGING));
}

#[test]
fn leaving_a_named_call_ends_it_and_tells_the_server() {
    let mut rig = Rig::new(config(static_token()));
    let call = rig.named_call("c1");
    rig.core.leave(call);
    let out = rig.outputs();
    assert_eq!(
        ended(&out),
        vec![(call, reason(&registry::CALL_ENDED_LOCALLY))]
    );
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Send(ClientFrame::HangUp { call_id, for_everyone: false, .. }) if call_id.as_str() == "c1"
    )));
    assert!(rig.core.calls().is_empty());
}

#[test]
fn traffic_that_is_not_a_frame_still_counts_as_a_sign_of_life() {
    let mut rig = Rig::new(config(static_token()));
    for second in 1..=6 {
        rig.advance_to(second * 10_000 - 1);
        rig.core.heard(rig.now);
    }
    assert_eq!(rig.core.connection_state(), ConnectionState::Connected);
    let out = rig.advance_to(90_000);
    assert!(
        out.contains(&Output::Disconnect),
        "silence after the last sign drops it"
    );
}

fn participant(
    id: &str,
    state: appel_protocol::ParticipantState,
) -> appel_protocol::ParticipantInfo {
    appel_protocol::ParticipantInfo {
        id: ParticipantId::new(id),
        identity: IdentityId::from("bob"),
        state,
        media: None,
    }
}

#[test]
fn repeated_states_and_participants_are_told_once_and_a_departure_once() {
    use appel_protocol::ParticipantState;
    let mut rig = Rig::new(config(static_token()));
    let call = rig.named_call("c1");
    let state = |rig: &mut Rig, state| {
        events(&rig.frame(ServerFrame::CallState {
            call_id: CallId::new("c1"),
            state,
        }))
    };
    assert_eq!(
        state(&mut rig, CallState::Ringing),
        vec![Event::CallState {
            call,
            state: CallState::Ringing
        }]
    );
    assert!(state(&mut rig, CallState::Ringing).is_empty());
    assert!(
        state(&mut rig, CallState::Disconnected).is_empty(),
        "only an end reason ends a call"
    );
    let update = |rig: &mut Rig, state| {
        events(&rig.frame(ServerFrame::ParticipantUpdated {
            call_id: CallId::new("c1"),
            participant: participant("p-2", state),
        }))
    };
    assert_eq!(update(&mut rig, ParticipantState::Ringing).len(), 1);
    assert!(update(&mut rig, ParticipantState::Ringing).is_empty());
    assert_eq!(update(&mut rig, ParticipantState::Connected).len(), 1);
    let left = |rig: &mut Rig| {
        events(&rig.frame(ServerFrame::ParticipantLeft {
            call_id: CallId::new("c1"),
            participant_id: ParticipantId::new("p-2"),
            identity: IdentityId::from("bob"),
            reason: CallEndReason::of(&registry::CALL_ENDED_LOCALLY),
            ended_by: None,
        }))
    };
    assert_eq!(left(&mut rig).len(), 1);
    assert!(left(&mut rig).is_empty());
    let remotes = rig.core.remote_participants(call);
    assert_eq!(remotes.len(), 1);
    assert_eq!(remotes[0].state, ParticipantState::Disconnected);
    assert_eq!(
        remotes[0].end_reason,
        Some(reason(&registry::CALL_ENDED_LOCALLY))
    );
    assert_eq!(rig.core.call_state(call), Some(CallState::Ringing));
}

#[test]
fn a_resumed_call_takes_the_state_and_participants_the_server_kept() {
    use appel_protocol::ParticipantState;
    let mut rig = Rig::new(config(static_token()));
    let call = rig.named_call("c1");
    rig.core.connection_lost(rig.now);
    rig.advance_to(250);
    let resumed = ResumedCall {
        call_id: CallId::new("c1"),
        participant_id: ParticipantId::new("p-1"),
        state: CallState::Connected,
        video: false,
        participants: vec![participant("p-2", ParticipantState::Connected)],
    };
    rig.core
        .connected(rig.now, welcome(rig.now, HOUR, vec![resumed.clone()]));
    let ev = events(&rig.outputs());
    assert_eq!(
        ev[1..],
        [
            Event::ParticipantUpdated {
                call,
                participant: participant("p-2", ParticipantState::Connected)
            },
            Event::CallState {
                call,
                state: CallState::Connected
            },
            Event::CallResumed { call, resumed },
        ]
    );
    assert_eq!(rig.core.call_state(call), Some(CallState::Connected));
}

#[test]
fn a_token_handed_over_by_the_application_is_confirmed_signs_the_next_hello_and_moves_the_expiry() {
    let mut rig = Rig::new(config(static_token()));
    let warned = rig.now.unix_ms + 60_000;
    let out = rig.frame(ServerFrame::TokenExpiring { expires_at: warned });
    // Without a refresher nothing is fetched: the application hears of it and acts.
    assert_eq!(
        out,
        vec![Output::Event(Event::TokenExpiring {
            expires_unix_ms: warned
        })]
    );
    let id = rig.core.refresh_token(
        rig.now,
        "token-2".into(),
        Some(rig.now.unix_ms + HOUR),
        Duration::from_secs(10),
    );
    assert!(
        matches!(&rig.sent()[..], [ClientFrame::RefreshToken { request_id, token }] if *request_id == id && token == "token-2")
    );
    assert_eq!(
        events(&rig.frame(ServerFrame::Ack { request_id: id })),
        vec![Event::Answered {
            request_id: id,
            result: Ok(())
        }]
    );
    // The warned expiry no longer ends anything: the confirmed token lasts an hour.
    let call = rig.named_call("c1");
    let mut out = Vec::new();
    for step in 1..=13 {
        out.extend(rig.advance_to(step * 5_000));
        rig.frame(ServerFrame::Pong);
    }
    assert!(ended(&out).is_empty(), "{out:?}");
    assert_eq!(rig.core.call_state(call), Some(CallState::Connecting));
    assert_eq!(rig.core.connection_state(), ConnectionState::Connected);
    // The next connection signs in with the new token.
    rig.core.connection_lost(rig.now);
    let out = rig.advance_to(rig.now.at.as_millis() + 250);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Connect(ClientFrame::Hello { token, resume: true, .. }) if token == "token-2"
    )));
    // Unanswered, it fails like any request the application waits on.
    let now = rig.now;
    rig.core.connected(now, welcome(now, HOUR, vec![]));
    rig.outputs();
    let late = rig
        .core
        .refresh_token(rig.now, "token-3".into(), None, Duration::from_secs(10));
    rig.outputs();
    let out = rig.advance_to(rig.now.at.as_millis() + 10_000);
    assert!(events(&out).contains(&Event::NoAnswer {
        request_id: late,
        why: NoAnswer::Timeout
    }));
}

/// The server names the participant who ended a call; only the core knows which participant is
/// this endpoint's own, so a page or app that compared identities would call a second device of
/// the same person "you". The core tells "this participant" from "another one" by participant id.
#[test]
fn who_ended_a_call_is_told_from_this_endpoints_point_of_view() {
    let mut rig = Rig::new(config(static_token()));
    let first = rig.named_call("c1");
    let ended = |rig: &mut Rig, call_id: &str, ended_by| {
        events(&rig.frame(ServerFrame::CallEnded {
            call_id: CallId::new(call_id),
            reason: CallEndReason::of(&registry::CALL_ENDED_LOCALLY),
            raw_cause: None,
            ended_by,
        }))
    };
    // Same identity, another participant: another device of the same person hung up.
    let by_other = ended(
        &mut rig,
        "c1",
        Some(EndedBy::participant(
            ParticipantId::new("p-9"),
            IdentityId::from("alice"),
        )),
    );
    assert!(matches!(
        &by_other[..],
        [Event::CallEnded { call, ended_by: Some(Ender::Participant { participant_id, identity }), .. }]
            if *call == first && participant_id.as_str() == "p-9" && identity.as_str() == "alice"
    ));
    let second = rig.named_call("c2");
    let by_self = ended(
        &mut rig,
        "c2",
        Some(EndedBy::participant(
            ParticipantId::new("p-1"),
            IdentityId::from("alice"),
        )),
    );
    assert!(matches!(
        &by_self[..],
        [Event::CallEnded { call, ended_by: Some(Ender::This), .. }] if *call == second
    ));
    let third = rig.named_call("c3");
    let by_timer = ended(
        &mut rig,
        "c3",
        Some(EndedBy::Server {
            cause: ServerCause::Timer,
        }),
    );
    assert!(matches!(
        &by_timer[..],
        [Event::CallEnded { call, ended_by: Some(Ender::Server(ServerCause::Timer)), .. }]
            if *call == third
    ));
    // An older server says nothing: nobody is made up.
    rig.named_call("c4");
    assert!(matches!(
        &ended(&mut rig, "c4", None)[..],
        [Event::CallEnded { ended_by: None, .. }]
    ));
}

#[test]
fn reports_go_out_only_for_a_named_call_on_a_server_that_takes_them() {
    let mut rig = Rig::new(config(static_token()));
    let unnamed = rig
        .core
        .start_call(rig.now, |request_id| ClientFrame::StartCall {
            request_id,
            targets: vec![IdentityId::from("bob")],
            video: false,
            joinable: false,
        });
    rig.sent();
    // No id yet: nothing to attach the fact to.
    rig.core
        .report(unnamed, appel_protocol::ReportKind::MediaConnected, None);
    assert!(rig.sent().is_empty());

    let call = rig.named_call("c1");
    rig.sent();
    rig.core.report(
        call,
        appel_protocol::ReportKind::IceState,
        Some("disconnected".into()),
    );
    assert_eq!(
        rig.sent(),
        vec![ClientFrame::Report {
            call_id: CallId::new("c1"),
            kind: appel_protocol::ReportKind::IceState,
            detail: Some("disconnected".into()),
        }]
    );

    // A server whose welcome does not say `clientReports` gets none (it would not know the type).
    let now = rig.now;
    let mut older = Rig {
        core: Core::new(
            config(static_token()),
            now,
            "token-1".into(),
            Welcome {
                client_reports: false,
                ..welcome(now, HOUR, Vec::new())
            },
        ),
        now,
    };
    let call = older.named_call("c2");
    older.sent();
    older
        .core
        .report(call, appel_protocol::ReportKind::MediaConnected, None);
    assert!(older.sent().is_empty());
}

#[test]
fn a_call_told_to_move_to_the_media_server_hears_it_once_and_gets_its_answer_and_offers() {
    let mut rig = Rig::new(config(static_token()));
    let call = rig.named_call("c-move");
    let out = rig.frame(ServerFrame::MediaServer {
        call_id: CallId::new("c-move"),
    });
    assert_eq!(events(&out), vec![Event::MediaServer { call }]);
    // A notice about a call this endpoint is not in is nobody's business.
    let out = rig.frame(ServerFrame::MediaServer {
        call_id: CallId::new("someone-else"),
    });
    assert!(events(&out).is_empty());

    let request_id = rig
        .core
        .request(rig.now, Duration::from_secs(10), |request_id| {
            ClientFrame::MediaOffer {
                request_id,
                call_id: CallId::new("c-move"),
                sdp: "offer".into(),
            }
        });
    rig.sent();
    let out = rig.frame(ServerFrame::MediaAnswer {
        request_id,
        call_id: CallId::new("c-move"),
        sdp: "answer".into(),
    });
    // The SDP reaches the call before the request is answered, so the answer finds it.
    assert_eq!(
        events(&out),
        vec![
            Event::MediaAnswer {
                call,
                sdp: "answer".into()
            },
            Event::Answered {
                request_id,
                result: Ok(())
            }
        ]
    );
    let out = rig.frame(ServerFrame::MediaOffer {
        call_id: CallId::new("c-move"),
        sdp: "tracks of the others".into(),
    });
    assert_eq!(
        events(&out),
        vec![Event::MediaOffer {
            call,
            sdp: "tracks of the others".into()
        }]
    );
    // Answered once: no timeout of the media offer later.
    assert!(events(&rig.advance_to(60_000))
        .iter()
        .all(|e| !matches!(e, Event::NoAnswer { .. })));
}

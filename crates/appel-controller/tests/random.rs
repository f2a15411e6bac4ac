//! Random sequences of inputs, garbage included, never panic; once every timer has fired, every
//! call has ended and nothing is left behind.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use appel_codes::CallEndReason;
use appel_controller::{Action, Controller, ControllerConfig, EndpointKey, Input};
use appel_protocol::{CallId, ClientFrame, ServerFrame};
use proptest::prelude::*;

const IDENTITIES: [&str; 3] = ["alice", "bob", "carol"];
const ENDPOINTS: [(&str, usize); 5] = [("a1", 0), ("b1", 1), ("b2", 1), ("c1", 2), ("c2", 2)];

#[derive(Clone, Debug)]
enum Step {
    Online {
        endpoint: usize,
        resume: bool,
        push: bool,
        short_token: bool,
    },
    Lost(usize),
    Closed(usize),
    Start {
        endpoint: usize,
        targets: Vec<usize>,
    },
    Ack {
        endpoint: usize,
        call: usize,
    },
    Accept {
        endpoint: usize,
        call: usize,
    },
    Reject {
        endpoint: usize,
        call: usize,
    },
    HangUp {
        endpoint: usize,
        call: usize,
        all: bool,
    },
    Hold {
        endpoint: usize,
        call: usize,
    },
    Resume {
        endpoint: usize,
        call: usize,
    },
    MediaReady {
        endpoint: usize,
        call: usize,
    },
    Signal {
        endpoint: usize,
        call: usize,
    },
    Push {
        identity: usize,
        ok: bool,
    },
    Revoke(usize),
    Delete(usize),
    Refresh(usize),
    HangUpAll(usize),
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    let endpoint = 0..ENDPOINTS.len();
    // Call index 0..8: the n-th call created, or a made-up id when there is none.
    let call = 0..8usize;
    prop_oneof![
        3 => (endpoint.clone(), any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(endpoint, resume, push, short_token)| Step::Online { endpoint, resume, push, short_token }),
        1 => endpoint.clone().prop_map(Step::Lost),
        1 => endpoint.clone().prop_map(Step::Closed),
        3 => (endpoint.clone(), proptest::collection::vec(0..4usize, 0..4))
            .prop_map(|(endpoint, targets)| Step::Start { endpoint, targets }),
        3 => (endpoint.clone(), call.clone()).prop_map(|(endpoint, call)| Step::Ack { endpoint, call }),
        3 => (endpoint.clone(), call.clone()).prop_map(|(endpoint, call)| Step::Accept { endpoint, call }),
        2 => (endpoint.clone(), call.clone()).prop_map(|(endpoint, call)| Step::Reject { endpoint, call }),
        2 => (endpoint.clone(), call.clone(), any::<bool>()).prop_map(|(endpoint, call, all)| Step::HangUp { endpoint, call, all }),
        1 => (endpoint.clone(), call.clone()).prop_map(|(endpoint, call)| Step::Hold { endpoint, call }),
        1 => (endpoint.clone(), call.clone()).prop_map(|(endpoint, call)| Step::Resume { endpoint, call }),
        3 => (endpoint.clone(), call.clone()).prop_map(|(endpoint, call)| Step::MediaReady { endpoint, call }),
        1 => (endpoint.clone(), call.clone()).prop_map(|(endpoint, call)| Step::Signal { endpoint, call }),
        1 => (0..4usize, any::<bool>()).prop_map(|(identity, ok)| Step::Push { identity, ok }),
        1 => (0..4usize).prop_map(Step::Revoke),
        1 => (0..4usize).prop_map(Step::Delete),
        1 => endpoint.clone().prop_map(Step::Refresh),
        1 => call.clone().prop_map(Step::HangUpAll),
        3 => (0..150_000u64).prop_map(Step::Wait),
    ]
}

/// Endpoint `i`, keyed with the identity it belongs to.
fn key(i: usize) -> EndpointKey {
    EndpointKey::new(identity(ENDPOINTS[i].1), ENDPOINTS[i].0)
}

fn identity(index: usize) -> String {
    IDENTITIES
        .get(index)
        .map_or_else(|| "ghost".to_owned(), |s| (*s).to_owned())
}

struct World {
    controller: Controller,
    now: std::time::Instant,
    calls: Vec<CallId>,
    request: u64,
    /// (endpoint, call) → whether a call-end was already sent since the last incoming call or
    /// creation, to check that no endpoint hears of one end twice.
    ended: HashMap<(EndpointKey, CallId), bool>,
}

impl World {
    fn call(&self, index: usize) -> CallId {
        self.calls
            .get(index)
            .cloned()
            .unwrap_or_else(|| CallId::from(format!("garbage-{index}")))
    }

    fn drain(&mut self) -> Result<(), TestCaseError> {
        while let Some(action) = self.controller.poll_action() {
            if let Action::Send { endpoint, frame } = action {
                match frame {
                    ServerFrame::CallCreated { call_id, .. } => {
                        self.calls.push(call_id.clone());
                        self.ended.insert((endpoint, call_id), false);
                    }
                    ServerFrame::IncomingCall { call_id, .. } => {
                        self.ended.insert((endpoint, call_id), false);
                    }
                    ServerFrame::CallEnded {
                        call_id, reason, ..
                    } => {
                        let key = (endpoint, call_id);
                        let twice = self.ended.insert(key.clone(), true);
                        prop_assert_ne!(
                            twice,
                            Some(true),
                            "{:?} heard of one end twice ({})",
                            key,
                            reason
                        );
                        prop_assert!(twice.is_some(), "{:?} ended a call it never had", key);
                        let _: CallEndReason = reason;
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn frame(
        &mut self,
        endpoint: usize,
        build: impl FnOnce(u64, CallId) -> ClientFrame,
        call: usize,
    ) {
        self.request += 1;
        let frame = build(self.request, self.call(call));
        self.controller.handle(
            self.now,
            Input::Frame {
                endpoint: key(endpoint),
                frame,
            },
        );
    }

    fn apply(&mut self, step: Step) {
        let now = self.now;
        let ep = key;
        match step {
            Step::Online {
                endpoint,
                resume,
                push,
                short_token,
            } => self.controller.handle(
                now,
                Input::EndpointOnline {
                    endpoint: ep(endpoint),
                    ever_registered: false,
                    token_expires_at: now
                        + Duration::from_secs(if short_token { 90 } else { 86_400 }),
                    push_url: push.then(|| "https://push.example/x".to_owned()),
                    resume,
                },
            ),
            Step::Lost(endpoint) => self.controller.handle(
                now,
                Input::EndpointLost {
                    endpoint: ep(endpoint),
                },
            ),
            Step::Closed(endpoint) => self.controller.handle(
                now,
                Input::EndpointClosed {
                    endpoint: ep(endpoint),
                },
            ),
            Step::Start { endpoint, targets } => {
                let targets = targets.into_iter().map(|t| identity(t).into()).collect();
                self.frame(
                    endpoint,
                    |request_id, _| ClientFrame::StartCall {
                        request_id,
                        targets,
                        video: false,
                        // Every other call may be joined by anyone who has its id.
                        joinable: request_id % 2 == 0,
                    },
                    0,
                )
            }
            Step::Ack { endpoint, call } => self.frame(
                endpoint,
                |_, call_id| ClientFrame::AckIncoming { call_id },
                call,
            ),
            Step::Accept { endpoint, call } => self.frame(
                endpoint,
                |request_id, call_id| ClientFrame::Accept {
                    request_id,
                    call_id,
                    video: true,
                },
                call,
            ),
            Step::Reject { endpoint, call } => self.frame(
                endpoint,
                |request_id, call_id| ClientFrame::Reject {
                    request_id,
                    call_id,
                },
                call,
            ),
            Step::HangUp {
                endpoint,
                call,
                all,
            } => self.frame(
                endpoint,
                |request_id, call_id| ClientFrame::HangUp {
                    request_id,
                    call_id,
                    for_everyone: all,
                },
                call,
            ),
            Step::Hold { endpoint, call } => self.frame(
                endpoint,
                |request_id, call_id| ClientFrame::Hold {
                    request_id,
                    call_id,
                },
                call,
            ),
            Step::Resume { endpoint, call } => self.frame(
                endpoint,
                |request_id, call_id| ClientFrame::Resume {
                    request_id,
                    call_id,
                },
                call,
            ),
            Step::MediaReady { endpoint, call } => self.frame(
                endpoint,
                |_, call_id| ClientFrame::MediaReady { call_id },
                call,
            ),
            Step::Signal { endpoint, call } => self.frame(
                endpoint,
                |_, call_id| ClientFrame::Signal {
                    call_id,
                    to: None,
                    payload: serde_json::json!({"x": 1}),
                },
                call,
            ),
            Step::Push { identity: who, ok } => self.controller.handle(
                now,
                Input::PushDelivered {
                    identity: identity(who).into(),
                    ok,
                },
            ),
            Step::Revoke(who) => self.controller.handle(
                now,
                Input::TokensRevoked {
                    identity: identity(who).into(),
                },
            ),
            Step::Delete(who) => self.controller.handle(
                now,
                Input::IdentityDeleted {
                    identity: identity(who).into(),
                },
            ),
            Step::Refresh(endpoint) => self.controller.handle(
                now,
                Input::TokenRefreshed {
                    endpoint: ep(endpoint),
                    expires_at: now + Duration::from_secs(120),
                },
            ),
            Step::HangUpAll(call) => {
                let call = self.call(call);
                self.controller.handle(
                    now,
                    Input::HangUpAll {
                        call,
                        reason: CallEndReason::of(&appel_codes::registry::SERVER_SHUTTING_DOWN),
                    },
                )
            }
            Step::Wait(ms) => {
                self.now += Duration::from_millis(ms);
                self.controller.handle_timeout(self.now);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_inputs_never_panic_and_every_call_ends_once_all_timers_fire(
        steps in proptest::collection::vec(step(), 1..80),
        seed in any::<[u8; 32]>(),
    ) {
        let mut world = World {
            controller: Controller::new(ControllerConfig { id_seed: seed, ..ControllerConfig::default() }),
            now: std::time::Instant::now(),
            calls: Vec::new(),
            request: 0,
            ended: HashMap::new(),
        };
        for step in steps {
            world.apply(step);
            world.drain()?;
        }
        // Every endpoint's token expires eventually, so firing every timer ends everything.
        let mut fired = 0;
        while let Some(deadline) = world.controller.poll_timeout() {
            world.now = world.now.max(deadline);
            world.controller.handle_timeout(world.now);
            world.drain()?;
            fired += 1;
            prop_assert!(fired < 10_000, "timers keep re-arming");
        }
        prop_assert_eq!(world.controller.call_count(), 0);
        prop_assert_eq!(world.controller.endpoint_count(), 0);
        prop_assert_eq!(world.controller.timer_count(), 0);
    }
}

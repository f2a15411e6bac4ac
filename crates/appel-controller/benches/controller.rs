//! Events per second for full call cycles: start → ack → accept → mediaReady → hang up, with and
//! without ten thousand other calls in progress (the cost of one event must not grow with them).

use std::time::{Duration, Instant};

use appel_controller::{Controller, ControllerConfig, EndpointKey, Input};
use appel_protocol::{CallId, ClientFrame, ServerFrame};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

/// Inputs fed per cycle.
const EVENTS_PER_CYCLE: u64 = 5;

fn online(controller: &mut Controller, now: Instant, endpoint: &str) {
    controller.handle(
        now,
        Input::EndpointOnline {
            endpoint: EndpointKey::new(endpoint, endpoint),
            ever_registered: true,
            token_expires_at: now + Duration::from_secs(86_400),
            push_url: None,
            resume: false,
        },
    );
}

fn frame(controller: &mut Controller, now: Instant, endpoint: &str, frame: ClientFrame) {
    controller.handle(
        now,
        Input::Frame {
            endpoint: EndpointKey::new(endpoint, endpoint),
            frame,
        },
    );
}

/// Feeds one full cycle between `caller` and `callee` and returns how many actions it produced.
fn cycle(controller: &mut Controller, now: Instant, caller: &str, callee: &str) -> usize {
    frame(
        controller,
        now,
        caller,
        ClientFrame::StartCall {
            request_id: 1,
            targets: vec![callee.into()],
            video: false,
            joinable: false,
        },
    );
    let mut actions = 0;
    let mut call: Option<CallId> = None;
    while let Some(action) = controller.poll_action() {
        actions += 1;
        if let appel_controller::Action::Send {
            frame: ServerFrame::CallCreated { call_id, .. },
            ..
        } = action
        {
            call = Some(call_id);
        }
    }
    let call_id = call.expect("the call starts");
    let steps = [
        (
            callee,
            ClientFrame::AckIncoming {
                call_id: call_id.clone(),
            },
        ),
        (
            callee,
            ClientFrame::Accept {
                request_id: 2,
                call_id: call_id.clone(),
                video: false,
            },
        ),
        (
            callee,
            ClientFrame::MediaReady {
                call_id: call_id.clone(),
            },
        ),
        (
            caller,
            ClientFrame::HangUp {
                request_id: 3,
                call_id,
                for_everyone: false,
            },
        ),
    ];
    for (endpoint, step) in steps {
        frame(controller, now, endpoint, step);
        while let Some(action) = controller.poll_action() {
            black_box(action);
            actions += 1;
        }
    }
    actions
}

fn full_call_cycles(c: &mut Criterion) {
    let mut group = c.benchmark_group("controller");
    group.throughput(Throughput::Elements(EVENTS_PER_CYCLE));

    let now = Instant::now();
    let mut idle = Controller::new(ControllerConfig::default());
    online(&mut idle, now, "alice");
    online(&mut idle, now, "bob");
    while idle.poll_action().is_some() {}
    group.bench_function("call cycle, nothing else in progress", |b| {
        b.iter(|| cycle(&mut idle, now, "alice", "bob"))
    });

    let mut busy = Controller::new(ControllerConfig::default());
    online(&mut busy, now, "alice");
    online(&mut busy, now, "bob");
    for n in 0..10_000 {
        let (caller, callee) = (format!("caller-{n}"), format!("callee-{n}"));
        online(&mut busy, now, &caller);
        online(&mut busy, now, &callee);
        frame(
            &mut busy,
            now,
            &caller,
            ClientFrame::StartCall {
                request_id: 1,
                targets: vec![callee.as_str().into()],
                video: false,
                joinable: false,
            },
        );
    }
    while busy.poll_action().is_some() {}
    assert_eq!(busy.call_count(), 10_000);
    group.bench_function("call cycle, 10000 other calls ringing", |b| {
        b.iter(|| cycle(&mut busy, now, "alice", "bob"))
    });
    group.finish();
}

criterion_group!(benches, full_call_cycles);
criterion_main!(benches);

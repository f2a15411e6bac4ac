//! Who may act on which call, over the real protocol, each test written as the attack it stops: an
//! outsider who learnt a call's id, an identity that borrows another's endpoint id, a guess at the
//! next call id.

mod support;

use appel_codes::{registry, CallingError};
use appel_protocol::{CallId, ClientFrame, ParticipantId, ServerFrame};
use support::{Client, TestServer};

/// A connected 1:1 call of alice and bob, quiet (every frame so far read), and mallory signed in.
struct OneToOne {
    call: CallId,
    alice_participant: ParticipantId,
    alice: Client,
    bob: Client,
    bob_identity: String,
    mallory: Client,
}

async fn one_to_one(server: &TestServer) -> OneToOne {
    let (_, mut alice) = server.user("alice-laptop").await;
    let (bob_identity, mut bob) = server.user("bob-phone").await;
    let (_, mallory) = server.user("mallory-laptop").await;
    let (call, alice_participant) = alice.start_call(&[&bob_identity]).await;
    bob.incoming().await;
    bob.accept(&call).await.expect("accept");
    bob.media_ready(&call).await;
    connected(&mut alice, &call).await;
    alice.drain().await;
    bob.drain().await;
    OneToOne {
        call,
        alice_participant,
        alice,
        bob,
        bob_identity,
        mallory,
    }
}

async fn connected(client: &mut Client, call: &CallId) {
    client
        .wait_for("Connected", |f| match f {
            ServerFrame::CallState { call_id, state }
                if call_id == call && *state == appel_protocol::CallState::Connected =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
}

/// `joinCall` of `call`; the participant id joined as, or the refusal.
async fn join(client: &mut Client, call: &CallId) -> Result<ParticipantId, CallingError> {
    client.join_call(call, false).await
}

/// An id of the same shape that no call has: the time-ordered half kept, the random half not.
fn made_up(call: &CallId) -> CallId {
    CallId::from(format!("{}{}", &call.as_str()[..16], "0".repeat(32)))
}

/// The refusal of `call` is, field by field, the refusal of an id that never existed.
fn assert_same_as_unknown(refused: &CallingError, call: &CallId, unknown: &CallingError) {
    assert!(
        refused.is(&registry::CALL_OPERATION_UNKNOWN_CALL),
        "{refused:?}"
    );
    assert_eq!(refused.code(), unknown.code());
    assert_eq!(refused.entry().subcode, unknown.entry().subcode);
    assert_eq!(refused.entry().category, unknown.entry().category);
    assert_eq!(refused.raw_cause(), unknown.raw_cause());
    // The context names the id asked about, and nothing else.
    assert_eq!(refused.context(), Some(format!("call {call}").as_str()));
    let guessed = unknown.context().expect("context").rsplit(' ').next();
    assert_eq!(
        unknown
            .context()
            .map(|c| c.replace(guessed.unwrap_or(""), "")),
        refused.context().map(|c| c.replace(call.as_str(), "")),
    );
}

#[tokio::test]
async fn an_uninvited_identity_cannot_join_a_one_to_one_call() {
    let server = TestServer::start().await;
    let mut c = one_to_one(&server).await;
    let unknown = join(&mut c.mallory, &made_up(&c.call))
        .await
        .expect_err("no such call");
    let refused = join(&mut c.mallory, &c.call)
        .await
        .expect_err("not invited");
    assert_same_as_unknown(&refused, &c.call, &unknown);
    // Neither party hears of it, and mallory got nothing else (no SDP, no participant list).
    assert_eq!(c.alice.drain().await, Vec::new());
    assert_eq!(c.bob.drain().await, Vec::new());
    assert_eq!(c.mallory.drain().await, Vec::new());
    // The call goes on: alice's signal still reaches bob.
    c.alice
        .send(ClientFrame::Signal {
            call_id: c.call.clone(),
            to: None,
            payload: serde_json::json!({"sdp": "v=0 real"}),
        })
        .await;
    c.bob
        .wait_for("alice's signal", |f| {
            matches!(f, ServerFrame::Signal { call_id, .. } if *call_id == c.call).then_some(())
        })
        .await;
}

#[tokio::test]
async fn an_outsider_cannot_signal_hang_up_or_remove_in_someone_elses_call() {
    let server = TestServer::start().await;
    let mut c = one_to_one(&server).await;
    let unknown = join(&mut c.mallory, &made_up(&c.call))
        .await
        .expect_err("no such call");
    let call = c.call.clone();
    let alice = c.alice_participant.clone();
    let requests: Vec<Box<dyn Fn(u64) -> ClientFrame>> = vec![
        Box::new(|request_id| ClientFrame::HangUp {
            request_id,
            call_id: call.clone(),
            for_everyone: true,
        }),
        Box::new(|request_id| ClientFrame::RemoveParticipant {
            request_id,
            call_id: call.clone(),
            participant_id: alice.clone(),
        }),
        Box::new(|request_id| ClientFrame::AddParticipant {
            request_id,
            call_id: call.clone(),
            identity: "someone".into(),
        }),
        Box::new(|request_id| ClientFrame::Hold {
            request_id,
            call_id: call.clone(),
        }),
        Box::new(|request_id| ClientFrame::Resume {
            request_id,
            call_id: call.clone(),
        }),
        Box::new(|request_id| ClientFrame::MediaState {
            request_id,
            call_id: call.clone(),
            audio: true,
            video: true,
            screen_share: true,
        }),
        Box::new(|request_id| ClientFrame::MediaOffer {
            request_id,
            call_id: call.clone(),
            sdp: "v=0 forged offer".into(),
        }),
        Box::new(|request_id| ClientFrame::Accept {
            request_id,
            call_id: call.clone(),
            video: false,
        }),
        Box::new(|request_id| ClientFrame::Reject {
            request_id,
            call_id: call.clone(),
        }),
    ];
    for make in &requests {
        let refused = c
            .mallory
            .request(make)
            .await
            .expect_err("an outsider's request is refused");
        assert_same_as_unknown(&refused, &call, &unknown);
    }
    for frame in [
        ClientFrame::Signal {
            call_id: call.clone(),
            to: None,
            payload: serde_json::json!({"sdp": "v=0 forged offer"}),
        },
        ClientFrame::Signal {
            call_id: call.clone(),
            to: Some(alice.clone()),
            payload: serde_json::json!({"candidate": "forged"}),
        },
        ClientFrame::MediaReady {
            call_id: call.clone(),
        },
        ClientFrame::AckIncoming {
            call_id: call.clone(),
        },
        ClientFrame::MediaAnswer {
            call_id: call.clone(),
            sdp: "v=0 forged answer".into(),
        },
    ] {
        c.mallory.send(frame).await;
        let (refused, fatal) = c.mallory.error().await;
        assert!(!fatal);
        assert_same_as_unknown(&refused, &call, &unknown);
    }
    assert_eq!(c.alice.drain().await, Vec::new());
    assert_eq!(c.bob.drain().await, Vec::new());
    // Nothing was ended, held or removed: bob can still hold and signal alice.
    c.bob
        .request(|request_id| ClientFrame::Hold {
            request_id,
            call_id: call.clone(),
        })
        .await
        .expect("bob holds his own call");
    c.bob
        .send(ClientFrame::Signal {
            call_id: call.clone(),
            to: Some(alice.clone()),
            payload: serde_json::json!({"sdp": "v=0 real"}),
        })
        .await;
    c.alice
        .wait_for("bob's signal", |f| {
            matches!(f, ServerFrame::Signal { call_id, .. } if *call_id == call).then_some(())
        })
        .await;
}

#[tokio::test]
async fn an_invited_target_and_an_added_participant_may_join_by_id() {
    let server = TestServer::start().await;
    let mut c = one_to_one(&server).await;
    // bob's other device joins the call its identity was called to.
    let mut bob_tablet = server.connect(&c.bob_identity, "bob-tablet").await;
    join(&mut bob_tablet, &c.call)
        .await
        .expect("a target's endpoint joins");
    // carol is added by alice, then joins by id from a device of hers.
    let carol = server.create_identity().await;
    let call = c.call.clone();
    let added = carol.clone();
    c.alice
        .request(|request_id| ClientFrame::AddParticipant {
            request_id,
            call_id: call.clone(),
            identity: added.as_str().into(),
        })
        .await
        .expect("alice adds carol");
    let mut carol_laptop = server.connect(&carol, "carol-laptop").await;
    join(&mut carol_laptop, &c.call)
        .await
        .expect("an added identity joins");
    // mallory still may not.
    let refused = join(&mut c.mallory, &c.call).await.expect_err("refused");
    assert!(refused.is(&registry::CALL_OPERATION_UNKNOWN_CALL));
}

#[tokio::test]
async fn anyone_with_the_id_joins_a_joinable_group_call() {
    let server = TestServer::start().await;
    let (_, mut host) = server.user("host-laptop").await;
    // No target: the host shares the id and people come.
    let (call, _) = host.start_call_with(&[], true).await;
    for name in ["guest-1", "guest-2"] {
        let (_, mut guest) = server.user(name).await;
        join(&mut guest, &call)
            .await
            .expect("anyone with the id joins");
        guest.media_ready(&call).await;
        connected(&mut guest, &call).await;
    }
    connected(&mut host, &call).await;
}

#[tokio::test]
async fn a_borrowed_endpoint_id_neither_closes_nor_resumes_the_owner() {
    let server = TestServer::start().await;
    let (alice_identity, mut alice) = server.user("shared-name").await;
    let (bob_identity, mut bob) = server.user("bob-phone").await;
    let mallory = server.create_identity().await;
    let (call, alice_participant) = alice.start_call(&[&bob_identity]).await;
    bob.incoming().await;
    bob.accept(&call).await.expect("accept");
    bob.media_ready(&call).await;
    connected(&mut alice, &call).await;
    alice.drain().await;
    bob.drain().await;

    // Without resume: mallory signs in with alice's endpoint id.
    let token = server.token(&mallory).await;
    let mut first = Client::sign_in(&server.ws_url(), &token, "shared-name", None)
        .await
        .expect("mallory is welcomed as herself");
    assert_eq!(first.drain().await, Vec::new());
    let refused = first.hang_up(&call).await.expect_err("not mallory's call");
    assert!(refused.is(&registry::CALL_OPERATION_UNKNOWN_CALL));
    first.close().await;

    // With resume: nothing of alice's is handed over.
    let (mut second, resumed) = Client::sign_in_resuming(&server.ws_url(), &token, "shared-name")
        .await
        .expect("mallory is welcomed as herself");
    assert!(resumed.is_empty(), "{resumed:?}");
    assert_eq!(second.drain().await, Vec::new());
    second.vanish().await;

    // alice stayed connected and in her call; bob heard nothing; the call goes on.
    assert!(alice.still_served().await);
    assert_eq!(alice.drain().await, Vec::new());
    assert_eq!(bob.drain().await, Vec::new());
    bob.send(ClientFrame::Signal {
        call_id: call.clone(),
        to: Some(alice_participant),
        payload: serde_json::json!({"sdp": "v=0 for alice"}),
    })
    .await;
    alice
        .wait_for("bob's signal", |f| {
            matches!(f, ServerFrame::Signal { call_id, .. } if *call_id == call).then_some(())
        })
        .await;
    let (status, snapshot) = server
        .get_json(&format!("/call-control/calls/{call}"))
        .await;
    assert_eq!(status, 200, "{snapshot}");
    let identities: Vec<&str> = snapshot["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .filter_map(|p| p["identity"].as_str())
        .collect();
    assert!(identities.contains(&alice_identity.as_str()), "{snapshot}");
    assert!(!identities.contains(&mallory.as_str()), "{snapshot}");
}

/// The random half of a call id as bits.
fn random_half(call: &CallId) -> u128 {
    let id = call.as_str();
    assert_eq!(id.len(), 48, "{id}");
    u128::from_str_radix(&id[16..], 16).expect("hex")
}

#[tokio::test]
async fn call_ids_carry_128_random_bits_and_differ_between_two_servers_started_together() {
    let (one, two) = tokio::join!(TestServer::start(), TestServer::start());
    let mut ids = Vec::new();
    let mut participants = Vec::new();
    for server in [&one, &two] {
        let (_, mut host) = server.user("host").await;
        for _ in 0..2 {
            let (call, participant) = host.start_call_with(&[], true).await;
            host.hang_up(&call).await.expect("hang up");
            ids.push(call);
            participants.push(participant);
        }
    }
    // Each server's ids sort by creation (the records' indexes rely on it).
    assert!(ids[0] < ids[1] && ids[2] < ids[3], "{ids:?}");
    // No two random halves are alike, across servers started at the same moment too: with 128
    // random bits, two halves differ in about 64 of them.
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            let differing = (random_half(a) ^ random_half(b)).count_ones();
            assert!(differing >= 24, "{a} and {b} differ in {differing} bits");
        }
    }
    for participant in &participants {
        let id = participant.as_str();
        assert_eq!(id.len(), 33, "{id}");
        assert!(id.starts_with('p') && id[1..].chars().all(|c| c.is_ascii_hexdigit()));
    }
}

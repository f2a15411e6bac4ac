//! Group calls, rooms, the call-control API and webhooks against the real server with SDK clients:
//! 0/4097, 0/5000, 0/5300, 0/5317, 0/7000, 403/5828, 403/5829, each room capability refusal, a
//! participant added to a call ringing with the outcomes of a 1:1 call, and signed webhooks with
//! every leg's reason.

mod support;

use std::time::Duration;

use appel_codes::registry;
use appel_sdk::{
    Call, CallAgent, CallEvent, CallState, HangUpOptions, IdentityId, JoinCallOptions, MediaState,
    ParticipantId, StartCallOptions,
};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use support::{
    assert_error, assert_reason, connected_call, departure, end_of, next_incoming, reach, within,
    TestServer,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The participant id of `identity` in `call`, once `call` has heard of it.
async fn participant_id(call: &Call, identity: &IdentityId) -> ParticipantId {
    within("the participant to appear", async {
        loop {
            if let Some(p) = call
                .remote_participants()
                .into_iter()
                .find(|p| &p.identity == identity)
            {
                return p.id;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// A connected call of `caller` with every agent of `callees`.
async fn group_call(caller: &CallAgent, callees: &[&CallAgent]) -> (Call, Vec<Call>) {
    let targets: Vec<IdentityId> = callees.iter().map(|c| c.identity().clone()).collect();
    let outgoing = caller
        .start_call(&targets, StartCallOptions::default())
        .expect("call starts");
    let mut accepted = Vec::new();
    for callee in callees {
        let incoming = next_incoming(callee).await;
        let call = within("accept", incoming.accept(Default::default()))
            .await
            .expect("accept");
        reach(&call, CallState::Connected).await;
        accepted.push(call);
    }
    reach(&outgoing, CallState::Connected).await;
    (outgoing, accepted)
}

/// A connected group call of `caller` with `callee`, that anyone with its id may join.
async fn joinable_call(caller: &CallAgent, callee: &CallAgent) -> (Call, Call) {
    let options = StartCallOptions {
        joinable: true,
        ..StartCallOptions::default()
    };
    let outgoing = caller
        .start_call(&[callee.identity().clone()], options)
        .expect("call starts");
    let incoming = next_incoming(callee).await;
    let accepted = within("accept", incoming.accept(Default::default()))
        .await
        .expect("accept");
    reach(&outgoing, CallState::Connected).await;
    reach(&accepted, CallState::Connected).await;
    (outgoing, accepted)
}

#[tokio::test]
async fn an_uninvited_agent_cannot_join_a_one_to_one_call() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (_, b) = server.agent().await;
    let (_, mallory) = server.agent().await;
    let (outgoing, accepted) = connected_call(&a, &b).await;
    let call_id = outgoing.id().expect("call id");
    // An id of the same shape that no call has: the time-ordered half kept, the random half not.
    let made_up = appel_sdk::CallId::from(format!("{}{}", &call_id.as_str()[..16], "0".repeat(32)));
    let guess = mallory
        .join_call(&made_up, JoinCallOptions::default())
        .expect("join sent");
    let unknown = end_of(&guess).await;
    let attempt = mallory
        .join_call(&call_id, JoinCallOptions::default())
        .expect("join sent");
    let refused = end_of(&attempt).await;
    assert_reason(refused, &registry::CALL_OPERATION_UNKNOWN_CALL);
    assert_eq!(refused, unknown);
    // The two parties never hear of mallory, and their call goes on.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(outgoing.remote_participants().len(), 1);
    assert_eq!(accepted.remote_participants().len(), 1);
    assert_eq!(outgoing.state(), CallState::Connected);
    assert_eq!(accepted.state(), CallState::Connected);
}

#[tokio::test]
async fn anyone_with_the_id_joins_a_joinable_group_call() {
    let server = TestServer::start().await;
    let (alice, a) = server.agent().await;
    let (_, b) = server.agent().await;
    let (_, c) = server.agent().await;
    let options = StartCallOptions {
        joinable: true,
        ..StartCallOptions::default()
    };
    // No target at all: people come by the id.
    let host = a.start_call(&[], options).expect("call starts");
    let call_id = within("the call's id", async {
        loop {
            if let Some(id) = host.id() {
                return id;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let mut joined = Vec::new();
    for agent in [&b, &c] {
        let call = agent
            .join_call(&call_id, JoinCallOptions::default())
            .expect("join");
        reach(&call, CallState::Connected).await;
        joined.push(call);
    }
    reach(&host, CallState::Connected).await;
    participant_id(&joined[0], &alice).await;
    assert_eq!(host.end_reason(), None);
}

/// `method path` with the access key and an optional JSON body; the status and JSON answer.
async fn rest(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = server
        .http
        .request(method, format!("{}{path}", server.url()))
        .bearer_auth(server.server.access_key());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("REST request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// Creates a room with `roster` open from `from` to `until` (RFC 3339); its id.
async fn create_room(
    server: &TestServer,
    roster: &[(&IdentityId, &str)],
    window: Option<(&str, &str)>,
) -> String {
    let participants: Vec<serde_json::Value> = roster
        .iter()
        .map(|(identity, role)| serde_json::json!({ "identity": identity, "role": role }))
        .collect();
    let mut body = serde_json::json!({ "participants": participants });
    if let Some((from, until)) = window {
        body["validFrom"] = from.into();
        body["validUntil"] = until.into();
    }
    let (status, room) = rest(server, reqwest::Method::POST, "/rooms", Some(body)).await;
    assert_eq!(status, 201, "{room}");
    room["id"].as_str().expect("room id").to_owned()
}

async fn join_room(agent: &CallAgent, room: &str) -> Call {
    let call = agent
        .join_room(room, JoinCallOptions::default())
        .expect("join");
    reach(&call, CallState::Connected).await;
    call
}

#[tokio::test]
async fn the_organizer_ends_a_group_call_for_everyone_0_4097_and_others_are_refused_900500() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (_, b) = server.agent().await;
    let (_, c) = server.agent().await;
    let (organizer, others) = group_call(&a, &[&b, &c]).await;
    let everyone = HangUpOptions { for_everyone: true };
    assert_error(
        within("refused", others[0].hang_up(everyone)).await,
        &registry::END_FOR_EVERYONE_NOT_ALLOWED,
    );
    assert_eq!(others[0].end_reason(), None);
    within("end for everyone", organizer.hang_up(everyone))
        .await
        .expect("organizer ends it");
    assert_reason(end_of(&organizer).await, &registry::CALL_ENDED_LOCALLY);
    for call in &others {
        assert_reason(end_of(call).await, &registry::ENDED_FOR_EVERYONE);
    }
}

#[tokio::test]
async fn a_participant_granted_the_capability_ends_the_call_for_everyone_0_4097() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (bob, b) = server.agent().await;
    let (_, c) = server.agent().await;
    let (organizer, others) = group_call(&a, &[&b, &c]).await;
    let call_id = organizer.id().expect("id");
    let bob_id = participant_id(&organizer, &bob).await;
    let (status, _) = rest(
        &server,
        reqwest::Method::POST,
        &format!("/call-control/calls/{call_id}/participants/{bob_id}/end-for-everyone"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    within(
        "end for everyone",
        others[0].hang_up(HangUpOptions { for_everyone: true }),
    )
    .await
    .expect("granted");
    assert_reason(end_of(&organizer).await, &registry::ENDED_FOR_EVERYONE);
    assert_reason(end_of(&others[1]).await, &registry::ENDED_FOR_EVERYONE);
}

#[tokio::test]
async fn a_participant_joins_by_call_id_and_is_removed_by_another_with_0_5000() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (_, b) = server.agent().await;
    let (carol, c) = server.agent().await;
    let (outgoing, accepted) = joinable_call(&a, &b).await;
    let call_id = outgoing.id().expect("call id");
    let joined = c
        .join_call(&call_id, JoinCallOptions::default())
        .expect("join");
    reach(&joined, CallState::Connected).await;
    assert_eq!(joined.id(), Some(call_id));
    let target = participant_id(&accepted, &carol).await;
    within("remove", accepted.remove_participant(&target))
        .await
        .expect("removed");
    assert_reason(end_of(&joined).await, &registry::REMOVED_BY_PARTICIPANT);
    assert_reason(
        departure(&outgoing, &carol).await,
        &registry::REMOVED_BY_PARTICIPANT,
    );
    assert_eq!(outgoing.end_reason(), None);
}

#[tokio::test]
async fn an_added_participant_rings_and_gets_the_outcomes_of_a_1_1_call() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (_, b) = server.agent().await;
    let (carol, c) = server.agent().await;
    let (outgoing, _accepted) = connected_call(&a, &b).await;
    within("add", outgoing.add_participant(&carol))
        .await
        .expect("added");
    let ring = next_incoming(&c).await;
    within("decline", ring.reject()).await.expect("declined");
    assert_reason(departure(&outgoing, &carol).await, &registry::CALL_DECLINED);
    // An identity that never registered: 480/10037, as a call to it.
    let stranger = server.create_identity().await;
    within("add", outgoing.add_participant(&stranger))
        .await
        .expect("added");
    assert_reason(
        departure(&outgoing, &stranger).await,
        &registry::TARGET_NEVER_REGISTERED,
    );
    assert_eq!(outgoing.end_reason(), None);
}

#[tokio::test]
async fn joining_a_room_off_roster_is_403_5828_and_outside_its_window_403_5829() {
    let server = TestServer::start().await;
    let (alice, a) = server.agent().await;
    let (_, m) = server.agent().await;
    let open = create_room(&server, &[(&alice, "Presenter")], None).await;
    let refused = m
        .join_room(&open, JoinCallOptions::default())
        .expect("join");
    assert_reason(end_of(&refused).await, &registry::ROOM_NOT_INVITED);
    let later = create_room(
        &server,
        &[(&alice, "Presenter")],
        Some(("2999-01-01T00:00:00Z", "2999-01-02T00:00:00Z")),
    )
    .await;
    let early = a
        .join_room(&later, JoinCallOptions::default())
        .expect("join");
    assert_reason(end_of(&early).await, &registry::ROOM_OUTSIDE_VALIDITY);
    let past = create_room(
        &server,
        &[(&alice, "Presenter")],
        Some(("2001-01-01T00:00:00Z", "2001-01-02T00:00:00Z")),
    )
    .await;
    let late = a
        .join_room(&past, JoinCallOptions::default())
        .expect("join");
    assert_reason(end_of(&late).await, &registry::ROOM_OUTSIDE_VALIDITY);
    // The open room still takes alice.
    join_room(&a, &open).await;
}

#[tokio::test]
async fn a_role_change_or_roster_removal_in_a_room_call_removes_with_0_5317() {
    let server = TestServer::start().await;
    let (alice, a) = server.agent().await;
    let (bob, b) = server.agent().await;
    let (carol, c) = server.agent().await;
    let room = create_room(
        &server,
        &[
            (&alice, "Presenter"),
            (&bob, "Attendee"),
            (&carol, "Attendee"),
        ],
        None,
    )
    .await;
    let in_a = join_room(&a, &room).await;
    let in_b = join_room(&b, &room).await;
    let in_c = join_room(&c, &room).await;
    participant_id(&in_a, &carol).await;
    let (status, changed) = rest(
        &server,
        reqwest::Method::PATCH,
        &format!("/rooms/{room}/participants"),
        Some(serde_json::json!({ "participants": [{ "identity": bob, "role": "Consumer" }] })),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_reason(end_of(&in_b).await, &registry::REMOVED_ROLE_CHANGED);
    assert_reason(
        departure(&in_a, &bob).await,
        &registry::REMOVED_ROLE_CHANGED,
    );
    let (status, removed) = rest(
        &server,
        reqwest::Method::DELETE,
        &format!("/rooms/{room}/participants/{carol}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{removed}");
    assert_reason(end_of(&in_c).await, &registry::REMOVED_ROLE_CHANGED);
    // Alone in the room, alice's call goes on.
    assert_eq!(in_a.end_reason(), None);
    let (status, listed) = rest(
        &server,
        reqwest::Method::GET,
        &format!("/rooms/{room}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed["participants"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn room_roles_are_enforced_by_the_server() {
    let server = TestServer::start().await;
    let (alice, a) = server.agent().await;
    let (bob, b) = server.agent().await;
    let (carol, c) = server.agent().await;
    let room = create_room(
        &server,
        &[
            (&alice, "Presenter"),
            (&bob, "Attendee"),
            (&carol, "Consumer"),
        ],
        None,
    )
    .await;
    let in_a = join_room(&a, &room).await;
    let in_b = join_room(&b, &room).await;
    let in_c = join_room(&c, &room).await;
    let speak = MediaState {
        audio: true,
        ..MediaState::default()
    };
    assert_error(
        within("consumer speaks", in_c.set_media_state(speak)).await,
        &registry::ROOM_ROLE_CANNOT_SEND_MEDIA,
    );
    let share = MediaState {
        audio: true,
        video: false,
        screen_share: true,
    };
    assert_error(
        within("attendee shares", in_b.set_media_state(share)).await,
        &registry::ROOM_ROLE_CANNOT_SCREEN_SHARE,
    );
    within("attendee speaks", in_b.set_media_state(speak))
        .await
        .expect("an attendee may speak");
    let carol_id = participant_id(&in_b, &carol).await;
    assert_error(
        within("attendee removes", in_b.remove_participant(&carol_id)).await,
        &registry::ROOM_ROLE_CANNOT_REMOVE_PARTICIPANTS,
    );
    assert_error(
        within(
            "end for everyone",
            in_a.hang_up(HangUpOptions { for_everyone: true }),
        )
        .await,
        &registry::ROOM_END_FOR_EVERYONE_REFUSED,
    );
    within("presenter shares", in_a.set_media_state(share))
        .await
        .expect("a presenter may share");
    within("presenter removes", in_a.remove_participant(&carol_id))
        .await
        .expect("a presenter may remove");
    assert_reason(end_of(&in_c).await, &registry::REMOVED_BY_PARTICIPANT);
    // A Consumer joining with video is refused too.
    let (status, _) = rest(
        &server,
        reqwest::Method::PATCH,
        &format!("/rooms/{room}/participants"),
        Some(serde_json::json!({ "participants": [{ "identity": carol, "role": "Consumer" }] })),
    )
    .await;
    assert_eq!(status, 200);
    let with_video = c
        .join_room(&room, JoinCallOptions { video: true })
        .expect("join");
    assert_reason(
        end_of(&with_video).await,
        &registry::ROOM_ROLE_CANNOT_SEND_MEDIA,
    );
}

#[tokio::test]
async fn call_control_lists_mutes_removes_with_0_5300_and_hangs_up_with_0_7000() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (_, b) = server.agent().await;
    let (carol, c) = server.agent().await;
    let (outgoing, accepted) = group_call(&a, &[&b, &c]).await;
    let call_id = outgoing.id().expect("id");
    let (status, calls) = rest(&server, reqwest::Method::GET, "/call-control/calls", None).await;
    assert_eq!(status, 200);
    assert_eq!(calls["calls"][0]["id"], call_id.as_str());
    assert_eq!(
        calls["calls"][0]["participants"].as_array().map(Vec::len),
        Some(3)
    );
    let carol_id = participant_id(&outgoing, &carol).await;
    let mut carol_events = accepted[1].events();
    let (status, _) = rest(
        &server,
        reqwest::Method::POST,
        &format!("/call-control/calls/{call_id}/participants/{carol_id}/mute"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    within("muted", async {
        while let Some(event) = carol_events.next().await {
            if event == CallEvent::MutedByServer {
                return;
            }
        }
        panic!("no muted event");
    })
    .await;
    let (status, _) = rest(
        &server,
        reqwest::Method::DELETE,
        &format!("/call-control/calls/{call_id}/participants/{carol_id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_reason(end_of(&accepted[1]).await, &registry::REMOVED_BY_SERVER);
    assert_reason(
        departure(&outgoing, &carol).await,
        &registry::REMOVED_BY_SERVER,
    );
    let (status, problem) = rest(
        &server,
        reqwest::Method::DELETE,
        &format!("/call-control/calls/{call_id}/participants/{carol_id}"),
        None,
    )
    .await;
    assert_eq!((status, problem["subCode"].as_u64()), (404, Some(900506)));
    let (status, _) = rest(
        &server,
        reqwest::Method::POST,
        &format!("/call-control/calls/{call_id}/hang-up"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_reason(end_of(&outgoing).await, &registry::ENDED_BY_SERVER);
    assert_reason(end_of(&accepted[0]).await, &registry::ENDED_BY_SERVER);
    let (status, problem) = rest(
        &server,
        reqwest::Method::GET,
        &format!("/call-control/calls/{call_id}"),
        None,
    )
    .await;
    assert_eq!((status, problem["subCode"].as_u64()), (404, Some(900200)));
    drop(c);
}

#[tokio::test]
async fn call_control_adds_a_participant_that_rings_with_1_1_outcomes() {
    let server = TestServer::start().await;
    let (_, a) = server.agent().await;
    let (_, b) = server.agent().await;
    let (carol, c) = server.agent().await;
    let (outgoing, _accepted) = connected_call(&a, &b).await;
    let call_id = outgoing.id().expect("id");
    let stranger = server.create_identity().await;
    let (status, _) = rest(
        &server,
        reqwest::Method::POST,
        &format!("/call-control/calls/{call_id}/participants"),
        Some(serde_json::json!({ "identity": stranger })),
    )
    .await;
    assert_eq!(status, 202);
    assert_reason(
        departure(&outgoing, &stranger).await,
        &registry::TARGET_NEVER_REGISTERED,
    );
    let (status, _) = rest(
        &server,
        reqwest::Method::POST,
        &format!("/call-control/calls/{call_id}/participants"),
        Some(serde_json::json!({ "identity": carol })),
    )
    .await;
    assert_eq!(status, 202);
    let ring = next_incoming(&c).await;
    let joined = within("accept", ring.accept(Default::default()))
        .await
        .expect("accept");
    reach(&joined, CallState::Connected).await;
    assert_eq!(joined.id(), Some(call_id));
}

/// One request a loopback receiver got: its signature header and body.
struct Received {
    signature: String,
    body: String,
}

/// A minimal HTTP/1.1 receiver on loopback that answers 200 to every POST and reports it.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<Received>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    let head_end = loop {
                        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|line| {
                                let (key, value) = line.split_once(':')?;
                                key.eq_ignore_ascii_case(name)
                                    .then(|| value.trim().to_owned())
                            })
                            .unwrap_or_default()
                    };
                    let length: usize = header("content-length").parse().unwrap_or(0);
                    while buffer.len() < head_end + length {
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body =
                        String::from_utf8_lossy(&buffer[head_end..head_end + length]).to_string();
                    buffer.drain(..head_end + length);
                    let _ = tx.send(Received {
                        signature: header("appel-signature"),
                        body,
                    });
                    if socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (url, rx)
}

/// Checks `t=<ms>,v1=<hex>` against HMAC-SHA256 of `"<ms>.<body>"` with `secret`.
fn signature_is_valid(secret: &str, header: &str, body: &str) -> bool {
    let mut timestamp = None;
    let mut digest = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = Some(t.to_owned()),
            Some(("v1", v)) => digest = Some(v.to_owned()),
            _ => {}
        }
    }
    let (Some(timestamp), Some(digest)) = (timestamp, digest) else {
        return false;
    };
    let Ok(bytes) = (0..digest.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digest.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

#[tokio::test]
async fn webhooks_are_signed_and_carry_every_legs_reason_while_a_dead_receiver_is_retried() {
    let server = TestServer::start_with(|config| {
        config.webhooks.initial_backoff = Duration::from_millis(20);
        config.webhooks.max_backoff = Duration::from_millis(40);
        config.webhooks.retry_for = Duration::from_millis(300);
    })
    .await;
    let (url, mut received) = receiver().await;
    let secret = "webhook-test-secret";
    let (status, subscription) = rest(
        &server,
        reqwest::Method::POST,
        "/webhooks",
        Some(serde_json::json!({ "url": url, "secret": secret })),
    )
    .await;
    assert_eq!(status, 201, "{subscription}");
    let live = subscription["id"].as_str().expect("id").to_owned();
    // A receiver that is not listening: retried with backoff, never in the way of the call.
    let dead_port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("addr").port()
    };
    let (status, dead) = rest(
        &server,
        reqwest::Method::POST,
        "/webhooks",
        Some(serde_json::json!({ "url": format!("http://127.0.0.1:{dead_port}/hook"), "events": ["CallEnded"] })),
    )
    .await;
    assert_eq!(status, 201);
    let dead = dead["id"].as_str().expect("id").to_owned();

    let (alice, a) = server.agent().await;
    let (bob, b) = server.agent().await;
    let (outgoing, accepted) = connected_call(&a, &b).await;
    within("hang up", accepted.hang_up(HangUpOptions::default()))
        .await
        .expect("hang up");
    assert_reason(end_of(&outgoing).await, &registry::CALL_ENDED_LOCALLY);

    let mut events = Vec::new();
    within("the CallEnded webhook", async {
        while let Some(request) = received.recv().await {
            assert!(
                signature_is_valid(secret, &request.signature, &request.body),
                "bad signature {} for {}",
                request.signature,
                request.body
            );
            assert!(!signature_is_valid(
                "another-secret",
                &request.signature,
                &request.body
            ));
            let event: serde_json::Value = serde_json::from_str(&request.body).expect("json");
            let ended = event["type"] == "CallEnded";
            events.push(event);
            if ended {
                return;
            }
        }
    })
    .await;
    let of_type = |kind: &str| -> Vec<&serde_json::Value> {
        events.iter().filter(|e| e["type"] == kind).collect()
    };
    assert_eq!(of_type("CallStarted").len(), 1);
    assert_eq!(of_type("CallStarted")[0]["caller"], alice.as_str());
    assert_eq!(of_type("ParticipantJoined").len(), 2);
    let left = of_type("ParticipantLeft");
    assert_eq!(left.len(), 2);
    for leg in &left {
        assert_eq!(
            leg["reason"],
            serde_json::json!({ "code": 0, "subCode": 0 })
        );
    }
    assert_eq!(left[0]["identity"], bob.as_str());
    let ended = of_type("CallEnded")[0];
    assert_eq!(ended["callId"], outgoing.id().expect("id").as_str());
    let legs = ended["legs"].as_array().expect("legs");
    assert_eq!(legs.len(), 2);
    assert!(legs
        .iter()
        .all(|leg| leg["reason"] == serde_json::json!({ "code": 0, "subCode": 0 })));

    // The delivery log: the live receiver accepted; the dead one was retried, then given up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, log) = rest(
        &server,
        reqwest::Method::GET,
        &format!("/webhooks/{live}/deliveries"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let deliveries = log["deliveries"].as_array().expect("deliveries");
    assert!(deliveries.len() >= 5, "{log}");
    assert!(deliveries.iter().all(|d| d["delivered"] == true));
    let dead_attempts = || async {
        let (_, log) = rest(
            &server,
            reqwest::Method::GET,
            &format!("/webhooks/{dead}/deliveries"),
            None,
        )
        .await;
        log["deliveries"].as_array().cloned().unwrap_or_default()
    };
    let attempts = within("three attempts to the dead receiver", async {
        loop {
            let attempts = dead_attempts().await;
            if attempts.len() >= 3 {
                return attempts;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    })
    .await;
    assert!(attempts.iter().all(|d| d["delivered"] == false));
    assert!(attempts[0]["attempt"].as_u64() > attempts[attempts.len() - 1]["attempt"].as_u64());
    // Retries stop once webhooks.retry_for (300 ms) is over.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let settled = dead_attempts().await.len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(dead_attempts().await.len(), settled, "still retrying");
    assert!(settled <= 12, "{settled} attempts in 300 ms of backoff");
    let (status, problem) = rest(
        &server,
        reqwest::Method::GET,
        "/webhooks/nope/deliveries",
        None,
    )
    .await;
    assert_eq!((status, problem["subCode"].as_u64()), (404, Some(900507)));
}

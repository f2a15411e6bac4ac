//! Every frame survives a JSON round trip in the shape docs/protocol.md shows, and unreadable text
//! gives the catalogue errors the server answers with.

use appel_codes::{registry, CallEndReason, CallingError};
use appel_protocol::*;
use proptest::prelude::*;
use serde_json::json;

fn every_client_frame() -> Vec<ClientFrame> {
    vec![
        ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            token: "t0k".into(),
            endpoint_id: "e1".into(),
            push: Some(PushRegistration {
                url: "https://push.example/abc".into(),
            }),
            resume: true,
        },
        ClientFrame::Ping,
        ClientFrame::Pong,
        ClientFrame::RefreshToken {
            request_id: 1,
            token: "t1".into(),
        },
        ClientFrame::StartCall {
            request_id: 2,
            targets: vec!["bob".into(), "carol".into()],
            video: true,
            joinable: true,
        },
        ClientFrame::AckIncoming {
            call_id: "c1".into(),
        },
        ClientFrame::Accept {
            request_id: 3,
            call_id: "c1".into(),
            video: false,
        },
        ClientFrame::Reject {
            request_id: 4,
            call_id: "c1".into(),
        },
        ClientFrame::HangUp {
            request_id: 5,
            call_id: "c1".into(),
            for_everyone: true,
        },
        ClientFrame::Hold {
            request_id: 6,
            call_id: "c1".into(),
        },
        ClientFrame::Resume {
            request_id: 7,
            call_id: "c1".into(),
        },
        ClientFrame::MediaReady {
            call_id: "c1".into(),
        },
        ClientFrame::Signal {
            call_id: "c1".into(),
            to: Some("p2".into()),
            payload: json!({"sdp": "v=0", "n": [1, 2]}),
        },
        ClientFrame::JoinCall {
            request_id: 8,
            call_id: "c1".into(),
            video: false,
        },
        ClientFrame::JoinRoom {
            request_id: 9,
            room_id: "r1".into(),
            video: true,
        },
        ClientFrame::AddParticipant {
            request_id: 10,
            call_id: "c1".into(),
            identity: "dave".into(),
        },
        ClientFrame::RemoveParticipant {
            request_id: 11,
            call_id: "c1".into(),
            participant_id: "p2".into(),
        },
        ClientFrame::MediaState {
            request_id: 12,
            call_id: "c1".into(),
            audio: true,
            video: false,
            screen_share: true,
        },
        ClientFrame::MediaOffer {
            request_id: 13,
            call_id: "c1".into(),
            sdp: "v=0\r\n".into(),
        },
        ClientFrame::MediaRestart {
            request_id: 14,
            call_id: "c1".into(),
            sdp: "v=0\r\n".into(),
        },
        ClientFrame::MediaAnswer {
            call_id: "c1".into(),
            sdp: "v=0\r\n".into(),
        },
        ClientFrame::Report {
            call_id: "c1".into(),
            kind: appel_protocol::ReportKind::IceState,
            detail: Some("disconnected".into()),
        },
        ClientFrame::MediaView {
            request_id: 14,
            call_id: "c1".into(),
            participant: "p2".into(),
            width: 320,
            height: 180,
        },
    ]
}

fn every_server_frame() -> Vec<ServerFrame> {
    let participant = ParticipantInfo {
        id: "p2".into(),
        identity: "bob".into(),
        state: ParticipantState::Ringing,
        media: Some(appel_protocol::ParticipantMedia {
            audio: false,
            video: true,
            screen_share: false,
        }),
    };
    vec![
        ServerFrame::Welcome {
            version: PROTOCOL_VERSION,
            identity: "alice".into(),
            endpoint_id: "e1".into(),
            heartbeat_interval_ms: 15_000,
            token_expires_at: 1_700_000_000_000,
            resumed_calls: vec![ResumedCall {
                call_id: "c1".into(),
                participant_id: "p1".into(),
                state: CallState::Connected,
                video: false,
                participants: vec![participant.clone()],
            }],
            custom_streams: false,
            client_reports: true,
            media_views: true,
        },
        ServerFrame::Error {
            request_id: Some(9),
            error: CallingError::new(&registry::ACCEPT_NOT_RINGING)
                .with_context("call c1")
                .with_raw_cause("cancelled"),
            fatal: false,
        },
        ServerFrame::Error {
            request_id: None,
            error: CallingError::new(&registry::UNAUTHENTICATED),
            fatal: true,
        },
        ServerFrame::Ping,
        ServerFrame::Pong,
        ServerFrame::Ack { request_id: 3 },
        ServerFrame::CallCreated {
            request_id: 2,
            call_id: "c1".into(),
            participant_id: "p1".into(),
        },
        ServerFrame::IncomingCall {
            call_id: "c1".into(),
            from: "alice".into(),
            from_participant_id: "p1".into(),
            participant_id: "p2".into(),
            video: true,
        },
        ServerFrame::CallState {
            call_id: "c1".into(),
            state: CallState::RemoteHold,
        },
        ServerFrame::ParticipantUpdated {
            call_id: "c1".into(),
            participant,
        },
        ServerFrame::ParticipantLeft {
            call_id: "c1".into(),
            participant_id: "p2".into(),
            identity: "bob".into(),
            reason: CallEndReason::of(&registry::CALL_DECLINED),
            ended_by: Some(EndedBy::participant("p2".into(), "bob".into())),
        },
        ServerFrame::CallEnded {
            call_id: "c1".into(),
            reason: CallEndReason::of(&registry::CALL_ACCEPTED_ELSEWHERE),
            raw_cause: Some("accepted on e2".into()),
            ended_by: Some(EndedBy::CallControl),
        },
        ServerFrame::Signal {
            call_id: "c1".into(),
            from: "p1".into(),
            payload: json!({"candidate": "a=candidate:1"}),
        },
        ServerFrame::TokenExpiring {
            expires_at: 1_700_000_600_000,
        },
        ServerFrame::CallJoined {
            request_id: 8,
            call_id: "c1".into(),
            participant_id: "p4".into(),
        },
        ServerFrame::Muted {
            call_id: "c1".into(),
        },
        ServerFrame::MediaAnswer {
            request_id: 9,
            call_id: "c1".into(),
            sdp: "v=0\r\n".into(),
        },
        ServerFrame::MediaOffer {
            call_id: "c1".into(),
            sdp: "v=0\r\n".into(),
        },
        ServerFrame::MediaServer {
            call_id: "c1".into(),
        },
    ]
}

#[test]
fn every_client_frame_round_trips_and_names_a_known_type() {
    let frames = every_client_frame();
    assert_eq!(frames.len(), ClientFrame::TYPES.len());
    for frame in frames {
        let text = frame.to_json();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["type"], frame.type_name(), "{text}");
        assert!(ClientFrame::TYPES.contains(&frame.type_name()));
        assert_eq!(parse_client_frame(&text).unwrap(), frame, "{text}");
    }
}

#[test]
fn every_server_frame_round_trips_and_names_a_known_type() {
    let frames = every_server_frame();
    // Two error frames in the list.
    assert_eq!(frames.len(), ServerFrame::TYPES.len() + 1);
    for frame in frames {
        let text = frame.to_json();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["type"], frame.type_name(), "{text}");
        assert!(ServerFrame::TYPES.contains(&frame.type_name()));
        assert_eq!(parse_server_frame(&text).unwrap(), frame, "{text}");
    }
}

#[test]
fn fields_are_camel_case_as_documented() {
    let start = json!({"type": "startCall", "requestId": 4, "targets": ["bob"], "video": false});
    assert_eq!(
        parse_client_frame(&start.to_string()).unwrap(),
        ClientFrame::StartCall {
            request_id: 4,
            targets: vec!["bob".into()],
            video: false,
            joinable: false
        }
    );
    let group = json!({"type": "startCall", "requestId": 4, "targets": [], "video": false, "joinable": true});
    assert_eq!(
        parse_client_frame(&group.to_string()).unwrap(),
        ClientFrame::StartCall {
            request_id: 4,
            targets: Vec::new(),
            video: false,
            joinable: true
        }
    );
    let hang_up = json!({"type": "hangUp", "requestId": 5, "callId": "c9"});
    assert_eq!(
        parse_client_frame(&hang_up.to_string()).unwrap(),
        ClientFrame::HangUp {
            request_id: 5,
            call_id: "c9".into(),
            for_everyone: false
        }
    );
    let hello = json!({"type": "hello", "version": 1, "token": "x", "endpointId": "e"});
    assert!(matches!(
        parse_client_frame(&hello.to_string()).unwrap(),
        ClientFrame::Hello {
            push: None,
            resume: false,
            ..
        }
    ));
    let ended = ServerFrame::CallEnded {
        call_id: "c1".into(),
        reason: CallEndReason::of(&registry::RINGING_TIMEOUT),
        raw_cause: None,
        ended_by: None,
    };
    assert_eq!(
        serde_json::to_value(&ended).unwrap(),
        json!({"type": "callEnded", "callId": "c1", "reason": {"code": 487, "subCode": 10004}})
    );
    let timed_out = ServerFrame::CallEnded {
        call_id: "c1".into(),
        reason: CallEndReason::of(&registry::RINGING_TIMEOUT),
        raw_cause: None,
        ended_by: Some(EndedBy::Server {
            cause: ServerCause::Timer,
        }),
    };
    assert_eq!(
        serde_json::to_value(&timed_out).unwrap()["endedBy"],
        json!({"by": "server", "cause": "timer"})
    );
    let error = ServerFrame::error(Some(3), CallingError::new(&registry::REJECT_NOT_RINGING));
    let value = serde_json::to_value(&error).unwrap();
    assert_eq!(value["requestId"], 3);
    assert_eq!(value["error"]["subCode"], 41007);
    assert_eq!(value["error"]["name"], "REJECT_NOT_RINGING");
    assert_eq!(value["fatal"], false);
}

#[test]
fn an_unknown_type_is_unknown_frame_type() {
    for text in [
        r#"{"type":"teleport","callId":"c1"}"#,
        r#"{"type":"StartCall","requestId":1,"targets":[],"video":false}"#,
        r#"{"type":""}"#,
    ] {
        let error = parse_client_frame(text).unwrap_err();
        assert!(error.is(&registry::UNKNOWN_FRAME_TYPE), "{text}: {error}");
    }
    let error = parse_server_frame(r#"{"type":"welcomeBack"}"#).unwrap_err();
    assert!(error.is(&registry::UNKNOWN_FRAME_TYPE));
}

#[test]
fn malformed_text_is_malformed_frame() {
    for text in [
        "",
        "{",
        "not json",
        "[1,2]",
        "42",
        r#"{"requestId":1}"#,
        r#"{"type":7}"#,
        r#"{"type":"hold"}"#,
        r#"{"type":"hold","requestId":-1,"callId":"c"}"#,
        r#"{"type":"startCall","requestId":1,"targets":"bob","video":false}"#,
        r#"{"type":"accept","requestId":1,"callId":5,"video":false}"#,
    ] {
        let error = parse_client_frame(text).unwrap_err();
        assert!(error.is(&registry::MALFORMED_FRAME), "{text}: {error}");
        assert!(error.raw_cause().is_some(), "{text}");
    }
}

#[test]
fn a_long_unknown_type_is_quoted_short() {
    let kind = "x".repeat(10_000);
    let error = parse_client_frame(&json!({ "type": kind }).to_string()).unwrap_err();
    assert!(error.is(&registry::UNKNOWN_FRAME_TYPE));
    assert!(error.context().unwrap().len() < 100);
}

#[test]
fn request_ids_and_call_ids_are_found_where_frames_carry_them() {
    for frame in every_client_frame() {
        let value = serde_json::to_value(&frame).unwrap();
        assert_eq!(
            frame.request_id(),
            value.get("requestId").and_then(|v| v.as_u64()),
            "{value}"
        );
        assert_eq!(
            frame.call_id().map(|c| c.as_str()),
            value.get("callId").and_then(|v| v.as_str()),
            "{value}"
        );
    }
}

proptest! {
    /// Whatever arrives, parsing answers a frame or one of the two catalogue errors; it never panics.
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        if let Err(error) = parse_client_frame(&text) {
            prop_assert!(error.is(&registry::MALFORMED_FRAME) || error.is(&registry::UNKNOWN_FRAME_TYPE));
        }
    }

    /// Objects with a known type and random fields parse or are malformed, never unknown.
    #[test]
    fn known_types_with_random_fields_are_never_unknown(
        index in 0..ClientFrame::TYPES.len(),
        request_id in proptest::option::of(any::<i64>()),
        call_id in proptest::option::of("[a-z0-9]{0,8}"),
    ) {
        let mut value = json!({ "type": ClientFrame::TYPES[index] });
        if let Some(id) = request_id { value["requestId"] = json!(id); }
        if let Some(id) = call_id { value["callId"] = json!(id); }
        if let Err(error) = parse_client_frame(&value.to_string()) {
            prop_assert!(error.is(&registry::MALFORMED_FRAME), "{}", error);
        }
    }
}

/// Found by the `client_frame` fuzz target: an integer too large for 64 bits is read as a float, and
/// without correctly rounded parsing the text written back read as a float one unit apart, so a
/// relayed payload changed on its way through.
#[test]
fn a_signal_payload_with_a_huge_number_reads_back_as_itself() {
    let text = r#"{"type":"signal","callId":"c1","payload":{"sdp":"v=0","n":[1005896855,4444444444444444408888,null,true]}}"#;
    let frame = parse_client_frame(text).expect("a signal frame");
    let again = parse_client_frame(&frame.to_json()).expect("written back, it reads");
    assert_eq!(again, frame);
    assert_eq!(again.to_json(), frame.to_json());
}

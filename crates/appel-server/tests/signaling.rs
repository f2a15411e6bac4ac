//! The signaling handshake and frame handling over a real WebSocket.

mod support;

use std::time::Duration;

use appel_codes::registry;
use appel_protocol::{ClientFrame, ServerFrame, PROTOCOL_VERSION};
use support::{base64url, Client, TestServer};

#[tokio::test]
async fn welcome_names_the_identity_endpoint_and_token_expiry() {
    let server = TestServer::start().await;
    let id = server.create_identity().await;
    let token = server.token(&id).await;
    let mut client = Client::open(&server.ws_url()).await;
    client
        .send(ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            token,
            endpoint_id: "laptop".into(),
            push: None,
            resume: false,
        })
        .await;
    match client.next().await {
        Some(ServerFrame::Welcome {
            version,
            identity,
            endpoint_id,
            heartbeat_interval_ms,
            token_expires_at,
            resumed_calls,
            custom_streams,
            client_reports,
            media_views,
        }) => {
            assert!(client_reports, "this server takes report frames");
            assert!(media_views, "this server takes mediaView frames");
            assert_eq!(version, PROTOCOL_VERSION);
            assert!(
                custom_streams,
                "custom media streams are allowed by default"
            );
            assert_eq!(identity.as_str(), id);
            assert_eq!(endpoint_id.as_str(), "laptop");
            assert_eq!(heartbeat_interval_ms, 250);
            let in_a_day = appel_server::store::unix_ms(
                std::time::SystemTime::now() + Duration::from_secs(24 * 3600),
            ) as u64;
            assert!(token_expires_at <= in_a_day && token_expires_at + 60_000 > in_a_day);
            assert!(resumed_calls.is_empty());
        }
        other => panic!("expected welcome, got {other:?}"),
    }
    assert!(client.still_served().await);
}

/// An operator who turned custom media streams off must have every SDK told so before it can
/// send one: the welcome carries the setting.
#[tokio::test]
async fn the_welcome_tells_sdks_that_custom_media_streams_are_disabled() {
    let server = TestServer::start_with(|config| config.media.custom_streams = false).await;
    let id = server.create_identity().await;
    let token = server.token(&id).await;
    let mut client = Client::open(&server.ws_url()).await;
    client
        .send(ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            token,
            endpoint_id: "tab".into(),
            push: None,
            resume: false,
        })
        .await;
    match client.next().await {
        Some(ServerFrame::Welcome { custom_streams, .. }) => assert!(!custom_streams),
        other => panic!("expected welcome, got {other:?}"),
    }
}

#[tokio::test]
async fn a_first_frame_other_than_hello_is_refused_with_fatal_900005() {
    let server = TestServer::start().await;
    for first in [r#"{"type":"ping"}"#, "not json", r#"{"type":"teleport"}"#] {
        let mut client = Client::open(&server.ws_url()).await;
        client.send_raw(first).await;
        let (error, fatal) = client.error().await;
        assert!(fatal, "{first}");
        assert!(error.is(&registry::HANDSHAKE_EXPECTED), "{first}: {error}");
        assert_eq!(
            error.category(),
            appel_codes::ResultCategory::UnexpectedClientError
        );
        assert!(client.is_closed().await, "{first}");
    }
}

#[tokio::test]
async fn a_hello_in_another_protocol_version_is_refused_with_fatal_900004() {
    let server = TestServer::start().await;
    let id = server.create_identity().await;
    let mut client = Client::open(&server.ws_url()).await;
    client
        .send(ClientFrame::Hello {
            version: PROTOCOL_VERSION + 1,
            token: server.token(&id).await,
            endpoint_id: "e".into(),
            push: None,
            resume: false,
        })
        .await;
    let (error, fatal) = client.error().await;
    assert!(fatal);
    assert!(error.is(&registry::PROTOCOL_VERSION_UNSUPPORTED), "{error}");
    assert!(client.is_closed().await);
}

#[tokio::test]
async fn hello_with_bad_forged_expired_revoked_or_unsigned_token_is_refused_with_401_10009() {
    let server = TestServer::start().await;
    let id = server.create_identity().await;
    let good = server.token(&id).await;
    let forged = server.forged_token(&id, "someone-else");
    let expired = server.short_token(&id, Duration::from_millis(1));
    let payload = good.split('.').nth(1).expect("payload");
    let unsigned = format!("{}.{payload}.", base64url(br#"{"alg":"none","typ":"JWT"}"#));
    tokio::time::sleep(Duration::from_millis(20)).await;
    for (what, token) in [
        ("garbage", "garbage".to_string()),
        ("forged", forged),
        ("expired", expired),
        ("alg none", unsigned),
    ] {
        let refused = Client::sign_in(&server.ws_url(), &token, "e1", None).await;
        let error = refused
            .err()
            .unwrap_or_else(|| panic!("{what} was admitted"));
        assert!(error.is(&registry::UNAUTHENTICATED), "{what}: {error}");
        assert_eq!(
            error.category(),
            appel_codes::ResultCategory::UnexpectedClientError
        );
    }
    server.revoke_tokens(&id).await;
    let refused = Client::sign_in(&server.ws_url(), &good, "e1", None).await;
    assert!(
        refused
            .err()
            .is_some_and(|e| e.is(&registry::UNAUTHENTICATED)),
        "revoked"
    );
}

#[tokio::test]
async fn malformed_unknown_and_oversized_frames_get_non_fatal_errors_and_the_connection_survives() {
    let server = TestServer::start_with(|c| c.signaling.max_frame_bytes = 512).await;
    let (_, mut client) = server.user("e1").await;

    client.send_raw(r#"{"type":"hold","requestId":9"#).await;
    let (error, fatal) = client.error().await;
    assert!(!fatal);
    assert!(error.is(&registry::MALFORMED_FRAME), "{error}");

    client.send_raw(r#"{"type":"hold","requestId":4}"#).await;
    let answered = client
        .wait_for("error answering 4", |f| match f {
            ServerFrame::Error {
                request_id: Some(4),
                error,
                fatal,
            } => Some((error.clone(), *fatal)),
            _ => None,
        })
        .await;
    assert!(!answered.1);
    assert!(answered.0.is(&registry::MALFORMED_FRAME), "{}", answered.0);

    client.send_raw(r#"{"type":"teleport","to":"mars"}"#).await;
    let (error, fatal) = client.error().await;
    assert!(!fatal);
    assert!(error.is(&registry::UNKNOWN_FRAME_TYPE), "{error}");

    let huge = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(2048));
    client.send_raw(&huge).await;
    let (error, fatal) = client.error().await;
    assert!(!fatal);
    assert!(error.is(&registry::FRAME_TOO_LARGE), "{error}");

    client.send_binary(vec![1, 2, 3]).await;
    let (error, fatal) = client.error().await;
    assert!(!fatal);
    assert!(error.is(&registry::MALFORMED_FRAME), "{error}");

    client
        .send(ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            token: "again".into(),
            endpoint_id: "e1".into(),
            push: None,
            resume: false,
        })
        .await;
    let (error, fatal) = client.error().await;
    assert!(!fatal);
    assert!(error.is(&registry::HANDSHAKE_EXPECTED), "{error}");

    assert!(client.still_served().await);
}

#[tokio::test]
async fn refresh_token_is_acknowledged_or_refused_with_10009() {
    let server = TestServer::start().await;
    let (id, mut client) = server.user("e1").await;
    let fresh = server.token(&id).await;
    client
        .request(|request_id| ClientFrame::RefreshToken {
            request_id,
            token: fresh,
        })
        .await
        .expect("a valid token is acknowledged");

    let other = server.create_identity().await;
    let foreign = server.token(&other).await;
    let error = client
        .request(|request_id| ClientFrame::RefreshToken {
            request_id,
            token: foreign,
        })
        .await
        .expect_err("another identity's token");
    assert!(error.is(&registry::UNAUTHENTICATED), "{error}");
    let error = client
        .request(|request_id| ClientFrame::RefreshToken {
            request_id,
            token: "forged".into(),
        })
        .await
        .expect_err("garbage");
    assert!(error.is(&registry::UNAUTHENTICATED), "{error}");
    assert!(client.still_served().await);
}

#[tokio::test]
async fn revoking_tokens_closes_live_connections_with_fatal_401_10009() {
    let server = TestServer::start().await;
    let (id, mut client) = server.user("e1").await;
    server.revoke_tokens(&id).await;
    let (error, fatal) = client.error().await;
    assert!(fatal);
    assert!(error.is(&registry::UNAUTHENTICATED), "{error}");
    assert!(client.is_closed().await);
}

#[tokio::test]
async fn deleting_an_identity_closes_its_live_connections_with_fatal_401_10009() {
    let server = TestServer::start().await;
    let (id, mut client) = server.user("e1").await;
    let delete = server
        .admin(reqwest::Method::DELETE, &format!("/identities/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(delete.status(), 204);
    let (error, fatal) = client.error().await;
    assert!(fatal);
    assert!(error.is(&registry::UNAUTHENTICATED), "{error}");
    assert!(client.is_closed().await);
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_dropped_by_the_server() {
    let server = TestServer::start_with(|c| {
        c.signaling.heartbeat_interval = Duration::from_millis(50);
    })
    .await;
    let id = server.create_identity().await;
    let token = server.token(&id).await;
    // A raw socket that says hello and then never reads nor answers.
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect("connect");
    use futures_util::{SinkExt, StreamExt};
    let hello = ClientFrame::Hello {
        version: PROTOCOL_VERSION,
        token,
        endpoint_id: "mute".into(),
        push: None,
        resume: false,
    };
    socket
        .send(tokio_tungstenite::tungstenite::Message::Text(
            hello.to_json().into(),
        ))
        .await
        .expect("hello");
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        let mut pings = 0;
        loop {
            match socket.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                    if text.contains("\"ping\"") {
                        pings += 1;
                    }
                }
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)))
                | None
                | Some(Err(_)) => return pings,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("the server drops a silent client");
    assert!(ended >= 1, "the server pinged before giving up");
}

#[tokio::test]
async fn token_expiring_is_announced_ahead_and_again_after_a_refresh() {
    let server =
        TestServer::start_with(|c| c.timers.token_refresh_ahead = Duration::from_millis(2_700))
            .await;
    let identity = server.create_identity().await;
    let token = server.short_token(&identity, Duration::from_secs(3));
    let mut client = Client::sign_in(&server.ws_url(), &token, "e1", None)
        .await
        .expect("welcome");
    let first = client
        .wait_for("tokenExpiring", |f| match f {
            ServerFrame::TokenExpiring { expires_at } => Some(*expires_at),
            _ => None,
        })
        .await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        first > now_ms,
        "the notice comes before the expiry it announces"
    );

    // A refreshed token gets its own notice, announcing the new expiry.
    let fresh = server.short_token(&identity, Duration::from_secs(4));
    client
        .request(|request_id| ClientFrame::RefreshToken {
            request_id,
            token: fresh,
        })
        .await
        .expect("a valid token is acknowledged");
    let second = client
        .wait_for("tokenExpiring", |f| match f {
            ServerFrame::TokenExpiring { expires_at } => Some(*expires_at),
            _ => None,
        })
        .await;
    assert!(
        second > first,
        "{second} announces the refreshed expiry, after {first}"
    );
}

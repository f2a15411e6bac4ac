//! The media relay (TURN) credentials of a call, against the real server: fetched before the media
//! starts and exposed with a password the relay would accept; a credentials request that fails
//! ends the call attempt with 490/4502; a relay-only agent without a relay ends with 410/3112.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appel_codes::registry;
use appel_sdk::{
    CallAgent, CallClient, CallClientOptions, CallState, IdentityId, JoinCallOptions, RelayMode,
    StartCallOptions, TokenCredential,
};
use base64::Engine as _;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use support::{
    assert_reason, connected_call, departure, end_of, next_incoming, reach, within, TestServer,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SECRET: &str = "sdk-relay-secret";
const RELAY_URL: &str = "turn:127.0.0.1:3478?transport=udp";

async fn with_relay() -> TestServer {
    TestServer::start_with(|config| {
        config.relay.urls = vec![RELAY_URL.into()];
        config.relay.secret = Some(SECRET.into());
        config.relay.credential_lifetime = Duration::from_secs(300);
    })
    .await
}

async fn agent_at(
    server: &TestServer,
    identity: &IdentityId,
    url: &str,
    relay: RelayMode,
) -> CallAgent {
    let mut options = support::options(url);
    options.relay = relay;
    CallClient::new(CallClientOptions::default())
        .create_call_agent(TokenCredential::new(server.token(identity).await), options)
        .await
        .expect("agent created")
}

/// What the relay itself computes from the shared secret to check a username.
fn relay_password(username: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(SECRET.as_bytes()).expect("any key");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn assert_valid_for(credentials: &appel_sdk::RelayCredentials, identity: &IdentityId) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(credentials.ice_servers.len(), 1);
    let server = &credentials.ice_servers[0];
    assert_eq!(server.urls, [RELAY_URL]);
    let (expiry, who) = server
        .username
        .split_once(':')
        .expect("<expiry>:<identity>");
    assert_eq!(who, identity.as_str());
    let expiry: u64 = expiry.parse().expect("unix seconds");
    assert!(
        (now + 295..=now + 301).contains(&expiry),
        "{expiry} vs {now}"
    );
    assert_eq!(credentials.expires_at, Some(expiry));
    assert_eq!(server.credential, relay_password(&server.username));
}

#[tokio::test]
async fn relay_credentials_are_fetched_for_caller_callee_and_joiner_and_the_relay_would_accept_them(
) {
    let server = with_relay().await;
    let (alice, bob) = (
        server.create_identity().await,
        server.create_identity().await,
    );
    let a = agent_at(&server, &alice, &server.url(), RelayMode::Use).await;
    let b = agent_at(&server, &bob, &server.url(), RelayMode::Only).await;
    let (outgoing, accepted) = connected_call(&a, &b).await;
    assert_valid_for(&outgoing.relay_credentials().expect("caller's"), &alice);
    assert_valid_for(&accepted.relay_credentials().expect("callee's"), &bob);

    // Joining a group call by its id fetches them the same way.
    let host = a
        .start_call(
            &[],
            StartCallOptions {
                joinable: true,
                ..StartCallOptions::default()
            },
        )
        .expect("group call");
    let call_id = within("the group call's id", async {
        loop {
            if let Some(id) = host.id() {
                return id;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let joined = b
        .join_call(&call_id, JoinCallOptions::default())
        .expect("join");
    reach(&joined, CallState::Connected).await;
    assert_valid_for(&joined.relay_credentials().expect("joiner's"), &bob);

    // An agent that asked for no relay fetches nothing.
    let (_, plain) = server.agent().await;
    let (direct, _) = connected_call(&plain, &a).await;
    assert!(direct.relay_credentials().is_none());
    for agent in [a, b, plain] {
        agent.dispose().await;
    }
}

/// How the front below answers `GET /relay/credentials`; everything else goes to the server.
#[derive(Clone, Copy, Debug)]
enum Breakage {
    Status500,
    ClosedWithoutAnswer,
    NotJson,
    /// The port stops listening once the agent is signed in (its signaling connection stays).
    PortClosed,
}

/// A loopback front for the real server that passes signaling through untouched and breaks the
/// relay credentials request, as a faulty proxy or a crashed endpoint would.
async fn front(server: SocketAddr, breakage: Breakage) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let accepting = tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = vec![0u8; 4096];
                let Ok(read) = client.read(&mut head).await else {
                    return;
                };
                head.truncate(read);
                if head.starts_with(b"GET /relay/credentials") {
                    let answer: &[u8] = match breakage {
                        Breakage::Status500 => b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\nconnection: close\r\n\r\noops",
                        Breakage::NotJson => b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 13\r\nconnection: close\r\n\r\n<html></html>",
                        Breakage::ClosedWithoutAnswer | Breakage::PortClosed => b"",
                    };
                    let _ = client.write_all(answer).await;
                    return;
                }
                let Ok(mut upstream) = TcpStream::connect(server).await else {
                    return;
                };
                if upstream.write_all(&head).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (url, accepting)
}

#[tokio::test]
async fn a_relay_credentials_request_that_fails_ends_the_call_attempt_490_4502_before_ringing() {
    let server = with_relay().await;
    let (_, bob) = server.agent().await;
    let alice = server.create_identity().await;
    for breakage in [
        Breakage::Status500,
        Breakage::ClosedWithoutAnswer,
        Breakage::NotJson,
        Breakage::PortClosed,
    ] {
        let (url, accepting) = front(server.server.addr(), breakage).await;
        let a = agent_at(&server, &alice, &url, RelayMode::Use).await;
        if let Breakage::PortClosed = breakage {
            accepting.abort();
            let _ = accepting.await;
            assert!(TcpStream::connect(url.trim_start_matches("http://"))
                .await
                .is_err());
        }
        let mut ringing = bob.incoming_calls();
        let call = a
            .start_call(&[bob.identity().clone()], StartCallOptions::default())
            .expect("the call is returned at once");
        assert_reason(end_of(&call).await, &registry::HTTP_REQUEST_FAILED);
        assert!(
            call.id().is_none(),
            "{breakage:?}: the server never heard of it"
        );
        assert!(call.relay_credentials().is_none());
        let raw = call.end_raw_cause().unwrap_or_default();
        assert!(
            !raw.is_empty(),
            "{breakage:?}: the raw cause says what failed"
        );
        // Bob was never rung.
        let rung = tokio::time::timeout(Duration::from_millis(300), ringing.next());
        assert!(rung.await.is_err(), "{breakage:?}: bob rang");
        a.dispose().await;
    }
    bob.dispose().await;
}

#[tokio::test]
async fn a_callee_whose_relay_credentials_fail_leaves_the_accepted_call_490_4502() {
    let server = with_relay().await;
    let (alice, a) = server.agent().await;
    let bob = server.create_identity().await;
    let (url, _accepting) = front(server.server.addr(), Breakage::Status500).await;
    let b = agent_at(&server, &bob, &url, RelayMode::Use).await;
    let outgoing = a
        .start_call(std::slice::from_ref(&bob), StartCallOptions::default())
        .expect("call");
    let incoming = next_incoming(&b).await;
    let accepted = within("accept", incoming.accept(Default::default()))
        .await
        .expect("the accept itself is confirmed");
    assert_reason(end_of(&accepted).await, &registry::HTTP_REQUEST_FAILED);
    // The server was told: the caller sees bob leave, and the call is over for it too.
    let left = departure(&outgoing, &bob).await;
    assert_ne!(
        left,
        appel_codes::CallEndReason::of(&registry::HTTP_REQUEST_FAILED)
    );
    end_of(&outgoing).await;
    assert!(accepted.relay_credentials().is_none());
    let _ = alice;
    a.dispose().await;
    b.dispose().await;
}

#[tokio::test]
async fn a_relay_only_agent_whose_server_has_no_relay_ends_410_3112() {
    let server = TestServer::start().await;
    let (_, bob) = server.agent().await;
    let alice = server.create_identity().await;
    let a = agent_at(&server, &alice, &server.url(), RelayMode::Only).await;
    let mut ringing = bob.incoming_calls();
    let call = a
        .start_call(&[bob.identity().clone()], StartCallOptions::default())
        .expect("call");
    assert_reason(end_of(&call).await, &registry::MEDIA_BLOCKED_BY_NETWORK);
    let rung = tokio::time::timeout(Duration::from_millis(300), ringing.next());
    assert!(rung.await.is_err(), "bob rang");
    a.dispose().await;
    bob.dispose().await;
}

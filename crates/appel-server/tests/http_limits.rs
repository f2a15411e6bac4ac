//! The HTTP listener under attack: oversized fields and bodies, unknown routes, long addresses,
//! heavy headers, silent and slow connections, a flood of connections, and a shutdown with slow
//! clients still attached. Every test drives a real server on loopback, mostly over raw TCP so that
//! the client can misbehave exactly as an attacker would.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use support::{assert_entry, problem, TestServer, PROBLEM_MEMBERS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer read off a raw socket.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The problem document, after checking the media type and the members every problem has.
    fn problem(&self) -> Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        let body: Value = serde_json::from_slice(&self.body).expect("problem json");
        assert_eq!(body["status"], self.status, "{body}");
        for member in PROBLEM_MEMBERS {
            assert!(body.get(member).is_some(), "problem lacks {member}: {body}");
        }
        body
    }
}

/// Reads one HTTP/1.1 answer (head, then a body of `content-length` bytes).
async fn read_answer(stream: &mut (impl AsyncReadExt + Unpin)) -> Option<Answer> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()?
        .split(' ')
        .nth(1)?
        .parse()
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().expect("content-length"));
    let mut body = raw[head_end..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Some(Answer {
        status,
        headers,
        body,
    })
}

/// Sends `request` as is on a new connection and reads the answer.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    tokio::time::timeout(Duration::from_secs(10), read_answer(&mut stream))
        .await
        .expect("an answer in time")
        .expect("an answer")
}

/// Whether the server closed `stream` (end of stream or reset) within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut sink = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// `POST /rooms` with `body`, which must be stored (201); the room.
async fn created_room(server: &TestServer, body: &Value) -> Value {
    let response = server
        .admin(Method::POST, "/rooms")
        .json(body)
        .send()
        .await
        .expect("POST /rooms");
    assert_eq!(response.status(), 201);
    response.json().await.expect("room")
}

fn authorized(server: &TestServer, method: &str, path: &str, extra: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n{extra}\r\n",
        server.server.addr(),
        server.server.access_key()
    )
}

#[tokio::test]
async fn a_long_roster_identity_is_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let huge = "x".repeat(1_000_000);
    let response = server
        .admin(Method::POST, "/rooms")
        .json(&json!({ "participants": [
            { "identity": "alice", "role": "Presenter" },
            { "identity": huge, "role": "Attendee" }
        ] }))
        .send()
        .await
        .expect("POST /rooms");
    let (status, body) = problem(response).await;
    assert_eq!(status, 400);
    assert_entry(&body, 400, 900117, "REQUEST_FIELD_TOO_LARGE");
    let detail = body["detail"].as_str().expect("detail");
    assert!(
        detail.contains("participants[1].identity") && detail.contains("256"),
        "{detail}"
    );
    assert!(body.to_string().len() < 2_000, "the value is not echoed");
    let (_, rooms) = server.get_json("/rooms").await;
    assert_eq!(rooms["rooms"], json!([]), "nothing was stored");

    // An existing room keeps its roster when a patch carries an identity over the limit, or more
    // entries than a roster holds, in one request or added up over several.
    let room = created_room(
        &server,
        &json!({ "participants": [{ "identity": "alice", "role": "Presenter" }] }),
    )
    .await;
    let id = room["id"].as_str().expect("id");
    let path = format!("/rooms/{id}/participants");
    let entries = |from: usize, count: usize| -> Vec<Value> {
        (from..from + count)
            .map(|i| json!({ "identity": format!("user-{i}"), "role": "Attendee" }))
            .collect()
    };
    let attempts = [
        json!({ "participants": [{ "identity": "y".repeat(257), "role": "Attendee" }] }),
        json!({ "participants": entries(0, 1001) }),
    ];
    for attempt in attempts {
        let response = server
            .admin(Method::PATCH, &path)
            .json(&attempt)
            .send()
            .await
            .expect("PATCH");
        let (status, body) = problem(response).await;
        assert_eq!(status, 400);
        assert_entry(&body, 400, 900117, "REQUEST_FIELD_TOO_LARGE");
    }
    let response = server
        .admin(Method::PATCH, &path)
        .json(&json!({ "participants": entries(0, 999) }))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(
        response.status(),
        200,
        "999 more make 1000: the most allowed"
    );
    let response = server
        .admin(Method::PATCH, &path)
        .json(&json!({ "participants": entries(999, 1) }))
        .send()
        .await
        .expect("PATCH");
    let (status, body) = problem(response).await;
    assert_eq!(status, 400);
    assert_entry(&body, 400, 900117, "REQUEST_FIELD_TOO_LARGE");
    let (_, stored) = server.get_json(&format!("/rooms/{id}")).await;
    let roster = stored["participants"].as_array().expect("participants");
    assert_eq!(roster.len(), 1000);
    assert!(roster.iter().any(|e| e["identity"] == "alice"));
}

#[tokio::test]
async fn concurrent_roster_additions_never_overshoot_the_roster_limit() {
    // Twenty administrators add sixty people each to the same room at once. Each request alone
    // fits; together they would make 1,201. The check and the write happen in one store
    // transaction, so exactly as many succeed as fit and the roster ends at most at 1,000.
    let server = TestServer::start().await;
    let room = created_room(
        &server,
        &json!({ "participants": [{ "identity": "host", "role": "Presenter" }] }),
    )
    .await;
    let path = format!("/rooms/{}/participants", room["id"].as_str().expect("id"));
    let requests = (0..20).map(|batch| {
        let request = server.admin(Method::PATCH, &path).json(&json!({
            "participants": (0..60)
                .map(|i| json!({ "identity": format!("b{batch}-u{i}"), "role": "Attendee" }))
                .collect::<Vec<_>>()
        }));
        async move { request.send().await.expect("PATCH").status().as_u16() }
    });
    let statuses = futures_util::future::join_all(requests).await;
    let accepted = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 400).count();
    assert_eq!(accepted + refused, 20, "{statuses:?}");
    assert_eq!(
        accepted, 16,
        "1 + 16 × 60 = 961 fits, a 17th batch would not"
    );
    let (_, stored) = server.get_json(&path.replace("/participants", "")).await;
    let roster = stored["participants"].as_array().expect("participants");
    assert_eq!(roster.len(), 1 + 60 * accepted);
}

#[tokio::test]
async fn oversized_fields_of_every_body_and_path_are_refused_naming_field_and_limit() {
    let server = TestServer::start().await;
    let identity = server.create_identity().await;
    let attempts = [
        (
            Method::POST,
            "/webhooks".to_string(),
            json!({ "url": format!("http://127.0.0.1/{}", "u".repeat(2048)) }),
            "url",
        ),
        (
            Method::POST,
            "/webhooks".to_string(),
            json!({ "url": "http://127.0.0.1:9/hook", "secret": "s".repeat(257) }),
            "secret",
        ),
        (
            Method::POST,
            "/webhooks".to_string(),
            json!({ "url": "http://127.0.0.1:9/hook", "events": vec!["CallEnded"; 5] }),
            "events",
        ),
        (
            Method::POST,
            format!("/identities/{identity}/token"),
            json!({ "scopes": vec!["voip"; 9] }),
            "scopes",
        ),
        (
            Method::POST,
            format!("/identities/{identity}/token"),
            json!({ "scopes": ["v".repeat(65)] }),
            "scopes[0]",
        ),
        (
            Method::POST,
            "/call-control/calls/some-call/participants".to_string(),
            json!({ "identity": "i".repeat(257) }),
            "identity",
        ),
        (
            Method::POST,
            "/rooms".to_string(),
            json!({ "validFrom": "9".repeat(65) }),
            "validFrom",
        ),
        (
            Method::GET,
            format!("/rooms/{}", "r".repeat(257)),
            Value::Null,
            "path parameter `id`",
        ),
    ];
    for (method, path, body, field) in attempts {
        let mut request = server.admin(method.clone(), &path);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let (status, problem) = problem(response).await;
        assert_eq!(status, 400, "{method} {field}");
        assert_entry(&problem, 400, 900117, "REQUEST_FIELD_TOO_LARGE");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.starts_with(&format!("{field}: at most")), "{detail}");
    }
    let (_, hooks) = server.get_json("/webhooks").await;
    assert_eq!(hooks["subscriptions"], json!([]), "nothing was stored");
    let (_, rooms) = server.get_json("/rooms").await;
    assert_eq!(rooms["rooms"], json!([]));
}

#[tokio::test]
async fn an_oversized_body_is_413_problem_json() {
    let server = TestServer::start_with(|c| c.http.max_body_bytes = 1000).await;
    let addr = server.server.addr();

    // Announced: refused from the headers, before a byte of the body is read.
    let mut request = authorized(
        &server,
        "POST",
        "/rooms",
        "Content-Type: application/json\r\nContent-Length: 50000000\r\n",
    )
    .into_bytes();
    request.extend_from_slice(b"{\"participants\":[");
    let answer = exchange(addr, &request).await;
    assert_eq!(answer.status, 413);
    let body = answer.problem();
    assert_entry(&body, 413, 900112, "REQUEST_BODY_TOO_LARGE");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("1000")));

    // Not announced (chunked): refused once the read passes the limit.
    let payload = format!(
        "{{\"participants\":[{{\"identity\":\"{}\",\"role\":\"Attendee\"}}]}}",
        "z".repeat(1200)
    );
    let mut request = authorized(
        &server,
        "POST",
        "/rooms",
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
    )
    .into_bytes();
    request.extend_from_slice(format!("{:x}\r\n{payload}\r\n0\r\n\r\n", payload.len()).as_bytes());
    let answer = exchange(addr, &request).await;
    assert_eq!(answer.status, 413);
    assert_entry(&answer.problem(), 413, 900112, "REQUEST_BODY_TOO_LARGE");

    let (_, rooms) = server.get_json("/rooms").await;
    assert_eq!(rooms["rooms"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problem_json() {
    let server = TestServer::start().await;
    let response = server.get("/no/such/route").await;
    let (status, body) = problem(response).await;
    assert_eq!(status, 404);
    assert_entry(&body, 404, 900110, "ROUTE_NOT_FOUND");
    assert!(body["detail"]
        .as_str()
        .is_some_and(|d| d.contains("GET /no/such/route")));

    let response = server.get("/app/../../etc/passwd").await;
    let (status, body) = problem(response).await;
    assert_eq!(status, 404);
    assert_entry(&body, 404, 900110, "ROUTE_NOT_FOUND");

    let response = server
        .http
        .delete(server.url("/health"))
        .send()
        .await
        .expect("DELETE");
    let allow = response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (status, body) = problem(response).await;
    assert_eq!(status, 405);
    assert_entry(&body, 405, 900111, "METHOD_NOT_ALLOWED");
    assert!(allow.contains("GET"), "Allow: {allow}");
}

#[tokio::test]
async fn a_long_uri_is_414_problem_json() {
    let server = TestServer::start().await;
    let response = server
        .get(&format!("/health?pad={}", "a".repeat(9000)))
        .await;
    let (status, body) = problem(response).await;
    assert_eq!(status, 414);
    assert_entry(&body, 414, 900113, "URI_TOO_LONG");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("8192")));
}

#[tokio::test]
async fn huge_or_numerous_headers_are_431_problem_json() {
    let server = TestServer::start().await;
    let response = server
        .http
        .get(server.url("/health"))
        .header("x-padding", "h".repeat(20_000))
        .send()
        .await
        .expect("GET");
    let (status, body) = problem(response).await;
    assert_eq!(status, 431);
    assert_entry(&body, 431, 900114, "HEADERS_TOO_LARGE");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("16384")));

    let mut many = server.http.get(server.url("/health"));
    for i in 0..80 {
        many = many.header(format!("x-h{i}"), "1");
    }
    let (status, body) = problem(many.send().await.expect("GET")).await;
    assert_eq!(status, 431);
    assert_entry(&body, 431, 900114, "HEADERS_TOO_LARGE");

    // Far beyond the listener's limit, hyper's read buffer is the last line: the request is never
    // served (an empty 431, or the connection closed).
    let mut stream = TcpStream::connect(server.server.addr())
        .await
        .expect("connect");
    let head = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "h".repeat(200_000)
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let answer = tokio::time::timeout(Duration::from_secs(10), read_answer(&mut stream))
        .await
        .expect("answered or closed in time");
    if let Some(answer) = answer {
        assert_eq!(answer.status, 431, "{answer:?}");
    }

    // The same server still serves a normal request.
    let response = server.get("/health").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_thousand_silent_connections_are_closed() {
    let header_timeout = Duration::from_secs(2);
    let server = TestServer::start_with(|c| c.http.header_read_timeout = header_timeout).await;
    let addr = server.server.addr();
    let mut connections = Vec::with_capacity(1000);
    for i in 0..1000 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        if i % 2 == 1 {
            // Half of them start a request and never finish its headers.
            stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .expect("write");
        }
        connections.push(stream);
    }
    let opened = Instant::now();

    let served = Instant::now();
    let response = reqwest::Client::new()
        .get(server.url("/health"))
        .send()
        .await
        .expect("a normal request meanwhile");
    assert_eq!(response.status(), 200);
    assert!(
        served.elapsed() < header_timeout,
        "served while the silent ones were still open"
    );

    let bound = header_timeout + Duration::from_secs(5);
    let mut still_open = 0;
    for stream in &mut connections {
        let left = bound.saturating_sub(opened.elapsed());
        if !closed_within(stream, left).await {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "connections the server left open");
    assert!(opened.elapsed() <= bound + Duration::from_secs(1));
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let server = TestServer::start_with(|c| {
        c.http.header_read_timeout = Duration::from_millis(300);
        c.http.idle_timeout = Duration::from_millis(1500);
    })
    .await;
    let mut stream = TcpStream::connect(server.server.addr())
        .await
        .expect("connect");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let answer = read_answer(&mut stream).await.expect("answer");
    assert_eq!(answer.status, 200);
    // Past the header timeout, an idle connection is still kept for its next request...
    assert!(!closed_within(&mut stream, Duration::from_millis(700)).await);
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let answer = read_answer(&mut stream).await.expect("second answer");
    assert_eq!(answer.status, 200);
    // ...and closed once it has been idle for the idle timeout.
    let idle = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(6)).await);
    assert!(idle.elapsed() >= Duration::from_millis(1200));
}

#[tokio::test]
async fn a_slow_body_is_cut() {
    let body_timeout = Duration::from_millis(600);
    let server = TestServer::start_with(|c| c.http.body_read_timeout = body_timeout).await;
    let stream = TcpStream::connect(server.server.addr())
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = authorized(
        &server,
        "POST",
        "/rooms",
        "Content-Type: application/json\r\nContent-Length: 200\r\n",
    );
    writer.write_all(head.as_bytes()).await.expect("head");
    let started = Instant::now();
    // One byte every 100 ms: each arrives well within any per-read timeout, the whole never does.
    let dribble = tokio::spawn(async move {
        for _ in 0..200 {
            if writer.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let answer = tokio::time::timeout(Duration::from_secs(8), read_answer(&mut reader))
        .await
        .expect("cut in time")
        .expect("an answer");
    let took = started.elapsed();
    assert_eq!(answer.status, 408);
    assert_entry(&answer.problem(), 408, 900115, "REQUEST_READ_TIMEOUT");
    assert!(took >= body_timeout, "{took:?}");
    assert!(took < body_timeout + Duration::from_secs(3), "{took:?}");
    let mut rest = [0u8; 64];
    let end = tokio::time::timeout(Duration::from_secs(5), reader.read(&mut rest)).await;
    assert!(
        matches!(end, Ok(Ok(0)) | Ok(Err(_))),
        "the connection is closed"
    );
    dribble.abort();
    let (_, rooms) = server.get_json("/rooms").await;
    assert_eq!(rooms["rooms"], json!([]));
}

#[tokio::test]
async fn shutdown_is_not_held_by_a_slow_connection() {
    let drain = Duration::from_millis(500);
    let server = TestServer::start_with(|c| {
        c.http.shutdown_drain = drain;
        // Long enough that only the shutdown can end these connections.
        c.http.header_read_timeout = Duration::from_secs(120);
        c.http.body_read_timeout = Duration::from_secs(120);
        c.http.idle_timeout = Duration::from_secs(120);
    })
    .await;
    let addr = server.server.addr();
    let silent = TcpStream::connect(addr).await.expect("connect");
    let mut partial = TcpStream::connect(addr).await.expect("connect");
    partial
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let mut slow_body = TcpStream::connect(addr).await.expect("connect");
    let head = authorized(
        &server,
        "POST",
        "/rooms",
        "Content-Type: application/json\r\nContent-Length: 100\r\n",
    );
    slow_body.write_all(head.as_bytes()).await.expect("head");
    slow_body.write_all(b"{\"partic").await.expect("body");
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(read_answer(&mut idle).await.expect("answer").status, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let TestServer { server, data, .. } = server;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(15), server.shutdown())
        .await
        .expect("shutdown ends");
    let took = started.elapsed();
    assert!(took < drain + Duration::from_secs(3), "{took:?}");

    for (name, mut stream) in [
        ("silent", silent),
        ("partial", partial),
        ("slow body", slow_body),
        ("idle", idle),
    ] {
        assert!(
            closed_within(&mut stream, Duration::from_secs(2)).await,
            "{name} is closed"
        );
    }
    drop(data);
}

#[tokio::test]
async fn over_the_connection_limit_is_refused_and_freed_slots_are_accepted() {
    let server = TestServer::start_with(|c| {
        c.http.max_connections = 8;
        c.http.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    let addr = server.server.addr();
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(server.url("/health"))
        .send()
        .await
        .expect("answered");
    let (status, body) = problem(response).await;
    assert_eq!(status, 503);
    assert_entry(&body, 503, 900116, "TOO_MANY_CONNECTIONS");
    assert_eq!(body["retryable"], true);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused promptly"
    );

    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = reqwest::Client::new()
            .get(server.url("/health"))
            .send()
            .await
            .expect("answered");
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 503);
        assert!(Instant::now() < deadline, "the freed slots were not reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn upgraded_signaling_connections_leave_the_http_count() {
    let server = TestServer::start_with(|c| c.http.max_connections = 2).await;
    // Each sign-in goes through an HTTP upgrade; were upgraded connections still counted, the third
    // would be refused.
    let mut clients = Vec::new();
    for i in 0..4 {
        let (_, client) = server.user(&format!("endpoint-{i}")).await;
        clients.push(client);
    }
    let response = server.get("/health").await;
    assert_eq!(
        response.status(),
        200,
        "four signaling connections, two slots"
    );
    drop(clients);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_rest_answer_does_not_hold_a_slot() {
    const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
    let server = TestServer::start_with(|c| {
        c.http.max_connections = 1;
        c.http.response_write_timeout = WRITE_TIMEOUT;
        // Only the write deadline may free the slot here.
        c.http.header_read_timeout = Duration::from_secs(60);
        c.http.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let addr = server.server.addr();
    let one = exchange(
        addr,
        authorized(&server, "GET", "/openapi.json", "").as_bytes(),
    )
    .await;
    assert_eq!(one.status, 200);
    let answer_bytes = one.body.len();

    // The attacker asks for the large document many times over on one connection (pipelined), with
    // a tiny receive window, and never reads: the answers fill the socket and the server's writes
    // block.
    const ASKED: usize = 400;
    let requests = authorized(&server, "GET", "/openapi.json", "").repeat(ASKED);
    let mut attempts = 0;
    let (mut attacker, blocked) = loop {
        attempts += 1;
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("receive buffer");
        let mut attacker = socket.connect(addr).await.expect("connect");
        tokio::time::timeout(
            Duration::from_secs(5),
            attacker.write_all(requests.as_bytes()),
        )
        .await
        .expect("the requests are taken")
        .expect("written");
        let blocked = Instant::now();
        // The status line only: the slot of the first exchange may not be free yet, and then this
        // connection is turned away.
        let mut status = [0u8; 12];
        attacker
            .read_exact(&mut status)
            .await
            .expect("a status line");
        if &status == b"HTTP/1.1 200" {
            break (attacker, blocked);
        }
        assert!(
            attempts < 20,
            "never admitted: {:?}",
            String::from_utf8_lossy(&status)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (mut reader, _writer) = attacker.split();

    // Meanwhile the one slot is taken: another client is turned away.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = reqwest::Client::new()
        .get(server.url("/health"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 503, "the unread answers hold the slot");

    // Past the write deadline the server drops the attacker and serves others again.
    let freed = loop {
        let response = reqwest::Client::new()
            .get(server.url("/health"))
            .send()
            .await
            .expect("answered");
        if response.status() == 200 {
            break blocked.elapsed();
        }
        assert_eq!(response.status(), 503);
        assert!(
            blocked.elapsed() < WRITE_TIMEOUT * 4,
            "the slot is still held after {:?}",
            blocked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // What was on its way is all the attacker ever gets: the connection ends well short of the
    // answers it asked for.
    let mut received = 0usize;
    let mut sink = vec![0u8; 64 * 1024];
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match reader.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received += n,
            }
        }
    })
    .await
    .is_ok();
    eprintln!(
        "unread answers: {ASKED} × {answer_bytes} bytes asked, slot freed after {freed:?}, \
         {received} bytes were on their way"
    );
    assert!(ended, "the attacker's connection never ended");
    assert!(freed >= WRITE_TIMEOUT / 2, "freed after {freed:?}");
    assert!(
        received < ASKED * answer_bytes / 2,
        "{received} bytes received: the answers were written out in full"
    );
}

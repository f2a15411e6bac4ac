//! Identities with display names, as an application backend (access key) and a signed-in user
//! (user token) see them: creation, renaming, search by name, pages, presence that follows the
//! real connections and calls, and the switch that hides the directory from users.

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use support::{problem, TestServer};

async fn create(server: &TestServer, body: Value) -> (u16, Value) {
    let response = server
        .admin(Method::POST, "/identities")
        .json(&body)
        .send()
        .await
        .expect("POST /identities");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

fn names(page: &Value) -> Vec<String> {
    page["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|i| i["displayName"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn presence(server: &TestServer, id: &str) -> String {
    let (status, body) = server.get_json(&format!("/identities/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body["presence"].as_str().expect("presence").to_string()
}

#[tokio::test]
async fn identities_are_named_searched_by_prefix_and_paged_in_name_order() {
    let server = TestServer::start().await;
    let mut ids = Vec::new();
    for name in ["bob", "Alice", "alfred", "Bérénice", "100%_sure"] {
        let (status, body) = create(&server, json!({ "displayName": format!("  {name} ") })).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["displayName"], name, "trimmed");
        assert_eq!(body["presence"], "offline");
        ids.push(body["id"].as_str().expect("id").to_string());
    }
    let (status, unnamed) = create(&server, json!({})).await;
    assert_eq!(status, 201);
    assert!(unnamed.get("displayName").is_none(), "{unnamed}");

    // Case is ignored in the order and in the search; LIKE's wildcards are plain characters.
    let (_, all) = server.get_json("/identities").await;
    // Names compare without case or accents: "Bérénice" sorts as "berenice".
    assert_eq!(
        names(&all),
        ["", "100%_sure", "alfred", "Alice", "Bérénice", "bob"]
    );
    let (_, found) = server.get_json("/identities?name=bere").await;
    assert_eq!(
        names(&found),
        ["Bérénice"],
        "found without typing the accents"
    );
    let (_, found) = server.get_json("/identities?name=B%C3%89R").await;
    assert_eq!(names(&found), ["Bérénice"], "nor their case");
    let (_, found) = server.get_json("/identities?name=AL").await;
    assert_eq!(names(&found), ["alfred", "Alice"]);
    let (_, found) = server.get_json("/identities?name=100%25_").await;
    assert_eq!(names(&found), ["100%_sure"]);
    let (_, found) = server.get_json("/identities?name=_").await;
    assert_eq!(
        names(&found),
        Vec::<String>::new(),
        "`_` matches only itself"
    );

    // Pages of two, each `next` leading on, the last without one.
    let mut seen = Vec::new();
    let mut path = "/identities?limit=2".to_string();
    loop {
        let (status, page) = server.get_json(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(names(&page));
        match page["next"].as_str() {
            Some(next) => path = format!("/identities?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, names(&all));

    // Renamed, the identity moves in the order; a null name removes it; a deleted identity leaves
    // every list and cannot be renamed.
    let bob = &ids[0];
    let response = server
        .admin(Method::PATCH, &format!("/identities/{bob}"))
        .json(&json!({ "displayName": "Aaron" }))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(response.status(), 200);
    let (_, found) = server.get_json("/identities?name=a").await;
    assert_eq!(names(&found), ["Aaron", "alfred", "Alice"]);
    let response = server
        .admin(Method::DELETE, &format!("/identities/{bob}"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), 204);
    let (_, found) = server.get_json("/identities?name=a").await;
    assert_eq!(names(&found), ["alfred", "Alice"]);
    let response = server
        .admin(Method::PATCH, &format!("/identities/{bob}"))
        .json(&json!({ "displayName": "Ghost" }))
        .send()
        .await
        .expect("PATCH");
    let (status, body) = problem(response).await;
    assert_eq!((status, body["subCode"].as_u64()), (404, Some(900101)));
}

#[tokio::test]
async fn bad_names_limits_and_cursors_are_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let attempts = [
        (json!({ "displayName": "" }), 400, 900102),
        (json!({ "displayName": "   " }), 400, 900102),
        (json!({ "displayName": "a\u{7}b" }), 400, 900102),
        (json!({ "displayName": "n".repeat(129) }), 400, 900117),
        (json!({ "displayName": "ok", "admin": true }), 400, 900102),
        (json!({ "displayName": 7 }), 400, 900102),
    ];
    for (body, status, sub_code) in attempts {
        let response = server
            .admin(Method::POST, "/identities")
            .json(&body)
            .send()
            .await
            .expect("POST");
        let (got, problem_body) = problem(response).await;
        assert_eq!(got, status, "{body}: {problem_body}");
        assert_eq!(problem_body["subCode"], sub_code, "{body}: {problem_body}");
    }
    let (_, all) = server.get_json("/identities").await;
    assert_eq!(all["identities"], json!([]), "nothing was stored");
    for query in [
        "limit=0",
        "limit=201",
        "after=zz.x",
        "after=6",
        "after=%FF.x",
        "limit=x",
    ] {
        let response = server
            .admin(Method::GET, &format!("/identities?{query}"))
            .send()
            .await
            .expect("GET");
        let (status, body) = problem(response).await;
        assert_eq!(status, 400, "{query}: {body}");
    }
    let response = server
        .http
        .get(server.url("/identities"))
        .send()
        .await
        .expect("GET without key");
    assert_eq!(problem(response).await.0, 401);
}

#[tokio::test]
async fn presence_follows_connections_and_calls() {
    let server = TestServer::start().await;
    let (_, alice) = create(&server, json!({ "displayName": "Alice" })).await;
    let (_, bob) = create(&server, json!({ "displayName": "Bob" })).await;
    let (alice, bob) = (
        alice["id"].as_str().expect("id").to_string(),
        bob["id"].as_str().expect("id").to_string(),
    );
    assert_eq!(presence(&server, &alice).await, "offline");
    let mut alice_phone = server.connect(&alice, "phone").await;
    let mut bob_laptop = server.connect(&bob, "laptop").await;
    assert_eq!(presence(&server, &alice).await, "online");
    assert_eq!(presence(&server, &bob).await, "online");

    let (call, _) = alice_phone.start_call(&[&bob]).await;
    assert_eq!(
        presence(&server, &alice).await,
        "inCall",
        "a caller is in its call at once"
    );
    assert_eq!(
        presence(&server, &bob).await,
        "online",
        "ringing is not being in a call"
    );
    let incoming = bob_laptop.incoming().await;
    bob_laptop.accept(&incoming).await.expect("accept");
    assert_eq!(presence(&server, &bob).await, "inCall");
    let (_, listed) = server.get_json("/identities?name=b").await;
    assert_eq!(listed["identities"][0]["presence"], "inCall");

    alice_phone.hang_up(&call).await.expect("hang up");
    bob_laptop
        .wait_for("the end", |frame| {
            matches!(frame, appel_protocol::ServerFrame::CallEnded { .. }).then_some(())
        })
        .await;
    assert_eq!(presence(&server, &alice).await, "online");
    assert_eq!(presence(&server, &bob).await, "online");
    alice_phone.close().await;
    let mut offline = false;
    for _ in 0..100 {
        if presence(&server, &alice).await == "offline" {
            offline = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(offline, "a closed connection leaves the identity offline");
}

#[tokio::test]
async fn people_lists_named_identities_to_signed_in_users_unless_the_operator_turns_it_off() {
    let server = TestServer::start().await;
    let (_, carol) = create(&server, json!({ "displayName": "Carol" })).await;
    let (_, _unnamed) = create(&server, json!({})).await;
    let carol = carol["id"].as_str().expect("id").to_string();
    let token = server.token(&carol).await;
    let response = server
        .http
        .get(server.url("/people"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET /people");
    assert_eq!(response.status(), 200);
    let people: Value = response.json().await.expect("json");
    assert_eq!(
        names(&people),
        ["Carol"],
        "identities without a name are not people"
    );
    // Not with the access key in place of a user token, nor without a token.
    let response = server
        .admin(Method::GET, "/people")
        .send()
        .await
        .expect("GET");
    assert_eq!(problem(response).await.1["subCode"], 10009);

    let hidden = TestServer::start_with(|c| c.directory.people = false).await;
    let (_, dave) = create(&hidden, json!({ "displayName": "Dave" })).await;
    let token = hidden.token(dave["id"].as_str().expect("id")).await;
    let response = hidden
        .http
        .get(hidden.url("/people"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET /people");
    let (status, body) = problem(response).await;
    assert_eq!(status, 403);
    assert_eq!(body["subCode"], 900122);
    assert_eq!(body["name"], "PEOPLE_DIRECTORY_DISABLED");
}

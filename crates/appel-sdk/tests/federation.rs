//! Federated identities (docs/identities.md) against a real server and a real identity provider
//! on loopback (`support/issuer.rs`): users of a trusted provider sign in with its tokens through
//! `CallClient::create_federated_call_agent`, call native users and are called by them; every
//! forged or misdirected token is 401/10009; the provider's key rotation is picked up without a
//! restart; and the provider is fetched only as often as the server's settings allow.

#[path = "support/issuer.rs"]
mod issuer;
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use appel_codes::registry;
use appel_sdk::{
    federated_identity, CallClient, CallClientOptions, CallingError, FederatedCallAgent,
    HangUpOptions, IdentityId, JoinCallOptions, StartCallOptions, TokenCredential,
};
use base64::Engine;
use issuer::{Issuer, SigningKey, RSA_1_PUBLIC_PEM};
use serde_json::{json, Value};
use support::{
    assert_error, assert_reason, connected_call, departure, end_of, next_incoming, options,
    stop_of, within, TestServer,
};

const AUDIENCE: &str = "appel-test";

/// A server that trusts `issuer` through its config file settings, and may fetch its keys again
/// at once (each test that needs a limit sets its own).
async fn server_trusting(
    issuer: &Issuer,
    adjust: impl FnOnce(&mut appel_server::Config),
) -> TestServer {
    let url = issuer.url.clone();
    TestServer::start_with(move |config| {
        config.federation.issuers = vec![url];
        config.federation.audience = Some(AUDIENCE.into());
        config.federation.jwks_min_refresh = Duration::ZERO;
        adjust(config);
    })
    .await
}

async fn sign_in(
    client: &CallClient,
    server: &TestServer,
    token: String,
) -> Result<FederatedCallAgent, CallingError> {
    within(
        "create_federated_call_agent",
        client.create_federated_call_agent(TokenCredential::new(token), options(&server.url())),
    )
    .await
}

async fn federated(server: &TestServer, token: String) -> FederatedCallAgent {
    sign_in(
        &CallClient::new(CallClientOptions::default()),
        server,
        token,
    )
    .await
    .expect("federated agent created")
}

/// `GET /validate` with `token`: status and body.
async fn validate(server: &TestServer, token: &str) -> (u16, Value) {
    let response = server
        .http
        .get(format!("{}/validate", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("validate");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A REST call with the access key.
async fn rest(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = server
        .http
        .request(method, format!("{}{path}", server.url()))
        .bearer_auth(server.server.access_key());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("REST request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The token is refused at both doors, `hello` (through the SDK) and `/validate`, with 401/10009,
/// for the reason `why` (a fragment of the raw cause the operator reads).
async fn assert_refused(server: &TestServer, token: String, why: &str) {
    let client = CallClient::new(CallClientOptions::default());
    let error = assert_error(
        sign_in(&client, server, token.clone()).await,
        &registry::UNAUTHENTICATED,
    );
    let cause = error.raw_cause().unwrap_or_default().to_string();
    assert!(cause.contains(why), "expected `{why}`, got `{cause}`");
    let (status, body) = validate(server, &token).await;
    assert_eq!(status, 401, "{why}: {body}");
    assert_eq!(body["subCode"], 10009, "{why}: {body}");
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_federated_user_signs_in_with_rs256_and_es256_and_its_id_names_issuer_and_subject() {
    let idp = Issuer::start().await;
    let server = server_trusting(&idp, |_| {}).await;
    let rs = federated(&server, idp.token("alice", AUDIENCE)).await;
    assert_eq!(
        rs.identity().as_str(),
        federated_identity(&idp.url, "alice")
    );
    assert_eq!(rs.issuer(), idp.url);
    assert_eq!(rs.subject(), "alice");
    let es = federated(
        &server,
        SigningKey::ec_1().sign(&idp.claims("bob@example.org", AUDIENCE)),
    )
    .await;
    assert_eq!(es.subject(), "bob@example.org");
    let (status, body) = validate(&server, &idp.token("carol", AUDIENCE)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["identity"], federated_identity(&idp.url, "carol"));
    rs.dispose().await;
    es.dispose().await;
}

/// A webhook receiver on loopback: every body it was sent.
async fn webhook_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let bodies = Arc::clone(&bodies);
            move |body: String| async move {
                bodies.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, bodies)
}

#[tokio::test]
async fn native_and_federated_users_call_each_other_with_every_one_to_one_outcome() {
    let idp = Issuer::start().await;
    let server = server_trusting(&idp, |_| {}).await;
    let (hook, events) = webhook_receiver().await;
    let (status, body) = rest(
        &server,
        reqwest::Method::POST,
        "/webhooks",
        Some(json!({ "url": hook })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (native_id, native) = server.agent().await;
    let fed = federated(&server, idp.token("dana", AUDIENCE)).await;
    let fed_id = fed.identity().clone();

    // Federated calls native, native hangs up: both see a local/remote hang-up.
    let (outgoing, accepted) = connected_call(&fed, &native).await;
    within("hang up", accepted.hang_up(HangUpOptions::default()))
        .await
        .expect("hang up");
    assert_reason(end_of(&accepted).await, &registry::CALL_ENDED_LOCALLY);
    assert_reason(
        departure(&outgoing, &native_id).await,
        &registry::CALL_ENDED_LOCALLY,
    );

    // Native calls federated, federated hangs up.
    let (outgoing, accepted) = connected_call(&native, &fed).await;
    assert!(outgoing
        .remote_participants()
        .iter()
        .any(|p| p.identity == fed_id));
    within("hang up", accepted.hang_up(HangUpOptions::default()))
        .await
        .expect("hang up");
    assert_reason(
        departure(&outgoing, &fed_id).await,
        &registry::CALL_ENDED_LOCALLY,
    );
    let call_id = outgoing.id().expect("call id").to_string();

    // Native calls federated, which declines; then federated calls native, which declines.
    let call = native
        .start_call(std::slice::from_ref(&fed_id), StartCallOptions::default())
        .unwrap();
    within("reject", next_incoming(&fed).await.reject())
        .await
        .expect("reject");
    assert_reason(end_of(&call).await, &registry::CALL_DECLINED);
    let call = fed
        .start_call(
            std::slice::from_ref(&native_id),
            StartCallOptions::default(),
        )
        .unwrap();
    within("reject", next_incoming(&native).await.reject())
        .await
        .expect("reject");
    assert_reason(end_of(&call).await, &registry::CALL_DECLINED);

    // Nobody answers, both ways.
    let call = native
        .start_call(std::slice::from_ref(&fed_id), StartCallOptions::default())
        .unwrap();
    let ring = next_incoming(&fed).await;
    assert_reason(end_of(&call).await, &registry::RINGING_TIMEOUT);
    assert_reason(stop_of(&ring).await, &registry::RINGING_TIMEOUT);
    let call = fed
        .start_call(
            std::slice::from_ref(&native_id),
            StartCallOptions::default(),
        )
        .unwrap();
    let ring = next_incoming(&native).await;
    assert_reason(end_of(&call).await, &registry::RINGING_TIMEOUT);
    assert_reason(stop_of(&ring).await, &registry::RINGING_TIMEOUT);

    // The call record names the federated identity as it is everywhere else.
    let (status, record) = rest(
        &server,
        reqwest::Method::GET,
        &format!("/calls/{call_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["caller"], native_id.as_str());
    assert_eq!(record["targets"], json!([fed_id.as_str()]));
    let response = server
        .http
        .get(format!("{}/calls", server.url()))
        .query(&[("identity", fed_id.as_str())])
        .bearer_auth(server.server.access_key())
        .send()
        .await
        .expect("calls");
    let page: Value = response.json().await.expect("a page");
    assert_eq!(page["calls"].as_array().map(Vec::len), Some(6), "{page}");
    // And the webhooks carry it too.
    within("a webhook naming the federated user", async {
        loop {
            let quoted = serde_json::to_string(fed_id.as_str()).unwrap();
            if events.lock().unwrap().iter().any(|e| e.contains(&quoted)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    native.dispose().await;
    fed.dispose().await;
}

#[tokio::test]
async fn a_second_agent_for_the_same_federated_user_in_one_client_is_40230() {
    let idp = Issuer::start().await;
    let server = server_trusting(&idp, |_| {}).await;
    let client = CallClient::new(CallClientOptions::default());
    let first = sign_in(&client, &server, idp.token("erin", AUDIENCE))
        .await
        .expect("first agent");
    // A fresh token for the same user (an ES256 one, another jti): still the same identity.
    let second = SigningKey::ec_1().sign(&idp.claims("erin", AUDIENCE));
    assert_error(
        sign_in(&client, &server, second.clone()).await,
        &registry::FEDERATED_CALL_AGENT_ALREADY_EXISTS,
    );
    // Another client may sign the same user in (another device), and once the first agent is
    // gone this client may again.
    let elsewhere = federated(&server, second.clone()).await;
    first.dispose().await;
    let again = sign_in(&client, &server, second)
        .await
        .expect("after dispose");
    elsewhere.dispose().await;
    again.dispose().await;
}

#[tokio::test]
async fn calling_off_for_the_provider_refuses_start_join_and_answer_with_41056() {
    let idp = Issuer::start().await;
    let server = server_trusting(&idp, |config| config.federation.calling = false).await;
    let (native_id, native) = server.agent().await;
    let fed = federated(&server, idp.token("frank", AUDIENCE)).await;

    let started = fed
        .start_call(
            std::slice::from_ref(&native_id),
            StartCallOptions::default(),
        )
        .unwrap();
    assert_reason(
        end_of(&started).await,
        &registry::FEDERATED_CALLING_DISABLED,
    );

    let group = native
        .start_call(
            &[],
            StartCallOptions {
                joinable: true,
                ..Default::default()
            },
        )
        .unwrap();
    let group_id = within("the call's id", async {
        loop {
            if let Some(id) = group.id() {
                return id;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let joined = fed
        .join_call(&group_id, JoinCallOptions::default())
        .unwrap();
    assert_reason(end_of(&joined).await, &registry::FEDERATED_CALLING_DISABLED);

    // Called by a native user, it rings but cannot answer.
    let call = native
        .start_call(
            std::slice::from_ref(fed.identity()),
            StartCallOptions::default(),
        )
        .unwrap();
    let ring = next_incoming(&fed).await;
    assert_error(
        ring.accept(Default::default()).await,
        &registry::FEDERATED_CALLING_DISABLED,
    );
    within("cancel", call.hang_up(HangUpOptions::default()))
        .await
        .expect("cancel");
    native.dispose().await;
    fed.dispose().await;
}

#[tokio::test]
async fn a_federated_user_joining_a_room_is_5830_unless_its_provider_allows_rooms() {
    let idp = Issuer::start().await;
    let server = server_trusting(&idp, |_| {}).await;
    let fed = federated(&server, idp.token("gina", AUDIENCE)).await;
    let roster =
        json!({ "participants": [{ "identity": fed.identity().as_str(), "role": "Attendee" }] });
    let (status, room) = rest(
        &server,
        reqwest::Method::POST,
        "/rooms",
        Some(roster.clone()),
    )
    .await;
    assert_eq!(status, 201, "{room}");
    let room_id = room["id"].as_str().expect("room id").to_string();
    let call = fed.join_room(&room_id, JoinCallOptions::default()).unwrap();
    assert_reason(end_of(&call).await, &registry::ROOM_USER_KIND_NOT_ALLOWED);
    fed.dispose().await;

    // A provider added with rooms on: the same kind of user gets in.
    let other = Issuer::start().await;
    let (status, body) = rest(
        &server,
        reqwest::Method::POST,
        "/federation/issuers",
        Some(json!({ "issuer": other.url, "audience": AUDIENCE, "rooms": true })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let guest = federated(&server, other.token("gina", AUDIENCE)).await;
    let roster =
        json!({ "participants": [{ "identity": guest.identity().as_str(), "role": "Attendee" }] });
    let (_, room) = rest(&server, reqwest::Method::POST, "/rooms", Some(roster)).await;
    let call = guest
        .join_room(room["id"].as_str().unwrap(), JoinCallOptions::default())
        .unwrap();
    support::reach(&call, appel_sdk::CallState::Connected).await;
    guest.dispose().await;
}

#[tokio::test]
async fn forged_misdirected_expired_and_confused_tokens_are_all_401_10009() {
    let idp = Issuer::start().await;
    let stranger = Issuer::start().await;
    let server = server_trusting(&idp, |_| {}).await;
    let now = issuer::now();

    // Signed with a key the provider never published, under the kid of one it did.
    let mut forged = SigningKey::rsa_2();
    forged.kid = "rsa-1".into();
    assert_refused(
        &server,
        forged.sign(&idp.claims("h", AUDIENCE)),
        "InvalidSignature",
    )
    .await;

    let mut claims = idp.claims("h", AUDIENCE);
    claims["aud"] = json!("another-service");
    assert_refused(
        &server,
        SigningKey::rsa_1().sign(&claims),
        "InvalidAudience",
    )
    .await;

    // Validly signed by a provider this server does not trust: refused, and never fetched.
    assert_refused(&server, stranger.token("h", AUDIENCE), "does not trust").await;
    assert_eq!(stranger.fetches(), 0, "an untrusted issuer was fetched");

    // A trusted provider's key, but the token claims to come from elsewhere.
    let mut claims = idp.claims("h", AUDIENCE);
    claims["iss"] = json!(stranger.url);
    assert_refused(&server, SigningKey::rsa_1().sign(&claims), "does not trust").await;
    assert_eq!(stranger.fetches(), 0, "an untrusted issuer was fetched");

    let mut claims = idp.claims("h", AUDIENCE);
    claims["iat"] = json!(now - 3600);
    claims["exp"] = json!(now - 120);
    assert_refused(&server, SigningKey::rsa_1().sign(&claims), "token expired").await;

    let mut claims = idp.claims("h", AUDIENCE);
    claims["nbf"] = json!(now + 600);
    claims["exp"] = json!(now + 1200);
    assert_refused(
        &server,
        SigningKey::rsa_1().sign(&claims),
        "ImmatureSignature",
    )
    .await;

    let mut claims = idp.claims("h", AUDIENCE);
    claims.as_object_mut().unwrap().remove("sub");
    assert_refused(&server, SigningKey::rsa_1().sign(&claims), "no `sub` claim").await;

    let payload = b64(idp.claims("h", AUDIENCE).to_string().as_bytes());
    for header in [
        json!({ "alg": "none", "typ": "JWT" }),
        json!({ "alg": "none", "kid": "rsa-1" }),
        json!({ "alg": "None", "kid": "rsa-1" }),
    ] {
        let unsigned = format!("{}.{payload}.", b64(header.to_string().as_bytes()));
        assert_refused(&server, unsigned, "unknown variant").await;
    }

    // HS256 keyed with the provider's public key, under its kid: the classic confusion.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let confused = jsonwebtoken::encode(
        &header,
        &idp.claims("h", AUDIENCE),
        &jsonwebtoken::EncodingKey::from_secret(RSA_1_PUBLIC_PEM),
    )
    .unwrap();
    assert_refused(&server, confused, "HS256 is not accepted").await;

    // An ES256 header over the RSA key's kid: the key's family does not fit the algorithm.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("rsa-1".into());
    let crossed = jsonwebtoken::encode(
        &header,
        &idp.claims("h", AUDIENCE),
        &SigningKey::ec_1().encoding,
    )
    .unwrap();
    assert_refused(&server, crossed, "no key `rsa-1`").await;

    // And after all that the provider's real tokens still work.
    let fine = federated(&server, idp.token("h", AUDIENCE)).await;
    fine.dispose().await;
}

#[tokio::test]
async fn a_key_rotation_at_the_provider_is_picked_up_without_a_restart() {
    let idp = Issuer::start().await;
    let server = server_trusting(&idp, |_| {}).await;
    let before = federated(&server, idp.token("ivy", AUDIENCE)).await;
    before.dispose().await;
    let fetched = idp.jwks_fetches();
    assert_eq!(fetched, 1);

    // The provider rotates: rsa-2 replaces rsa-1. A token under the new kid makes the server
    // fetch the set again, once.
    idp.publish(vec![SigningKey::rsa_2(), SigningKey::ec_1()]);
    let rotated = SigningKey::rsa_2().sign(&idp.claims("ivy", AUDIENCE));
    let after = federated(&server, rotated.clone()).await;
    assert_eq!(idp.jwks_fetches(), fetched + 1);
    let (status, _) = validate(&server, &rotated).await;
    assert_eq!(status, 200);
    assert_eq!(idp.jwks_fetches(), fetched + 1, "a known kid fetched again");
    after.dispose().await;
}

#[tokio::test]
async fn keys_past_their_max_age_are_fetched_again_and_a_retired_key_is_refused() {
    let idp = Issuer::start().await;
    idp.set_cache_control(Some("public, max-age=1"));
    let server = server_trusting(&idp, |_| {}).await;
    let old = idp.token("jo", AUDIENCE);
    assert_eq!(validate(&server, &old).await.0, 200);
    assert_eq!(idp.jwks_fetches(), 1);
    assert_eq!(validate(&server, &old).await.0, 200);
    assert_eq!(idp.jwks_fetches(), 1, "fetched within max-age");
    // The provider retires rsa-1; once the cached set is past its max-age the server asks
    // again, and tokens under the retired key stop working.
    idp.publish(vec![SigningKey::rsa_2()]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = validate(&server, &old).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["subCode"], 10009);
    assert_eq!(idp.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_makes_the_server_fetch_the_provider_once() {
    let idp = Issuer::start().await;
    let server = server_trusting(&idp, |config| {
        config.federation.jwks_min_refresh = Duration::from_secs(60);
    })
    .await;
    assert_eq!(validate(&server, &idp.token("kim", AUDIENCE)).await.0, 200);
    let fetched = idp.fetches();
    let mut refusals = Vec::new();
    for n in 0..40 {
        let mut key = SigningKey::rsa_1();
        key.kid = format!("bogus-{n}");
        let token = key.sign(&idp.claims("kim", AUDIENCE));
        let server = &server;
        refusals.push(async move { validate(server, &token).await.0 });
    }
    let statuses = futures_util::future::join_all(refusals).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    // Within the refresh interval the provider is not asked again, however many unknown kids.
    assert_eq!(idp.fetches(), fetched, "the flood reached the provider");
    assert_eq!(validate(&server, &idp.token("kim", AUDIENCE)).await.0, 200);
}

#[tokio::test]
async fn providers_are_managed_over_rest_stored_and_removed() {
    let idp = Issuer::start().await;
    let added = Issuer::start().await;
    let server = server_trusting(&idp, |_| {}).await;
    let (status, listed) = rest(&server, reqwest::Method::GET, "/federation/issuers", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["issuers"][0]["source"], "config");
    let config_id = listed["issuers"][0]["id"].as_str().unwrap().to_string();

    // A static key set: its tokens are checked without any fetch.
    let jwks = json!({ "keys": [SigningKey::ec_1().jwk] });
    let body =
        json!({ "issuer": added.url, "audience": AUDIENCE, "userClaim": "email", "jwks": jwks });
    let (status, created) = rest(
        &server,
        reqwest::Method::POST,
        "/federation/issuers",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["keys"], "static");
    let id = created["id"].as_str().unwrap().to_string();
    let mut claims = added.claims("ignored-sub", AUDIENCE);
    claims["email"] = json!("lee@example.org");
    let token = SigningKey::ec_1().sign(&claims);
    let (status, who) = validate(&server, &token).await;
    assert_eq!(status, 200, "{who}");
    assert_eq!(
        who["identity"],
        federated_identity(&added.url, "lee@example.org")
    );
    assert_eq!(added.fetches(), 0);

    let (status, problem) = rest(
        &server,
        reqwest::Method::POST,
        "/federation/issuers",
        Some(body),
    )
    .await;
    assert_eq!(
        (status, &problem["subCode"]),
        (409, &json!(900661)),
        "{problem}"
    );
    let (status, problem) = rest(
        &server,
        reqwest::Method::POST,
        "/federation/issuers",
        Some(json!({ "issuer": "http://idp.example/", "audience": AUDIENCE })),
    )
    .await;
    assert_eq!(status, 400, "plain http off loopback: {problem}");
    let (status, problem) = rest(
        &server,
        reqwest::Method::POST,
        "/federation/issuers",
        Some(json!({ "issuer": "https://idp.example/", "audience": AUDIENCE, "jwks": { "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] } })),
    )
    .await;
    assert_eq!(status, 400, "a symmetric key set: {problem}");

    let (status, problem) = rest(
        &server,
        reqwest::Method::DELETE,
        &format!("/federation/issuers/{config_id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, &problem["subCode"]),
        (409, &json!(900662)),
        "{problem}"
    );
    let (status, _) = rest(
        &server,
        reqwest::Method::DELETE,
        &format!("/federation/issuers/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, problem) = rest(
        &server,
        reqwest::Method::DELETE,
        &format!("/federation/issuers/{id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, &problem["subCode"]),
        (404, &json!(900660)),
        "{problem}"
    );
    assert_eq!(
        validate(&server, &token).await.0,
        401,
        "removed provider still trusted"
    );
}

#[tokio::test]
async fn a_provider_added_over_rest_is_still_trusted_after_a_restart() {
    let idp = Issuer::start().await;
    let data = tempfile::tempdir().expect("temp dir");
    let path = data.path().to_path_buf();
    let first = TestServer::start_with({
        let path = path.clone();
        move |config| config.data = path
    })
    .await;
    let (status, body) = rest(
        &first,
        reqwest::Method::POST,
        "/federation/issuers",
        Some(json!({ "issuer": idp.url, "audience": AUDIENCE, "calling": false })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    first.server.shutdown().await;
    let second = TestServer::start_with(move |config| config.data = path).await;
    let fed = federated(&second, idp.token("max", AUDIENCE)).await;
    // Its policy came back too.
    let call = fed
        .start_call(&[IdentityId::new("anyone")], StartCallOptions::default())
        .unwrap();
    assert_reason(end_of(&call).await, &registry::FEDERATED_CALLING_DISABLED);
    fed.dispose().await;
}

#[tokio::test]
async fn an_appel_token_given_to_create_federated_call_agent_is_900900() {
    let idp = Issuer::start().await;
    let server = server_trusting(&idp, |_| {}).await;
    let native = server.create_identity().await;
    let token = server.token(&native).await;
    let client = CallClient::new(CallClientOptions::default());
    assert_error(
        sign_in(&client, &server, token).await,
        &registry::INVALID_ARGUMENT,
    );
}

//! A small OpenID Connect identity provider on loopback, for the federation tests: a discovery
//! document, a JWK set that can rotate, and token signing with RS256 and ES256 (keys committed
//! under `keys/`, as DER: PKCS#1 for RSA, PKCS#8 for P-256). It counts the fetches it serves, so a test can tell how often the server came.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// A signing key of the provider.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Jwk,
}

impl SigningKey {
    fn load(kid: &str, alg: Algorithm, der: &[u8]) -> SigningKey {
        let encoding = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_der(der),
            _ => EncodingKey::from_rsa_der(der),
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).expect("public half");
        jwk.common.key_id = Some(kid.to_string());
        SigningKey {
            kid: kid.to_string(),
            alg,
            encoding,
            jwk,
        }
    }

    /// The first RSA key (RS256).
    pub fn rsa_1() -> SigningKey {
        Self::load("rsa-1", Algorithm::RS256, include_bytes!("keys/rsa-1.der"))
    }

    /// The second RSA key (RS256), published on rotation.
    pub fn rsa_2() -> SigningKey {
        Self::load("rsa-2", Algorithm::RS256, include_bytes!("keys/rsa-2.der"))
    }

    /// The P-256 key (ES256).
    pub fn ec_1() -> SigningKey {
        Self::load("ec-1", Algorithm::ES256, include_bytes!("keys/ec-1.der"))
    }

    /// Signs `claims` with this key under its own kid and algorithm.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("signs")
    }
}

/// The public half of `rsa-1`, as a PEM file: what an attacker knows.
pub const RSA_1_PUBLIC_PEM: &[u8] = include_bytes!("keys/rsa-1.pub.pem");

struct Shared {
    issuer: Mutex<String>,
    published: Mutex<Vec<SigningKey>>,
    cache_control: Mutex<Option<String>>,
    discovery_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
}

/// The running provider.
pub struct Issuer {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs() as i64
}

impl Issuer {
    /// A provider on a free loopback port publishing `rsa-1` and `ec-1`.
    pub async fn start() -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback port");
        let url = format!(
            "http://{}/realms/test",
            listener.local_addr().expect("addr")
        );
        let shared = Arc::new(Shared {
            issuer: Mutex::new(url.clone()),
            published: Mutex::new(vec![SigningKey::rsa_1(), SigningKey::ec_1()]),
            cache_control: Mutex::new(None),
            discovery_fetches: AtomicUsize::new(0),
            jwks_fetches: AtomicUsize::new(0),
        });
        let router = Router::new()
            .route(
                "/realms/test/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/realms/test/keys", get(jwks))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Issuer { url, shared, task }
    }

    /// Publishes exactly `keys` from now on (a key rotation).
    pub fn publish(&self, keys: Vec<SigningKey>) {
        *self.shared.published.lock().unwrap() = keys;
    }

    /// The Cache-Control header of the key set from now on.
    pub fn set_cache_control(&self, value: Option<&str>) {
        *self.shared.cache_control.lock().unwrap() = value.map(str::to_string);
    }

    /// How many times the key set was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many times anything was fetched (discovery and keys).
    pub fn fetches(&self) -> usize {
        self.jwks_fetches() + self.shared.discovery_fetches.load(Ordering::SeqCst)
    }

    /// The claims of a valid token for `subject` with audience `audience`, valid for 10 min.
    pub fn claims(&self, subject: &str, audience: &str) -> Value {
        let now = now();
        json!({
            "iss": self.url,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "jti": uuid::Uuid::new_v4().to_string(),
        })
    }

    /// A valid RS256 token for `subject`.
    pub fn token(&self, subject: &str, audience: &str) -> String {
        SigningKey::rsa_1().sign(&self.claims(subject, audience))
    }
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let issuer = shared.issuer.lock().unwrap().clone();
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/keys"),
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys = shared
        .published
        .lock()
        .unwrap()
        .iter()
        .map(|k| k.jwk.clone())
        .collect();
    let cache = shared.cache_control.lock().unwrap().clone();
    let mut response = Json(JwkSet { keys }).into_response();
    if let Some(cache) = cache {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, cache.parse().expect("header value"));
    }
    response
}

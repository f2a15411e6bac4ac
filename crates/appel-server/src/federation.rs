//! Federated identities: users signed in by a token of an external identity provider (an OIDC
//! issuer) that this server trusts, without an Appel token minted first (docs/identities.md).
//!
//! A token that carries an `iss` claim is a federated one (Appel's own tokens carry none). Its
//! issuer must be one of the trusted ones: the `iss` of any other is never fetched, so a token
//! cannot make this server connect anywhere. The trusted issuer's keys come from its discovery
//! document (`jwks_uri`) or from a static key set, and are cached; a token naming an unknown key
//! refreshes them, at most once per `federation.jwks_min_refresh` per issuer.
//!
//! Only asymmetric algorithms are accepted, and only with a key of their own family (a key whose
//! `alg` says otherwise is skipped), so a token signed with HS256 over the issuer's public key, or
//! one that says `alg: none`, is refused like any forged token: 401/10009.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use appel_codes::{registry, CallingError};
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Serialize;

pub use appel_protocol::federated::{
    federated_identity, parse_federated_identity, FEDERATED_PREFIX,
};

use crate::config;
use crate::http::limits::MAX_ID_CHARS;
use crate::store::StoredIssuer;
use crate::tokens::{numeric_date, unauthenticated, Claims, VOIP_SCOPE};

/// The algorithms an identity provider may sign with: asymmetric ones only.
const ACCEPTED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Longest issuer URL accepted, in bytes.
const MAX_ISSUER_BYTES: usize = 512;
/// Largest discovery document or key set read, in bytes.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// How long one fetch from an issuer may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks an issuer URL as written in the config or a REST body: an absolute https URL, or plain
/// http on a loopback host (a provider on the same machine, or a test's); no query or fragment.
pub fn check_issuer_url(url: &str) -> Result<String, String> {
    if url.len() > MAX_ISSUER_BYTES {
        return Err(format!("longer than {MAX_ISSUER_BYTES} bytes"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not an absolute URL ({e})"))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("an issuer URL has no query or fragment".into());
    }
    match parsed.scheme() {
        "https" => Ok(url.to_string()),
        "http" if is_loopback(&parsed) => Ok(url.to_string()),
        "http" => Err("must be https (plain http only on a loopback host)".into()),
        other => Err(format!("scheme `{other}`: must be https")),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// The `iss` a token claims, read without checking anything: it only picks which check runs.
pub fn token_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("iss")?.as_str().map(str::to_string)
}

/// What a federated user may do, per issuer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Start, join and answer calls.
    pub calling: bool,
    /// Join rooms.
    pub rooms: bool,
}

/// A trusted issuer as `GET /federation/issuers` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Issuer)]
pub struct IssuerView {
    /// Its id in the API (`config:<n>` for those of the config file).
    pub id: String,
    /// The `iss` its tokens carry.
    pub issuer: String,
    /// The `aud` its tokens must carry.
    pub audience: String,
    /// The claim that names the user.
    pub user_claim: String,
    /// Whether its users may call.
    pub calling: bool,
    /// Whether its users may join rooms.
    pub rooms: bool,
    /// `discovery` (fetched from the issuer) or `static`.
    #[schema(value_type = String, pattern = "^(discovery|static)$")]
    pub keys: &'static str,
    /// `config` or `api`.
    #[schema(value_type = String, pattern = "^(config|api)$")]
    pub source: &'static str,
}

struct Issuer {
    view: IssuerView,
    static_keys: Option<Vec<Jwk>>,
    cache: RwLock<KeyCache>,
    /// Held while the keys are fetched, so that concurrent misses make one fetch.
    fetching: tokio::sync::Mutex<()>,
}

impl Issuer {
    fn cache(&self) -> std::sync::RwLockReadGuard<'_, KeyCache> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    fn cache_mut(&self) -> std::sync::RwLockWriteGuard<'_, KeyCache> {
        self.cache.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The key from a cached set that is still fresh.
    fn cached(&self, kid: Option<&str>, alg: Algorithm, now: Instant) -> Option<Jwk> {
        let cache = self.cache();
        if cache.fresh_until.is_some_and(|until| now < until) {
            pick(&cache.keys, kid, alg)
        } else {
            None
        }
    }
}

#[derive(Default)]
struct KeyCache {
    keys: Vec<Jwk>,
    fresh_until: Option<Instant>,
    last_fetch: Option<Instant>,
}

/// The trusted issuers and their cached keys.
pub struct Federation {
    issuers: RwLock<BTreeMap<String, Arc<Issuer>>>,
    http: reqwest::Client,
    min_refresh: Duration,
    max_age: Duration,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Federation(..)")
    }
}

impl Federation {
    /// The issuers of the config file, then those stored through the API.
    pub fn new(
        settings: &config::Federation,
        stored: Vec<StoredIssuer>,
    ) -> Result<Federation, CallingError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| {
                CallingError::new(&registry::INTERNAL_SERVER_ERROR)
                    .with_context("the identity providers' HTTP client")
                    .with_raw_cause(e.to_string())
            })?;
        let federation = Federation {
            issuers: RwLock::default(),
            http,
            min_refresh: settings.jwks_min_refresh,
            max_age: settings.jwks_max_age,
        };
        if let Some(audience) = &settings.audience {
            for (n, issuer) in settings.issuers.iter().enumerate() {
                federation.insert(
                    IssuerView {
                        id: format!("config:{}", n + 1),
                        issuer: issuer.clone(),
                        audience: audience.clone(),
                        user_claim: settings.user_claim.clone(),
                        calling: settings.calling,
                        rooms: settings.rooms,
                        keys: "discovery",
                        source: "config",
                    },
                    None,
                );
            }
        }
        for issuer in stored {
            // Stored sets were checked when they were added; one that no longer reads counts
            // as an empty set, so that issuer's tokens are refused rather than the server.
            let keys = issuer.jwks.as_deref().map(|text| {
                parse_key_set(text).unwrap_or_else(|why| {
                    tracing::warn!(issuer = %issuer.issuer, %why, "a stored key set is unreadable");
                    Vec::new()
                })
            });
            federation.insert(view_of(&issuer), keys);
        }
        Ok(federation)
    }

    fn insert(&self, view: IssuerView, static_keys: Option<Vec<Jwk>>) {
        let issuer = Arc::new(Issuer {
            view,
            static_keys,
            cache: RwLock::default(),
            fetching: tokio::sync::Mutex::default(),
        });
        self.write().insert(issuer.view.issuer.clone(), issuer);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Issuer>>> {
        self.issuers.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Issuer>>> {
        self.issuers.read().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, issuer: &str) -> Option<Arc<Issuer>> {
        self.read().get(issuer).cloned()
    }

    /// Every trusted issuer.
    pub fn list(&self) -> Vec<IssuerView> {
        self.read().values().map(|i| i.view.clone()).collect()
    }

    /// Whether `issuer` is trusted, and under which id.
    pub fn find(&self, issuer: &str) -> Option<IssuerView> {
        self.get(issuer).map(|i| i.view.clone())
    }

    /// The issuer with API id `id`.
    pub fn by_id(&self, id: &str) -> Option<IssuerView> {
        self.read()
            .values()
            .find(|i| i.view.id == id)
            .map(|i| i.view.clone())
    }

    /// Trusts an issuer added through the API (its static key set already checked).
    pub fn add(&self, issuer: &StoredIssuer) -> Result<IssuerView, CallingError> {
        let keys = issuer
            .jwks
            .as_deref()
            .map(parse_key_set)
            .transpose()
            .map_err(|why| {
                CallingError::new(&registry::INVALID_REQUEST).with_context(format!("jwks: {why}"))
            })?;
        let view = view_of(issuer);
        self.insert(view.clone(), keys);
        Ok(view)
    }

    /// Stops trusting the issuer with API id `id`.
    pub fn remove(&self, id: &str) {
        self.write().retain(|_, i| i.view.id != id);
    }

    /// The policy of the issuer of a federated identity id; `None` for a native identity. An
    /// issuer no longer trusted allows nothing.
    pub fn policy_of(&self, identity: &str) -> Option<Policy> {
        let (issuer, _) = parse_federated_identity(identity)?;
        Some(
            self.get(&issuer)
                .map(|i| Policy {
                    calling: i.view.calling,
                    rooms: i.view.rooms,
                })
                .unwrap_or(Policy {
                    calling: false,
                    rooms: false,
                }),
        )
    }

    /// Checks a token that claims issuer `iss`: trusted issuer, accepted algorithm, a key of the
    /// issuer's, signature, audience, issuer, dates (with `leeway` both ways: the provider's
    /// clock is not ours) and the user claim. Every refusal is 401/10009.
    pub async fn verify(
        &self,
        token: &str,
        iss: &str,
        leeway: Duration,
    ) -> Result<Claims, CallingError> {
        let Some(issuer) = self.get(iss) else {
            return Err(unauthenticated(
                "token from an identity provider this server does not trust",
            ));
        };
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| unauthenticated(format!("token rejected: {e}")))?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(unauthenticated(format!(
                "token rejected: {:?} is not accepted from an identity provider",
                header.alg
            )));
        }
        let jwk = self
            .key_for(&issuer, header.kid.as_deref(), header.alg)
            .await?;
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| unauthenticated(format!("token rejected: unusable key: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_audience(&[&issuer.view.audience]);
        validation.set_issuer(&[&issuer.view.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    unauthenticated("token expired")
                }
                _ => unauthenticated(format!("token rejected: {e}")),
            },
        )?;
        let claims = data.claims;
        let subject = claims
            .get(&issuer.view.user_claim)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                unauthenticated(format!(
                    "token rejected: no `{}` claim naming the user",
                    issuer.view.user_claim
                ))
            })?;
        if subject.chars().any(char::is_control) {
            return Err(unauthenticated(
                "token rejected: the user claim holds control characters",
            ));
        }
        let identity = federated_identity(&issuer.view.issuer, subject);
        // Identity ids go into rosters, call records and REST paths, all bounded by this length.
        if identity.len() > MAX_ID_CHARS {
            return Err(unauthenticated(format!(
                "token rejected: the federated identity would be {} characters, over {MAX_ID_CHARS}",
                identity.len()
            )));
        }
        let number = |name: &str| claims.get(name).and_then(|v| v.as_f64());
        let exp = number("exp").unwrap_or(0.0);
        Ok(Claims {
            identity,
            scopes: vec![VOIP_SCOPE.to_string()],
            iat: number("iat").unwrap_or_else(|| numeric_date(SystemTime::now())),
            nbf: number("nbf"),
            exp,
            jti: claims
                .get("jti")
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .unwrap_or_default(),
            generation: None,
        })
    }

    /// The key that checks a token of `issuer` signed with `alg` under `kid`: from the static
    /// set, or from the cache, refreshed when it is stale or lacks the key, never more often
    /// than once per `min_refresh`. Tokens whose key is cached and fresh never wait for a fetch;
    /// the others wait for the one fetch in progress rather than start their own.
    async fn key_for(
        &self,
        issuer: &Issuer,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Jwk, CallingError> {
        if let Some(keys) = &issuer.static_keys {
            return pick(keys, kid, alg).ok_or_else(|| no_key(kid, None));
        }
        if let Some(key) = issuer.cached(kid, alg, Instant::now()) {
            return Ok(key);
        }
        let _fetching = issuer.fetching.lock().await;
        let now = Instant::now();
        // Another token may have had the set fetched while this one waited.
        if let Some(key) = issuer.cached(kid, alg, now) {
            return Ok(key);
        }
        let last_fetch = issuer.cache().last_fetch;
        let may_fetch = last_fetch.is_none_or(|at| now.duration_since(at) >= self.min_refresh);
        let mut failure = None;
        if may_fetch {
            issuer.cache_mut().last_fetch = Some(now);
            match self.fetch_keys(&issuer.view.issuer).await {
                Ok((keys, max_age)) => {
                    let mut cache = issuer.cache_mut();
                    cache.keys = keys;
                    cache.fresh_until = Some(now + max_age);
                }
                Err(why) => {
                    tracing::warn!(issuer = %issuer.view.issuer, %why, "fetching the keys of an identity provider failed");
                    failure = Some(why);
                }
            }
        } else {
            failure = Some("keys fetched too recently to fetch again".to_string());
        }
        // A stale set still serves when no fresh one could be had: the provider being
        // unreachable does not sign its users out.
        pick(&issuer.cache().keys, kid, alg).ok_or_else(|| no_key(kid, failure))
    }

    /// The issuer's discovery document, then the key set its `jwks_uri` names, with how long the
    /// set may be kept (its Cache-Control max-age, at most `max_age`).
    async fn fetch_keys(&self, issuer: &str) -> Result<(Vec<Jwk>, Duration), String> {
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let (document, _) = self.get_document(&discovery).await?;
        let document: serde_json::Value = serde_json::from_slice(&document)
            .map_err(|e| format!("the discovery document is not JSON: {e}"))?;
        if document.get("issuer").and_then(|v| v.as_str()) != Some(issuer) {
            return Err("the discovery document names another issuer".into());
        }
        let jwks_uri = document
            .get("jwks_uri")
            .and_then(|v| v.as_str())
            .ok_or("the discovery document has no jwks_uri")?;
        check_issuer_url(jwks_uri).map_err(|why| format!("jwks_uri: {why}"))?;
        let (body, max_age) = self.get_document(jwks_uri).await?;
        let text = String::from_utf8(body).map_err(|_| "the key set is not UTF-8".to_string())?;
        let keys = parse_key_set(&text)?;
        let keep = max_age.unwrap_or(self.max_age).min(self.max_age);
        Ok((keys, keep))
    }

    async fn get_document(&self, url: &str) -> Result<(Vec<u8>, Option<Duration>), String> {
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: answered {}", response.status()));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(cache_lifetime);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("{url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, max_age))
    }
}

/// How long a Cache-Control header lets an answer be kept: its max-age, none for no-cache or
/// no-store.
fn cache_lifetime(header: &str) -> Duration {
    let mut lifetime = None;
    for directive in header.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Duration::ZERO;
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            lifetime = seconds.trim_matches('"').parse::<u64>().ok();
        }
    }
    // An answer that says nothing usable is kept for the configured default.
    lifetime.map_or(Duration::MAX, Duration::from_secs)
}

fn no_key(kid: Option<&str>, failure: Option<String>) -> CallingError {
    let mut cause = match kid {
        Some(kid) => format!("token rejected: no key `{kid}` among the issuer's signing keys"),
        None => "token rejected: no kid, and the issuer has not exactly one key for its algorithm"
            .to_string(),
    };
    if let Some(failure) = failure {
        cause.push_str(&format!(" ({failure})"));
    }
    unauthenticated(cause)
}

/// The signing key for `alg` named `kid` (without a kid: the only one that fits). A key that is
/// symmetric, meant for encryption, of another family or curve, or whose own `alg` differs never
/// fits, whatever the token's header says.
fn pick(keys: &[Jwk], kid: Option<&str>, alg: Algorithm) -> Option<Jwk> {
    let mut fitting = keys.iter().filter(|jwk| {
        fits(jwk, alg)
            && match kid {
                Some(kid) => jwk.common.key_id.as_deref() == Some(kid),
                None => true,
            }
    });
    let first = fitting.next()?;
    match kid {
        Some(_) => Some(first.clone()),
        None => fitting.next().is_none().then(|| first.clone()),
    }
}

fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return false;
    }
    if let Some(own) = jwk.common.key_algorithm {
        // Both enums name the JOSE algorithms alike (`RS256`, `ES256`…).
        if format!("{own:?}") != format!("{alg:?}") {
            return false;
        }
    }
    match (&jwk.algorithm, alg) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => {
            ec.curve == EllipticCurve::P384
        }
        (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA) => true,
        _ => false,
    }
}

/// Reads a JWK set (`{"keys": [...]}`), skipping the keys this server cannot use (another key
/// type, a symmetric key) rather than refusing the whole set.
pub fn parse_key_set(text: &str) -> Result<Vec<Jwk>, String> {
    #[derive(serde::Deserialize)]
    struct Raw {
        keys: Vec<serde_json::Value>,
    }
    let raw: Raw = serde_json::from_str(text)
        .map_err(|e| format!("not a JWK set ({{\"keys\": [...]}}): {e}"))?;
    Ok(raw
        .keys
        .into_iter()
        .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
        .filter(|jwk| !matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)))
        .collect())
}

/// Re-checks a static key set given over the API; it must hold at least one usable key.
pub fn check_key_set(jwks: &serde_json::Value) -> Result<String, String> {
    let text = jwks.to_string();
    let keys = parse_key_set(&text)?;
    if keys.is_empty() {
        return Err("no usable public signing key (RSA, EC or OKP)".into());
    }
    for jwk in &keys {
        DecodingKey::from_jwk(jwk).map_err(|e| format!("a key does not read: {e}"))?;
    }
    Ok(text)
}

fn view_of(issuer: &StoredIssuer) -> IssuerView {
    IssuerView {
        id: issuer.id.clone(),
        issuer: issuer.issuer.clone(),
        audience: issuer.audience.clone(),
        user_claim: issuer.user_claim.clone(),
        calling: issuer.calling,
        rooms: issuer.rooms,
        keys: if issuer.jwks.is_some() {
            "static"
        } else {
            "discovery"
        },
        source: "api",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_urls_are_https_or_loopback_http() {
        assert!(check_issuer_url("https://idp.example/realms/acme").is_ok());
        assert!(check_issuer_url("http://127.0.0.1:8080/").is_ok());
        assert!(check_issuer_url("http://localhost:8080").is_ok());
        assert!(check_issuer_url("http://idp.example/").is_err());
        assert!(check_issuer_url("http://10.0.0.1/").is_err());
        assert!(check_issuer_url("file:///etc/passwd").is_err());
        assert!(check_issuer_url("https://idp.example/?a=b").is_err());
        assert!(check_issuer_url("idp.example").is_err());
    }

    #[test]
    fn a_key_fits_only_its_own_family_curve_use_and_alg() {
        let set = parse_key_set(
            &serde_json::json!({ "keys": [
                { "kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB" },
                { "kty": "RSA", "kid": "r384", "alg": "RS384", "n": "AQAB", "e": "AQAB" },
                { "kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB" },
                { "kty": "EC", "kid": "p256", "crv": "P-256", "x": "AQAB", "y": "AQAB" },
                { "kty": "oct", "kid": "secret", "k": "c2VjcmV0" },
                { "kty": "unknown-kind", "kid": "odd" }
            ] })
            .to_string(),
        )
        .expect("a set");
        // The symmetric key and the unknown kind are dropped at reading.
        assert_eq!(set.len(), 4);
        let kid = |k: Option<Jwk>| k.and_then(|k| k.common.key_id);
        assert_eq!(
            kid(pick(&set, Some("r"), Algorithm::RS256)),
            Some("r".into())
        );
        assert_eq!(
            kid(pick(&set, Some("r"), Algorithm::PS256)),
            Some("r".into())
        );
        assert_eq!(kid(pick(&set, Some("r"), Algorithm::ES256)), None);
        assert_eq!(kid(pick(&set, Some("r384"), Algorithm::RS256)), None);
        assert_eq!(kid(pick(&set, Some("enc"), Algorithm::RS256)), None);
        assert_eq!(kid(pick(&set, Some("p256"), Algorithm::ES384)), None);
        assert_eq!(kid(pick(&set, Some("secret"), Algorithm::HS256)), None);
        // Without a kid, only an unambiguous key serves.
        assert_eq!(kid(pick(&set, None, Algorithm::ES256)), Some("p256".into()));
        assert_eq!(kid(pick(&set, None, Algorithm::RS384)), None);
    }

    #[test]
    fn cache_control_gives_the_key_set_lifetime() {
        assert_eq!(
            cache_lifetime("public, max-age=300"),
            Duration::from_secs(300)
        );
        assert_eq!(cache_lifetime("no-store"), Duration::ZERO);
        assert_eq!(cache_lifetime("public"), Duration::MAX);
    }
}

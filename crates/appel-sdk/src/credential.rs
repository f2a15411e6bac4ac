//! The access token an agent signs in with, and how it is renewed.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use appel_codes::{registry, CallingError};
use futures_util::future::BoxFuture;

use crate::jwt;

/// The application's way to get a fresh token (usually from its own backend, which asks the Appel
/// server's REST API). Returning an error, or a token that has already expired, counts as a failed
/// refresh: if the current token then expires during a call, the call ends with 495/4507.
pub type TokenRefresher =
    Arc<dyn Fn() -> BoxFuture<'static, Result<String, CallingError>> + Send + Sync>;

/// How long before expiry a proactive refresh happens by default (docs/protocol.md, "Timers").
pub const DEFAULT_REFRESH_LEAD: Duration = Duration::from_secs(10 * 60);

/// An access token, static or renewed by a [`TokenRefresher`]. Cloning shares the same token.
#[derive(Clone)]
pub struct TokenCredential {
    inner: Arc<Inner>,
}

struct Inner {
    token: Mutex<Option<String>>,
    refresher: Option<TokenRefresher>,
    refresh_proactively: bool,
    refresh_lead: Duration,
}

impl fmt::Debug for TokenCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCredential")
            .field("has_refresher", &self.inner.refresher.is_some())
            .field("refresh_proactively", &self.inner.refresh_proactively)
            .field("refresh_lead", &self.inner.refresh_lead)
            .finish_non_exhaustive()
    }
}

impl TokenCredential {
    /// A credential that always uses `token`. When it expires during a call, the call ends with
    /// 495/4507.
    pub fn new(token: impl Into<String>) -> Self {
        TokenCredential {
            inner: Arc::new(Inner {
                token: Mutex::new(Some(token.into())),
                refresher: None,
                refresh_proactively: false,
                refresh_lead: DEFAULT_REFRESH_LEAD,
            }),
        }
    }

    /// A credential renewed by `refresher`, called when there is no token yet, when the server says
    /// the token expires soon, and (with [`Self::refresh_proactively`]) ahead of expiry.
    pub fn with_refresher<F, Fut>(refresher: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, CallingError>> + Send + 'static,
    {
        let refresher: TokenRefresher = Arc::new(move || Box::pin(refresher()));
        TokenCredential {
            inner: Arc::new(Inner {
                token: Mutex::new(None),
                refresher: Some(refresher),
                refresh_proactively: false,
                refresh_lead: DEFAULT_REFRESH_LEAD,
            }),
        }
    }

    /// The same credential, starting from `token` instead of calling the refresher first.
    pub fn initial_token(self, token: impl Into<String>) -> Self {
        self.rebuild(|inner| inner.token = Mutex::new(Some(token.into())))
    }

    /// Whether to refresh ahead of expiry (by [`Self::refresh_lead`], 10 minutes by default)
    /// rather than only when the server asks.
    pub fn refresh_proactively(self, enabled: bool) -> Self {
        self.rebuild(|inner| inner.refresh_proactively = enabled)
    }

    /// How long before expiry a proactive refresh happens.
    pub fn refresh_lead(self, lead: Duration) -> Self {
        self.rebuild(|inner| inner.refresh_lead = lead)
    }

    /// The token in use, if there is one yet.
    pub fn token(&self) -> Option<String> {
        self.inner.token.lock().ok().and_then(|token| token.clone())
    }

    /// When the token in use expires, if it is a JWT that says.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.token()
            .and_then(|token| jwt::claims(&token).expires_at)
    }

    /// Whether a refresher is set.
    pub fn can_refresh(&self) -> bool {
        self.inner.refresher.is_some()
    }

    pub(crate) fn proactive(&self) -> bool {
        self.inner.refresh_proactively && self.inner.refresher.is_some()
    }

    pub(crate) fn lead(&self) -> Duration {
        self.inner.refresh_lead
    }

    /// The token to sign in with: the current one, or a first one from the refresher.
    pub(crate) async fn current_or_fetch(&self, timeout: Duration) -> Result<String, CallingError> {
        match self.token() {
            Some(token) => Ok(token),
            None => self.fetch(timeout, FetchUse::Creation).await,
        }
    }

    /// Asks the refresher for a new token, bounded by `timeout`. During creation a timeout is
    /// 40104; during a call the caller turns any failure into 495/4507 at expiry.
    pub(crate) async fn fetch(
        &self,
        timeout: Duration,
        usage: FetchUse,
    ) -> Result<String, CallingError> {
        let Some(refresher) = self.inner.refresher.clone() else {
            return Err(CallingError::new(&registry::TOKEN_EXPIRED_DURING_CALL)
                .with_raw_cause("the credential has a static token and no refresher"));
        };
        let token = match tokio::time::timeout(timeout, refresher()).await {
            Ok(result) => result?,
            Err(_) => {
                let entry = match usage {
                    FetchUse::Creation => &registry::CALL_AGENT_CREATION_STEP_TIMEOUT,
                    FetchUse::Refresh => &registry::TOKEN_EXPIRED_DURING_CALL,
                };
                return Err(CallingError::new(entry)
                    .with_context("token refresher")
                    .with_raw_cause(format!("no token within {timeout:?}")));
            }
        };
        if usage == FetchUse::Refresh {
            if let Some(expires_at) = jwt::claims(&token).expires_at {
                if expires_at <= SystemTime::now() {
                    return Err(CallingError::new(&registry::TOKEN_EXPIRED_DURING_CALL)
                        .with_context("token refresher")
                        .with_raw_cause("the refresher returned an expired token"));
                }
            }
        }
        if let Ok(mut current) = self.inner.token.lock() {
            *current = Some(token.clone());
        }
        Ok(token)
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner {
            token: Mutex::new(self.token()),
            refresher: self.inner.refresher.clone(),
            refresh_proactively: self.inner.refresh_proactively,
            refresh_lead: self.inner.refresh_lead,
        };
        change(&mut inner);
        TokenCredential {
            inner: Arc::new(inner),
        }
    }
}

/// Why the refresher is called, which decides the entry of a timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FetchUse {
    /// While creating the agent.
    Creation,
    /// To renew the token of a live agent.
    Refresh,
}

//! The network side of a call's media: the relay (TURN) credentials fetched from the server before
//! the peer connection exists, and the media timers a page may shorten. docs/relay.md.

use std::cell::RefCell;

use appel_client::relay::{self, RelayCredentials};
use appel_codes::{registry, CallingError};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestInit, Response};

use super::call::CallInner;
use super::js;

/// How long ICE may stay `disconnected` before the call counts as lost (3101), by default.
const DEFAULT_RECOVERY_WINDOW_MS: i32 = 5_000;

/// The agent's relay and media-timer options, read once from the JavaScript object.
pub(crate) struct NetworkOptions {
    /// Fetch relay credentials before each call's media (`useRelay: true`, or a relay-only policy).
    fetch_relay: bool,
    /// `GET /relay/credentials` on the agent's server.
    credentials_url: Option<String>,
    /// The user token the request carries; a refreshed token replaces it.
    token: RefCell<String>,
    /// How long failed requests wait before they give up.
    timeout_ms: i32,
    /// `mediaRecoveryMs`: how long ICE may stay disconnected before the call ends with 3101.
    pub(crate) recovery_window_ms: i32,
}

impl NetworkOptions {
    pub(crate) fn read(
        options: &JsValue,
        server_url: &str,
        token: &str,
        relay_only: bool,
        timeout_ms: i32,
    ) -> NetworkOptions {
        let positive_ms = |name: &str| {
            js::member(options, name)
                .as_f64()
                .filter(|ms| ms.is_finite() && *ms >= 1.0)
                .map(|ms| ms.min(i32::MAX as f64) as i32)
        };
        NetworkOptions {
            fetch_relay: relay_only || js::member(options, "useRelay").as_bool() == Some(true),
            credentials_url: relay::credentials_url(server_url),
            token: RefCell::new(token.to_string()),
            timeout_ms,
            recovery_window_ms: positive_ms("mediaRecoveryMs")
                .unwrap_or(DEFAULT_RECOVERY_WINDOW_MS),
        }
    }

    pub(crate) fn set_token(&self, token: &str) {
        *self.token.borrow_mut() = token.to_string();
    }

    /// The relay credentials for one call, or `None` when the page asked for no relay.
    pub(crate) async fn credentials(&self) -> Result<Option<RelayCredentials>, CallingError> {
        if !self.fetch_relay {
            return Ok(None);
        }
        let url = self
            .credentials_url
            .clone()
            .ok_or_else(|| relay::request_failed("no http(s) url for the server"))?;
        let token = self.token.borrow().clone();
        fetch(&url, &token, self.timeout_ms).await.map(Some)
    }
}

async fn fetch(url: &str, token: &str, timeout_ms: i32) -> Result<RelayCredentials, CallingError> {
    let window = web_sys::window().ok_or_else(|| relay::request_failed("no window"))?;
    let failed = |e: JsValue| {
        let text = js::member(&e, "message")
            .as_string()
            .unwrap_or_else(|| format!("{}", js::from_js(&e)));
        relay::request_failed(text)
    };
    let headers = Headers::new().map_err(failed)?;
    headers
        .set("Authorization", &format!("Bearer {token}"))
        .map_err(failed)?;
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_headers(&headers);
    // A server that accepts the connection and never answers must not hold the call forever.
    let abort = AbortController::new().map_err(failed)?;
    init.set_signal(Some(&abort.signal()));
    let timer = js::after(timeout_ms, move || abort.abort());
    let result: Result<(u16, String), JsValue> = async {
        let response: Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
            .await?
            .dyn_into()?;
        let body = JsFuture::from(response.text()?).await?;
        Ok((response.status(), body.as_string().unwrap_or_default()))
    }
    .await;
    window.clear_timeout_with_handle(timer);
    let (status, body) = result.map_err(failed)?;
    relay::read_answer(status, &body)
}

/// The `iceServers` of an `RTCConfiguration`.
pub(crate) fn ice_servers(credentials: Option<&RelayCredentials>) -> js_sys::Array {
    let list = js_sys::Array::new();
    for server in credentials.map(|c| c.ice_servers.as_slice()).unwrap_or(&[]) {
        let entry = js_sys::Object::new();
        let urls: js_sys::Array = server.urls.iter().map(|u| JsValue::from_str(u)).collect();
        js::set(&entry, "urls", &urls);
        js::set(&entry, "username", &JsValue::from_str(&server.username));
        js::set(&entry, "credential", &JsValue::from_str(&server.credential));
        list.push(&entry);
    }
    list
}

impl CallInner {
    /// Fetches the relay credentials this call's peer connection will use; a failure ends the
    /// call attempt with 490/4502 (the caller's before anything reaches the server, the callee's
    /// right after its accept). A relay-only call with no relay at all cannot have a media path:
    /// 410/3112 without waiting for ICE.
    pub(crate) async fn prepare_relay(&self, relay_only: bool) -> Result<(), CallingError> {
        let Some(agent) = self.agent.upgrade() else {
            return Ok(());
        };
        let credentials = agent.options.network.credentials().await?;
        if relay_only
            && !credentials
                .as_ref()
                .is_some_and(RelayCredentials::has_relay)
        {
            return Err(CallingError::new(&registry::MEDIA_BLOCKED_BY_NETWORK)
                .with_raw_cause("relay-only, and the server has no relay configured"));
        }
        *self.relay.borrow_mut() = credentials;
        Ok(())
    }
}

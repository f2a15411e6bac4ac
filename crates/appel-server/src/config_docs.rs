//! What every setting means and what it is by default, as people read them: `appel config
//! example`, `appel serve --help` and `docs/configuration.md` are all rendered from this table,
//! and a test checks that it names exactly the keys the loader knows (`config.rs`), so a new key
//! cannot ship undocumented.

use std::time::Duration;

use crate::config::Config;

/// One setting as documented.
pub struct SettingDoc {
    /// `section.key`, as in the file (`[section] key = …`).
    pub key: &'static str,
    /// What it does, in one or two sentences.
    pub meaning: &'static str,
    /// Its value in `config`, written as the file takes it (`"120s"`, `4096`, `true`); `None`
    /// when it is unset.
    pub value: fn(&Config) -> Option<String>,
}

fn text(value: impl std::fmt::Display) -> Option<String> {
    Some(format!("\"{value}\""))
}

fn number(value: usize) -> Option<String> {
    Some(value.to_string())
}

/// A duration in the largest whole unit: `"24h"`, `"15m"`, `"85s"`, `"50ms"`.
fn span(value: Duration) -> Option<String> {
    let millis = value.as_millis();
    let shown = match millis {
        0 => "0s".to_string(),
        m if m % 3_600_000 == 0 => format!("{}h", m / 3_600_000),
        m if m % 60_000 == 0 => format!("{}m", m / 60_000),
        m if m % 1_000 == 0 => format!("{}s", m / 1_000),
        m => format!("{m}ms"),
    };
    text(shown)
}

macro_rules! docs {
    ($($key:literal => |$c:ident| $value:expr, $meaning:literal;)*) => {
        &[$(SettingDoc { key: $key, meaning: $meaning, value: |$c: &Config| $value }),*]
    };
}

/// Every setting, in the order the docs list them.
pub static SETTING_DOCS: &[SettingDoc] = docs! {
    "listen" => |c| text(c.listen), "Address and port the HTTP and signaling listener binds (port 0 picks a free one). Also --listen.";
    "data" => |c| text(c.data.display()), "Folder of the SQLite database and of the generated access key. Also --data.";
    "access_key" => |c| c.access_key.as_ref().map(|_| "\"(set)\"".to_string()), "The access key that guards the REST API and signs tokens. Unset: read from DATA/access-key, generated there on first start.";
    "dev" => |c| Some(c.dev.to_string()), "Development mode: /dev/* hands identities and tokens to anyone, for the web app. Never on a reachable server. Also --dev.";
    "web.dir" => |c| text(c.web_dir.display()), "Folder of the built web app served at / (web/build.sh writes web/dist).";
    "timers.ringing" => |c| span(c.timers.ringing), "How long a call rings unanswered before it is cancelled with 487/10004.";
    "timers.establishment" => |c| span(c.timers.establishment), "How long an accepted call may take to connect before it fails with 408/10057.";
    "timers.pstn_establishment" => |c| span(c.timers.pstn_establishment), "The same for calls that reach a phone network.";
    "timers.reconnect_grace" => |c| span(c.timers.reconnect_grace), "How long an SDK whose signaling connection dropped keeps its calls while it reconnects (then 496/7); published in /health.";
    "timers.abrupt_disconnect" => |c| span(c.timers.abrupt_disconnect), "How long a participant whose connection vanished may take to come back before the others see it leave with 0/4521.";
    "timers.video_change" => |c| span(c.timers.video_change), "How long adding or removing video or screen share may take.";
    "timers.delivery_ack" => |c| span(c.timers.delivery_ack), "How long an endpoint has to acknowledge an incoming call before it counts as unreachable (10078).";
    "timers.push_wait" => |c| span(c.timers.push_wait), "After a push notice, how long to wait for the endpoint to come online (10077).";
    "timers.token_refresh_ahead" => |c| span(c.timers.token_refresh_ahead), "How long before a token expires the server asks the client to refresh it.";
    "timers.media_setup" => |c| span(c.timers.media_setup), "How long a participant of a group call or room has, from its media offer, to connect to the media server (ICE and DTLS) before it is removed with 410/301004.";
    "timers.media_loss" => |c| span(c.timers.media_loss), "How long a participant connected to the media server may send nothing before it is removed with 410/301005 (it may rejoin).";
    "signaling.heartbeat_interval" => |c| span(c.signaling.heartbeat_interval), "How often the server pings each connection; one silent for about two intervals is lost.";
    "signaling.max_frame_bytes" => |c| number(c.signaling.max_frame_bytes), "Largest frame read from a client, in bytes (larger: 900001).";
    "signaling.send_queue" => |c| number(c.signaling.send_queue), "Frames queued towards one connection; a client that lets the queue fill is treated as lost.";
    "signaling.send_buffer_bytes" => |c| number(c.signaling.send_buffer_bytes), "Bytes of output one connection may hold, queued and unflushed; a client that reads slower is cut off.";
    "signaling.write_timeout" => |c| span(c.signaling.write_timeout), "Longest a write to one connection may stay blocked before the connection is cut off.";
    "signaling.max_signal_bytes" => |c| number(c.signaling.max_signal_bytes), "Largest signal (SDP, ICE) relayed, in bytes (larger: 413/900006).";
    "signaling.signal_rate" => |c| number(c.signaling.signal_rate), "Signal tokens a connection earns per second, one per started KiB (beyond: 429/900007).";
    "signaling.signal_burst" => |c| number(c.signaling.signal_burst), "Signal tokens a connection may spend at once.";
    "signaling.frame_rate" => |c| number(c.signaling.frame_rate), "Frames of any kind a connection may send per second, sustained (beyond: 429/900020).";
    "signaling.frame_burst" => |c| number(c.signaling.frame_burst), "Frames a connection may send at once on top of the rate.";
    "signaling.frame_excess" => |c| number(c.signaling.frame_excess), "Refused frames after which a connection that keeps sending is closed with 429/900021.";
    "signaling.frames_in_flight" => |c| number(c.signaling.frames_in_flight), "Frames of one connection waiting for the call controller; past it the server stops reading that socket.";
    "limits.max_participants" => |c| number(c.limits.max_participants), "Participants in one call.";
    "limits.max_outgoing_calls_per_identity" => |c| number(c.limits.max_outgoing_calls_per_identity), "Unanswered calls one identity may have ringing at once (beyond: 429/900022).";
    "tokens.default_lifetime" => |c| span(c.tokens.default_lifetime), "Lifetime of a token whose request names none (1h to 24h).";
    "tokens.clock_leeway" => |c| span(c.tokens.clock_leeway), "How far in the future a token's iat or nbf may be and still pass (at most 5m).";
    "records.batch_size" => |c| number(c.records.batch_size), "Call-record events written per transaction at most.";
    "records.flush_interval" => |c| span(c.records.flush_interval), "Longest a call-record event waits before its transaction commits.";
    "records.durable" => |c| Some(c.records.durable.to_string()), "Tell a party its call ended only once that end is committed, so a crash never loses an end someone saw.";
    "push.request_timeout" => |c| span(c.push.request_timeout), "Timeout of one push notice's HTTP request.";
    "webhooks.url" => |c| c.webhooks.url.as_ref().and_then(text), "A receiver subscribed to every event from the configuration, besides those added by REST.";
    "webhooks.secret" => |c| c.webhooks.secret.as_ref().map(|_| "\"(set)\"".to_string()), "HMAC-SHA256 secret of that receiver.";
    "webhooks.request_timeout" => |c| span(c.webhooks.request_timeout), "Timeout of one webhook delivery.";
    "webhooks.initial_backoff" => |c| span(c.webhooks.initial_backoff), "Wait before the first retry of a failed delivery; doubled after each failure.";
    "webhooks.max_backoff" => |c| span(c.webhooks.max_backoff), "Longest wait between two retries.";
    "webhooks.retry_for" => |c| span(c.webhooks.retry_for), "How long an event is retried before it is given up.";
    "webhooks.queue" => |c| number(c.webhooks.queue), "Outbox rows the dispatcher reads at a time (events wait in the database, none is dropped).";
    "media.enabled" => |c| Some(c.media.enabled.to_string()), "Whether appel serve runs the embedded media server that carries group calls' and rooms' audio and video (off: media offers get 503/900700).";
    "media.bind" => |c| text(c.media.bind), "Address of the media server's one UDP socket; port 0 picks a free port, which every media answer names.";
    "media.udp_port" => |c| number(usize::from(c.media.bind.port())), "The media server's UDP port alone (the same setting as the port of media.bind), to open in a firewall.";
    "media.public_address" => |c| c.media.public_address.and_then(text), "Address clients are told to send media to, when the bound one is not reachable as is (behind NAT or a port mapping); unset: the bound address.";
    "media.custom_streams" => |c| Some(c.media.custom_streams.to_string()), "Whether SDKs may send media streams the application made itself (a canvas, generated frames) rather than a device's; announced in every welcome, and the browser SDK refuses them with 41073 when off.";
    "media.max_video_subscriptions" => |c| number(c.media.max_video_subscriptions), "Most videos one participant receives at once from the media server; a publisher's video beyond it arrives paused, and a mediaView that would exceed it gets 500/43204 (at least 1).";
    "relay.urls" => |c| (!c.relay.urls.is_empty()).then(|| format!("{:?}", c.relay.urls)), "The TURN relay's URLs handed to clients with credentials (turn:host:3478, turns:…), as a list; unset: no relay. docs/relay.md.";
    "relay.secret" => |c| c.relay.secret.as_ref().map(|_| "\"(set)\"".to_string()), "The shared secret the relay (coturn's static-auth-secret) checks credentials with; required when urls are set.";
    "relay.credential_lifetime" => |c| span(c.relay.credential_lifetime), "How long relay credentials stay valid (1m to 24h); they cannot be revoked earlier.";
    "federation.issuers" => |c| (!c.federation.issuers.is_empty()).then(|| format!("{:?}", c.federation.issuers)), "Identity providers whose tokens sign users in as federated identities (their iss, https; http only on loopback), as a list; unset: none. docs/identities.md.";
    "federation.audience" => |c| c.federation.audience.as_ref().and_then(text), "The aud those tokens must carry; required when issuers are set.";
    "federation.user_claim" => |c| text(&c.federation.user_claim), "The claim that names the user in those tokens.";
    "federation.calling" => |c| Some(c.federation.calling.to_string()), "Whether their users may start, join and answer calls (off: 412/41056).";
    "federation.rooms" => |c| Some(c.federation.rooms.to_string()), "Whether their users may join rooms (off: 403/5830).";
    "federation.jwks_min_refresh" => |c| span(c.federation.jwks_min_refresh), "Least time between two fetches of one issuer's keys, however many tokens name unknown keys (0 to 1h).";
    "federation.jwks_max_age" => |c| span(c.federation.jwks_max_age), "How long fetched keys are kept when the issuer says nothing, and the most its max-age may ask (1m to 24h).";
    "http.max_body_bytes" => |c| number(c.http.max_body_bytes), "Largest request body, in bytes (larger: 413/900112).";
    "http.max_uri_bytes" => |c| number(c.http.max_uri_bytes), "Longest path and query, in bytes (longer: 414/900113).";
    "http.max_header_bytes" => |c| number(c.http.max_header_bytes), "Largest total of request headers, in bytes (larger: 431/900114).";
    "http.header_read_timeout" => |c| span(c.http.header_read_timeout), "Time a client has to send a request's headers.";
    "http.body_read_timeout" => |c| span(c.http.body_read_timeout), "Time a client has to send a request's body (slower: 408/900115).";
    "http.idle_timeout" => |c| span(c.http.idle_timeout), "How long a kept-alive connection may wait idle for its next request.";
    "http.response_write_timeout" => |c| span(c.http.response_write_timeout), "Time a client has to read an answer before it is disconnected.";
    "http.max_connections" => |c| number(c.http.max_connections), "HTTP connections open at once (beyond: 503/900116); upgraded signaling connections are not counted.";
    "http.shutdown_drain" => |c| span(c.http.shutdown_drain), "On shutdown, how long requests in progress may take to finish.";
    "directory.people" => |c| Some(c.directory.people.to_string()), "Whether any signed-in user may list the named people of this server with their presence (GET /people); off: 403/900122.";
};

/// The section of a key (`timers` of `timers.ringing`; `None` for a top-level key) and its name
/// within it.
fn split(key: &str) -> (Option<&str>, &str) {
    match key.split_once('.') {
        Some((section, name)) => (Some(section), name),
        None => (None, key),
    }
}

/// Every setting with its default as a commented TOML file that the server loads as is: what
/// `appel config example` prints.
pub fn example_toml() -> String {
    let defaults = Config::default();
    let mut out = String::from(
        "# Appel server settings, each with its default value. Load a file like this one with\n\
         # `appel serve --config FILE` (or APPEL_CONFIG=FILE). Every key can also be set in the\n\
         # environment as APPEL_<SECTION>_<KEY>: timers.ringing is APPEL_TIMERS_RINGING.\n\
         # Durations take a unit (\"40ms\", \"120s\", \"2m\", \"1h\"). docs/configuration.md lists the same.\n",
    );
    let mut section = None;
    for doc in SETTING_DOCS {
        let (own, name) = split(doc.key);
        if own != section {
            if let Some(own) = own {
                out.push_str(&format!("\n[{own}]\n"));
            }
            section = own;
        }
        out.push('\n');
        for line in wrap(doc.meaning, 96) {
            out.push_str(&format!("# {line}\n"));
        }
        match (doc.value)(&defaults) {
            Some(value) => out.push_str(&format!("{name} = {value}\n")),
            None => out.push_str(&format!("# {name} = (unset)\n")),
        }
    }
    out
}

/// The settings as Markdown tables, one per section: `docs/configuration.md`.
pub fn markdown() -> String {
    let defaults = Config::default();
    let mut out = String::from(
        "# Configuration\n\n\
         <!-- Generated by `appel config export` from crates/appel-server/src/config_docs.rs; do not edit. -->\n\n\
         The server reads its settings from, in rising order of precedence: the built-in defaults below,\n\
         a TOML file (`appel serve --config FILE` or `APPEL_CONFIG=FILE`), the environment\n\
         (`APPEL_<SECTION>_<KEY>`), and the command line (`--listen`, `--data`, `--dev`). An unknown key\n\
         or a value that does not parse stops the server at start with 400/900900 naming the key and\n\
         where it came from. `appel config example` prints a file with every key at its default.\n\
         Durations take a unit: `\"40ms\"`, `\"120s\"`, `\"2m\"`, `\"1h\"`.\n",
    );
    let mut section = Some("");
    for doc in SETTING_DOCS {
        let (own, _) = split(doc.key);
        if own != section {
            let title = own.map_or("Top level".to_string(), |s| format!("`[{s}]`"));
            out.push_str(&format!(
                "\n## {title}\n\n| key | environment | default | meaning |\n|---|---|---|---|\n"
            ));
            section = own;
        }
        let default = (doc.value)(&defaults).unwrap_or_else(|| "unset".to_string());
        out.push_str(&format!(
            "| `{}` | `{}` | `{}` | {} |\n",
            doc.key,
            crate::config::env_name(doc.key),
            default,
            doc.meaning
        ));
    }
    out
}

/// The settings as plain text for `appel serve --help`.
pub fn help_text() -> String {
    let defaults = Config::default();
    let mut out = String::from(
        "Settings (file key, environment variable, default), in rising precedence: defaults, the\n\
         --config file, APPEL_* variables, the command line. `appel config example` prints a file.\n",
    );
    for doc in SETTING_DOCS {
        let default = (doc.value)(&defaults).unwrap_or_else(|| "unset".to_string());
        out.push_str(&format!(
            "\n  {} = {}   [{}]\n",
            doc.key,
            default,
            crate::config::env_name(doc.key)
        ));
        for line in wrap(doc.meaning, 90) {
            out.push_str(&format!("      {line}\n"));
        }
    }
    out
}

/// Splits `text` into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The documentation of `key`.
pub fn doc_of(key: &str) -> Option<&'static SettingDoc> {
    SETTING_DOCS.iter().find(|d| d.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::keys;

    #[test]
    fn the_example_file_loads_back_to_the_defaults() {
        let mut config = Config::default();
        config
            .apply_toml(&example_toml())
            .expect("the example loads");
        assert_eq!(config, Config::default());
    }

    #[test]
    fn every_setting_the_loader_knows_is_documented_once_and_nothing_else() {
        let loaded: Vec<&str> = keys().collect();
        let documented: Vec<&str> = SETTING_DOCS.iter().map(|d| d.key).collect();
        for key in &loaded {
            assert_eq!(
                documented.iter().filter(|d| *d == key).count(),
                1,
                "{key} must be documented exactly once in config_docs.rs"
            );
        }
        for key in &documented {
            assert!(loaded.contains(key), "{key} is documented but not loaded");
        }
    }
}

//! The server's settings: defaults, a TOML file, `APPEL_*` environment variables and the command line.
//!
//! Every setting has one key (`timers.ringing`); the file writes it as `[timers] ringing = "120s"` and
//! the environment as `APPEL_TIMERS_RINGING=120s`. Precedence: command line > environment > file >
//! defaults. Durations are written the humantime way: `"120s"`, `"40ms"`, `"2m"`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use appel_codes::{registry, CallingError};

/// The command-line arguments of `appel serve`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080; env: APPEL_LISTEN].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Folder holding the database and the generated access key [default: ./appel-data; env: APPEL_DATA].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// TOML file with settings; every key can also be set as APPEL_<SECTION>_<KEY> [env: APPEL_CONFIG].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Development mode: the web page gets identities and tokens from `/dev/*` without an
    /// access key. Never on a reachable server [env: APPEL_DEV].
    #[arg(long)]
    pub dev: bool,
}

/// The timers of docs/protocol.md, "Timers", plus the delays the server itself needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timers {
    /// Ringing without answer before 487/10004.
    pub ringing: Duration,
    /// 1:1 or group call establishment (408/10057 when the callee never finishes connecting).
    pub establishment: Duration,
    /// PSTN call establishment.
    pub pstn_establishment: Duration,
    /// Reconnect grace after the signaling connection drops; published to the SDK, which ends its own
    /// call with 496/7 when it runs out.
    pub reconnect_grace: Duration,
    /// How long a participant whose socket vanished may take to come back before the others see 0/4521.
    pub abrupt_disconnect: Duration,
    /// Adding or removing video or screen share.
    pub video_change: Duration,
    /// Per-endpoint acknowledgement of an incoming call before it counts as unreachable (10078).
    pub delivery_ack: Duration,
    /// After a push notice, how long to wait for an endpoint to come online (10077).
    pub push_wait: Duration,
    /// How long before a token expires the server tells the client to refresh it.
    pub token_refresh_ahead: Duration,
    /// From a participant's `mediaOffer` to its connected ICE + DTLS session with the media server
    /// before it is removed with 410/301004.
    pub media_setup: Duration,
    /// How long a participant connected to the media server may send nothing at all (media, RTCP,
    /// ICE consent checks, which browsers send every few seconds) before it is removed with
    /// 410/301005.
    pub media_loss: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            ringing: Duration::from_secs(120),
            establishment: Duration::from_secs(85),
            pstn_establishment: Duration::from_secs(115),
            reconnect_grace: Duration::from_secs(120),
            abrupt_disconnect: Duration::from_secs(40),
            video_change: Duration::from_secs(40),
            delivery_ack: Duration::from_secs(5),
            push_wait: Duration::from_secs(30),
            token_refresh_ahead: Duration::from_secs(10 * 60),
            media_setup: Duration::from_secs(10),
            media_loss: Duration::from_secs(10),
        }
    }
}

/// Settings of the WebSocket signaling endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signaling {
    /// How often the server pings; a connection silent for about two intervals is lost.
    pub heartbeat_interval: Duration,
    /// Largest frame accepted, in bytes (larger ones get 900001).
    pub max_frame_bytes: usize,
    /// Frames queued towards one connection; a client that lets it fill up is treated as lost.
    pub send_queue: usize,
    /// Bytes of output one connection may hold: frames waiting in its queue plus those handed to
    /// the WebSocket layer and not yet flushed. A client that reads too slowly to stay under it is
    /// cut off at once and treated as lost.
    pub send_buffer_bytes: usize,
    /// Longest a write to one connection may stay blocked (the peer stopped reading) before the
    /// connection is cut off and treated as lost.
    pub write_timeout: Duration,
    /// Largest `signal` frame relayed, in bytes (larger ones get 413/900006, not relayed).
    pub max_signal_bytes: usize,
    /// Signal tokens one connection earns per second (more get 429/900007). A signal costs one
    /// token per started KiB: an ICE candidate one, a 10 KiB SDP offer ten.
    pub signal_rate: usize,
    /// Signal tokens one connection may spend at once (call setup's offer, answer and ICE burst).
    pub signal_burst: usize,
    /// Frames of any type one connection may send per second, sustained (more get 429/900020).
    pub frame_rate: usize,
    /// Frames one connection may send at once, on top of the sustained rate.
    pub frame_burst: usize,
    /// Refused frames beyond which a connection that keeps sending is closed with 429/900021; the
    /// allowance refills at `frame_rate`, so a client that backs off is never closed.
    pub frame_excess: usize,
    /// Frames of one connection parsed and waiting for the call controller; the connection stops
    /// reading its socket until the controller catches up.
    pub frames_in_flight: usize,
}

impl Default for Signaling {
    fn default() -> Self {
        Signaling {
            heartbeat_interval: Duration::from_secs(15),
            max_frame_bytes: 64 * 1024,
            send_queue: 4096,
            // 300 `incomingCall` frames for an endpoint that comes online take about 66 KB; a
            // mebibyte holds that fifteen times over and thirty signals at the signal limit.
            send_buffer_bytes: 1024 * 1024,
            write_timeout: Duration::from_secs(10),
            // A large SDP offer is about 10 KiB.
            max_signal_bytes: 32 * 1024,
            // A call's setup (an offer or answer and a few dozen candidates) is about 50 tokens;
            // the burst covers that twenty times, the rate a renegotiation every tenth of a second.
            signal_rate: 200,
            signal_burst: 1000,
            // Twice the signal limits (a signal is a frame, and costs a token there too), so a
            // client within those is never refused here; outside a call's setup a busy client sends
            // a few frames a second.
            frame_rate: 400,
            frame_burst: 2000,
            frame_excess: 2000,
            frames_in_flight: 32,
        }
    }
}

/// Limits on calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Participants per call.
    pub max_participants: usize,
    /// Calls one identity may have started that nobody answered yet and that still ring (more get
    /// 429/900022 and ring nobody).
    pub max_outgoing_calls_per_identity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_participants: 350,
            max_outgoing_calls_per_identity: 32,
        }
    }
}

/// Access tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    /// Lifetime of a token when the request names none (allowed: 1–24 h).
    pub default_lifetime: Duration,
    /// How far ahead of this server's clock a token's `iat` or `nbf` may lie and still be
    /// accepted (the issuing server's clock may run a little ahead). Default 30 s, at most 5 min.
    pub clock_leeway: Duration,
}

impl Default for Tokens {
    fn default() -> Self {
        Tokens {
            default_lifetime: crate::tokens::MAX_LIFETIME,
            clock_leeway: crate::tokens::DEFAULT_CLOCK_LEEWAY,
        }
    }
}

/// The batched writer of call records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Records {
    /// Events per transaction at most.
    pub batch_size: usize,
    /// Longest time an event waits before its transaction commits.
    pub flush_interval: Duration,
    /// Durable mode: the parties of a call are told it (or their leg) ended only once that end is
    /// committed, so a crash never loses an end someone was told of. Off by default: ends are then
    /// told at once and a crash loses at most the last `flush_interval` of records.
    pub durable: bool,
}

impl Default for Records {
    fn default() -> Self {
        Records {
            batch_size: 4096,
            flush_interval: Duration::from_millis(50),
            durable: false,
        }
    }
}

/// The media server embedded in `appel serve` (docs/architecture.md, "The media plane").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// Whether `appel serve` runs it. Without it, `mediaOffer` gets 503/900700.
    pub enabled: bool,
    /// The address its one UDP socket binds to, every participant's datagrams multiplexed on it.
    /// Default 127.0.0.1 port 0: a free port, which every SDP answer names, so no client needs to
    /// know it in advance; give a fixed one (`media.udp_port`) to open it in a firewall.
    pub bind: SocketAddr,
    /// The address clients are told to send to (the ICE candidate of every answer); the bound
    /// address when unset. Set it to the public address behind a NAT or a port mapping.
    pub public_address: Option<SocketAddr>,
    /// Whether SDKs may send a custom media stream (a stream the page made, not a camera) as
    /// video. Announced in the welcome; an SDK refuses it with 41073 when false.
    pub custom_streams: bool,
    /// How many videos one participant receives at once from the media server. A publisher's
    /// video beyond it arrives paused, and a `mediaView` that would exceed it gets 500/43204.
    /// Default 25: a 5×5 grid, past which tiles are too small to tell apart and every extra
    /// video costs the subscriber's downlink and the server's upload for little.
    pub max_video_subscriptions: usize,
}

impl Default for Media {
    fn default() -> Self {
        Media {
            enabled: true,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_address: None,
            custom_streams: true,
            max_video_subscriptions: 25,
        }
    }
}

/// Push notices sent to offline endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Push {
    /// Timeout of one notice's HTTP request.
    pub request_timeout: Duration,
}

impl Default for Push {
    fn default() -> Self {
        Push {
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// Webhook deliveries, and the subscription the configuration itself declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhooks {
    /// A receiver subscribed to every event from the configuration (besides those added by REST).
    pub url: Option<String>,
    /// The HMAC-SHA256 secret of the configured receiver.
    pub secret: Option<String>,
    /// Timeout of one delivery's HTTP request.
    pub request_timeout: Duration,
    /// Wait before the first retry; doubled after each failure.
    pub initial_backoff: Duration,
    /// Longest wait between two retries.
    pub max_backoff: Duration,
    /// How long an event is retried before it is given up.
    pub retry_for: Duration,
    /// Outbox rows the dispatcher reads per page: events wait in the database, not in memory, so
    /// none is dropped however slow a receiver is; this only bounds what one read holds.
    pub queue: usize,
}

impl Default for Webhooks {
    fn default() -> Self {
        Webhooks {
            url: None,
            secret: None,
            request_timeout: Duration::from_secs(5),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            retry_for: Duration::from_secs(15 * 60),
            queue: 1024,
        }
    }
}

/// Limits of the HTTP listener: what one request may weigh, how long a client may take to send it,
/// and how many HTTP connections are open at once. A signaling connection counts as an HTTP
/// connection until its upgrade to WebSocket; after that only the signaling limits apply to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Http {
    /// Largest request body, in bytes (larger ones get 413/900112).
    pub max_body_bytes: usize,
    /// Longest request target (path and query), in bytes (longer ones get 414/900113).
    pub max_uri_bytes: usize,
    /// Largest total size of the request headers, in bytes (larger ones get 431/900114).
    pub max_header_bytes: usize,
    /// From a connection's opening, or the first byte of a request, to the end of its headers; a
    /// client slower than that is disconnected without an answer.
    pub header_read_timeout: Duration,
    /// From the end of the headers to the end of the body (a slower body gets 408/900115).
    pub body_read_timeout: Duration,
    /// How long a kept-alive connection may wait, idle, for its next request.
    pub idle_timeout: Duration,
    /// From the first write of an answer that the client's socket does not take at once to the
    /// moment all of it was handed to the system; a client that reads slower than that (or not
    /// at all) is disconnected and its slot freed.
    pub response_write_timeout: Duration,
    /// HTTP connections open at once (upgraded signaling connections aside); the next one is
    /// answered 503/900116 and closed.
    pub max_connections: usize,
    /// On shutdown, how long requests in progress may take to finish before their connections are
    /// dropped.
    pub shutdown_drain: Duration,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            max_body_bytes: 1024 * 1024,
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            response_write_timeout: Duration::from_secs(30),
            max_connections: 1024,
            shutdown_drain: Duration::from_secs(5),
        }
    }
}

/// The media relay (TURN) whose short-lived credentials `GET /relay/credentials` hands out, in the
/// shared-secret scheme a TURN server such as coturn checks with `use-auth-secret` (docs/relay.md).
/// No relay by default: the endpoint then answers an empty list and calls use direct paths only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relay {
    /// ICE server urls handed to clients (`turn:host:port?transport=udp`, `turns:…`, `stun:…`);
    /// a comma-separated string in the environment, a list or a string in the file.
    pub urls: Vec<String>,
    /// The secret shared with the TURN server (its `static-auth-secret`); required with `urls`.
    pub secret: Option<String>,
    /// How long handed-out credentials stay valid. The TURN server checks them again on every
    /// allocation refresh, so a call longer than this loses its relay: 4 h by default, 1 min–24 h.
    pub credential_lifetime: Duration,
}

impl Default for Relay {
    fn default() -> Self {
        Relay {
            urls: Vec::new(),
            secret: None,
            credential_lifetime: Duration::from_secs(4 * 60 * 60),
        }
    }
}

/// Identity providers whose tokens sign users in directly (docs/identities.md). Every issuer listed
/// here shares the audience and policies below; issuers with their own policies are added over
/// REST (`POST /federation/issuers`). None by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Federation {
    /// The issuers trusted (their `iss`, an https URL; plain http only on a loopback host); a
    /// comma-separated string in the environment, a list or a string in the file.
    pub issuers: Vec<String>,
    /// The `aud` their tokens must carry; required with `issuers`.
    pub audience: Option<String>,
    /// The claim that names the user (`sub` by default).
    pub user_claim: String,
    /// Whether their users may start, join and answer calls (on by default).
    pub calling: bool,
    /// Whether their users may join rooms (off by default: rooms admit Appel users only).
    pub rooms: bool,
    /// Least time between two fetches of one issuer's keys, so tokens naming unknown keys cannot
    /// make this server hammer the issuer: 30 s by default, at most 1 h.
    pub jwks_min_refresh: Duration,
    /// How long fetched keys are kept when the issuer's answer says nothing (no Cache-Control
    /// max-age), and the most a max-age may say: 1 h by default, 1 min–24 h.
    pub jwks_max_age: Duration,
}

impl Default for Federation {
    fn default() -> Self {
        Federation {
            issuers: Vec::new(),
            audience: None,
            user_claim: "sub".to_string(),
            calling: true,
            rooms: false,
            jwks_min_refresh: Duration::from_secs(30),
            jwks_max_age: Duration::from_secs(60 * 60),
        }
    }
}

/// hyper refuses a longer request target itself, with an empty answer; the setting stays below.
pub const MAX_URI_BYTES_CEILING: usize = 65_534;

/// A bound on `http.max_connections` that keeps the count within what the listener can track.
pub const MAX_CONNECTIONS_CEILING: usize = 1_000_000;

/// What signed-in users may look up about each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directory {
    /// `GET /people`: any signed-in user may list the named identities of this server with their
    /// presence. On by default (a calling app needs it to call people by name); off for servers
    /// whose users must not learn who else is there (403/900122).
    pub people: bool,
}

impl Default for Directory {
    fn default() -> Self {
        Directory { people: true }
    }
}

/// Every setting of the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Folder of the database and the generated access key.
    pub data: PathBuf,
    /// The access key; when `None` it is read from (or generated into) `DATA/access-key`.
    pub access_key: Option<String>,
    /// Call timers.
    pub timers: Timers,
    /// Signaling endpoint.
    pub signaling: Signaling,
    /// Call limits.
    pub limits: Limits,
    /// Access tokens.
    pub tokens: Tokens,
    /// Call records writer.
    pub records: Records,
    /// Push notices.
    pub push: Push,
    /// The media server.
    pub media: Media,
    /// Webhook deliveries.
    pub webhooks: Webhooks,
    /// HTTP listener limits.
    pub http: Http,
    /// What users may look up about each other.
    pub directory: Directory,
    /// The media relay (TURN); none by default.
    pub relay: Relay,
    /// Trusted identity providers; none by default.
    pub federation: Federation,
    /// Development mode (`--dev`): `/dev/*` issues identities and tokens to anyone. Off by default.
    pub dev: bool,
    /// Folder of the built web app served at `/` (`web/dist`, built by `web/build.sh`).
    pub web_dir: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data: PathBuf::from("./appel-data"),
            access_key: None,
            timers: Timers::default(),
            signaling: Signaling::default(),
            limits: Limits::default(),
            tokens: Tokens::default(),
            records: Records::default(),
            push: Push::default(),
            media: Media::default(),
            webhooks: Webhooks::default(),
            http: Http::default(),
            directory: Directory::default(),
            relay: Relay::default(),
            federation: Federation::default(),
            dev: false,
            web_dir: PathBuf::from("web/dist"),
        }
    }
}

/// Where a value came from, named in error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    File,
    Env,
    CommandLine,
}

impl Source {
    fn describe(self, key: &str) -> String {
        match self {
            Source::File => format!("{key} in the config file"),
            Source::Env => env_name(key),
            Source::CommandLine => format!("--{}", key.replace('_', "-")),
        }
    }
}

type Apply = fn(&mut Config, &str) -> Result<(), String>;

/// One setting: its key and how to store a textual value.
struct Setting {
    key: &'static str,
    apply: Apply,
}

macro_rules! settings {
    ($($key:literal => |$cfg:ident, $v:ident| $body:expr;)*) => {
        &[$(Setting { key: $key, apply: |$cfg: &mut Config, $v: &str| { $body; Ok(()) } }),*]
    };
}

/// Every setting, by key. A key `a.b` is `[a] b = …` in the file and `APPEL_A_B` in the environment.
static SETTINGS: &[Setting] = settings! {
    "listen" => |c, v| c.listen = v.parse().map_err(|_| format!("`{v}` is not an address such as 127.0.0.1:8080"))?;
    "data" => |c, v| c.data = PathBuf::from(v);
    "access_key" => |c, v| c.access_key = Some(non_empty(v)?);
    "timers.ringing" => |c, v| c.timers.ringing = duration(v)?;
    "timers.establishment" => |c, v| c.timers.establishment = duration(v)?;
    "timers.pstn_establishment" => |c, v| c.timers.pstn_establishment = duration(v)?;
    "timers.reconnect_grace" => |c, v| c.timers.reconnect_grace = duration(v)?;
    "timers.abrupt_disconnect" => |c, v| c.timers.abrupt_disconnect = duration(v)?;
    "timers.video_change" => |c, v| c.timers.video_change = duration(v)?;
    "timers.delivery_ack" => |c, v| c.timers.delivery_ack = duration(v)?;
    "timers.push_wait" => |c, v| c.timers.push_wait = duration(v)?;
    "timers.token_refresh_ahead" => |c, v| c.timers.token_refresh_ahead = duration(v)?;
    "timers.media_setup" => |c, v| c.timers.media_setup = duration(v)?;
    "timers.media_loss" => |c, v| c.timers.media_loss = duration(v)?;
    "signaling.heartbeat_interval" => |c, v| c.signaling.heartbeat_interval = duration(v)?;
    "signaling.max_frame_bytes" => |c, v| c.signaling.max_frame_bytes = count(v)?;
    "signaling.send_queue" => |c, v| c.signaling.send_queue = count(v)?;
    "signaling.send_buffer_bytes" => |c, v| c.signaling.send_buffer_bytes = count(v)?;
    "signaling.write_timeout" => |c, v| c.signaling.write_timeout = duration(v)?;
    "signaling.max_signal_bytes" => |c, v| c.signaling.max_signal_bytes = count(v)?;
    "signaling.signal_rate" => |c, v| c.signaling.signal_rate = count(v)?;
    "signaling.signal_burst" => |c, v| c.signaling.signal_burst = count(v)?;
    "signaling.frame_rate" => |c, v| c.signaling.frame_rate = count(v)?;
    "signaling.frame_burst" => |c, v| c.signaling.frame_burst = count(v)?;
    "signaling.frame_excess" => |c, v| c.signaling.frame_excess = count(v)?;
    "signaling.frames_in_flight" => |c, v| c.signaling.frames_in_flight = count(v)?;
    "limits.max_participants" => |c, v| c.limits.max_participants = count(v)?;
    "limits.max_outgoing_calls_per_identity" => |c, v| c.limits.max_outgoing_calls_per_identity = count(v)?;
    "tokens.default_lifetime" => |c, v| c.tokens.default_lifetime = token_lifetime(v)?;
    "tokens.clock_leeway" => |c, v| c.tokens.clock_leeway = clock_leeway(v)?;
    "records.batch_size" => |c, v| c.records.batch_size = count(v)?;
    "records.flush_interval" => |c, v| c.records.flush_interval = duration(v)?;
    "records.durable" => |c, v| c.records.durable = v.parse().map_err(|_| format!("`{v}` is not true or false"))?;
    "media.custom_streams" => |c, v| c.media.custom_streams = v.parse().map_err(|_| format!("`{v}` is not true or false"))?;
    "media.max_video_subscriptions" => |c, v| c.media.max_video_subscriptions = count(v)?;
    "push.request_timeout" => |c, v| c.push.request_timeout = duration(v)?;
    "media.enabled" => |c, v| c.media.enabled = v.parse().map_err(|_| format!("`{v}` is not true or false"))?;
    "media.bind" => |c, v| c.media.bind = v.parse().map_err(|_| format!("`{v}` is not an address such as 127.0.0.1:4478"))?;
    "media.udp_port" => |c, v| c.media.bind.set_port(v.parse().map_err(|_| format!("`{v}` is not a port number"))?);
    "media.public_address" => |c, v| c.media.public_address = Some(v.parse().map_err(|_| format!("`{v}` is not an address such as 203.0.113.7:4478"))?);
    "webhooks.url" => |c, v| c.webhooks.url = Some(non_empty(v)?);
    "webhooks.secret" => |c, v| c.webhooks.secret = Some(non_empty(v)?);
    "webhooks.request_timeout" => |c, v| c.webhooks.request_timeout = duration(v)?;
    "webhooks.initial_backoff" => |c, v| c.webhooks.initial_backoff = duration(v)?;
    "webhooks.max_backoff" => |c, v| c.webhooks.max_backoff = duration(v)?;
    "webhooks.retry_for" => |c, v| c.webhooks.retry_for = duration(v)?;
    "webhooks.queue" => |c, v| c.webhooks.queue = count(v)?;
    "http.max_body_bytes" => |c, v| c.http.max_body_bytes = count(v)?;
    "http.max_uri_bytes" => |c, v| c.http.max_uri_bytes = count(v)?;
    "http.max_header_bytes" => |c, v| c.http.max_header_bytes = count(v)?;
    "http.header_read_timeout" => |c, v| c.http.header_read_timeout = duration(v)?;
    "http.body_read_timeout" => |c, v| c.http.body_read_timeout = duration(v)?;
    "http.idle_timeout" => |c, v| c.http.idle_timeout = duration(v)?;
    "http.response_write_timeout" => |c, v| c.http.response_write_timeout = duration(v)?;
    "http.max_connections" => |c, v| c.http.max_connections = count(v)?;
    "http.shutdown_drain" => |c, v| c.http.shutdown_drain = duration(v)?;
    "directory.people" => |c, v| c.directory.people = v.parse().map_err(|_| format!("`{v}` is not true or false"))?;
    "relay.urls" => |c, v| c.relay.urls = relay_urls(v)?;
    "relay.secret" => |c, v| c.relay.secret = Some(non_empty(v)?);
    "relay.credential_lifetime" => |c, v| c.relay.credential_lifetime = relay_lifetime(v)?;
    "federation.issuers" => |c, v| c.federation.issuers = issuer_urls(v)?;
    "federation.audience" => |c, v| c.federation.audience = Some(non_empty(v)?);
    "federation.user_claim" => |c, v| c.federation.user_claim = non_empty(v)?;
    "federation.calling" => |c, v| c.federation.calling = v.parse().map_err(|_| format!("`{v}` is not true or false"))?;
    "federation.rooms" => |c, v| c.federation.rooms = v.parse().map_err(|_| format!("`{v}` is not true or false"))?;
    "federation.jwks_min_refresh" => |c, v| c.federation.jwks_min_refresh = bounded(v, Duration::ZERO, Duration::from_secs(60 * 60))?;
    "federation.jwks_max_age" => |c, v| c.federation.jwks_max_age = bounded(v, Duration::from_secs(60), Duration::from_secs(24 * 60 * 60))?;
    "dev" => |c, v| c.dev = v.parse().map_err(|_| format!("`{v}` is not true or false"))?;
    "web.dir" => |c, v| c.web_dir = PathBuf::from(v);
};

/// The environment variable of a setting key: `timers.ringing` → `APPEL_TIMERS_RINGING`.
pub fn env_name(key: &str) -> String {
    format!("APPEL_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Every setting key, in documentation order.
pub fn keys() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().map(|s| s.key)
}

impl Config {
    /// Builds the configuration from the command line, the process environment and the file the
    /// command line or `APPEL_CONFIG` names.
    pub fn load(args: &ServeArgs) -> Result<Config, CallingError> {
        Self::load_with_env(args, |name| std::env::var(name).ok())
    }

    /// As [`Config::load`], with the environment given as a lookup function (tests pass a map).
    pub fn load_with_env(
        args: &ServeArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, CallingError> {
        let mut config = Config::default();
        let file = args
            .config
            .clone()
            .or_else(|| env("APPEL_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                invalid(format!("cannot read the config file {}", path.display()))
                    .with_raw_cause(e.to_string())
            })?;
            config.apply_toml(&text)?;
        }
        for setting in SETTINGS {
            if let Some(value) = env(&env_name(setting.key)) {
                config.apply(setting, &value, Source::Env)?;
            }
        }
        let command_line = [
            ("listen", args.listen.clone()),
            ("data", args.data.as_ref().map(|p| p.display().to_string())),
            ("dev", args.dev.then(|| "true".to_string())),
        ];
        for (key, value) in command_line {
            if let (Some(value), Some(setting)) = (value, find(key)) {
                config.apply(setting, &value, Source::CommandLine)?;
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Applies the settings of a TOML document over this configuration.
    pub fn apply_toml(&mut self, text: &str) -> Result<(), CallingError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            invalid("the config file is not valid TOML").with_raw_cause(e.message().to_string())
        })?;
        let mut flat = BTreeMap::new();
        flatten("", &table, &mut flat)?;
        for (key, value) in flat {
            let setting = find(&key).ok_or_else(|| {
                invalid(format!(
                    "unknown setting `{key}` in the config file; known: {}",
                    keys().collect::<Vec<_>>().join(", ")
                ))
            })?;
            self.apply(setting, &value, Source::File)?;
        }
        Ok(())
    }

    fn apply(
        &mut self,
        setting: &Setting,
        value: &str,
        source: Source,
    ) -> Result<(), CallingError> {
        (setting.apply)(self, value.trim())
            .map_err(|why| invalid(format!("{}: {why}", source.describe(setting.key))))
    }

    fn validate(&self) -> Result<(), CallingError> {
        let positive = [
            (
                "signaling.heartbeat_interval",
                self.signaling.heartbeat_interval,
            ),
            ("records.flush_interval", self.records.flush_interval),
            ("http.header_read_timeout", self.http.header_read_timeout),
            ("http.body_read_timeout", self.http.body_read_timeout),
            ("http.idle_timeout", self.http.idle_timeout),
            (
                "http.response_write_timeout",
                self.http.response_write_timeout,
            ),
            ("signaling.write_timeout", self.signaling.write_timeout),
            // Zero would remove every participant the moment it sent its offer.
            ("timers.media_setup", self.timers.media_setup),
            ("timers.media_loss", self.timers.media_loss),
        ];
        for (key, value) in positive {
            if value.is_zero() {
                return Err(invalid(format!("{key} must be longer than zero")));
            }
        }
        let counts = [
            ("signaling.max_frame_bytes", self.signaling.max_frame_bytes),
            ("signaling.send_queue", self.signaling.send_queue),
            (
                "signaling.send_buffer_bytes",
                self.signaling.send_buffer_bytes,
            ),
            (
                "signaling.max_signal_bytes",
                self.signaling.max_signal_bytes,
            ),
            ("signaling.signal_rate", self.signaling.signal_rate),
            ("signaling.signal_burst", self.signaling.signal_burst),
            ("signaling.frame_rate", self.signaling.frame_rate),
            ("signaling.frame_burst", self.signaling.frame_burst),
            ("signaling.frame_excess", self.signaling.frame_excess),
            (
                "signaling.frames_in_flight",
                self.signaling.frames_in_flight,
            ),
            ("limits.max_participants", self.limits.max_participants),
            (
                "limits.max_outgoing_calls_per_identity",
                self.limits.max_outgoing_calls_per_identity,
            ),
            ("records.batch_size", self.records.batch_size),
            ("webhooks.queue", self.webhooks.queue),
            ("http.max_body_bytes", self.http.max_body_bytes),
            ("http.max_header_bytes", self.http.max_header_bytes),
            ("http.max_connections", self.http.max_connections),
            (
                "media.max_video_subscriptions",
                self.media.max_video_subscriptions,
            ),
        ];
        for (key, value) in counts {
            if value == 0 {
                return Err(invalid(format!("{key} must be at least 1")));
            }
        }
        let ranges = [
            (
                "http.max_uri_bytes",
                self.http.max_uri_bytes,
                256,
                MAX_URI_BYTES_CEILING,
            ),
            (
                "http.max_connections",
                self.http.max_connections,
                1,
                MAX_CONNECTIONS_CEILING,
            ),
        ];
        for (key, value, least, most) in ranges {
            if !(least..=most).contains(&value) {
                return Err(invalid(format!("{key} must be between {least} and {most}")));
            }
        }
        if !self.relay.urls.is_empty() && self.relay.secret.is_none() {
            return Err(invalid(
                "relay.urls is set but relay.secret is not: the relay could not check the credentials",
            ));
        }
        if !self.federation.issuers.is_empty() && self.federation.audience.is_none() {
            return Err(invalid(
                "federation.issuers is set but federation.audience is not: every token must name this server as its audience",
            ));
        }
        Ok(())
    }
}

fn find(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

fn invalid(context: impl Into<String>) -> CallingError {
    CallingError::new(&registry::INVALID_ARGUMENT).with_context(context)
}

/// Flattens `[a] b = v` to `a.b → "v"`; strings keep their content, numbers their decimal form.
fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut BTreeMap<String, String>,
) -> Result<(), CallingError> {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&key, inner, out)?,
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Integer(i) => {
                out.insert(key, i.to_string());
            }
            // `records.durable = true`, `custom_streams = false`: switches read as TOML booleans.
            toml::Value::Boolean(b) => {
                out.insert(key, b.to_string());
            }
            // A list of strings (`relay.urls`) reads as the comma-separated form of the environment.
            toml::Value::Array(items) if items.iter().all(toml::Value::is_str) => {
                let items: Vec<&str> = items.iter().filter_map(toml::Value::as_str).collect();
                out.insert(key, items.join(","));
            }
            other => {
                return Err(invalid(format!(
                "{key} in the config file: expected a string, an integer, a boolean or a list of strings, found {}",
                other.type_str()
            )))
            }
        }
    }
    Ok(())
}

fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration such as \"120s\" or \"40ms\" ({e})"))
}

fn count(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a whole number"))
}

fn non_empty(text: &str) -> Result<String, String> {
    if text.is_empty() {
        Err("must not be empty".to_string())
    } else {
        Ok(text.to_string())
    }
}

fn relay_urls(text: &str) -> Result<Vec<String>, String> {
    let urls: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect();
    for url in &urls {
        let scheme = url.split(':').next().unwrap_or_default();
        if !matches!(scheme, "turn" | "turns" | "stun" | "stuns") || url.len() <= scheme.len() + 1 {
            return Err(format!(
                "`{url}` is not an ICE server url such as turn:relay.example:3478?transport=udp"
            ));
        }
    }
    Ok(urls)
}

fn issuer_urls(text: &str) -> Result<Vec<String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| crate::federation::check_issuer_url(u).map_err(|why| format!("`{u}`: {why}")))
        .collect()
}

fn bounded(text: &str, least: Duration, most: Duration) -> Result<Duration, String> {
    let value = duration(text)?;
    if (least..=most).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "`{text}` is outside the allowed {}–{}",
            humantime::format_duration(least),
            humantime::format_duration(most)
        ))
    }
}

fn relay_lifetime(text: &str) -> Result<Duration, String> {
    let value = duration(text)?;
    if (Duration::from_secs(60)..=Duration::from_secs(24 * 60 * 60)).contains(&value) {
        Ok(value)
    } else {
        Err(format!("`{text}` is outside the allowed 1m–24h"))
    }
}

fn token_lifetime(text: &str) -> Result<Duration, String> {
    let value = duration(text)?;
    if (crate::tokens::MIN_LIFETIME..=crate::tokens::MAX_LIFETIME).contains(&value) {
        Ok(value)
    } else {
        Err(format!("`{text}` is outside the allowed 1h–24h"))
    }
}

fn clock_leeway(text: &str) -> Result<Duration, String> {
    let value = duration(text)?;
    if value <= crate::tokens::MAX_CLOCK_LEEWAY {
        Ok(value)
    } else {
        Err(format!("`{text}` is more than the allowed 5m"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("appel.toml");
        std::fs::write(&path, text).expect("write config");
        (dir, path)
    }

    #[test]
    fn defaults_follow_behaviour_timers() {
        let config = Config::load_with_env(&ServeArgs::default(), env(&[])).expect("config");
        assert_eq!(config, Config::default());
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.timers.ringing, Duration::from_secs(120));
        assert_eq!(config.timers.establishment, Duration::from_secs(85));
        assert_eq!(config.timers.abrupt_disconnect, Duration::from_secs(40));
        assert_eq!(config.timers.delivery_ack, Duration::from_secs(5));
        assert_eq!(
            config.tokens.default_lifetime,
            Duration::from_secs(24 * 3600)
        );
        assert_eq!(config.limits.max_participants, 350);
        assert_eq!(config.tokens.clock_leeway, Duration::from_secs(30));
        assert_eq!(config.http.max_body_bytes, 1024 * 1024);
        assert_eq!(config.http.header_read_timeout, Duration::from_secs(10));
        assert_eq!(config.http.max_connections, 1024);
    }

    #[test]
    fn custom_media_streams_are_allowed_unless_the_file_or_the_environment_says_false() {
        assert!(Config::default().media.custom_streams);
        let (_dir, path) = file("[media]\ncustom_streams = false\n");
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let config = Config::load_with_env(&args, env(&[])).expect("config");
        assert!(!config.media.custom_streams);
        let config = Config::load_with_env(
            &ServeArgs::default(),
            env(&[("APPEL_MEDIA_CUSTOM_STREAMS", "false")]),
        )
        .expect("config");
        assert!(!config.media.custom_streams);
        let error = Config::load_with_env(
            &ServeArgs::default(),
            env(&[("APPEL_MEDIA_CUSTOM_STREAMS", "off")]),
        )
        .expect_err("not a boolean");
        assert!(error.is(&registry::INVALID_ARGUMENT));
    }

    #[test]
    fn the_video_limit_per_subscriber_is_25_unless_the_file_or_the_environment_says_and_never_0() {
        assert_eq!(Config::default().media.max_video_subscriptions, 25);
        let (_dir, path) = file("[media]\nmax_video_subscriptions = 9\n");
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let config = Config::load_with_env(&args, env(&[])).expect("config");
        assert_eq!(config.media.max_video_subscriptions, 9);
        let config = Config::load_with_env(
            &ServeArgs::default(),
            env(&[("APPEL_MEDIA_MAX_VIDEO_SUBSCRIPTIONS", "4")]),
        )
        .expect("config");
        assert_eq!(config.media.max_video_subscriptions, 4);
        for bad in ["0", "-1", "many"] {
            let error = Config::load_with_env(
                &ServeArgs::default(),
                env(&[("APPEL_MEDIA_MAX_VIDEO_SUBSCRIPTIONS", bad)]),
            )
            .expect_err(bad);
            assert!(error.is(&registry::INVALID_ARGUMENT), "{bad}");
        }
    }

    #[test]
    fn the_clock_leeway_comes_from_the_file_or_the_environment() {
        let (_dir, path) = file("[tokens]\nclock_leeway = \"5s\"\n");
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let config = Config::load_with_env(&args, env(&[])).expect("config");
        assert_eq!(config.tokens.clock_leeway, Duration::from_secs(5));
        let config = Config::load_with_env(&args, env(&[("APPEL_TOKENS_CLOCK_LEEWAY", "0s")]))
            .expect("config");
        assert_eq!(config.tokens.clock_leeway, Duration::ZERO);
    }

    #[test]
    fn http_limits_come_from_file_and_environment_and_are_checked() {
        let (_dir, path) = file("[http]\nmax_body_bytes = 2048\nheader_read_timeout = \"2s\"\n");
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let config = Config::load_with_env(&args, env(&[("APPEL_HTTP_MAX_CONNECTIONS", "77")]))
            .expect("config");
        assert_eq!(config.http.max_body_bytes, 2048);
        assert_eq!(config.http.header_read_timeout, Duration::from_secs(2));
        assert_eq!(config.http.max_connections, 77);
        for (name, value) in [
            ("APPEL_HTTP_MAX_URI_BYTES", "70000"),
            ("APPEL_HTTP_MAX_CONNECTIONS", "0"),
            ("APPEL_HTTP_IDLE_TIMEOUT", "0s"),
        ] {
            let error = Config::load_with_env(&ServeArgs::default(), env(&[(name, value)]))
                .expect_err(name);
            assert!(error.is(&registry::INVALID_ARGUMENT), "{name}");
        }
    }

    #[test]
    fn command_line_beats_environment_beats_file_beats_defaults() {
        let (_dir, path) = file(
            "listen = \"127.0.0.1:1000\"\n[timers]\nringing = \"3s\"\ndelivery_ack = \"40ms\"\n[limits]\nmax_participants = 7\n",
        );
        let args = ServeArgs {
            listen: Some("127.0.0.1:3000".into()),
            data: None,
            config: Some(path),
            dev: false,
        };
        let config = Config::load_with_env(
            &args,
            env(&[
                ("APPEL_LISTEN", "127.0.0.1:2000"),
                ("APPEL_TIMERS_RINGING", "2s"),
                ("APPEL_DATA", "/tmp/from-env"),
            ]),
        )
        .expect("config");
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(config.timers.ringing, Duration::from_secs(2));
        assert_eq!(config.timers.delivery_ack, Duration::from_millis(40));
        assert_eq!(config.limits.max_participants, 7);
        assert_eq!(config.data, PathBuf::from("/tmp/from-env"));
        assert_eq!(config.timers.establishment, Duration::from_secs(85));
    }

    #[test]
    fn the_media_server_is_on_by_default_on_loopback_and_its_settings_come_from_file_or_env() {
        let config = Config::default();
        assert!(config.media.enabled);
        assert!(config.media.bind.ip().is_loopback());
        assert_eq!(config.media.bind.port(), 0);
        assert_eq!(config.media.public_address, None);
        assert_eq!(config.timers.media_setup, Duration::from_secs(10));
        assert_eq!(config.timers.media_loss, Duration::from_secs(10));
        let (_dir, path) = file(
            "[media]\nudp_port = 4478\npublic_address = \"203.0.113.7:4478\"\n[timers]\nmedia_loss = \"4s\"\n",
        );
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let config = Config::load_with_env(
            &args,
            env(&[
                ("APPEL_TIMERS_MEDIA_SETUP", "3s"),
                ("APPEL_MEDIA_ENABLED", "false"),
            ]),
        )
        .expect("config");
        assert_eq!(config.media.bind.to_string(), "127.0.0.1:4478");
        assert_eq!(
            config.media.public_address,
            Some("203.0.113.7:4478".parse().unwrap())
        );
        assert_eq!(config.timers.media_loss, Duration::from_secs(4));
        assert_eq!(config.timers.media_setup, Duration::from_secs(3));
        assert!(!config.media.enabled);
        for (name, value) in [
            ("APPEL_MEDIA_UDP_PORT", "70000"),
            ("APPEL_MEDIA_PUBLIC_ADDRESS", "somewhere"),
            ("APPEL_TIMERS_MEDIA_LOSS", "0s"),
        ] {
            let refused = Config::load_with_env(&ServeArgs::default(), env(&[(name, value)]));
            assert!(refused.is_err(), "{name}={value} was accepted");
        }
    }

    #[test]
    fn every_setting_has_an_environment_variable() {
        let names: Vec<String> = keys().map(env_name).collect();
        assert!(names.contains(&"APPEL_SIGNALING_MAX_FRAME_BYTES".to_string()));
        assert!(names.contains(&"APPEL_TIMERS_PUSH_WAIT".to_string()));
        let config = Config::load_with_env(
            &ServeArgs::default(),
            env(&[
                ("APPEL_SIGNALING_HEARTBEAT_INTERVAL", "25ms"),
                ("APPEL_TIMERS_PUSH_WAIT", "1m"),
                ("APPEL_ACCESS_KEY", "secret"),
            ]),
        )
        .expect("config");
        assert_eq!(
            config.signaling.heartbeat_interval,
            Duration::from_millis(25)
        );
        assert_eq!(config.timers.push_wait, Duration::from_secs(60));
        assert_eq!(config.access_key.as_deref(), Some("secret"));
    }

    #[test]
    fn bad_values_name_the_setting_and_its_source() {
        let error = Config::load_with_env(
            &ServeArgs::default(),
            env(&[("APPEL_TIMERS_RINGING", "soon")]),
        )
        .expect_err("bad duration");
        assert!(error.is(&registry::INVALID_ARGUMENT));
        assert!(error
            .context()
            .is_some_and(|c| c.contains("APPEL_TIMERS_RINGING")));

        let (_dir, path) = file("[timers]\nringin = \"3s\"\n");
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let error = Config::load_with_env(&args, env(&[])).expect_err("unknown key");
        assert!(error.context().is_some_and(|c| c.contains("timers.ringin")));

        let error = Config::load_with_env(
            &ServeArgs::default(),
            env(&[("APPEL_TOKENS_DEFAULT_LIFETIME", "25h")]),
        )
        .expect_err("lifetime out of range");
        assert!(error.is(&registry::INVALID_ARGUMENT));

        let error = Config::load_with_env(
            &ServeArgs::default(),
            env(&[("APPEL_TOKENS_CLOCK_LEEWAY", "1h")]),
        )
        .expect_err("leeway out of range");
        assert!(error
            .context()
            .is_some_and(|c| c.contains("APPEL_TOKENS_CLOCK_LEEWAY")));

        let error = Config::load_with_env(
            &ServeArgs::default(),
            env(&[("APPEL_SIGNALING_HEARTBEAT_INTERVAL", "0s")]),
        )
        .expect_err("zero heartbeat");
        assert!(error.is(&registry::INVALID_ARGUMENT));
    }

    #[test]
    fn the_flood_limits_come_from_the_file_and_the_environment() {
        let shipped = Config::default();
        assert_eq!(
            (
                shipped.signaling.frame_rate,
                shipped.signaling.frame_burst,
                shipped.signaling.frame_excess,
                shipped.signaling.frames_in_flight,
            ),
            (400, 2000, 2000, 32)
        );
        assert_eq!(shipped.limits.max_outgoing_calls_per_identity, 32);
        assert_eq!(shipped.http.response_write_timeout, Duration::from_secs(30));
        let (_dir, path) = file(
            "[signaling]\nframe_rate = 7\nframes_in_flight = 2\n[limits]\nmax_outgoing_calls_per_identity = 3\n[http]\nresponse_write_timeout = \"4s\"\n",
        );
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let config = Config::load_with_env(
            &args,
            env(&[
                ("APPEL_SIGNALING_FRAME_BURST", "11"),
                ("APPEL_SIGNALING_FRAME_EXCESS", "13"),
                ("APPEL_LIMITS_MAX_OUTGOING_CALLS_PER_IDENTITY", "5"),
            ]),
        )
        .expect("valid");
        assert_eq!(
            (
                config.signaling.frame_rate,
                config.signaling.frame_burst,
                config.signaling.frame_excess,
                config.signaling.frames_in_flight,
            ),
            (7, 11, 13, 2)
        );
        assert_eq!(config.limits.max_outgoing_calls_per_identity, 5);
        assert_eq!(config.http.response_write_timeout, Duration::from_secs(4));
        for (key, value) in [
            ("APPEL_SIGNALING_FRAMES_IN_FLIGHT", "0"),
            ("APPEL_LIMITS_MAX_OUTGOING_CALLS_PER_IDENTITY", "0"),
            ("APPEL_HTTP_RESPONSE_WRITE_TIMEOUT", "0s"),
        ] {
            let error = Config::load_with_env(&ServeArgs::default(), env(&[(key, value)]))
                .expect_err("zero refused");
            assert!(error.is(&registry::INVALID_ARGUMENT), "{key}");
        }
    }

    #[test]
    fn the_signaling_limits_come_from_the_file_and_the_environment() {
        let shipped = Signaling::default();
        assert_eq!(shipped.send_buffer_bytes, 1024 * 1024);
        assert_eq!(shipped.write_timeout, Duration::from_secs(10));
        assert_eq!(shipped.max_signal_bytes, 32 * 1024);
        assert_eq!((shipped.signal_rate, shipped.signal_burst), (200, 1000));
        let (_dir, path) = file(
            "[signaling]\nsend_buffer_bytes = 65536\nwrite_timeout = \"2s\"\nmax_signal_bytes = 2048\n",
        );
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let config = Config::load_with_env(
            &args,
            env(&[
                ("APPEL_SIGNALING_SIGNAL_RATE", "5"),
                ("APPEL_SIGNALING_SIGNAL_BURST", "9"),
                ("APPEL_SIGNALING_WRITE_TIMEOUT", "3s"),
            ]),
        )
        .expect("config");
        assert_eq!(config.signaling.send_buffer_bytes, 65536);
        assert_eq!(config.signaling.max_signal_bytes, 2048);
        assert_eq!(config.signaling.write_timeout, Duration::from_secs(3));
        assert_eq!(
            (config.signaling.signal_rate, config.signaling.signal_burst),
            (5, 9)
        );
        for zero in [
            ("APPEL_SIGNALING_SEND_BUFFER_BYTES", "0"),
            ("APPEL_SIGNALING_WRITE_TIMEOUT", "0s"),
            ("APPEL_SIGNALING_SIGNAL_RATE", "0"),
        ] {
            let error = Config::load_with_env(&ServeArgs::default(), env(&[zero]))
                .expect_err("a zero limit is refused");
            assert!(error.is(&registry::INVALID_ARGUMENT), "{}", zero.0);
        }
    }

    #[test]
    fn federation_is_off_by_default_and_a_keycloak_section_reads() {
        let config = Config::load_with_env(&ServeArgs::default(), env(&[])).expect("defaults");
        assert!(config.federation.issuers.is_empty());
        assert!(config.federation.calling && !config.federation.rooms);
        assert_eq!(config.federation.user_claim, "sub");
        let (_dir, path) = file(
            "[federation]\nissuers = [\"https://sso.example.org/realms/acme\", \"http://127.0.0.1:8081/realms/dev\"]\naudience = \"appel\"\nuser_claim = \"preferred_username\"\nrooms = true\njwks_min_refresh = \"1m\"\n",
        );
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let config = Config::load_with_env(&args, env(&[])).expect("file");
        assert_eq!(
            config.federation.issuers,
            [
                "https://sso.example.org/realms/acme",
                "http://127.0.0.1:8081/realms/dev"
            ]
        );
        assert_eq!(config.federation.audience.as_deref(), Some("appel"));
        assert_eq!(config.federation.user_claim, "preferred_username");
        assert!(config.federation.rooms);
        assert_eq!(config.federation.jwks_min_refresh, Duration::from_secs(60));
        for bad in [
            vec![("APPEL_FEDERATION_ISSUERS", "https://sso.example.org/")],
            vec![
                ("APPEL_FEDERATION_ISSUERS", "http://sso.example.org/"),
                ("APPEL_FEDERATION_AUDIENCE", "appel"),
            ],
            vec![("APPEL_FEDERATION_JWKS_MAX_AGE", "2d")],
            vec![("APPEL_FEDERATION_CALLING", "maybe")],
        ] {
            let error =
                Config::load_with_env(&ServeArgs::default(), env(&bad)).expect_err("refused");
            assert!(error.is(&registry::INVALID_ARGUMENT), "{bad:?}");
        }
    }

    #[test]
    fn the_relay_is_off_by_default_and_needs_its_secret() {
        let config = Config::load_with_env(&ServeArgs::default(), env(&[])).expect("defaults");
        assert!(config.relay.urls.is_empty());
        assert_eq!(config.relay.secret, None);
        assert_eq!(
            config.relay.credential_lifetime,
            Duration::from_secs(4 * 3600)
        );
        let (_dir, path) = file(
            "[relay]\nurls = [\"turn:127.0.0.1:3478?transport=udp\", \"turns:relay.test:5349\"]\nsecret = \"s3\"\ncredential_lifetime = \"10m\"\n",
        );
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let config = Config::load_with_env(&args, env(&[])).expect("file");
        assert_eq!(
            config.relay.urls,
            ["turn:127.0.0.1:3478?transport=udp", "turns:relay.test:5349"]
        );
        assert_eq!(config.relay.credential_lifetime, Duration::from_secs(600));
        let config = Config::load_with_env(
            &args,
            env(&[(
                "APPEL_RELAY_URLS",
                "stun:127.0.0.1:3478, turn:127.0.0.1:3479",
            )]),
        )
        .expect("environment");
        assert_eq!(
            config.relay.urls,
            ["stun:127.0.0.1:3478", "turn:127.0.0.1:3479"]
        );
        for bad in [
            vec![("APPEL_RELAY_URLS", "turn:127.0.0.1:3478")],
            vec![
                ("APPEL_RELAY_URLS", "http://relay.test"),
                ("APPEL_RELAY_SECRET", "s"),
            ],
            vec![("APPEL_RELAY_CREDENTIAL_LIFETIME", "30s")],
            vec![("APPEL_RELAY_CREDENTIAL_LIFETIME", "25h")],
        ] {
            let error =
                Config::load_with_env(&ServeArgs::default(), env(&bad)).expect_err("refused");
            assert!(error.is(&registry::INVALID_ARGUMENT), "{bad:?}");
        }
    }
}

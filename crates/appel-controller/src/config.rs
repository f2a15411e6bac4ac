//! Timers and limits of the controller; the defaults are docs/protocol.md, "Timers".

use std::time::Duration;

/// What the controller waits for and how much it allows. Every field is configurable; the server
/// reads them from its configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerConfig {
    /// How long targets ring before everyone still ringing, and a caller nobody answered, get
    /// 487/10004 (`RINGING_TIMEOUT`). Default 120 s.
    pub ringing_timeout: Duration,
    /// How long a callee that accepted has to send `mediaReady` before its leg, and a 1:1 call, end
    /// with 408/10057 (`CALLEE_SETUP_INCOMPLETE`). Default 85 s.
    pub establishment_timeout: Duration,
    /// How long an endpoint has to answer `incomingCall` with `ackIncoming` before it counts as
    /// unreachable (480/10078 `TARGET_UNREACHABLE` when none answers). Default 5 s.
    pub delivery_ack_timeout: Duration,
    /// How long a connection that vanished without hanging up may take to resume before its legs end
    /// with 0/4521 (`ABRUPT_DISCONNECT`). Default 40 s.
    pub disconnect_detection: Duration,
    /// How long, after a push notice was sent to an identity with no connected endpoint, the
    /// controller waits for one of its endpoints to come online before the target ends with
    /// 480/10077 (`TARGET_OFFLINE_AFTER_PUSH`). Default 30 s: a woken mobile app needs a few seconds
    /// to start and connect, and a quarter of the ringing timeout leaves the caller time to hear why.
    pub push_wait: Duration,
    /// The most participants one call may have, caller included (`CALL_PARTICIPANT_LIMIT`).
    /// Default 350.
    pub max_participants: usize,
    /// The most calls one identity may have started that still ring someone and that no callee
    /// answered yet; the next `startCall` gets 429/900022 (`OUTGOING_CALLS_LIMIT`) and rings
    /// nobody. Default 32: far more than a person places at once, and it keeps one account from
    /// ringing hundreds of devices for the whole ringing timeout.
    pub max_outgoing_calls_per_identity: usize,
    /// Seed of the cryptographic generator (ChaCha20) of call and participant ids. The server
    /// passes 32 bytes from the operating system's generator at start, so ids cannot be predicted
    /// and differ across restarts and servers; tests pass a fixed one to get the same ids every run.
    pub id_seed: [u8; 32],
    /// Unix milliseconds at the controller's start (0 in tests). Call ids begin with
    /// `id_epoch_ms × 2²⁰ + a counter`, so they sort by creation across restarts: the records'
    /// indexes keyed by call id then grow at one end instead of dirtying pages all over the tree,
    /// which made the records writer write a 4 KiB page per index entry under load. The second
    /// half of the id is 128 bits from the seeded cryptographic generator.
    pub id_epoch_ms: u64,
    /// Whether the shell runs a media server: without one, `mediaOffer` gets 503/900700
    /// (`MEDIA_SERVER_DISABLED`). Default false (the controller alone has none).
    pub media_server: bool,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            ringing_timeout: Duration::from_secs(120),
            establishment_timeout: Duration::from_secs(85),
            delivery_ack_timeout: Duration::from_secs(5),
            disconnect_detection: Duration::from_secs(40),
            push_wait: Duration::from_secs(30),
            max_participants: 350,
            max_outgoing_calls_per_identity: 32,
            id_seed: [0; 32],
            id_epoch_ms: 0,
            media_server: false,
        }
    }
}

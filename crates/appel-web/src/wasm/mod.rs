//! The wasm-bindgen bindings: what JavaScript imports from the generated package.

mod agent;
mod call;
mod devices;
mod group;
mod js;
mod local_stream;
mod network;
mod peer;
mod views;

#[allow(unused_imports)]
pub use agent::{CallAgent, CallClient};
#[allow(unused_imports)]
pub use call::{Call, IncomingCall};
#[allow(unused_imports)]
pub use devices::{DeviceManager, VideoStreamRenderer};
#[allow(unused_imports)]
pub use group::{RemoteParticipant, RemoteVideoStream};
#[allow(unused_imports)]
pub use local_stream::LocalVideoStream;

use appel_codes::Locale;
use wasm_bindgen::prelude::*;

/// The catalogue's TypeScript types (`catalog/codes.d.ts`, copied beside the package by
/// `web/build.sh`) are the types of this package's end reasons and errors, so the two cannot diverge.
#[wasm_bindgen(typescript_custom_section)]
const CATALOGUE_TYPES: &'static str = r#"
import type { CallEndReason, CallingErrorInfo, Codes, EntryName, ResultCategory } from "./codes";
export type { CallEndReason, CallingErrorInfo, Codes, EntryName, ResultCategory };
/** What every rejected promise of this SDK carries: a JavaScript Error with the catalogue entry's fields. */
export type AppelError = Error & CallingErrorInfo;
/** Options of `CallAgent.startCall`. */
export interface StartCallOptions {
  /** Start with video (default false). */
  video?: boolean;
  /** A group call that anyone who has its id may join; it may have no target (default false). */
  joinable?: boolean;
}
/** Options of `CallAgent.join` and `CallAgent.joinRoom`. */
export interface JoinCallOptions {
  /** Join with video (default false; refused for a room Consumer). */
  video?: boolean;
}
/** Who ended a call or a participant's leg (`Call.endedBy`, the `ended` and `stopped` events). */
export type EndedBy =
  | { kind: "this" }
  | { kind: "participant"; participantId: string; identity: string }
  | { kind: "callControl" }
  | { kind: "server"; cause: "timer" | "unreachable" | "shutdown" };
/** Options of `CallClient.createCallAgent` and `createFederatedCallAgent` (docs/sdk.md). */
export interface CallAgentOptions {
  /** The server: `https://host:port` (or `ws(s)://host:port/path`). */
  serverUrl: string;
  /** This endpoint's id (default: a random one). */
  endpointId?: string;
  /** How long a request waits for the server's answer, in ms (default 10,000). */
  requestTimeoutMs?: number;
  /** `"relay"` allows relayed media paths only (docs/relay.md). */
  iceTransportPolicy?: "all" | "relay";
  /** Keep only ICE candidates of these addresses (tests on loopback). */
  allowedCandidateAddresses?: string[];
  /** How long calls outlive a dropped signaling connection, and the retry pacing. */
  reconnect?: { graceMs?: number; initialBackoffMs?: number; maxBackoffMs?: number };
  /** Fetches a fresh token from the application's backend. */
  tokenRefresher?: () => Promise<string>;
  /** Refresh before expiry rather than when the server asks. */
  refreshProactively?: boolean;
  /** How long before expiry a proactive refresh starts, in ms. */
  refreshLeadMs?: number;
  /** How long the refresher may take, in ms. */
  tokenFetchTimeoutMs?: number;
  /** How long an accepted call may take to connect, in ms. */
  callEstablishmentMs?: number;
  /** Fetch the server's relay (TURN) credentials before each call's media. */
  useRelay?: boolean;
  /** How long media may stay disconnected before the call ends 410/3101, in ms. */
  mediaRecoveryMs?: number;
}
/** Options of `Call.hangUp`. */
export interface HangUpOptions {
  /** End the call for everyone (the organizer, or a participant granted it). */
  forEveryone?: boolean;
}
/** Options of `IncomingCall.accept`. */
export interface AcceptOptions {
  /** Answer with video. */
  video?: boolean;
}
/** What `DeviceManager.askDevicePermission` asks for, and answers with what was granted. */
export interface DevicePermissions {
  audio?: boolean;
  video?: boolean;
}
/** A catalogue entry explained in one language (`explain`). */
export interface Explanation {
  code: number;
  subCode: number | null;
  name: EntryName;
  resultCategory: ResultCategory;
  message: string;
  advice: string;
  retryable: boolean;
  /** A call-end entry's sentences for the person who sees the end, by point of view; null otherwise. */
  endUser: { you?: string; other?: string; caller?: string; callee?: string } | null;
}
"#;

/// Chooses the language of the messages and advice of every error and `explain` answer that
/// follows (`"en"` or `"fr"`; other tags keep the current one). Answers the locale now in force.
#[wasm_bindgen(js_name = setLocale)]
pub fn set_locale(tag: &str) -> String {
    if let Some(locale) = Locale::from_tag(tag) {
        js::set_locale(locale);
    }
    js::locale().as_str().to_string()
}

/// The catalogue entry a `(code, subCode)` pair resolves to, in `locale` (default: the current
/// one): `{code, subCode, name, resultCategory, message, advice, retryable, endUser}`, where
/// `endUser` holds a call-end entry's texts for the person who sees the end, by point of view
/// (`you`, `other`, `caller`, `callee`; `{name}` stands for the other party), and is `null` for
/// other entries.
#[wasm_bindgen(unchecked_return_type = "Explanation")]
pub fn explain(code: u16, sub_code: u32, locale: Option<String>) -> JsValue {
    let locale = locale
        .as_deref()
        .and_then(Locale::from_tag)
        .unwrap_or_else(js::locale);
    js::to_js(&crate::errors::explain(code, sub_code, locale))
}

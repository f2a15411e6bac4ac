//! The wasm-bindgen bindings: what JavaScript imports from the generated package.

mod agent;
mod call;
mod devices;
mod js;
mod local_stream;
mod network;
mod peer;

#[allow(unused_imports)]
pub use agent::{CallAgent, CallClient};
#[allow(unused_imports)]
pub use call::{Call, IncomingCall};
#[allow(unused_imports)]
pub use devices::{DeviceManager, VideoStreamRenderer};
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
/** Who ended a call or a participant's leg (`Call.endedBy`, the `ended` and `stopped` events). */
export type EndedBy =
  | { kind: "this" }
  | { kind: "participant"; participantId: string; identity: string }
  | { kind: "callControl" }
  | { kind: "server"; cause: "timer" | "unreachable" | "shutdown" };
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
#[wasm_bindgen]
pub fn explain(code: u16, sub_code: u32, locale: Option<String>) -> JsValue {
    let locale = locale
        .as_deref()
        .and_then(Locale::from_tag)
        .unwrap_or_else(js::locale);
    js::to_js(&crate::errors::explain(code, sub_code, locale))
}

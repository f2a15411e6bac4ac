//! Appel's browser SDK: the JavaScript API a web page uses to sign in, place and answer calls, and
//! carry their audio and video over WebRTC, compiled to `wasm32-unknown-unknown` with wasm-bindgen.
//!
//! The platform-independent parts — how a browser failure maps to a catalogue entry, the error
//! objects handed to JavaScript, the limit on remote views — build and are tested on every target.
//! The bindings themselves (`wasm` module) exist only on wasm32, where `web-sys` reaches the
//! browser's WebSocket, `RTCPeerConnection` and `getUserMedia`.
//!
//! JavaScript sees (camelCase, promises, `on(event, handler)`): `CallClient`,
//! `CallClient.createCallAgent(token, {serverUrl})`, `CallAgent.startCall`, the `incomingCall` event,
//! `IncomingCall.accept`/`reject`, `Call.hangUp`/`hold`/`resume`/`mute`/`unmute`/`startVideo`/
//! `stopVideo`/`startScreenShare`, `Call.state`, `Call.callEndReason`, `DeviceManager`,
//! `LocalVideoStream` (a camera or a page's own stream, `switchSource`), `VideoStreamRenderer`
//! and `explain(code, subCode, locale)` (devices and video: `docs/web-media.md`). Every rejected promise carries an
//! error object `{code, subCode, resultCategory, name, message, advice, retryable}` from the catalogue.

pub mod errors;
pub mod media_outcome;
pub mod views;

#[cfg(target_arch = "wasm32")]
mod wasm;

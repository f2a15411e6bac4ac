//! Reading frames from text, with the catalogue error a peer gets for a frame that cannot be read.

use appel_codes::{registry, CallingError};
use serde::de::DeserializeOwned;

use crate::client::ClientFrame;
use crate::server::ServerFrame;

/// The longest `type` value quoted back in an error's context.
const MAX_QUOTED_TYPE: usize = 64;

/// Reads one client frame. Text that is not a JSON object with a string `type`, or whose fields do
/// not match its type, gives `MALFORMED_FRAME` (400/900002); a `type` this server does not know gives
/// `UNKNOWN_FRAME_TYPE` (400/900003). The parser's message is kept as the raw cause.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, CallingError> {
    parse(text, ClientFrame::TYPES)
}

/// Reads one server frame, with the same errors as [`parse_client_frame`] (the SDK side).
pub fn parse_server_frame(text: &str) -> Result<ServerFrame, CallingError> {
    parse(text, ServerFrame::TYPES)
}

fn parse<T: DeserializeOwned>(text: &str, known_types: &[&str]) -> Result<T, CallingError> {
    // Well-formed frames are read in one pass; only a failure pays for finding out why.
    let first_error = match serde_json::from_str::<T>(text) {
        Ok(frame) => return Ok(frame),
        Err(error) => error,
    };
    let malformed = |context: String, cause: String| {
        CallingError::new(&registry::MALFORMED_FRAME)
            .with_context(context)
            .with_raw_cause(cause)
    };
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => return Err(malformed("not JSON".into(), error.to_string())),
    };
    let Some(kind) = value.get("type").and_then(|kind| kind.as_str()) else {
        return Err(malformed(
            "no string `type` field".into(),
            first_error.to_string(),
        ));
    };
    if !known_types.contains(&kind) {
        let quoted: String = kind.chars().take(MAX_QUOTED_TYPE).collect();
        return Err(CallingError::new(&registry::UNKNOWN_FRAME_TYPE)
            .with_context(format!("type `{quoted}`")));
    }
    Err(malformed(
        format!("frame `{kind}`"),
        first_error.to_string(),
    ))
}

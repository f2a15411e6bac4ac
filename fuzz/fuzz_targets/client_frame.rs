//! Every text a client may send the server as a signaling frame.
//!
//! A frame that reads must write back to JSON that reads as the same frame, with the `type` its
//! variant names; a frame that does not read must be refused with one of the two catalogue errors
//! the protocol promises, and that error must itself travel to the client as a readable frame.
#![no_main]

use appel_codes::registry;
use appel_protocol::{parse_client_frame, parse_server_frame, ClientFrame, ServerFrame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The server reads text WebSocket messages, which are UTF-8 by construction.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_client_frame(text) {
        Ok(frame) => {
            assert!(ClientFrame::TYPES.contains(&frame.type_name()));
            let json = frame.to_json();
            let written: serde_json::Value = serde_json::from_str(&json).expect("written as JSON");
            assert_eq!(written["type"].as_str(), Some(frame.type_name()));
            let again = parse_client_frame(&json).expect("a written frame reads back");
            assert_eq!(again, frame, "{json}");
            assert_eq!(again.to_json(), json);
        }
        Err(error) => {
            assert!(
                error.is(&registry::MALFORMED_FRAME) || error.is(&registry::UNKNOWN_FRAME_TYPE),
                "{error:?}"
            );
            // The type quoted back is cut short, so a huge unknown type is not echoed whole.
            if error.is(&registry::UNKNOWN_FRAME_TYPE) {
                let context = error.context().unwrap_or_default();
                assert!(context.chars().count() <= 64 + "type ``".len(), "{context}");
            }
            let answer = ServerFrame::error(None, error.clone());
            let read = parse_server_frame(&answer.to_json()).expect("the error frame reads");
            assert_eq!(read, answer);
        }
    }
});

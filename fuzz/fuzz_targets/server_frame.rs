//! Every text a server (or anything posing as one) may send an SDK as a signaling frame.
//!
//! The SDKs read these with `parse_server_frame`: a frame that reads must write back to JSON that
//! reads as the same frame; an error frame's pair must resolve through this side's catalogue (a
//! peer cannot make an entry say something else); anything else is refused with a catalogue error.
#![no_main]

use appel_codes::{lookup, lookup_code, registry, Locale};
use appel_protocol::{parse_server_frame, ServerFrame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_server_frame(text) {
        Ok(frame) => {
            assert!(ServerFrame::TYPES.contains(&frame.type_name()));
            let json = frame.to_json();
            let written: serde_json::Value = serde_json::from_str(&json).expect("written as JSON");
            assert_eq!(written["type"].as_str(), Some(frame.type_name()));
            let again = parse_server_frame(&json).expect("a written frame reads back");
            assert_eq!(again, frame, "{json}");
            assert_eq!(again.to_json(), json);
            if let ServerFrame::Error { error, .. } = &frame {
                let sent: serde_json::Value = serde_json::from_str(text).expect("it was JSON");
                let code = sent["error"]["code"].as_u64().expect("a code was read");
                assert_eq!(u64::from(error.code().0), code);
                let expected = match error.subcode() {
                    Some(sub) => lookup(error.code().0, sub).entry,
                    None => lookup_code(error.code().0).entry,
                };
                assert!(std::ptr::eq(error.entry(), expected));
                // Whatever text the peer sent, the message is this side's own.
                assert_eq!(
                    written["error"]["message"].as_str(),
                    Some(expected.message(Locale::En))
                );
            }
        }
        Err(error) => {
            assert!(
                error.is(&registry::MALFORMED_FRAME) || error.is(&registry::UNKNOWN_FRAME_TYPE),
                "{error:?}"
            );
        }
    }
});

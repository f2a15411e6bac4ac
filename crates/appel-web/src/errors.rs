//! How browser failures become catalogue entries, and the shape of the error objects JavaScript gets.

use appel_codes::{lookup, registry, CallingError, Entry, Locale};
use serde_json::{json, Value};

/// The operation a `getUserMedia` failure interrupted; the same DOMException means different
/// entries for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceOperation {
    /// `DeviceManager.askDevicePermission`.
    AskPermission,
    /// Starting the camera (`startVideo`, `switchSource`, or a call started or accepted with video).
    StartVideo,
    /// Starting the microphone of a call being started or accepted: its failures name the
    /// microphone, never the camera.
    StartAudio,
}

/// The entry a `getUserMedia` DOMException stands for (docs/codes.md lists each entry with its DOMException). `message` is the
/// exception's own message, which tells a user's refusal from the system's.
pub fn device_error_entry(
    dom_name: &str,
    message: &str,
    operation: DeviceOperation,
) -> &'static Entry {
    match operation {
        DeviceOperation::AskPermission => match dom_name {
            "NotAllowedError" | "SecurityError" => &registry::DEVICE_PERMISSION_DENIED,
            _ => &registry::DEVICE_PERMISSION_REQUEST_FAILED,
        },
        DeviceOperation::StartAudio => match dom_name {
            "NotAllowedError" | "SecurityError" => &registry::MICROPHONE_PERMISSION_NOT_GRANTED,
            "NotFoundError" | "DevicesNotFoundError" => &registry::NO_MICROPHONE_FOUND,
            _ => &registry::MICROPHONE_UNAVAILABLE,
        },
        DeviceOperation::StartVideo => match dom_name {
            // Chromium says "Permission denied by system" when the OS, not the user, refused.
            "NotAllowedError" if message.contains("by system") => {
                &registry::CAMERA_DENIED_BY_SYSTEM
            }
            // A prompt closed without an answer, or left until the SDK gave up waiting.
            "NotAllowedError" if message.contains("dismissed") => {
                &registry::MEDIA_REQUEST_TIMED_OUT
            }
            "NotAllowedError" | "SecurityError" => &registry::CAMERA_PERMISSION_NOT_GRANTED,
            "NotFoundError" | "DevicesNotFoundError" => &registry::NO_CAMERA_FOUND,
            "NotReadableError" | "TrackStartError" => &registry::CAMERA_IN_USE,
            "OverconstrainedError" | "ConstraintNotSatisfiedError" => {
                &registry::VIDEO_CONSTRAINTS_FAILED
            }
            "AbortError" => &registry::MEDIA_REQUEST_FAILED,
            "TimeoutError" => &registry::MEDIA_REQUEST_TIMED_OUT,
            "TypeError" => &registry::UNSUPPORTED_VIDEO_STREAM,
            _ => &registry::START_VIDEO_UNKNOWN_FAILURE,
        },
    }
}

/// The error for a `getUserMedia` failure, keeping the exception's name and message as raw cause.
pub fn device_error(dom_name: &str, message: &str, operation: DeviceOperation) -> CallingError {
    CallingError::new(device_error_entry(dom_name, message, operation))
        .with_raw_cause(format!("{dom_name}: {message}"))
}

/// The object a rejected promise carries: the catalogue entry in `locale`, plus the raw cause and
/// context when there are some.
pub fn error_object(error: &CallingError, locale: Locale) -> Value {
    let mut object = json!({
        "code": error.code().0,
        "subCode": error.subcode().unwrap_or(0),
        "resultCategory": error.category(),
        "name": error.name(),
        "message": error.message(locale),
        "advice": error.advice(locale),
        "retryable": error.retryable(),
    });
    if let Some(raw) = error.raw_cause() {
        object["rawCause"] = json!(raw);
    }
    if let Some(context) = error.context() {
        object["context"] = json!(context);
    }
    object
}

/// What `explain(code, subCode, locale)` answers: the entry a pair resolves to, in `locale`.
pub fn explain(code: u16, subcode: u32, locale: Locale) -> Value {
    let resolution = lookup(code, subcode);
    let entry = resolution.entry;
    json!({
        "code": code,
        "subCode": subcode,
        "name": entry.name,
        "resultCategory": entry.category,
        "message": entry.message.get(locale),
        "advice": entry.advice.get(locale),
        "retryable": entry.retryable,
        "endUser": end_user(entry, locale),
    })
}

/// A call-end entry's end-user texts in `locale` by point of view (`{you, other, caller,
/// callee}`, `{name}` left for the page to fill), `null` for other entries.
fn end_user(entry: &appel_codes::Entry, locale: Locale) -> Value {
    let texts = appel_codes::end_user_texts(entry);
    if texts.is_empty() {
        return Value::Null;
    }
    texts
        .iter()
        .map(|t| {
            (
                t.viewer.as_str().to_owned(),
                Value::from(t.text.get(locale)),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dom_exceptions_map_to_the_entries_of_the_behaviour_table() {
        use DeviceOperation::*;
        let cases = [
            (
                "NotAllowedError",
                "Permission denied",
                StartVideo,
                &registry::CAMERA_PERMISSION_NOT_GRANTED,
            ),
            (
                "NotAllowedError",
                "Permission denied by system",
                StartVideo,
                &registry::CAMERA_DENIED_BY_SYSTEM,
            ),
            (
                "NotFoundError",
                "Requested device not found",
                StartVideo,
                &registry::NO_CAMERA_FOUND,
            ),
            (
                "NotReadableError",
                "Could not start video source",
                StartVideo,
                &registry::CAMERA_IN_USE,
            ),
            (
                "OverconstrainedError",
                "",
                StartVideo,
                &registry::VIDEO_CONSTRAINTS_FAILED,
            ),
            (
                "AbortError",
                "",
                StartVideo,
                &registry::MEDIA_REQUEST_FAILED,
            ),
            (
                "TimeoutError",
                "",
                StartVideo,
                &registry::MEDIA_REQUEST_TIMED_OUT,
            ),
            (
                "NotAllowedError",
                "Permission dismissed",
                StartVideo,
                &registry::MEDIA_REQUEST_TIMED_OUT,
            ),
            (
                "NotFoundError",
                "Requested device not found",
                StartAudio,
                &registry::NO_MICROPHONE_FOUND,
            ),
            (
                "NotAllowedError",
                "Permission denied",
                StartAudio,
                &registry::MICROPHONE_PERMISSION_NOT_GRANTED,
            ),
            (
                "NotReadableError",
                "Could not start audio source",
                StartAudio,
                &registry::MICROPHONE_UNAVAILABLE,
            ),
            (
                "Whatever",
                "",
                StartVideo,
                &registry::START_VIDEO_UNKNOWN_FAILURE,
            ),
            (
                "NotAllowedError",
                "Permission denied",
                AskPermission,
                &registry::DEVICE_PERMISSION_DENIED,
            ),
            (
                "NotFoundError",
                "",
                AskPermission,
                &registry::DEVICE_PERMISSION_REQUEST_FAILED,
            ),
        ];
        for (name, message, operation, entry) in cases {
            assert_eq!(
                device_error_entry(name, message, operation).name,
                entry.name,
                "{name} {message}"
            );
        }
    }

    #[test]
    fn error_objects_carry_the_entry_in_the_chosen_locale() {
        let error = device_error("NotFoundError", "none", DeviceOperation::StartVideo);
        let en = error_object(&error, Locale::En);
        let fr = error_object(&error, Locale::Fr);
        assert_eq!(en["subCode"], 43013);
        assert_eq!(en["code"], 412);
        assert_eq!(en["name"], "NO_CAMERA_FOUND");
        assert_eq!(en["resultCategory"], "ExpectedError");
        assert_eq!(en["rawCause"], "NotFoundError: none");
        assert_ne!(en["message"], fr["message"]);
        assert_eq!(fr["advice"], registry::NO_CAMERA_FOUND.advice.fr);
    }

    #[test]
    fn explain_resolves_unknown_pairs_through_the_fallbacks() {
        let known = explain(487, 10003, Locale::Fr);
        assert_eq!(known["name"], "CALL_ACCEPTED_ELSEWHERE");
        let unknown = explain(487, 123_456, Locale::En);
        assert_eq!(unknown["subCode"], 123_456);
        assert!(!unknown["advice"].as_str().unwrap_or_default().is_empty());
    }
}

/// The error a rejected promise of this SDK carried ([`error_object`]'s fields), back as a
/// `CallingError`: by its name, else by its code pair; anything else is a client-side unknown.
pub fn error_from_object(object: &Value) -> CallingError {
    let entry = object["name"]
        .as_str()
        .and_then(appel_codes::by_name)
        .unwrap_or_else(|| {
            let code = object["code"].as_u64().unwrap_or(0) as u16;
            let subcode = object["subCode"].as_u64().unwrap_or(0) as u32;
            lookup(code, subcode).entry
        });
    let mut error = CallingError::new(entry);
    if let Some(raw) = object["rawCause"].as_str() {
        error = error.with_raw_cause(raw);
    }
    if let Some(context) = object["context"].as_str() {
        error = error.with_context(context);
    }
    error
}

/// The line a `deviceError` report carries: the entry's subcode and name, then its message.
pub fn device_report_detail(error: &CallingError) -> String {
    format!(
        "{} {}: {}",
        error.subcode().unwrap_or(0),
        error.name(),
        error.message(Locale::En)
    )
}

#[cfg(test)]
mod round_trip {
    use super::*;

    #[test]
    fn an_error_handed_to_javascript_comes_back_as_the_same_entry() {
        let sent = CallingError::new(&registry::MEDIA_SERVER_DISABLED).with_context("call c1");
        let back = error_from_object(&error_object(&sent, Locale::Fr));
        assert!(back.is(&registry::MEDIA_SERVER_DISABLED));
        assert_eq!(back.context(), Some("call c1"));
        // A thrown value that is no error of ours still maps to an entry, never a panic.
        let odd = error_from_object(&json!({"code": "x"}));
        assert_eq!(odd.code().0, lookup(0, 0).entry.code.0);
        let detail = device_report_detail(&CallingError::new(&registry::SWITCH_CAMERA_SAME_DEVICE));
        assert!(
            detail.starts_with("43005 SWITCH_CAMERA_SAME_DEVICE: "),
            "{detail}"
        );
    }
}

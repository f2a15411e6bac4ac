//! The largest value the REST API accepts for each field it stores or passes on. Every limit here is
//! repeated in the OpenAPI document (`maxLength`, `maxItems`) and in docs/protocol.md; a value over
//! its limit is refused with 400/900117 naming the field and the limit, before anything is stored.
//! The value itself is never echoed back: a refusal must not cost as much as the request.

use appel_codes::{registry, CallingError};

use super::problem::ApiError;

/// An identity, room, call, participant or subscription id (in a body or in the path).
pub const MAX_ID_CHARS: usize = 256;
/// A display name, in characters.
pub const MAX_NAME_CHARS: usize = 128;
/// Entries of a room's roster, in one request and in the stored roster.
pub const MAX_ROSTER_ENTRIES: usize = 1000;
/// A webhook receiver's URL.
pub const MAX_URL_CHARS: usize = 2048;
/// One event name of a webhook subscription (the list holds at most as many names as there are
/// event types).
pub const MAX_EVENT_CHARS: usize = 64;
/// A webhook subscription's secret.
pub const MAX_SECRET_CHARS: usize = 256;
/// Scopes asked for in a token request (the only scope is `voip`).
pub const MAX_SCOPES: usize = 8;
/// One scope's name.
pub const MAX_SCOPE_CHARS: usize = 64;
/// An RFC 3339 time (`validFrom`, `validUntil`, `since`, `until`).
pub const MAX_TIME_CHARS: usize = 64;
/// Headers of one request; hyper's own ceiling (100) stays above it as the last line.
pub const MAX_HEADER_COUNT: usize = 64;

/// Refuses a text longer than `max` characters (JSON Schema's `maxLength` counts characters).
pub fn text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().nth(max).is_some() {
        return Err(too_large(format!(
            "{field}: at most {max} characters (this one has {})",
            value.chars().count()
        )));
    }
    Ok(())
}

/// Refuses a list of more than `max` items.
pub fn items<T>(field: &str, list: &[T], max: usize) -> Result<(), ApiError> {
    if list.len() > max {
        return Err(too_large(format!(
            "{field}: at most {max} items (this one has {})",
            list.len()
        )));
    }
    Ok(())
}

/// 400/900117 with what is over which limit.
pub fn too_large(context: impl Into<String>) -> ApiError {
    CallingError::new(&registry::REQUEST_FIELD_TOO_LARGE)
        .with_context(context)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(result: Result<(), ApiError>) -> String {
        let error = result.expect_err("over the limit").0;
        assert!(error.is(&registry::REQUEST_FIELD_TOO_LARGE));
        error.context().unwrap_or_default().to_string()
    }

    #[test]
    fn text_limits_count_characters_and_name_the_field() {
        assert!(text("identity", &"é".repeat(256), 256).is_ok());
        let context = refused(text("identity", &"é".repeat(257), 256));
        assert!(context.starts_with("identity: at most 256 characters"));
        assert!(context.contains("257"));
    }

    #[test]
    fn list_limits_name_the_field_and_never_echo_the_items() {
        assert!(items("events", &[1, 2], 2).is_ok());
        let context = refused(items("events", &["secret-value"; 3], 2));
        assert_eq!(context, "events: at most 2 items (this one has 3)");
    }
}

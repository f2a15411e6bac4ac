//! The catalogue errors of operations that got no answer, the same in every shell.

use std::time::Duration;

use appel_codes::{registry, CallingError, Entry};

use crate::core::NoAnswer;

/// The error of an operation on a stopped endpoint (400/900400).
pub fn disposed(operation: &str) -> CallingError {
    CallingError::new(&registry::CALL_AGENT_DISPOSED).with_context(operation.to_string())
}

/// The error of a request that got no answer: `entry` (900401, 41033…) for a timeout or a dropped
/// connection, the disposed error when the endpoint stopped.
pub fn no_answer(
    entry: &'static Entry,
    why: NoAnswer,
    operation: &str,
    timeout: Duration,
) -> CallingError {
    match why {
        NoAnswer::Disposed => disposed(operation),
        NoAnswer::Timeout => CallingError::new(entry)
            .with_context(operation.to_string())
            .with_raw_cause(format!("no answer within {timeout:?}")),
        NoAnswer::ConnectionLost => CallingError::new(entry)
            .with_context(operation.to_string())
            .with_raw_cause("the signaling connection dropped before the answer"),
    }
}

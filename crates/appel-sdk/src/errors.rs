//! The catalogue errors of operations that got no answer.

use std::time::Duration;

use appel_codes::{registry, CallingError, Entry};

use crate::link::NoAnswer;

/// The error of an operation on a disposed agent.
pub(crate) fn disposed(operation: &str) -> CallingError {
    CallingError::new(&registry::CALL_AGENT_DISPOSED).with_context(operation.to_string())
}

/// The error of a request that got no answer: `entry` for a timeout or a dropped connection,
/// the disposed error when the agent went away.
pub(crate) fn no_answer(
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

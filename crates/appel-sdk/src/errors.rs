//! The catalogue errors of operations that got no answer: the protocol core's, shared by every
//! shell.

pub(crate) use appel_client::{disposed, no_answer};

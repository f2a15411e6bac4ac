//! Appel's result model and its catalogue of outcomes.
//!
//! Every outcome a developer meets in Appel — an SDK operation that fails, a call that ends — is one
//! [`Entry`] of this catalogue: a 3-digit [`Code`], a subcode naming the exact reason, a
//! [`ResultCategory`], a stable name, and a message and advice in English and French. Other crates
//! never invent error strings: they return a [`CallingError`] or a [`CallEndReason`] built from an
//! entry of [`registry`].
//!
//! ```
//! use appel_codes::{lookup, registry, Locale, ResultCategory};
//!
//! let answer = lookup(487, 10003);
//! assert_eq!(answer.entry.name, "CALL_ACCEPTED_ELSEWHERE");
//! assert_eq!(answer.entry.category, ResultCategory::Success);
//! assert!(std::ptr::eq(answer.entry, &registry::CALL_ACCEPTED_ELSEWHERE));
//! assert!(!answer.entry.advice(Locale::Fr).is_empty());
//! ```
//!
//! # End-user texts
//! The message and advice are written for developers. [`end_user_texts`] gives, for every call-end
//! entry, short texts for the person who sees the end, from each point of view it can be seen from
//! ([`Viewer`]: the one who ended it, the other party, the caller, a callee), with `{name}` for the
//! other party's name.
//!
//! # Lookup
//! [`lookup`] resolves a `(code, subCode)` pair in this order: the exact pair; the subcode under any
//! code; the code-only entry of the code; the generic entry of the code's class. It never fails, so an
//! unknown pair still gets a category, a message and advice in both languages.
//!
//! # Where the entries come from
//! The SDK errors (45), call-end reasons (37) and code-only fallbacks (19) carry the numbers and
//! categories of the reference system's table of calling codes; the texts are Appel's own. Appel adds
//! entries with subcodes 900000–999999 and six class fallbacks. Subcodes 540000–540999 and
//! 560000–560999 are PSTN pass-through ranges whose last three digits are the SIP status the trunk sent.
//!
//! # How the reference document was normalised
//! - "5 000" (a space as thousands separator) is subcode 5000, and "5,317" is subcode 5317.
//! - "UnxpectedClientError" is [`ResultCategory::UnexpectedClientError`].
//! - The French words "Succès", "Réussite" and "Opération réussie" are all [`ResultCategory::Success`].
//! - The code-only rows "490, 491, 496, 497, 498" and "500, 503, 504" are one entry per code; the
//!   document lists 490–498 twice with different advice and 500 only in its second copy.
//! - The document gives code-only rows no category. Appel's choice: 404, 480, 487, 600, 603, 604 and
//!   606 are `ExpectedError`; 408, 410, 430 and 490–498 are `UnexpectedClientError`; 481, 500, 503
//!   and 504 are `UnexpectedServerError`.
//! - Rows whose category sits on the next line (a line break inside the table) are read as one row.
//! - Advice left empty by the document is written for every entry.

mod end_user;
mod error;
mod lookup;
mod model;
mod reason;
pub mod registry;

pub use end_user::{end_user_text, end_user_texts, EndUserText, Viewer, NAME_PLACEHOLDER};
pub use error::CallingError;
pub use lookup::{
    by_name, by_subcode, class_fallback, exact, lookup, lookup_code, Match, Resolution,
};
pub use model::{Code, CodeClass, Entry, Locale, ResultCategory, Scope, Text};
pub use reason::CallEndReason;

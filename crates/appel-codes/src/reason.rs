//! The reason a call or a leg ended, as carried on the wire and stored in records.

use std::fmt;

use crate::lookup::{lookup, Resolution};
use crate::model::{Entry, Locale, ResultCategory};

/// A call-end reason: the pair the server sends and the SDK exposes as `callEndReason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallEndReason {
    /// The 3-digit status; `0` for a normal end.
    pub code: u16,
    /// The exact reason; `0` when the code alone says it.
    #[serde(rename = "subCode")]
    pub subcode: u32,
}

impl CallEndReason {
    /// A reason from its two numbers.
    pub const fn new(code: u16, subcode: u32) -> Self {
        CallEndReason { code, subcode }
    }

    /// The reason an entry stands for (a code-only entry gives subcode 0).
    pub const fn of(entry: &Entry) -> Self {
        CallEndReason {
            code: entry.code.0,
            subcode: match entry.subcode {
                Some(sub) => sub,
                None => 0,
            },
        }
    }

    /// The catalogue entry that explains this reason (never fails; see [`lookup`]).
    pub fn entry(&self) -> &'static Entry {
        self.resolve().entry
    }

    /// The full lookup result, including how the entry was found.
    pub fn resolve(&self) -> Resolution {
        lookup(self.code, self.subcode)
    }

    /// The category of the outcome.
    pub fn category(&self) -> ResultCategory {
        self.entry().category
    }

    /// A readable explanation: `487/10004 ExpectedError: message Advice: advice`.
    pub fn explain(&self, locale: Locale) -> String {
        let entry = self.entry();
        let advice_label = match locale {
            Locale::En => "Advice:",
            Locale::Fr => "Conseil :",
        };
        format!(
            "{self} {}: {} {advice_label} {}",
            entry.category,
            entry.message(locale),
            entry.advice(locale)
        )
    }
}

/// `code/subCode`, as the docs write end reasons (`487/10004`).
impl fmt::Display for CallEndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.code, self.subcode)
    }
}

impl From<&Entry> for CallEndReason {
    fn from(entry: &Entry) -> Self {
        CallEndReason::of(entry)
    }
}

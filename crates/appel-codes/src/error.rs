//! The error every failing Appel operation returns.

use std::fmt;

use crate::lookup::{lookup, lookup_code, Resolution};
use crate::model::{Code, Entry, Locale, ResultCategory};
use crate::reason::CallEndReason;

/// An outcome that is an error: the catalogue entry, the pair that was reported (which may be more
/// precise than a fallback entry), the protocol's own cause, and what the operation was acting on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallingError {
    resolution: Resolution,
    raw_cause: Option<String>,
    context: Option<String>,
}

impl CallingError {
    /// The error an entry stands for.
    pub fn new(entry: &'static Entry) -> Self {
        CallingError {
            resolution: Resolution {
                code: entry.code,
                subcode: entry.subcode,
                entry,
                matched: crate::Match::Exact,
            },
            raw_cause: None,
            context: None,
        }
    }

    /// The error for a pair received from elsewhere (a server frame, a problem document). Unknown
    /// pairs keep their numbers and get the fallback entry's category and text.
    pub fn from_pair(code: u16, subcode: Option<u32>) -> Self {
        let resolution = match subcode {
            Some(sub) => lookup(code, sub),
            None => lookup_code(code),
        };
        CallingError {
            resolution,
            raw_cause: None,
            context: None,
        }
    }

    /// The error for a call-end reason (for example a call that ended before an operation completed).
    pub fn from_reason(reason: CallEndReason) -> Self {
        Self::from_pair(reason.code, Some(reason.subcode))
    }

    /// Keeps the protocol's own cause verbatim (an HTTP status, an ICE state, an I/O error kind).
    pub fn with_raw_cause(mut self, raw_cause: impl Into<String>) -> Self {
        self.raw_cause = Some(raw_cause.into());
        self
    }

    /// Says what the failing operation was acting on (an argument name, a call id).
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// The catalogue entry that explains the error.
    pub fn entry(&self) -> &'static Entry {
        self.resolution.entry
    }

    /// The reported code.
    pub fn code(&self) -> Code {
        self.resolution.code
    }

    /// The reported subcode (`None` for a code-only error).
    pub fn subcode(&self) -> Option<u32> {
        self.resolution.subcode
    }

    /// The category of the error.
    pub fn category(&self) -> ResultCategory {
        self.entry().category
    }

    /// The entry's stable name.
    pub fn name(&self) -> &'static str {
        self.entry().name
    }

    /// Whether retrying the same operation can succeed.
    pub fn retryable(&self) -> bool {
        self.entry().retryable
    }

    /// What happened, in `locale`.
    pub fn message(&self, locale: Locale) -> &'static str {
        self.entry().message(locale)
    }

    /// What to do about it, in `locale`.
    pub fn advice(&self, locale: Locale) -> &'static str {
        self.entry().advice(locale)
    }

    /// The protocol's own cause, if one was kept.
    pub fn raw_cause(&self) -> Option<&str> {
        self.raw_cause.as_deref()
    }

    /// What the operation was acting on, if said.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// Whether this error is the given entry.
    pub fn is(&self, entry: &Entry) -> bool {
        self.code() == entry.code && self.subcode() == entry.subcode
    }

    /// The same error as a call-end reason (subcode 0 for code-only errors).
    pub fn as_reason(&self) -> CallEndReason {
        CallEndReason::new(self.code().0, self.subcode().unwrap_or(0))
    }

    /// The readable text in `locale`: `subCode/code Category: message (context) [raw cause]`.
    pub fn describe(&self, locale: Locale) -> String {
        let mut text = match self.subcode() {
            Some(sub) => format!("{sub}/{}", self.code()),
            None => self.code().to_string(),
        };
        text.push_str(&format!(" {}: {}", self.category(), self.message(locale)));
        if let Some(context) = &self.context {
            text.push_str(&format!(" ({context})"));
        }
        if let Some(raw) = &self.raw_cause {
            text.push_str(&format!(" [{raw}]"));
        }
        text
    }
}

/// `41006/400 ExpectedError: message (context) [raw cause]`, in English; subcode first, as the
/// source document's SDK table reads.
impl fmt::Display for CallingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(Locale::En))
    }
}

impl std::error::Error for CallingError {}

impl From<&'static Entry> for CallingError {
    fn from(entry: &'static Entry) -> Self {
        CallingError::new(entry)
    }
}

/// The wire form: the pair, the resolved facts in English, and the optional cause and context.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireError {
    code: u16,
    sub_code: Option<u32>,
    #[serde(default, skip_deserializing)]
    result_category: Option<ResultCategory>,
    #[serde(default, skip_deserializing)]
    name: Option<&'static str>,
    #[serde(default, skip_deserializing)]
    message: Option<&'static str>,
    #[serde(default, skip_deserializing)]
    advice: Option<&'static str>,
    #[serde(default, skip_deserializing)]
    retryable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    raw_cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<String>,
}

impl serde::Serialize for CallingError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireError {
            code: self.code().0,
            sub_code: self.subcode(),
            result_category: Some(self.category()),
            name: Some(self.name()),
            message: Some(self.message(Locale::En)),
            advice: Some(self.advice(Locale::En)),
            retryable: Some(self.retryable()),
            raw_cause: self.raw_cause.clone(),
            context: self.context.clone(),
        }
        .serialize(serializer)
    }
}

/// Reads only the pair, the cause and the context: category and text come from this side's catalogue,
/// so a peer cannot make an entry say something else.
impl<'de> serde::Deserialize<'de> for CallingError {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireError::deserialize(deserializer)?;
        let mut error = CallingError::from_pair(wire.code, wire.sub_code);
        error.raw_cause = wire.raw_cause;
        error.context = wire.context;
        Ok(error)
    }
}

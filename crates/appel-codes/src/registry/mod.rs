//! The catalogue itself: every entry, as static data.
//!
//! Each file holds one list, sorted by subcode (code-only entries by code) so that lookup is a binary
//! search; a test keeps the order. The entries are public statics so that other crates name the
//! outcome they produce (`appel_codes::registry::CALL_ACCEPTED_ELSEWHERE`) instead of repeating numbers.

/// Declares the entries of one list: a `pub static` per entry and a slice of them all, in order.
macro_rules! entries {
    (
        $list:ident;
        $(
            $name:ident = $scope:ident($code:literal, $sub:expr, $cat:ident, retryable: $retry:literal) {
                en: $en_msg:literal => $en_adv:literal,
                fr: $fr_msg:literal => $fr_adv:literal $(,)?
            }
        )*
    ) => {
        $(
            #[doc = $en_msg]
            pub static $name: $crate::Entry = $crate::Entry {
                code: $crate::Code($code),
                subcode: $sub,
                name: stringify!($name),
                category: $crate::ResultCategory::$cat,
                scope: $crate::Scope::$scope,
                retryable: $retry,
                message: $crate::Text { en: $en_msg, fr: $fr_msg },
                advice: $crate::Text { en: $en_adv, fr: $fr_adv },
            };
        )*
        /// Every entry of this list, in lookup order.
        pub(crate) static $list: &[&$crate::Entry] = &[$(&$name),*];
    };
}

mod additions;
mod call_end;
mod code_only;
mod fallbacks;
mod sdk;

pub use additions::*;
pub use call_end::*;
pub use code_only::*;
pub use fallbacks::*;
pub use sdk::*;

pub(crate) use additions::ADDITIONS;
pub(crate) use call_end::CALL_END;
pub(crate) use code_only::CODE_ONLY;
pub(crate) use fallbacks::FALLBACKS;
pub(crate) use sdk::SDK;

/// Every entry of the catalogue: SDK errors, call-end reasons, code-only fallbacks, Appel's additions
/// and the class fallbacks, in that order.
pub fn all() -> impl Iterator<Item = &'static crate::Entry> {
    SDK.iter()
        .chain(CALL_END)
        .chain(CODE_ONLY)
        .chain(ADDITIONS)
        .chain(FALLBACKS)
        .copied()
}

/// The entries transcribed from the source document (SDK errors, call-end reasons, code-only fallbacks).
pub fn seed() -> impl Iterator<Item = &'static crate::Entry> {
    SDK.iter().chain(CALL_END).chain(CODE_ONLY).copied()
}

/// Appel's own entries (subcodes 900000–999999), which the source document lacks.
pub fn additions() -> impl Iterator<Item = &'static crate::Entry> {
    ADDITIONS.iter().copied()
}

/// The generic entries used when neither the pair, the subcode nor the code is known.
pub fn class_fallbacks() -> impl Iterator<Item = &'static crate::Entry> {
    FALLBACKS.iter().copied()
}

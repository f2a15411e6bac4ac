//! The catalogue itself: every entry, as static data.
//!
//! Each file holds one list, sorted by subcode (code-only entries by code) so that lookup is a binary
//! search; a test keeps the order. The entries are public statics so that other crates name the
//! outcome they produce (`appel_codes::registry::CALL_ACCEPTED_ELSEWHERE`) instead of repeating numbers.

/// Declares the entries of one list: a `pub static` per entry, a slice of them all in order, and an
/// `index` module whose lookups are `match` expressions, which the compiler turns into decision trees.
macro_rules! entries {
    (
        $list:ident;
        $(
            $name:ident = $scope:ident($code:literal, Some($sub:literal), $cat:ident, retryable: $retry:literal) {
                en: $en_msg:literal => $en_adv:literal,
                fr: $fr_msg:literal => $fr_adv:literal $(,)?
            }
        )*
    ) => {
        entries!(@statics $list; $($name = $scope($code, Some($sub), $cat, $retry, $en_msg, $en_adv, $fr_msg, $fr_adv);)*);

        pub(crate) mod index {
            use super::*;

            /// The entry with exactly this pair.
            #[allow(unreachable_patterns)]
            pub(crate) fn exact(code: u16, subcode: u32) -> Option<&'static $crate::Entry> {
                match (code, subcode) {
                    $(($code, $sub) => Some(&$name),)*
                    _ => None,
                }
            }

            /// The first entry with this subcode (subcode 0 is shared and never asked for alone).
            #[allow(unreachable_patterns)]
            pub(crate) fn by_subcode(subcode: u32) -> Option<&'static $crate::Entry> {
                match subcode {
                    $($sub => Some(&$name),)*
                    _ => None,
                }
            }
        }
    };
    (
        $list:ident;
        $(
            $name:ident = $scope:ident($code:literal, None, $cat:ident, retryable: $retry:literal) {
                en: $en_msg:literal => $en_adv:literal,
                fr: $fr_msg:literal => $fr_adv:literal $(,)?
            }
        )*
    ) => {
        entries!(@statics $list; $($name = $scope($code, None, $cat, $retry, $en_msg, $en_adv, $fr_msg, $fr_adv);)*);

        pub(crate) mod index {
            use super::*;

            /// The code-only entry of this code. (Unused for the class fallbacks, which are reached by
            /// class rather than by code.)
            #[allow(dead_code)]
            pub(crate) fn by_code(code: u16) -> Option<&'static $crate::Entry> {
                match code {
                    $($code => Some(&$name),)*
                    _ => None,
                }
            }
        }
    };
    (
        @statics $list:ident;
        $($name:ident = $scope:ident($code:literal, $sub:expr, $cat:ident, $retry:literal, $en_msg:literal, $en_adv:literal, $fr_msg:literal, $fr_adv:literal);)*
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
        /// Every entry of this list, in order.
        pub(crate) static $list: &[&$crate::Entry] = &[$(&$name),*];
    };
}

pub(crate) mod additions;
pub(crate) mod call_end;
pub(crate) mod code_only;
pub(crate) mod fallbacks;
pub(crate) mod sdk;

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

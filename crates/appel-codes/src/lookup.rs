//! Finding the entry for a `(code, subCode)` pair, as behaviour.md §1 orders it.

use crate::model::{Code, CodeClass, Entry};
use crate::registry::{self, ADDITIONS, CALL_END, CODE_ONLY, SDK};

/// How a [`Resolution`] found its entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Match {
    /// Both code and subcode matched an entry.
    Exact,
    /// The subcode matched an entry listed with another code.
    Subcode,
    /// Only the code matched a code-only entry.
    CodeOnly,
    /// Nothing matched; the generic entry of the code's class was used.
    Class,
}

/// The answer to a lookup: the pair asked for, the entry that explains it, and how it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The code asked for.
    pub code: Code,
    /// The subcode asked for (`None` when only a code was given).
    pub subcode: Option<u32>,
    /// The entry whose category and text apply.
    pub entry: &'static Entry,
    /// Which rule found it.
    pub matched: Match,
}

/// Resolves a `(code, subCode)` pair: exact pair, then the subcode under any code, then the code-only
/// entry, then the generic entry of the code's class. Never fails.
///
/// Subcode `0` means "the code alone says it", so it is never matched on its own: `(0, 0)`, `(487, 0)`
/// and `(603, 0)` are exact entries, and `(408, 0)` falls to the code-only 408.
pub fn lookup(code: u16, subcode: u32) -> Resolution {
    let resolution = |entry, matched| Resolution {
        code: Code(code),
        subcode: Some(subcode),
        entry,
        matched,
    };
    if let Some(entry) = find_subcoded(code, subcode) {
        return resolution(entry, Match::Exact);
    }
    if subcode != 0 {
        if let Some(entry) = find_by_subcode(subcode) {
            return resolution(entry, Match::Subcode);
        }
    }
    match find_code_only(code) {
        Some(entry) => resolution(entry, Match::CodeOnly),
        None => resolution(class_fallback(Code(code)), Match::Class),
    }
}

/// Resolves a code given without a subcode: the code-only entry, else the class fallback.
pub fn lookup_code(code: u16) -> Resolution {
    let (entry, matched) = match find_code_only(code) {
        Some(entry) => (entry, Match::CodeOnly),
        None => (class_fallback(Code(code)), Match::Class),
    };
    Resolution {
        code: Code(code),
        subcode: None,
        entry,
        matched,
    }
}

/// The entry with exactly this code and subcode.
pub fn exact(code: u16, subcode: u32) -> Option<&'static Entry> {
    find_subcoded(code, subcode)
}

/// The entries listed with this subcode (several only for subcode 0).
pub fn by_subcode(subcode: u32) -> impl Iterator<Item = &'static Entry> {
    registry::all().filter(move |e| e.subcode == Some(subcode))
}

/// The entry with this stable name, e.g. `CALL_ACCEPTED_ELSEWHERE`.
pub fn by_name(name: &str) -> Option<&'static Entry> {
    registry::all().find(|e| e.name == name)
}

/// The generic entry for a code's class.
pub fn class_fallback(code: Code) -> &'static Entry {
    match code.class() {
        CodeClass::NormalEnd => &registry::UNKNOWN_NORMAL_END,
        CodeClass::Success => &registry::UNKNOWN_SUCCESS,
        CodeClass::Client => &registry::UNKNOWN_CLIENT_ERROR,
        CodeClass::Server => &registry::UNKNOWN_SERVER_ERROR,
        CodeClass::Global => &registry::UNKNOWN_GLOBAL_FAILURE,
        CodeClass::Other => &registry::UNRECOGNISED_CODE,
    }
}

/// Lists sorted by `(subcode, code)`; each search is a binary search.
const SUBCODED: [&[&Entry]; 3] = [CALL_END, SDK, ADDITIONS];

fn key(entry: &Entry) -> (u32, u16) {
    (entry.subcode.unwrap_or(0), entry.code.0)
}

fn find_subcoded(code: u16, subcode: u32) -> Option<&'static Entry> {
    SUBCODED.iter().find_map(|list| {
        list.binary_search_by(|e| key(e).cmp(&(subcode, code)))
            .ok()
            .map(|i| list[i])
    })
}

fn find_by_subcode(subcode: u32) -> Option<&'static Entry> {
    SUBCODED.iter().find_map(|list| {
        let i = list.partition_point(|e| key(e).0 < subcode);
        list.get(i).copied().filter(|e| e.subcode == Some(subcode))
    })
}

fn find_code_only(code: u16) -> Option<&'static Entry> {
    CODE_ONLY
        .binary_search_by(|e| e.code.0.cmp(&code))
        .ok()
        .map(|i| CODE_ONLY[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_for_binary_search() {
        for list in SUBCODED {
            assert!(list.windows(2).all(|w| key(w[0]) < key(w[1])));
            assert!(list.iter().all(|e| e.subcode.is_some()));
        }
        assert!(CODE_ONLY.windows(2).all(|w| w[0].code < w[1].code));
    }
}

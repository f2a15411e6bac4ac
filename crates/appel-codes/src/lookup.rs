//! Finding the entry for a `(code, subCode)` pair, as docs/architecture.md, "The catalogue is the single source" orders it.

use crate::model::{Code, CodeClass, Entry};
use crate::registry;
#[cfg(test)]
use crate::registry::{ADDITIONS, CALL_END, CODE_ONLY, SDK};

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

/// The list a subcode belongs to: SDK errors use 40000–49999, Appel's additions 900000–999999, and
/// call-end reasons the rest.
fn list_of(subcode: u32) -> Subcoded {
    match subcode {
        40_000..=49_999 => Subcoded::Sdk,
        900_000..=999_999 => Subcoded::Additions,
        _ => Subcoded::CallEnd,
    }
}

enum Subcoded {
    Sdk,
    CallEnd,
    Additions,
}

fn find_subcoded(code: u16, subcode: u32) -> Option<&'static Entry> {
    match list_of(subcode) {
        Subcoded::Sdk => registry::sdk::index::exact(code, subcode),
        Subcoded::CallEnd => registry::call_end::index::exact(code, subcode),
        Subcoded::Additions => registry::additions::index::exact(code, subcode),
    }
}

fn find_by_subcode(subcode: u32) -> Option<&'static Entry> {
    match list_of(subcode) {
        Subcoded::Sdk => registry::sdk::index::by_subcode(subcode),
        Subcoded::CallEnd => registry::call_end::index::by_subcode(subcode),
        Subcoded::Additions => registry::additions::index::by_subcode(subcode),
    }
}

fn find_code_only(code: u16) -> Option<&'static Entry> {
    registry::code_only::index::by_code(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index functions are generated from the same lists; each entry must be found by its own
    /// pair, and each list must hold the subcodes its range says.
    #[test]
    fn every_entry_is_found_in_its_list() {
        for (list, kind) in [
            (SDK, "sdk"),
            (CALL_END, "callEnd"),
            (ADDITIONS, "additions"),
        ] {
            for entry in list.iter() {
                let sub = entry.subcode.expect("subcoded lists hold subcodes");
                let expected = match list_of(sub) {
                    Subcoded::Sdk => "sdk",
                    Subcoded::CallEnd => "callEnd",
                    Subcoded::Additions => "additions",
                };
                assert_eq!(expected, kind, "{} is in the wrong list", entry.name);
                assert!(std::ptr::eq(
                    find_subcoded(entry.code.0, sub).unwrap(),
                    *entry
                ));
            }
        }
        for entry in CODE_ONLY.iter() {
            assert!(std::ptr::eq(find_code_only(entry.code.0).unwrap(), *entry));
        }
    }

    #[test]
    fn lists_are_sorted_as_the_docs_show_them() {
        let key = |e: &Entry| (e.subcode.unwrap_or(0), e.code.0);
        for list in [SDK, CALL_END, ADDITIONS] {
            assert!(list.windows(2).all(|w| key(w[0]) < key(w[1])));
        }
        assert!(CODE_ONLY.windows(2).all(|w| w[0].code < w[1].code));
    }
}

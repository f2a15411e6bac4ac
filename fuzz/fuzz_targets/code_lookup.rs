//! Every `(code, subCode)` pair a peer may send: in a server frame's error, in a call-end reason, in
//! a problem document, or typed into `appel explain`.
//!
//! The indexed lookup is checked against a plain scan of the whole catalogue, rule by rule, so a
//! wrong index, a wrong range split or a wrong fallback shows up as a mismatch, not only as a panic.
#![no_main]

use appel_codes::{
    class_fallback, lookup, lookup_code, registry, CallEndReason, CallingError, Code, Entry,
    Locale, Match,
};
use libfuzzer_sys::fuzz_target;

fn scan(pred: impl Fn(&Entry) -> bool) -> Option<&'static Entry> {
    registry::all().find(|e| pred(e))
}

fn texts_are_whole(entry: &Entry) {
    for locale in [Locale::En, Locale::Fr] {
        assert!(!entry.message(locale).is_empty(), "{}", entry.name);
        assert!(!entry.advice(locale).is_empty(), "{}", entry.name);
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let code = u16::from_le_bytes([data[0], data[1]]);
    let subcode = u32::from_le_bytes([data[2], data[3], data[4], data[5]]);
    let asked = Code(code);

    let found = lookup(code, subcode);
    assert_eq!(found.code, asked);
    assert_eq!(found.subcode, Some(subcode));
    texts_are_whole(found.entry);

    let exact = scan(|e| e.code == asked && e.subcode == Some(subcode));
    let by_subcode = (subcode != 0)
        .then(|| scan(|e| e.subcode == Some(subcode)))
        .flatten();
    // The generic entries of each class are code-only too, but they are the fallback, not a match.
    let code_only = scan(|e| {
        e.code == asked && e.subcode.is_none() && !std::ptr::eq(e, class_fallback(e.code))
    });
    match found.matched {
        Match::Exact => {
            assert!(std::ptr::eq(
                found.entry,
                exact.expect("an exact entry exists")
            ));
        }
        Match::Subcode => {
            assert!(exact.is_none());
            assert_eq!(found.entry.subcode, Some(subcode));
            assert!(by_subcode.is_some());
        }
        Match::CodeOnly => {
            assert!(exact.is_none() && by_subcode.is_none());
            assert!(std::ptr::eq(
                found.entry,
                code_only.expect("a code-only entry exists")
            ));
        }
        Match::Class => {
            assert!(exact.is_none() && by_subcode.is_none() && code_only.is_none());
            assert!(std::ptr::eq(found.entry, class_fallback(asked)));
        }
    }
    // Every rule but the subcode rule answers from the code's own class; the subcode rule keeps
    // the code asked for and borrows the text of the entry that owns the subcode.
    if found.matched != Match::Subcode {
        assert_eq!(found.entry.code.class(), asked.class(), "{code}/{subcode}");
    }

    let alone = lookup_code(code);
    assert_eq!(alone.subcode, None);
    assert_eq!(alone.entry.code.class(), asked.class());
    match code_only {
        Some(entry) => {
            assert!(std::ptr::eq(alone.entry, entry) && alone.matched == Match::CodeOnly)
        }
        None => assert!(std::ptr::eq(alone.entry, class_fallback(asked))),
    }

    // The other ways in resolve to the same entry, and an error sent and read back keeps its pair.
    let reason = CallEndReason::new(code, subcode);
    assert!(std::ptr::eq(reason.entry(), found.entry));
    let error = CallingError::from_pair(code, Some(subcode));
    assert!(std::ptr::eq(error.entry(), found.entry));
    let json = serde_json::to_string(&error).expect("an error serializes");
    let read: CallingError = serde_json::from_str(&json).expect("and reads back");
    assert_eq!(read, error);
    assert_eq!((read.code(), read.subcode()), (asked, Some(subcode)));
});

//! The catalogue against the reference document's facts, and the rules every entry must follow.

use std::collections::HashSet;

use appel_codes::{
    by_name, lookup, lookup_code, registry, CallEndReason, CallingError, Code, CodeClass, Locale,
    Match, ResultCategory, Scope,
};
use proptest::prelude::*;

const SEED: &str = include_str!("facts/seed.tsv");
const CODE_ONLY: &str = include_str!("facts/code-only.txt");

fn facts(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').collect())
}

#[test]
fn subcoded_entries_match_the_reference_document_exactly() {
    let mut expected = HashSet::new();
    for fact in facts(SEED) {
        let sub: u32 = fact[0].parse().unwrap();
        let code: u16 = fact[1].parse().unwrap();
        let category = ResultCategory::parse(fact[2]).unwrap();
        expected.insert((sub, code, category));
    }
    assert_eq!(expected.len(), 82);
    let actual: HashSet<_> = registry::seed()
        .filter(|e| e.scope != Scope::CodeOnly)
        .map(|e| (e.subcode.unwrap(), e.code.0, e.category))
        .collect();
    assert_eq!(actual, expected);
    assert_eq!(
        registry::seed().filter(|e| e.scope == Scope::Sdk).count(),
        45
    );
    assert_eq!(
        registry::seed()
            .filter(|e| e.scope == Scope::CallEnd)
            .count(),
        37
    );
}

#[test]
fn code_only_entries_match_the_reference_document_and_have_no_subcode() {
    let expected: HashSet<u16> = CODE_ONLY
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(expected.len(), 19);
    let actual: HashSet<u16> = registry::seed()
        .filter(|e| e.scope == Scope::CodeOnly)
        .inspect(|e| assert_eq!(e.subcode, None, "{}", e.name))
        .map(|e| e.code.0)
        .collect();
    assert_eq!(actual, expected);
}

#[test]
fn names_are_unique_screaming_snake_and_pairs_are_unique() {
    let mut names = HashSet::new();
    let mut pairs = HashSet::new();
    for entry in registry::all() {
        assert!(names.insert(entry.name), "duplicate name {}", entry.name);
        assert!(
            entry
                .name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
            "{} is not SCREAMING_SNAKE",
            entry.name
        );
        assert!(
            pairs.insert((entry.code, entry.subcode)),
            "duplicate pair {}",
            entry.key()
        );
        assert!(std::ptr::eq(by_name(entry.name).unwrap(), entry));
    }
}

#[test]
fn nonzero_subcodes_name_one_entry_each() {
    let mut seen = HashSet::new();
    for entry in registry::all() {
        if let Some(sub) = entry.subcode.filter(|s| *s != 0) {
            assert!(seen.insert(sub), "subcode {sub} is used twice");
        }
    }
}

#[test]
fn every_entry_has_text_and_advice_in_both_languages() {
    for entry in registry::all() {
        for locale in Locale::ALL {
            for text in [entry.message(locale), entry.advice(locale)] {
                assert!(
                    text.trim().len() > 10 && !text.contains("TODO"),
                    "{} lacks text in {locale:?}",
                    entry.name
                );
            }
        }
        assert_ne!(
            entry.message.en, entry.message.fr,
            "{} is untranslated",
            entry.name
        );
        assert_ne!(
            entry.advice.en, entry.advice.fr,
            "{} is untranslated",
            entry.name
        );
    }
}

#[test]
fn texts_speak_of_appel_alone() {
    let foreign = [
        "azure",
        "microsoft",
        "teams",
        "acs ",
        "graph api",
        "call automation",
    ];
    for entry in registry::all() {
        for locale in Locale::ALL {
            let text = format!("{} {}", entry.message(locale), entry.advice(locale)).to_lowercase();
            for word in foreign {
                assert!(!text.contains(word), "{} mentions {word}", entry.name);
            }
        }
    }
}

#[test]
fn subcode_ranges_follow_the_rules() {
    for entry in registry::all() {
        let Some(sub) = entry.subcode else { continue };
        match sub {
            540_000..=540_999 | 560_000..=560_999 => {
                let sip = (sub % 1000) as u16;
                assert!(
                    sip == 0 || sip == entry.code.0,
                    "{}: PSTN pass-through subcode must end in its SIP status",
                    entry.name
                );
            }
            900_000..=999_999 => assert!(
                registry::additions().any(|a| std::ptr::eq(a, entry)),
                "{} uses the additions range outside additions.rs",
                entry.name
            ),
            _ => assert!(
                !registry::additions().any(|a| std::ptr::eq(a, entry)),
                "addition {} must use 900000–999999",
                entry.name
            ),
        }
        if entry.scope == Scope::Sdk && sub < 900_000 {
            assert!((40_000..50_000).contains(&sub), "{}", entry.name);
        }
    }
}

#[test]
fn categories_belong_to_entries_not_codes() {
    assert_eq!(lookup(486, 560_486).entry.category, ResultCategory::Success);
    assert_eq!(
        lookup(400, 41_016).entry.category,
        ResultCategory::UnexpectedClientError
    );
    assert_eq!(
        lookup(400, 41_006).entry.category,
        ResultCategory::ExpectedError
    );
}

#[test]
fn lookup_prefers_exact_then_subcode_then_code_then_class() {
    let exact = lookup(487, 10_004);
    assert_eq!(
        (exact.entry.name, exact.matched),
        ("RINGING_TIMEOUT", Match::Exact)
    );

    let by_sub = lookup(500, 10_004);
    assert_eq!(
        (by_sub.entry.name, by_sub.matched),
        ("RINGING_TIMEOUT", Match::Subcode)
    );
    assert_eq!((by_sub.code, by_sub.subcode), (Code(500), Some(10_004)));

    let by_code = lookup(487, 99_999);
    assert_eq!(
        (by_code.entry.name, by_code.matched),
        ("CALL_CANCELLED", Match::CodeOnly)
    );

    let class = lookup(499, 99_999);
    assert_eq!(
        (class.entry.name, class.matched),
        ("UNKNOWN_CLIENT_ERROR", Match::Class)
    );
}

#[test]
fn subcode_zero_is_never_matched_alone() {
    assert_eq!(lookup(0, 0).entry.name, "CALL_ENDED_LOCALLY");
    assert_eq!(lookup(487, 0).entry.name, "CALL_CANCELLED_BY_CALLER");
    assert_eq!(lookup(603, 0).entry.name, "CALL_DECLINED");
    let timeout = lookup(408, 0);
    assert_eq!(
        (timeout.entry.name, timeout.matched),
        ("CONTROLLER_TIMEOUT", Match::CodeOnly)
    );
    assert_eq!(lookup_code(487).entry.name, "CALL_CANCELLED");
}

#[test]
fn unknown_pairs_fall_back_to_their_class() {
    let cases = [
        (0, 77, "UNKNOWN_NORMAL_END", CodeClass::NormalEnd),
        (201, 77, "UNKNOWN_SUCCESS", CodeClass::Success),
        (499, 77, "UNKNOWN_CLIENT_ERROR", CodeClass::Client),
        (599, 77, "UNKNOWN_SERVER_ERROR", CodeClass::Server),
        (699, 77, "UNKNOWN_GLOBAL_FAILURE", CodeClass::Global),
        (700, 77, "UNRECOGNISED_CODE", CodeClass::Other),
        (150, 77, "UNRECOGNISED_CODE", CodeClass::Other),
    ];
    for (code, sub, name, class) in cases {
        assert_eq!(Code(code).class(), class);
        let answer = lookup(code, sub);
        assert_eq!((answer.entry.name, answer.matched), (name, Match::Class));
    }
}

#[test]
fn calling_errors_display_and_travel_as_json() {
    let error = CallingError::new(&registry::ACCEPT_NOT_RINGING).with_context("call 42");
    let shown = error.to_string();
    assert!(shown.starts_with("41006/400 ExpectedError: "), "{shown}");
    assert!(shown.ends_with("(call 42)"), "{shown}");

    let json = serde_json::to_value(&error).unwrap();
    assert_eq!(json["code"], 400);
    assert_eq!(json["subCode"], 41006);
    assert_eq!(json["resultCategory"], "ExpectedError");
    assert_eq!(json["name"], "ACCEPT_NOT_RINGING");
    assert_eq!(json["retryable"], false);
    assert!(json.get("rawCause").is_none());

    let back: CallingError = serde_json::from_value(json).unwrap();
    assert_eq!(back, error);

    let forged = serde_json::json!({"code": 400, "subCode": 41006, "message": "forged"});
    let read: CallingError = serde_json::from_value(forged).unwrap();
    assert_eq!(
        read.message(Locale::En),
        registry::ACCEPT_NOT_RINGING.message.en
    );

    let unknown: CallingError =
        serde_json::from_value(serde_json::json!({"code": 503, "subCode": 123, "rawCause": "x"}))
            .unwrap();
    assert_eq!((unknown.code(), unknown.subcode()), (Code(503), Some(123)));
    assert_eq!(unknown.name(), "SERVICE_UNAVAILABLE");
    assert_eq!(unknown.raw_cause(), Some("x"));
}

#[test]
fn code_only_entries_serialize_a_null_subcode() {
    let json = serde_json::to_value(&registry::CALL_CANCELLED).unwrap();
    assert!(json["subCode"].is_null());
    assert_eq!(json["scope"], "codeOnly");
    assert!(json["message"]["fr"].as_str().unwrap().len() > 10);
    let reason =
        serde_json::to_value(CallEndReason::of(&registry::CALL_ACCEPTED_ELSEWHERE)).unwrap();
    assert_eq!(reason, serde_json::json!({"code": 487, "subCode": 10003}));
}

#[test]
fn end_reasons_explain_themselves_in_both_languages() {
    let reason = CallEndReason::new(487, 10004);
    assert_eq!(reason.entry().name, "RINGING_TIMEOUT");
    let en = reason.explain(Locale::En);
    assert!(en.starts_with("487/10004 ExpectedError: "), "{en}");
    assert!(en.contains("Advice: "));
    let fr = reason.explain(Locale::Fr);
    assert!(fr.contains("Conseil : "), "{fr}");
    assert!(fr.contains(registry::RINGING_TIMEOUT.advice.fr));
}

proptest! {
    #[test]
    fn lookup_of_any_pair_never_fails_and_always_explains(code: u16, sub: u32) {
        let answer = lookup(code, sub);
        for locale in Locale::ALL {
            prop_assert!(!answer.entry.message(locale).is_empty());
            prop_assert!(!answer.entry.advice(locale).is_empty());
        }
        prop_assert_eq!(answer.code, Code(code));
        prop_assert_eq!(answer.subcode, Some(sub));
        let error = CallingError::from_pair(code, Some(sub));
        prop_assert!(!error.to_string().is_empty());
        let code_only = lookup_code(code);
        prop_assert!(!code_only.entry.advice(Locale::Fr).is_empty());
    }
}

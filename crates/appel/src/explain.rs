//! `appel explain`: from what a user typed to the entry that explains it.

use appel_codes::{by_subcode, exact, lookup, lookup_code, Entry, Locale, Match, Resolution};
use serde::Serialize;

/// Why a query cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// The text is not a number, a `code/subCode` pair or a `subCode/code` pair.
    Malformed(String),
    /// A number is outside the range of a code (0–999) or a subcode (0–4294967295).
    OutOfRange(String),
    /// A lone subcode that no entry has; without a code there is no class to fall back to.
    UnknownSubcode(u32),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Malformed(text) => write!(
                f,
                "`{text}` is not a code or subcode: give a number (603, 10004), \
                 a code/subCode pair (487/10004) or --code and --subcode"
            ),
            QueryError::OutOfRange(text) => write!(
                f,
                "`{text}` is out of range: a code is 0–999 and a subcode 0–4294967295"
            ),
            QueryError::UnknownSubcode(sub) => write!(
                f,
                "no entry has subcode {sub}; give its code too (CODE/{sub}) to see the fallback"
            ),
        }
    }
}

/// Resolves a query: `10004` (a subcode), `603` (a code), `487/10004` (code/subCode) or
/// `41006/400` (subCode/code, recognised because the first number cannot be a code).
pub fn resolve_query(text: &str) -> Result<Resolution, QueryError> {
    let text = text.trim();
    match text.split_once('/') {
        Some((a, b)) => {
            let a = number(a, text)?;
            let b = number(b, text)?;
            let (code, sub) = if a > 999 { (b, a) } else { (a, b) };
            resolve_pair(code, Some(sub), text)
        }
        None => {
            let n = number(text, text)?;
            resolve_single(n, text)
        }
    }
}

/// Resolves `--code` with an optional `--subcode`.
pub fn resolve_pair(code: u64, subcode: Option<u64>, text: &str) -> Result<Resolution, QueryError> {
    let code = u16::try_from(code)
        .ok()
        .filter(|c| *c <= 999)
        .ok_or_else(|| QueryError::OutOfRange(text.to_owned()))?;
    match subcode {
        Some(sub) => {
            let sub = u32::try_from(sub).map_err(|_| QueryError::OutOfRange(text.to_owned()))?;
            Ok(lookup(code, sub))
        }
        None => Ok(lookup_code(code)),
    }
}

/// A lone number: a code-only entry, else a subcode, else a code ended with subcode 0, else a code's
/// class fallback.
fn resolve_single(n: u64, text: &str) -> Result<Resolution, QueryError> {
    if n <= 999 {
        let code = n as u16;
        let by_code = lookup_code(code);
        if by_code.matched == Match::CodeOnly {
            return Ok(by_code);
        }
        if let Some(entry) = lone_subcode(n as u32) {
            return Ok(as_exact(entry));
        }
        if let Some(entry) = exact(code, 0) {
            return Ok(as_exact(entry));
        }
        return Ok(by_code);
    }
    let sub = u32::try_from(n).map_err(|_| QueryError::OutOfRange(text.to_owned()))?;
    lone_subcode(sub)
        .map(as_exact)
        .ok_or(QueryError::UnknownSubcode(sub))
}

fn lone_subcode(sub: u32) -> Option<&'static Entry> {
    if sub == 0 {
        return None;
    }
    by_subcode(sub).next()
}

fn as_exact(entry: &'static Entry) -> Resolution {
    Resolution {
        code: entry.code,
        subcode: entry.subcode,
        entry,
        matched: Match::Exact,
    }
}

fn number(part: &str, whole: &str) -> Result<u64, QueryError> {
    let part = part.trim();
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QueryError::Malformed(whole.to_owned()));
    }
    part.parse::<u64>()
        .map_err(|_| QueryError::OutOfRange(whole.to_owned()))
}

/// The readable explanation.
pub fn render_text(resolution: &Resolution, locale: Locale) -> String {
    let entry = resolution.entry;
    let labels = Labels::of(locale);
    let mut out = String::new();
    let asked = pair_text(resolution.code.0, resolution.subcode);
    let shown = pair_text(entry.code.0, entry.subcode);
    let fell_back = match resolution.matched {
        Match::Exact => false,
        Match::CodeOnly => resolution.subcode.is_some(),
        Match::Subcode | Match::Class => true,
    };
    if fell_back {
        out.push_str(&format!(
            "{} {asked}; {} {shown}.\n",
            labels.no_entry, labels.showing
        ));
    }
    out.push_str(&format!(
        "{shown}  {}  ({})\n",
        entry.name,
        scope_text(entry, locale)
    ));
    let retry = if entry.retryable {
        labels.retryable
    } else {
        labels.final_
    };
    out.push_str(&format!(
        "{} {} ({retry})\n",
        labels.category, entry.category
    ));
    out.push_str(&format!("{} {}\n", labels.message, entry.message(locale)));
    out.push_str(&format!("{} {}\n", labels.advice, entry.advice(locale)));
    let people = appel_codes::end_user_texts(entry);
    if !people.is_empty() {
        out.push_str(labels.people);
        out.push('\n');
        for text in people {
            out.push_str(&format!(
                "  {:<9}{}\n",
                viewer_text(text.viewer, locale),
                text.text.get(locale)
            ));
        }
    }
    out
}

/// The JSON explanation: the entry as `catalog/codes.json` holds it, plus what was asked and how it
/// was found.
pub fn render_json(resolution: &Resolution) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Asked {
        code: u16,
        sub_code: Option<u32>,
    }
    #[derive(Serialize)]
    struct Explanation<'a> {
        requested: Asked,
        matched: &'static str,
        #[serde(flatten)]
        entry: &'a Entry,
    }
    let matched = match resolution.matched {
        Match::Exact => "exact",
        Match::Subcode => "subCode",
        Match::CodeOnly => "codeOnly",
        Match::Class => "class",
    };
    let explanation = Explanation {
        requested: Asked {
            code: resolution.code.0,
            sub_code: resolution.subcode,
        },
        matched,
        entry: resolution.entry,
    };
    serde_json::to_string_pretty(&explanation).expect("explanations always serialize")
}

/// The point of view, as the reader's language names it.
fn viewer_text(viewer: appel_codes::Viewer, locale: Locale) -> &'static str {
    use appel_codes::Viewer::*;
    match (viewer, locale) {
        (You, Locale::En) => "you",
        (You, Locale::Fr) => "vous",
        (Other, Locale::En) => "other",
        (Other, Locale::Fr) => "l'autre",
        (Caller, Locale::En) => "caller",
        (Caller, Locale::Fr) => "appelant",
        (Callee, Locale::En) => "callee",
        (Callee, Locale::Fr) => "appelé",
    }
}

fn pair_text(code: u16, subcode: Option<u32>) -> String {
    match subcode {
        Some(sub) => format!("{code}/{sub}"),
        None => code.to_string(),
    }
}

fn scope_text(entry: &Entry, locale: Locale) -> &'static str {
    use appel_codes::Scope::*;
    match (entry.scope, locale) {
        (Sdk, Locale::En) => "SDK operation error",
        (Sdk, Locale::Fr) => "erreur d'opération du SDK",
        (CallEnd, Locale::En) => "call-end reason",
        (CallEnd, Locale::Fr) => "raison de fin d'appel",
        (CodeOnly, Locale::En) => "code-only fallback",
        (CodeOnly, Locale::Fr) => "repli sur le code seul",
    }
}

struct Labels {
    no_entry: &'static str,
    showing: &'static str,
    category: &'static str,
    message: &'static str,
    advice: &'static str,
    retryable: &'static str,
    final_: &'static str,
    people: &'static str,
}

impl Labels {
    fn of(locale: Locale) -> Labels {
        match locale {
            Locale::En => Labels {
                no_entry: "No entry for",
                showing: "showing",
                category: "Category:",
                message: "Message:",
                advice: "Advice:",
                retryable: "retrying can succeed",
                final_: "retrying the same operation will not help",
                people: "What the person who sees it reads ({name}: the other party):",
            },
            Locale::Fr => Labels {
                no_entry: "Aucune entrée pour",
                showing: "affichage de",
                category: "Catégorie :",
                message: "Message :",
                advice: "Conseil :",
                retryable: "réessayer peut réussir",
                final_: "réessayer la même opération n'y changera rien",
                people: "Ce que lit la personne qui le voit ({name} : l'autre partie) :",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> &'static str {
        resolve_query(text).unwrap().entry.name
    }

    #[test]
    fn a_call_end_reads_as_each_viewer_sees_it_in_the_chosen_language() {
        let hang_up = resolve_query("0/0").unwrap();
        let en = render_text(&hang_up, Locale::En);
        assert!(en.contains("  you      You hung up.\n"), "{en}");
        assert!(en.contains("  other    {name} hung up.\n"), "{en}");
        let fr = render_text(&hang_up, Locale::Fr);
        assert!(
            fr.contains("  appelé   Vous avez refusé l'appel.\n"),
            "{fr}"
        );
        // An SDK error ends no call: no such lines.
        let sdk = render_text(&resolve_query("41006/400").unwrap(), Locale::En);
        assert!(!sdk.contains("the person who sees it"), "{sdk}");
    }

    #[test]
    fn every_query_form_reaches_the_same_entry() {
        assert_eq!(name("10004"), "RINGING_TIMEOUT");
        assert_eq!(name("487/10004"), "RINGING_TIMEOUT");
        assert_eq!(name("10004/487"), "RINGING_TIMEOUT");
        assert_eq!(name("41006/400"), "ACCEPT_NOT_RINGING");
        assert_eq!(name("603"), "DECLINED_EVERYWHERE");
        assert_eq!(name("603/0"), "CALL_DECLINED");
        assert_eq!(name("0"), "CALL_ENDED_LOCALLY");
        assert_eq!(name("7"), "NETWORK_LOST");
        assert_eq!(name("499"), "UNKNOWN_CLIENT_ERROR");
    }

    #[test]
    fn bad_queries_are_refused_with_a_reason() {
        assert!(matches!(
            resolve_query("abc"),
            Err(QueryError::Malformed(_))
        ));
        assert!(matches!(resolve_query("-5"), Err(QueryError::Malformed(_))));
        assert!(matches!(
            resolve_query("487/"),
            Err(QueryError::Malformed(_))
        ));
        assert!(matches!(
            resolve_query("487/x"),
            Err(QueryError::Malformed(_))
        ));
        assert!(matches!(
            resolve_query("1000/5000000000"),
            Err(QueryError::OutOfRange(_))
        ));
        assert!(matches!(
            resolve_query("99999999999999999999999"),
            Err(QueryError::OutOfRange(_))
        ));
        assert_eq!(
            resolve_query("123456"),
            Err(QueryError::UnknownSubcode(123456))
        );
    }

    #[test]
    fn fallbacks_say_what_was_asked_and_what_is_shown() {
        let text = render_text(&resolve_query("487/12345").unwrap(), Locale::En);
        assert!(
            text.starts_with("No entry for 487/12345; showing 487."),
            "{text}"
        );
        let text = render_text(&resolve_query("487/12345").unwrap(), Locale::Fr);
        assert!(text.starts_with("Aucune entrée pour 487/12345"), "{text}");
    }
}

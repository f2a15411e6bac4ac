//! `appel calls`: the call records of a server, read over REST with the access key and printed for
//! people (tables, each reason explained with its advice) or for scripts (`--json`, the server's
//! own documents unchanged).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use appel_codes::{lookup, registry, CallingError, Locale, ResultCategory};
use serde_json::Value;

use crate::rest::RestClient;

/// The filters of `appel calls`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// The caller, a target or a participant.
    pub identity: Option<String>,
    /// `603` or `487/10004`.
    pub code: Option<(u16, Option<u32>)>,
    /// A leg ended in this category.
    pub category: Option<ResultCategory>,
    /// Calls created at or after this time.
    pub since: Option<SystemTime>,
    /// Page size.
    pub limit: Option<usize>,
}

/// `603`, `487/10004`: a code and maybe a subcode, for `--code`.
pub fn parse_code(text: &str) -> Result<(u16, Option<u32>), String> {
    let (code, sub) = match text.split_once('/') {
        Some((code, sub)) => (code, Some(sub)),
        None => (text, None),
    };
    let code: u16 = code
        .trim()
        .parse()
        .ok()
        .filter(|c| (0..=999).contains(c))
        .ok_or_else(|| format!("`{text}`: a code is 0 to 999 (603, or 487/10004)"))?;
    let sub = sub
        .map(|s| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("`{text}`: the subcode after `/` is a number (487/10004)"))
        })
        .transpose()?;
    Ok((code, sub))
}

/// `1h`, `30m`, `2d` ago, or an RFC 3339 time, for `--since`.
pub fn parse_since(text: &str, now: SystemTime) -> Result<SystemTime, String> {
    if let Ok(at) = humantime::parse_rfc3339_weak(text) {
        return Ok(at);
    }
    let ago = humantime::parse_duration(text).map_err(|e| {
        format!("`{text}`: {e} (use a duration such as 1h, 24h, 7d, or an RFC 3339 time)")
    })?;
    Ok(now.checked_sub(ago).unwrap_or(SystemTime::UNIX_EPOCH))
}

/// The query string of `GET /calls` for `filter`.
pub fn list_path(filter: &ListFilter) -> String {
    let mut params: Vec<String> = Vec::new();
    if let Some(identity) = &filter.identity {
        params.push(format!("identity={}", encode(identity)));
    }
    if let Some((code, sub)) = filter.code {
        params.push(format!("code={code}"));
        if let Some(sub) = sub {
            params.push(format!("subCode={sub}"));
        }
    }
    if let Some(category) = filter.category {
        params.push(format!("category={}", category.as_str()));
    }
    if let Some(since) = filter.since {
        params.push(format!(
            "since={}",
            encode(&humantime::format_rfc3339_millis(since).to_string())
        ));
    }
    if let Some(limit) = filter.limit {
        params.push(format!("limit={limit}"));
    }
    if params.is_empty() {
        "/calls".into()
    } else {
        format!("/calls?{}", params.join("&"))
    }
}

/// The path of `GET /calls/summary` for a window starting at `since`.
pub fn summary_path(since: SystemTime, buckets: usize) -> String {
    format!(
        "/calls/summary?since={}&buckets={buckets}",
        encode(&humantime::format_rfc3339_millis(since).to_string())
    )
}

/// The path of `GET /calls/{id}`, refusing ids that would change the path.
pub fn show_path(id: &str) -> Result<String, CallingError> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(CallingError::new(&registry::INVALID_ARGUMENT)
            .with_context(format!("call id `{id}`: letters, digits, `-` and `_` only")));
    }
    Ok(format!("/calls/{id}"))
}

/// Percent-encoding for a query value: every byte outside the unreserved set.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Reads `path` from the server.
pub async fn fetch(client: &RestClient, path: &str) -> Result<Value, CallingError> {
    client.get_json(path).await
}

fn reason_text(reason: &Value) -> String {
    match (reason["code"].as_u64(), reason["subCode"].as_u64()) {
        (Some(code), Some(sub)) => format!("{code}/{sub}"),
        _ => "live".into(),
    }
}

fn time_text(value: &Value) -> String {
    // 2026-11-30T09:28:47.123Z → 2026-11-30 09:28:47
    value
        .as_str()
        .map(|t| t.replace('T', " ").chars().take(19).collect())
        .unwrap_or_else(|| "-".into())
}

fn duration_text(call: &Value) -> String {
    let parse = |v: &Value| {
        v.as_str()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
    };
    match (parse(&call["createdAt"]), parse(&call["endedAt"])) {
        (Some(start), Some(end)) => {
            let d = end.duration_since(start).unwrap_or(Duration::ZERO);
            format!("{:.1}s", d.as_secs_f64())
        }
        _ => "live".into(),
    }
}

/// A page of `GET /calls` as a table: one line per call, its legs' reasons side by side.
pub fn render_list(page: &Value) -> String {
    let calls = page["calls"].as_array().cloned().unwrap_or_default();
    if calls.is_empty() {
        return "no calls match\n".into();
    }
    let mut rows = vec![[
        "CALL".to_string(),
        "STARTED (UTC)".into(),
        "DURATION".into(),
        "CALLER".into(),
        "END".into(),
        "LEGS (identity reason)".into(),
    ]];
    for call in &calls {
        let legs: Vec<String> = call["legs"]
            .as_array()
            .map(|legs| {
                legs.iter()
                    .map(|leg| {
                        let unanswered = if leg["answered"] == false { "*" } else { "" };
                        format!(
                            "{}{unanswered} {}",
                            leg["identity"].as_str().unwrap_or("?"),
                            reason_text(&leg["endReason"])
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        rows.push([
            call["id"].as_str().unwrap_or("?").to_string(),
            time_text(&call["createdAt"]),
            duration_text(call),
            call["caller"].as_str().unwrap_or("?").to_string(),
            reason_text(&call["endReason"]),
            legs.join(", "),
        ]);
    }
    let mut out = table(&rows);
    out.push_str("* never answered\n");
    if let Some(cursor) = page["nextCursor"].as_str() {
        let _ = writeln!(out, "more: next page after cursor {cursor}");
    }
    out
}

/// One call: each leg's reason explained with its advice in `locale`, then the timeline.
pub fn render_show(call: &Value, locale: Locale) -> String {
    let fr = locale == Locale::Fr;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}  {} {}  {} {}",
        if fr { "Appel" } else { "Call" },
        call["id"].as_str().unwrap_or("?"),
        if fr { "de" } else { "from" },
        call["caller"].as_str().unwrap_or("?"),
        if fr { "durée" } else { "lasted" },
        duration_text(call)
    );
    let _ = writeln!(
        out,
        "{} {}  →  {}",
        if fr { "Début" } else { "Started" },
        time_text(&call["createdAt"]),
        reason_text(&call["endReason"])
    );
    out.push('\n');
    for leg in call["legs"].as_array().cloned().unwrap_or_default() {
        let identity = leg["identity"].as_str().unwrap_or("?");
        let answered = leg["answered"] != false;
        let endpoint = leg["endpointId"].as_str().unwrap_or("-");
        let _ = writeln!(
            out,
            "{} {identity} ({} {endpoint}){}",
            if fr { "Branche" } else { "Leg" },
            if fr { "appareil" } else { "endpoint" },
            match (answered, fr) {
                (true, _) => "",
                (false, false) => ", never answered",
                (false, true) => ", jamais décroché",
            }
        );
        match (
            leg["endReason"]["code"].as_u64(),
            leg["endReason"]["subCode"].as_u64(),
        ) {
            (Some(code), Some(sub)) => {
                let entry = lookup(code as u16, sub as u32).entry;
                let _ = writeln!(
                    out,
                    "  {code}/{sub}  {}  ({})",
                    entry.name,
                    entry.category.as_str()
                );
                let _ = writeln!(out, "  {}", entry.message(locale));
                let _ = writeln!(
                    out,
                    "  {} {}",
                    if fr { "Conseil :" } else { "Advice:" },
                    entry.advice(locale)
                );
                if let Some(raw) = leg["rawCause"].as_str() {
                    let _ = writeln!(out, "  rawCause: {raw}");
                }
            }
            _ => {
                let _ = writeln!(out, "  {}", if fr { "en cours" } else { "still live" });
            }
        }
    }
    let rings = call["rings"].as_array().cloned().unwrap_or_default();
    if !rings.is_empty() {
        out.push('\n');
        let _ = writeln!(
            out,
            "{}",
            if fr {
                "Sonneries (chaque appareil qui a sonné)"
            } else {
                "Rings (each endpoint that rang)"
            }
        );
        for ring in rings {
            let reason = &ring["endReason"];
            let _ = writeln!(
                out,
                "  {} {} {}  {}  {}{}",
                ring["identity"].as_str().unwrap_or("?"),
                if fr { "sur" } else { "on" },
                ring["endpointId"].as_str().unwrap_or("?"),
                reason_text(reason),
                reason["name"].as_str().unwrap_or("?"),
                ring["rawCause"]
                    .as_str()
                    .map(|raw| format!("  ({raw})"))
                    .unwrap_or_default()
            );
        }
    }
    out.push('\n');
    let _ = writeln!(out, "{}", if fr { "Chronologie" } else { "Timeline" });
    for event in call["timeline"].as_array().cloned().unwrap_or_default() {
        let detail = match &event["detail"] {
            Value::String(text) => text.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let _ = writeln!(
            out,
            "  {}  {:<18} {detail}",
            event["at"]
                .as_str()
                .map(|t| t.replace('T', " "))
                .unwrap_or_default(),
            event["kind"].as_str().unwrap_or("?")
        );
    }
    out
}

/// `GET /calls/summary` as tables: by category, then by reason, each with its share.
pub fn render_summary(summary: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} → {}: {} calls ended, {} legs",
        time_text(&summary["since"]),
        time_text(&summary["until"]),
        summary["calls"],
        summary["legs"]
    );
    let percent = |v: &Value| format!("{:.1}%", v.as_f64().unwrap_or(0.0) * 100.0);
    let mut rows = vec![["CATEGORY".to_string(), "LEGS".into(), "SHARE".into()]];
    for c in summary["categories"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        rows.push([
            c["resultCategory"].as_str().unwrap_or("?").to_string(),
            c["count"].to_string(),
            percent(&c["share"]),
        ]);
    }
    out.push('\n');
    out.push_str(&table(&rows));
    let mut rows = vec![[
        "REASON".to_string(),
        "NAME".into(),
        "CATEGORY".into(),
        "LEGS".into(),
        "SHARE".into(),
    ]];
    for r in summary["reasons"].as_array().cloned().unwrap_or_default() {
        rows.push([
            reason_text(&r),
            r["name"].as_str().unwrap_or("?").to_string(),
            r["resultCategory"].as_str().unwrap_or("?").to_string(),
            r["count"].to_string(),
            percent(&r["share"]),
        ]);
    }
    out.push('\n');
    out.push_str(&table(&rows));
    // The trend: legs per slice of the window, each category's count in its slice.
    let buckets = summary["buckets"].as_array().cloned().unwrap_or_default();
    if buckets
        .iter()
        .any(|b| b["categories"].as_object().is_some_and(|m| !m.is_empty()))
    {
        out.push_str("\ntrend (legs per slice: Success/ExpectedError/UnexpectedClientError/UnexpectedServerError)\n");
        for bucket in &buckets {
            let n = |name: &str| bucket["categories"][name].as_u64().unwrap_or(0);
            let _ = writeln!(
                out,
                "  {}  {}/{}/{}/{}",
                time_text(&bucket["start"]),
                n("Success"),
                n("ExpectedError"),
                n("UnexpectedClientError"),
                n("UnexpectedServerError")
            );
        }
    }
    out
}

fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_windows_parse_or_are_refused_with_the_form_to_use() {
        assert_eq!(parse_code("603"), Ok((603, None)));
        assert_eq!(parse_code("487/10004"), Ok((487, Some(10004))));
        assert!(parse_code("1000").is_err());
        assert!(parse_code("487/x").is_err());
        assert!(parse_code("").is_err());
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100_000);
        assert_eq!(
            parse_since("1h", now),
            Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(96_400))
        );
        assert!(parse_since("yesterday-ish", now).is_err());
    }

    #[test]
    fn filters_become_an_encoded_query_and_odd_ids_never_reach_the_path() {
        let filter = ListFilter {
            identity: Some("bob&code=1".into()),
            code: Some((487, Some(10004))),
            category: Some(ResultCategory::ExpectedError),
            since: None,
            limit: Some(10),
        };
        assert_eq!(
            list_path(&filter),
            "/calls?identity=bob%26code%3D1&code=487&subCode=10004&category=ExpectedError&limit=10"
        );
        assert_eq!(list_path(&ListFilter::default()), "/calls");
        assert!(show_path("../identities").is_err());
        assert!(show_path("a?b").is_err());
        assert_eq!(show_path("abc-1").unwrap(), "/calls/abc-1");
    }
}

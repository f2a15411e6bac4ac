//! `catalog/coverage.json`: per entry, the situation that produces it, the tests that prove it, and
//! why it is not produced yet when no test does.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use appel_codes::{registry, Entry};
use serde::{Deserialize, Serialize};

/// One line of the coverage file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CoverageRecord {
    /// The entry's code.
    pub code: u16,
    /// The entry's subcode; `null` for code-only entries.
    pub sub_code: Option<u32>,
    /// The situation in Appel that produces the entry.
    #[serde(default)]
    pub scenario: String,
    /// Test names as `cargo test -- --list` prints them, or `e2e:<path>::<title>` for browser tests.
    #[serde(default)]
    pub tests: Vec<String>,
    /// Why no test proves the entry yet (empty when a test does).
    #[serde(default)]
    pub note: String,
}

/// The whole coverage file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Coverage {
    /// Every record, in catalogue order.
    pub records: Vec<CoverageRecord>,
}

/// Something wrong in the coverage file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoverageProblem {
    /// A record names a pair the catalogue does not have.
    UnknownEntry { code: u16, sub_code: Option<u32> },
    /// A catalogue entry has no record.
    MissingRecord { name: &'static str },
    /// Two records for one entry.
    DuplicateRecord { code: u16, sub_code: Option<u32> },
    /// A record has neither a test nor a note saying why.
    Unexplained { name: &'static str },
    /// A named test does not exist.
    UnknownTest { name: &'static str, test: String },
}

impl std::fmt::Display for CoverageProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pair = |code: &u16, sub: &Option<u32>| match sub {
            Some(s) => format!("{code}/{s}"),
            None => code.to_string(),
        };
        match self {
            CoverageProblem::UnknownEntry { code, sub_code } => {
                write!(
                    f,
                    "{}: no such entry in the catalogue",
                    pair(code, sub_code)
                )
            }
            CoverageProblem::MissingRecord { name } => write!(f, "{name}: no coverage record"),
            CoverageProblem::DuplicateRecord { code, sub_code } => {
                write!(f, "{}: more than one coverage record", pair(code, sub_code))
            }
            CoverageProblem::Unexplained { name } => {
                write!(f, "{name}: no test and no note saying why")
            }
            CoverageProblem::UnknownTest { name, test } => {
                write!(f, "{name}: test `{test}` does not exist")
            }
        }
    }
}

impl Coverage {
    /// Parses the coverage file's text.
    pub fn parse(text: &str) -> Result<Coverage, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Reads `catalog/coverage.json` under `root`.
    pub fn load(root: &Path) -> Result<Coverage, String> {
        let path = root.join(super::COVERAGE_JSON);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Coverage::parse(&text).map_err(|e| format!("{} is not valid: {e}", path.display()))
    }

    /// The record of an entry.
    pub fn record(&self, entry: &Entry) -> Option<&CoverageRecord> {
        self.records
            .iter()
            .find(|r| r.code == entry.code.0 && r.sub_code == entry.subcode)
    }
}

/// Checks the coverage file against the catalogue and the tests that exist: `cargo_tests` are the
/// names `cargo test -- --list` printed; `root` is where `e2e:` paths are resolved.
pub fn check_coverage(
    coverage: &Coverage,
    cargo_tests: &HashSet<String>,
    root: &Path,
) -> Vec<CoverageProblem> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for record in &coverage.records {
        if !seen.insert((record.code, record.sub_code)) {
            problems.push(CoverageProblem::DuplicateRecord {
                code: record.code,
                sub_code: record.sub_code,
            });
        }
        let entry =
            registry::all().find(|e| e.code.0 == record.code && e.subcode == record.sub_code);
        let Some(entry) = entry else {
            problems.push(CoverageProblem::UnknownEntry {
                code: record.code,
                sub_code: record.sub_code,
            });
            continue;
        };
        if record.tests.is_empty() && record.note.trim().is_empty() {
            problems.push(CoverageProblem::Unexplained { name: entry.name });
        }
        for test in &record.tests {
            if !test_exists(test, cargo_tests, root) {
                problems.push(CoverageProblem::UnknownTest {
                    name: entry.name,
                    test: test.clone(),
                });
            }
        }
    }
    for entry in registry::all() {
        if coverage.record(entry).is_none() {
            problems.push(CoverageProblem::MissingRecord { name: entry.name });
        }
    }
    problems
}

/// A cargo test exists when `--list` printed it; a browser test when its file names its title.
fn test_exists(test: &str, cargo_tests: &HashSet<String>, root: &Path) -> bool {
    match test.strip_prefix("e2e:") {
        Some(browser) => browser.split_once("::").is_some_and(|(path, title)| {
            std::fs::read_to_string(root.join(path)).is_ok_and(|source| {
                ["'", "\"", "`"]
                    .iter()
                    .any(|q| source.contains(&format!("{q}{title}{q}")))
            })
        }),
        None => cargo_tests.contains(test),
    }
}

/// The test names in the output of `cargo test -- --list` (lines `name: test`).
pub fn parse_test_list(output: &str) -> HashSet<String> {
    output
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(code: u16, sub_code: Option<u32>, tests: &[&str], note: &str) -> CoverageRecord {
        CoverageRecord {
            code,
            sub_code,
            scenario: String::new(),
            tests: tests.iter().map(|t| t.to_string()).collect(),
            note: note.into(),
        }
    }

    #[test]
    fn unknown_tests_entries_and_silent_records_are_reported() {
        let coverage = Coverage {
            records: vec![
                record(487, Some(10004), &["ring_timeout", "missing_test"], ""),
                record(487, Some(10004), &[], "duplicate"),
                record(487, Some(99), &[], "no such entry"),
                record(603, Some(0), &[], ""),
            ],
        };
        let tests = parse_test_list("ring_timeout: test\nother: test\nbench_x: bench\n");
        let problems = check_coverage(&coverage, &tests, Path::new("."));
        assert!(problems.contains(&CoverageProblem::UnknownTest {
            name: "RINGING_TIMEOUT",
            test: "missing_test".into()
        }));
        assert!(!problems.iter().any(
            |p| matches!(p, CoverageProblem::UnknownTest { test, .. } if test == "ring_timeout")
        ));
        assert!(problems.contains(&CoverageProblem::DuplicateRecord {
            code: 487,
            sub_code: Some(10004)
        }));
        assert!(problems.contains(&CoverageProblem::UnknownEntry {
            code: 487,
            sub_code: Some(99)
        }));
        assert!(problems.contains(&CoverageProblem::Unexplained {
            name: "CALL_DECLINED"
        }));
        assert!(problems.contains(&CoverageProblem::MissingRecord {
            name: "CALL_ACCEPTED_ELSEWHERE"
        }));
    }

    #[test]
    fn browser_tests_are_found_by_title_in_their_file() {
        let dir = std::env::temp_dir().join(format!("appel-coverage-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("web/e2e")).unwrap();
        std::fs::write(
            dir.join("web/e2e/calls.spec.ts"),
            "test('reject shows the declined screen', async () => {});",
        )
        .unwrap();
        let none = HashSet::new();
        assert!(test_exists(
            "e2e:web/e2e/calls.spec.ts::reject shows the declined screen",
            &none,
            &dir
        ));
        assert!(!test_exists(
            "e2e:web/e2e/calls.spec.ts::reject shows",
            &none,
            &dir
        ));
        assert!(!test_exists("e2e:web/e2e/none.spec.ts::x", &none, &dir));
        std::fs::remove_dir_all(dir).unwrap();
    }
}

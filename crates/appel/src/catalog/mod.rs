//! The catalogue's generated artefacts (`docs/codes.md`, `catalog/codes.json`, `catalog/codes.d.ts`)
//! and the coverage file that says which test proves each entry.

mod coverage;
mod markdown;
mod typescript;

pub use coverage::{check_coverage, parse_test_list, Coverage, CoverageProblem, CoverageRecord};
pub use markdown::render_markdown;
pub use typescript::render_typescript;

use std::path::{Path, PathBuf};

/// Where each artefact lives, relative to the repository root.
pub const CODES_MD: &str = "docs/codes.md";
/// The whole registry as JSON.
pub const CODES_JSON: &str = "catalog/codes.json";
/// TypeScript constants and types for the browser SDK.
pub const CODES_TS: &str = "catalog/codes.d.ts";
/// Which test proves each entry.
pub const COVERAGE_JSON: &str = "catalog/coverage.json";

/// The whole registry as pretty JSON, the same array `appel codes --json` prints.
pub fn render_json() -> String {
    let entries: Vec<_> = appel_codes::registry::all().collect();
    let mut text = serde_json::to_string_pretty(&entries).expect("static entries always serialize");
    text.push('\n');
    text
}

/// One generated file: its path under the root and its expected content.
pub struct Artefact {
    /// Path relative to the repository root.
    pub path: &'static str,
    /// What the file must contain.
    pub content: String,
}

/// Every artefact, rendered from the registry and the coverage file.
pub fn render_all(coverage: &Coverage) -> Vec<Artefact> {
    vec![
        Artefact {
            path: CODES_MD,
            content: render_markdown(coverage),
        },
        Artefact {
            path: CODES_JSON,
            content: render_json(),
        },
        Artefact {
            path: CODES_TS,
            content: render_typescript(),
        },
    ]
}

/// The artefacts whose file under `root` differs from what the registry renders.
pub fn stale_artefacts(root: &Path, coverage: &Coverage) -> Vec<PathBuf> {
    render_all(coverage)
        .into_iter()
        .filter(|a| std::fs::read_to_string(root.join(a.path)).ok().as_deref() != Some(&a.content))
        .map(|a| root.join(a.path))
        .collect()
}

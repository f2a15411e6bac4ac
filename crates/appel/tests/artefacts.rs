//! The generated files in the repository must be what the registry renders today.

use std::path::Path;

use appel::catalog::{self, Coverage};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn generated_artefacts_are_up_to_date() {
    let coverage = Coverage::load(root()).expect("catalog/coverage.json is readable");
    let stale = catalog::stale_artefacts(root(), &coverage);
    assert!(
        stale.is_empty(),
        "stale generated files {stale:?}: run `cargo run -p appel -- codes export`"
    );
}

#[test]
fn coverage_has_one_explained_record_per_entry() {
    let coverage = Coverage::load(root()).unwrap();
    // Test names are checked by `appel codes check-coverage` in scripts/test, which has the list of
    // every test in the workspace; here every record must at least say something.
    let everything: std::collections::HashSet<String> = coverage
        .records
        .iter()
        .flat_map(|r| r.tests.iter().cloned())
        .collect();
    let problems = catalog::check_coverage(&coverage, &everything, root());
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(coverage
        .records
        .iter()
        .all(|r| !r.scenario.trim().is_empty()));
}

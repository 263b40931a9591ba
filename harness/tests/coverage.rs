//! The spec coverage matrix (`docs/coverage.md`) is generated from the
//! requirements registry (`spec/requirements.yaml`) and the catalog, and
//! this test keeps the three in step: it fails when the file is stale, when
//! a catalog test cites a row that is not in the registry (parsing already
//! refuses that) or cites a requirement inline instead of by id, when a
//! `must` row has neither a test nor a stated reason, and when a row says
//! it is not covered while a test cites it. `UPDATE_COVERAGE=1` rewrites
//! the file.

use harness::suite::{load, requirements};

#[test]
fn docs_coverage_md_matches_the_registry_and_the_catalog() {
    let registry = requirements::builtin().expect("spec/requirements.yaml loads");
    let catalog = load::builtin().expect("the catalog loads");

    let inline: Vec<String> = catalog
        .iter()
        .flat_map(|t| {
            t.spec
                .iter()
                .chain(t.steps.iter().flat_map(|s| s.spec.iter()))
                .filter(|r| r.id.is_none())
                .map(move |r| format!("{}: {}", t.name, r.source))
        })
        .collect();
    assert!(
        inline.is_empty(),
        "built-in tests cite requirements by registry id only: {inline:?}"
    );

    let problems = requirements::coverage_problems(registry, &catalog);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/coverage.md");
    let want = requirements::coverage_markdown(registry, &catalog);
    if std::env::var_os("UPDATE_COVERAGE").is_some() {
        std::fs::write(path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "docs/coverage.md is stale: run `UPDATE_COVERAGE=1 cargo test -p harness --test coverage`"
    );
}

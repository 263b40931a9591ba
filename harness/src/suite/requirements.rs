//! The requirements registry: every sentence of the L4-relevant Gateway API
//! spec the catalog traces its verdicts to, with its strength
//! (`spec/requirements.yaml`, compiled into gwl4). A test's `spec:` names
//! rows by id; `docs/coverage.md` is generated from the registry and the
//! catalog (see [`coverage_markdown`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use reports::{Level, SpecRef};
use serde::Deserialize;

use super::{SuiteError, TestSpec};

/// Where the registry lives in the repository (also its name in errors).
pub const SOURCE: &str = "spec/requirements.yaml";

const TEXT: &str = include_str!("../../../spec/requirements.yaml");

/// One requirement.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Requirement {
    /// Stable lower-kebab-case id, cited by tests.
    pub id: String,
    /// The requirement's strength as the text gives it.
    pub level: Level,
    /// Where it is written (module file and Go field, GEP section, upstream
    /// conformance test, or `gwl4`).
    pub source: String,
    /// The sentence, quoted.
    pub quote: String,
    /// Why no catalog test covers it, when none does.
    #[serde(default)]
    pub not_covered: Option<String>,
}

impl Requirement {
    /// As a reference carried by tests and reports.
    pub fn spec_ref(&self) -> SpecRef {
        SpecRef {
            id: Some(self.id.clone()),
            level: self.level,
            source: self.source.clone(),
            quote: self.quote.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}

/// The whole registry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registry {
    /// The Gateway API release the quotes are from.
    #[serde(rename = "gatewayAPIVersion")]
    pub gateway_api_version: String,
    /// Every row, in the file's order.
    pub requirements: Vec<Requirement>,
}

impl Registry {
    /// Parses registry text; `source` names it in errors.
    pub fn parse(source: &str, text: &str) -> Result<Registry, SuiteError> {
        let invalid = |line: usize, field: String, message: String| SuiteError::Invalid {
            source_name: source.to_string(),
            line,
            field,
            message,
        };
        let registry: Registry = serde_path_to_error::deserialize(
            serde_yaml::Deserializer::from_str(text),
        )
        .map_err(|e| {
            let line = e.inner().location().map(|l| l.line()).unwrap_or(0);
            invalid(
                line,
                e.path().to_string(),
                super::strip_location(&e.inner().to_string()),
            )
        })?;
        let mut seen = BTreeSet::new();
        for (i, r) in registry.requirements.iter().enumerate() {
            let field = |f: &str| format!("requirements[{i}].{f}");
            let kebab = !r.id.is_empty()
                && r.id.split('-').all(|p| {
                    !p.is_empty()
                        && p.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                });
            if !kebab {
                return Err(invalid(
                    0,
                    field("id"),
                    format!("{:?} is not lower-kebab-case", r.id),
                ));
            }
            if !seen.insert(r.id.as_str()) {
                return Err(invalid(0, field("id"), format!("{:?} appears twice", r.id)));
            }
            if r.quote.trim().is_empty() || r.source.trim().is_empty() {
                return Err(invalid(
                    0,
                    field("quote"),
                    format!("{}: a row needs a source and a quote", r.id),
                ));
            }
        }
        Ok(registry)
    }

    /// The row with this id.
    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }
}

/// The registry compiled into gwl4.
pub fn builtin() -> Result<&'static Registry, SuiteError> {
    /// A parse error, kept to be rebuilt (SuiteError is not Clone).
    type Kept = (usize, String, String);
    static REGISTRY: OnceLock<Result<Registry, Kept>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            Registry::parse(SOURCE, TEXT).map_err(|e| match e {
                SuiteError::Invalid {
                    line,
                    field,
                    message,
                    ..
                } => (line, field, message),
                other => (0, String::new(), other.to_string()),
            })
        })
        .as_ref()
        .map_err(|(line, field, message)| SuiteError::Invalid {
            source_name: SOURCE.to_string(),
            line: *line,
            field: field.clone(),
            message: message.clone(),
        })
}

/// Whether a test or step at `level` may cite requirements of these levels:
/// a `must` needs a must row, a `should` a must or should row, a `may` a
/// may row; `recommended` may cite anything.
pub fn supports(level: Level, cited: &[SpecRef]) -> bool {
    let has = |wanted: &[Level]| cited.iter().any(|r| wanted.contains(&r.level));
    match level {
        Level::Must => has(&[Level::Must]),
        Level::Should => has(&[Level::Must, Level::Should]),
        Level::May => has(&[Level::May]),
        Level::Recommended => !cited.is_empty(),
    }
}

/// Which tests cite each row (directly or from one of their steps).
pub fn citations(catalog: &[TestSpec]) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut by_id: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for test in catalog {
        let refs = test
            .spec
            .iter()
            .chain(test.steps.iter().flat_map(|s| s.spec.iter()));
        for r in refs {
            if let Some(id) = &r.id {
                by_id
                    .entry(id.as_str())
                    .or_default()
                    .insert(test.name.as_str());
            }
        }
    }
    by_id
}

/// Problems that make the registry and the catalog disagree: a `must` row
/// no test cites and no reason excuses, a reason on a row a test does cite.
pub fn coverage_problems(registry: &Registry, catalog: &[TestSpec]) -> Vec<String> {
    let cited = citations(catalog);
    let mut problems = Vec::new();
    for r in &registry.requirements {
        let tests = cited.get(r.id.as_str());
        match (tests, &r.not_covered) {
            (None, None) if r.level == Level::Must => problems.push(format!(
                "{SOURCE}: must row {} has no test and no notCovered reason",
                r.id
            )),
            (Some(t), Some(_)) => problems.push(format!(
                "{SOURCE}: row {} says notCovered but {} cite it",
                r.id,
                t.iter().copied().collect::<Vec<_>>().join(", ")
            )),
            _ => {}
        }
    }
    problems
}

/// Counts for one level: (rows, rows some test covers).
pub fn counts(registry: &Registry, catalog: &[TestSpec], level: Level) -> (usize, usize) {
    let cited = citations(catalog);
    let rows: Vec<&Requirement> = registry
        .requirements
        .iter()
        .filter(|r| r.level == level)
        .collect();
    let covered = rows
        .iter()
        .filter(|r| cited.contains_key(r.id.as_str()))
        .count();
    (rows.len(), covered)
}

/// `docs/coverage.md`: every row, its strength, and the tests that cover
/// it, or why none does. Generated; a workspace test keeps the file equal
/// to this.
pub fn coverage_markdown(registry: &Registry, catalog: &[TestSpec]) -> String {
    let cited = citations(catalog);
    let mut out = String::new();
    out.push_str("# Spec coverage\n\n");
    out.push_str(&format!(
        "Generated from `{SOURCE}` and the catalog (`suites/`) by \
         `UPDATE_COVERAGE=1 cargo test -p harness --test coverage`; the same test fails \
         when this file is stale, when a test cites a row that does not exist, or when a \
         `must` row has neither a test nor a stated reason. Quotes are from Gateway API \
         {} (the `sigs.k8s.io/gateway-api` and `sigs.k8s.io/gateway-api/conformance` Go \
         modules), GEP-2644, GEP-2645 and GEP-2162; `gwl4` rows are gwl4's own recommendations.\n\n",
        registry.gateway_api_version
    ));
    out.push_str("| level | rows | covered by a test |\n|---|---:|---:|\n");
    for level in Level::ALL {
        let (rows, covered) = counts(registry, catalog, level);
        out.push_str(&format!("| {level} | {rows} | {covered} |\n"));
    }
    out.push_str("\nA test's level is at most the strongest row it cites (`suites/README.md`, \"Levels\").\n");
    for level in Level::ALL {
        out.push_str(&format!("\n## {}\n\n", heading(level)));
        out.push_str("| id | source | requirement | tests |\n|---|---|---|---|\n");
        for r in registry.requirements.iter().filter(|r| r.level == level) {
            let tests = match (cited.get(r.id.as_str()), &r.not_covered) {
                (Some(t), _) => t.iter().copied().collect::<Vec<_>>().join(", "),
                (None, Some(reason)) => format!("not covered: {reason}"),
                (None, None) => "not covered".to_string(),
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                r.id,
                cell(&r.source),
                cell(&r.quote),
                cell(&tests)
            ));
        }
    }
    out
}

fn heading(level: Level) -> &'static str {
    match level {
        Level::Must => "MUST and MUST NOT (and what the upstream conformance suite asserts)",
        Level::Should => "SHOULD and SHOULD NOT",
        Level::May => "MAY",
        Level::Recommended => "gwl4's recommendations",
    }
}

/// One table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_registry_parses() {
        let r = builtin().unwrap();
        assert!(!r.requirements.is_empty());
    }

    #[test]
    fn duplicate_and_malformed_ids_are_named() {
        let dup = "gatewayAPIVersion: v1\nrequirements:\n- {id: a-b, level: must, source: s, quote: q}\n- {id: a-b, level: should, source: s, quote: q}\n";
        let err = Registry::parse("r.yaml", dup).unwrap_err().to_string();
        assert!(
            err.contains("requirements[1].id") && err.contains("twice"),
            "{err}"
        );
        let bad =
            "gatewayAPIVersion: v1\nrequirements:\n- {id: A_b, level: must, source: s, quote: q}\n";
        let err = Registry::parse("r.yaml", bad).unwrap_err().to_string();
        assert!(err.contains("kebab"), "{err}");
        let level =
            "gatewayAPIVersion: v1\nrequirements:\n- {id: a, level: often, source: s, quote: q}\n";
        let err = Registry::parse("r.yaml", level).unwrap_err().to_string();
        assert!(err.contains("requirements[0].level"), "{err}");
    }

    #[test]
    fn levels_need_rows_strong_enough() {
        let r = |level| SpecRef {
            id: None,
            level,
            source: "s".into(),
            quote: "q".into(),
        };
        assert!(supports(Level::Must, &[r(Level::Must)]));
        assert!(!supports(Level::Must, &[r(Level::Should)]));
        assert!(supports(Level::Should, &[r(Level::Must)]));
        assert!(!supports(Level::Should, &[r(Level::May)]));
        assert!(supports(Level::May, &[r(Level::May)]));
        assert!(!supports(Level::May, &[r(Level::Must)]));
        assert!(supports(Level::Recommended, &[r(Level::Recommended)]));
        assert!(!supports(Level::Recommended, &[]));
    }
}

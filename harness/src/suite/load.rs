//! Loading the catalog: the suites embedded in the binary, plus any
//! `--suite-dir` of the user's own.

use std::collections::BTreeMap;
use std::path::Path;

use include_dir::{Dir, include_dir};

use super::{SuiteError, TestSpec, parse};

/// The built-in catalog, `suites/**/*.yaml`, compiled into the binary.
static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../suites");

/// Every built-in test, sorted by name.
pub fn builtin() -> Result<Vec<TestSpec>, SuiteError> {
    let mut files = Vec::new();
    collect_embedded(&BUILTIN, &mut files);
    let mut tests = Vec::new();
    for (path, text) in files {
        tests.push(parse(&format!("suites/{path}"), text)?);
    }
    finish(tests)
}

fn collect_embedded(dir: &'static Dir<'static>, out: &mut Vec<(String, &'static str)>) {
    for file in dir.files() {
        let path = file.path().to_string_lossy().into_owned();
        if path.ends_with(".yaml") {
            let text = file.contents_utf8().unwrap_or_default();
            out.push((path, text));
        }
    }
    for sub in dir.dirs() {
        collect_embedded(sub, out);
    }
}

/// Every `*.yaml` test under `dir` (recursively), sorted by name.
pub fn from_dir(dir: &Path) -> Result<Vec<TestSpec>, SuiteError> {
    let mut tests = Vec::new();
    walk(dir, &mut tests)?;
    finish(tests)
}

fn walk(dir: &Path, tests: &mut Vec<TestSpec>) -> Result<(), SuiteError> {
    let read_err = |source| SuiteError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, tests)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let text = std::fs::read_to_string(&path).map_err(|source| SuiteError::Read {
                path: path.clone(),
                source,
            })?;
            tests.push(parse(&path.display().to_string(), &text)?);
        }
    }
    Ok(())
}

/// Sorts by name and rejects duplicate names.
fn finish(mut tests: Vec<TestSpec>) -> Result<Vec<TestSpec>, SuiteError> {
    tests.sort_by(|a, b| a.name.cmp(&b.name));
    merge(tests, Vec::new())
}

/// The union of two catalogs; a name in both is an error naming both files.
pub fn merge(a: Vec<TestSpec>, b: Vec<TestSpec>) -> Result<Vec<TestSpec>, SuiteError> {
    let mut by_name: BTreeMap<String, TestSpec> = BTreeMap::new();
    for t in a.into_iter().chain(b) {
        if let Some(prev) = by_name.get(&t.name) {
            return Err(SuiteError::Invalid {
                source_name: t.source.clone(),
                line: 1,
                field: "name".into(),
                message: format!("test {} is already defined in {}", t.name, prev.source),
            });
        }
        by_name.insert(t.name.clone(), t);
    }
    Ok(by_name.into_values().collect())
}

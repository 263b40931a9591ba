//! The standalone contract's config directory as the example gateways read
//! it: every `*.yaml` file's documents as plain JSON values, no validation
//! (a gateway under test may be naive; gwl4 must cope). Shared by
//! `hostile-gateway.rs` and `naive-gateway.rs` (`mod config_dir;`); not an
//! example itself, as it has no `main.rs`.

use std::path::Path;

use serde_json::Value;

/// Every document of every `*.yaml` file in `dir`, files in name order;
/// unreadable files and documents that do not parse are skipped.
pub fn load(dir: &Path) -> Vec<Value> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    let mut out = Vec::new();
    for p in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            if let Ok(v) = <Value as serde::Deserialize>::deserialize(doc) {
                out.push(v);
            }
        }
    }
    out
}

/// The objects of `kind`.
pub fn of<'a>(objs: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    objs.iter().filter(move |o| o["kind"] == kind)
}

/// An object's namespace (`default` when it names none).
pub fn ns(o: &Value) -> &str {
    o["metadata"]["namespace"].as_str().unwrap_or("default")
}

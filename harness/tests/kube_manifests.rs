//! Every manifest in `manifests/` parses into its typed Kubernetes object
//! (k8s-openapi, gateway-api) with nothing dropped: each document is
//! deserialized into its type, serialized back, and every field path of
//! the input must come back with the same value. A misspelt or misplaced
//! field (which the typed structs silently ignore) fails the test.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// Every leaf of `v` as (JSON pointer, value); empty maps and lists count
/// as leaves so they cannot vanish either.
fn leaves(v: &Value, path: String, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                leaves(
                    v,
                    format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, v) in a.iter().enumerate() {
                leaves(v, format!("{path}/{i}"), out);
            }
        }
        other => out.push((path, other.clone())),
    }
}

/// The problems found round-tripping `doc` through `T`.
fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value) -> Vec<String> {
    let typed: T = match serde_json::from_value(doc.clone()) {
        Ok(t) => t,
        Err(e) => return vec![format!("does not parse: {e}")],
    };
    let back = serde_json::to_value(&typed).unwrap();
    let mut input = Vec::new();
    leaves(doc, String::new(), &mut input);
    input
        .into_iter()
        .filter_map(|(path, value)| match back.pointer(&path) {
            None => Some(format!(
                "{path}: unknown field (dropped by the typed object)"
            )),
            Some(got) if *got != value => Some(format!("{path}: {value} came back as {got}")),
            Some(_) => None,
        })
        .collect()
}

fn check(doc: &Value) -> Vec<String> {
    use gateway_api::apis::standard as gw;
    use k8s_openapi::api::{apps, batch, core, rbac};
    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    match (api_version, doc["kind"].as_str().unwrap_or_default()) {
        ("v1", "Namespace") => round_trip::<core::v1::Namespace>(doc),
        ("v1", "Service") => round_trip::<core::v1::Service>(doc),
        ("v1", "ServiceAccount") => round_trip::<core::v1::ServiceAccount>(doc),
        ("v1", "ConfigMap") => round_trip::<core::v1::ConfigMap>(doc),
        ("apps/v1", "Deployment") => round_trip::<apps::v1::Deployment>(doc),
        ("batch/v1", "Job") => round_trip::<batch::v1::Job>(doc),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => round_trip::<rbac::v1::ClusterRole>(doc),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            round_trip::<rbac::v1::ClusterRoleBinding>(doc)
        }
        ("gateway.networking.k8s.io/v1", "GatewayClass") => {
            round_trip::<gw::gatewayclasses::GatewayClass>(doc)
        }
        ("gateway.networking.k8s.io/v1", "Gateway") => round_trip::<gw::gateways::Gateway>(doc),
        (v, k) => vec![format!(
            "no typed object known for {v} {k}: add it to this test"
        )],
    }
}

#[test]
fn every_manifest_parses_into_its_typed_object() {
    let mut files = Vec::new();
    yaml_files(&manifests_dir(), &mut files);
    files.sort();
    assert!(
        files.len() >= 7,
        "expected the base and reference-gateway manifests, found {files:?}"
    );
    let mut problems = Vec::new();
    let mut documents = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, d) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let doc: Value = match serde::Deserialize::deserialize(d) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(format!("{} document {i}: not YAML: {e}", file.display()));
                    continue;
                }
            };
            if doc.is_null() {
                continue;
            }
            documents += 1;
            let name = format!(
                "{} document {i} ({} {})",
                file.display(),
                doc["kind"].as_str().unwrap_or("?"),
                doc.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            );
            problems.extend(check(&doc).into_iter().map(|p| format!("{name}: {p}")));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(documents >= 12, "only {documents} documents");
}

#[test]
fn the_round_trip_catches_misplaced_fields() {
    let doc: Value = serde_yaml::from_str(
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80, targtPort: 8080}]}\n",
    )
    .unwrap();
    let problems = check(&doc);
    assert_eq!(
        problems,
        vec!["/spec/ports/0/targtPort: unknown field (dropped by the typed object)"]
    );
}

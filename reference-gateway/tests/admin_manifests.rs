//! The ways the reference gateway is shipped keep its admin API on
//! loopback: every container in `manifests/` that runs it binds
//! `--admin-address` on loopback, opens only the health port beyond it (no
//! `--metrics-on-health-address` by default), and points both kubelet
//! probes at that port; the Dockerfile's default command does the same.
//! The args are parsed by the gateway's own command line, so a flag the
//! gateway would read differently fails here too.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use reference_gateway::cli::{Args, Command, CommonArgs};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

/// The flags shared by every mode, from the gateway's own parser.
fn common(argv: &[String]) -> CommonArgs {
    let args = Args::try_parse_from(
        std::iter::once("reference-gateway".to_string()).chain(argv.iter().cloned()),
    )
    .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    match args.command {
        Command::Standalone(a) => a.common,
        Command::Kube(a) => a.common,
        Command::ServeConfig(a) => a.common,
    }
}

/// Checks one reference-gateway container; returns what it found wrong.
fn check_container(file: &Path, pod: &Value, container: &Value) -> Vec<String> {
    let name = format!(
        "{}: container {}",
        file.display(),
        container["name"].as_str().unwrap_or("?")
    );
    let argv: Vec<String> = container["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    let flags = common(&argv);
    let mut wrong = Vec::new();
    if !flags.admin_address.ip().is_loopback() {
        wrong.push(format!(
            "{name}: --admin-address {} is not loopback",
            flags.admin_address
        ));
    }
    if flags.metrics_on_health_address {
        wrong.push(format!(
            "{name}: --metrics-on-health-address is an operator's opt-in, not a default"
        ));
    }
    let Some(health) = flags.health_address else {
        wrong.push(format!("{name}: no --health-address for the probes"));
        return wrong;
    };
    // Every port the container declares is the health port.
    let ports: Vec<(String, u64)> = container["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_string(),
                p["containerPort"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    for (port_name, number) in &ports {
        if *number != u64::from(health.port()) {
            wrong.push(format!(
                "{name}: port {port_name} ({number}) is not the health port {}",
                health.port()
            ));
        }
    }
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        let port = match &get["port"] {
            Value::String(n) => ports.iter().find(|(p, _)| p == n).map(|(_, n)| *n),
            Value::Number(n) => n.as_u64(),
            _ => None,
        };
        if port != Some(u64::from(health.port())) || get["path"] != path {
            wrong.push(format!(
                "{name}: {probe} is {get}, not GET {path} on the health port {health}"
            ));
        }
    }
    if pod["hostNetwork"] == true && !health.ip().is_unspecified() {
        wrong.push(format!(
            "{name}: on the host network the kubelet probes the node's address; {health} may not answer it"
        ));
    }
    wrong
}

#[test]
fn install_manifests_keep_the_admin_api_on_loopback_and_probe_the_health_port() {
    let mut files = Vec::new();
    yaml_files(&repo().join("manifests"), &mut files);
    let mut checked = 0;
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let doc: Value = serde::Deserialize::deserialize(doc).unwrap();
            let pod = &doc["spec"]["template"]["spec"];
            for container in pod["containers"].as_array().into_iter().flatten() {
                if container["image"]
                    .as_str()
                    .is_some_and(|i| i.contains("reference-gateway"))
                {
                    wrong.extend(check_container(file, pod, container));
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 1, "no reference-gateway container in {files:?}");
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_dockerfile_command_keeps_the_admin_api_on_loopback() {
    let text = std::fs::read_to_string(repo().join("reference-gateway/Dockerfile")).unwrap();
    // CMD ["…", …] may continue over lines ending in `\`.
    let start = text.find("\nCMD ").expect("a CMD") + 5;
    let mut json = String::new();
    for line in text[start..].lines() {
        json.push_str(line.trim_end().trim_end_matches('\\'));
        if !line.trim_end().ends_with('\\') {
            break;
        }
    }
    let argv: Vec<String> = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    let flags = common(&argv);
    assert!(flags.admin_address.ip().is_loopback(), "{argv:?}");
    let health: SocketAddr = flags.health_address.expect("a health address");
    assert!(
        text.contains(&format!("EXPOSE {}/tcp", health.port())),
        "the image exposes the health port"
    );
    assert!(
        !text.contains("EXPOSE 9901"),
        "the admin port is not exposed"
    );
}

/// The check can fail: the manifest as it was before (admin on every
/// interface, probes on it) is refused on each count.
#[test]
fn the_check_refuses_an_admin_api_on_every_interface() {
    let pod: Value = serde_json::json!({"hostNetwork": true});
    let container = serde_json::json!({
        "name": "reference-gateway",
        "args": ["kube", "--admin-address", "0.0.0.0:9901"],
        "ports": [{"name": "admin", "containerPort": 9901}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "admin"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "admin"}},
    });
    let wrong = check_container(Path::new("old.yaml"), &pod, &container);
    assert!(
        wrong.iter().any(|w| w.contains("is not loopback")),
        "{wrong:?}"
    );
    assert!(
        wrong.iter().any(|w| w.contains("no --health-address")),
        "{wrong:?}"
    );
    let container = serde_json::json!({
        "name": "reference-gateway",
        "args": ["kube", "--admin-address", "127.0.0.1:9901", "--health-address", "0.0.0.0:9902"],
        "ports": [{"name": "admin", "containerPort": 9901}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "admin"}},
        "readinessProbe": {"httpGet": {"path": "/status", "port": 9902}},
    });
    let wrong = check_container(Path::new("half.yaml"), &pod, &container);
    assert_eq!(wrong.len(), 3, "{wrong:#?}");
}

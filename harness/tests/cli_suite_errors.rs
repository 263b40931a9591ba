//! A malformed suite file stops gwl4 before anything starts: exit 2, and the
//! message names the file, line and field.

use std::process::Command;

fn gwl4() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gwl4"))
}

fn write_suite(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn unknown_field_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    write_suite(
        dir.path(),
        "Bad.yaml",
        "name: Bad\ndescription: d\nlevel: must\nspec: [{level: must, source: s, quote: q}]\nfeatures: [Gateway]\nsteps:\n  - tcp: {gateway: gw, listener: tcp, expect: {backnd: x}}\n",
    );
    let out = gwl4()
        .current_dir(dir.path())
        .arg("--suite-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let file = dir.path().join("Bad.yaml");
    let want = format!(
        "{}:7: steps[0].tcp.expect.backnd: unknown field `backnd`",
        file.display()
    );
    assert!(stderr.contains(&want), "{stderr}");
    // Nothing was started: no run directory, no reports.
    assert!(!dir.path().join("gwl4-reports").exists());
}

#[test]
fn manifest_without_name_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    write_suite(
        dir.path(),
        "NoName.yaml",
        "name: NoName\ndescription: d\nlevel: must\nspec: [{level: must, source: s, quote: q}]\nfeatures: [Gateway]\nsteps:\n  - wait: {duration: 1s, reason: r}\n---\napiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n",
    );
    let out = gwl4().arg("--suite-dir").arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr
            .contains("NoName.yaml:9: documents[1].metadata.name: a manifest needs metadata.name"),
        "{stderr}"
    );
}

#[test]
fn duplicate_test_name_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    write_suite(
        dir.path(),
        "Dup.yaml",
        "name: TCPRouteWeightedRouting\ndescription: d\nlevel: must\nspec: [{level: must, source: s, quote: q}]\nfeatures: [Gateway]\nsteps:\n  - wait: {duration: 1s, reason: r}\n",
    );
    let out = gwl4()
        .arg("--suite-dir")
        .arg(dir.path())
        .arg("--list")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("already defined in suites/tcp/TCPRouteWeightedRouting.yaml"),
        "{stderr}"
    );
}

#[test]
fn unknown_feature_and_bad_step_values() {
    let dir = tempfile::tempdir().unwrap();
    write_suite(
        dir.path(),
        "Feat.yaml",
        "name: Feat\ndescription: d\nlevel: must\nspec: [{level: must, source: s, quote: q}]\nfeatures: [Gateway, TCPRouteMagic]\nsteps:\n  - wait: {duration: 1s, reason: r}\n",
    );
    let out = gwl4().arg("--suite-dir").arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("features: unknown feature \"TCPRouteMagic\""),
        "{stderr}"
    );
}

#[test]
fn list_shows_every_builtin_test_with_level_and_features() {
    let out = gwl4().arg("--list").output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("[must Gateway,TCPRoute] TCPRouteWeightedRouting: test"),
        "{stdout}"
    );
}

#[test]
fn a_level_the_cited_spec_does_not_support_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_suite(
        dir.path(),
        "Weak.yaml",
        "name: Weak\ndescription: d\nlevel: must\nspec: [{level: should, source: s, quote: q}]\nfeatures: [Gateway]\nsteps:\n  - wait: {duration: 1s, reason: r}\n",
    );
    let out = gwl4().arg("--suite-dir").arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("Weak.yaml:3: level: level must needs a cited requirement of level must"),
        "{stderr}"
    );
}

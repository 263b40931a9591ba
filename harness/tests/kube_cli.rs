//! `gwl4 --gateway-class X` with no reachable cluster is a setup error
//! (exit 2) that names the kubeconfig it tried.

use std::process::Command;

fn gwl4(home: &std::path::Path, args: &[&str], kubeconfig: Option<&str>) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gwl4"));
    cmd.args(args)
        .env("HOME", home)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .current_dir(home);
    if let Some(k) = kubeconfig {
        cmd.env("KUBECONFIG", k);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn no_kubeconfig_is_exit_2_naming_the_file_tried() {
    let home = tempfile::tempdir().unwrap();
    let (code, stderr) = gwl4(home.path(), &["--gateway-class", "gwl4-reference"], None);
    assert_eq!(code, 2, "{stderr}");
    let tried = home.path().join(".kube").join("config");
    assert!(stderr.contains("no cluster reachable"), "{stderr}");
    assert!(
        stderr.contains(&format!("tried {}", tried.display())),
        "{stderr}"
    );
}

#[test]
fn unreachable_server_is_exit_2_naming_server_and_kubeconfig() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("kc.yaml");
    // Port 1 on loopback: nothing listens there.
    std::fs::write(
        &config,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\n\
         users: [{name: u, user: {token: x}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n\
         current-context: x\n",
    )
    .unwrap();
    let path = config.display().to_string();
    let (code, stderr) = gwl4(
        home.path(),
        &["--gateway-class", "x", "--kubeconfig", &path],
        None,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no cluster reachable at https://127.0.0.1:1/")
            && stderr.contains(&format!("--kubeconfig {path}")),
        "{stderr}"
    );
    let (code, stderr) = gwl4(home.path(), &["--gateway-class", "x"], Some(&path));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("KUBECONFIG={path}")), "{stderr}");
}

#[test]
fn malformed_namespace_labels_are_a_setup_error() {
    let home = tempfile::tempdir().unwrap();
    let (code, stderr) = gwl4(
        home.path(),
        &["--gateway-class", "x", "--namespace-labels", "novalue"],
        None,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--namespace-labels: \"novalue\" is not key=value"),
        "{stderr}"
    );
}

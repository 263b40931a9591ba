//! Every way a local-mode run ends leaves nothing behind: no process, and
//! no run directory (`$TMPDIR/gwl4-<run id>`), unless `--cleanup=false`
//! kept it, in which case the output names it and it exists. Exit 0, 1,
//! each setup error (2) that can be caused without a cluster, no test run
//! (3), SIGTERM and SIGINT (130, mid-run and during setup) and a panic
//! (101, through the `GWL4_TEST_PANIC` test hook). Ctrl-C mid-run is
//! `local_interrupt.rs`.
//!
//! Each run gets a scratch directory with `TMPDIR` inside it, so "nothing
//! left" is "that `tmp` is empty and no process has that `TMPDIR`". One
//! file with a `#[test]` per path: each would otherwise be its own test
//! binary of about 100 MB, for the same two checks.

// A synchronous test driving child processes: there is no async clock to pause.
#![allow(clippy::disallowed_types)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{naive_gateway, processes_of, run_in, slow_test, text};
use nix::sys::signal::Signal;

/// Waits (generously) until no process of the run in `dir` is left, then
/// checks the run directory is gone.
fn assert_left_nothing(dir: &Path, output: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !processes_of(dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "processes left: {:?}\n{output}",
            processes_of(dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<PathBuf> = std::fs::read_dir(dir.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}\n{output}");
}

/// The run directory the output says was kept: it exists, is in `dir`'s
/// TMPDIR, and no process is left.
fn assert_kept_and_named(dir: &Path, output: &str) -> PathBuf {
    let line = output
        .lines()
        .find(|l| l.starts_with("gwl4: kept the run directory (--cleanup=false): "))
        .unwrap_or_else(|| panic!("no 'kept the run directory' line:\n{output}"));
    let kept = PathBuf::from(line.rsplit(": ").next().unwrap());
    assert!(kept.is_dir(), "{} does not exist\n{output}", kept.display());
    assert_eq!(kept.parent(), Some(dir.join("tmp").as_path()), "{output}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !processes_of(dir).is_empty() {
        assert!(Instant::now() < deadline, "processes left\n{output}");
        std::thread::sleep(Duration::from_millis(50));
    }
    kept
}

/// Sends `signal` to `child` and returns its output once it has exited.
fn signal(child: Child, signal: Signal) -> Output {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    child.wait_with_output().unwrap()
}

/// Spawns `cmd` with its output piped (read by [`signal`]).
fn piped(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `n` processes run with `dir`'s TMPDIR (gwl4 included).
fn wait_for_processes(dir: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes_of(dir).len() < n {
        assert!(
            Instant::now() < deadline,
            "gwl4 did not start its processes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let the children settle into what they do.
    std::thread::sleep(Duration::from_millis(500));
}

/// A gateway that writes no status: the class-features probe waits on it.
fn silent_gateway() -> String {
    format!("{} --no-status", naive_gateway().display())
}

#[test]
fn exit_0_a_passing_run_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["--run-test", "TCPRouteMultipleRules"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert_left_nothing(dir.path(), &all);
}

#[test]
fn exit_1_a_failing_run_with_cleanup_false_names_what_it_kept() {
    let dir = tempfile::tempdir().unwrap();
    let gw = naive_gateway();
    let out = run_in(
        dir.path(),
        &[
            "--gateway-command",
            gw.to_str().unwrap(),
            "--cleanup=false",
            "--run-test",
            "TCPRouteWeightedRouting",
        ],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let kept = assert_kept_and_named(dir.path(), &all);
    assert!(
        kept.join("TCPRouteWeightedRouting/gateway.log").is_file(),
        "{all}"
    );
}

#[test]
fn exit_2_a_gateway_that_exits_at_once_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["--gateway-command", "/bin/false"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("the gateway exited at start"), "{all}");
    assert_left_nothing(dir.path(), &all);
}

#[test]
fn exit_2_with_cleanup_false_names_the_kept_directory_and_its_gateway_log() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(
        dir.path(),
        &["--gateway-command", "/bin/false", "--cleanup=false"],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    let kept = assert_kept_and_named(dir.path(), &all);
    assert!(
        kept.join("gatewayclass-features/gateway.log").is_file(),
        "{all}"
    );
}

#[test]
fn exit_2_a_class_without_supported_features_in_time_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(
        dir.path(),
        &[
            "--gateway-command",
            &silent_gateway(),
            "--timeout-config-overrides",
            "GWCMustBeAccepted:2",
        ],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("has no status.supportedFeatures"), "{all}");
    assert_left_nothing(dir.path(), &all);
}

#[test]
fn exit_2_bad_flag_values_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--alpha", "often"], "invalid value"),
        (
            &["--timeout-config-overrides", "NoSuchTimeout:3"],
            "NoSuchTimeout",
        ),
        (
            &["--conformance-profiles", "GATEWAY-HTTP"],
            "unknown profile",
        ),
        (&["--run-test", "NoSuchTest"], "no test named"),
        (&["--workloads", "cluster"], "needs kube mode"),
        (&["--gateway-command", " "], "--gateway-command is empty"),
        // Refused only after the class-features probe ran a gateway.
        (&["--alpha", "1.5"], "--alpha"),
    ];
    for (args, says) in cases {
        let out = run_in(dir.path(), args);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {all}");
        assert!(all.contains(says), "{args:?}: {all}");
        assert_left_nothing(dir.path(), &all);
    }
}

#[test]
fn sigterm_mid_run_exits_130_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let child = piped(slow_test(
        dir.path(),
        "",
        &["--gateway-command", naive_gateway().to_str().unwrap()],
    ));
    // gwl4, the gateway and three echo backends.
    wait_for_processes(dir.path(), 5);
    let out = signal(child, Signal::SIGTERM);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(130), "{all}");
    assert_left_nothing(dir.path(), &all);
}

#[test]
fn sigterm_mid_run_with_cleanup_false_names_the_kept_directory() {
    let dir = tempfile::tempdir().unwrap();
    let child = piped(slow_test(
        dir.path(),
        "",
        &[
            "--gateway-command",
            naive_gateway().to_str().unwrap(),
            "--cleanup=false",
        ],
    ));
    wait_for_processes(dir.path(), 5);
    let out = signal(child, Signal::SIGTERM);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(130), "{all}");
    let kept = assert_kept_and_named(dir.path(), &all);
    assert!(kept.join("SlowTest/gateway.log").is_file(), "{all}");
}

#[test]
fn sigint_during_setup_exits_130_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // The class-features probe waits up to a minute on a gateway that
    // writes no status: interrupt it there, before any test.
    let mut cmd = common::gwl4_in(dir.path());
    cmd.args([
        "--gateway-command",
        &silent_gateway(),
        "--timeout-config-overrides",
        "GWCMustBeAccepted:60",
    ]);
    let child = piped(cmd);
    // gwl4 and the probe's gateway.
    wait_for_processes(dir.path(), 2);
    let out = signal(child, Signal::SIGINT);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(130), "{all}");
    assert_left_nothing(dir.path(), &all);
}

#[test]
fn a_panic_with_a_gateway_running_exits_101_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::gwl4_in(dir.path())
        .env("GWL4_TEST_PANIC", "with-gateway")
        .args(["--gateway-command", naive_gateway().to_str().unwrap()])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(101), "{all}");
    // The hook fired with a gateway up: there was something to clean.
    assert!(all.contains("world started: true"), "{all}");
    assert_left_nothing(dir.path(), &all);
}

/// A one-step test (a wait of `wait`), `features: [Gateway]`.
fn wait_test(name: &str, wait: &str) -> String {
    format!(
        "name: {name}\ndescription: Waits.\nlevel: must\nspec: [{{level: must, source: s, quote: q}}]\nfeatures: [Gateway]\nsteps:\n  - wait: {{duration: {wait}, reason: a test that waits}}\n"
    )
}

/// SIGTERM while one thread waits in a long test and another keeps
/// starting short ones: no test may start once the signal came, or its
/// world would recreate the run directory while the reports are written.
/// (The race is narrow: with the guard against it removed this passed 3
/// runs of 3 here; it stands as the rule's test, not as a reproduction.)
#[test]
fn sigterm_while_tests_keep_starting_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let suites = dir.path().join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    std::fs::write(
        suites.join("ZzExitSlow.yaml"),
        wait_test("ZzExitSlow", "120s"),
    )
    .unwrap();
    for i in 0..40 {
        let name = format!("ZzExitQuick{i:02}");
        std::fs::write(
            suites.join(format!("{name}.yaml")),
            wait_test(&name, "50ms"),
        )
        .unwrap();
    }
    let mut cmd = common::gwl4_in(dir.path());
    cmd.args([
        "--suite-dir",
        suites.to_str().unwrap(),
        "--test-threads",
        "2",
        "ZzExit",
    ]);
    let child = piped(cmd);
    // Signal once a few short tests have come and gone.
    let reports = dir.path().join("tmp");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 4 {
        assert!(Instant::now() < deadline, "the short tests did not start");
        for entry in std::fs::read_dir(&reports).unwrap().flatten() {
            for world in std::fs::read_dir(entry.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                seen.insert(world.file_name());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = signal(child, Signal::SIGTERM);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(130), "{all}");
    assert_left_nothing(dir.path(), &all);
}

#[test]
fn exit_3_nothing_ran_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A filter no test matches: the cluster started (the class-features
    // probe ran a gateway), then no test ran.
    let out = run_in(dir.path(), &["ZzNoTestHasThisName"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert_left_nothing(dir.path(), &all);
}

/// A gateway command that is a shell script whose background child keeps
/// writing into the status dir: SIGTERM must stop the whole family (the
/// child would otherwise recreate the run directory after its removal).
#[test]
fn sigterm_stops_a_gateway_scripts_children_that_keep_writing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("gateway.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             status=\nprev=\n\
             for a in \"$@\"; do [ \"$prev\" = --status-dir ] && status=$a; prev=$a; done\n\
             ( while true; do mkdir -p \"$status/Scribble\" && date > \"$status/Scribble/now\"; sleep 0.05; done ) &\n\
             {} \"$@\"\n",
            naive_gateway().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let child = piped(slow_test(
        dir.path(),
        "",
        &["--gateway-command", script.to_str().unwrap()],
    ));
    // gwl4, the script, its writer, the gateway and three echo backends.
    wait_for_processes(dir.path(), 7);
    let out = signal(child, Signal::SIGTERM);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(130), "{all}");
    assert_left_nothing(dir.path(), &all);
    // Nothing comes back a moment later either.
    std::thread::sleep(Duration::from_millis(300));
    assert_left_nothing(dir.path(), &all);
}

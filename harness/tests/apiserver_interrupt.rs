//! Ctrl-C in the middle of a kube-mode run with `--workloads local` on a
//! real API server: gwl4 exits 130, and nothing is left: no echo process,
//! network namespace or bridge on the machine, and (once the namespace
//! controller has finalized the deleted namespaces) nothing labelled with
//! a run id in the API server.
//!
//! Run: `tools/kube/with-apiserver.sh --crds standard cargo test --workspace
//! --test apiserver_interrupt -- --ignored` (needs root, as .ci/run is).

// Drives a child process from a plain thread: there is no async clock to pause.
#![allow(clippy::disallowed_types)]

mod apiserver_support;
mod common;

use std::time::{Duration, Instant};

use apiserver_support::{host_leftovers, labelled_leftovers, session};
use common::{processes_of, spawn_slow_test};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real API server: tools/kube/with-apiserver.sh (run by .ci/run)"]
async fn sigint_mid_run_leaves_nothing_in_the_api_server_or_on_the_machine() {
    let s = session().await;
    let dir = &s.dir;
    let mut child = spawn_slow_test(dir.path(), "", &s.args(&[]));
    // gwl4 and the three echo replicas (tcp-v1, tcp-v2, tcp-v3).
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes_of(dir.path()).len() < 4 {
        assert!(Instant::now() < deadline, "gwl4 did not start the replicas");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !host_leftovers().is_empty(),
        "no namespaces to clean up: the test proves nothing"
    );
    let code = tokio::task::spawn_blocking(move || common::interrupt(&mut child))
        .await
        .unwrap();
    assert_eq!(code, Some(130));
    assert!(processes_of(dir.path()).is_empty(), "processes left");
    assert_eq!(host_leftovers(), Vec::<String>::new());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = labelled_leftovers(&s.client).await;
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left in the API server after 60 s: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

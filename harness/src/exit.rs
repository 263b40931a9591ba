//! Exit codes (a contract for scripts and CI), and what every exit path
//! leaves behind: nothing, or a directory it names.
//!
//! A run's scratch directory (`$TMPDIR/gwl4-<run id>`, the doctor's
//! `gwl4-doctor-<id>`) is owned by a [`RunDir`] guard: dropped on a normal
//! return (exit 0, 1, 2, 3), it removes the directory, or, when kept
//! (`--cleanup=false`), prints its path. The exits that skip destructors go
//! through [`leave_all`]: the Ctrl-C/SIGTERM handler (`app`) calls it
//! before `process::exit`, and the panic hook ([`install_panic_hook`]) calls
//! it, after killing every child, before Rust's default hook prints the
//! panic (exit 101).
//!
//! A setup error (exit 2) removes the directory too: the only setup errors
//! with a log worth reading are a gateway that exited at start or wrote no
//! GatewayClass status in time, and their messages quote its log's last
//! lines; `--cleanup=false` keeps the whole directory and names it.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Every selected test that ran passed.
pub const SUCCESS: u8 = 0;
/// At least one test failed.
pub const TEST_FAILED: u8 = 1;
/// Bad usage or a setup error (malformed suite file, unreachable cluster,
/// missing CRDs, gateway that would not start): nothing was judged. Also
/// a kube-mode run that could not delete what it created (the reports
/// stand, but the cluster is not as gwl4 found it).
pub const SETUP_ERROR: u8 = 2;
/// No test ran (all filtered out or not supported).
pub const NOTHING_RAN: u8 = 3;
/// Interrupted by Ctrl-C or SIGTERM (both: scripts need not tell them
/// apart); everything was cleaned up.
pub const INTERRUPTED: u8 = 130;

/// Test hook (gwl4's own tests only): `GWL4_TEST_PANIC=with-gateway` makes
/// a local-mode run panic on its main thread once a gateway is running, so
/// a test can check the panic path leaves no process and no directory.
/// Nothing else reads it.
pub const TEST_PANIC: &str = "GWL4_TEST_PANIC";

/// The live run directories: path → kept.
fn live() -> &'static Mutex<Vec<(PathBuf, bool)>> {
    static LIVE: Mutex<Vec<(PathBuf, bool)>> = Mutex::new(Vec::new());
    &LIVE
}

/// Set once Ctrl-C or SIGTERM arrived: tests not yet started stay unstarted
/// (nothing may recreate the run directory after it is removed).
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Whether the run is being stopped by a signal.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::Acquire)
}

/// Marks the run as being stopped by a signal (see [`stopping`]).
pub fn set_stopping() {
    STOPPING.store(true, Ordering::Release);
}

/// A run's scratch directory: removed when dropped, unless kept, in which
/// case its path is printed.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Owns `path` (created later, by whoever writes into it). `keep`:
    /// `--cleanup=false`.
    pub fn new(path: PathBuf, keep: bool) -> RunDir {
        let mut live = live().lock().unwrap_or_else(|e| e.into_inner());
        live.push((path.clone(), keep));
        RunDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let entry = {
            let mut live = live().lock().unwrap_or_else(|e| e.into_inner());
            let i = live.iter().position(|(p, _)| *p == self.path);
            i.map(|i| live.remove(i))
        };
        // Outside the lock: the panic hook takes it too.
        if let Some((path, keep)) = entry {
            leave(&path, keep);
        }
    }
}

/// Removes `path`, or names it when `keep` (and it exists). Never panics
/// (it runs in the panic hook): a closed stderr is ignored.
fn leave(path: &Path, keep: bool) {
    use std::io::Write;
    if keep {
        if path.exists() {
            let _ = writeln!(
                std::io::stderr(),
                "gwl4: kept the run directory (--cleanup=false): {}",
                path.display()
            );
        }
    } else {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// Leaves every live run directory (removed, or named when kept), for the
/// exits that run no destructors. Each kept one is named once and then
/// forgotten; removed ones stay listed, so the signal handler's last sweep
/// removes them again if something recreated them.
pub fn leave_all() {
    let entries = {
        let mut live = live().lock().unwrap_or_else(|e| e.into_inner());
        let entries = live.clone();
        live.retain(|(_, keep)| !keep);
        entries
    };
    for (path, keep) in entries {
        leave(&path, keep);
    }
}

thread_local! {
    /// Set while a libtest trial runs on this thread: libtest catches its
    /// panics (the test fails, the run goes on).
    static IN_TRIAL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` as a trial's body: a panic in it fails that test only, so the
/// panic hook leaves the run alone.
pub fn in_trial<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_TRIAL.with(|t| t.set(self.0));
        }
    }
    let _reset = Reset(IN_TRIAL.with(|t| t.replace(true)));
    f()
}

/// A panic on the main thread outside a trial ends gwl4 (exit 101) without
/// running the code that stops children: this hook kills every child,
/// deletes the network namespaces, and leaves the run directories
/// ([`leave_all`]), then runs the default hook. Panics elsewhere (a trial,
/// which libtest turns into a failed test; a tokio task, which becomes a
/// `JoinError`) end nothing, so they only get the default hook.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let fatal = std::thread::current().name() == Some("main") && !IN_TRIAL.with(|t| t.get());
        if fatal {
            crate::cluster::local::process::kill_all();
            crate::cluster::local::netns::remove_all_live();
            leave_all();
        }
        default(info);
    }));
}

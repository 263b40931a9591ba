//! Child processes of a local-mode run: echo backends and the gateway.
//!
//! Every child is registered in one process-wide table so Ctrl-C can stop
//! them all. Children are also tied to our lifetime without `unsafe`: their
//! stdin is a pipe we hold, and gwl4's own hidden subcommands exit when it
//! closes (see `GWL4_EXIT_ON_STDIN_EOF`), so even a SIGKILL of gwl4 leaves
//! nothing running.
//!
//! Each child leads its own process group, and every signal goes to the
//! whole group: a gateway under test that forks helpers (which may outlive
//! it, holding its listeners) is stopped with all of them. Stopping is
//! SIGTERM to the group, then SIGKILL to the group after a grace
//! ([`GATEWAY_STOP_GRACE`] for the gateway), and SIGKILL again to whatever
//! of the group outlives its leader; [`Process::stop`] says which happened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The environment variable that makes gwl4's hidden subcommands exit when
/// their stdin closes.
pub const EXIT_ON_STDIN_EOF: &str = "GWL4_EXIT_ON_STDIN_EOF";

/// How long the gateway under test gets to exit after SIGTERM before its
/// process group is sent SIGKILL.
pub const GATEWAY_STOP_GRACE: Duration = Duration::from_secs(3);

/// How long [`Process::stop`] waits for a group's stragglers to die after
/// SIGKILL (the kernel delivers it at once; this bounds a wait on a zombie
/// nobody reaps).
const GROUP_GONE_WAIT: Duration = Duration::from_secs(1);

/// Sends `signal` (None: only checks) to the process group `pgid`; false
/// when the group has no process left.
fn signal_group(pgid: u32, signal: Option<Signal>) -> bool {
    killpg(Pid::from_raw(pgid as i32), signal).is_ok()
}

/// Whether a process of group `pgid` is still running. Zombies do not
/// count: they hold no socket or file, and whether the reaper of orphans
/// has got to them yet is not the child's doing. Without /proc, any
/// process the kernel still knows counts.
fn group_alive(pgid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return signal_group(pgid, None);
    };
    let pgid = pgid.to_string();
    dir.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp …"; comm may hold spaces and parens.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        fields.get(2) == Some(&pgid.as_str()) && !matches!(fields.first(), Some(&"Z" | &"X"))
    })
}

/// PIDs of every live child, for the Ctrl-C handler.
fn registry() -> &'static Mutex<BTreeMap<u32, String>> {
    static REG: OnceLock<Mutex<BTreeMap<u32, String>>> = OnceLock::new();
    REG.get_or_init(|| Mutex::new(BTreeMap::new()))
}

/// Sends SIGKILL to every registered child's process group (the Ctrl-C
/// path; the normal path stops children one by one with SIGTERM first).
pub fn kill_all() {
    let reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    for pid in reg.keys() {
        signal_group(*pid, Some(Signal::SIGKILL));
    }
}

/// How many children are alive (for tests of cleanup).
pub fn live_children() -> usize {
    registry().lock().map(|r| r.len()).unwrap_or(0)
}

/// A running child. Dropping it kills the process.
#[derive(Debug)]
pub struct Process {
    name: String,
    pid: Option<u32>,
    child: Child,
    log: PathBuf,
    ready: Arc<Mutex<Option<String>>>,
}

/// A process that did not start or did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Spawning failed.
    #[error("cannot start {name} ({program}): {source}")]
    Spawn {
        /// What the process is.
        name: String,
        /// The program.
        program: String,
        /// Cause.
        source: std::io::Error,
    },
    /// It exited or stayed silent before printing its ready line.
    #[error(
        "{name} did not become ready within {timeout:?}: {detail}; last log lines:\n{log_tail}"
    )]
    NotReady {
        /// What the process is.
        name: String,
        /// How long we waited.
        timeout: Duration,
        /// Exit status or "no ready line".
        detail: String,
        /// The end of its log.
        log_tail: String,
    },
}

impl Process {
    /// Starts `program args…`, logging its stdout and stderr to `log`.
    /// Lines on stdout starting with `ready_prefix` are remembered (the
    /// latest one is returned by [`Process::wait_ready`]).
    pub async fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(String, String)],
        log: PathBuf,
        ready_prefix: &'static str,
    ) -> Result<Process, ProcessError> {
        let spawn_err = |source| ProcessError::Spawn {
            name: name.to_string(),
            program: program.display().to_string(),
            source,
        };
        let log_file = std::fs::File::create(&log).map_err(spawn_err)?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(EXIT_ON_STDIN_EOF, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            // Its own process group (pgid = its pid), so signals reach
            // whatever it forks.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(spawn_err)?;
        let pid = child.id();
        if let Some(pid) = pid {
            registry()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(pid, name.to_string());
        }
        let ready = Arc::new(Mutex::new(None));
        if let Some(stdout) = child.stdout.take() {
            let ready = ready.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                let mut out = tokio::fs::OpenOptions::new()
                    .append(true)
                    .open(&log)
                    .await
                    .ok();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.starts_with(ready_prefix) {
                        *ready.lock().unwrap_or_else(|e| e.into_inner()) = Some(line.clone());
                    }
                    if let Some(f) = out.as_mut() {
                        use tokio::io::AsyncWriteExt;
                        let _ = f.write_all(format!("{line}\n").as_bytes()).await;
                    }
                }
            });
        }
        Ok(Process {
            name: name.to_string(),
            pid,
            child,
            log,
            ready,
        })
    }

    /// Waits for the ready line (or for the process to die).
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<String, ProcessError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(line) = self.ready.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                return Ok(line);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.not_ready(timeout, format!("exited with {status}")));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self.not_ready(timeout, "no ready line".into()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn not_ready(&self, timeout: Duration, detail: String) -> ProcessError {
        ProcessError::NotReady {
            name: self.name.clone(),
            timeout,
            detail,
            log_tail: self.log_tail(20),
        }
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// How it ended, once it has: `exited with status 3`, `killed by
    /// signal 9 (SIGKILL)`.
    pub fn exit(&mut self) -> Option<String> {
        use std::os::unix::process::ExitStatusExt;
        let status = self.child.try_wait().ok().flatten()?;
        Some(match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(sig)) => format!(
                "was killed by signal {sig}{}",
                Signal::try_from(sig)
                    .map(|s| format!(" ({})", s.as_str()))
                    .unwrap_or_default()
            ),
            _ => format!("ended ({status})"),
        })
    }

    /// The last `n` lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// SIGTERM to its process group, then SIGKILL to the group after
    /// `grace`; then SIGKILL to any of the group left after the leader has
    /// gone (children it forked). Returns what went wrong, if anything: it
    /// ignored SIGTERM, or left processes behind.
    pub async fn stop(mut self, grace: Duration) -> Option<String> {
        let pid = self.pid?;
        let mut problems = Vec::new();
        let deadline = tokio::time::Instant::now() + grace;
        signal_group(pid, Some(Signal::SIGTERM));
        if tokio::time::timeout_at(deadline, self.child.wait())
            .await
            .is_err()
        {
            problems.push(format!(
                "the {} (pid {pid}) did not exit within {grace:?} of SIGTERM; \
                 killed its process group with SIGKILL",
                self.name
            ));
            signal_group(pid, Some(Signal::SIGKILL));
            let _ = self.child.wait().await;
        }
        // The rest of the group gets the rest of the grace.
        while group_alive(pid) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if group_alive(pid) {
            problems.push(format!(
                "processes of the {}'s process group {pid} were still running {grace:?} after \
                 SIGTERM, outliving it; killed them with SIGKILL",
                self.name
            ));
            signal_group(pid, Some(Signal::SIGKILL));
            let gone = tokio::time::Instant::now() + GROUP_GONE_WAIT;
            while group_alive(pid) && tokio::time::Instant::now() < gone {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.unregister();
        (!problems.is_empty()).then(|| problems.join("; "))
    }

    fn unregister(&mut self) {
        if let Some(pid) = self.pid.take() {
            registry()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&pid);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // The whole group, as in `stop`; the registry must forget the pid.
        if let Some(pid) = self.pid {
            signal_group(pid, Some(Signal::SIGKILL));
        }
        self.unregister();
        let _ = self.child.start_kill();
    }
}

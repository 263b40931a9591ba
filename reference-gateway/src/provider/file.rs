//! The standalone file provider: the local gateway contract (README, "The
//! local gateway contract").
//!
//! Reads every `*.yaml` file in the config directory (multi-document;
//! dotfiles are skipped as other writers' temp files), translates them and
//! applies the result; writes each owned object's status to
//! `S/<Kind>/<namespace>/<name>.yaml` (cluster-scoped: `S/<Kind>/<name>.yaml`).
//!
//! Change detection uses the `notify` crate (inotify on Linux) on the
//! config directory, **debounced**: a reload starts once no event has
//! arrived for [`FileOptions::debounce`], so a burst of writes (or a temp
//! file then its rename) costs one reload. A reload whose files read
//! identically to the last applied ones does nothing.
//!
//! A file that does not parse leaves the last good config running; the
//! error (file, line, object and field) is logged and shown on `/status`.
//!
//! Bind failures: each reload first translates as if every port were
//! available; listeners the data plane cannot bind are fed back into the
//! snapshot (`failed_binds`) and the snapshot is translated again, so those
//! listeners get `PortUnavailable` and are left out of the config.

use std::collections::BTreeMap;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use super::status_files::{StatusDir, is_hidden};
use super::{ReloadMetrics, now, translate_and_apply};
use crate::admin::{Admin, Report};
use crate::dataplane::DataPlane;
use crate::fault::{FaultState, Faults};
use crate::model::Snapshot;
use crate::status::{StatusDocument, stamp};

/// Where the provider reads and writes.
#[derive(Debug, Clone)]
pub struct FileOptions {
    /// The directory of `*.yaml` object files.
    pub config_dir: PathBuf,
    /// The directory status files are written under.
    pub status_dir: PathBuf,
    /// Where listeners bind when a Gateway names no address.
    pub bind_address: IpAddr,
    /// Quiet time after the last change before reloading.
    pub debounce: Duration,
    /// Deliberate bugs for gwl4's self-test (none by default).
    pub faults: Faults,
    /// The translation's implementation choices (allowed variations).
    pub policy: crate::translate::Policy,
    /// How long the `slow-convergence` fault delays each reload.
    pub slow_convergence_delay: Duration,
}

/// Why the provider stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config directory could not be watched.
    #[error("cannot watch the config directory {path}: {source}")]
    Watch {
        /// The config directory.
        path: PathBuf,
        /// The watcher's error.
        source: notify::Error,
    },
    /// The status directory could not be read or written.
    #[error("cannot write status under {path}: {source}")]
    Status {
        /// The status directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The running provider's state between reloads.
pub struct FileProvider {
    options: FileOptions,
    data_plane: Arc<DataPlane>,
    admin: Arc<Admin>,
    metrics: ReloadMetrics,
    status_dir: StatusDir,
    /// The stamped statuses last written (for `lastTransitionTime`).
    previous: Vec<StatusDocument>,
    /// The file contents last applied, to skip no-op reloads.
    applied: Option<BTreeMap<PathBuf, String>>,
    reloads: u64,
    faults: FaultState,
}

impl FileProvider {
    /// Opens the status directory (keeping what a previous run wrote there
    /// until the first reload replaces it).
    pub fn new(
        options: FileOptions,
        data_plane: Arc<DataPlane>,
        admin: Arc<Admin>,
        metrics: ReloadMetrics,
    ) -> Result<Self, Error> {
        let (status_dir, previous) =
            StatusDir::open(&options.status_dir).map_err(|source| Error::Status {
                path: options.status_dir.clone(),
                source,
            })?;
        let faults = FaultState::new(options.faults, options.slow_convergence_delay)
            .with_policy(options.policy);
        Ok(Self {
            options,
            data_plane,
            admin,
            metrics,
            status_dir,
            previous,
            applied: None,
            reloads: 0,
            faults,
        })
    }

    /// Loads the config, then reloads on every (debounced) change until
    /// `shutdown` is cancelled.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), Error> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let watch_error = |source| Error::Watch {
            path: self.options.config_dir.clone(),
            source,
        };
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // Any event (or watcher error) is worth a look at the directory.
                let _ = tx.send(event.is_ok());
            })
            .map_err(watch_error)?;
        notify::Watcher::watch(
            &mut watcher,
            &self.options.config_dir,
            notify::RecursiveMode::NonRecursive,
        )
        .map_err(watch_error)?;
        self.reload()?;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                event = rx.recv() => {
                    if event.is_none() {
                        return Ok(());
                    }
                }
            }
            // Debounce: wait for a quiet period.
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    event = rx.recv() => if event.is_none() { return Ok(()) },
                    () = tokio::time::sleep(self.options.debounce) => break,
                }
            }
            self.reload()?;
        }
    }

    /// Reads, translates, applies and writes status once. Errors only for
    /// status-directory I/O; a bad config is reported and skipped.
    pub fn reload(&mut self) -> Result<(), Error> {
        let started = tokio::time::Instant::now();
        let files = match read_config_dir(&self.options.config_dir) {
            Ok(files) => files,
            Err(message) => {
                self.refuse(message);
                return Ok(());
            }
        };
        if self.applied.as_ref() == Some(&files) {
            return Ok(());
        }
        let snapshot = match parse_config(&files, self.options.bind_address) {
            Ok(snapshot) => snapshot,
            Err(error) => {
                self.refuse(error.to_string());
                return Ok(());
            }
        };
        let (translation, failures) = translate_and_apply(&self.data_plane, snapshot, &self.faults);
        let statuses = stamp(&self.previous, translation.statuses, &now());
        self.status_dir
            .write(&statuses)
            .map_err(|source| Error::Status {
                path: self.options.status_dir.clone(),
                source,
            })?;
        self.reloads += 1;
        self.previous = statuses.clone();
        self.applied = Some(files);
        self.admin.publish(Report {
            statuses,
            config: translation.config,
            bind_failures: failures,
            last_error: None,
            reloads: self.reloads,
        });
        self.admin.set_ready(true);
        self.metrics.count("ok");
        let elapsed = started.elapsed();
        self.metrics.duration.observe(elapsed.as_secs_f64());
        info!(reload = self.reloads, ?elapsed, "config applied");
        Ok(())
    }

    /// Keeps the running config and reports why the new one was refused.
    fn refuse(&mut self, message: String) {
        error!(error = %message, "config refused; the last good config (if any) keeps running");
        self.metrics.count("error");
        // A fixed file must be re-read even if it matches the last applied.
        self.applied = None;
        self.admin
            .update(|report| report.last_error = Some(message.clone()));
    }
}

/// The snapshot of a config directory's files (as [`read_config_dir`] reads
/// them), binding on `bind_address`; the error names the file, line,
/// object and field. Public for the fuzz tests (`tests/fuzz_config_dir.rs`).
pub fn parse_config(
    files: &BTreeMap<PathBuf, String>,
    bind_address: IpAddr,
) -> Result<Snapshot, crate::model::ParseError> {
    let mut snapshot = Snapshot::new(bind_address);
    for (path, text) in files {
        snapshot.add_yaml(&path.display().to_string(), text)?;
    }
    Ok(snapshot)
}

/// Every `*.yaml` file of `dir` (not dotfiles), by name, with its text.
pub fn read_config_dir(dir: &Path) -> Result<BTreeMap<PathBuf, String>, String> {
    let entries =
        fs::read_dir(dir).map_err(|e| format!("{}: cannot read directory: {e}", dir.display()))?;
    let mut files = BTreeMap::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.extension().is_none_or(|e| e != "yaml") || is_hidden(&path) || !path.is_file() {
            continue;
        }
        match fs::read_to_string(&path) {
            Ok(text) => {
                files.insert(path, text);
            }
            // Deleted between listing and reading: the next event reloads.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    Ok(files)
}

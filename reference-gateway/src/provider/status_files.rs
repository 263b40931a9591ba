//! The status directory: one YAML document per object at
//! `<Kind>/<namespace>/<name>.yaml`, each written atomically (a temp file
//! in the same directory, then rename), stale ones removed.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tracing::warn;

use crate::status::StatusDocument;

/// The status files this process manages.
#[derive(Debug)]
pub(crate) struct StatusDir {
    root: PathBuf,
    /// Relative paths of the files written (or found at start).
    written: BTreeSet<PathBuf>,
}

impl StatusDir {
    /// Opens (creating) `root`; returns the documents already there, so a
    /// restart keeps their `lastTransitionTime`s, and removes them later if
    /// their objects are gone.
    pub(crate) fn open(root: &Path) -> io::Result<(Self, Vec<StatusDocument>)> {
        fs::create_dir_all(root)?;
        let mut dir = Self {
            root: root.to_owned(),
            written: BTreeSet::new(),
        };
        let mut previous = Vec::new();
        let mut pending = vec![root.to_owned()];
        while let Some(path) = pending.pop() {
            for entry in fs::read_dir(&path)? {
                let entry = entry?;
                let path = entry.path();
                if entry.file_type()?.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml") && !is_hidden(&path) {
                    if let Ok(relative) = path.strip_prefix(root) {
                        dir.written.insert(relative.to_owned());
                    }
                    match fs::read_to_string(&path)
                        .map(|t| serde_yaml::from_str::<StatusDocument>(&t))
                    {
                        Ok(Ok(doc)) => previous.push(doc),
                        _ => warn!(file = %path.display(), "ignoring an unreadable status file"),
                    }
                }
            }
        }
        Ok((dir, previous))
    }

    /// Writes every document whose file content changed and removes the
    /// files of objects no longer present.
    pub(crate) fn write(&mut self, documents: &[StatusDocument]) -> io::Result<()> {
        let mut now = BTreeSet::new();
        for doc in documents {
            let relative = doc.relative_path();
            let text = serde_yaml::to_string(doc).map_err(io::Error::other)?;
            let path = self.root.join(&relative);
            if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                write_atomic(&path, &text)?;
            }
            now.insert(relative);
        }
        for stale in self.written.difference(&now) {
            match fs::remove_file(self.root.join(stale)) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        self.written = now;
        Ok(())
    }
}

/// Temp file in the target's directory, then rename: readers see the old
/// file or the new one, never a partial one.
fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".status")
        .suffix(".tmp")
        .tempfile_in(parent)?;
    temp.write_all(text.as_bytes())?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Dotfiles are other writers' temp files.
pub(crate) fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    use super::*;
    use crate::model::Snapshot;
    use crate::status::stamp;
    use crate::translate::translate;

    fn documents() -> Vec<StatusDocument> {
        let yaml = include_str!(
            "../../testdata/tcp-invalid-backend-with-80-percent-weight-rejects-80-percent.in.yaml"
        );
        let snapshot = Snapshot::from_yaml("in.yaml", yaml).unwrap();
        let now = Time(Timestamp::from_second(1_800_000_000).unwrap());
        stamp(&[], translate(&snapshot).statuses, &now)
    }

    #[test]
    fn written_documents_are_found_again_and_stale_ones_removed() {
        let dir = tempfile::tempdir().unwrap();
        let docs = documents();
        assert!(docs.len() >= 3, "{docs:?}");
        let (mut status, previous) = StatusDir::open(dir.path()).unwrap();
        assert!(previous.is_empty());
        status.write(&docs).unwrap();
        for doc in &docs {
            assert!(dir.path().join(doc.relative_path()).is_file());
        }
        assert!(dir.path().join("GatewayClass/gwl4.yaml").is_file());

        // A restart reads them back (so their lastTransitionTimes survive)…
        let (mut status, mut previous) = StatusDir::open(dir.path()).unwrap();
        previous.sort_by_key(|d| d.relative_path());
        let mut expected = docs.clone();
        expected.sort_by_key(|d| d.relative_path());
        assert_eq!(previous, expected);

        // …and removes the files of objects that are gone.
        let (gone, kept) = docs.split_last().unwrap();
        status.write(kept).unwrap();
        assert!(!dir.path().join(gone.relative_path()).exists());
        assert!(
            kept.iter()
                .all(|d| dir.path().join(d.relative_path()).is_file())
        );
        // No temp files left behind.
        let leftovers: Vec<_> = walk(dir.path())
            .into_iter()
            .filter(|p| is_hidden(p))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }
}

//! The reports in a log: `gwl4 --report-log` prints every report file,
//! gzipped and base64-encoded between marker lines, after writing them, so
//! a run in a Kubernetes Job (whose volumes go with its Pod, and whose
//! image has no `tar` for `kubectl cp`) leaves them in its log;
//! `gwl4 fetch-report --from-log` reads them back out of `kubectl logs`.
//!
//! The format, one block per file:
//!
//! ```text
//! gwl4-report-begin junit.xml 133042
//! H4sIAAAAAAAA/+y9...   (base64 of the gzipped file, 76 columns)
//! gwl4-report-end junit.xml
//! ```
//!
//! The number is the file's size, checked when read back. Anything else in
//! the log (the run's own output, a log prefix such as kubectl's
//! `--prefix`) is ignored.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const BEGIN: &str = "gwl4-report-begin ";
const END: &str = "gwl4-report-end ";

/// The files, encoded for a log.
pub fn encode(files: &[PathBuf]) -> std::io::Result<String> {
    let mut out = String::new();
    for path in files {
        let bytes = std::fs::read(path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes)?;
        let encoded = STANDARD.encode(gz.finish()?);
        out.push_str(&format!("{BEGIN}{name} {}\n", bytes.len()));
        for chunk in encoded.as_bytes().chunks(76) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str(&format!("{END}{name}\n"));
    }
    Ok(out)
}

/// A log that does not hold readable reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No report block at all.
    #[error(
        "no report in the log: was gwl4 run with --report-log, and did the run get as far as writing its reports?"
    )]
    Empty,
    /// A block is cut short, garbled, or of the wrong size.
    #[error("report {name} in the log is damaged: {why}")]
    Damaged {
        /// The file.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// Writing a file failed.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// Every report file in `log`: (file name, contents).
pub fn decode(log: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut files = Vec::new();
    let mut current: Option<(String, usize, String)> = None;
    for line in log.lines() {
        // Tolerate a prefix before the marker (kubectl logs --prefix).
        if let Some(i) = line.find(BEGIN) {
            let rest = &line[i + BEGIN.len()..];
            let (name, size) = rest.rsplit_once(' ').unwrap_or((rest, ""));
            let size = size.trim().parse().map_err(|_| Error::Damaged {
                name: name.to_string(),
                why: format!("no size in {line:?}"),
            })?;
            if let Some((open, _, _)) = &current {
                return Err(Error::Damaged {
                    name: open.clone(),
                    why: "it has no end marker".into(),
                });
            }
            current = Some((safe_name(name)?, size, String::new()));
        } else if let Some(i) = line.find(END) {
            let name = line[i + END.len()..].trim();
            let Some((open, size, body)) = current.take() else {
                continue;
            };
            if open != name {
                return Err(Error::Damaged {
                    name: open,
                    why: format!("it ends as {name}"),
                });
            }
            files.push((open.clone(), unpack(&open, size, &body)?));
        } else if let Some((_, _, body)) = current.as_mut() {
            // The base64 is the line's last word (after any prefix).
            body.push_str(line.rsplit(' ').next().unwrap_or("").trim());
        }
    }
    if let Some((name, _, _)) = current {
        return Err(Error::Damaged {
            name,
            why: "the log ends inside it".into(),
        });
    }
    if files.is_empty() {
        return Err(Error::Empty);
    }
    Ok(files)
}

/// A file name as written, refused if it could escape the report directory.
fn safe_name(name: &str) -> Result<String, Error> {
    let ok = !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..";
    if ok {
        Ok(name.to_string())
    } else {
        Err(Error::Damaged {
            name: name.to_string(),
            why: "its name is not a plain file name".into(),
        })
    }
}

fn unpack(name: &str, size: usize, body: &str) -> Result<Vec<u8>, Error> {
    let damaged = |why: String| Error::Damaged {
        name: name.to_string(),
        why,
    };
    let gz = STANDARD
        .decode(body)
        .map_err(|e| damaged(format!("not base64: {e}")))?;
    let mut bytes = Vec::with_capacity(size);
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut bytes)
        .map_err(|e| damaged(format!("not gzip: {e}")))?;
    if bytes.len() != size {
        return Err(damaged(format!(
            "{} bytes, the log said {size}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Decodes `log` and writes its files into `dir`; returns their paths.
pub fn extract(log: &str, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let files = decode(log)?;
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        paths.push(path);
    }
    Ok(paths)
}

/// `gwl4 fetch-report`: returns the exit code.
pub fn run(args: &crate::cli::FetchReportArgs) -> u8 {
    let from = &args.from_log;
    let log = if from.as_os_str() == "-" {
        let mut log = String::new();
        std::io::stdin().read_to_string(&mut log).map(|_| log)
    } else {
        std::fs::read(from).map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let log = match log {
        Ok(log) => log,
        Err(e) => {
            eprintln!("gwl4 fetch-report: {}: {e}", from.display());
            return crate::exit::SETUP_ERROR;
        }
    };
    match extract(&log, &args.report_dir) {
        Ok(paths) => {
            for p in paths {
                println!("wrote {}", p.display());
            }
            crate::exit::SUCCESS
        }
        Err(e) => {
            eprintln!("gwl4 fetch-report: {}: {e}", from.display());
            crate::exit::SETUP_ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_through_a_noisy_prefixed_log() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("junit.xml");
        let b = dir.path().join("report.html");
        std::fs::write(&a, "<testsuites/>\n").unwrap();
        std::fs::write(&b, "x".repeat(100_000)).unwrap();
        let encoded = encode(&[a, b]).unwrap();
        let log: String = format!("test ... ok\n{encoded}wrote gwl4-reports/report.json\n")
            .lines()
            .map(|l| format!("[pod/gwl4-abc/gwl4] {l}\n"))
            .collect();
        let files = decode(&log).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0], ("junit.xml".into(), b"<testsuites/>\n".to_vec()));
        assert_eq!(files[1].1.len(), 100_000);
        // Compressed: 100,000 repeated bytes take a few lines of the log.
        assert!(encoded.lines().count() < 20, "{}", encoded.lines().count());
    }

    #[test]
    fn damage_and_absence_are_named() {
        assert!(matches!(decode("no reports here\n"), Err(Error::Empty)));
        let cut = "gwl4-report-begin a.json 10\nH4sI\n";
        assert!(
            decode(cut)
                .unwrap_err()
                .to_string()
                .contains("ends inside it")
        );
        let escape = "gwl4-report-begin ../x 1\ngwl4-report-end ../x\n";
        assert!(
            decode(escape)
                .unwrap_err()
                .to_string()
                .contains("plain file name")
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.json");
        std::fs::write(&f, "{}").unwrap();
        let wrong_size = encode(&[f]).unwrap().replace("a.json 2", "a.json 3");
        assert!(
            decode(&wrong_size)
                .unwrap_err()
                .to_string()
                .contains("the log said 3")
        );
    }
}

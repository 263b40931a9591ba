//! Reading one status file written by the gateway under test
//! (`<status-dir>/<Kind>/<namespace>/<name>.yaml`, README "The local
//! gateway contract").
//!
//! The gateway is untrusted input: the file may be huge, not YAML, half
//! written, or about another object. Reads are bounded
//! ([`MAX_STATUS_BYTES`]), and every problem is an error naming the file and
//! what is wrong with it, never a panic and never a silently wrong status.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::cluster::ObjectKey;

/// The most gwl4 reads of one status file: a real one is a few KiB, so a
/// larger one is a gateway bug, reported instead of parsed.
pub const MAX_STATUS_BYTES: u64 = 1024 * 1024;

/// Why a status file was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusFileError {
    /// Larger than [`MAX_STATUS_BYTES`]: not read, and re-reading will not help.
    TooLarge(String),
    /// Unreadable or unusable content; may be a rewrite caught half way.
    Bad(String),
}

impl std::fmt::Display for StatusFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(m) | Self::Bad(m) => f.write_str(m),
        }
    }
}

/// The `status` of `key` in the file at `path`: `Ok(None)` when there is no
/// file yet or it has no status.
pub fn read(path: &Path, key: &ObjectKey) -> Result<Option<Value>, StatusFileError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(path, format!("cannot be read: {e}"))),
    };
    let mut bytes = Vec::new();
    // One byte over the cap tells "at the cap" from "over it".
    file.take(MAX_STATUS_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(path, format!("cannot be read: {e}")))?;
    if bytes.len() as u64 > MAX_STATUS_BYTES {
        let size =
            std::fs::metadata(path).map_or(String::new(), |m| format!(" ({} bytes)", m.len()));
        return Err(StatusFileError::TooLarge(format!(
            "{}: the gateway wrote a status file larger than the {} KiB gwl4 reads{size}; not read",
            path.display(),
            MAX_STATUS_BYTES / 1024
        )));
    }
    parse(path, &bytes, key)
}

/// The `status` of `key` in the status document `bytes` (read from `path`,
/// which errors name).
pub fn parse(path: &Path, bytes: &[u8], key: &ObjectKey) -> Result<Option<Value>, StatusFileError> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| bad(path, format!("is not UTF-8 text ({e})")))?;
    if text.trim().is_empty() {
        return Err(bad(path, "is empty".into()));
    }
    let doc: Value = serde_yaml::from_str(text).map_err(|e| {
        bad(
            path,
            format!("is not a YAML status document: {}", yaml_error(text, &e)),
        )
    })?;
    let Value::Object(doc) = doc else {
        return Err(bad(
            path,
            format!("holds {}, not a status document (a mapping)", what(&doc)),
        ));
    };
    if let Some(kind) = doc.get("kind")
        && kind.as_str() != Some(key.kind.as_str())
    {
        return Err(bad(path, format!("is for kind {kind}, not {}", key.kind)));
    }
    if let Some(meta) = doc.get("metadata").filter(|m| !m.is_null()) {
        let field = |name: &str| meta.get(name).filter(|v| !v.is_null());
        if !meta.is_object() {
            return Err(bad(
                path,
                format!("has metadata that is {}, not a mapping", what(meta)),
            ));
        }
        if let Some(name) = field("name")
            && name.as_str() != Some(key.name.as_str())
        {
            return Err(bad(path, format!("is for metadata.name {name}, not {key}")));
        }
        if let Some(ns) = field("namespace")
            && !key.namespace.is_empty()
            && ns.as_str() != Some(key.namespace.as_str())
        {
            return Err(bad(
                path,
                format!("is for metadata.namespace {ns}, not {key}"),
            ));
        }
    }
    match doc.get("status") {
        None | Some(Value::Null) => Ok(None),
        Some(status @ Value::Object(_)) => Ok(Some(status.clone())),
        Some(other) => Err(bad(
            path,
            format!("has a status that is {}, not a mapping", what(other)),
        )),
    }
}

fn bad(path: &Path, what: String) -> StatusFileError {
    StatusFileError::Bad(format!(
        "{}: the gateway's status file {what}",
        path.display()
    ))
}

/// A YAML error with the line it is on: serde_yaml names it for most
/// errors, but not for some (a control character "at position N", a
/// second document), which the gateway's author must still be able to find.
fn yaml_error(text: &str, e: &serde_yaml::Error) -> String {
    let shown = e.to_string();
    if shown.contains(" line ") {
        return shown;
    }
    if shown.contains("repetition limit exceeded") {
        // The billion-laughs guard: no one line is at fault.
        return format!("{shown}: its aliases expand to too many nodes");
    }
    // "at position N" is right where the location, if any, is not.
    let position = shown.rsplit_once("at position ").and_then(|(_, p)| {
        p.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse::<usize>()
            .ok()
    });
    let line = position
        .or_else(|| e.location().map(|l| l.index()))
        .map(|index| line_of(text, index))
        .or_else(|| {
            shown
                .contains("more than one document")
                .then(|| second_document(text))
                .flatten()
        });
    match line {
        Some(line) => format!("{shown}, at line {line}"),
        None => shown,
    }
}

/// The 1-based line of byte `index` of `text`.
fn line_of(text: &str, index: usize) -> usize {
    let index = index.min(text.len());
    text.as_bytes()[..index]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The line on which `text`'s second YAML document starts, as the parser
/// sees it: the fewest lines that already hold two documents (a `---`, a
/// `...`, a directive, a byte order mark out of place). A binary search:
/// a few parses, only on this error's path.
fn second_document(text: &str) -> Option<usize> {
    let ends: Vec<usize> = text
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .chain((!text.ends_with('\n')).then_some(text.len()))
        .collect();
    let two = |lines: usize| {
        serde_yaml::from_str::<serde::de::IgnoredAny>(&text[..ends[lines - 1]])
            .is_err_and(|e| e.to_string().contains("more than one document"))
    };
    let (mut lo, mut hi) = (1, ends.len());
    if hi == 0 || !two(hi) {
        return None;
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if two(mid) { hi = mid } else { lo = mid + 1 }
    }
    Some(lo)
}

/// A value's type, for messages.
fn what(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ObjectKey {
        ObjectKey::new("Gateway", "ns", "gw")
    }

    #[test]
    fn a_real_document_gives_its_status() {
        let doc = b"apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: ns, generation: 1}\nstatus: {conditions: []}\n";
        let status = parse(Path::new("s.yaml"), doc, &key()).unwrap().unwrap();
        assert_eq!(status["conditions"], serde_json::json!([]));
    }

    #[test]
    fn another_objects_document_is_named_as_such() {
        let doc = b"kind: TCPRoute\nmetadata: {name: other}\nstatus: {}\n";
        let e = parse(Path::new("s.yaml"), doc, &key())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("s.yaml") && e.contains("is for kind \"TCPRoute\", not Gateway"),
            "{e}"
        );
        let doc = b"kind: Gateway\nmetadata: {name: other}\nstatus: {}\n";
        let e = parse(Path::new("s.yaml"), doc, &key())
            .unwrap_err()
            .to_string();
        assert!(e.contains("metadata.name \"other\""), "{e}");
    }

    #[test]
    fn a_yaml_error_names_its_line_where_the_parser_does_not() {
        let shown = |doc: &str| {
            parse(Path::new("s.yaml"), doc.as_bytes(), &key())
                .unwrap_err()
                .to_string()
        };
        // The parser says "at position 14" (and a location of 0).
        let e = shown("kind: Gateway\n\u{0}\nstatus: {}\n");
        assert!(
            e.ends_with("control characters are not allowed at position 14, at line 2"),
            "{e}"
        );
        // The parser names no place at all.
        let e = shown("kind: Gateway\nstatus: {}\n---\nkind: Gateway\n");
        assert!(
            e.ends_with("more than one document is not supported, at line 3"),
            "{e}"
        );
        let e = shown("\u{feff}kind: Gateway\nstatus: {}\n");
        assert!(e.contains("more than one document"), "{e}");
        assert!(e.ends_with(", at line 2"), "{e}");
        // A parser that names the line is left as it is.
        let e = shown("kind: Gateway\nstatus: {a: [}\n");
        assert!(e.contains("line 2") && !e.contains(", at line"), "{e}");
    }

    #[test]
    fn a_file_over_the_cap_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.yaml");
        std::fs::write(&path, vec![b'#'; MAX_STATUS_BYTES as usize + 1]).unwrap();
        let e = read(&path, &key()).unwrap_err();
        assert!(matches!(e, StatusFileError::TooLarge(_)), "{e}");
        assert!(e.to_string().contains("larger than the 1024 KiB"), "{e}");
    }
}

//! The run record as JSON: the complete result, and the input to `gwl4 compare`.

use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use crate::ReportError;
use crate::event::SCHEMA_VERSION;
use crate::record::RunRecord;

/// The record as pretty-printed JSON.
pub fn json_string(record: &RunRecord) -> Result<String, ReportError> {
    serde_json::to_string_pretty(record).map_err(|e| ReportError::Json {
        path: None,
        message: e.to_string(),
    })
}

/// Writes the record to `path` as pretty-printed JSON.
pub fn write_json(record: &RunRecord, path: &Path) -> Result<(), ReportError> {
    let file = std::fs::File::create(path).map_err(|e| ReportError::io(path, e))?;
    let mut writer = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut writer, record).map_err(|e| ReportError::Json {
        path: Some(path.to_owned()),
        message: e.to_string(),
    })?;
    writer
        .write_all(b"\n")
        .map_err(|e| ReportError::io(path, e))?;
    writer.flush().map_err(|e| ReportError::io(path, e))
}

/// Reads a record written by [`write_json`] (this schema version or an
/// older one); refuses newer or unknown versions.
pub fn read_json(path: &Path) -> Result<RunRecord, ReportError> {
    let file = std::fs::File::open(path).map_err(|e| ReportError::io(path, e))?;
    let value: serde_json::Value =
        serde_json::from_reader(BufReader::new(file)).map_err(|e| ReportError::Json {
            path: Some(path.to_owned()),
            message: e.to_string(),
        })?;
    record_from_value(value).map_err(|e| e.at(path))
}

/// Parses a record from JSON text; refuses other schema versions.
pub fn json_from_str(text: &str) -> Result<RunRecord, ReportError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ReportError::Json {
        path: None,
        message: e.to_string(),
    })?;
    record_from_value(value)
}

fn record_from_value(value: serde_json::Value) -> Result<RunRecord, ReportError> {
    // Check the version first, so an old or newer file gets a clear error
    // rather than a confusing missing-field one. Version 1 records read as
    // they are: everything version 2 added has a default (level must, no
    // spec references, not interrupted).
    let found = value
        .get("schemaVersion")
        .and_then(serde_json::Value::as_u64);
    if !found.is_some_and(|v| (1..=u64::from(SCHEMA_VERSION)).contains(&v)) {
        return Err(ReportError::SchemaVersion {
            path: None,
            found: found.map_or_else(|| "none".to_owned(), |v| v.to_string()),
            expected: SCHEMA_VERSION,
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| ReportError::Json {
        path: None,
        message: format!("field {}: {}", e.path(), e.inner()),
    })
}

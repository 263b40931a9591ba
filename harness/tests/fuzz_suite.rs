//! Fuzzing the suite file parser (`gwl4::suite::parse`, issue #24): random
//! text and structure-aware mutations of the real catalog (lines deleted,
//! duplicated, swapped, re-indented or truncated; scalars replaced by odd
//! ones of another type, huge numbers, odd unicode; deep nesting and alias
//! bombs inserted). The property: parsing never panics, finishes within a
//! generous bound, and every error names the file, a line inside it and the
//! field.
//!
//! `cargo test` runs 256 cases per property; a larger run by hand:
//! `PROPTEST_CASES=20000 cargo test -p harness --test fuzz_suite`
//! (2026-12-05: 20,000 cases per property, no failure, 17 s).
//!
//! The properties share one file (and one test binary) because they share
//! the mutation strategies and the checks; the explicit regression cases at
//! the end are inputs the fuzzer found or that writing it brought to light.

use std::path::PathBuf;
use std::time::Duration;

use harness::suite::{SuiteError, TestSpec, load, parse};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use yaml_fuzz::{LineEdit, apply_line_edit, bounded, line_edit};

/// Generous: a parse takes milliseconds; only a hang gets near this.
const BOUND: Duration = Duration::from_secs(20);

/// The catalog's files, as (path, text).
fn catalog() -> &'static [(String, String)] {
    static FILES: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../suites");
        let mut files = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    files.push((path.display().to_string(), text));
                }
            }
        }
        files.sort();
        assert!(files.len() > 20, "the catalog is missing: {}", files.len());
        files
    })
}

/// Parses within the bound and checks what the parser promises.
fn check(name: &str, text: &str) -> Result<TestSpec, String> {
    let (n, t) = (name.to_string(), text.to_string());
    let result = bounded(BOUND, move || parse(&n, &t));
    let lines = text.lines().count().max(1);
    match result {
        Ok(spec) => {
            assert_eq!(spec.source, name);
            assert!(!spec.steps.is_empty(), "a test without steps parsed");
            Ok(spec)
        }
        Err(SuiteError::Invalid {
            source_name,
            line,
            field,
            message,
        }) => {
            let shown = format!("{source_name}:{line}: {field}: {message}");
            assert_eq!(source_name, name, "{shown}");
            // Line `lines + 1` is where a document missing at the end would be.
            assert!(
                (1..=lines + 1).contains(&line),
                "line {line} is not a line of the {lines}-line file: {shown}\n---\n{text}"
            );
            // A path of keys as written (an unknown key is named as is).
            assert!(!field.is_empty(), "no field path: {shown}\n---\n{text}");
            assert!(!message.trim().is_empty(), "no message: {shown}");
            Err(shown)
        }
        Err(e @ SuiteError::Read { .. }) => panic!("parse does no I/O, yet: {e}"),
    }
}

/// Scalars that stress the suite's value parsers (durations, byte sizes,
/// condition matches, numbers), added to the generic ones.
const ODD_SCALARS: &[&str] = &[
    "null",
    "-0.0",
    "-.inf",
    "99999999999999999999999999999999",
    "307445734561825861m",
    "18446744073709551615s",
    "18446744073709551615ms",
    "18446744073709551615GiB",
    "17179869184GiB",
    "1MB",
    "ms",
    "{a: {b: {c: []}}}",
    "\"\\uD800\"",
    "'\u{202e}gnp.exe'",
    "\u{feff}x",
    "\"\t\"",
    "!!str 1",
    "Accepted=Maybe",
    "Accepted=False/",
    "=True",
    "Acc epted",
    ">-",
    "\"unterminated",
    "%YAML 1.2",
];

/// Lines of a suite file's own fields to insert, added to the generic ones.
fn odd_lines() -> Vec<String> {
    vec![
        "name: Duplicate".into(),
        "steps: []".into(),
        "steps: [{}]".into(),
        "steps:".into(),
        "  - {}".into(),
        "  - wait: {duration: 18446744073709551615m, reason: r}".into(),
        "  - assertNever: {kind: Gateway, name: g, within: 307445734561825861m}".into(),
        "  - tcp: {gateway: g, port: 70000, connections: 4294967296}".into(),
        "  - udp: {gateway: g, listener: u, payload: 18446744073709551615GiB}".into(),
        "  - branch: {cases: [{name: a, when: []}, {name: a, when: []}]}".into(),
        "  - tcp: {gateway: g, listener: t}\n    if: nowhere".into(),
        "spec: [{level: must}]".into(),
        "level: maybe".into(),
        "features: [Gateway, Gateway, Nonsense]".into(),
        "\u{feff}name: T".into(),
        "apiVersion: v1\nkind: Service".into(),
        "metadata: {name: [1]}".into(),
    ]
}

/// One line edit, with the generic odd scalars and lines and the suite's.
fn edit() -> impl Strategy<Value = LineEdit> {
    line_edit(
        [yaml_fuzz::ODD_SCALARS, ODD_SCALARS].concat(),
        [yaml_fuzz::odd_lines(), odd_lines()].concat(),
    )
}

/// A catalog file with one to four edits.
fn mutated() -> impl Strategy<Value = (String, String)> {
    (
        prop::sample::select(catalog()),
        prop::collection::vec(edit(), 1..5),
    )
        .prop_map(|((path, text), edits)| {
            let text = edits.iter().fold(text, |t, e| apply_line_edit(&t, e));
            (path, text)
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Cases from the environment (PROPTEST_CASES) or 256.
        cases: ProptestConfig::default().cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fuzz_suite.txt",
        ))),
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_catalog_files_parse_or_name_file_line_and_field((path, text) in mutated()) {
        let _ = check(&path, &text);
    }

    #[test]
    fn arbitrary_text_parses_or_names_file_line_and_field(text in any::<String>()) {
        let _ = check("random.yaml", &text);
    }

    #[test]
    fn arbitrary_bytes_read_lossily_parse_or_name_the_file(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = check("bytes.yaml", &String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn yaml_shaped_noise_parses_or_names_file_line_and_field(
        text in r"(name|description|level|spec|features|steps|namespace|upstream|provisional|  - |    |---|tcp|wait|assert|branch|cases|when|if|: |\[|\]|\{|\}|,|&a|\*a|!!str|[a-z0-9]{1,5}|\n){0,60}"
    ) {
        let _ = check("noise.yaml", &text);
    }
}

/// The untouched catalog parses (so the mutations start from valid files).
#[test]
fn the_catalog_parses_unchanged() {
    for (path, text) in catalog() {
        if let Err(e) = check(path, text) {
            panic!("{e}");
        }
    }
}

/// A broken file in a `--suite-dir` is named by its path.
#[test]
fn a_suite_dir_error_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = &catalog()[0];
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, text.replacen("level:", "level: [", 1)).unwrap();
    let err = load::from_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}:", path.display())),
        "the error does not name {}: {err}",
        path.display()
    );
}

// Regression cases the fuzzer found (or writing it did), kept readable.

const HEAD: &str = "name: T\ndescription: d\nlevel: must\nspec: [{level: must, source: s, quote: q}]\nfeatures: [Gateway]\n";

/// `within: 307445734561825861m` overflowed `n * 60` seconds (a panic in
/// debug builds); it is now an error naming the field. Durations are
/// bounded (a day) so running the test cannot overflow `Instant + within`.
/// libyaml counts U+2028 as a line break; the error named line 3 of a
/// one-line file.
#[test]
fn regression_unicode_line_separator_is_not_a_line() {
    let err = check("random.yaml", "?\u{2028}¡").unwrap_err();
    assert!(err.starts_with("random.yaml:1: "), "{err}");
}

#[test]
fn regression_duration_in_minutes_overflow() {
    let text = format!(
        "{HEAD}steps:\n  - assertNever: {{kind: Gateway, name: g, within: 307445734561825861m}}\n"
    );
    let err = check("t.yaml", &text).unwrap_err();
    assert!(
        err.starts_with("t.yaml:7: steps[0].assertNever.within:") && err.contains("too long"),
        "{err}"
    );
}

/// Errors about a step named line 0; they name the step's own line now.
#[test]
fn regression_step_errors_name_the_step_line() {
    let text = format!(
        "{HEAD}steps:\n  - wait: {{duration: 1s, reason: r}}\n  - tcp: {{gateway: g, listener: t, port: 1}}\n"
    );
    let err = check("t.yaml", &text).unwrap_err();
    assert!(err.starts_with("t.yaml:8: steps[1].tcp:"), "{err}");
    let flow = format!("{HEAD}steps: [{{}}]\n");
    let err = check("t.yaml", &flow).unwrap_err();
    assert!(err.starts_with("t.yaml:6: steps[0]:"), "{err}");
}

/// Header checks after deserialisation named line 1 for every field; they
/// name the field's own line now.
#[test]
fn regression_header_errors_name_the_key_line() {
    let text = "name: T\ndescription: d\nlevel: must\nspec: [no-such-row]\nfeatures: [Gateway]\nsteps:\n  - wait: {duration: 1s, reason: r}\n";
    let err = check("t.yaml", text).unwrap_err();
    assert!(err.starts_with("t.yaml:4: spec:"), "{err}");
    let text = HEAD.replace("features: [Gateway]", "features: [Nonsense]")
        + "steps:\n  - wait: {duration: 1s, reason: r}\n";
    let err = check("t.yaml", &text).unwrap_err();
    assert!(err.starts_with("t.yaml:5: features:"), "{err}");
}

/// Found while writing the fuzzer: `payload: 16GiB` parsed (the step later
/// built the payload in memory); payloads are bounded by what the echo
/// server takes.
#[test]
fn regression_payloads_are_bounded() {
    let udp = format!("{HEAD}steps:\n  - udp: {{gateway: g, listener: u, payload: 65508}}\n");
    let err = check("t.yaml", &udp).unwrap_err();
    assert!(err.starts_with("t.yaml:7: steps[0].udp:"), "{err}");
    let tcp =
        format!("{HEAD}steps:\n  - tcp: {{gateway: g, listener: t, mode: echo, payload: 16GiB}}\n");
    let err = check("t.yaml", &tcp).unwrap_err();
    assert!(err.starts_with("t.yaml:7: steps[0].tcp:"), "{err}");
    let ok = format!("{HEAD}steps:\n  - udp: {{gateway: g, listener: u, payload: 65507}}\n");
    check("t.yaml", &ok).unwrap();
}

/// A manifest after a `...` (document end) line without a `---` got line 0:
/// the `---` scan and the YAML parser disagreed on the documents.
#[test]
fn regression_document_after_an_end_marker_has_a_line() {
    let text = format!(
        "{HEAD}steps:\n  - wait: {{duration: 1s, reason: r}}\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: s}}\n...\nspec: {{}}\n"
    );
    let err = check("t.yaml", &text).unwrap_err();
    assert!(err.starts_with("t.yaml:13: documents[2]:"), "{err}");
}

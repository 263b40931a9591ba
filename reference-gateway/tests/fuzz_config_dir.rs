//! Fuzzing the reference gateway's config directory (issue #24): the golden
//! inputs (`testdata/*.in.yaml`) mutated line by line (deleted, duplicated,
//! swapped, re-indented, truncated, odd scalars and syntax pasted in) and
//! object by object (fields removed, renamed, or replaced by values of
//! another type or size), written as files and read the way the file
//! provider reads them (`read_config_dir`, `parse_config`). The properties:
//! parsing never panics and finishes within a generous bound; an error names
//! the file, a line inside it, the document, and the field or object where
//! the problem is one of a field or object; whatever parses translates
//! without a panic. `translate_properties.rs` fuzzes `translate` on
//! generated snapshots; this file covers the text on the way there.
//!
//! `cargo test` runs 256 cases per property; a larger run by hand:
//! `PROPTEST_CASES=20000 cargo test -p reference-gateway --test fuzz_config_dir`
//! (2026-12-05: 20,000 cases per property; one failure, kept as
//! `regression_a_unicode_line_separator_is_a_yaml_line_break`; after it
//! none, 51 s).
//!
//! The properties share one file because they share the golden inputs, the
//! mutations and the checks.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use reference_gateway::model::{ParseError, Problem, documents};
use reference_gateway::provider::file::{parse_config, read_config_dir};
use reference_gateway::translate::translate;
use serde_json::{Value, json};
use yaml_fuzz::{LineEdit, ObjectEdit, apply_line_edit, apply_object_edit, bounded, line_edit};

/// Generous: a parse takes milliseconds; only a hang gets near this.
const BOUND: Duration = Duration::from_secs(20);

/// The golden inputs, without their scenario header (not an API object),
/// which is blanked line for line as `golden.rs` does.
fn golden() -> &'static [(String, String)] {
    static FILES: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".in.yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let first = documents(&text)[0].text;
            let body = if first.contains("kind: Scenario") {
                "\n".repeat(first.lines().count()) + &text[first.len()..]
            } else {
                text
            };
            files.push((name, body));
        }
        files.sort();
        assert!(files.len() > 20, "testdata is missing: {}", files.len());
        files
    })
}

/// Lines of `text` as YAML 1.1 counts them: a line break is LF, CR, CR LF,
/// NEL (U+0085), LS (U+2028) or PS (U+2029).
fn yaml_lines(text: &str) -> usize {
    let breaks = text
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
        .count();
    breaks + 1
}

/// Checks a refusal against what `ParseError` promises.
fn check_error(e: &ParseError, files: &BTreeMap<PathBuf, String>) {
    let shown = e.to_string();
    let text = files
        .iter()
        .find(|(p, _)| p.display().to_string() == e.source_name)
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("the error names no file of the directory: {shown}"));
    let lines = text.lines().count().max(1);
    assert!(
        (1..=lines + 1).contains(&e.line),
        "line {} is not a line of the {lines}-line file: {shown}",
        e.line
    );
    assert!(e.document >= 1, "{shown}");
    assert!(shown.starts_with(&format!(
        "{}:{}: document {}",
        e.source_name, e.line, e.document
    )));
    match &e.problem {
        // The YAML parser's own position, in lines of the file as YAML 1.1
        // (which the parser implements) counts them: NEL, LS and PS are line
        // breaks there too (a fuzz case, "¡:\u{2028}¡", is line 3 to it).
        Problem::Yaml(m) => {
            if let Some(at) = m.split(" at line ").nth(1) {
                let n: usize = at.split(' ').next().unwrap().parse().unwrap();
                assert!((1..=yaml_lines(text) + 1).contains(&n), "{shown}");
            }
        }
        Problem::InvalidField { path, message } => {
            assert!(!path.is_empty() && !message.is_empty(), "{shown}");
            assert!(e.object.is_some(), "no object named: {shown}");
        }
        Problem::UnknownField(path) => {
            assert!(!path.is_empty(), "{shown}");
            assert!(e.object.is_some(), "no object named: {shown}");
        }
        Problem::MissingName | Problem::RuleCount(_) | Problem::Duplicate => {
            assert!(e.object.is_some(), "no object named: {shown}");
        }
        Problem::NotAnObject(_) | Problem::UnsupportedKind { .. } => {}
    }
}

/// Writes `files` into a fresh config directory and reads, parses and
/// translates it the way the file provider does, within the bound.
fn check_dir(files: Vec<(String, String)>) -> Option<ParseError> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let path = dir.path().to_path_buf();
    let (read, parsed) = bounded(BOUND, move || {
        let read = read_config_dir(&path).expect("the directory reads");
        let bind = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let parsed = parse_config(&read, bind).map(|snapshot| {
            // Whatever parses must translate.
            let _ = translate(&snapshot);
        });
        (read, parsed)
    });
    assert_eq!(read.len(), files.len(), "every *.yaml file is read");
    match parsed {
        Ok(()) => None,
        Err(e) => {
            check_error(&e, &read);
            Some(e)
        }
    }
}

/// Scalars that stress the typed fields (ports, weights, timestamps,
/// quantities, addresses) and kinds, added to the generic ones.
const ODD_SCALARS: &[&str] = &[
    "65536",
    "2147483648",
    "2026-13-45T99:99:99Z",
    "not-a-time",
    "::1",
    "999.1.1.1",
    "'\u{202e}x'",
    "TCP",
    "UDP",
    "Service",
];

/// The generic odd scalars and the config's.
fn odd_scalars() -> Vec<&'static str> {
    [yaml_fuzz::ODD_SCALARS, ODD_SCALARS].concat()
}

/// Lines of API objects' own fields to insert, added to the generic ones.
fn odd_lines() -> Vec<String> {
    vec![
        "--- # comment".into(),
        "kind: Gateway".into(),
        "apiVersion: v1".into(),
        "apiVersion: gateway.networking.k8s.io/v1alpha2".into(),
        "metadata: {name: dup}".into(),
        "metadata: {name: [1]}".into(),
        "spec: {rules: [{}, {}]}".into(),
        "status: {}".into(),
        "\u{feff}kind: Service".into(),
    ]
}

/// One line edit, with the generic odd scalars and lines and the config's.
fn config_line_edit() -> impl Strategy<Value = LineEdit> {
    line_edit(
        odd_scalars(),
        [yaml_fuzz::odd_lines(), odd_lines()].concat(),
    )
}

/// Values of every JSON type and of sizes that cross the limits.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![
            0i64,
            -1,
            1,
            65535,
            65536,
            2_147_483_648,
            i64::MAX,
            i64::MIN
        ])
        .prop_map(|n| json!(n)),
        Just(json!(u64::MAX)),
        prop::sample::select(vec![0.5f64, -0.0, 1e308]).prop_map(|f| json!(f)),
        prop::sample::select(odd_scalars()).prop_map(|s| json!(s)),
        "[a-zA-Z0-9./:_-]{0,80}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!([{}])),
        (0..80usize).prop_map(|n| json!(vec![
            json!({"name": "l", "port": 9000, "protocol": "TCP"});
            n
        ])),
        (1..100usize).prop_map(|depth| (0..depth).fold(json!(1), |v, _| json!({"a": v}))),
    ]
}

/// One change to an object of a document: removed, replaced or renamed
/// fields, and scalars copied over others.
fn value_edit() -> impl Strategy<Value = ObjectEdit> {
    prop_oneof![
        2 => any::<Index>().prop_map(ObjectEdit::Remove),
        4 => (any::<Index>(), odd_value()).prop_map(|(i, v)| ObjectEdit::Replace(i, v)),
        1 => (any::<Index>(), "[a-zA-Z]{0,12}").prop_map(|(i, k)| ObjectEdit::Rename(i, k)),
        4 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| ObjectEdit::Copy(a, b)),
    ]
}

/// A golden input with one to four line edits.
fn line_mutated() -> impl Strategy<Value = (String, String)> {
    (
        prop::sample::select(golden()),
        prop::collection::vec(config_line_edit(), 1..5),
    )
        .prop_map(|((name, text), edits)| {
            let text = edits.iter().fold(text, |t, e| apply_line_edit(&t, e));
            (name, text)
        })
}

/// A golden input with its documents read as values, one to four of them
/// edited, and written back as YAML.
fn value_mutated() -> impl Strategy<Value = (String, String)> {
    (
        prop::sample::select(golden()),
        prop::collection::vec((any::<Index>(), value_edit()), 1..5),
    )
        .prop_map(|((name, text), edits)| {
            let mut docs: Vec<Value> = documents(&text)
                .iter()
                .filter_map(|d| serde_yaml::from_str::<Value>(d.text).ok())
                .filter(|v| !v.is_null())
                .collect();
            if !docs.is_empty() {
                for (which, edit) in &edits {
                    let n = docs.len();
                    apply_object_edit(&mut docs[which.index(n)], edit);
                }
            }
            let text = docs
                .iter()
                .map(|d| serde_yaml::to_string(d).unwrap())
                .collect::<Vec<_>>()
                .join("---\n");
            (name, text)
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Cases from the environment (PROPTEST_CASES) or 256.
        cases: ProptestConfig::default().cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fuzz_config_dir.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn line_mutated_inputs_parse_or_name_file_line_and_field(file in line_mutated()) {
        check_dir(vec![file]);
    }

    #[test]
    fn value_mutated_inputs_parse_or_name_file_line_and_field(file in value_mutated()) {
        check_dir(vec![file]);
    }

    /// Two files: errors name the right one, and objects defined in both are
    /// duplicates across files.
    #[test]
    fn two_mutated_files_name_the_right_file(a in line_mutated(), b in value_mutated()) {
        check_dir(vec![("a.yaml".into(), a.1), ("b.yaml".into(), b.1)]);
    }

    #[test]
    fn arbitrary_text_parses_or_names_the_file(text in any::<String>()) {
        check_dir(vec![("random.yaml".into(), text)]);
    }

    /// The document splitter: documents are where it says they are.
    #[test]
    fn documents_are_located_exactly(file in line_mutated()) {
        let text = &file.1;
        for doc in documents(text) {
            let start = doc.text.as_ptr() as usize - text.as_ptr() as usize;
            prop_assert_eq!(text[..start].matches('\n').count() + 1, doc.line);
        }
    }
}

/// The golden inputs themselves parse (so mutations start from valid
/// configs), except the ones that show a refusal.
#[test]
fn the_golden_inputs_parse_unless_their_output_is_an_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    for (name, text) in golden() {
        let out = std::fs::read_to_string(dir.join(name.replace(".in.yaml", ".out.yaml"))).unwrap();
        let refused = check_dir(vec![(name.clone(), text.clone())]);
        assert_eq!(
            refused.is_some(),
            out.starts_with("error:") || out.contains("\nerror:"),
            "{name}: {refused:?}"
        );
    }
}

/// The mutations reach acceptance (so `translate` runs) and refusals of
/// every kind (fixed seed: the same cases every run).
#[test]
fn the_mutations_reach_acceptance_and_every_kind_of_refusal() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut accepted = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for n in 0..300 {
        let file = if n % 2 == 0 {
            line_mutated().new_tree(&mut runner).unwrap().current()
        } else {
            value_mutated().new_tree(&mut runner).unwrap().current()
        };
        match check_dir(vec![file]) {
            None => accepted += 1,
            Some(e) => {
                let debug = format!("{:?}", e.problem);
                kinds.insert(debug.split(['(', ' ']).next().unwrap().to_string());
            }
        }
    }
    eprintln!("{accepted}/300 accepted; refusals: {kinds:?}");
    assert!((25..=275).contains(&accepted), "{accepted}");
    for kind in [
        "Yaml",
        "InvalidField",
        "UnknownField",
        "UnsupportedKind",
        "MissingName",
    ] {
        assert!(kinds.contains(kind), "no {kind} refusal in {kinds:?}");
    }
}

// Regression cases the fuzzer found, kept readable.

/// A key renamed to the empty string was reported as "unknown field ``".
#[test]
fn regression_an_empty_key_is_named_quoted() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n\"\": 1\n";
    let e = check_dir(vec![("s.yaml".into(), text.into())]).expect("refused");
    assert_eq!(e.problem, Problem::UnknownField("\"\"".into()));
    let nested = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {\"\": 1}\n";
    let e = check_dir(vec![("s.yaml".into(), nested.into())]).expect("refused");
    assert_eq!(e.problem, Problem::UnknownField("spec.\"\"".into()));
}

/// A Unicode line separator is a line break to the YAML parser (YAML 1.1),
/// not to `str::lines`: the parser's line numbers count it.
#[test]
fn regression_a_unicode_line_separator_is_a_yaml_line_break() {
    let e = check_dir(vec![("random.yaml".into(), "¡:\u{2028}¡".into())]).expect("refused");
    assert!(matches!(e.problem, Problem::Yaml(_)), "{e}");
    assert_eq!(e.line, 1, "{e}");
}

/// A text ending in `---` without a newline put the empty last document on
/// a line past the end of the file.
#[test]
fn regression_a_final_separator_without_newline_stays_in_the_file() {
    let docs = documents("a: 1\n---");
    assert_eq!(docs.len(), 2);
    assert_eq!((docs[1].line, docs[1].text), (2, ""));
    let docs = documents("a: 1\n---\n");
    assert_eq!((docs[1].line, docs[1].text), (3, ""));
}

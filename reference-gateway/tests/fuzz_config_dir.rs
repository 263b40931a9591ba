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
//! `PROPTEST_CASES=20000 cargo test -p reference-gateway --test fuzz_config_dir`.
//!
//! The properties share one file because they share the golden inputs, the
//! mutations and the checks.

// The per-case time bound runs the parser on a plain thread: no async code here.
#![allow(clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use reference_gateway::model::{ParseError, Problem, documents};
use reference_gateway::provider::file::{parse_config, read_config_dir};
use reference_gateway::translate::translate;
use serde_json::{Value, json};

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

/// Runs `f` on its own thread and fails the case if it takes longer than
/// [`BOUND`]; a panic inside `f` is re-raised here, so proptest sees it.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(BOUND) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the thread ended without sending"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("took more than {BOUND:?}"),
    }
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
        // The YAML parser's own position, in lines of the file.
        Problem::Yaml(m) => {
            if let Some(at) = m.split(" at line ").nth(1) {
                let n: usize = at.split(' ').next().unwrap().parse().unwrap();
                assert!((1..=lines + 1).contains(&n), "{shown}");
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
    let (read, parsed) = bounded(move || {
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

/// Scalars of every YAML type, and ones that stress the typed fields
/// (ports, weights, timestamps, quantities, addresses).
const ODD_SCALARS: &[&str] = &[
    "",
    "~",
    "true",
    "-1",
    "0",
    "0.5",
    "1e400",
    ".nan",
    "65536",
    "2147483648",
    "18446744073709551616",
    "-9223372036854775809",
    "2026-13-45T99:99:99Z",
    "not-a-time",
    "::1",
    "999.1.1.1",
    "[]",
    "{}",
    "[[]]",
    "\"\\u0000\"",
    "'\u{202e}x'",
    "é̀́",
    "!!binary aGVsbG8=",
    "!!int x",
    "!custom {}",
    "*undefined",
    "&a x",
    "|",
    "'unterminated",
    "{unclosed: [",
    "? complex",
    "TCP",
    "UDP",
    "Service",
];

fn odd_lines() -> Vec<String> {
    let laughs = (1..10)
        .map(|i| {
            let prev = format!("*l{}", i - 1);
            format!("l{i}: &l{i} [{}]", vec![prev; 9].join(","))
        })
        .collect::<Vec<_>>()
        .join("\n");
    vec![
        "---".into(),
        "--- # comment".into(),
        "--- {a: 1}".into(),
        "...".into(),
        "\t- tab".into(),
        "kind: Gateway".into(),
        "apiVersion: v1".into(),
        "apiVersion: gateway.networking.k8s.io/v1alpha2".into(),
        "metadata: {name: dup}".into(),
        "metadata: {name: [1]}".into(),
        "spec: {rules: [{}, {}]}".into(),
        "status: {}".into(),
        format!("deep: {}{}", "[".repeat(2000), "]".repeat(2000)),
        format!("deep: {}", "{a: ".repeat(500) + "1" + &"}".repeat(500)),
        format!("l0: &l0 [x]\n{laughs}"),
        format!("long: {}", "x".repeat(100_000)),
        "\u{0}".into(),
        "\u{feff}kind: Service".into(),
        "<<: *undefined".into(),
        "? [a, b]\n: c".into(),
    ]
}

/// One line edit.
#[derive(Debug, Clone)]
enum LineEdit {
    Delete(Index),
    Duplicate(Index),
    Swap(Index, Index),
    ReplaceScalar(Index, &'static str),
    Insert(Index, String),
    Indent(Index, usize),
    Dedent(Index),
    Truncate(Index),
    Splice(Index, String),
}

fn line_edit() -> impl Strategy<Value = LineEdit> {
    use prop::sample::select;
    let i = any::<Index>;
    prop_oneof![
        1 => i().prop_map(LineEdit::Delete),
        1 => i().prop_map(LineEdit::Duplicate),
        1 => (i(), i()).prop_map(|(a, b)| LineEdit::Swap(a, b)),
        3 => (i(), select(ODD_SCALARS)).prop_map(|(a, s)| LineEdit::ReplaceScalar(a, s)),
        2 => (i(), select(odd_lines())).prop_map(|(a, l)| LineEdit::Insert(a, l)),
        1 => (i(), 1..9usize).prop_map(|(a, n)| LineEdit::Indent(a, n)),
        1 => i().prop_map(LineEdit::Dedent),
        1 => i().prop_map(LineEdit::Truncate),
        1 => (i(), any::<String>()).prop_map(|(a, s)| LineEdit::Splice(a, s)),
    ]
}

fn apply_line_edit(text: &str, edit: &LineEdit) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    match edit {
        LineEdit::Delete(i) => {
            lines.remove(i.index(n));
        }
        LineEdit::Duplicate(i) => {
            let at = i.index(n);
            lines.insert(at, lines[at].clone());
        }
        LineEdit::Swap(a, b) => lines.swap(a.index(n), b.index(n)),
        LineEdit::ReplaceScalar(i, s) => {
            let line = &mut lines[i.index(n)];
            *line = match line.find(": ") {
                Some(at) => format!("{}: {s}", &line[..at]),
                None => s.to_string(),
            };
        }
        LineEdit::Insert(i, l) => lines.insert(i.index(n + 1), l.clone()),
        LineEdit::Indent(i, by) => {
            let line = &mut lines[i.index(n)];
            *line = " ".repeat(*by) + line;
        }
        LineEdit::Dedent(i) => {
            let line = &mut lines[i.index(n)];
            *line = line.trim_start().to_string();
        }
        LineEdit::Truncate(i) => {
            let keep = i.index(text.len() + 1);
            let cut = (0..=keep).rev().find(|c| text.is_char_boundary(*c));
            return text[..cut.unwrap_or(0)].to_string();
        }
        LineEdit::Splice(i, s) => {
            let line = &mut lines[i.index(n)];
            let at = (0..=line.len() / 2)
                .rev()
                .find(|c| line.is_char_boundary(*c))
                .unwrap_or(0);
            line.insert_str(at, s);
        }
    }
    lines.join("\n") + "\n"
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
        prop::sample::select(ODD_SCALARS.to_vec()).prop_map(|s| json!(s)),
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

/// Every node of `v`, as (JSON pointer, parent pointer, key in the parent).
fn nodes(v: &Value, at: &str, out: &mut Vec<(String, String, String)>) {
    let children: Vec<(String, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, c)| (k.clone(), c)).collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, c)| (i.to_string(), c))
            .collect(),
        _ => return,
    };
    for (key, child) in children {
        let path = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
        out.push((path.clone(), at.to_string(), key));
        nodes(child, &path, out);
    }
}

/// One change to an object of a document.
#[derive(Debug, Clone)]
enum ValueEdit {
    Remove(Index),
    Replace(Index, Value),
    Rename(Index, String),
    /// Copy one scalar over another of the same type (a name, port or
    /// weight taken from elsewhere): such files mostly parse, so this
    /// reaches `translate` with crossed references.
    Copy(Index, Index),
}

fn value_edit() -> impl Strategy<Value = ValueEdit> {
    prop_oneof![
        2 => any::<Index>().prop_map(ValueEdit::Remove),
        4 => (any::<Index>(), odd_value()).prop_map(|(i, v)| ValueEdit::Replace(i, v)),
        1 => (any::<Index>(), "[a-zA-Z]{0,12}").prop_map(|(i, k)| ValueEdit::Rename(i, k)),
        4 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| ValueEdit::Copy(a, b)),
    ]
}

fn apply_value_edit(v: &mut Value, edit: &ValueEdit) {
    let mut all = Vec::new();
    nodes(v, "", &mut all);
    if all.is_empty() {
        return;
    }
    let index = match edit {
        ValueEdit::Remove(i)
        | ValueEdit::Replace(i, _)
        | ValueEdit::Rename(i, _)
        | ValueEdit::Copy(i, _) => i,
    };
    let (path, parent, key) = all[index.index(all.len())].clone();
    match edit {
        ValueEdit::Replace(_, value) => *v.pointer_mut(&path).unwrap() = value.clone(),
        ValueEdit::Copy(_, from) => {
            let source = v.pointer(&all[from.index(all.len())].0).unwrap().clone();
            let target = v.pointer_mut(&path).unwrap();
            let same = matches!(
                (&source, &*target),
                (Value::String(_), Value::String(_))
                    | (Value::Number(_), Value::Number(_))
                    | (Value::Bool(_), Value::Bool(_))
            );
            if same {
                *target = source;
            }
        }
        ValueEdit::Remove(_) | ValueEdit::Rename(..) => {
            let removed = match v.pointer_mut(&parent) {
                Some(Value::Object(m)) => m.remove(&key),
                Some(Value::Array(a)) => Some(a.remove(key.parse().unwrap())),
                _ => None,
            };
            if let (ValueEdit::Rename(_, new), Some(value), Some(Value::Object(m))) =
                (edit, removed, v.pointer_mut(&parent))
            {
                m.insert(new.clone(), value);
            }
        }
    }
}

/// A golden input with one to four line edits.
fn line_mutated() -> impl Strategy<Value = (String, String)> {
    (
        prop::sample::select(golden()),
        prop::collection::vec(line_edit(), 1..5),
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
                    apply_value_edit(&mut docs[which.index(n)], edit);
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

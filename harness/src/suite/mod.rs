//! Suites: the test catalog's file format.
//!
//! A test is one YAML file: a header document ([`TestSpec`]: name, the spec
//! rule as a description, its requirement level and the spec sentences it
//! traces to, features, steps), then the Kubernetes objects it needs.
//! Parsing is strict: unknown fields are rejected, every `spec:` id must be
//! a row of the requirements registry ([`requirements`]) strong enough for
//! the level, and every error names the file, line and field path.

pub mod load;
pub mod matcher;
pub mod requirements;
pub mod step;

use std::collections::BTreeMap;
use std::path::PathBuf;

use echo_server::protocol::{MAX_DATAGRAM, MAX_ECHO};
use reports::{Level, SpecRef};
use serde::{Deserialize, Serialize};

pub use step::{Step, TestStep};

/// Namespace a test's objects and steps default to.
pub const DEFAULT_NAMESPACE: &str = "gateway-conformance-infra";

/// One test, parsed and checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestSpec {
    /// PascalCase, unique; the upstream ShortName where one exists.
    pub name: String,
    /// The spec rule the test checks, as a sentence.
    pub description: String,
    /// Features a gateway must support for the test to run.
    pub features: Vec<String>,
    /// The equivalent upstream conformance test, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// Upstream marks the test provisional.
    pub provisional: bool,
    /// How strongly the spec requires what the test checks.
    pub level: Level,
    /// The requirements the test traces to (resolved from the registry).
    pub spec: Vec<SpecRef>,
    /// Default namespace for steps.
    pub namespace: String,
    /// Steps, in order.
    pub steps: Vec<TestStep>,
    /// The Kubernetes objects, as YAML text (templated when applied).
    pub manifests: Vec<Manifest>,
    /// Where the test came from (file path, or `builtin:<path>`).
    pub source: String,
}

/// One Kubernetes object of a test file, kept as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Line in the source file where the document starts (1-based).
    pub line: usize,
    /// The document's YAML value (not yet templated).
    pub value: serde_json::Value,
}

/// The header document, as written.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Header {
    name: String,
    description: String,
    features: Vec<String>,
    #[serde(default)]
    upstream: Option<String>,
    #[serde(default)]
    provisional: bool,
    level: Level,
    spec: Vec<step::SpecRefDoc>,
    #[serde(default)]
    namespace: Option<String>,
    steps: Vec<step::StepDoc>,
}

/// A suite file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a valid test.
    #[error("{source_name}:{line}: {field}: {message}")]
    Invalid {
        /// File.
        source_name: String,
        /// Line (1-based; 0 when unknown).
        line: usize,
        /// Field path, e.g. `steps[2].tcp.expect`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Features gwl4 knows: upstream's names for the L4 profiles and what their
/// tests touch, plus gwl4's own.
pub const KNOWN_FEATURES: &[&str] = &[
    "Gateway",
    "ReferenceGrant",
    "TCPRoute",
    "UDPRoute",
    "HTTPRoute",
    "TLSRoute",
    "GatewayPort8080",
    "GatewayStaticAddresses",
];

/// Parses one suite file's text.
pub fn parse(source_name: &str, text: &str) -> Result<TestSpec, SuiteError> {
    let invalid = |line: usize, field: &str, message: String| SuiteError::Invalid {
        source_name: source_name.to_string(),
        line,
        field: field.to_string(),
        message,
    };
    let starts = document_lines(text);
    let lines = header_lines(text);
    let mut docs = serde_yaml::Deserializer::from_str(text);
    let header_doc = docs.next().ok_or_else(|| {
        invalid(
            1,
            "(header)",
            "the file is empty: a test starts with a header document".into(),
        )
    })?;
    let header: Header = serde_path_to_error::deserialize(header_doc).map_err(|e| {
        let path = match e.path().to_string() {
            // The root: a syntax error, or the header is not a mapping.
            p if p == "." || p.is_empty() => "(header)".to_string(),
            p => p,
        };
        let line = e
            .inner()
            .location()
            .map(|l| newline_line(text, l.line()))
            .unwrap_or_else(|| lines.of_path(&path));
        let message = strip_location(&e.inner().to_string());
        invalid(line, &path, message)
    })?;

    let spec_refs = resolve(&header.spec).map_err(|m| invalid(lines.key("spec"), "spec", m))?;
    if spec_refs.is_empty() {
        return Err(invalid(
            lines.key("spec"),
            "spec",
            format!(
                "cite at least one requirement: a row id of {} or {{level, source, quote}}",
                requirements::SOURCE
            ),
        ));
    }
    check_level(header.level, &spec_refs).map_err(|m| invalid(lines.key("level"), "level", m))?;

    let mut steps: Vec<TestStep> = Vec::with_capacity(header.steps.len());
    let mut branches: Vec<String> = Vec::new();
    for (i, mut doc) in header.steps.into_iter().enumerate() {
        let field = |f: &str| format!("steps[{i}]{f}");
        let at = lines.step(i);
        let level = doc.level.take();
        let own_spec = match doc.spec.take() {
            Some(docs) => resolve(&docs).map_err(|m| invalid(at, &field(".spec"), m))?,
            None => Vec::new(),
        };
        let only_if = doc.only_if.take();
        let step = doc.into_step().map_err(|keys| {
            let msg = if keys.is_empty() {
                "a step needs one kind: assert, assertNever, apply, patch, delete, wait, tcp, udp, distribution, rejection, flowAffinity, convergence or branch".to_string()
            } else {
                format!("a step has exactly one kind, found {}", keys.join(", "))
            };
            invalid(at, &field(""), msg)
        })?;
        check_step(&step).map_err(|m| invalid(at, &field(&format!(".{}", step.kind())), m))?;
        if step.is_action() && (level.is_some() || !own_spec.is_empty()) {
            return Err(invalid(
                at,
                &field(""),
                format!(
                    "{} changes the world and checks nothing: level and spec belong on checks",
                    step.kind()
                ),
            ));
        }
        let level = level.unwrap_or(header.level);
        let cited = if own_spec.is_empty() {
            &spec_refs
        } else {
            &own_spec
        };
        check_level(level, cited).map_err(|m| invalid(at, &field(".level"), m))?;
        if let Some(name) = &only_if
            && !branches.contains(name)
        {
            return Err(invalid(
                at,
                &field(".if"),
                format!(
                    "no earlier branch step has a case named {name:?}{}",
                    if branches.is_empty() {
                        String::new()
                    } else {
                        format!(" (cases: {})", branches.join(", "))
                    }
                ),
            ));
        }
        if let Step::Branch(b) = &step {
            for case in &b.cases {
                if branches.contains(&case.name) {
                    return Err(invalid(
                        at,
                        &field(".branch.cases"),
                        format!("case name {:?} is used twice in this test", case.name),
                    ));
                }
                branches.push(case.name.clone());
            }
        }
        steps.push(TestStep {
            step,
            level,
            spec: own_spec,
            only_if,
        });
    }
    if header.level == Level::May && !steps.iter().any(|s| matches!(s.step, Step::Branch(_))) {
        return Err(invalid(
            lines.key("level"),
            "level",
            "a may test checks each behaviour the spec allows: it needs a branch step".into(),
        ));
    }

    let mut manifests = Vec::new();
    for (i, doc) in docs.enumerate() {
        // The last start found when the YAML parser split the text in more
        // documents than the scan of `---` lines saw.
        let line = starts.get(i + 1).or(starts.last()).copied().unwrap_or(1);
        let value: serde_json::Value = serde_path_to_error::deserialize(doc).map_err(|e| {
            invalid(
                line,
                &format!("documents[{}]", i + 1),
                strip_location(&e.inner().to_string()),
            )
        })?;
        if value.is_null() {
            continue; // an empty document (trailing `---`)
        }
        for key in ["apiVersion", "kind"] {
            if value.get(key).and_then(|v| v.as_str()).is_none() {
                return Err(invalid(
                    line,
                    &format!("documents[{}].{key}", i + 1),
                    format!("a manifest needs {key}"),
                ));
            }
        }
        if value
            .pointer("/metadata/name")
            .and_then(|v| v.as_str())
            .is_none()
        {
            return Err(invalid(
                line,
                &format!("documents[{}].metadata.name", i + 1),
                "a manifest needs metadata.name".into(),
            ));
        }
        manifests.push(Manifest { line, value });
    }

    let spec = TestSpec {
        name: header.name,
        description: header.description.trim().to_string(),
        features: header.features,
        upstream: header.upstream,
        provisional: header.provisional,
        level: header.level,
        spec: spec_refs,
        namespace: header
            .namespace
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string()),
        steps,
        manifests,
        source: source_name.to_string(),
    };
    check_header(&spec).map_err(|(field, m)| invalid(lines.key(field), field, m))?;
    Ok(spec)
}

fn check_header(spec: &TestSpec) -> Result<(), (&'static str, String)> {
    let pascal = spec
        .name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase())
        && spec.name.chars().all(|c| c.is_ascii_alphanumeric());
    if !pascal {
        return Err(("name", format!("{:?} is not PascalCase", spec.name)));
    }
    if spec.description.is_empty() {
        return Err(("description", "state the spec rule the test checks".into()));
    }
    if spec.features.is_empty() {
        return Err((
            "features",
            "list the features the test needs (at least Gateway)".into(),
        ));
    }
    for f in &spec.features {
        if !KNOWN_FEATURES.contains(&f.as_str()) {
            return Err((
                "features",
                format!(
                    "unknown feature {f:?}; known: {}",
                    KNOWN_FEATURES.join(", ")
                ),
            ));
        }
    }
    if spec.steps.is_empty() {
        return Err(("steps", "a test needs at least one step".into()));
    }
    Ok(())
}

/// Resolves `spec:` entries: ids against the registry, inline entries as written.
fn resolve(docs: &[step::SpecRefDoc]) -> Result<Vec<SpecRef>, String> {
    let registry = requirements::builtin()
        .map_err(|e| format!("the requirements registry does not load: {e}"))?;
    docs.iter()
        .map(|d| match d {
            step::SpecRefDoc::Id(id) => registry.get(id).map(|r| r.spec_ref()).ok_or_else(|| {
                format!(
                    "unknown requirement {id:?}: not a row of {}",
                    requirements::SOURCE
                )
            }),
            step::SpecRefDoc::Inline(i) => {
                if i.source.trim().is_empty() || i.quote.trim().is_empty() {
                    Err("an inline requirement needs a source and a quote".into())
                } else {
                    Ok(SpecRef {
                        id: None,
                        level: i.level,
                        source: i.source.clone(),
                        quote: i.quote.clone(),
                    })
                }
            }
        })
        .collect()
}

/// A level needs a requirement strong enough behind it.
fn check_level(level: Level, cited: &[SpecRef]) -> Result<(), String> {
    if requirements::supports(level, cited) {
        return Ok(());
    }
    let levels: Vec<String> = cited
        .iter()
        .map(|r| {
            format!(
                "{} ({})",
                r.id.as_deref().unwrap_or(r.source.as_str()),
                r.level
            )
        })
        .collect();
    Err(format!(
        "level {level} needs a cited requirement {}; cited: {}",
        match level {
            Level::Must => "of level must",
            Level::Should => "of level must or should",
            Level::May => "of level may",
            Level::Recommended => "(any)",
        },
        levels.join(", ")
    ))
}

/// Checks that serde cannot express.
fn check_step(step: &Step) -> Result<(), String> {
    use step::Step as S;
    let target_ok = |t: &step::Target| {
        if t.listener.is_some() == t.port.is_some() {
            Err("give exactly one of listener and port".to_string())
        } else {
            Ok(())
        }
    };
    match step {
        S::Assert(m) | S::AssertNever(m) => {
            match (step, &m.within) {
                (S::Assert(_), Some(_)) => return Err("within applies only to assertNever".into()),
                (S::AssertNever(_), None) => {
                    return Err(
                        "assertNever needs within (how long the match must stay absent)".into(),
                    );
                }
                _ => {}
            }
            if m.listener.is_some() && m.object.kind != "Gateway" {
                return Err("listener applies only to kind Gateway".into());
            }
            if m.parent.is_some() && !m.object.kind.ends_with("Route") {
                return Err("parent applies only to routes".into());
            }
            if m.no_parent_entry.is_some() && m.parent.is_none() {
                return Err("noParentEntry needs parent".into());
            }
            Ok(())
        }
        // Payloads are built in memory and sent whole: bound them by what the
        // echo server accepts (16GiB was accepted, then built in memory).
        S::Tcp(t) => {
            target_ok(&t.target)?;
            match t.payload {
                Some(p) if p.0 > MAX_ECHO => Err(format!(
                    "payload {} bytes is over the limit of {MAX_ECHO} bytes (64MiB)",
                    p.0
                )),
                _ => Ok(()),
            }
        }
        S::Udp(u) => {
            target_ok(&u.target)?;
            match u.payload {
                Some(p) if p.0 > MAX_DATAGRAM as u64 => Err(format!(
                    "payload {} bytes does not fit a UDP datagram (at most {MAX_DATAGRAM})",
                    p.0
                )),
                _ => Ok(()),
            }
        }
        S::Distribution(d) => {
            target_ok(&d.target)?;
            if d.weights.values().all(|w| *w == 0) {
                return Err("at least one weight must be non-zero".into());
            }
            Ok(())
        }
        S::Rejection(r) => {
            target_ok(&r.target)?;
            if !(0.0..=1.0).contains(&r.share) {
                return Err(format!("share {} is not between 0 and 1", r.share));
            }
            Ok(())
        }
        S::FlowAffinity(f) => {
            target_ok(&f.target)?;
            if f.flows == 0 || f.datagrams < 2 {
                return Err("need at least one flow and two datagrams per flow".into());
            }
            Ok(())
        }
        S::Convergence(c) => target_ok(&c.target),
        S::Branch(b) => {
            if b.cases.len() < 2 {
                return Err("a branch needs at least two cases (one is an assert)".into());
            }
            for case in &b.cases {
                if case.when.is_empty() {
                    return Err(format!(
                        "case {:?} needs at least one status match in when",
                        case.name
                    ));
                }
                for m in &case.when {
                    if m.within.is_some() {
                        return Err("within applies only to assertNever".into());
                    }
                    check_step(&S::Assert(m.clone()))
                        .map_err(|e| format!("case {:?}: {e}", case.name))?;
                }
            }
            Ok(())
        }
        S::Apply(_) | S::Patch(_) | S::Delete(_) | S::Wait(_) => Ok(()),
    }
}

/// Line numbers (1-based) where each YAML document starts: after each
/// `---`, and after each `...` (document end) unless a `---` opens the
/// next document explicitly.
/// The line, counting `\n` as every other line number here and editors do,
/// that holds libyaml's 1-based line `yaml_line`: libyaml also breaks lines
/// at a lone CR, NEL, LS and PS (YAML 1.1), so `?\u{2028}¡` was reported at
/// line 3 of a one-line file (found by `fuzz_suite`).
fn newline_line(text: &str, yaml_line: usize) -> usize {
    let (mut yaml, mut newline) = (1, 1);
    let mut chars = text.chars().peekable();
    while yaml < yaml_line {
        let Some(c) = chars.next() else { break };
        match c {
            '\n' => (yaml, newline) = (yaml + 1, newline + 1),
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                (yaml, newline) = (yaml + 1, newline + 1);
            }
            '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => yaml += 1,
            _ => {}
        }
    }
    newline
}

fn document_lines(text: &str) -> Vec<usize> {
    let mut starts = vec![1];
    // At the file's start and after `...`, a `---` opens the document that
    // is already counted rather than a new one.
    let mut opening = true;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line == "---" {
            if opening {
                *starts.last_mut().expect("never empty") = i + 2;
            } else {
                starts.push(i + 2);
            }
            opening = false;
        } else if line == "..." {
            starts.push(i + 2);
            opening = true;
        } else if !line.trim_start().is_empty() && !line.trim_start().starts_with('#') {
            opening = false;
        }
    }
    starts
}

/// Where the header document's fields start, so errors found after
/// deserialisation (which has no positions) still name a line.
struct HeaderLines {
    /// Top-level key → its line (1-based).
    keys: BTreeMap<String, usize>,
    /// The line of each item of a block-style `steps:` sequence.
    steps: Vec<usize>,
}

impl HeaderLines {
    /// The line of a top-level key, else 1 (the header's first line).
    fn key(&self, key: &str) -> usize {
        self.keys.get(key).copied().unwrap_or(1)
    }

    /// The line of step `i`, else of `steps:` (flow style: `steps: [...]`).
    fn step(&self, i: usize) -> usize {
        self.steps
            .get(i)
            .copied()
            .unwrap_or_else(|| self.key("steps"))
    }

    /// The line of a field path such as `steps[2].tcp.port` or `level`.
    fn of_path(&self, path: &str) -> usize {
        if let Some(rest) = path.strip_prefix("steps[")
            && let Some((i, _)) = rest.split_once(']')
            && let Ok(i) = i.parse()
        {
            return self.step(i);
        }
        let key = path.split(['.', '[']).next().unwrap_or(path);
        self.key(key)
    }
}

/// Scans the header document's lines for its top-level keys and the items
/// of a block-style `steps:` list. Block scalars and nested maps are more
/// indented than both, so they are skipped; anything unusual (flow style,
/// a quoted key) only makes a line fall back to the nearest known one.
fn header_lines(text: &str) -> HeaderLines {
    let mut keys = BTreeMap::new();
    let mut steps = Vec::new();
    let mut in_steps = false;
    let mut item_indent = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim_end() == "---" {
            if i == 0 {
                continue;
            }
            break;
        }
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        let is_item = content == "-" || content.starts_with("- ");
        if indent == 0 && !is_item {
            let (key, value) = content.split_once(':').unwrap_or((content, ""));
            let key = key.trim().trim_matches(['"', '\'']);
            keys.entry(key.to_string()).or_insert(i + 1);
            in_steps =
                key == "steps" && value.split('#').next().is_some_and(|v| v.trim().is_empty());
            item_indent = None;
        } else if in_steps && is_item && item_indent.is_none_or(|n| n == indent) {
            item_indent = Some(indent);
            steps.push(i + 1);
        }
    }
    HeaderLines { keys, steps }
}

/// serde_yaml prefixes the field path and appends " at line L column C";
/// we print both ourselves.
pub(crate) fn strip_location(message: &str) -> String {
    let message = match message.find(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    match message.split_once(": ") {
        Some((head, rest)) if !head.contains(' ') => rest.to_string(),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    const HEAD: &str = "name: T\ndescription: d\nlevel: must\nspec: [{level: must, source: s, quote: q}]\nfeatures: [Gateway]\n";

    #[test]
    fn unknown_field_inside_flattened_step_is_rejected() {
        let text = format!("{HEAD}steps:\n  - tcp: {{gateway: gw, listener: tcp, bogus: 1}}\n");
        let err = super::parse("t.yaml", &text).unwrap_err().to_string();
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn a_step_level_needs_a_requirement_strong_enough() {
        let text = format!(
            "{HEAD}steps:\n  - tcp: {{gateway: gw, listener: tcp}}\n    level: should\n    spec: [{{level: recommended, source: gwl4, quote: q}}]\n"
        );
        let err = super::parse("t.yaml", &text).unwrap_err().to_string();
        assert!(
            err.contains("steps[0].level") && err.contains("must or should"),
            "{err}"
        );
    }

    #[test]
    fn unknown_requirement_ids_are_named() {
        let text = "name: T\ndescription: d\nlevel: must\nspec: [no-such-row]\nfeatures: [Gateway]\nsteps:\n  - wait: {duration: 1s, reason: r}\n";
        let err = super::parse("t.yaml", text).unwrap_err().to_string();
        assert!(
            err.contains("t.yaml:4: spec") && err.contains("no-such-row"),
            "{err}"
        );
    }

    #[test]
    fn if_must_name_an_earlier_branch_case() {
        let text =
            format!("{HEAD}steps:\n  - tcp: {{gateway: gw, listener: tcp}}\n    if: accepted\n");
        let err = super::parse("t.yaml", &text).unwrap_err().to_string();
        assert!(
            err.contains("steps[0].if") && err.contains("accepted"),
            "{err}"
        );
        let ok = format!(
            "{HEAD}steps:\n  - branch:\n      cases:\n        - {{name: accepted, when: [{{kind: TCPRoute, name: r, conditions: [Accepted]}}]}}\n        - {{name: rejected, when: [{{kind: TCPRoute, name: r, conditions: [Accepted=False]}}]}}\n  - tcp: {{gateway: gw, listener: tcp}}\n    if: accepted\n"
        );
        let spec = super::parse("t.yaml", &ok).unwrap();
        assert_eq!(spec.steps[1].only_if.as_deref(), Some("accepted"));
    }

    #[test]
    fn actions_carry_no_level() {
        let text =
            format!("{HEAD}steps:\n  - wait: {{duration: 1s, reason: r}}\n    level: should\n");
        let err = super::parse("t.yaml", &text).unwrap_err().to_string();
        assert!(err.contains("checks nothing"), "{err}");
    }
}

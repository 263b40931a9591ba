//! Fuzzing local mode's manifest validation (`cluster::local::validate`,
//! issue #24): the catalog's manifests mutated (fields removed, renamed,
//! replaced by values of another type or size, lists repeated past their
//! limits) and objects built from scratch out of the fields validation looks
//! at. The properties: validation never panics and finishes within a generous
//! bound; a refusal names the field as a path (`spec.rules[0].backendRefs[1]
//! .weight: ...`) whose indices exist in the object; the store's error names
//! the object (`Kind namespace/name: field: ...`); and an object validation
//! accepts can be applied and patched without a panic.
//!
//! `cargo test` runs 256 cases per property; a larger run by hand:
//! `PROPTEST_CASES=20000 cargo test -p harness --test fuzz_manifests`
//! (2026-12-05: 20,000 cases per property, no failure, 88 s).
//!
//! The properties share one file because they share the generators and the
//! checks.

use std::time::Duration;

use harness::cluster::ObjectKey;
use harness::cluster::local::store::Store;
use harness::cluster::local::validate;
use harness::suite::load;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Value, json};
use yaml_fuzz::{ObjectEdit, apply_object_edit, bounded};

/// Generous: validation takes microseconds; only a hang gets near this.
const BOUND: Duration = Duration::from_secs(20);

const NOW: &str = "2026-01-01T00:00:00Z";

/// Every manifest of the built-in catalog: the tests' documents and the
/// objects their `apply` steps create.
fn catalog() -> &'static [Value] {
    static MANIFESTS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    MANIFESTS.get_or_init(|| {
        let mut out = Vec::new();
        for spec in load::builtin().expect("the catalog loads") {
            out.extend(spec.manifests.into_iter().map(|m| m.value));
            for step in spec.steps {
                if let harness::suite::Step::Apply(a) = step.step {
                    for doc in serde_yaml::Deserializer::from_str(&a.manifests) {
                        let v: Value = serde::Deserialize::deserialize(doc).unwrap();
                        if !v.is_null() {
                            out.push(v);
                        }
                    }
                }
            }
        }
        assert!(out.len() > 50, "the catalog is missing: {}", out.len());
        out
    })
}

/// Checks that `message` is `field: text` and that the field is a path into
/// `object`: known top-level key, and every `[i]` an existing element.
fn assert_names_field(object: &Value, message: &str) {
    let (field, text) = message
        .split_once(": ")
        .unwrap_or_else(|| panic!("no `field: ` in {message:?}"));
    assert!(!text.trim().is_empty(), "no message: {message:?}");
    if let Some(key) = field.strip_prefix("metadata.labels.") {
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object);
        assert!(
            labels.is_some_and(|l| l.contains_key(key)),
            "{message:?} names a label the object does not have"
        );
        return;
    }
    let first = field.split(['.', '[']).next().unwrap_or("");
    assert!(
        ["kind", "apiVersion", "metadata", "spec"].contains(&first),
        "{message:?} does not start with a field"
    );
    let mut at = Some(object);
    for segment in field.split('.') {
        let (name, indices) = segment.split_once('[').unwrap_or((segment, ""));
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "{message:?}: {segment:?} is not a field name"
        );
        at = at.and_then(|v| v.get(name));
        for index in indices.split('[').filter(|s| !s.is_empty()) {
            let i: usize = index
                .strip_suffix(']')
                .and_then(|i| i.parse().ok())
                .unwrap_or_else(|| panic!("{message:?}: bad index in {segment:?}"));
            let len = at.and_then(Value::as_array).map_or(0, Vec::len);
            assert!(i < len, "{message:?}: {name} has {len} items, not [{i}]");
            at = at.and_then(|v| v.get(i));
        }
    }
}

/// Validates within the bound and checks the message; on success, applying
/// and patching the object in a store must not panic either, and a refused
/// patch names the object, then the field of the patched object.
fn check(object: Value, patch: Value) {
    let v = object.clone();
    match bounded(BOUND, move || validate::object(&v, "ns")) {
        Err(message) => assert_names_field(&object, &message),
        Ok(()) => {
            let key = ObjectKey::of(&object, "ns");
            let (k, p) = (key.clone(), patch.clone());
            let (stored, patched) = bounded(BOUND, move || {
                let mut store = Store::default();
                store.apply(object, "ns", NOW);
                // Twice: the second apply is an update of a stored object.
                store.apply(store.get(&k).unwrap().clone(), "ns", NOW);
                let stored = store.get(&k).unwrap().clone();
                let patched = store.patch(&k, &p, NOW).map(drop);
                (stored, patched.map_err(|e| e.to_string()))
            });
            if let Err(e) = patched {
                let rest = e
                    .strip_prefix(&format!("{key}: "))
                    .unwrap_or_else(|| panic!("{e:?} does not name {key}"));
                let mut merged = stored;
                json_patch::merge(&mut merged, &patch);
                assert_names_field(&merged, rest);
            }
        }
    }
}

/// Values of every JSON type and of sizes that cross the limits.
fn odd_value() -> impl Strategy<Value = Value> {
    let listener = json!({"name": "l", "port": 9000, "protocol": "TCP"});
    let backend = json!({"name": "b", "port": 1});
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![
            0i64,
            -1,
            1,
            65535,
            65536,
            1_000_000,
            1_000_001,
            i64::MAX,
            i64::MIN
        ])
        .prop_map(|n| json!(n)),
        Just(json!(u64::MAX)),
        prop::sample::select(vec![0.5f64, -0.0, 1e308, 9000.0]).prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "",
            "a",
            "TCP",
            "UDP",
            "Service",
            "Upper",
            "-a",
            "a-",
            "a..b",
            "a/b",
            "a/b/c",
            "é",
            "\u{0}",
            "\u{202e}",
            "gateway.networking.k8s.io/v1",
        ])
        .prop_map(|s| json!(s)),
        "[a-z0-9./_-]{0,300}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!([{}])),
        (0..80usize).prop_map(move |n| json!(vec![listener.clone(); n])),
        (0..40usize).prop_map(move |n| json!(vec![json!({"backendRefs": [backend.clone()]}); n])),
        (1..200usize).prop_map(|depth| (0..depth).fold(json!(1), |v, _| json!({"a": v}))),
    ]
}

/// One change to an object: fields removed, replaced or renamed, and
/// lists repeated past their limits.
fn edit() -> impl Strategy<Value = ObjectEdit> {
    prop_oneof![
        2 => any::<Index>().prop_map(ObjectEdit::Remove),
        4 => (any::<Index>(), odd_value()).prop_map(|(i, v)| ObjectEdit::Replace(i, v)),
        1 => (any::<Index>(), 0..70usize).prop_map(|(i, n)| ObjectEdit::Repeat(i, n)),
        1 => (any::<Index>(), "[a-zA-Z]{0,12}").prop_map(|(i, k)| ObjectEdit::Rename(i, k)),
    ]
}

/// A catalog manifest with one to four edits.
fn mutated() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(catalog()),
        prop::collection::vec(edit(), 1..5),
    )
        .prop_map(|(mut v, edits)| {
            for e in &edits {
                apply_object_edit(&mut v, e);
            }
            v
        })
}

/// JSON built from the keys validation reads, nested at random.
fn field_soup() -> impl Strategy<Value = Value> {
    const KEYS: &[&str] = &[
        "name",
        "port",
        "protocol",
        "hostname",
        "tls",
        "weight",
        "group",
        "kind",
        "listeners",
        "rules",
        "backendRefs",
        "parentRefs",
        "gatewayClassName",
        "selector",
        "matchLabels",
        "template",
        "spec",
        "containers",
        "labels",
    ];
    let leaf = odd_value();
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// An object of a kind validation knows (or not), with arbitrary fields.
fn from_scratch() -> impl Strategy<Value = Value> {
    let kinds: Vec<(&str, &str)> = validate::KINDS
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| (*k, *v)))
        .chain([("ConfigMap", "v1"), ("Gateway", "v1"), ("", "")])
        .collect();
    (
        prop::sample::select(kinds),
        "[a-z0-9.-]{0,12}",
        prop::collection::btree_map("[a-z./-]{0,10}", "[A-Za-z0-9._-]{0,10}", 0..3),
        field_soup(),
    )
        .prop_map(|((kind, api), name, labels, spec)| {
            json!({"apiVersion": api, "kind": kind,
                   "metadata": {"name": name, "labels": labels}, "spec": spec})
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Cases from the environment (PROPTEST_CASES) or 256.
        cases: ProptestConfig::default().cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fuzz_manifests.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_catalog_manifests_are_accepted_or_name_the_field(object in mutated(), patch in field_soup()) {
        check(object, json!({"spec": patch}));
    }

    #[test]
    fn objects_from_scratch_are_accepted_or_name_the_field(object in from_scratch(), patch in field_soup()) {
        check(object, patch);
    }
}

/// The untouched catalog validates: the mutations start from valid objects.
#[test]
fn the_catalog_manifests_validate() {
    for m in catalog() {
        if let Err(e) = validate::object(m, "ns") {
            panic!("{e}\n{m:#}");
        }
    }
}

/// The generators reach both outcomes, so the properties test refusals
/// and the store alike (fixed seed: the same cases every run).
#[test]
fn the_generators_reach_acceptance_and_refusal() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let count = |runner: &mut TestRunner, s: &dyn Fn(&mut TestRunner) -> Value| {
        let mut accepted = 0;
        let mut fields = std::collections::BTreeSet::new();
        for _ in 0..400 {
            match validate::object(&s(runner), "ns") {
                Ok(()) => accepted += 1,
                Err(e) => {
                    fields.insert(e.split_once(": ").map(|(f, _)| f.to_string()).unwrap());
                }
            }
        }
        (accepted, fields)
    };
    let (accepted, fields) = count(&mut runner, &|r| mutated().new_tree(r).unwrap().current());
    eprintln!("mutated: {accepted}/400 accepted; refused fields: {fields:?}");
    assert!((40..=360).contains(&accepted), "{accepted}");
    assert!(fields.len() >= 10, "{fields:?}");
    let (accepted, fields) = count(&mut runner, &|r| {
        from_scratch().new_tree(r).unwrap().current()
    });
    eprintln!("from scratch: {accepted}/400 accepted; refused fields: {fields:?}");
    assert!(accepted >= 10, "{accepted}");
    assert!(fields.len() >= 5, "{fields:?}");
}

// Regression cases found while writing this fuzzer (reading what its
// property checks), kept readable.

/// A listener port written as a string (or a fraction) was reported as
/// "Invalid value: 0"; the message now shows the value as written.
#[test]
fn regression_a_port_that_is_not_an_integer_is_shown_as_written() {
    let gw = |port: Value| {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "g"}, "spec": {"gatewayClassName": "c",
               "listeners": [{"name": "a", "port": port, "protocol": "TCP"}]}})
    };
    let err = validate::object(&gw(json!("9000")), "ns").unwrap_err();
    assert!(
        err.starts_with("spec.listeners[0].port: Invalid value: \"9000\""),
        "{err}"
    );
    let err = validate::object(&gw(Value::Null), "ns").unwrap_err();
    assert_eq!(err, "spec.listeners[0].port: Required value");
    assert_eq!(validate::object(&gw(json!(9000)), "ns"), Ok(()));
}

/// A weight that is not an integer was silently ignored; a name that is not
/// a string was reported as the empty name.
#[test]
fn regression_weights_and_names_of_the_wrong_type_are_refused() {
    let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "TCPRoute",
        "metadata": {"name": "r"},
        "spec": {"rules": [{"backendRefs": [{"name": "s", "port": 1, "weight": "1"}]}]}});
    let err = validate::object(&route, "ns").unwrap_err();
    assert!(
        err.starts_with("spec.rules[0].backendRefs[0].weight: Invalid value: \"1\""),
        "{err}"
    );
    let named = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": 5}});
    let err = validate::object(&named, "ns").unwrap_err();
    assert_eq!(err, "metadata.name: Invalid value: 5: must be a string");
}

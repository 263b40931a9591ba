//! Strict parsing of multi-document YAML into a [`Snapshot`].
//!
//! The foreign types do not `deny_unknown_fields`, so each document is read
//! as a `serde_json::Value`, deserialised into the typed object (errors carry
//! the field path via `serde_path_to_error`), serialised back, and any field
//! of the input that the round trip lost is reported as unknown. Only the
//! kinds a gateway needs are accepted: anything else in a config directory
//! is a mistake worth a clear error, not a silent skip.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ApiVersion, Snapshot, Versioned};

/// One YAML document of a multi-document text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document<'a> {
    /// 1-based position in the text.
    pub index: usize,
    /// 1-based line where the document's content starts.
    pub line: usize,
    /// The document's text (without the `---` separator).
    pub text: &'a str,
}

/// Splits multi-document YAML at `---` lines (a line that is `---`, possibly
/// followed by spaces and a comment). Separators are only recognised at
/// column 0, where block scalars cannot be, so splitting is exact for the
/// YAML Kubernetes manifests use.
pub fn documents(text: &str) -> Vec<Document<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        // `---` alone or followed by a comment; content after the marker
        // (`--- {a: 1}`) is left to the YAML parser, which refuses it.
        let is_separator = line.strip_prefix("---").is_some_and(|rest| {
            let body = rest.trim();
            body.is_empty() || (rest.starts_with(char::is_whitespace) && body.starts_with('#'))
        });
        if is_separator {
            out.push((start, offset, start_line));
            start = offset + line.len();
            // The next line, or this one when the text ends here without a
            // newline (the empty last document is on the separator's line).
            start_line = number + 1 + usize::from(line.ends_with('\n'));
        }
        offset += line.len();
    }
    out.push((start, text.len(), start_line));
    out.into_iter()
        .enumerate()
        .map(|(i, (from, to, line))| Document {
            index: i + 1,
            line,
            text: &text[from..to],
        })
        .collect()
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Not valid YAML.
    Yaml(String),
    /// Not a mapping with string `apiVersion` and `kind`.
    NotAnObject(String),
    /// A kind (or version) this gateway does not read.
    UnsupportedKind {
        /// The document's `apiVersion`.
        api_version: String,
        /// The document's `kind`.
        kind: String,
    },
    /// `metadata.name` is missing.
    MissingName,
    /// A field has the wrong type or value.
    InvalidField {
        /// Path of the field, e.g. `spec.listeners[0].port`.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A field the type does not have.
    UnknownField(String),
    /// A v1 TCPRoute/UDPRoute with other than exactly one rule.
    RuleCount(usize),
    /// The same kind/namespace/name was already added.
    Duplicate,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Yaml(e) => write!(f, "invalid YAML: {e}"),
            Problem::NotAnObject(e) => write!(f, "not a Kubernetes object: {e}"),
            Problem::UnsupportedKind { api_version, kind } => write!(
                f,
                "unsupported kind {kind} (apiVersion {api_version}); accepted: {}",
                ACCEPTED.join(", ")
            ),
            Problem::MissingName => write!(f, "metadata.name is missing"),
            Problem::InvalidField { path, message } => write!(f, "field `{path}`: {message}"),
            Problem::UnknownField(path) => write!(f, "unknown field `{path}`"),
            Problem::RuleCount(n) => {
                write!(
                    f,
                    "field `spec.rules`: v1 allows exactly one rule, found {n}"
                )
            }
            Problem::Duplicate => write!(f, "defined more than once"),
        }
    }
}

/// A document that could not be added, with where it is and what it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}: document {document}{}: {problem}", object_suffix(.object))]
pub struct ParseError {
    /// The source name given to the parser (a file path).
    pub source_name: String,
    /// 1-based document index.
    pub document: usize,
    /// 1-based line where the document starts.
    pub line: usize,
    /// `Kind namespace/name` when known.
    pub object: Option<String>,
    /// What is wrong.
    pub problem: Problem,
}

fn object_suffix(object: &Option<String>) -> String {
    object
        .as_ref()
        .map(|o| format!(" ({o})"))
        .unwrap_or_default()
}

/// The accepted `apiVersion` `kind` pairs, for the error message.
const ACCEPTED: &[&str] = &[
    "gateway.networking.k8s.io/v1|v1beta1 GatewayClass",
    "gateway.networking.k8s.io/v1|v1beta1 Gateway",
    "gateway.networking.k8s.io/v1|v1alpha2 TCPRoute",
    "gateway.networking.k8s.io/v1|v1alpha2 UDPRoute",
    "gateway.networking.k8s.io/v1|v1beta1 ReferenceGrant",
    "v1 Service",
    "v1 Namespace",
    "discovery.k8s.io/v1 EndpointSlice",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    GatewayClass,
    Gateway,
    TcpRoute,
    UdpRoute,
    ReferenceGrant,
    Service,
    EndpointSlice,
    Namespace,
}

fn classify(api_version: &str, kind: &str) -> Option<(Kind, ApiVersion)> {
    let gateway = match api_version {
        "gateway.networking.k8s.io/v1" => Some(ApiVersion::V1),
        "gateway.networking.k8s.io/v1beta1" => Some(ApiVersion::V1beta1),
        "gateway.networking.k8s.io/v1alpha2" => Some(ApiVersion::V1alpha2),
        _ => None,
    };
    let found = match (gateway, kind) {
        (Some(v @ (ApiVersion::V1 | ApiVersion::V1beta1)), "GatewayClass") => {
            (Kind::GatewayClass, v)
        }
        (Some(v @ (ApiVersion::V1 | ApiVersion::V1beta1)), "Gateway") => (Kind::Gateway, v),
        (Some(v @ (ApiVersion::V1 | ApiVersion::V1alpha2)), "TCPRoute") => (Kind::TcpRoute, v),
        (Some(v @ (ApiVersion::V1 | ApiVersion::V1alpha2)), "UDPRoute") => (Kind::UdpRoute, v),
        (Some(v @ (ApiVersion::V1 | ApiVersion::V1beta1)), "ReferenceGrant") => {
            (Kind::ReferenceGrant, v)
        }
        // Core kinds: the ApiVersion value is unused for them.
        (None, "Service") if api_version == "v1" => (Kind::Service, ApiVersion::V1),
        (None, "Namespace") if api_version == "v1" => (Kind::Namespace, ApiVersion::V1),
        (None, "EndpointSlice") if api_version == "discovery.k8s.io/v1" => {
            (Kind::EndpointSlice, ApiVersion::V1)
        }
        _ => return None,
    };
    Some(found)
}

/// A parsed object before it joins the snapshot.
enum Parsed {
    GatewayClass(gateway_api::experimental::gatewayclasses::GatewayClass),
    Gateway(gateway_api::experimental::gateways::Gateway),
    TcpRoute(Versioned<gateway_api::experimental::tcproutes::TcpRoute>),
    UdpRoute(Versioned<gateway_api::experimental::udproutes::UdpRoute>),
    ReferenceGrant(Versioned<gateway_api::experimental::referencegrants::ReferenceGrant>),
    Service(k8s_openapi::api::core::v1::Service),
    EndpointSlice(k8s_openapi::api::discovery::v1::EndpointSlice),
    Namespace(k8s_openapi::api::core::v1::Namespace),
}

pub(super) fn add_yaml(
    snapshot: &mut Snapshot,
    source: &str,
    text: &str,
) -> Result<(), ParseError> {
    let mut seen = existing_keys(snapshot);
    let mut parsed = Vec::new();
    for doc in documents(text) {
        let error = |object: Option<String>, problem| ParseError {
            source_name: source.to_string(),
            document: doc.index,
            line: doc.line,
            object,
            problem,
        };
        // Padding the document to its place in the text makes every line
        // the YAML parser reports a line of the file.
        let padded = "\n".repeat(doc.line - 1) + doc.text;
        let value: Value = match serde_yaml::from_str::<Option<Value>>(&padded) {
            Ok(Some(Value::Null)) | Ok(None) => continue, // empty or comment-only document
            Ok(Some(value)) => value,
            Err(e) => return Err(error(None, Problem::Yaml(e.to_string()))),
        };
        let (kind, object, key) = parse_object(value).map_err(|(o, p)| error(o, p))?;
        if !seen.insert(key) {
            return Err(error(Some(object), Problem::Duplicate));
        }
        parsed.push(kind);
    }
    for object in parsed {
        match object {
            Parsed::GatewayClass(o) => snapshot.gateway_classes.push(o),
            Parsed::Gateway(o) => snapshot.gateways.push(o),
            Parsed::TcpRoute(o) => snapshot.tcp_routes.push(o),
            Parsed::UdpRoute(o) => snapshot.udp_routes.push(o),
            Parsed::ReferenceGrant(o) => snapshot.reference_grants.push(o),
            Parsed::Service(o) => snapshot.services.push(o),
            Parsed::EndpointSlice(o) => snapshot.endpoint_slices.push(o),
            Parsed::Namespace(o) => snapshot.namespaces.push(o),
        }
    }
    Ok(())
}

type Key = (Kind, String, String);
type Failure = (Option<String>, Problem);

fn parse_object(mut value: Value) -> Result<(Parsed, String, Key), Failure> {
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
    let (Some(api_version), Some(kind_name)) = (field("apiVersion"), field("kind")) else {
        return Err((
            None,
            Problem::NotAnObject("apiVersion and kind must be strings".into()),
        ));
    };
    let Some((kind, version)) = classify(&api_version, &kind_name) else {
        return Err((
            None,
            Problem::UnsupportedKind {
                api_version,
                kind: kind_name,
            },
        ));
    };
    let meta = |key: &str| {
        value
            .pointer(&format!("/metadata/{key}"))
            .and_then(Value::as_str)
    };
    let Some(name) = meta("name").map(str::to_string) else {
        return Err((Some(kind_name), Problem::MissingName));
    };
    let cluster_scoped = matches!(kind, Kind::GatewayClass | Kind::Namespace);
    // kubectl puts namespaced objects without a namespace in "default".
    let namespace = if cluster_scoped {
        String::new()
    } else {
        let namespace = meta("namespace").unwrap_or("default").to_string();
        if let Some(m) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("namespace".into(), Value::String(namespace.clone()));
        }
        namespace
    };
    let label = if cluster_scoped {
        format!("{kind_name} {name}")
    } else {
        format!("{kind_name} {namespace}/{name}")
    };
    let fail = |p| (Some(label.clone()), p);
    // The crate types carry one apiVersion per kind; other accepted versions
    // share the schema, so the input is relabelled before the round trip.
    let parsed = match kind {
        Kind::GatewayClass => {
            Parsed::GatewayClass(typed(&mut value, "gateway.networking.k8s.io/v1").map_err(fail)?)
        }
        Kind::Gateway => {
            Parsed::Gateway(typed(&mut value, "gateway.networking.k8s.io/v1").map_err(fail)?)
        }
        Kind::TcpRoute => {
            let route: gateway_api::experimental::tcproutes::TcpRoute =
                typed(&mut value, "gateway.networking.k8s.io/v1alpha2").map_err(fail)?;
            check_rules(version, route.spec.rules.len()).map_err(fail)?;
            Parsed::TcpRoute(Versioned::new(version, route))
        }
        Kind::UdpRoute => {
            let route: gateway_api::experimental::udproutes::UdpRoute =
                typed(&mut value, "gateway.networking.k8s.io/v1alpha2").map_err(fail)?;
            check_rules(version, route.spec.rules.len()).map_err(fail)?;
            Parsed::UdpRoute(Versioned::new(version, route))
        }
        Kind::ReferenceGrant => Parsed::ReferenceGrant(Versioned::new(
            version,
            typed(&mut value, "gateway.networking.k8s.io/v1").map_err(fail)?,
        )),
        Kind::Service => Parsed::Service(typed(&mut value, "v1").map_err(fail)?),
        Kind::EndpointSlice => {
            Parsed::EndpointSlice(typed(&mut value, "discovery.k8s.io/v1").map_err(fail)?)
        }
        Kind::Namespace => Parsed::Namespace(typed(&mut value, "v1").map_err(fail)?),
    };
    Ok((parsed, label, (kind, namespace, name)))
}

fn check_rules(version: ApiVersion, rules: usize) -> Result<(), Problem> {
    if version == ApiVersion::V1 && rules != 1 {
        return Err(Problem::RuleCount(rules));
    }
    Ok(())
}

/// Deserialises `value` as `T` and reports any input field `T` dropped.
fn typed<T: DeserializeOwned + Serialize>(
    value: &mut Value,
    api_version: &str,
) -> Result<T, Problem> {
    value["apiVersion"] = Value::String(api_version.to_string());
    let object: T =
        serde_path_to_error::deserialize(&*value).map_err(|e| Problem::InvalidField {
            path: e.path().to_string(),
            message: e.into_inner().to_string(),
        })?;
    let back = serde_json::to_value(&object).map_err(|e| Problem::NotAnObject(e.to_string()))?;
    if let Some(path) = lost_field(value, &back, "") {
        return Err(Problem::UnknownField(path));
    }
    Ok(object)
}

/// The first path present (and non-null) in `input` but absent in `output`.
fn lost_field(input: &Value, output: &Value, path: &str) -> Option<String> {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => i.iter().find_map(|(key, value)| {
            // An empty key is shown quoted: `unknown field ``` named nothing
            // (found by fuzzing).
            let shown = if key.is_empty() { "\"\"" } else { key };
            let child = if path.is_empty() {
                shown.to_string()
            } else {
                format!("{path}.{shown}")
            };
            match o.get(key) {
                _ if value.is_null() => None,
                None => Some(child),
                Some(out) => lost_field(value, out, &child),
            }
        }),
        (Value::Array(i), Value::Array(o)) => i
            .iter()
            .zip(o)
            .enumerate()
            .find_map(|(n, (a, b))| lost_field(a, b, &format!("{path}[{n}]"))),
        _ => None,
    }
}

fn existing_keys(s: &Snapshot) -> BTreeSet<Key> {
    fn key(kind: Kind, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Key {
        let namespace = match kind {
            Kind::GatewayClass | Kind::Namespace => String::new(),
            _ => meta.namespace.clone().unwrap_or_else(|| "default".into()),
        };
        (kind, namespace, meta.name.clone().unwrap_or_default())
    }
    let mut keys = BTreeSet::new();
    keys.extend(
        s.gateway_classes
            .iter()
            .map(|o| key(Kind::GatewayClass, &o.metadata)),
    );
    keys.extend(s.gateways.iter().map(|o| key(Kind::Gateway, &o.metadata)));
    keys.extend(
        s.tcp_routes
            .iter()
            .map(|o| key(Kind::TcpRoute, &o.object.metadata)),
    );
    keys.extend(
        s.udp_routes
            .iter()
            .map(|o| key(Kind::UdpRoute, &o.object.metadata)),
    );
    keys.extend(
        s.reference_grants
            .iter()
            .map(|o| key(Kind::ReferenceGrant, &o.object.metadata)),
    );
    keys.extend(s.services.iter().map(|o| key(Kind::Service, &o.metadata)));
    keys.extend(
        s.endpoint_slices
            .iter()
            .map(|o| key(Kind::EndpointSlice, &o.metadata)),
    );
    keys.extend(
        s.namespaces
            .iter()
            .map(|o| key(Kind::Namespace, &o.metadata)),
    );
    keys
}

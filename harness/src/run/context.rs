//! What every step executor gets: the world, the test, the run's settings;
//! and what it returns: a [`StepReport`].

use std::net::SocketAddr;
use std::time::Duration;

use reports::{ConditionsEvidence, Evidence, ObjectConditions, TextEvidence};
use serde_json::Value;

use crate::cluster::{ObjectKey, World};
use crate::settings::timeout::TimeoutConfig;
use crate::suite::TestSpec;
use crate::suite::step::{Protocol, Target};

/// Settings shared by every test of a run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Timeouts.
    pub timeouts: TimeoutConfig,
    /// α, power and detectable effect per statistical step.
    pub stats: stats::Settings,
    /// Substituted for `{GATEWAY_CLASS_NAME}`.
    pub gateway_class: String,
    /// Substituted for `{ECHO_IMAGE}`.
    pub echo_image: String,
    /// `--strict`: a miss at `should` or `recommended` fails its test.
    pub strict: bool,
    /// Kube mode: the scheduler, told each Gateway address a test meets
    /// (it learns from them whether Gateways share an address).
    pub scheduler: Option<std::sync::Arc<super::schedule::Scheduler>>,
}

/// One step's executor context.
pub struct Ctx<'a, W: World> {
    /// The test's world.
    pub world: &'a W,
    /// The test.
    pub spec: &'a TestSpec,
    /// Run settings.
    pub run: &'a RunSettings,
}

/// What a step did.
#[derive(Debug, Default)]
pub struct StepReport {
    /// One line: what the step did.
    pub summary: String,
    /// Why it failed (None: it passed).
    pub failure: Option<String>,
    /// What was observed.
    pub evidence: Vec<Evidence>,
    /// A `branch` step: the case the implementation took.
    pub branch: Option<String>,
    /// What the step found below its own level, with the step's verdict
    /// otherwise holding, each with its level: a split's exact fit
    /// (recommended) or a weight-0 leak within tolerance (should), UDP loss
    /// above the bound or a session limit (recommended). Warnings, or a
    /// failure with `--strict`.
    pub warnings: Vec<(reports::Level, String)>,
}

impl StepReport {
    /// A passed step.
    pub fn pass(summary: impl Into<String>) -> StepReport {
        StepReport {
            summary: summary.into(),
            ..Default::default()
        }
    }

    /// A failed step.
    pub fn fail(summary: impl Into<String>, why: impl Into<String>) -> StepReport {
        StepReport {
            summary: summary.into(),
            failure: Some(why.into()),
            ..Default::default()
        }
    }

    /// Adds a finding at a lower level than the step's (see
    /// [`StepReport::warnings`]).
    pub fn warn(mut self, level: reports::Level, why: impl Into<String>) -> StepReport {
        self.warnings.push((level, why.into()));
        self
    }

    /// Adds evidence.
    pub fn with(mut self, e: Evidence) -> StepReport {
        self.evidence.push(e);
        self
    }

    /// Adds a text note.
    pub fn note(self, text: impl Into<String>) -> StepReport {
        self.with(Evidence::Text(TextEvidence { text: text.into() }))
    }
}

/// Replaces `{GATEWAY_CLASS_NAME}` and `{ECHO_IMAGE}` in every string.
pub fn template(value: &Value, run: &RunSettings) -> Value {
    match value {
        Value::String(s) => Value::String(
            s.replace("{GATEWAY_CLASS_NAME}", &run.gateway_class)
                .replace("{ECHO_IMAGE}", &run.echo_image),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| template(v, run)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), template(v, run)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Where a traffic step sends: the address and the listener's protocol.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// Gateway address and listener port.
    pub addr: SocketAddr,
    /// The listener's protocol.
    pub protocol: Protocol,
}

impl<W: World> Ctx<'_, W> {
    /// A key in the test's namespace unless given; the name may be
    /// `{GATEWAY_CLASS_NAME}` (the class under test).
    pub fn key(&self, kind: &str, namespace: Option<&str>, name: &str) -> ObjectKey {
        let name = name.replace("{GATEWAY_CLASS_NAME}", &self.run.gateway_class);
        ObjectKey::new(kind, namespace.unwrap_or(&self.spec.namespace), &name)
    }

    /// The Gateway's first typed address (upstream's rule) and the
    /// listener's port, polling until the Gateway has an address.
    pub async fn resolve(&self, t: &Target) -> Result<Resolved, String> {
        self.resolve_as(t, None).await
    }

    /// [`Ctx::resolve`]; a `port` that no listener has is still a target
    /// when the step knows its protocol (`protocol`): traffic to a port the
    /// Gateway no longer listens on must be rejected.
    pub async fn resolve_as(
        &self,
        t: &Target,
        protocol: Option<Protocol>,
    ) -> Result<Resolved, String> {
        let key = self.key("Gateway", t.namespace.as_deref(), &t.gateway);
        let timeout = self.run.timeouts.gateway_must_have_address;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let gw = self
                .world
                .get(&key)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("{key} does not exist"))?;
            let listeners = gw
                .pointer("/spec/listeners")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let listener = listeners.iter().find(|l| match (&t.listener, t.port) {
                (Some(name), _) => l["name"] == name.as_str(),
                (None, Some(port)) => l["port"].as_u64() == Some(u64::from(port)),
                _ => false,
            });
            let listener_port = match (listener, t.port, protocol) {
                (Some(l), _, _) => Some((
                    l["port"].as_u64().unwrap_or(0) as u16,
                    if l["protocol"] == "UDP" {
                        Protocol::Udp
                    } else {
                        Protocol::Tcp
                    },
                )),
                (None, Some(port), Some(p)) => Some((port, p)),
                (None, _, _) => None,
            };
            let Some((port, protocol)) = listener_port else {
                return Err(format!(
                    "{key} has no listener {}",
                    t.listener
                        .clone()
                        .unwrap_or_else(|| format!("on port {}", t.port.unwrap_or(0)))
                ));
            };
            let address = gw
                .pointer("/status/addresses")
                .and_then(Value::as_array)
                .and_then(|a| {
                    a.iter()
                        .find(|x| x.get("type").is_some())
                        .or(a.first())
                        .cloned()
                })
                .and_then(|a| a["value"].as_str().and_then(|v| v.parse().ok()));
            if let Some(ip) = address {
                if let Some(line) = self
                    .run
                    .scheduler
                    .as_ref()
                    .and_then(|s| s.observe(&self.spec.name, &key, ip))
                {
                    eprintln!("{line}");
                }
                return Ok(Resolved {
                    addr: SocketAddr::new(ip, port),
                    protocol,
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "{key} has no status.addresses after {timeout:?} (GatewayMustHaveAddress)"
                ));
            }
            self.world
                .changed(self.run.timeouts.default_poll_interval)
                .await;
        }
    }

    /// The conditions of the test's Gateways and routes, as evidence for a
    /// failing traffic step.
    pub async fn conditions_evidence(&self) -> Evidence {
        let mut objects = Vec::new();
        let mut keys: Vec<ObjectKey> = self
            .spec
            .manifests
            .iter()
            .map(|m| ObjectKey::of(&m.value, &self.spec.namespace))
            .filter(|k| matches!(k.kind.as_str(), "Gateway" | "TCPRoute" | "UDPRoute"))
            .collect();
        keys.dedup();
        for key in keys {
            if let Ok(Some(obj)) = self.world.get(&key).await {
                objects.push(object_conditions(&key, &obj));
            }
        }
        Evidence::Conditions(ConditionsEvidence { objects })
    }

    /// Poll interval.
    pub fn poll(&self) -> Duration {
        self.run.timeouts.default_poll_interval
    }
}

/// One object's status as YAML, for reports.
pub fn object_conditions(key: &ObjectKey, obj: &Value) -> ObjectConditions {
    let mut shown =
        serde_json::json!({"metadata": {"generation": obj.pointer("/metadata/generation")}});
    shown["status"] = obj.get("status").cloned().unwrap_or(Value::Null);
    ObjectConditions {
        kind: key.kind.clone(),
        namespace: (!key.namespace.is_empty()).then(|| key.namespace.clone()),
        name: key.name.clone(),
        yaml: serde_yaml::to_string(&shown).unwrap_or_default(),
    }
}

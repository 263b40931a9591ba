//! `apply`, `patch`, `delete` and `wait`.

use serde_json::Value;

use crate::cluster::World;
use crate::run::context::{Ctx, StepReport, template};
use crate::suite::step::{Apply, ObjectRef, Patch, Wait};

/// `apply`: inline YAML objects, templated like the test's manifests.
pub async fn apply<W: World>(ctx: &Ctx<'_, W>, step: &Apply) -> StepReport {
    let mut objects = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&step.manifests) {
        match serde::Deserialize::deserialize(doc) {
            Ok(Value::Null) => {}
            Ok(v) => objects.push(with_namespace(template(&v, ctx.run), &ctx.spec.namespace)),
            Err(e) => return StepReport::fail("apply", format!("manifests: {e}")),
        }
    }
    let names: Vec<String> = objects
        .iter()
        .map(|o| crate::cluster::ObjectKey::of(o, &ctx.spec.namespace).to_string())
        .collect();
    let summary = format!("apply {}", names.join(", "));
    match ctx.world.apply(objects).await {
        Ok(()) => StepReport::pass(summary),
        Err(e) => StepReport::fail(summary, e.to_string()),
    }
}

/// Sets `metadata.namespace` on namespaced objects that lack one.
pub fn with_namespace(mut v: Value, namespace: &str) -> Value {
    let kind = v["kind"].as_str().unwrap_or_default().to_string();
    if !crate::cluster::is_cluster_scoped(&kind) && v.pointer("/metadata/namespace").is_none() {
        v["metadata"]["namespace"] = Value::String(namespace.to_string());
    }
    v
}

/// `patch`: a merge patch of one object.
pub async fn patch<W: World>(ctx: &Ctx<'_, W>, step: &Patch) -> StepReport {
    let key = ctx.key(
        &step.object.kind,
        step.object.namespace.as_deref(),
        &step.object.name,
    );
    let summary = format!("patch {key}");
    match ctx.world.patch(&key, &template(&step.patch, ctx.run)).await {
        Ok(()) => StepReport::pass(summary),
        Err(e) => StepReport::fail(summary, e.to_string()),
    }
}

/// `delete`.
pub async fn delete<W: World>(ctx: &Ctx<'_, W>, step: &ObjectRef) -> StepReport {
    let key = ctx.key(&step.kind, step.namespace.as_deref(), &step.name);
    let summary = format!("delete {key}");
    match ctx.world.delete(&key).await {
        Ok(()) => StepReport::pass(summary),
        Err(e) => StepReport::fail(summary, e.to_string()),
    }
}

/// `wait`.
pub async fn wait(step: &Wait) -> StepReport {
    tokio::time::sleep(step.duration.0).await;
    StepReport::pass(format!("wait {} ({})", step.duration, step.reason))
}

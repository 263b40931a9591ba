//! `assert` and `assertNever`: poll an object's status (GET, no watch, so it
//! works everywhere and in unit tests) until a partial match holds, or must
//! not hold within a window.

use std::time::Duration;

use reports::{ConditionsEvidence, Evidence};

use crate::cluster::World;
use crate::run::context::{Ctx, StepReport, object_conditions};
use crate::run::status_match::evaluate;
use crate::suite::step::{AssertNever, StatusMatch};

/// The TimeoutConfig field bounding a poll of this match, by kind, as upstream.
pub fn default_timeout(m: &StatusMatch) -> &'static str {
    match (m.object.kind.as_str(), m.listener.is_some()) {
        ("Gateway", true) => "GatewayListenersMustHaveConditions",
        ("Gateway", false) => "GatewayMustHaveCondition",
        ("TCPRoute", _) => "TCPRouteMustHaveCondition",
        ("UDPRoute", _) => "UDPRouteMustHaveCondition",
        ("GatewayClass", _) => "GWCMustBeAccepted",
        _ => "GetTimeout",
    }
}

/// One line: the object and what the match wants of it.
pub fn describe(m: &StatusMatch, ns: &str) -> String {
    let mut s = format!("{} {}/{}", m.object.kind, ns, m.object.name);
    if let Some(l) = &m.listener {
        s += &format!(" listener {l}");
    }
    if let Some(p) = &m.parent {
        s += &format!(" parent {}", p.selector().name);
    }
    let mut wants: Vec<String> = m.conditions.iter().map(ToString::to_string).collect();
    if let Some(n) = m.attached_routes {
        wants.push(format!("attachedRoutes={n}"));
    }
    if let Some(k) = &m.supported_kinds {
        wants.push(format!("supportedKinds={k:?}"));
    }
    if m.has_address == Some(true) {
        wants.push("an address".into());
    }
    if m.no_parent_entry == Some(true) {
        wants.push("no parent entry".into());
    }
    if !wants.is_empty() {
        s += &format!(": {}", wants.join(", "));
    }
    s
}

/// `assert`.
pub async fn assert<W: World>(ctx: &Ctx<'_, W>, m: &StatusMatch) -> StepReport {
    let ns = m
        .object
        .namespace
        .clone()
        .unwrap_or_else(|| ctx.spec.namespace.clone());
    let key = ctx.key(&m.object.kind, Some(&ns), &m.object.name);
    let summary = describe(m, &ns);
    let timeout_name = m.timeout.as_deref().unwrap_or_else(|| default_timeout(m));
    let Some(timeout) = ctx.run.timeouts.get(timeout_name) else {
        return StepReport::fail(summary, format!("unknown timeout {timeout_name:?}"));
    };
    let controller = ctx.world.controller_name();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let (problems, seen) = match ctx.world.get(&key).await {
            Ok(Some(obj)) => match evaluate(m, &obj, &ns, controller.as_deref()) {
                Ok(()) => {
                    let ev = Evidence::Conditions(ConditionsEvidence {
                        objects: vec![object_conditions(&key, &obj)],
                    });
                    return StepReport::pass(summary).with(ev);
                }
                Err(p) => (p, Some(obj)),
            },
            Ok(None) => (vec![format!("{key} does not exist")], None),
            Err(e) => (vec![e.to_string()], None),
        };
        if tokio::time::Instant::now() >= deadline {
            let mut report = StepReport::fail(
                summary,
                format!(
                    "after {} ({timeout_name}): {}",
                    secs(timeout),
                    problems.join("; ")
                ),
            );
            if let Some(obj) = seen {
                report = report.with(Evidence::Conditions(ConditionsEvidence {
                    objects: vec![object_conditions(&key, &obj)],
                }));
            }
            return report.note(ctx.world.diagnostics());
        }
        ctx.world.changed(ctx.poll()).await;
    }
}

/// `assertNever`.
pub async fn assert_never<W: World>(ctx: &Ctx<'_, W>, m: &AssertNever) -> StepReport {
    let within = m
        .within
        .unwrap_or(crate::suite::matcher::Duration(std::time::Duration::ZERO));
    let ns = m
        .object
        .namespace
        .clone()
        .unwrap_or_else(|| ctx.spec.namespace.clone());
    let key = ctx.key(&m.object.kind, Some(&ns), &m.object.name);
    let summary = format!("never within {}: {}", within, describe(m, &ns));
    let controller = ctx.world.controller_name();
    let deadline = tokio::time::Instant::now() + within.0;
    loop {
        if let Ok(Some(obj)) = ctx.world.get(&key).await
            && evaluate(m, &obj, &ns, controller.as_deref()).is_ok()
        {
            let ev = Evidence::Conditions(ConditionsEvidence {
                objects: vec![object_conditions(&key, &obj)],
            });
            return StepReport::fail(summary, format!("{key} matched, which must not happen"))
                .with(ev);
        }
        if tokio::time::Instant::now() >= deadline {
            return StepReport::pass(summary);
        }
        ctx.world.changed(ctx.poll()).await;
    }
}

/// Seconds with one decimal.
pub fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

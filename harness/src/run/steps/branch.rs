//! `branch`: where the spec allows several behaviours, find out which one
//! the implementation took. Every poll tries the cases in order and takes
//! the first whose status matches all hold; the runner then runs only the
//! steps marked `if:` with that case (and the unmarked ones).

use reports::{ConditionsEvidence, Evidence};

use super::status::{default_timeout, describe, secs};
use crate::cluster::World;
use crate::run::context::{Ctx, StepReport, object_conditions};
use crate::run::status_match::evaluate;
use crate::suite::step::{Branch, StatusMatch};

/// `branch`.
pub async fn branch<W: World>(ctx: &Ctx<'_, W>, step: &Branch) -> StepReport {
    let names: Vec<&str> = step.cases.iter().map(|c| c.name.as_str()).collect();
    let summary = format!("which allowed behaviour: {}", names.join(" or "));
    let timeout_name = step
        .timeout
        .as_deref()
        .or_else(|| {
            step.cases
                .first()
                .and_then(|c| c.when.first())
                .map(default_timeout)
        })
        .unwrap_or("GetTimeout");
    let Some(timeout) = ctx.run.timeouts.get(timeout_name) else {
        return StepReport::fail(summary, format!("unknown timeout {timeout_name:?}"));
    };
    let controller = ctx.world.controller_name();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut misses = Vec::new();
        let mut seen = Vec::new();
        for case in &step.cases {
            match holds(ctx, &case.when, controller.as_deref()).await {
                Ok(objects) => {
                    let lines: Vec<String> = case
                        .when
                        .iter()
                        .map(|m| describe(m, namespace(ctx, m)))
                        .collect();
                    return StepReport {
                        summary: format!("{summary}: took {}", case.name),
                        branch: Some(case.name.clone()),
                        ..StepReport::default()
                    }
                    .note(format!("branch {} holds: {}", case.name, lines.join("; ")))
                    .with(Evidence::Conditions(ConditionsEvidence { objects }));
                }
                Err((problems, objects)) => {
                    misses.push(format!("{}: {}", case.name, problems.join("; ")));
                    seen = objects;
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            let mut report = StepReport::fail(
                summary,
                format!(
                    "after {} ({timeout_name}) the status matched none of the behaviours the spec allows: {}",
                    secs(timeout),
                    misses.join(" | ")
                ),
            );
            if !seen.is_empty() {
                report = report.with(Evidence::Conditions(ConditionsEvidence { objects: seen }));
            }
            return report.note(ctx.world.diagnostics());
        }
        ctx.world.changed(ctx.poll()).await;
    }
}

fn namespace<'a, W: World>(ctx: &'a Ctx<'_, W>, m: &'a StatusMatch) -> &'a str {
    m.object.namespace.as_deref().unwrap_or(&ctx.spec.namespace)
}

/// Whether every match holds now; the objects read, either way.
async fn holds<W: World>(
    ctx: &Ctx<'_, W>,
    when: &[StatusMatch],
    controller: Option<&str>,
) -> Result<Vec<reports::ObjectConditions>, (Vec<String>, Vec<reports::ObjectConditions>)> {
    let mut problems = Vec::new();
    let mut objects = Vec::new();
    for m in when {
        let ns = namespace(ctx, m);
        let key = ctx.key(&m.object.kind, Some(ns), &m.object.name);
        match ctx.world.get(&key).await {
            Ok(Some(obj)) => {
                if let Err(p) = evaluate(m, &obj, ns, controller) {
                    problems.extend(p);
                }
                objects.push(object_conditions(&key, &obj));
            }
            Ok(None) => problems.push(format!("{key} does not exist")),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if problems.is_empty() {
        Ok(objects)
    } else {
        Err((problems, objects))
    }
}

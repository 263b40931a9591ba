//! The runner: turns each test into a libtest-mimic trial and runs its steps
//! against a cluster backend's world, emitting `reports::TestEvent`s.
//!
//! A test's steps run in order. A step that misses at level `must` or `may`
//! (or at any level with `--strict`) fails the test, and the rest are
//! reported as skipped; one that misses at `should` or `recommended` is a
//! warning and the test goes on. A `branch` step records which of the
//! spec's allowed behaviours the implementation took; steps with `if:` for
//! another branch are skipped. Set-up (applying the base and the test's
//! manifests) failing fails the test with the API's message.

pub mod context;
pub mod events;
pub mod gateway_metrics;
pub mod schedule;
pub mod status_match;
pub mod steps;

use std::time::Duration;

use reports::{
    StepFinished, StepOutcome, StepRecord, TestEvent, TestFinished, TestResult, TestStarted,
};
use serde_json::Value;

use self::context::{Ctx, RunSettings, StepReport, template};
use self::events::Events;
use self::steps::{branch, converge, mutate, split, status, traffic};
use crate::cluster::World;
use crate::suite::{Step, TestSpec, TestStep};

/// Base manifests applied before every test: the conformance namespaces.
pub const BASE_MANIFESTS: &str = include_str!("../../../manifests/base/namespaces.yaml");

/// The base manifests as objects.
pub fn base_objects() -> Vec<Value> {
    serde_yaml::Deserializer::from_str(BASE_MANIFESTS)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// The `TestStarted` event for a test.
pub fn started(spec: &TestSpec) -> TestEvent {
    TestEvent::TestStarted(TestStarted {
        name: spec.name.clone(),
        description: spec.description.clone(),
        features: spec.features.clone(),
        upstream: spec.upstream.clone(),
        provisional: spec.provisional,
        level: spec.level,
        spec: spec.spec.clone(),
    })
}

/// A test's verdict, and how long applying its manifests took.
#[derive(Debug)]
pub struct Ran {
    /// The verdict.
    pub result: TestResult,
    /// Applying the manifests, workloads rolling out included.
    pub setup: Duration,
}

/// Runs one test in `world` (the caller emits `TestStarted` and
/// `TestFinished`, and cleans the world up).
pub async fn run_test<W: World>(
    world: &W,
    spec: &TestSpec,
    run: &RunSettings,
    events: &Events,
) -> Ran {
    let begin = tokio::time::Instant::now();
    let result = run_steps(world, spec, run, events, begin).await;
    Ran {
        result: result.0,
        setup: result.1,
    }
}

async fn run_steps<W: World>(
    world: &W,
    spec: &TestSpec,
    run: &RunSettings,
    events: &Events,
    begin: tokio::time::Instant,
) -> (TestResult, Duration) {
    let mut objects = base_objects();
    objects.extend(
        spec.manifests
            .iter()
            .map(|m| mutate::with_namespace(template(&m.value, run), &spec.namespace)),
    );
    if let Err(e) = world.apply(objects).await {
        let message = format!("applying the test's manifests: {e}");
        return (TestResult::Failed { message }, begin.elapsed());
    }
    let setup = begin.elapsed();
    let ctx = Ctx { world, spec, run };
    let metrics_before = world.gateway_metrics().await;
    let mut failed: Option<String> = None;
    let mut warnings: Vec<String> = Vec::new();
    let mut took: Vec<String> = Vec::new();
    let mut gateway_dead = false;
    for (index, step) in spec.steps.iter().enumerate() {
        let not_run = if failed.is_some() {
            Some("not run: an earlier step failed".to_string())
        } else {
            step.only_if
                .as_ref()
                .filter(|b| !took.contains(b))
                .map(|b| {
                    format!("not run: only for branch {b}, and the implementation took another")
                })
        };
        if let Some(why) = not_run {
            events.emit(step_event(
                spec,
                index,
                step,
                StepReport::pass(why),
                Duration::ZERO,
                StepOutcome::Skipped,
            ));
            continue;
        }
        let start = tokio::time::Instant::now();
        events.doing(
            &spec.name,
            &format!("step {} {}", index + 1, step.step.kind()),
        );
        let mut report = execute(&ctx, &step.step).await;
        // A gateway that died fails the test for that, whatever the step
        // saw afterwards (a dead gateway drops everything, which a step
        // expecting drops would pass).
        if !gateway_dead && let Some(exit) = world.gateway_exit() {
            gateway_dead = true;
            let then = report
                .failure
                .take()
                .map(|f| format!("; the step then failed: {f}"))
                .unwrap_or_default();
            report.failure = Some(format!("{exit}\n(during this step{then})"));
            report.warnings.clear();
        }
        if let Some(b) = &report.branch {
            took.push(b.clone());
        }
        // A miss at the step's level, or (the step's own verdict holding)
        // findings at lower levels inside it.
        let lower: Vec<String> = report
            .warnings
            .iter()
            .map(|(level, why)| format!("({level}) {why}"))
            .collect();
        let (outcome, why, level) = match &report.failure {
            Some(f) if gateway_dead || fails_test(step, run) => {
                (StepOutcome::Failed, Some(f.clone()), step.level)
            }
            Some(f) => (StepOutcome::Warned, Some(f.clone()), step.level),
            None if lower.is_empty() => (StepOutcome::Passed, None, step.level),
            None => {
                let outcome = if run.strict {
                    StepOutcome::Failed
                } else {
                    StepOutcome::Warned
                };
                let level = report
                    .warnings
                    .iter()
                    .map(|(l, _)| *l)
                    .min()
                    .unwrap_or(reports::Level::Recommended);
                (outcome, Some(lower.join("; ")), level)
            }
        };
        if let Some(why) = why {
            let line = format!(
                "step {} ({}, {level}: {}): {why}",
                index + 1,
                step.step.kind(),
                report.summary
            );
            if outcome == StepOutcome::Failed {
                failed = Some(line);
            } else {
                warnings.push(line);
            }
        }
        events.emit(step_event(
            spec,
            index,
            step,
            report,
            start.elapsed(),
            outcome,
        ));
    }
    if let (Some(before), Some(after)) = (metrics_before, world.gateway_metrics().await) {
        let moved = gateway_metrics::deltas(
            &gateway_metrics::counters(&before),
            &gateway_metrics::counters(&after),
        );
        let report = StepReport::pass("the gateway's own counters during the test (its /metrics)")
            .note(if moved.is_empty() {
                "no counter moved".to_string()
            } else {
                moved.join("\n")
            });
        events.emit(TestEvent::StepFinished(StepFinished {
            test: spec.name.clone(),
            step: StepRecord {
                index: spec.steps.len(),
                kind: "gatewayMetrics".into(),
                summary: report.summary,
                outcome: StepOutcome::Passed,
                level: spec.level,
                spec: Vec::new(),
                elapsed: Duration::ZERO,
                evidence: report.evidence,
            },
        }));
    }
    let result = match failed {
        Some(message) => TestResult::Failed { message },
        None if !warnings.is_empty() => TestResult::Warned {
            message: warnings.join("\n"),
        },
        None => TestResult::Passed,
    };
    (result, setup)
}

/// Whether a step's miss fails its test: actions and `must`/`may` checks
/// always, `should` and `recommended` checks only with `--strict`.
fn fails_test(step: &TestStep, run: &RunSettings) -> bool {
    step.step.is_action() || step.level.fails_by_default() || run.strict
}

fn step_event(
    spec: &TestSpec,
    index: usize,
    step: &TestStep,
    report: StepReport,
    elapsed: Duration,
    outcome: StepOutcome,
) -> TestEvent {
    let mut summary = report.summary;
    let word = match outcome {
        StepOutcome::Warned => "WARNING",
        _ => "FAILED",
    };
    if let Some(why) = report.failure {
        summary = format!("{summary} — {word}: {why}");
    } else if !report.warnings.is_empty() {
        let lower: Vec<String> = report
            .warnings
            .iter()
            .map(|(level, why)| format!("({level}) {why}"))
            .collect();
        summary = format!("{summary} — {word}: {}", lower.join("; "));
    }
    TestEvent::StepFinished(StepFinished {
        test: spec.name.clone(),
        step: StepRecord {
            index,
            kind: step.step.kind().to_string(),
            summary,
            outcome,
            level: step.level,
            spec: step.spec.clone(),
            elapsed,
            evidence: report.evidence,
        },
    })
}

/// The `TestFinished` event.
pub fn finished(spec: &TestSpec, result: TestResult, elapsed: Duration) -> TestEvent {
    timed(spec, result, elapsed, None)
}

/// The `TestFinished` event with the time outside its steps.
pub fn timed(
    spec: &TestSpec,
    result: TestResult,
    elapsed: Duration,
    timing: Option<reports::Timing>,
) -> TestEvent {
    TestEvent::TestFinished(TestFinished {
        test: spec.name.clone(),
        result,
        elapsed,
        timing,
    })
}

async fn execute<W: World>(ctx: &Ctx<'_, W>, step: &Step) -> StepReport {
    match step {
        Step::Assert(m) => status::assert(ctx, m).await,
        Step::AssertNever(s) => status::assert_never(ctx, s).await,
        Step::Apply(s) => mutate::apply(ctx, s).await,
        Step::Patch(s) => mutate::patch(ctx, s).await,
        Step::Delete(s) => mutate::delete(ctx, s).await,
        Step::Wait(s) => mutate::wait(s).await,
        Step::Tcp(s) => traffic::tcp(ctx, s).await,
        Step::Udp(s) => traffic::udp(ctx, s).await,
        Step::Distribution(s) => split::distribution(ctx, s).await,
        Step::Rejection(s) => split::rejection(ctx, s).await,
        Step::FlowAffinity(s) => traffic::flow_affinity(ctx, s).await,
        Step::Convergence(s) => converge::convergence(ctx, s).await,
        Step::Branch(s) => branch::branch(ctx, s).await,
    }
}

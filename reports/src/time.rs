//! Where a run's time went: the slowest tests and what each waited on.
//!
//! A test's time is split by what it was doing: `setup` (applying its
//! manifests, workloads rolling out), `status` (assert and assertNever
//! steps waiting for conditions), `changes` (apply, patch and delete
//! steps), `traffic` (tcp and udp probes), `statistics` (distribution,
//! rejection and flowAffinity samples), `convergence`, `waits` (`wait`
//! steps) and `cleanup`; and, outside its own time, `queued` (waiting for
//! a test that held an object or port it needs).

use std::time::Duration;

use crate::record::{RunRecord, TestRecord};

/// What a step kind's time counts as.
pub fn phase_of(step_kind: &str) -> &'static str {
    match step_kind {
        "assert" | "assertNever" | "branch" => "status",
        "apply" | "patch" | "delete" => "changes",
        "tcp" | "udp" => "traffic",
        "distribution" | "rejection" | "flowAffinity" => "statistics",
        "convergence" => "convergence",
        "wait" => "waits",
        _ => "other",
    }
}

/// One test's time by phase, largest first (zero phases left out).
pub fn phases(test: &TestRecord) -> Vec<(&'static str, Duration)> {
    let mut out: Vec<(&'static str, Duration)> = Vec::new();
    let mut add = |phase: &'static str, d: Duration| {
        if d.is_zero() {
            return;
        }
        match out.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, total)) => *total += d,
            None => out.push((phase, d)),
        }
    };
    if let Some(t) = &test.timing {
        add("setup", t.setup);
        add("cleanup", t.cleanup);
    }
    for step in &test.steps {
        add(phase_of(&step.kind), step.elapsed);
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    out
}

/// The `n` slowest finished tests, one line each: name, time, the phases,
/// and any wait for another test.
pub fn slowest(record: &RunRecord, n: usize) -> Vec<String> {
    let mut tests: Vec<(&TestRecord, Duration)> = record
        .tests
        .iter()
        .filter_map(|t| t.elapsed.filter(|d| !d.is_zero()).map(|d| (t, d)))
        .collect();
    tests.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.info.name.cmp(&b.0.info.name)));
    tests
        .into_iter()
        .take(n)
        .map(|(t, elapsed)| {
            let parts: Vec<String> = phases(t)
                .iter()
                .map(|(p, d)| format!("{p} {:.1} s", d.as_secs_f64()))
                .collect();
            let mut line = format!(
                "{} {:.1} s: {}",
                t.info.name,
                elapsed.as_secs_f64(),
                parts.join(", ")
            );
            if let Some(timing) = t.timing.as_ref().filter(|t| !t.queued.is_zero()) {
                line.push_str(&format!(
                    "; before it, queued {:.1} s{}",
                    timing.queued.as_secs_f64(),
                    timing
                        .queued_behind
                        .as_deref()
                        .map(|b| format!(" behind {b}"))
                        .unwrap_or_default()
                ));
            }
            line
        })
        .collect()
}

/// Total time tests spent queued behind others.
pub fn queued(record: &RunRecord) -> Duration {
    record
        .tests
        .iter()
        .filter_map(|t| t.timing.as_ref())
        .map(|t| t.queued)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{StepOutcome, StepRecord, TestStarted, Timing};

    fn step(kind: &str, ms: u64) -> StepRecord {
        StepRecord {
            index: 0,
            kind: kind.into(),
            summary: String::new(),
            outcome: StepOutcome::Passed,
            level: Default::default(),
            spec: Vec::new(),
            elapsed: Duration::from_millis(ms),
            evidence: Vec::new(),
        }
    }

    fn test(
        name: &str,
        elapsed_ms: u64,
        steps: Vec<StepRecord>,
        timing: Option<Timing>,
    ) -> TestRecord {
        TestRecord {
            info: TestStarted {
                name: name.into(),
                description: String::new(),
                features: Vec::new(),
                upstream: None,
                provisional: false,
                level: Default::default(),
                spec: Vec::new(),
            },
            steps,
            result: None,
            elapsed: Some(Duration::from_millis(elapsed_ms)),
            timing,
        }
    }

    #[test]
    fn phases_add_up_by_kind_largest_first() {
        let t = test(
            "T",
            5000,
            vec![
                step("assert", 300),
                step("distribution", 3000),
                step("assertNever", 200),
                step("tcp", 100),
            ],
            Some(Timing {
                setup: Duration::from_millis(800),
                cleanup: Duration::from_millis(600),
                ..Timing::default()
            }),
        );
        let p = phases(&t);
        assert_eq!(
            p,
            vec![
                ("statistics", Duration::from_millis(3000)),
                ("setup", Duration::from_millis(800)),
                ("cleanup", Duration::from_millis(600)),
                ("status", Duration::from_millis(500)),
                ("traffic", Duration::from_millis(100)),
            ]
        );
    }

    #[test]
    fn slowest_lists_tests_with_phases_and_queueing() {
        let run = crate::event::RunStarted {
            schema_version: crate::event::SCHEMA_VERSION,
            run_id: "r".into(),
            start_time: "2026-01-01T00:00:00Z".into(),
            gwl4_version: "0".into(),
            mode: crate::event::Mode::Kubernetes,
            conformance_mode: "default".into(),
            gateway_class: "gc".into(),
            implementation: Default::default(),
            gateway_api_version: "v1.6.1".into(),
            gateway_api_channel: "standard".into(),
            settings: Default::default(),
        };
        let mut record =
            RunRecord::from_events(&[crate::event::TestEvent::RunStarted(Box::new(run))]).unwrap();
        record.tests = vec![
            test("Fast", 100, vec![step("tcp", 50)], None),
            test(
                "Slow",
                4000,
                vec![step("convergence", 3000)],
                Some(Timing {
                    queued: Duration::from_millis(2500),
                    queued_behind: Some("Other (Service ns/a)".into()),
                    ..Timing::default()
                }),
            ),
        ];
        let lines = slowest(&record, 1);
        assert_eq!(
            lines,
            vec![
                "Slow 4.0 s: convergence 3.0 s; before it, queued 2.5 s behind Other (Service ns/a)"
            ]
        );
        assert_eq!(slowest(&record, 5).len(), 2);
        assert_eq!(queued(&record), Duration::from_millis(2500));
    }
}

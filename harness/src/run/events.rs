//! Where the runner's events go: kept for the reports, and shown as they
//! happen. On a terminal a live progress line (indicatif) says which tests
//! are running and what they wait on; otherwise plain lines (failed steps,
//! or every step with `-v`). libtest-mimic prints each test's verdict.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use reports::{StepOutcome, TestEvent};

/// A shared, ordered event log.
#[derive(Debug, Clone, Default)]
pub struct Events {
    log: Arc<Mutex<Vec<TestEvent>>>,
    live: Option<Arc<Live>>,
    verbose: bool,
}

/// The progress line: tests running and the step each is on.
#[derive(Debug)]
struct Live {
    running: Mutex<BTreeMap<String, String>>,
    bar: Mutex<Option<ProgressBar>>,
}

impl Live {
    fn show(&self) {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let mut bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        if running.is_empty() {
            // Clear before libtest prints the verdict line, so the two never mix.
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            return;
        }
        let msg = running
            .iter()
            .map(|(t, s)| format!("{t}: {s}"))
            .collect::<Vec<_>>()
            .join(" | ");
        let b = bar.get_or_insert_with(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        b.set_message(msg);
    }
}

impl Events {
    /// A log; `verbose` prints every step as it finishes (to stderr). The
    /// progress line is shown when stderr is a terminal.
    pub fn new(verbose: bool) -> Events {
        let live = std::io::stderr().is_terminal().then(|| {
            Arc::new(Live {
                running: Mutex::default(),
                bar: Mutex::default(),
            })
        });
        Events {
            log: Arc::default(),
            live,
            verbose,
        }
    }

    /// Records an event.
    pub fn emit(&self, e: TestEvent) {
        if let TestEvent::StepFinished(s) = &e
            && (self.verbose || s.step.outcome == StepOutcome::Failed)
        {
            let line = format!(
                "  {} step {} {} [{}]: {}",
                s.test,
                s.step.index + 1,
                s.step.kind,
                s.step.outcome.as_str(),
                s.step.summary
            );
            self.println(&line);
        }
        if let Some(live) = &self.live {
            match &e {
                TestEvent::TestStarted(t) => {
                    live.running
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(t.name.clone(), "starting".into());
                }
                TestEvent::StepFinished(s) => {
                    let next = format!("step {} done", s.step.index + 1);
                    live.running
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(s.test.clone(), next);
                }
                TestEvent::TestFinished(t) => {
                    live.running
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&t.test);
                }
                _ => {}
            }
            live.show();
        }
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(e);
    }

    /// Says what a running test is doing now (shown on the progress line).
    pub fn doing(&self, test: &str, what: &str) {
        if let Some(live) = &self.live {
            live.running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(test.to_string(), what.to_string());
            live.show();
        }
    }

    fn println(&self, line: &str) {
        let bar = self
            .live
            .as_ref()
            .and_then(|l| l.bar.lock().unwrap_or_else(|e| e.into_inner()).clone());
        match bar {
            Some(b) => b.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Every event so far.
    pub fn snapshot(&self) -> Vec<TestEvent> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

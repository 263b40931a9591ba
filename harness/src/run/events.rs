//! Where the runner's events go: kept for the reports, and echoed as plain
//! progress lines (libtest-mimic prints each test's verdict itself).

use std::sync::{Arc, Mutex};

use reports::{StepOutcome, TestEvent};

/// A shared, ordered event log.
#[derive(Debug, Clone, Default)]
pub struct Events {
    log: Arc<Mutex<Vec<TestEvent>>>,
    verbose: bool,
}

impl Events {
    /// A log; `verbose` prints every step as it finishes (to stderr).
    pub fn new(verbose: bool) -> Events {
        Events {
            log: Arc::default(),
            verbose,
        }
    }

    /// Records an event.
    pub fn emit(&self, e: TestEvent) {
        if let TestEvent::StepFinished(s) = &e
            && (self.verbose || s.step.outcome == StepOutcome::Failed)
        {
            eprintln!(
                "  {} step {} {} [{}]: {}",
                s.test,
                s.step.index + 1,
                s.step.kind,
                s.step.outcome.as_str(),
                s.step.summary
            );
        }
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(e);
    }

    /// Every event so far.
    pub fn snapshot(&self) -> Vec<TestEvent> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

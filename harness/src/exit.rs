//! Exit codes: a contract for scripts and CI.

/// Every selected test that ran passed.
pub const SUCCESS: u8 = 0;
/// At least one test failed.
pub const TEST_FAILED: u8 = 1;
/// Bad usage or a setup error (malformed suite file, unreachable cluster,
/// missing CRDs, gateway that would not start): nothing was judged. Also
/// a kube-mode run that could not delete what it created (the reports
/// stand, but the cluster is not as gwl4 found it).
pub const SETUP_ERROR: u8 = 2;
/// No test ran (all filtered out or not supported).
pub const NOTHING_RAN: u8 = 3;
/// Interrupted by Ctrl-C or SIGTERM; everything was cleaned up.
pub const INTERRUPTED: u8 = 130;

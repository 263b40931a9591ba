//! Moving bytes between the client and the backend connection.
//!
//! On Linux, `splice(2)` through a pipe per direction (`tokio-splice2`)
//! moves bytes without copying them into user space. Each spliced
//! connection costs four more file descriptors (two pipes), so splicing is
//! rationed by a budget derived from the open-files limit; connections over
//! budget, or whose pipes cannot be created, use a buffered copy instead.
//! Both paths propagate half-close: EOF read on one side becomes a write
//! shutdown (FIN) on the other, and the connection ends when both
//! directions have.

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Bytes moved in each direction, and the error that ended the copy, if any.
#[derive(Debug, Default)]
pub(crate) struct Moved {
    /// Client to backend.
    pub upstream: u64,
    /// Backend to client.
    pub downstream: u64,
    /// Whether splice moved them (false: the buffered copy).
    pub spliced: bool,
    pub error: Option<std::io::Error>,
}

/// How many connections may splice at once.
#[derive(Debug, Clone)]
pub(crate) struct SpliceBudget(Arc<Semaphore>);

impl SpliceBudget {
    /// A budget of a quarter of the descriptors: each connection already
    /// holds two sockets and a spliced one four pipe ends, so with
    /// `open_files / 16` spliced connections pipes use at most a quarter of
    /// the limit and sockets can still use the rest.
    pub(crate) fn from_open_files(open_files: u64) -> Self {
        Self::new(usize::try_from(open_files / 16).unwrap_or(usize::MAX))
    }

    /// A budget of `permits` spliced connections (0 disables splice).
    pub(crate) fn new(permits: usize) -> Self {
        Self(Arc::new(Semaphore::new(
            permits.min(Semaphore::MAX_PERMITS),
        )))
    }
}

/// Copies both ways until both directions have ended or one fails.
pub(crate) async fn bidirectional(
    client: &mut TcpStream,
    backend: &mut TcpStream,
    budget: &SpliceBudget,
) -> Moved {
    if cfg!(target_os = "linux")
        && let Ok(_permit) = budget.0.try_acquire()
        // Err means the pipes could not be created (e.g. out of
        // descriptors) before any byte moved: fall back to copying.
        && let Ok(result) = tokio_splice2::copy_bidirectional(client, backend).await
    {
        return Moved {
            upstream: result.tx as u64,
            downstream: result.rx as u64,
            spliced: true,
            error: result.error,
        };
    }
    match tokio::io::copy_bidirectional_with_sizes(client, backend, 16 * 1024, 16 * 1024).await {
        Ok((upstream, downstream)) => Moved {
            upstream,
            downstream,
            spliced: false,
            error: None,
        },
        Err(error) => Moved {
            error: Some(error),
            ..Moved::default()
        },
    }
}

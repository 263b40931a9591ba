//! gwl4's API calls ride out a short API server outage: a restart, an etcd
//! leader change, a burst of throttling.
//!
//! Every request through the run's client goes through [`Retry`], a tower
//! retry policy: a request that could not be sent (connection refused or
//! reset, no answer) or was answered 429 or 5xx (except 501) is sent again
//! after 100 ms, then 200 ms, … up to 2 s between tries (or the server's
//! `Retry-After`), for at most [`RETRY_FOR`]; then the last error stands and
//! the step fails naming it. Any other answer (404, 409, 422, …) is the
//! API server's verdict and is returned at once.
//!
//! kube's own default policy retries only 429, 503 and 504, for minutes;
//! it is turned off in favour of this one. The first check that a cluster
//! answers at all does not retry, so a wrong kubeconfig fails fast.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use tokio::time::Instant;
use tower::BoxError;
use tower::retry::Policy;

/// How long one request is retried before its error stands.
pub const RETRY_FOR: Duration = Duration::from_secs(30);

/// The first pause between tries; doubled each time up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);

/// The longest pause between tries.
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// The retry policy of one request (tower clones it per request).
#[derive(Debug, Clone, Default)]
pub struct Retry {
    /// When the first try failed.
    since: Option<Instant>,
    /// Tries so far after the first.
    tries: u32,
}

impl Retry {
    /// The pause before the next try, `elapsed` after the first failed, or
    /// `None` once the bound is reached. The server's `after` wins when
    /// it gives one.
    fn next_pause(&mut self, elapsed: Duration, after: Option<Duration>) -> Option<Duration> {
        if elapsed >= RETRY_FOR {
            return None;
        }
        let doubled = FIRST_PAUSE
            .saturating_mul(1 << self.tries.min(5))
            .min(MAX_PAUSE);
        self.tries += 1;
        Some(after.unwrap_or(doubled).min(RETRY_FOR - elapsed))
    }
}

/// Why a try failed in a way worth another, or `None`.
fn transient<B>(result: &Result<Response<B>, BoxError>) -> Option<(String, Option<Duration>)> {
    match result {
        Err(e) => Some((format!("no answer ({e})"), None)),
        Ok(r) => {
            let status = r.status();
            let retryable = status == StatusCode::TOO_MANY_REQUESTS
                || (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED);
            retryable.then(|| {
                let after = r
                    .headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_secs);
                (format!("HTTP {status}"), after)
            })
        }
    }
}

impl<B> Policy<Request<Body>, Response<B>, BoxError> for Retry {
    type Future = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn retry(
        &mut self,
        req: &mut Request<Body>,
        result: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        let Some((why, after)) = transient(result) else {
            if let Some(since) = self.since {
                outage_recovered(since.elapsed());
            }
            return None;
        };
        let since = *self.since.get_or_insert_with(Instant::now);
        let pause = self.next_pause(since.elapsed(), after)?;
        outage_failed(&format!("{} {}: {why}", req.method(), req.uri().path()));
        Some(Box::pin(tokio::time::sleep(pause)))
    }

    fn clone_request(&mut self, req: &Request<Body>) -> Option<Request<Body>> {
        // Bodies gwl4 sends are whole (JSON or YAML bytes), so they clone;
        // a streamed body would not, and is then sent once.
        let body = req.body().try_clone()?;
        let mut copy = Request::builder()
            .method(req.method().clone())
            .uri(req.uri().clone())
            .version(req.version())
            .body(body)
            .ok()?;
        *copy.headers_mut() = req.headers().clone();
        *copy.extensions_mut() = req.extensions().clone();
        Some(copy)
    }
}

/// Whether an outage has been reported and no recovery since: the run says
/// one line when requests start failing and one when they are answered
/// again, not one per request (tests run side by side and would repeat it).
static OUTAGE_REPORTED: AtomicBool = AtomicBool::new(false);

fn outage_failed(what: &str) {
    if !OUTAGE_REPORTED.swap(true, Ordering::AcqRel) {
        eprintln!(
            "gwl4: the API server did not answer ({what}); retrying each call for up to {}s",
            RETRY_FOR.as_secs()
        );
    }
}

fn outage_recovered(after: Duration) {
    if OUTAGE_REPORTED.swap(false, Ordering::AcqRel) {
        eprintln!(
            "gwl4: the API server answers again (a call succeeded after {after:.1?} of retries)"
        );
    }
}

/// A client for `config` whose requests retry as above.
pub fn client(mut config: kube::Config) -> Result<kube::Client, kube::Error> {
    config.default_retry = false;
    let builder = kube::client::ClientBuilder::try_from(config)?;
    // Retrying needs a service it can clone: kube's is boxed, so a buffer
    // (which passes requests on at once, without waiting for answers) sits
    // between them.
    let layers = tower::ServiceBuilder::new()
        .layer(tower::retry::RetryLayer::new(Retry::default()))
        .layer(tower::buffer::BufferLayer::new(1024));
    Ok(builder.with_layer(&layers).build())
}

/// What a call's final error says when the retries above gave up on it: the
/// outage, in words a user reads as one (kube's own reads "ServiceError:
/// client error (Connect)"); `None` when the API server gave a verdict.
pub fn outage(e: &kube::Error) -> Option<String> {
    let bound = RETRY_FOR.as_secs();
    match e {
        kube::Error::Api(s) if s.code == 429 || (s.code >= 500 && s.code != 501) => Some(format!(
            "the API server answered HTTP {} ({}) to every try for up to {bound}s",
            s.code, s.message
        )),
        kube::Error::Api(_) => None,
        kube::Error::Service(_) | kube::Error::HyperError(_) => Some(format!(
            "the API server did not answer ({e}) for up to {bound}s of retries"
        )),
        _ => None,
    }
}

/// `e` as a message about `what`: the outage where it was one.
pub fn describe(what: impl std::fmt::Display, e: &kube::Error) -> String {
    match outage(e) {
        Some(o) => format!("{what}: {o}"),
        None => format!("{what}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> Result<Response<()>, BoxError> {
        Ok(Response::builder().status(status).body(()).unwrap())
    }

    #[test]
    fn transient_failures_are_refusals_throttling_and_server_errors() {
        for status in [429, 500, 502, 503, 504] {
            assert!(transient(&answer(status)).is_some(), "{status}");
        }
        for status in [200, 201, 400, 403, 404, 409, 422, 501] {
            assert!(transient(&answer(status)).is_none(), "{status}");
        }
        let refused: Result<Response<()>, BoxError> = Err("connection refused".into());
        assert!(
            transient(&refused)
                .unwrap()
                .0
                .contains("connection refused")
        );
    }

    #[test]
    fn an_error_after_the_retries_names_the_outage() {
        let refused = kube::Error::Service("client error (Connect)".into());
        assert_eq!(
            describe("TCPRoute ns/r", &refused),
            "TCPRoute ns/r: the API server did not answer (ServiceError: client error (Connect)) for up to 30s of retries"
        );
        let api = |code: u16| {
            kube::Error::Api(
                kube::core::Status::failure("busy", "TooManyRequests")
                    .with_code(code)
                    .boxed(),
            )
        };
        assert!(outage(&api(429)).unwrap().contains("HTTP 429 (busy)"));
        assert!(outage(&api(503)).is_some());
        for verdict in [404, 409, 422, 501] {
            assert_eq!(outage(&api(verdict)), None, "{verdict}");
        }
    }

    #[test]
    fn retries_back_off_and_stop_after_the_bound() {
        let mut policy = Retry::default();
        let mut elapsed = Duration::ZERO;
        let mut pauses = Vec::new();
        while let Some(pause) = policy.next_pause(elapsed, None) {
            pauses.push(pause);
            elapsed += pause;
            assert!(pauses.len() < 100, "no bound");
        }
        assert_eq!(elapsed, RETRY_FOR);
        let ms: Vec<u128> = pauses.iter().take(7).map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 2000, 2000]);
        // 3.1 s of doubling, 13 pauses of 2 s, and the 0.9 s left.
        assert_eq!(pauses.len(), 19);
    }

    #[test]
    fn the_servers_retry_after_wins_within_the_bound() {
        let mut policy = Retry::default();
        let after = Some(Duration::from_secs(5));
        assert_eq!(policy.next_pause(Duration::ZERO, after), after);
        assert_eq!(
            policy.next_pause(Duration::from_secs(28), after),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn requests_clone_with_their_body_and_headers() {
        let mut policy = Retry::default();
        let req = Request::builder()
            .method("PATCH")
            .uri("/apis/x")
            .header("content-type", "application/apply-patch+yaml")
            .body(Body::from(b"kind: X".to_vec()))
            .unwrap();
        let copy = Policy::<_, Response<()>, BoxError>::clone_request(&mut policy, &req).unwrap();
        assert_eq!(copy.method(), "PATCH");
        assert_eq!(
            copy.headers()["content-type"],
            "application/apply-patch+yaml"
        );
    }
}

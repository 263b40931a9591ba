//! Fuzzing the admin API (proptest): whatever a client sends, the server
//! never panics, answers in bounded time with a well-formed HTTP response
//! (or closes a request that never completed), and still answers
//! `/healthz` afterwards.
//!
//! - In process (`tower::ServiceExt::oneshot` on the admin router and on
//!   the health router, with and without `/metrics`): arbitrary methods,
//!   paths, query strings, headers and bodies; the status must be exactly
//!   what the routes say: 200 for GET or HEAD on one of the router's paths,
//!   405 for another method there, 404 anywhere else (so no request reaches
//!   `/status` through the health router).
//! - Over a real socket (the listener as the gateway serves it, limits
//!   included): arbitrary bytes, and requests that are nearly HTTP (odd
//!   methods, targets, versions, line endings, header names and values,
//!   bodies, chunked or not); the reply, if any, starts with an HTTP status
//!   line whose code is one of 200, 400, 404, 405, 413, 414, 431, 501, 505.
//!
//! 256 cases each by default; `PROPTEST_CASES=N` for more. Recorded by
//! hand: `PROPTEST_CASES=200000` (2026-12-05, 2 cores): no failure, 65 s;
//! 539,223 router answers in process (200, 404, 405), 200,000 exchanges
//! over the socket (166,872 answered 400, 10,320 closed unanswered, the
//! rest routed), each followed by a `/healthz` that answered 200. Two
//! tests in one file: they share the server and the helpers.

// proptest drives its cases synchronously; each case runs on the tokio
// runtime with block_on, and the per-case bound is measured on the wall clock.
#![allow(clippy::disallowed_types)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use prometheus_client::registry::Registry;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reference_gateway::admin::{self, Admin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

/// Per case: the server must be done well within it.
const BOUND: Duration = Duration::from_secs(10);

/// The four routes.
const PATHS: [&str; 4] = ["/healthz", "/readyz", "/status", "/metrics"];

/// Ready admin state with an empty registry.
fn state() -> Arc<Admin> {
    let admin = Arc::new(Admin::new(Registry::with_prefix("gateway")));
    admin.set_ready(true);
    admin
}

/// Cases: `PROPTEST_CASES`, else 256.
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// A path: near one of the routes (case, slashes, dots, escapes, a query)
/// or made of arbitrary URI-ish characters.
fn path() -> impl Strategy<Value = String> {
    let near = (
        prop::sample::select(PATHS.to_vec()),
        prop_oneof![
            2 => Just(""),
            1 => prop::sample::select(vec![
                "/", "//", "?", "?a=b&c", "#f", "%2F", "/..", ".", "%00", "x",
            ]),
        ],
        prop::bool::weighted(0.2),
    )
        .prop_map(|(p, suffix, upper)| {
            let p = if upper {
                p.to_uppercase()
            } else {
                p.to_string()
            };
            format!("{p}{suffix}")
        });
    let wild = "/[a-zA-Z0-9/._~%?&=+:@!$'()*,;-]{0,40}";
    let odd = "/[a-zA-Z0-9/._~%?#&=+:@!$'()*,;\\[\\] \"<>^`{|}-]{0,40}";
    prop_oneof![
        3 => near,
        2 => wild.prop_map(|s| s.to_string()),
        1 => odd.prop_map(|s| s.to_string()),
    ]
}

/// A method: the usual ones or any token.
fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(vec!["GET", "HEAD"]).prop_map(str::to_string),
        2 => prop::sample::select(vec![
            "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT",
        ])
        .prop_map(str::to_string),
        1 => "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}",
    ]
}

/// Headers: arbitrary names and values (invalid ones are dropped).
fn headers() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    prop::collection::vec(
        (
            prop_oneof![
                prop::sample::select(vec![
                    "content-length",
                    "transfer-encoding",
                    "expect",
                    "connection",
                    "host",
                    "content-type",
                    "upgrade",
                ])
                .prop_map(|s| s.as_bytes().to_vec()),
                prop::collection::vec(any::<u8>(), 1..20),
            ],
            prop::collection::vec(any::<u8>(), 0..64),
        ),
        0..8,
    )
}

#[test]
fn in_process_each_router_answers_exactly_what_its_routes_say() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The admin router, and the health router (what the manifests open
    // beyond loopback), with and without /metrics.
    let routers: [(Router, &[&str]); 3] = [
        (admin::router(state()), &PATHS),
        (admin::health_router(state(), false), &PATHS[..2]),
        (
            admin::health_router(state(), true),
            &["/healthz", "/readyz", "/metrics"],
        ),
    ];
    let strategy = (
        method(),
        path(),
        headers(),
        prop::collection::vec(any::<u8>(), 0..4096),
    );
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<u16, u32>::new());
    let mut runner = TestRunner::new(config());
    runner
        .run(&strategy, |(method, path, headers, body)| {
            let (Ok(method), Ok(uri)) =
                (Method::from_bytes(method.as_bytes()), path.parse::<Uri>())
            else {
                return Ok(());
            };
            for (router, paths) in &routers {
                let mut request = Request::builder().method(method.clone()).uri(uri.clone());
                for (name, value) in &headers {
                    if let (Ok(n), Ok(v)) =
                        (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
                    {
                        request = request.header(n, v);
                    }
                }
                let request = request.body(Body::from(body.clone())).unwrap();
                let response = rt.block_on(answer(router.clone(), request))?;
                let known = paths.contains(&uri.path());
                let expected = match (known, method == Method::GET || method == Method::HEAD) {
                    (true, true) => 200,
                    (true, false) => 405,
                    (false, _) => 404,
                };
                prop_assert_eq!(response, expected, "{} {} on {:?}", method, uri, paths);
                *seen.lock().unwrap().entry(response).or_default() += 1;
            }
            Ok(())
        })
        .unwrap();
    // The generators reach every route outcome, or the property says little.
    let seen = seen.into_inner().unwrap();
    eprintln!("in process: statuses seen {seen:?}");
    for code in [200, 404, 405] {
        assert!(seen.contains_key(&code), "no {code} in {seen:?}");
    }
}

/// `request` through `router`: its status, once its body is read, both
/// within [`BOUND`].
async fn answer(router: Router, request: Request<Body>) -> Result<u16, TestCaseError> {
    let response = tokio::time::timeout(BOUND, router.oneshot(request))
        .await
        .map_err(|_| TestCaseError::fail("no answer in time"))?
        .unwrap();
    let status = response.status().as_u16();
    tokio::time::timeout(BOUND, axum::body::to_bytes(response.into_body(), 16 << 20))
        .await
        .map_err(|_| TestCaseError::fail("body not finished in time"))?
        .map_err(|e| TestCaseError::fail(format!("body: {e}")))?;
    Ok(status)
}

/// A line ending: mostly CRLF, sometimes bare LF or CR, or none.
fn eol() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        8 => Just("\r\n"),
        1 => prop::sample::select(vec!["\n", "\r", ""]),
    ]
}

/// One header line: a known or valid name, or arbitrary bytes; a known,
/// printable or arbitrary value; odd separators and line endings now and
/// then.
fn header_line() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        3 => prop::sample::select(vec![
            "Host",
            "Content-Length",
            "Transfer-Encoding",
            "Expect",
            "Connection",
            "Upgrade",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        2 => "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..16),
    ];
    let separator = prop_oneof![
        6 => Just(": "),
        1 => prop::sample::select(vec![":", " : ", "", ":\t"]),
    ];
    let value = prop_oneof![
        3 => prop::sample::select(vec![
            "5",
            "-1",
            "99999999999999999999",
            "chunked",
            "chunked, chunked",
            "100-continue",
            "close",
            "keep-alive",
            "h2c",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        2 => "[ -~]{0,40}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ];
    (name, separator, value, eol()).prop_map(|(name, sep, value, eol)| {
        let mut line = name;
        line.extend_from_slice(sep.as_bytes());
        line.extend_from_slice(&value);
        line.extend_from_slice(eol.as_bytes());
        line
    })
}

/// Bytes that are nearly an HTTP/1.1 request (each part mostly valid), or
/// not at all.
fn raw_request() -> impl Strategy<Value = Vec<u8>> {
    let version = prop_oneof![
        6 => Just("HTTP/1.1"),
        1 => prop::sample::select(vec![
            "HTTP/1.0", "HTTP/2.0", "HTTP/9.9", "HTTP/1.1 ", "http/1.1", "",
        ]),
    ];
    let space = prop_oneof![
        6 => Just(" "),
        1 => prop::sample::select(vec!["  ", "\t", ""]),
    ];
    let nearly = (
        method(),
        space,
        path(),
        version,
        eol(),
        prop::collection::vec(header_line(), 0..8),
        eol(),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            Just(b"5\r\nhello\r\n0\r\n\r\n".to_vec()),
            Just(b"zz\r\n".to_vec()),
        ],
    )
        .prop_map(|(method, sp, path, version, eol, headers, end, body)| {
            let mut bytes = format!("{method}{sp}{path} {version}{eol}").into_bytes();
            for h in headers {
                bytes.extend_from_slice(&h);
            }
            bytes.extend_from_slice(end.as_bytes());
            bytes.extend_from_slice(&body);
            bytes
        });
    prop_oneof![
        3 => nearly,
        1 => prop::collection::vec(any::<u8>(), 0..2048),
    ]
}

/// Sends `bytes`, half-closes if `half_close` (so a request that never
/// completes ends), and reads the reply until the server closes. (A
/// half-close may also end a complete request before its answer: hyper
/// takes it for the client leaving, so the `/healthz` check does not.)
async fn exchange(
    addr: SocketAddr,
    bytes: &[u8],
    half_close: bool,
) -> Result<Vec<u8>, TestCaseError> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may close first (a request it refused): that is allowed.
    let _ = stream.write_all(bytes).await;
    if half_close {
        let _ = stream.shutdown().await;
    }
    let mut reply = Vec::new();
    match tokio::time::timeout(BOUND, stream.read_to_end(&mut reply)).await {
        Err(_) => Err(TestCaseError::fail(format!(
            "the server neither answered nor closed within {BOUND:?}"
        ))),
        // A reset after a partial reply is allowed; what came must be HTTP.
        Ok(_) => Ok(reply),
    }
}

/// The status codes of the reply's status lines, in order (a `100
/// Continue` before the final one included).
fn statuses(reply: &[u8]) -> Result<Vec<u16>, String> {
    let text = String::from_utf8_lossy(reply);
    let mut codes = Vec::new();
    let mut rest: &str = &text;
    while !rest.is_empty() {
        let line = rest.lines().next().unwrap_or("");
        let mut parts = line.splitn(3, ' ');
        let (version, code) = (parts.next(), parts.next());
        if !matches!(version, Some("HTTP/1.1" | "HTTP/1.0")) {
            return Err(format!("not a status line: {line:?} in {text:?}"));
        }
        let code: u16 = code
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("no status code: {line:?}"))?;
        codes.push(code);
        if code != 100 {
            break;
        }
        // After 100 Continue (and its empty line), the final response.
        rest = match rest.split_once("\r\n\r\n") {
            Some((_, after)) => after,
            None => "",
        };
    }
    Ok(codes)
}

#[test]
fn over_a_socket_any_bytes_get_an_http_answer_or_a_close_and_healthz_still_answers() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(admin::serve(listener, state(), std::future::pending()));
        addr
    });
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<u16, u32>::new());
    let mut runner = TestRunner::new(config());
    runner
        .run(&raw_request(), |bytes| {
            rt.block_on(async {
                let reply = exchange(addr, &bytes, true).await?;
                if reply.is_empty() {
                    *seen.lock().unwrap().entry(0).or_default() += 1;
                } else {
                    let codes = statuses(&reply).map_err(TestCaseError::fail)?;
                    let last = *codes.last().unwrap_or(&0);
                    *seen.lock().unwrap().entry(last).or_default() += 1;
                    prop_assert!(
                        [200, 400, 404, 405, 413, 414, 431, 501, 505].contains(&last),
                        "status {last} for {:?}:\n{}",
                        String::from_utf8_lossy(&bytes),
                        String::from_utf8_lossy(&reply)
                    );
                }
                let health = exchange(
                    addr,
                    b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                    false,
                )
                .await?;
                prop_assert!(
                    health.starts_with(b"HTTP/1.1 200 "),
                    "/healthz after {:?}: {}",
                    String::from_utf8_lossy(&bytes),
                    String::from_utf8_lossy(&health)
                );
                Ok(())
            })
        })
        .unwrap();
    // Both refusals and routed requests were reached (0: closed unanswered).
    let seen = seen.into_inner().unwrap();
    eprintln!("over a socket: statuses seen {seen:?}");
    assert!(seen.contains_key(&400), "no 400 in {seen:?}");
    assert!(
        [200, 404, 405].iter().any(|c| seen.contains_key(c)),
        "no routed request in {seen:?}"
    );
}

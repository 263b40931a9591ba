//! Fuzzing the echo protocol (issue #24): the command-line parser and the
//! UDP `HELLO` recogniser on arbitrary text and bytes and on structured
//! near-misses of real commands, then whole TCP sessions and UDP datagrams
//! against a running server. The properties: parsing never panics and
//! agrees with the grammar; a session's reply is exactly what a model of the
//! protocol predicts (identity replies, echoed payloads, `ERROR` lines,
//! closes), ends within a generous bound once the client half-closes, and
//! leaves the server serving.
//!
//! `cargo test` runs 256 cases per property; a larger run by hand:
//! `PROPTEST_CASES=20000 cargo test -p echo-server --test fuzz_protocol`
//! (2026-12-05: 20,000 cases per property, no failure, 23 s).
//!
//! The properties share one file because they share one server and the
//! generators of protocol text.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use echo_server::protocol::{Command, CommandError, MAX_ECHO, MAX_LINE, Reply, udp_hello_nonce};
use echo_server::{Config, Identity, Running};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::runtime::Runtime;

/// Generous: a session takes milliseconds; only a hang gets near this.
const BOUND: Duration = Duration::from_secs(20);

/// One runtime and one server for every case (starting a server per case
/// would measure start-up, not the protocol).
fn server() -> &'static (Runtime, Running) {
    static SERVER: OnceLock<(Runtime, Running)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let identity = Identity {
            pod: "pod-a".into(),
            namespace: "ns-a".into(),
            service: "svc-a".into(),
        };
        let running = rt
            .block_on(echo_server::start(Config::loopback(identity)))
            .expect("server starts");
        (rt, running)
    })
}

/// What the server sends for one command, in order.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// One JSON identity line with this nonce.
    Reply(String),
    /// These bytes verbatim (an echo or an `ERROR` line).
    Bytes(Vec<u8>),
}

/// The protocol's model: what the server must send for `input` written
/// whole and then half-closed, and whether it closes before reading all of
/// it (a refused command; unread bytes may turn its close into a reset).
fn model(input: &[u8]) -> (Vec<Expect>, bool) {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let window = &input[i..input.len().min(i + MAX_LINE)];
        let (line, used) = match window.iter().position(|b| *b == b'\n') {
            Some(p) => (&window[..p], p + 1),
            None => (window, window.len()),
        };
        i += used;
        if used == MAX_LINE && window.last() != Some(&b'\n') {
            let msg = format!("ERROR line longer than {MAX_LINE} bytes\n");
            out.push(Expect::Bytes(msg.into_bytes()));
            return (out, i < input.len());
        }
        match Command::parse(&String::from_utf8_lossy(line)) {
            Ok(Command::Hello { nonce }) => out.push(Expect::Reply(nonce)),
            Ok(Command::Echo { len }) => {
                let n = (input.len() - i).min(usize::try_from(len).unwrap());
                out.push(Expect::Bytes(input[i..i + n].to_vec()));
                i += n;
            }
            Ok(Command::Stream) => {
                out.push(Expect::Bytes(input[i..].to_vec()));
                return (out, false);
            }
            Err(e) => {
                out.push(Expect::Bytes(format!("ERROR {e}\n").into_bytes()));
                if !e.keeps_connection() {
                    return (out, i < input.len());
                }
            }
        }
    }
    (out, false)
}

/// Checks `output` against the model; with `partial`, output may stop early
/// (the connection was reset).
fn matches_model(output: &[u8], expected: &[Expect], partial: bool) -> Result<(), String> {
    let mut rest = output;
    for (n, e) in expected.iter().enumerate() {
        match e {
            Expect::Bytes(b) => {
                let have = rest.len().min(b.len());
                if rest[..have] != b[..have] || (have < b.len() && !partial) {
                    return Err(format!(
                        "reply {n}: expected {:?}, got {:?}",
                        String::from_utf8_lossy(b),
                        String::from_utf8_lossy(&rest[..have])
                    ));
                }
                rest = &rest[have..];
            }
            Expect::Reply(nonce) => {
                let Some(end) = rest.iter().position(|b| *b == b'\n') else {
                    return if partial {
                        Ok(())
                    } else {
                        Err(format!("reply {n}: no identity line in {rest:?}"))
                    };
                };
                let reply: Reply = serde_json::from_slice(&rest[..end])
                    .map_err(|e| format!("reply {n}: not a Reply: {e}"))?;
                if reply.nonce != *nonce || reply.protocol != "tcp" || reply.pod != "pod-a" {
                    return Err(format!(
                        "reply {n}: wrong identity {reply:?}, nonce {nonce:?}"
                    ));
                }
                rest = &rest[end + 1..];
            }
        }
        if rest.is_empty() && partial {
            return Ok(());
        }
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} bytes more than the model: {:?}",
            rest.len(),
            String::from_utf8_lossy(&rest[..rest.len().min(200)])
        ))
    }
}

/// Writes `input`, half-closes, reads to EOF (concurrently, so neither side
/// blocks on a full buffer). Returns what was read and whether the
/// connection failed (reset) on the way.
async fn session(addr: SocketAddr, input: &[u8]) -> (Vec<u8>, bool) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let writer = async {
        let ok = write.write_all(input).await.is_ok();
        ok & write.shutdown().await.is_ok()
    };
    let reader = async {
        let mut out = Vec::new();
        let ok = read.read_to_end(&mut out).await.is_ok();
        (out, ok)
    };
    let (wrote, (out, read_ok)) = tokio::join!(writer, reader);
    (out, !(wrote && read_ok))
}

/// Runs one TCP session within the bound and checks it against the model,
/// then that a new connection still gets an identity reply.
fn check_session(input: &[u8]) -> Result<(), TestCaseError> {
    let (rt, running) = server();
    let addr = running.tcp_addr().unwrap();
    let (expected, early_close) = model(input);
    let (output, failed) = rt
        .block_on(async { tokio::time::timeout(BOUND, session(addr, input)).await })
        .map_err(|_| TestCaseError::fail(format!("session took more than {BOUND:?}")))?;
    prop_assert!(
        !failed || early_close,
        "the connection failed although the server reads everything"
    );
    matches_model(&output, &expected, failed).map_err(TestCaseError::fail)?;
    let (after, _) = rt
        .block_on(async { tokio::time::timeout(BOUND, session(addr, b"HELLO after\n")).await })
        .map_err(|_| TestCaseError::fail("the server stopped answering"))?;
    matches_model(&after, &[Expect::Reply("after".into())], false).map_err(TestCaseError::fail)?;
    Ok(())
}

/// Pieces of protocol text: commands, near-misses and payloads.
fn chunk() -> impl Strategy<Value = Vec<u8>> {
    let words = prop::sample::select(vec![
        "HELLO", "ECHO", "STREAM", "hello", "HELL", "HELLOO", "ECHO ", "", " ", "GET",
    ]);
    let seps = prop::sample::select(vec![" ", "  ", "\t", "", " \r"]);
    let ends = prop::sample::select(vec!["\n", "\r\n", "", "\n\n"]);
    let numbers = prop::sample::select(vec![
        "0".to_string(),
        "1".into(),
        "17".into(),
        "-1".into(),
        "+3".into(),
        " 5 ".into(),
        "0x10".into(),
        MAX_ECHO.to_string(),
        (MAX_ECHO + 1).to_string(),
        u64::MAX.to_string(),
        "18446744073709551616".into(),
    ]);
    prop_oneof![
        (words, seps.clone(), "[ -~]{0,20}", ends.clone())
            .prop_map(|(w, s, a, e)| format!("{w}{s}{a}{e}").into_bytes()),
        (
            seps,
            numbers,
            ends,
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(s, n, e, payload)| {
                let mut b = format!("ECHO{s}{n}{e}").into_bytes();
                b.extend(payload);
                b
            }),
        (MAX_LINE - 3..MAX_LINE + 3, any::<bool>()).prop_map(|(n, newline)| {
            let mut b = b"HELLO ".to_vec();
            b.resize(n, b'n');
            if newline {
                b.push(b'\n');
            }
            b
        }),
        prop::collection::vec(any::<u8>(), 0..100),
        Just(b"HELLO \xff\xfe\n".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Cases from the environment (PROPTEST_CASES) or 256.
        cases: ProptestConfig::default().cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fuzz_protocol.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn command_parse_agrees_with_the_grammar(line in any::<String>()) {
        let result = Command::parse(&line);
        let bare = line.strip_suffix('\r').unwrap_or(&line);
        let (word, rest) = bare.split_once(' ').unwrap_or((bare, ""));
        match result {
            Ok(Command::Hello { nonce }) => {
                prop_assert_eq!(word, "HELLO");
                prop_assert_eq!(nonce, rest.trim());
            }
            Ok(Command::Echo { len }) => {
                prop_assert_eq!(word, "ECHO");
                prop_assert!(len <= MAX_ECHO);
                prop_assert_eq!(rest.trim().parse::<u64>(), Ok(len));
            }
            Ok(Command::Stream) => prop_assert!(word == "STREAM" && rest.trim().is_empty()),
            Err(CommandError::Unknown(l)) => {
                prop_assert_eq!(l, bare);
                prop_assert!(!matches!(word, "HELLO" | "ECHO"));
            }
            Err(CommandError::BadLength(r)) => {
                prop_assert_eq!(word, "ECHO");
                prop_assert_eq!(r, rest);
            }
            Err(CommandError::TooLong(n)) => prop_assert!(word == "ECHO" && n > MAX_ECHO),
        }
    }

    #[test]
    fn udp_hello_is_recognised_exactly(datagram in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        (chunk(), any::<bool>()).prop_map(|(c, hello)| if hello { [b"HELLO".to_vec(), c].concat() } else { c }),
    ]) {
        match udp_hello_nonce(&datagram) {
            Some(nonce) => {
                let rest = &datagram[5..];
                prop_assert!(datagram.starts_with(b"HELLO"));
                prop_assert!(rest.first().is_none_or(u8::is_ascii_whitespace));
                prop_assert_eq!(nonce.trim(), nonce.as_str());
            }
            None => prop_assert!(
                !datagram.starts_with(b"HELLO")
                    || datagram.get(5).is_some_and(|b| !b.is_ascii_whitespace())
            ),
        }
    }

    #[test]
    fn reply_json_round_trips_and_junk_is_refused(
        reply in ("\\PC{0,12}", "\\PC{0,12}", any::<Option<u64>>(), any::<String>()),
        junk in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let reply = Reply {
            pod: reply.0.clone(),
            namespace: reply.1,
            service: reply.0,
            protocol: "udp".into(),
            local: "127.0.0.1:1".into(),
            peer: "127.0.0.1:2".into(),
            flow_seq: reply.2,
            nonce: reply.3,
        };
        let json = serde_json::to_vec(&reply).unwrap();
        prop_assert_eq!(serde_json::from_slice::<Reply>(&json).unwrap(), reply);
        // Arbitrary bytes are an error, never a panic.
        let _ = serde_json::from_slice::<Reply>(&junk);
    }

    #[test]
    fn tcp_sessions_follow_the_model(chunks in prop::collection::vec(chunk(), 0..8)) {
        check_session(&chunks.concat())?;
    }

    #[test]
    fn tcp_sessions_of_arbitrary_bytes_follow_the_model(input in prop::collection::vec(any::<u8>(), 0..4096)) {
        check_session(&input)?;
    }

    #[test]
    fn udp_datagrams_get_an_identity_or_an_echo(datagram in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        chunk(),
    ]) {
        let (rt, running) = server();
        let addr = running.udp_addr().unwrap();
        let reply = rt.block_on(async {
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            socket.send_to(&datagram, addr).await.unwrap();
            let mut buf = vec![0u8; 65_536];
            let n = tokio::time::timeout(BOUND, socket.recv(&mut buf)).await;
            n.map(|n| buf[..n.unwrap()].to_vec())
        });
        let reply = reply.map_err(|_| TestCaseError::fail("no UDP reply within the bound"))?;
        match udp_hello_nonce(&datagram) {
            Some(nonce) => {
                let r: Reply = serde_json::from_slice(&reply).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(r.nonce, nonce);
                // Not always 1: a new socket may reuse an earlier one's port.
                prop_assert!(r.flow_seq.is_some_and(|s| s >= 1));
            }
            None => prop_assert_eq!(reply, datagram),
        }
    }
}

/// The model is not vacuous: it predicts a refusal, a payload echo and an
/// identity reply, and the server's actual output for them matches.
#[test]
fn the_model_predicts_each_kind_of_reply() {
    let input = b"HELLO a\nECHO 3\nxyzBOGUS\nSTREAM\nrest";
    let (expected, early) = model(input);
    assert!(!early);
    assert_eq!(
        expected,
        vec![
            Expect::Reply("a".into()),
            Expect::Bytes(b"xyz".to_vec()),
            Expect::Bytes(
                format!("ERROR {}\n", CommandError::Unknown("BOGUS".into())).into_bytes()
            ),
            Expect::Bytes(b"rest".to_vec()),
        ]
    );
    check_session(input).unwrap();
    assert!(matches_model(b"ERROR x\n", &expected, false).is_err());
}

//! Helpers shared by the echo server's integration tests.
#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use echo_server::protocol::Reply;
use echo_server::{Config, Identity, Running};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// Upper bound for anything a test waits on, so a broken server fails the
/// test instead of hanging it. Never reached when things work.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub fn identity() -> Identity {
    Identity {
        pod: "pod-a".into(),
        namespace: "ns-a".into(),
        service: "svc-a".into(),
    }
}

/// An in-process server on 127.0.0.1 with ephemeral ports.
pub async fn server() -> Running {
    server_with(|_| {}).await
}

/// Like [`server`], with the config adjusted by `f` first.
pub async fn server_with(f: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config::loopback(identity());
    f(&mut config);
    echo_server::start(config).await.expect("server starts")
}

/// Reads one `\n`-terminated line (without the newline).
pub async fn read_line<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> String {
    let mut line = String::new();
    let n = within(r.read_line(&mut line)).await.expect("read line");
    assert!(n > 0, "EOF where a line was expected");
    assert!(line.ends_with('\n'), "line not terminated: {line:?}");
    line.pop();
    line
}

/// Reads until EOF.
pub async fn read_to_end<R: AsyncRead + Unpin>(r: &mut R) -> Vec<u8> {
    let mut out = Vec::new();
    within(r.read_to_end(&mut out)).await.expect("read to EOF");
    out
}

pub fn parse_reply(line: &[u8]) -> Reply {
    serde_json::from_slice(line)
        .unwrap_or_else(|e| panic!("not a Reply: {e}: {:?}", String::from_utf8_lossy(line)))
}

/// Awaits `f`, failing the test if it takes longer than [`PATIENCE`].
pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(PATIENCE, f).await.expect("timed out")
}

/// Random bytes, so a shifted or repeated chunk cannot look right.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::fill(&mut v[..]);
    v
}

/// The `echo-server` binary running as a child process.
pub struct ServerProcess {
    pub child: Child,
    pub tcp: Option<SocketAddr>,
    pub udp: Option<SocketAddr>,
}

/// Starts the binary on 127.0.0.1 ephemeral ports with `args` and `env`, and
/// waits for its ready line.
pub async fn spawn_binary(args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_echo-server"));
    cmd.args(["--bind", "127.0.0.1", "--tcp-port", "0", "--udp-port", "0"])
        .args(args)
        .env_remove("POD_NAME")
        .env_remove("POD_NAMESPACE")
        .env_remove("SERVICE_NAME")
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn echo-server");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = within(lines.next_line())
        .await
        .expect("read stdout")
        .expect("echo-server exited before its ready line");
    let (tcp, udp) = parse_ready_line(&line);
    ServerProcess { child, tcp, udp }
}

/// Parses `listening tcp=ADDR|off udp=ADDR|off`.
pub fn parse_ready_line(line: &str) -> (Option<SocketAddr>, Option<SocketAddr>) {
    let rest = line
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("not a ready line: {line:?}"));
    let mut tcp = None;
    let mut udp = None;
    for field in rest.split_whitespace() {
        let (key, value) = field.split_once('=').expect("key=value");
        let addr = (value != "off").then(|| value.parse().expect("socket address"));
        match key {
            "tcp" => tcp = addr,
            "udp" => udp = addr,
            _ => panic!("unexpected field {field:?}"),
        }
    }
    (tcp, udp)
}

//! The `echo-server` binary: ready line, identity from env and flags (flags
//! win), exit 0 on SIGTERM.

mod common;

use common::{parse_reply, read_line, spawn_binary, within};
use echo_server::protocol::Reply;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn hello(addr: std::net::SocketAddr) -> Reply {
    let mut stream = BufReader::new(TcpStream::connect(addr).await.unwrap());
    stream.write_all(b"HELLO n\n").await.unwrap();
    parse_reply(read_line(&mut stream).await.as_bytes())
}

fn who(r: &Reply) -> (&str, &str, &str) {
    (&r.pod, &r.namespace, &r.service)
}

const ENV: &[(&str, &str)] = &[
    ("POD_NAME", "env-pod"),
    ("POD_NAMESPACE", "env-ns"),
    ("SERVICE_NAME", "env-svc"),
];

#[tokio::test]
async fn identity_comes_from_env() {
    let server = spawn_binary(&[], ENV).await;
    assert_eq!(
        who(&hello(server.tcp.unwrap()).await),
        ("env-pod", "env-ns", "env-svc")
    );
}

#[tokio::test]
async fn flags_override_env() {
    let server = spawn_binary(&["--pod", "flag-pod", "--service", "flag-svc"], ENV).await;
    assert_eq!(
        who(&hello(server.tcp.unwrap()).await),
        ("flag-pod", "env-ns", "flag-svc")
    );
}

#[tokio::test]
async fn defaults_without_env_or_flags() {
    let server = spawn_binary(&[], &[]).await;
    assert_eq!(
        who(&hello(server.tcp.unwrap()).await),
        ("echo-server", "default", "echo-server")
    );
}

#[tokio::test]
async fn disabled_server_is_off_in_the_ready_line() {
    let server = spawn_binary(&["--no-udp"], &[]).await;
    assert!(server.tcp.is_some());
    assert_eq!(server.udp, None);
}

#[tokio::test]
async fn sigterm_exits_zero() {
    let mut server = spawn_binary(&[], &[]).await;
    let pid = Pid::from_raw(server.child.id().expect("running").try_into().unwrap());
    kill(pid, Signal::SIGTERM).unwrap();
    let status = within(server.child.wait()).await.unwrap();
    assert!(status.success(), "exit status {status}");
}

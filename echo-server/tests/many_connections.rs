//! 10,000 concurrent TCP connections to one echo server, all open at once.
//!
//! Client and server in one process would need ~20,000 descriptors, the hard
//! limit here, so the server is the binary in a child process.

mod common;

use common::{spawn_binary, within};
use futures::{StreamExt, TryStreamExt, stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 10_000;
/// Connect attempts in flight at once: well under the listen backlog, so no
/// SYN is dropped and retried.
const CONNECTING: usize = 256;
/// Echo exchanges in flight at once.
const ECHOING: usize = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_connections_all_echo() {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    assert!(
        limit as usize > CONNECTIONS + 100,
        "open-files limit {limit} too low"
    );
    let server = spawn_binary(&["--no-udp"], &[]).await;
    let addr = server.tcp.unwrap();

    let mut conns: Vec<TcpStream> = within(
        stream::iter(0..CONNECTIONS)
            .map(|_| TcpStream::connect(addr))
            .buffer_unordered(CONNECTING)
            .try_collect(),
    )
    .await
    .expect("every connect succeeds");
    assert_eq!(conns.len(), CONNECTIONS);

    // Every connection is open now; each echoes its own index.
    within(
        stream::iter(conns.iter_mut().enumerate())
            .map(|(i, conn)| async move {
                let payload = format!("connection {i:05}");
                conn.write_all(format!("ECHO {}\n{payload}", payload.len()).as_bytes())
                    .await?;
                let mut back = vec![0u8; payload.len()];
                conn.read_exact(&mut back).await?;
                assert_eq!(back, payload.as_bytes(), "connection {i}");
                std::io::Result::Ok(())
            })
            .buffer_unordered(ECHOING)
            .try_collect::<()>(),
    )
    .await
    .expect("every echo succeeds");
    drop(conns);
}

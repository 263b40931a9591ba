//! Load: 5,000 concurrent TCP connections each echoing 64 KiB, and 10,000
//! UDP flows each answered, through the gateway binary (a child process,
//! so its descriptors do not count against this process's limit: 5,000
//! proxied connections are 10,000 sockets there).

mod dataplane_support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use dataplane_support::*;
use rand::{Rng, SeedableRng};
use reference_gateway::config::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Barrier, Semaphore};

const CONNECTIONS: usize = 5_000;
const PAYLOAD: usize = 64 * 1024;
const FLOWS: usize = 10_000;

async fn metric_reaches(admin: SocketAddr, name: &str, want: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let got = metric_sum(admin, name).await;
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} is {got}, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_tcp_connections_and_ten_thousand_udp_flows() {
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let (a, b) = (echo("v1").await, echo("v2").await);
    let port = free_port();
    let cfg = config(vec![
        listener(
            key(port, Protocol::Tcp),
            "TCPRoute/load/t",
            vec![
                backend("v1", 1, &[a.tcp_addr().unwrap()]),
                backend("v2", 1, &[b.tcp_addr().unwrap()]),
            ],
        ),
        listener(
            key(port, Protocol::Udp),
            "UDPRoute/load/u",
            vec![
                backend("v1", 1, &[a.udp_addr().unwrap()]),
                backend("v2", 1, &[b.udp_addr().unwrap()]),
            ],
        ),
    ]);
    let mut gateway_process = serve_config(&cfg, &[]).await;
    let admin = gateway_process.admin;
    let gateway = SocketAddr::new(LOCALHOST, port);

    // TCP: all connections open at once (checked on the gateway's own
    // active-connections gauge), then every one echoes 64 KiB.
    let started = tokio::time::Instant::now();
    let connected = Arc::new(Barrier::new(CONNECTIONS + 1));
    let go = Arc::new(Barrier::new(CONNECTIONS + 1));
    let connecting = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let (connected, go, connecting) = (connected.clone(), go.clone(), connecting.clone());
        tasks.push(tokio::spawn(async move {
            let permit = connecting.acquire().await.unwrap();
            let mut stream = TcpStream::connect(gateway).await.expect("connect");
            stream
                .write_all(format!("ECHO {PAYLOAD}\n").as_bytes())
                .await
                .unwrap();
            drop(permit);
            connected.wait().await;
            go.wait().await;
            let mut payload = vec![0u8; PAYLOAD];
            rand::rngs::StdRng::seed_from_u64(i as u64).fill(&mut payload[..]);
            let (mut read, mut write) = stream.split();
            let mut back = vec![0u8; PAYLOAD];
            let (written, read) =
                tokio::join!(write.write_all(&payload), read.read_exact(&mut back));
            written.unwrap();
            read.unwrap();
            back == payload
        }));
    }
    connected.wait().await;
    metric_reaches(admin, "gateway_tcp_connections_active", CONNECTIONS as f64).await;
    let all_open = started.elapsed();
    go.wait().await;
    let mut intact = 0;
    for task in tasks {
        intact += usize::from(task.await.unwrap());
    }
    assert_eq!(intact, CONNECTIONS, "payloads corrupted");
    eprintln!(
        "tcp: {CONNECTIONS} concurrent connections open in {all_open:?}, all echoed {PAYLOAD} bytes after {:?}",
        started.elapsed()
    );
    metric_reaches(admin, "gateway_tcp_connections_active", 0.0).await;
    assert_eq!(
        metric_sum(admin, "gateway_tcp_connections_accepted_total").await,
        CONNECTIONS as f64
    );
    // Splice is opt-in: by default the buffered copy carried everything.
    let spliced = metric_sum(admin, "gateway_tcp_connections_spliced_total").await;
    assert_eq!(spliced, 0.0);

    // UDP: 10,000 flows from distinct client addresses (spread over
    // 127.0.100.0/22 so they do not eat the ephemeral port range).
    let started = tokio::time::Instant::now();
    let in_flight = Arc::new(Semaphore::new(500));
    let mut tasks = Vec::with_capacity(FLOWS);
    for i in 0..FLOWS {
        let in_flight = in_flight.clone();
        tasks.push(tokio::spawn(async move {
            let ip = IpAddr::V4(Ipv4Addr::new(
                127,
                0,
                100 + (i / 250) as u8,
                1 + (i % 250) as u8,
            ));
            let socket = UdpSocket::bind((ip, 0)).await.unwrap();
            let _permit = in_flight.acquire().await.unwrap();
            let nonce = format!("HELLO {i}");
            let mut buf = vec![0u8; 2048];
            // UDP may drop under a burst: a client retransmits, as real ones do.
            for attempt in 0..20u32 {
                socket.send_to(nonce.as_bytes(), gateway).await.unwrap();
                if let Ok(received) =
                    tokio::time::timeout(Duration::from_millis(500), socket.recv_from(&mut buf))
                        .await
                {
                    let (len, from) = received.unwrap();
                    assert_eq!(from, gateway);
                    let reply: echo_server::protocol::Reply =
                        serde_json::from_slice(&buf[..len]).unwrap();
                    assert_eq!(reply.nonce, i.to_string());
                    return (socket, attempt);
                }
            }
            panic!("flow {i} never answered");
        }));
    }
    let mut sockets = Vec::with_capacity(FLOWS);
    let mut retransmissions = 0;
    for task in tasks {
        let (socket, attempts) = task.await.unwrap();
        retransmissions += attempts;
        sockets.push(socket);
    }
    eprintln!(
        "udp: {FLOWS} flows answered in {:?} ({retransmissions} retransmissions)",
        started.elapsed()
    );
    // Every flow has its own session, all still in the table.
    assert_eq!(
        metric_sum(admin, "gateway_udp_sessions_active").await,
        FLOWS as f64
    );
    assert_eq!(
        metric_sum(admin, "gateway_udp_sessions_created_total").await,
        FLOWS as f64
    );
    drop(sockets);

    let pid = gateway_process.pid.to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        tokio::time::timeout(GUARD, gateway_process.child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
}

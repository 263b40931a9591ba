//! The TCP server: an accept loop and one plain `async fn` per connection.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Identity;
use crate::protocol::{Command, MAX_LINE, Reply};

/// What every connection handler shares.
#[derive(Debug)]
pub struct TcpContext {
    /// Reported identity.
    pub identity: Identity,
    /// `--text` mode: send this instead of speaking the protocol.
    pub text: Option<String>,
}

/// Serves `listener` until `shutdown` is cancelled, then closes the listener
/// (so new connections are refused), cancels `closed`, and gives open
/// connections `grace` to finish before aborting them.
///
/// Connections idle between commands close as soon as shutdown starts; a
/// command in progress (a long `STREAM`) runs on until it ends or the grace
/// period is over.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<TcpContext>,
    shutdown: CancellationToken,
    closed: CancellationToken,
    grace: Duration,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            // Reap finished connections so the set does not grow without bound.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let ctx = Arc::clone(&ctx);
                    let shutdown = shutdown.clone();
                    conns.spawn(async move {
                        if let Err(e) = handle(stream, peer, &ctx, &shutdown).await {
                            tracing::debug!(%peer, error = %e, "tcp connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "tcp accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    closed.cancel();
    tracing::info!(
        open = conns.len(),
        ?grace,
        "tcp listener closed; draining connections"
    );
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        tracing::warn!(
            aborted = conns.len(),
            "grace period over; aborting tcp connections"
        );
        conns.shutdown().await;
    }
}

/// One connection, from accept to close.
async fn handle(
    mut stream: TcpStream,
    peer: SocketAddr,
    ctx: &TcpContext,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    let local = stream.local_addr()?;
    tracing::debug!(%peer, %local, "tcp connection");
    if let Some(text) = &ctx.text {
        return send_text(&mut stream, text, shutdown).await;
    }
    let (read, mut write) = stream.split();
    let mut read = BufReader::new(read);
    let mut line = Vec::with_capacity(128);
    loop {
        // Wait for the next command, but close an idle connection at shutdown.
        // `fill_buf` consumes nothing, so abandoning it loses no bytes.
        let eof = tokio::select! {
            filled = read.fill_buf() => filled?.is_empty(),
            () = shutdown.cancelled() => return Ok(()),
        };
        if eof {
            return Ok(());
        }
        line.clear();
        (&mut read)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if line.len() >= MAX_LINE {
            let msg = format!("ERROR line longer than {MAX_LINE} bytes\n");
            write.write_all(msg.as_bytes()).await?;
            return write.shutdown().await;
        }
        // An unterminated last line (`printf 'HELLO x' | nc`) still counts.
        let text = String::from_utf8_lossy(&line);
        match Command::parse(&text) {
            Ok(Command::Hello { nonce }) => {
                let reply = Reply {
                    pod: ctx.identity.pod.clone(),
                    namespace: ctx.identity.namespace.clone(),
                    service: ctx.identity.service.clone(),
                    protocol: "tcp".into(),
                    local: local.to_string(),
                    peer: peer.to_string(),
                    flow_seq: None,
                    nonce,
                };
                let mut json = serde_json::to_vec(&reply).map_err(io::Error::other)?;
                json.push(b'\n');
                write.write_all(&json).await?;
            }
            Ok(Command::Echo { len }) => {
                let copied = tokio::io::copy(&mut (&mut read).take(len), &mut write).await?;
                if copied < len {
                    // The client closed mid-payload; nothing more will come.
                    return Ok(());
                }
            }
            Ok(Command::Stream) => {
                stream_echo(&mut read, &mut write).await?;
                return Ok(());
            }
            Err(e) => {
                write.write_all(format!("ERROR {e}\n").as_bytes()).await?;
                if !e.keeps_connection() {
                    return write.shutdown().await;
                }
            }
        }
    }
}

/// `STREAM`: copy until the client half-closes, then half-close our side so
/// the client sees every byte followed by EOF.
async fn stream_echo<R, W>(read: &mut R, write: &mut W) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    tokio::io::copy(read, write).await?;
    write.shutdown().await
}

/// `--text` mode: send the text, half-close, then wait for the client to
/// close so unread client bytes do not turn our close into a reset.
async fn send_text(
    stream: &mut TcpStream,
    text: &str,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    stream.write_all(format!("{text}\n").as_bytes()).await?;
    stream.shutdown().await?;
    let mut sink = tokio::io::sink();
    tokio::select! {
        drained = tokio::io::copy(stream, &mut sink) => drained.map(drop),
        () = shutdown.cancelled() => Ok(()),
    }
}

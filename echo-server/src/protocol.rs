//! The echo protocol, shared by the server and gwl4's traffic drivers.
//!
//! TCP: the client writes one command line. `HELLO <nonce>\n` gets one JSON
//! [`Reply`] line; `ECHO <n>\n` followed by n bytes gets the n bytes back;
//! `STREAM\n` echoes everything until the client half-closes. UDP: a
//! datagram starting `HELLO <nonce>` gets a JSON [`Reply`]; anything else is
//! echoed verbatim.

use serde::{Deserialize, Serialize};

/// The identity reply, one JSON object (one line on TCP, one datagram on UDP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reply {
    /// Pod (replica) name, from `POD_NAME`.
    pub pod: String,
    /// Namespace, from `POD_NAMESPACE`.
    pub namespace: String,
    /// Service (backend) name, from `SERVICE_NAME`.
    pub service: String,
    /// `"tcp"` or `"udp"`.
    pub protocol: String,
    /// The server's own address of this connection or socket (`ip:port`).
    pub local: String,
    /// The client address as the backend sees it (`ip:port`): shows SNAT.
    pub peer: String,
    /// UDP only: how many datagrams this peer has sent, counting this one (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_seq: Option<u64>,
    /// The nonce the client sent with `HELLO`.
    pub nonce: String,
}

/// Largest UDP payload over IPv4 (65,535 − 8 UDP − 20 IP header bytes).
pub const MAX_DATAGRAM: usize = 65_507;

/// Longest TCP command line accepted, newline included; longer lines get an
/// error and the connection is closed (its framing is lost).
pub const MAX_LINE: usize = 1024;

/// Largest `ECHO <n>` payload accepted (64 MiB); use `STREAM` for more.
pub const MAX_ECHO: u64 = 64 << 20;

/// A parsed TCP command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `HELLO <nonce>`: reply with one JSON [`Reply`] line.
    Hello {
        /// Echoed back in [`Reply::nonce`] (may be empty).
        nonce: String,
    },
    /// `ECHO <n>`: the next n bytes come straight back.
    Echo {
        /// Payload length in bytes, at most [`MAX_ECHO`].
        len: u64,
    },
    /// `STREAM`: echo everything until the client half-closes.
    Stream,
}

/// Why a command line was not understood. `Display` is the text of the
/// server's `ERROR ...` reply line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The first word is not a command.
    #[error("unknown command {0:?} (expected HELLO <nonce>, ECHO <n> or STREAM)")]
    Unknown(String),
    /// `ECHO` without a valid byte count.
    #[error("ECHO needs a byte count, got {0:?}")]
    BadLength(String),
    /// `ECHO` with more than [`MAX_ECHO`] bytes.
    #[error("ECHO {0} exceeds the limit of {MAX_ECHO} bytes; use STREAM")]
    TooLong(u64),
}

impl CommandError {
    /// Whether the connection can carry on after this error. An `ECHO` that
    /// is refused leaves its payload unread, so the byte stream is no longer
    /// framed and the server closes.
    pub fn keeps_connection(&self) -> bool {
        matches!(self, Self::Unknown(_))
    }
}

impl Command {
    /// Parses one command line (without its `\n`; a trailing `\r` from
    /// `nc -C` is ignored).
    pub fn parse(line: &str) -> Result<Self, CommandError> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "HELLO" => Ok(Self::Hello {
                nonce: rest.trim().to_owned(),
            }),
            "ECHO" => {
                let len: u64 = rest
                    .trim()
                    .parse()
                    .map_err(|_| CommandError::BadLength(rest.to_owned()))?;
                if len > MAX_ECHO {
                    return Err(CommandError::TooLong(len));
                }
                Ok(Self::Echo { len })
            }
            "STREAM" if rest.trim().is_empty() => Ok(Self::Stream),
            _ => Err(CommandError::Unknown(line.to_owned())),
        }
    }
}

/// The nonce of a UDP `HELLO` datagram, or `None` when the datagram is not a
/// `HELLO` (and is therefore echoed). Surrounding whitespace, such as the
/// newline `nc` adds, is ignored.
pub fn udp_hello_nonce(datagram: &[u8]) -> Option<String> {
    let rest = datagram.strip_prefix(b"HELLO")?;
    match rest.first() {
        None => Some(String::new()),
        Some(b) if b.is_ascii_whitespace() => Some(String::from_utf8_lossy(rest).trim().to_owned()),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        assert_eq!(
            Command::parse("HELLO abc"),
            Ok(Command::Hello {
                nonce: "abc".into()
            })
        );
        assert_eq!(
            Command::parse("HELLO"),
            Ok(Command::Hello {
                nonce: String::new()
            })
        );
        assert_eq!(Command::parse("ECHO 12\r"), Ok(Command::Echo { len: 12 }));
        assert_eq!(Command::parse("STREAM"), Ok(Command::Stream));
    }

    #[test]
    fn rejects_bad_commands() {
        assert_eq!(
            Command::parse("GET / HTTP/1.1"),
            Err(CommandError::Unknown("GET / HTTP/1.1".into()))
        );
        assert_eq!(
            Command::parse("STREAM now"),
            Err(CommandError::Unknown("STREAM now".into()))
        );
        assert!(matches!(
            Command::parse("ECHO x"),
            Err(CommandError::BadLength(_))
        ));
        assert!(matches!(
            Command::parse("ECHO"),
            Err(CommandError::BadLength(_))
        ));
        assert_eq!(
            Command::parse(&format!("ECHO {}", MAX_ECHO + 1)),
            Err(CommandError::TooLong(MAX_ECHO + 1))
        );
        assert!(CommandError::Unknown(String::new()).keeps_connection());
        assert!(!CommandError::TooLong(0).keeps_connection());
    }

    #[test]
    fn recognises_udp_hello() {
        assert_eq!(udp_hello_nonce(b"HELLO n1\n"), Some("n1".into()));
        assert_eq!(udp_hello_nonce(b"HELLO"), Some(String::new()));
        assert_eq!(udp_hello_nonce(b"HELLOx"), None);
        assert_eq!(udp_hello_nonce(b"hello n1"), None);
        assert_eq!(udp_hello_nonce(b""), None);
    }
}

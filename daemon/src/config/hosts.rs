//! `-H` addresses, parsed as dockerd does: `unix://PATH` (empty path: the default socket),
//! `tcp://HOST:PORT` (empty host: localhost; empty port: 2375, or 2376 with TLS), a bare
//! `HOST:PORT` means tcp. `fd://` (systemd socket activation) is refused.
use std::fmt;
use std::path::PathBuf;

use super::{ConfigError, DEFAULT_UNIX_SOCKET};

/// One listening address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAddr {
    Unix(PathBuf),
    Tcp { host: String, port: u16 },
}

impl HostAddr {
    /// Parses one `-H` value; `tls` picks the default TCP port.
    pub fn parse(value: &str, tls: bool) -> Result<HostAddr, ConfigError> {
        let value = value.trim();
        let invalid =
            |why: &str| ConfigError::Invalid(format!("invalid bind address ({value}): {why}"));
        let (proto, addr) = match value.split_once("://") {
            Some((p, a)) => (p, a),
            None => ("tcp", value),
        };
        match proto {
            "unix" => {
                if addr.contains("://") {
                    return Err(invalid("invalid unix address"));
                }
                let path = if addr.is_empty() { DEFAULT_UNIX_SOCKET } else { addr };
                Ok(HostAddr::Unix(PathBuf::from(path)))
            }
            "tcp" => {
                if addr.contains('/') {
                    return Err(invalid("should not contain a path element"));
                }
                let (host, port) = split_host_port(addr).ok_or_else(|| invalid("expected HOST:PORT"))?;
                let host = if host.is_empty() { "localhost".to_string() } else { host.to_string() };
                let port = if port.is_empty() {
                    if tls { 2376 } else { 2375 }
                } else {
                    port.parse::<u16>().map_err(|_| invalid("invalid port"))?
                };
                Ok(HostAddr::Tcp { host, port })
            }
            "fd" => Err(ConfigError::Invalid(format!(
                "invalid bind address ({value}): fd:// (systemd socket activation) is not supported by berthd; use unix:// or tcp://"
            ))),
            other => Err(invalid(&format!("unsupported proto '{other}'"))),
        }
    }

    /// Whether a TCP host is a loopback address (`localhost`, 127.0.0.0/8, ::1).
    pub fn is_loopback(&self) -> bool {
        match self {
            HostAddr::Unix(_) => true,
            HostAddr::Tcp { host, .. } => {
                host == "localhost"
                    || host
                        .parse::<std::net::IpAddr>()
                        .map(|ip| ip.is_loopback())
                        .unwrap_or(false)
            }
        }
    }
}

/// Splits `host:port`, `[v6]:port`, `host` (no port), `:port`.
fn split_host_port(addr: &str) -> Option<(&str, &str)> {
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => "",
            p => p.strip_prefix(':')?,
        };
        return Some((host, port));
    }
    match addr.matches(':').count() {
        0 => Some((addr, "")),
        1 => addr.split_once(':'),
        _ => None, // a bare IPv6 address needs brackets
    }
}

impl fmt::Display for HostAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostAddr::Unix(p) => write!(f, "unix://{}", p.display()),
            HostAddr::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcp://[{host}]:{port}")
            }
            HostAddr::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        HostAddr::parse(s, false)
            .map(|h| h.to_string())
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn parses_like_dockerd() {
        assert_eq!(p("unix://"), "unix:///var/run/docker.sock");
        assert_eq!(p("unix:///tmp/d.sock"), "unix:///tmp/d.sock");
        assert_eq!(p("tcp://"), "tcp://localhost:2375");
        assert_eq!(p("tcp://:2380"), "tcp://localhost:2380");
        assert_eq!(p("tcp://0.0.0.0"), "tcp://0.0.0.0:2375");
        assert_eq!(p("127.0.0.1:99"), "tcp://127.0.0.1:99");
        assert_eq!(p("tcp://[::1]:5"), "tcp://[::1]:5");
        assert_eq!(
            HostAddr::parse("tcp://", true).map(|h| h.to_string()).ok(),
            Some("tcp://localhost:2376".into())
        );
        assert!(p("fd://").starts_with("ERR") && p("fd://").contains("not supported"));
        assert!(p("ssh://x").contains("unsupported proto 'ssh'"));
        assert!(p("tcp://h:1/path").starts_with("ERR"));
    }

    #[test]
    fn loopback() {
        assert!(HostAddr::parse("tcp://127.0.0.1:1", false)
            .map(|h| h.is_loopback())
            .unwrap_or(false));
        assert!(HostAddr::parse("tcp://localhost:1", false)
            .map(|h| h.is_loopback())
            .unwrap_or(false));
        assert!(!HostAddr::parse("tcp://0.0.0.0:1", false)
            .map(|h| h.is_loopback())
            .unwrap_or(true));
    }
}

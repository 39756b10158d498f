//! Binding the `-H` addresses: unix sockets (stale file removed, mode 0660, group `docker`
//! when it exists) and TCP (without `--tlsverify`, on any address, it needs `--tls=false`).
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, UnixListener};

use super::ServerError;
use crate::config::{Config, HostAddr};

/// A bound listening socket.
pub enum Listener {
    Unix {
        listener: UnixListener,
        path: PathBuf,
    },
    Tcp {
        listener: TcpListener,
        addr: String,
    },
}

impl Listener {
    pub fn describe(&self) -> String {
        match self {
            Listener::Unix { path, .. } => format!("unix://{}", path.display()),
            Listener::Tcp { addr, .. } => format!("tcp://{addr}"),
        }
    }
}

/// What can be checked or bound before anything is started: TCP listeners bound (a port
/// in use is found here), unix socket paths checked (free, group known) but bound only
/// by [`Prepared::bind_unix_sockets`], once start-up is done.
pub struct Prepared {
    tcp: Vec<Listener>,
    unix: Vec<PathBuf>,
    gid: Option<nix::unistd::Gid>,
}

/// Checks every configured host before berthd starts berth-containerd or touches
/// networks, so that a refusal (plain TCP on a public address, a port or socket in use,
/// an unknown socket group) leaves nothing behind.
pub async fn prepare(config: &Config) -> Result<Prepared, ServerError> {
    let mut prepared = Prepared {
        tcp: Vec::new(),
        unix: Vec::new(),
        gid: None,
    };
    for host in config.host_addrs()? {
        match &host {
            HostAddr::Unix(path) => {
                check_unix_free(path)?;
                if prepared.gid.is_none() {
                    prepared.gid = Some(socket_gid(config)?);
                }
                prepared.unix.push(path.clone());
            }
            HostAddr::Tcp { host: h, port } => {
                check_tcp_policy(&host, config)?;
                let addr = if h.contains(':') {
                    format!("[{h}]:{port}")
                } else {
                    format!("{h}:{port}")
                };
                let listener = TcpListener::bind(&addr)
                    .await
                    .map_err(|e| ServerError::Listen {
                        addr: host.to_string(),
                        source: e,
                    })?;
                let local = listener.local_addr().map(|a| a.to_string()).unwrap_or(addr);
                prepared.tcp.push(Listener::Tcp {
                    listener,
                    addr: local,
                });
            }
        }
    }
    Ok(prepared)
}

impl Prepared {
    /// Binds the unix sockets (checked by [`prepare`]) and returns every listener.
    pub fn bind_unix_sockets(self) -> Result<Vec<Listener>, ServerError> {
        let mut out = self.tcp;
        let gid = self.gid.unwrap_or(nix::unistd::Gid::from_raw(0));
        for path in &self.unix {
            out.push(bind_unix(path, gid)?);
        }
        for l in &out {
            tracing::info!("API listen on {}", l.describe());
        }
        Ok(out)
    }
}

/// dockerd's rule, made strict (DESIGN.md, Security): a TCP listener needs TLS with client
/// verification (`--tlsverify`). Without it, only an explicit opt-out is accepted, on any
/// address, loopback included (a web page in the user's browser reaches loopback too):
/// `--tls=false` for plain TCP, or `--tlsverify=false` for TLS without client certificates.
/// dockerd 29 still only warns on loopback and on an implicit default.
fn check_tcp_policy(host: &HostAddr, config: &Config) -> Result<(), ServerError> {
    if config.tls_verify {
        return Ok(());
    }
    // `--tlsverify=false` turns TLS on (config::resolve); `--tls` alone implies verification.
    let explicit = config.tls == Some(false) || config.tls_enabled();
    if !explicit {
        return Err(ServerError::InsecureTcp(host.to_string()));
    }
    tracing::warn!(
        host = %host,
        "Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network."
    );
    tracing::warn!(
        host = %host,
        "Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there!"
    );
    Ok(())
}

fn unix_listen_error(path: &Path, source: std::io::Error) -> ServerError {
    ServerError::Listen {
        addr: format!("unix://{}", path.display()),
        source,
    }
}

/// A socket path another daemon answers on is refused; its folder is created.
fn check_unix_free(path: &Path) -> Result<(), ServerError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| unix_listen_error(path, e))?;
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(unix_listen_error(
            path,
            std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another daemon is already listening on this socket",
            ),
        ));
    }
    Ok(())
}

fn bind_unix(path: &Path, gid: nix::unistd::Gid) -> Result<Listener, ServerError> {
    let listen_err = |e: std::io::Error| unix_listen_error(path, e);
    check_unix_free(path)?;
    match std::fs::remove_file(path) {
        Ok(()) => tracing::debug!("removed stale socket {}", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(listen_err(e)),
    }
    let listener = UnixListener::bind(path).map_err(listen_err)?;
    nix::unistd::chown(path, Some(nix::unistd::Uid::from_raw(0)), Some(gid))
        .map_err(|e| listen_err(std::io::Error::from(e)))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(listen_err)?;
    Ok(Listener::Unix {
        listener,
        path: path.to_path_buf(),
    })
}

/// The group owning the sockets: `--group` (default `docker`); root when the default group
/// does not exist, an error when an explicitly given one does not.
fn socket_gid(config: &Config) -> Result<nix::unistd::Gid, ServerError> {
    let name = &config.socket_group;
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(nix::unistd::Gid::from_raw(gid));
    }
    match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) | Err(_) if !config.socket_group_explicit => {
            tracing::debug!("group {name:?} not found, the API socket belongs to root");
            Ok(nix::unistd::Gid::from_raw(0))
        }
        Ok(None) => Err(ServerError::Group(format!("group {name:?} not found"))),
        Err(e) => Err(ServerError::Group(format!(
            "looking up group {name:?}: {e}"
        ))),
    }
}

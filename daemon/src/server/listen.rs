//! Binding the `-H` addresses: unix sockets (stale file removed, mode 0660, group `docker`
//! when it exists) and TCP (plain TCP on a non-loopback address needs `--tls=false`).
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

/// Binds every configured host. Unix socket paths created are returned by `Listener::Unix`
/// so that shutdown can remove them.
pub async fn bind_all(config: &Config) -> Result<Vec<Listener>, ServerError> {
    let mut out = Vec::new();
    for host in config.host_addrs()? {
        let listener = match &host {
            HostAddr::Unix(path) => bind_unix(path, config)?,
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
                Listener::Tcp {
                    listener,
                    addr: local,
                }
            }
        };
        tracing::info!("API listen on {}", listener.describe());
        out.push(listener);
    }
    Ok(out)
}

/// dockerd's rule, made strict: TCP without TLS client verification is insecure; on a
/// non-loopback address it is refused unless TLS was explicitly turned off.
fn check_tcp_policy(host: &HostAddr, config: &Config) -> Result<(), ServerError> {
    if config.tls_verify {
        return Ok(());
    }
    tracing::warn!(
        host = %host,
        "Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network."
    );
    if config.tls.is_none() && !host.is_loopback() {
        return Err(ServerError::InsecureTcp(host.to_string()));
    }
    Ok(())
}

fn bind_unix(path: &Path, config: &Config) -> Result<Listener, ServerError> {
    let listen_err = |e: std::io::Error| ServerError::Listen {
        addr: format!("unix://{}", path.display()),
        source: e,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(listen_err)?;
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(listen_err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "another daemon is already listening on this socket",
        )));
    }
    match std::fs::remove_file(path) {
        Ok(()) => tracing::debug!("removed stale socket {}", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(listen_err(e)),
    }
    let listener = UnixListener::bind(path).map_err(listen_err)?;
    let gid = socket_gid(config)?;
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

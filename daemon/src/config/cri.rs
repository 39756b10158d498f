//! The flags of berthd's Kubernetes side: the CRI server (`--cri-socket`, on by default at
//! `<exec-root>/cri.sock`, off when given empty), its pause image, CNI's folders, the
//! streaming server's address; and `--registry-config-dir`, the registry hosts
//! configuration in containerd's `certs.d/<host>/hosts.toml` layout, which CRI pulls and
//! Docker pulls both follow (mirrors, plain-HTTP registries).
use std::path::{Path, PathBuf};

use clap::Args;

#[derive(Debug, Clone, Default, Args)]
pub struct CriFlags {
    /// The CRI (Kubernetes) gRPC socket; empty turns the CRI off (default <exec-root>/cri.sock)
    #[arg(long = "cri-socket", value_name = "PATH")]
    pub cri_socket: Option<String>,
    /// The pod sandbox (pause) image (default registry.k8s.io/pause:3.9)
    #[arg(long = "cri-sandbox-image", value_name = "IMAGE")]
    pub cri_sandbox_image: Option<String>,
    /// Address of the CRI streaming server for exec, attach and port-forward (default 127.0.0.1:0)
    #[arg(long = "cri-stream-address", value_name = "HOST:PORT")]
    pub cri_stream_address: Option<String>,
    /// CNI network configuration folder (default /etc/cni/net.d)
    #[arg(long = "cni-conf-dir", value_name = "DIR")]
    pub cni_conf_dir: Option<PathBuf>,
    /// CNI plugin folder, repeatable (default /opt/cni/bin and /usr/lib/cni)
    #[arg(long = "cni-bin-dir", value_name = "DIR")]
    pub cni_bin_dir: Vec<PathBuf>,
    /// Registry hosts configuration, containerd's certs.d layout: <dir>/<host>/hosts.toml (default /etc/berth/certs.d)
    #[arg(long = "registry-config-dir", value_name = "DIR")]
    pub registry_config_dir: Option<PathBuf>,
}

/// The resolved CRI settings.
#[derive(Debug, Clone)]
pub struct CriConfig {
    /// `None`: the CRI is off.
    pub socket: Option<PathBuf>,
    pub sandbox_image: String,
    pub stream_address: String,
    pub cni_conf_dir: PathBuf,
    pub cni_bin_dirs: Vec<PathBuf>,
}

/// Where `hosts.toml` folders are looked for when `--registry-config-dir` is not given.
pub const DEFAULT_REGISTRY_CONFIG_DIR: &str = "/etc/berth/certs.d";

impl CriFlags {
    pub fn resolve(&self, exec_root: &Path) -> CriConfig {
        let socket = match self.cri_socket.as_deref() {
            None => Some(exec_root.join("cri.sock")),
            Some("") => None,
            Some(p) => Some(PathBuf::from(p.trim_start_matches("unix://"))),
        };
        CriConfig {
            socket,
            sandbox_image: self
                .cri_sandbox_image
                .clone()
                .unwrap_or_else(|| "registry.k8s.io/pause:3.9".into()),
            stream_address: self
                .cri_stream_address
                .clone()
                .unwrap_or_else(|| "127.0.0.1:0".into()),
            cni_conf_dir: self
                .cni_conf_dir
                .clone()
                .unwrap_or_else(|| "/etc/cni/net.d".into()),
            cni_bin_dirs: if self.cni_bin_dir.is_empty() {
                vec!["/opt/cni/bin".into(), "/usr/lib/cni".into()]
            } else {
                self.cni_bin_dir.clone()
            },
        }
    }

    pub fn registry_config_dir(&self) -> PathBuf {
        self.registry_config_dir
            .clone()
            .unwrap_or_else(|| DEFAULT_REGISTRY_CONFIG_DIR.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_defaults_under_the_exec_root_and_empty_turns_it_off() {
        let root = Path::new("/run/berth");
        let f = CriFlags::default();
        assert_eq!(
            f.resolve(root).socket,
            Some(PathBuf::from("/run/berth/cri.sock"))
        );
        let off = CriFlags {
            cri_socket: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(off.resolve(root).socket, None);
        let given = CriFlags {
            cri_socket: Some("unix:///tmp/x.sock".into()),
            cni_bin_dir: vec!["/b".into()],
            ..Default::default()
        };
        let c = given.resolve(root);
        assert_eq!(c.socket, Some(PathBuf::from("/tmp/x.sock")));
        assert_eq!(c.cni_bin_dirs, vec![PathBuf::from("/b")]);
    }
}

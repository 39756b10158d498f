//! The CRI server's settings (berthd's `--cri-*` flags).
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct CriOptions {
    /// The gRPC socket (`--cri-socket`).
    pub socket: PathBuf,
    /// Persistent state: records, bundles, pods' files (`<data-root>/cri`).
    pub root: PathBuf,
    /// Runtime state: network namespaces, shm mounts (`<exec-root>/cri`).
    pub state: PathBuf,
    /// The pause image (`--cri-sandbox-image`).
    pub sandbox_image: String,
    /// `--cni-conf-dir`.
    pub cni_conf_dir: PathBuf,
    /// `--cni-bin-dir` (repeatable).
    pub cni_bin_dirs: Vec<PathBuf>,
    /// Where the streaming server listens (`--cri-stream-address`, host:port; port 0 picks one).
    pub stream_address: String,
    /// The engine's version, for `Version`.
    pub runtime_version: String,
}

impl CriOptions {
    /// The defaults under the given data and exec roots.
    pub fn new(
        socket: PathBuf,
        data_root: &std::path::Path,
        exec_root: &std::path::Path,
    ) -> CriOptions {
        CriOptions {
            socket,
            root: data_root.join("cri"),
            state: exec_root.join("cri"),
            sandbox_image: DEFAULT_SANDBOX_IMAGE.into(),
            cni_conf_dir: "/etc/cni/net.d".into(),
            cni_bin_dirs: vec!["/opt/cni/bin".into(), "/usr/lib/cni".into()],
            stream_address: "127.0.0.1:0".into(),
            runtime_version: String::new(),
        }
    }
}

/// The pause image when none is configured (containerd 1.7's default).
pub const DEFAULT_SANDBOX_IMAGE: &str = "registry.k8s.io/pause:3.9";

//! What the CRI tests share: a berthd with its CRI socket, a CNI network of the test's own
//! (a bridge and a subnet no other test uses, IPAM state in the test's folder), registry
//! hosts.toml files mirroring the CRI suite's registries to the local one, a gRPC client,
//! and the CRI tools of ../shared/cri (critest, crictl), found by `BERTH_CRI_TOOLS` or next
//! to the workspace.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_cri::proto::image_service_client::ImageServiceClient;
use berth_cri::proto::runtime_service_client::RuntimeServiceClient;
use tonic::transport::Channel;

use crate::common::Daemon;

/// The registries critest pulls from, mirrored to the local CRI registry.
pub const MIRRORED: &[&str] = &["registry.k8s.io", "gcr.io", "k8s.gcr.io"];

/// The CRI suite's plain-HTTP registry (scripts/registries.sh starts it).
pub fn cri_registry() -> String {
    let port = std::env::var("BERTH_CRI_REGISTRY_PORT").unwrap_or_else(|_| "5001".into());
    format!("127.0.0.1:{port}")
}

/// The folder of critest.sh and bin/crictl: `$BERTH_CRI_TOOLS`, else `shared/cri` beside the
/// workspace (as on developers' machines and CI). `None` (with a loud message) when absent.
pub fn tools() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var("BERTH_CRI_TOOLS") {
        Ok(p) => vec![PathBuf::from(p)],
        Err(_) => vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/cri")],
    };
    for c in &candidates {
        if c.join("critest.sh").is_file() && c.join("bin/crictl").is_file() {
            return std::fs::canonicalize(c).ok();
        }
    }
    eprintln!(
        "\n\n==========================================================================\n\
         SKIPPED: the CRI tools (critest.sh, bin/crictl) were not found at {candidates:?}.\n\
         Set BERTH_CRI_TOOLS to the folder holding them (../shared/cri) to run this test.\n\
         ==========================================================================\n"
    );
    None
}

/// A test's CNI network and registry configuration.
pub struct CriSetup {
    pub dir: tempfile::TempDir,
    pub bridge: String,
}

impl CriSetup {
    /// A network on bridge `bridge` (≤ 15 characters) with `subnet`, and hosts.toml files
    /// mirroring [`MIRRORED`] to the CRI registry.
    pub fn new(bridge: &str, subnet: &str) -> CriSetup {
        let dir = tempfile::Builder::new()
            .prefix("berth-cri-")
            .tempdir()
            .expect("tempdir");
        let net = dir.path().join("net.d");
        std::fs::create_dir_all(&net).expect("net.d");
        let conf = serde_json::json!({
            "cniVersion": "1.0.0",
            "name": format!("berth-test-{bridge}"),
            "plugins": [
                {
                    "type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": false,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": subnet}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": dir.path().join("ipam").display().to_string(),
                    }
                },
                {"type": "portmap", "capabilities": {"portMappings": true}}
            ]
        });
        std::fs::write(net.join("10-test.conflist"), conf.to_string()).expect("conflist");
        let registry = cri_registry();
        for host in MIRRORED {
            let d = dir.path().join("certs.d").join(host);
            std::fs::create_dir_all(&d).expect("certs.d");
            std::fs::write(
                d.join("hosts.toml"),
                format!(
                    "server = \"https://{host}\"\n\n[host.\"http://{registry}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
                ),
            )
            .expect("hosts.toml");
        }
        CriSetup {
            dir,
            bridge: bridge.to_string(),
        }
    }

    /// berthd's flags for this setup, with `sandbox_image` as the pause image.
    pub fn daemon_args(&self, sandbox_image: &str) -> Vec<String> {
        let p = |s: &str| self.dir.path().join(s).display().to_string();
        vec![
            "--cri-sandbox-image".into(),
            sandbox_image.into(),
            "--cni-conf-dir".into(),
            p("net.d"),
            "--cni-bin-dir".into(),
            "/usr/lib/cni".into(),
            "--cni-bin-dir".into(),
            "/opt/cni/bin".into(),
            "--registry-config-dir".into(),
            p("certs.d"),
        ]
    }
}

impl Drop for CriSetup {
    fn drop(&mut self) {
        // The bridge outlives the pods (as with containerd); nothing else uses it.
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
        remove_idle_portmap_chains();
    }
}

/// The portmap plugin's host chains stay after the last pod goes (as on any CNI node):
/// once no pod's port mapping is left in them, they are removed with their jumps.
pub fn remove_idle_portmap_chains() {
    let dnat = Command::new("iptables")
        .args(["-t", "nat", "-S", "CNI-HOSTPORT-DNAT"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    if dnat.is_empty() || dnat.lines().any(|l| l.starts_with("-A CNI-HOSTPORT-DNAT")) {
        return; // absent, or a pod still maps a port
    }
    let jumps: [&[&str]; 3] = [
        &[
            "-t",
            "nat",
            "-D",
            "PREROUTING",
            "-m",
            "addrtype",
            "--dst-type",
            "LOCAL",
            "-j",
            "CNI-HOSTPORT-DNAT",
        ],
        &[
            "-t",
            "nat",
            "-D",
            "OUTPUT",
            "-m",
            "addrtype",
            "--dst-type",
            "LOCAL",
            "-j",
            "CNI-HOSTPORT-DNAT",
        ],
        &[
            "-t",
            "nat",
            "-D",
            "POSTROUTING",
            "-m",
            "comment",
            "--comment",
            "CNI portfwd requiring masquerade",
            "-j",
            "CNI-HOSTPORT-MASQ",
        ],
    ];
    for args in jumps {
        let _ = Command::new("iptables").args(args).output();
    }
    for chain in [
        "CNI-HOSTPORT-DNAT",
        "CNI-HOSTPORT-MASQ",
        "CNI-HOSTPORT-SETMARK",
    ] {
        let _ = Command::new("iptables")
            .args(["-t", "nat", "-F", chain])
            .output();
        let _ = Command::new("iptables")
            .args(["-t", "nat", "-X", chain])
            .output();
    }
}

/// The CRI socket of a test daemon (berthd's default: `<exec-root>/cri.sock`).
pub fn socket(d: &Daemon) -> PathBuf {
    d.dir.path().join("exec").join("cri.sock")
}

/// gRPC clients on a unix socket.
pub async fn clients(
    socket: &Path,
) -> (RuntimeServiceClient<Channel>, ImageServiceClient<Channel>) {
    let path = socket.to_path_buf();
    let channel = tonic::transport::Endpoint::from_static("http://[::]:50051")
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move {
                tokio::net::UnixStream::connect(path)
                    .await
                    .map(hyper_util::rt::TokioIo::new)
            }
        }))
        .await
        .expect("connect to the CRI socket");
    (
        RuntimeServiceClient::new(channel.clone()),
        ImageServiceClient::new(channel),
    )
}

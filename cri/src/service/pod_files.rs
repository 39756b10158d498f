//! The files a pod's containers share, as containerd's `setupSandboxFiles`: `hostname`
//! (the pod's, or the node's with host networking), `hosts` (the node's /etc/hosts),
//! `resolv.conf` (the kubelet's DNS config, else the node's), and the pod's `/dev/shm`
//! (a 64 MiB tmpfs, or the node's with host IPC).
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{CriError, CriResult};
use crate::proto::{DnsConfig, PodSandboxConfig};
use crate::spec::container::PodFiles;

/// Where a sandbox's files are.
pub fn paths(root_dir: &Path, state_dir: &Path, host_ipc: bool) -> PodFiles {
    PodFiles {
        hostname: root_dir.join("hostname"),
        hosts: root_dir.join("hosts"),
        resolv_conf: root_dir.join("resolv.conf"),
        shm: if host_ipc {
            PathBuf::from("/dev/shm")
        } else {
            state_dir.join("shm")
        },
    }
}

/// The contents of resolv.conf for a DNS config.
pub fn resolv_conf(dns: &DnsConfig) -> String {
    let mut out = String::new();
    if !dns.searches.is_empty() {
        out.push_str(&format!("search {}\n", dns.searches.join(" ")));
    }
    for s in &dns.servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !dns.options.is_empty() {
        out.push_str(&format!("options {}\n", dns.options.join(" ")));
    }
    out
}

fn write(path: &Path, data: &[u8]) -> CriResult<()> {
    std::fs::write(path, data).map_err(|e| CriError::io(format!("writing {}", path.display()), e))
}

/// Writes hostname, hosts and resolv.conf, and mounts the shm tmpfs.
pub fn create(
    files: &PodFiles,
    config: &PodSandboxConfig,
    host_network: bool,
    host_ipc: bool,
) -> CriResult<()> {
    let hostname = if host_network || config.hostname.is_empty() {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        config.hostname.clone()
    };
    write(&files.hostname, format!("{hostname}\n").as_bytes())?;
    let hosts = std::fs::read("/etc/hosts").unwrap_or_else(|_| b"127.0.0.1\tlocalhost\n".to_vec());
    write(&files.hosts, &hosts)?;
    let resolv = match &config.dns_config {
        Some(dns)
            if !(dns.servers.is_empty() && dns.searches.is_empty() && dns.options.is_empty()) =>
        {
            resolv_conf(dns).into_bytes()
        }
        _ => std::fs::read("/etc/resolv.conf").unwrap_or_default(),
    };
    write(&files.resolv_conf, &resolv)?;
    if !host_ipc {
        std::fs::create_dir_all(&files.shm)
            .map_err(|e| CriError::io(format!("creating {}", files.shm.display()), e))?;
        if !is_mounted(&files.shm) {
            mount(
                Some("shm"),
                &files.shm,
                Some("tmpfs"),
                MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some("mode=1777,size=65536k"),
            )
            .map_err(|e| {
                CriError::io(
                    format!("mounting the pod's shm at {}", files.shm.display()),
                    e.into(),
                )
            })?;
        }
    }
    Ok(())
}

/// Unmounts the pod's shm (when it has its own).
pub fn release_shm(files: &PodFiles, host_ipc: bool) {
    if host_ipc {
        return;
    }
    if is_mounted(&files.shm) {
        if let Err(e) = umount2(&files.shm, MntFlags::MNT_DETACH) {
            tracing::warn!(path = %files.shm.display(), error = %e, "unmounting the pod's shm");
        }
    }
}

/// Whether `path` is a mount point (in /proc/self/mountinfo).
pub fn is_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let target = path.display().to_string();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(target.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_from_dns_config() {
        let dns = DnsConfig {
            servers: vec!["8.8.8.8".into()],
            searches: vec!["a.local".into(), "b".into()],
            options: vec!["ndots:5".into()],
        };
        assert_eq!(
            resolv_conf(&dns),
            "search a.local b\nnameserver 8.8.8.8\noptions ndots:5\n"
        );
    }
}

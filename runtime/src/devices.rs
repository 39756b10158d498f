//! /dev inside the container: device nodes (mknod, or a bind of the host's
//! node when mknod is refused), the standard symlinks and /dev/ptmx.
use crate::error::{Error, Result};
use crate::syscall::Syscall;
use crate::utils::secure_join;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: i64,
    pub minor: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

pub fn default_devices() -> Vec<Device> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .iter()
    .map(|(n, ma, mi)| Device {
        path: PathBuf::from(format!("/dev/{n}")),
        kind: SFlag::S_IFCHR,
        major: *ma,
        minor: *mi,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

pub fn from_spec(d: &LinuxDevice) -> Result<Device> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(Error::Spec(format!(
                "device {}: type a",
                d.path().display()
            )))
        }
    };
    Ok(Device {
        path: d.path().clone(),
        kind,
        major: d.major(),
        minor: d.minor(),
        mode: d.file_mode().unwrap_or(0o666),
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

/// The spec's devices plus the default set (those the spec does not list).
pub fn all_devices(spec_devices: &[LinuxDevice]) -> Result<Vec<Device>> {
    let mut out: Vec<Device> = spec_devices.iter().map(from_spec).collect::<Result<_>>()?;
    for d in default_devices() {
        if !out.iter().any(|o| o.path == d.path) {
            out.push(d);
        }
    }
    Ok(out)
}

/// Creates the nodes with mknod, or binds the host's nodes when `bind_only`
/// (a user namespace) or when mknod is refused.
pub fn create_devices(
    sys: &dyn Syscall,
    rootfs: &Path,
    devices: &[Device],
    bind_only: bool,
) -> Result<()> {
    let old = nix::sys::stat::umask(Mode::empty());
    let r = devices
        .iter()
        .try_for_each(|d| create_one(sys, rootfs, d, bind_only));
    nix::sys::stat::umask(old);
    r
}

fn create_one(sys: &dyn Syscall, rootfs: &Path, d: &Device, bind_only: bool) -> Result<()> {
    let dest = secure_join(rootfs, &d.path);
    if let Some(parent) = dest.parent() {
        sys.mkdir_all(parent)?;
    }
    let bind = || -> Result<()> {
        sys.create_file(&dest)?;
        sys.mount(Some(&d.path), &dest, Some("bind"), MsFlags::MS_BIND, None)
    };
    if bind_only {
        return bind();
    }
    let dev = nix::sys::stat::makedev(d.major as u64, d.minor as u64);
    match sys.mknod(
        &dest,
        d.kind,
        Mode::from_bits_truncate(d.mode & 0o7777),
        dev,
    ) {
        Ok(()) => sys.chown(&dest, d.uid, d.gid),
        Err(Error::Sys(_, nix::Error::EEXIST)) => Ok(()),
        Err(Error::Sys(_, nix::Error::EPERM)) => bind(),
        Err(e) => Err(e),
    }
}

pub fn symlinks(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    let mut links = vec![
        ("/proc/self/fd", "dev/fd"),
        ("/proc/self/fd/0", "dev/stdin"),
        ("/proc/self/fd/1", "dev/stdout"),
        ("/proc/self/fd/2", "dev/stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "dev/core"));
    }
    for (target, link) in links {
        sys.symlink(Path::new(target), &rootfs.join(link))?;
    }
    Ok(())
}

/// /dev/ptmx -> pts/ptmx, so the devpts instance of the container is used.
pub fn setup_ptmx(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    let p = rootfs.join("dev/ptmx");
    sys.remove_file(&p)?;
    sys.symlink(Path::new("pts/ptmx"), &p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall_fake::{Call, RecordingSyscall};

    #[test]
    fn creates_defaults_with_mknod() {
        let sys = RecordingSyscall::new();
        let devs = all_devices(&[]).expect("devs");
        create_devices(&sys, Path::new("/r"), &devs, false).expect("create");
        let c = sys.calls();
        assert!(c.contains(&Call::Mknod(
            "/r/dev/null".into(),
            nix::sys::stat::makedev(1, 3)
        )));
        assert!(c.contains(&Call::Mknod(
            "/r/dev/tty".into(),
            nix::sys::stat::makedev(5, 0)
        )));
    }

    #[test]
    fn falls_back_to_bind_when_mknod_is_refused() {
        let mut sys = RecordingSyscall::new();
        sys.mknod_eperm = true;
        create_devices(&sys, Path::new("/r"), &default_devices(), false).expect("create");
        let m = sys.mounts();
        assert_eq!(m.len(), 6);
        assert_eq!(m[0].0, Some(PathBuf::from("/dev/null")));
        assert_eq!(m[0].1, PathBuf::from("/r/dev/null"));
    }

    #[test]
    fn binds_without_mknod_in_a_user_namespace() {
        let sys = RecordingSyscall::new();
        create_devices(&sys, Path::new("/r"), &default_devices(), true).expect("create");
        assert!(!sys.calls().iter().any(|c| matches!(c, Call::Mknod(..))));
        assert_eq!(sys.mounts().len(), 6);
    }

    #[test]
    fn ptmx_and_links() {
        let sys = RecordingSyscall::new();
        setup_ptmx(&sys, Path::new("/r")).expect("ptmx");
        symlinks(&sys, Path::new("/r")).expect("links");
        let c = sys.calls();
        assert!(c.contains(&Call::Symlink("pts/ptmx".into(), "/r/dev/ptmx".into())));
        assert!(c.contains(&Call::Symlink("/proc/self/fd".into(), "/r/dev/fd".into())));
    }
}

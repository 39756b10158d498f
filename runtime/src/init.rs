//! The container init, in the forked child: cgroup, namespaces, rootfs,
//! console, hostname, sysctls, paths, process settings; then it reports
//! ready, blocks on exec.fifo until `start`, and execs the user process.
use crate::cgroups::Cgroup;
use crate::console;
use crate::devices;
use crate::error::{Error, Result};
use crate::namespaces::{self, Plan};
use crate::process::{self, Prepared};
use crate::rootfs::{self, CgroupMount};
use crate::syscall::{LinuxSyscall, Syscall};
use crate::userns;
use nix::sched::CloneFlags;
use oci_spec::runtime::Spec;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

pub struct InitConfig<'a> {
    pub spec: &'a Spec,
    pub rootfs: PathBuf,
    pub plan: Plan,
    pub cgroup: Option<Cgroup>,
    /// O_PATH fd of exec.fifo; None for `run` without a fifo.
    pub fifo: Option<OwnedFd>,
    pub console: Option<UnixStream>,
}

/// Runs in the child; never returns. `in_cgroup`: born in its cgroup (clone3).
pub fn run(cfg: InitConfig, sync: OwnedFd, in_cgroup: bool) -> ! {
    let prepared = match setup(&cfg, &sync, in_cgroup) {
        Ok(p) => p,
        Err(e) => {
            process::write_frame(&sync, process::ERROR, &e.to_string());
            // SAFETY: terminating the forked child.
            unsafe { libc::_exit(1) }
        }
    };
    process::write_frame(&sync, process::READY, "");
    drop(sync);
    if let Some(fifo) = &cfg.fifo {
        let p = format!("/proc/self/fd/{}", fifo.as_raw_fd());
        match std::fs::OpenOptions::new().write(true).open(&p) {
            Ok(mut f) => {
                let _ = f.write_all(b"0");
            }
            Err(e) => {
                eprintln!("berth-runc init: open exec fifo: {e}");
                // SAFETY: terminating the forked child.
                unsafe { libc::_exit(1) }
            }
        }
    }
    let e = process::exec(&prepared);
    eprintln!("berth-runc init: {e}");
    // SAFETY: terminating the forked child.
    unsafe { libc::_exit(127) }
}

fn setup(cfg: &InitConfig, sync: &OwnedFd, in_cgroup: bool) -> Result<Prepared> {
    let sys = LinuxSyscall;
    let spec = cfg.spec;
    let proc_ = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Spec("process is missing".into()))?;
    let linux = spec.linux().as_ref();
    // Join the cgroup before unsharing the cgroup namespace, whose root it becomes.
    if let (Some(cg), false) = (&cfg.cgroup, in_cgroup) {
        cg.join_self()?;
    }
    let in_userns = cfg.plan.user.is_some();
    if in_userns {
        let fork = userns::enter(&sys, &cfg.plan, &mut |new| {
            if new {
                userns::request_maps(sync)?;
            }
            userns::become_root()
        })?;
        if fork {
            userns::fork_init(sync)?;
        }
    } else {
        namespaces::enter(&sys, &cfg.plan)?;
    }
    nix::unistd::setsid().map_err(|e| Error::sys("setsid", e))?;
    if !cfg.plan.has_mount_ns() {
        return Err(Error::Unsupported("a mount namespace is required".into()));
    }
    let mounts = spec.mounts().clone().unwrap_or_default();
    let cgm = cfg
        .cgroup
        .as_ref()
        .map(Cgroup::mount_info)
        .unwrap_or(CgroupMount::V1 {
            hierarchies: Vec::new(),
            links: Vec::new(),
        });
    let propagation = linux.and_then(|l| l.rootfs_propagation().as_deref());
    rootfs::prepare(&sys, &cfg.rootfs, &mounts, propagation, &cgm)?;
    if !rootfs::dev_is_bind(&mounts) {
        let spec_devs = linux.and_then(|l| l.devices().clone()).unwrap_or_default();
        // mknod is refused in a user namespace: bind the host's nodes instead.
        let devs = devices::all_devices(&spec_devs)?;
        devices::create_devices(&sys, &cfg.rootfs, &devs, in_userns)?;
        devices::setup_ptmx(&sys, &cfg.rootfs)?;
        devices::symlinks(&sys, &cfg.rootfs)?;
    }
    // Prepare the prepared exec path lookup inside the new root below.
    rootfs::pivot(&sys, &cfg.rootfs)?;
    rootfs::finish_propagation(&sys, propagation)?;
    if proc_.terminal() == Some(true) {
        let sock = cfg.console.as_ref().ok_or_else(|| {
            Error::Spec("process.terminal is true but no --console-socket was given".into())
        })?;
        setup_console(
            &sys,
            sock,
            proc_
                .console_size()
                .as_ref()
                .map(|b| (b.width() as u32, b.height() as u32)),
            true,
        )?;
    }
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        require_uts(&cfg.plan, "hostname")?;
        sys.sethostname(h)?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        require_uts(&cfg.plan, "domainname")?;
        sys.setdomainname(d)?;
    }
    crate::sysctl::apply(linux)?;
    if let Some(l) = linux {
        rootfs::readonly_paths(&sys, l.readonly_paths().as_deref().unwrap_or(&[]))?;
        rootfs::masked_paths(&sys, l.masked_paths().as_deref().unwrap_or(&[]))?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        rootfs::readonly_root(&sys)?;
    }
    let prepared = process::prepare(proc_)?;
    process::finalize(proc_, linux.and_then(|l| l.seccomp().as_ref()))?;
    Ok(prepared)
}

fn require_uts(plan: &Plan, what: &str) -> Result<()> {
    if plan.has_own(CloneFlags::CLONE_NEWUTS) {
        Ok(())
    } else {
        Err(Error::Spec(format!(
            "unable to set {what} without a private UTS namespace"
        )))
    }
}

/// Allocates the pty, binds it over /dev/console (init only), sends the master.
pub fn setup_console(
    sys: &dyn Syscall,
    sock: &UnixStream,
    size: Option<(u32, u32)>,
    bind_console: bool,
) -> Result<()> {
    let pty = console::open_pty()?;
    if let Some((w, h)) = size {
        console::set_size(&pty, w, h);
    }
    if bind_console {
        let c = Path::new("/dev/console");
        sys.create_file(c)?;
        sys.mount(
            Some(&pty.name),
            c,
            Some("bind"),
            nix::mount::MsFlags::MS_BIND,
            None,
        )?;
    }
    console::send_master(sock, &pty)?;
    console::make_stdio(&pty)
}

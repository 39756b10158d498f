//! Lifecycle commands: create, start, run, kill, delete, pause, resume.
use crate::cgroups::{self, Cgroup};
use crate::console;
use crate::error::{Error, Result};
use crate::handshake;
use crate::init::{self, InitConfig};
use crate::namespaces;
use crate::spec;
use crate::state::{self, State, Status, EXEC_FIFO};
use crate::syscall::LinuxSyscall;
use crate::userns;
use crate::utils::write_atomic;
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::{ForkResult, Pid};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct CreateOpts {
    pub root: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
}

/// Creates the container; returns the init's pid (a child of the caller).
pub fn create(o: &CreateOpts) -> Result<Pid> {
    state::validate_id(&o.id)?;
    let bundle = std::fs::canonicalize(&o.bundle).map_err(|e| Error::io("bundle", &o.bundle, e))?;
    let spec = spec::load(&bundle)?;
    std::fs::create_dir_all(&o.root).map_err(|e| Error::io("mkdir", &o.root, e))?;
    let sdir = state::dir(&o.root, &o.id);
    match std::fs::create_dir(&sdir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::Exists(o.id.clone()))
        }
        Err(e) => return Err(Error::io("mkdir", &sdir, e)),
    }
    let mut cgroup = None;
    let r = create_inner(o, &bundle, &spec, &sdir, &mut cgroup);
    if r.is_err() {
        if let Some(cg) = cgroup {
            let _ = cg.destroy();
        }
        let _ = std::fs::remove_dir_all(&sdir);
    }
    r
}

fn create_inner(
    o: &CreateOpts,
    bundle: &Path,
    spec: &oci_spec::runtime::Spec,
    sdir: &Path,
    cgroup_out: &mut Option<Cgroup>,
) -> Result<Pid> {
    let rootfs = spec::rootfs(bundle, spec)?;
    let linux = spec.linux().as_ref();
    if let Some(h) = spec.hooks() {
        if h.create_container().as_ref().is_some_and(|v| !v.is_empty())
            || h.start_container().as_ref().is_some_and(|v| !v.is_empty())
        {
            return Err(Error::Unsupported(
                "createContainer and startContainer hooks are not supported by berth-runc yet"
                    .into(),
            ));
        }
    }
    let plan = namespaces::plan(linux.and_then(|l| l.namespaces().as_deref()).unwrap_or(&[]))?;
    userns::validate(&plan, linux)?;
    crate::sysctl::validate(&plan, linux)?;
    let fifo_path = sdir.join(EXEC_FIFO);
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
        .map_err(|e| Error::sys("mkfifo exec.fifo", e))?;
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &fifo_path,
        Mode::from_bits_truncate(0o622),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(|e| Error::sys("chmod exec.fifo", e))?;
    let fifo = nix::fcntl::open(&fifo_path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| Error::sys("open exec.fifo", e))?;
    let cg = cgroups::create(
        linux.and_then(|l| l.cgroups_path().as_deref()),
        &o.id,
        linux.and_then(|l| l.resources().as_ref()),
    )?;
    *cgroup_out = Some(cg.clone());
    let console = o
        .console_socket
        .as_deref()
        .map(console::connect)
        .transpose()?;
    // A socket pair: with a user namespace the parent answers the child.
    let (r, w) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::Stream,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::sys("socketpair", e))?;
    if plan.user.is_none() {
        // With a user namespace the init creates its pid namespace inside it.
        namespaces::enter_pid(&LinuxSyscall, &plan)?;
    }
    nix::unistd::chdir(bundle).map_err(|e| Error::sys("chdir bundle", e))?;
    let cfg = InitConfig {
        spec,
        rootfs: rootfs.clone(),
        plan,
        cgroup: Some(cg.clone()),
        fifo: Some(fifo),
        console,
    };
    // SAFETY: berth-runc is single-threaded here; the child only sets up and execs.
    let child = match unsafe { crate::spawn::fork(Some(&cg)) }? {
        (ForkResult::Child, in_cgroup) => {
            drop(r);
            init::run(cfg, w, in_cgroup)
        }
        (ForkResult::Parent { child }, _) => child,
    };
    drop(w);
    drop(cfg);
    let child = handshake::wait_ready(&r, child, linux)?;
    let st = State {
        id: o.id.clone(),
        pid: child.as_raw(),
        pid_start: state::pid_start_time(child.as_raw()).unwrap_or(0),
        bundle: bundle.to_path_buf(),
        rootfs,
        created: state::now_rfc3339(),
        owner: String::new(),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        cgroup: Some(cg),
        process: spec
            .process()
            .as_ref()
            .and_then(|p| serde_json::to_value(p).ok()),
        hooks: spec.hooks().clone(),
        seccomp: linux.and_then(|l| l.seccomp().clone()),
        resources: linux.and_then(|l| l.resources().clone()),
    };
    if let Some(h) = spec.hooks() {
        let mut j = st.to_runc_json(Status::Created);
        j["status"] = "creating".into();
        let j = j.to_string();
        let mut r = crate::hooks::run_all(h.prestart().as_deref().unwrap_or(&[]), &j, "prestart");
        if r.is_ok() {
            r = crate::hooks::run_all(
                h.create_runtime().as_deref().unwrap_or(&[]),
                &j,
                "createRuntime",
            );
        }
        if let Err(e) = r {
            let _ = kill(child, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(child, None);
            return Err(e);
        }
    }
    st.save(&o.root)?;
    if let Some(pf) = &o.pid_file {
        write_atomic(pf, child.as_raw().to_string().as_bytes())?;
    }
    Ok(child)
}

pub fn start(root: &Path, id: &str) -> Result<()> {
    let st = State::load(root, id)?;
    match st.status(root) {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::State(
                "cannot start a container that has stopped".into(),
            ))
        }
        s => {
            return Err(Error::State(format!(
                "cannot start an already {} container",
                s.as_str()
            )))
        }
    }
    let fifo_path = state::dir(root, id).join(EXEC_FIFO);
    let fifo = nix::fcntl::open(
        &fifo_path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys("open exec.fifo", e))?;
    loop {
        let mut fds = [nix::poll::PollFd::new(
            fifo.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16));
        let mut buf = [0u8; 16];
        match nix::unistd::read(&fifo, &mut buf) {
            Ok(n) if n > 0 => break,
            _ => {}
        }
        if !st.is_alive() {
            return Err(Error::State("container init exited before start".into()));
        }
    }
    std::fs::remove_file(&fifo_path).map_err(|e| Error::io("remove", fifo_path, e))?;
    if let Some(h) = st.hooks.as_ref().and_then(|h| h.poststart().clone()) {
        let j = st.to_runc_json(Status::Running).to_string();
        crate::hooks::run_all(&h, &j, "poststart")?;
    }
    Ok(())
}

pub fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| Error::State(format!("invalid signal {s}")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>()
        .map_err(|_| Error::State(format!("unknown signal {s:?}")))
}

pub fn kill_container(root: &Path, id: &str, sig: Signal, all: bool) -> Result<()> {
    let st = State::load(root, id)?;
    if st.status(root) == Status::Stopped {
        return Err(Error::State("container not running".into()));
    }
    if all {
        if let Some(cg) = &st.cgroup {
            for p in cg.procs()? {
                let _ = kill(Pid::from_raw(p), sig);
            }
            return Ok(());
        }
    }
    kill(Pid::from_raw(st.pid), sig).map_err(|e| Error::sys(format!("kill {}", st.pid), e))
}

fn wait_gone(st: &State, timeout: Duration) -> bool {
    let t0 = Instant::now();
    while st.is_alive() {
        if t0.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    state::validate_id(id)?;
    let st = match State::load(root, id) {
        Ok(s) => s,
        Err(Error::NotFound(_)) => {
            let d = state::dir(root, id);
            let existed = d.exists();
            let _ = std::fs::remove_dir_all(&d);
            return if force || existed {
                Ok(())
            } else {
                Err(Error::NotFound(id.to_string()))
            };
        }
        Err(e) => return Err(e),
    };
    match st.status(root) {
        Status::Stopped => {}
        Status::Created => {
            let _ = kill(Pid::from_raw(st.pid), Signal::SIGKILL);
            wait_gone(&st, Duration::from_secs(5));
        }
        s if !force => {
            return Err(Error::State(format!(
                "cannot delete container {id} that is not stopped: {}",
                s.as_str()
            )))
        }
        _ => {
            if let Some(cg) = &st.cgroup {
                for p in cg.procs().unwrap_or_default() {
                    let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
                }
                let _ = cg.freeze(false);
            }
            let _ = kill(Pid::from_raw(st.pid), Signal::SIGKILL);
            if !wait_gone(&st, Duration::from_secs(10)) {
                return Err(Error::State(format!(
                    "container {id} init did not die after SIGKILL"
                )));
            }
        }
    }
    if let Some(cg) = &st.cgroup {
        cg.destroy()?;
    }
    let d = state::dir(root, id);
    std::fs::remove_dir_all(&d).map_err(|e| Error::io("remove", d, e))?;
    if let Some(h) = st.hooks.as_ref().and_then(|h| h.poststop().clone()) {
        let j = st.to_runc_json(Status::Stopped).to_string();
        if let Err(e) = crate::hooks::run_all(&h, &j, "poststop") {
            crate::logging::warn(&e.to_string());
        }
    }
    Ok(())
}

pub fn pause(root: &Path, id: &str, frozen: bool) -> Result<()> {
    let st = State::load(root, id)?;
    let s = st.status(root);
    let ok = if frozen {
        matches!(s, Status::Running | Status::Created)
    } else {
        s == Status::Paused
    };
    if !ok {
        return Err(Error::State(format!("container {id} is {}", s.as_str())));
    }
    st.cgroup
        .as_ref()
        .ok_or_else(|| Error::Cgroup("container has no cgroup".into()))?
        .freeze(frozen)
}

/// For `list` and `state`: every container under root.
pub fn all(root: &Path) -> Vec<State> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return out;
    };
    for e in rd.flatten() {
        if let Ok(s) = State::load(root, &e.file_name().to_string_lossy()) {
            out.push(s);
        }
    }
    out.sort_by(|a, b| a.created.cmp(&b.created));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("9").expect("9"), Signal::SIGKILL);
        assert_eq!(parse_signal("KILL").expect("KILL"), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").expect("term"), Signal::SIGTERM);
        assert!(parse_signal("NOPE").is_err());
    }
}

//! `exec`: a new process in a running container's namespaces and cgroup.
use crate::error::{Error, Result};
use crate::init::setup_console;
use crate::namespaces;
use crate::process::{self, ERROR};
use crate::state::{State, Status};
use crate::syscall::{LinuxSyscall, Syscall};
use crate::utils::write_atomic;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::unistd::ForkResult;
use oci_spec::runtime::Process;
use std::os::fd::AsFd;
use std::path::PathBuf;

#[derive(Default)]
pub struct ExecOpts {
    pub root: PathBuf,
    pub id: String,
    pub process_file: Option<PathBuf>,
    pub args: Vec<String>,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub user: Option<String>,
}

fn load_process(o: &ExecOpts, st: &State) -> Result<Process> {
    if let Some(f) = &o.process_file {
        let data = std::fs::read(f).map_err(|e| Error::io("read", f, e))?;
        return serde_json::from_slice(&data).map_err(|e| Error::Json(f.display().to_string(), e));
    }
    if o.args.is_empty() {
        return Err(Error::Spec(
            "exec: no command given and no --process".into(),
        ));
    }
    let base = st
        .process
        .clone()
        .ok_or_else(|| Error::State("container has no recorded process".into()))?;
    let mut p: Process =
        serde_json::from_value(base).map_err(|e| Error::Json("process".into(), e))?;
    p.set_args(Some(o.args.clone()));
    p.set_terminal(Some(o.tty));
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(o.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(c) = &o.cwd {
        p.set_cwd(c.clone());
    }
    if let Some(u) = &o.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        let mut user = p.user().clone();
        user.set_uid(
            uid.parse()
                .map_err(|_| Error::Spec(format!("bad --user {u}")))?,
        );
        user.set_gid(
            gid.parse()
                .map_err(|_| Error::Spec(format!("bad --user {u}")))?,
        );
        p.set_user(user);
    }
    Ok(p)
}

pub fn exec(o: &ExecOpts) -> Result<i32> {
    let st = State::load(&o.root, &o.id)?;
    match st.status(&o.root) {
        Status::Running | Status::Created => {}
        Status::Paused => return Err(Error::State("cannot exec in a paused container".into())),
        Status::Stopped => return Err(Error::State("cannot exec in a stopped container".into())),
    }
    let p = load_process(o, &st)?;
    let terminal = p.terminal() == Some(true);
    let console = if terminal {
        let s = o
            .console_socket
            .as_deref()
            .ok_or_else(|| Error::Spec("cannot allocate a tty without --console-socket".into()))?;
        Some(crate::console::connect(s)?)
    } else {
        None
    };
    let mut nss = namespaces::of_process(st.pid)?;
    let sys = LinuxSyscall;
    if let Some(i) = nss.iter().position(|(f, _)| *f == CloneFlags::CLONE_NEWPID) {
        let (_, fd) = nss.remove(i);
        sys.setns(fd.as_fd(), CloneFlags::CLONE_NEWPID)?;
    }
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))?;
    // SAFETY: single-threaded; the child sets up and execs.
    let child = match unsafe { crate::spawn::fork(st.cgroup.as_ref()) }? {
        (ForkResult::Child, in_cgroup) => {
            drop(r);
            let res = (|| -> Result<()> {
                if let (Some(cg), false) = (&st.cgroup, in_cgroup) {
                    cg.join_self()?;
                }
                for (f, fd) in &nss {
                    sys.setns(fd.as_fd(), *f)?;
                }
                if let Some(sock) = &console {
                    nix::unistd::setsid().map_err(|e| Error::sys("setsid", e))?;
                    let size = p
                        .console_size()
                        .as_ref()
                        .map(|b| (b.width() as u32, b.height() as u32));
                    setup_console(&sys, sock, size, false)?;
                }
                let prepared = process::prepare(&p)?;
                process::finalize(&p, st.seccomp.as_ref())?;
                Err(process::exec(&prepared))
            })();
            if let Err(e) = res {
                process::write_frame(&w, ERROR, &e.to_string());
            }
            // SAFETY: terminating the forked child.
            unsafe { libc::_exit(127) }
        }
        (ForkResult::Parent { child }, _) => child,
    };
    drop(w);
    drop(console);
    if let Some((_, msg)) = process::read_frame(&r)? {
        let _ = nix::sys::wait::waitpid(child, None);
        return Err(Error::Child(msg));
    }
    if let Some(pf) = &o.pid_file {
        write_atomic(pf, child.as_raw().to_string().as_bytes())?;
    }
    if o.detach {
        return Ok(0);
    }
    process::wait_exit_code(child)
}

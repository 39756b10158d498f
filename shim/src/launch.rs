//! `berth-shim start`: fork the shim proper (new session, stdio on /dev/null), have it
//! create the container, and report back to the launcher through a pipe.
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

use crate::cli::StartArgs;
use crate::error::Result;
use crate::exec;
use crate::log::ContainerLog;
use crate::process::Proc;
use crate::reaper::Reaper;
use crate::runtime::Runtime;
use crate::shim::Shim;
use crate::util;

/// Runs the launcher: returns the process exit code.
pub fn launch(args: StartArgs) -> std::io::Result<i32> {
    fs::create_dir_all(&args.state_dir)?;
    let (r, w) = util::pipe()?;
    // SAFETY: the launcher is single-threaded; the child only runs our own code.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => {
            drop(r);
            std::process::exit(shim_main(args, w));
        }
        _ => {
            drop(w);
            let mut msg = String::new();
            fs::File::from(r).read_to_string(&mut msg)?;
            if let Some(path) = msg.strip_prefix("ok\n") {
                println!("{path}");
                Ok(0)
            } else {
                let err = msg
                    .strip_prefix("err\n")
                    .unwrap_or("berth-shim: the shim died during create");
                eprintln!("{err}");
                Ok(1)
            }
        }
    }
}

fn detach() -> std::io::Result<()> {
    // SAFETY: plain syscalls in the freshly forked child.
    unsafe {
        if libc::setsid() < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let null = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        for fd in 0..3 {
            libc::dup2(null.as_raw_fd(), fd);
        }
    }
    Ok(())
}

/// The shim proper, forked by `launch` or by the launch server: detaches, creates the
/// container, reports on `report` (`ok\n<socket>` or `err\n<message>`), then serves.
pub(crate) fn shim_main(args: StartArgs, report: OwnedFd) -> i32 {
    let mut report = fs::File::from(report);
    let shim = detach()
        .map_err(Into::into)
        .and_then(|_| create(args.clone()));
    match shim {
        Ok(mut shim) => {
            let _ = write!(report, "ok\n{}", shim.state.join("shim.sock").display());
            drop(report);
            match shim.run() {
                Ok(()) => 0,
                Err(_) => 1,
            }
        }
        Err(e) => {
            remove_made(&args.state_dir);
            let _ = write!(report, "err\n{e}");
            1
        }
    }
}

fn remove_made(state: &Path) {
    for name in [
        "shim.sock",
        "attach.sock",
        "shim.pid",
        "init.pid",
        "console.sock",
    ] {
        let _ = fs::remove_file(state.join(name));
    }
}

fn bind(path: &Path) -> std::io::Result<UnixListener> {
    let _ = fs::remove_file(path);
    let l = UnixListener::bind(path)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Sets up the sockets and runs the runtime's `create`.
fn create(mut args: StartArgs) -> Result<Shim> {
    let state = fs::canonicalize(&args.state_dir)?;
    args.bundle = fs::canonicalize(&args.bundle)?;
    if let Some(log) = &mut args.log {
        log.path = std::path::absolute(&log.path)?;
    }
    if args.runtime.components().count() > 1 {
        args.runtime = std::path::absolute(&args.runtime)?;
    }
    if let Some(root) = &mut args.runtime_root {
        *root = std::path::absolute(&*root)?;
    }
    // Hold no directory of whoever started us.
    std::env::set_current_dir("/")?;
    let reaper = Reaper::new()?;
    let ctl = bind(&state.join("shim.sock"))?;
    let att = bind(&state.join("attach.sock"))?;
    util::write_atomic(
        &state.join("shim.pid"),
        std::process::id().to_string().as_bytes(),
    )?;
    let log = match &args.log {
        Some(cfg) => Some(ContainerLog::open(cfg)?),
        None => None,
    };
    let rt = Runtime {
        bin: args.runtime.clone(),
        root: args.runtime_root.clone(),
        id: args.id.clone(),
    };
    let console = exec::sock_path(&state, "console.sock");
    let cmd = rt.create(
        &args.bundle,
        &state.join("init.pid"),
        args.terminal.then_some(console.as_path()),
    );
    let io = exec::run_with_stdio(cmd, Some(&console), args.terminal, args.stdin)?;
    let mut init = Proc::new(args.terminal);
    init.io = io;
    let mut shim = Shim {
        args,
        state,
        rt,
        reaper,
        ctl,
        att,
        init,
        execs: BTreeMap::new(),
        log,
        conns: BTreeMap::new(),
        clients: BTreeMap::new(),
        next_id: 0,
        orphans: Vec::new(),
        exiting: false,
        protocol: berth_proto::protocol_version(),
        oom: None,
    };
    shim.read_init_pid()?;
    Ok(shim)
}

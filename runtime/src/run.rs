//! `run`: create + start in one call; in the foreground it forwards signals,
//! waits, returns the container's exit code (128+n for a signal) and deletes.
use crate::container::{create, delete, start, CreateOpts};
use crate::error::Result;
use crate::process;

static RUN_CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let p = RUN_CHILD.load(std::sync::atomic::Ordering::SeqCst);
    if p > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(p, sig) };
    }
}

/// create + start; in the foreground, waits and returns the exit code, then deletes.
pub fn run(o: &CreateOpts, detach: bool, keep: bool) -> Result<i32> {
    if !detach {
        // With a user namespace the init is forked by an intermediate process
        // that exits: as a subreaper we still get to wait for it.
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }
    let child = create(o)?;
    RUN_CHILD.store(child.as_raw(), std::sync::atomic::Ordering::SeqCst);
    if !detach {
        for s in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ] {
            // SAFETY: installing a handler that only calls kill.
            unsafe { libc::signal(s, forward as *const () as libc::sighandler_t) };
        }
    }
    if let Err(e) = start(&o.root, &o.id) {
        let _ = delete(&o.root, &o.id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let code = process::wait_exit_code(child)?;
    if !keep {
        delete(&o.root, &o.id, true)?;
    }
    Ok(code)
}

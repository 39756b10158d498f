//! Berth's own runtime (berth-runc) called as a library for its short commands —
//! `start`, `kill`, `pause`, `resume`, `delete` — instead of a process per command
//! (an exec of berth-runc costs about a millisecond of loading before it does anything,
//! on the path of every `docker run` and `docker rm`). The library is the code of the
//! `berth-runc` binary this shim was built with, and the state it reads and writes is
//! the same (`--root`), so the binary and the shim's calls can be mixed (a shim of an
//! older build spawns the binary). Errors read as the binary prints them
//! (`berth-runc: …`). Any other runtime (runc, crun, an `--add-runtime` path) is run
//! as a process. `create` and `exec`, which start the container's processes, run in a
//! forked child that starts clean (`runtime_child`).
use std::path::Path;

use berth_runc::container;
use nix::sys::signal::Signal;

use crate::error::{Error, Result};

/// The binary's file name: a runtime of that name is Berth's own.
const BUILTIN: &str = "berth-runc";

/// True when `bin` is the berth-runc installed beside this shim (the same file, so
/// the same build; not a wrapper script that a runtime of that name with arguments
/// gets): its commands can be called in-process.
pub fn is_builtin(bin: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if bin.file_name().is_none_or(|n| n != BUILTIN) {
        return false;
    }
    let Some(beside) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(BUILTIN)))
    else {
        return false;
    };
    match (std::fs::metadata(bin), std::fs::metadata(beside)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// A command of the built-in runtime on container `id` under `root`.
pub enum Command {
    Start,
    Kill { signal: i32, all: bool },
    Pause,
    Resume,
    Delete { force: bool },
}

pub fn run(root: &Path, id: &str, cmd: Command) -> Result<()> {
    let done = match cmd {
        Command::Start => container::start(root, id),
        Command::Kill { signal, all } => match Signal::try_from(signal) {
            Ok(sig) => container::kill_container(root, id, sig, all),
            Err(_) => {
                return Err(Error::Runtime(format!(
                    "{BUILTIN}: invalid signal {signal}"
                )))
            }
        },
        Command::Pause => container::pause(root, id, true),
        Command::Resume => container::pause(root, id, false),
        Command::Delete { force } => container::delete(root, id, force),
    };
    done.map_err(|e| Error::Runtime(format!("{BUILTIN}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_berth_runc_beside_the_shim_is_builtin() {
        assert!(!is_builtin(Path::new("/usr/sbin/runc")));
        // A wrapper script of a runtime named berth-runc (daemon.json runtimeArgs).
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("berth-runc");
        std::fs::write(&script, "#!/bin/sh\nexec berth-runc --debug \"$@\"\n").expect("script");
        assert!(!is_builtin(&script));
        let exe = std::env::current_exe().expect("exe");
        let beside = exe.parent().expect("dir").join("berth-runc");
        if beside.exists() {
            assert!(is_builtin(&beside));
        }
    }

    #[test]
    fn errors_read_as_the_binary_prints_them() {
        let root = tempfile::tempdir().expect("tempdir");
        let err = run(root.path(), "nope", Command::Start).expect_err("no such container");
        assert!(err.to_string().contains("berth-runc: "), "{err}");
        // Deleting what does not exist: --force succeeds, as the binary's.
        run(root.path(), "nope", Command::Delete { force: true }).expect("forced delete");
        assert!(run(root.path(), "nope", Command::Delete { force: false }).is_err());
    }
}

//! Berth's own runtime (berth-runc) called as a library for its short commands —
//! `start`, `kill`, `pause`, `resume`, `delete` — instead of a process per command
//! (an exec of berth-runc costs about a millisecond of loading before it does anything,
//! on the path of every `docker run` and `docker rm`). The library is the code of the
//! `berth-runc` binary this shim was built with, and the state it reads and writes is
//! the same (`--root`), so the binary and the shim's calls can be mixed (a shim of an
//! older build spawns the binary). Errors read as the binary prints them
//! (`berth-runc: …`). Any other runtime (runc, crun, an `--add-runtime` path) is run
//! as a process. `create` and `exec` still run the binary: they fork the container's
//! processes, which must not inherit the shim's state (signal mask, descriptors).
use std::path::Path;

use berth_runc::container;
use nix::sys::signal::Signal;

use crate::error::{Error, Result};

/// The binary's file name: a runtime of that name is Berth's own.
const BUILTIN: &str = "berth-runc";

/// True when `bin` is berth-runc: its commands can be called in-process.
pub fn is_builtin(bin: &Path) -> bool {
    bin.file_name().is_some_and(|n| n == BUILTIN)
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
    fn only_berth_runc_is_builtin() {
        assert!(is_builtin(Path::new("/usr/local/bin/berth-runc")));
        assert!(is_builtin(Path::new("berth-runc")));
        assert!(!is_builtin(Path::new("/usr/sbin/runc")));
        assert!(!is_builtin(Path::new("/opt/berth-runc-wrapper")));
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

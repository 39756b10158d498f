//! Runtimes with arguments (daemon.json `runtimes.<name>.runtimeArgs`), run as dockerd
//! runs them: a small shell script per such runtime, `<data-root>/runtimes/<name>`, that
//! calls the runtime's binary with its arguments before the command line it was given.
//! berth-containerd and the shims are handed the script's path instead of the binary, so
//! every runtime command (create, start, state, kill, delete, exec, pause, update …) gets
//! the arguments, as with dockerd's `initRuntimes` / `getRuntime`.
//!
//! The folder is written whole at each daemon start (a fresh one swapped in), so a runtime
//! dropped from the configuration loses its script and a changed one is rewritten; its
//! path does not change, so a berth-containerd that survived the restart runs the new one.
//! Unlike dockerd's script, each argument is quoted for the shell, and the script `exec`s
//! the runtime, so signals reach it.
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::{Config, RuntimeConfig};

/// The folder of the scripts: `<data-root>/runtimes`, as dockerd's.
pub fn folder(config: &Config) -> PathBuf {
    config.data_root.join("runtimes")
}

/// The binary berth-containerd runs for `runtime`: its script when it has arguments,
/// else the runtime's own binary (`find` resolves a bare name).
pub fn binary_for(
    config: &Config,
    name: &str,
    runtime: &RuntimeConfig,
    find: impl Fn(&str) -> PathBuf,
) -> PathBuf {
    if runtime.args.is_empty() {
        find(&runtime.path)
    } else {
        folder(config).join(name)
    }
}

/// Writes the scripts of every runtime with arguments into a fresh folder and swaps it in.
pub fn write_all(config: &Config, find: impl Fn(&str) -> PathBuf) -> io::Result<()> {
    let dir = folder(config);
    let fresh = config.data_root.join("runtimes.new");
    let old = config.data_root.join("runtimes.old");
    remove_dir_if_any(&fresh)?;
    remove_dir_if_any(&old)?;
    std::fs::create_dir_all(&fresh)?;
    for (name, runtime) in config.runtimes.iter().filter(|(_, r)| !r.args.is_empty()) {
        if !is_file_name(name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("runtime name {name:?} cannot name a file"),
            ));
        }
        let script = fresh.join(name);
        std::fs::write(&script, script_text(&find(&runtime.path), &runtime.args))?;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700))?;
    }
    if dir.exists() {
        std::fs::rename(&dir, &old)?;
    }
    std::fs::rename(&fresh, &dir)?;
    remove_dir_if_any(&old)
}

fn remove_dir_if_any(dir: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn is_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/')
}

/// `#!/bin/sh` + `exec 'BINARY' 'ARG'… "$@"`.
fn script_text(binary: &Path, args: &[String]) -> String {
    let mut line = format!("exec {}", shell_quote(&binary.display().to_string()));
    for arg in args {
        line.push(' ');
        line.push_str(&shell_quote(arg));
    }
    format!("#!/bin/sh\n{line} \"$@\"\n")
}

/// One shell word whatever `s` holds: single quotes, a `'` written as `'\''`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(root: &Path, runtimes: &[(&str, &str, &[&str])]) -> Config {
        let mut config = Config {
            data_root: root.to_path_buf(),
            ..Config::default()
        };
        for (name, path, args) in runtimes {
            config.runtimes.insert(
                name.to_string(),
                RuntimeConfig {
                    path: path.to_string(),
                    args: args.iter().map(|a| a.to_string()).collect(),
                },
            );
        }
        config
    }

    fn find(name: &str) -> PathBuf {
        Path::new("/found").join(name)
    }

    #[test]
    fn runtimes_with_arguments_get_a_script_the_others_their_binary() {
        let root = tempfile::tempdir().unwrap();
        let config = config_with(
            root.path(),
            &[
                ("plain", "/usr/bin/crun", &[]),
                ("debugged", "crun", &["--debug", "--log=it's here"]),
            ],
        );
        write_all(&config, find).unwrap();
        let plain = &config.runtimes["plain"];
        assert_eq!(
            binary_for(&config, "plain", plain, find),
            Path::new("/usr/bin/crun")
        );
        let debugged = &config.runtimes["debugged"];
        let script = binary_for(&config, "debugged", debugged, find);
        assert_eq!(script, root.path().join("runtimes/debugged"));
        assert_eq!(
            std::fs::read_to_string(&script).unwrap(),
            "#!/bin/sh\nexec '/found/crun' '--debug' '--log=it'\\''s here' \"$@\"\n"
        );
        let mode = std::fs::metadata(&script).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(!root.path().join("runtimes/plain").exists());
    }

    #[test]
    fn a_runtime_dropped_from_the_configuration_loses_its_script() {
        let root = tempfile::tempdir().unwrap();
        let before = config_with(root.path(), &[("gone", "/bin/x", &["-a"])]);
        write_all(&before, find).unwrap();
        assert!(root.path().join("runtimes/gone").exists());
        let after = config_with(root.path(), &[("kept", "/bin/y", &["-b"])]);
        write_all(&after, find).unwrap();
        assert!(!root.path().join("runtimes/gone").exists());
        assert!(root.path().join("runtimes/kept").exists());
        assert!(!root.path().join("runtimes.new").exists());
        assert!(!root.path().join("runtimes.old").exists());
    }

    #[test]
    fn a_name_that_is_not_a_file_name_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let config = config_with(root.path(), &[("../escape", "/bin/x", &["-a"])]);
        assert!(write_all(&config, find).is_err());
        assert!(!root.path().join("escape").exists());
    }

    #[test]
    fn the_script_runs_the_binary_with_the_arguments_first() {
        let root = tempfile::tempdir().unwrap();
        let config = config_with(root.path(), &[("echoing", "/bin/echo", &["a b", "c"])]);
        write_all(&config, |p| PathBuf::from(p)).unwrap();
        let out = std::process::Command::new(root.path().join("runtimes/echoing"))
            .args(["create", "x y"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a b c create x y\n");
    }
}

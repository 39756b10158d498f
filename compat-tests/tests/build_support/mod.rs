//! Helpers of the build tests: a context folder, `docker build` in it.
use std::path::Path;
use std::process::Output;

use crate::common::{stderr, stdout, Daemon};

/// A context folder holding `files` (name, content).
pub fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("berth-build-")
        .tempdir()
        .expect("context dir");
    for (name, content) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("context subdir");
        }
        std::fs::write(path, content).expect("context file");
    }
    dir
}

/// `docker build ARGS .` in `dir`.
pub fn build(d: &Daemon, dir: &Path, args: &[&str]) -> Output {
    d.docker_cmd()
        .arg("build")
        .args(args)
        .arg(".")
        .current_dir(dir)
        .output()
        .expect("docker build")
}

pub fn build_ok(d: &Daemon, dir: &Path, args: &[&str]) -> String {
    let out = build(d, dir, args);
    assert!(
        out.status.success(),
        "docker build {args:?} failed\nstdout: {}\nstderr: {}\nberthd log:\n{}",
        stdout(&out),
        stderr(&out),
        crate::common::tail(&d.log(), 40)
    );
    stdout(&out)
}

//! An upgrade of Berth with live containers: the berth-containerd and shims of the old
//! build outlive the old berthd, as they should. A berthd of a newer protocol version
//! asks that berth-containerd to exit and starts its own, which adopts the shims; it
//! then speaks each shim's own attach protocol (the old one has no acknowledgement).
//! `BERTH_PROTOCOL_VERSION_FOR_TESTS=1` makes this build's binaries stand in for the
//! old build (no `GET /version`, no attach acknowledgement).
mod common;

use std::process::Command;

use common::{eventually, Daemon, Fixtures};

/// berth-containerd's pid among the processes of this daemon's engine.
fn containerd_pid(d: &Daemon) -> Option<i32> {
    common::engine_pids(d.dir.path()).into_iter().find(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            c.split(|b| *b == 0)
                .next()
                .is_some_and(|argv0| argv0.ends_with(b"berth-containerd"))
        })
    })
}

/// `docker ARGS` that must finish within 30 s (a client waiting for an acknowledgement
/// the old shim never sends would hang); its stdout.
fn docker_in_time(d: &Daemon, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .arg("30")
        .arg("docker")
        .args(args)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", &d.docker_config)
        .output()
        .expect("running docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}\nstderr: {}\nberthd log tail:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        common::tail(&d.log(), 40)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn a_newer_berthd_replaces_an_older_containerd_and_keeps_talking_to_old_shims() {
    let f = Fixtures::load();
    let mut d = Daemon::start_with_env(&[], &[("BERTH_PROTOCOL_VERSION_FOR_TESTS", "1")]);
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["run", "-d", "--name", "old", &image, "sleep", "300"]);
    let init = common::inspect_json(&d, &["inspect"], "old")["State"]["Pid"].clone();
    let old_containerd = containerd_pid(&d).expect("berth-containerd runs");

    // The upgrade: berthd stops (its berth-containerd and shims live on); the new
    // build's berthd starts.
    d.stop();
    assert!(alive(old_containerd), "berth-containerd outlives berthd");
    d.restart_with(&[]);
    eventually("the old berth-containerd exited", || !alive(old_containerd));
    let new_containerd = containerd_pid(&d).expect("a new berth-containerd runs");
    assert_ne!(new_containerd, old_containerd);
    assert!(
        d.log()
            .contains("berth-containerd speaks another protocol version"),
        "{}",
        common::tail(&d.log(), 40)
    );

    // The container ran on, adopted with its old shim.
    let c = common::inspect_json(&d, &["inspect"], "old");
    assert_eq!(c["State"]["Running"], true, "{c}");
    assert_eq!(c["State"]["Pid"], init);
    // An exec through the old shim (no acknowledgement) gives its output and code.
    let out = docker_in_time(&d, &["exec", "old", "echo", "through the old shim"]);
    assert_eq!(out.trim(), "through the old shim");
    let code = Command::new("timeout")
        .args(["30", "docker", "exec", "old", "sh", "-c", "exit 3"])
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", &d.docker_config)
        .status()
        .expect("docker exec");
    assert_eq!(code.code(), Some(3));

    // A new container gets a shim of this build: `docker run` prints its output.
    let out = docker_in_time(&d, &["run", "--rm", &image, "echo", "fresh"]);
    assert_eq!(out.trim(), "fresh");

    // The old container stops and goes as any other.
    docker_in_time(&d, &["stop", "-t", "1", "old"]);
    assert_eq!(
        common::inspect_json(&d, &["inspect"], "old")["State"]["ExitCode"],
        137
    );
    docker_in_time(&d, &["rm", "old"]);
    assert_eq!(containerd_pid(&d), Some(new_containerd));
}

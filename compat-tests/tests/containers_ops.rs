//! More container operations with the stock docker CLI: exec, restart policies, prune,
//! top and stats, update, OOM kills, diff. Images come from the fixture registry
//! (scripts/test.sh).
mod common;

use std::time::Duration;

use common::{eventually, Daemon, Fixtures};
use serde_json::Value;

fn inspect(d: &Daemon, name: &str) -> Value {
    common::inspect_json(d, &["inspect"], name)
}

/// The shim blocks SIGCHLD for its own signalfd: the container's processes (its init,
/// an exec, with a tty or without) start with no signal blocked, as under dockerd; and
/// with SIGPIPE's default action (the runtime's Rust code ignores it).
#[test]
fn container_processes_start_with_no_signal_blocked_or_ignored() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let blocked = "grep SigBlk /proc/self/status";
    let out = d.docker_ok(&["run", "--rm", &image, "sh", "-c", blocked]);
    assert_eq!(out.trim(), "SigBlk:\t0000000000000000", "init: {out}");
    d.docker_ok(&["run", "-d", "--name", "sigs", &image, "sleep", "300"]);
    let out = d.docker_ok(&["exec", "sigs", "sh", "-c", blocked]);
    assert_eq!(out.trim(), "SigBlk:\t0000000000000000", "exec: {out}");
    let out = d.docker_ok(&["exec", "-t", "sigs", "sh", "-c", blocked]);
    assert_eq!(out.trim(), "SigBlk:\t0000000000000000", "exec -t: {out}");
    // SigIgn is hex; bit 12 is SIGPIPE (13). Nothing is ignored, as under runc: not
    // SIGPIPE (the Rust runtime's), nor 32 and 33, nor what berthd's parent ignored.
    let ignored = |out: &str| {
        let hex = out.trim().trim_start_matches("SigIgn:").trim();
        u64::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("SigIgn: {out}"))
    };
    // The program itself reads it (busybox's sh as pid 1 ignores SIGQUIT, as under runc).
    let shown = ["grep", "SigIgn", "/proc/self/status"];
    let out = d.docker_ok(&[&["run", "--rm", &image][..], &shown].concat());
    assert_eq!(ignored(&out), 0, "init ignores signals: {out}");
    let out = d.docker_ok(&[&["exec", "sigs"][..], &shown].concat());
    assert_eq!(ignored(&out), 0, "exec ignores signals: {out}");
    let out = d.docker_ok(&[&["exec", "-t", "sigs"][..], &shown].concat());
    assert_eq!(ignored(&out), 0, "exec -t ignores signals: {out}");
    d.docker_ok(&["rm", "-f", "sigs"]);
}

#[test]
fn exec_detached_and_into_a_stopped_container() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let id = d.docker_ok(&["run", "-d", "--name", "ex", &image, "sleep", "300"]);
    let id = id.trim().to_string();
    d.docker_ok(&[
        "exec",
        "-d",
        "-e",
        "GREETING=hi",
        "ex",
        "sh",
        "-c",
        "echo $GREETING > /tmp/out",
    ]);
    let upper = d
        .data_root()
        .join("containers")
        .join(&id)
        .join("diff/tmp/out");
    eventually("the exec to write its file", || {
        std::fs::read_to_string(&upper).is_ok_and(|s| s == "hi\n")
    });
    d.docker_ok(&["stop", "-t", "0", "ex"]);
    let err = d.docker_err(&["exec", "ex", "true"]);
    assert!(
        err.contains(&format!("Container {id} is not running")),
        "{err}"
    );
    let err = d.docker_err(&["exec", "nope", "true"]);
    assert!(err.contains("No such container: nope"), "{err}");
    d.docker_ok(&["rm", "ex"]);
}

#[test]
fn restart_policies_and_prune() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        &image,
        "sh",
        "-c",
        "exit 1",
    ]);
    eventually("two restarts, then a final exit", || {
        let c = inspect(&d, "flaky");
        c["RestartCount"] == 2 && c["State"]["Status"] == "exited"
    });
    assert_eq!(inspect(&d, "flaky")["State"]["ExitCode"], 1);

    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        &image,
        "sh",
        "-c",
        "sleep 0.2; exit 2",
    ]);
    eventually("a restart", || {
        inspect(&d, "always")["RestartCount"].as_u64().unwrap_or(0) >= 1
    });
    d.docker_ok(&["stop", "-t", "1", "always"]);
    std::thread::sleep(Duration::from_secs(1));
    let c = inspect(&d, "always");
    assert_eq!(c["State"]["Status"], "exited", "{c}");
    assert_eq!(c["State"]["Running"], false);

    d.docker_ok(&["run", "-d", "--name", "keep", &image, "sleep", "300"]);
    let out = d.docker_ok(&["container", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    let left = d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.trim(), "keep");
    d.docker_ok(&["rm", "-f", "keep"]);
}

#[test]
fn top_and_stats_of_a_running_container() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["run", "-d", "--name", "busy", &image, "sleep", "300"]);
    let out = d.docker_ok(&["top", "busy"]);
    assert!(out.contains("sleep 300"), "{out}");
    let out = d.docker_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        "busy",
    ]);
    assert_eq!(out.trim(), "busy 1");
    let df = d.docker_ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Active}}",
    ]);
    assert!(df.contains("Images 1 1"), "{df}");
    assert!(df.contains("Containers 1 1"), "{df}");
    d.docker_ok(&["stop", "-t", "0", "busy"]);
    let err = d.docker_err(&["top", "busy"]);
    assert!(err.contains("is not running"), "{err}");
    d.docker_ok(&["rm", "busy"]);
}

#[test]
fn update_changes_limits_of_a_running_container() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let id = d.docker_ok(&[
        "run", "-d", "--name", "lim", "-m", "64m", &image, "sleep", "300",
    ]);
    let id = id.trim().to_string();
    d.docker_ok(&[
        "update",
        "-m",
        "128m",
        "--memory-swap",
        "256m",
        "--cpus",
        "0.5",
        "lim",
    ]);
    let c = inspect(&d, "lim");
    assert_eq!(c["HostConfig"]["Memory"], 128 << 20);
    assert_eq!(c["HostConfig"]["MemorySwap"], 256 << 20);
    assert_eq!(c["HostConfig"]["NanoCpus"], 500_000_000);
    // The running container's cgroup has the new limit (v1 or v2 layout).
    let v1 = format!("/sys/fs/cgroup/memory/berth/{id}/memory.limit_in_bytes");
    let v2 = format!("/sys/fs/cgroup/berth/{id}/memory.max");
    let limit = std::fs::read_to_string(&v1)
        .or_else(|_| std::fs::read_to_string(&v2))
        .unwrap_or_default();
    assert_eq!(limit.trim(), (128u64 << 20).to_string());
    let err = d.docker_err(&["update", "-m", "1k", "lim"]);
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
    // Update checks the restart policy as create does.
    let err = d.docker_err(&["update", "--restart", "always:3", "lim"]);
    assert!(
        err.contains("maximum retry count can only be used with 'on-failure'"),
        "{err}"
    );
    let c = inspect(&d, "lim");
    assert_eq!(c["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 0);
    d.docker_ok(&["rm", "-f", "lim"]);
}

#[test]
fn an_oom_kill_is_recorded() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let out = d.docker(&[
        "run",
        "--name",
        "hog",
        "-m",
        "8m",
        &image,
        "sh",
        "-c",
        "a=$(head -c 64000000 /dev/zero | tr '\\0' x); echo survived",
    ]);
    assert_eq!(out.status.code(), Some(137));
    let c = inspect(&d, "hog");
    assert_eq!(c["State"]["OOMKilled"], true);
    assert_eq!(c["State"]["ExitCode"], 137);
    d.docker_ok(&["rm", "hog"]);
}

#[test]
fn diff_lists_added_changed_and_deleted_paths() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "run",
        "--name",
        "ch",
        &image,
        "sh",
        "-c",
        "echo x > /tmp/new; rm /bin/ls",
    ]);
    let out = d.docker_ok(&["diff", "ch"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"A /tmp/new"), "{out}");
    assert!(lines.contains(&"D /bin/ls"), "{out}");
    assert!(lines.contains(&"C /bin"), "{out}");
    assert!(!out.contains("/etc/hosts"), "{out}");
    d.docker_ok(&["create", "--name", "fresh", &image]);
    assert_eq!(d.docker_ok(&["diff", "fresh"]).trim(), "");
    d.docker_ok(&["rm", "ch", "fresh"]);
}

#[test]
fn export_writes_the_root_as_a_tar() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "run",
        "--name",
        "exp",
        &image,
        "sh",
        "-c",
        "echo mark > /exported",
    ]);
    let tarball = d.dir.path().join("exp.tar");
    d.docker_ok(&["export", "-o", tarball.to_str().expect("path"), "exp"]);
    let file = std::fs::File::open(&tarball).expect("tarball");
    let mut names = Vec::new();
    for entry in tar::Archive::new(file).entries().expect("entries") {
        let entry = entry.expect("entry");
        names.push(entry.path().expect("path").display().to_string());
    }
    assert!(names.iter().any(|n| n == "exported"), "{names:?}");
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    // Folders named as Go's archive package names them, with a trailing "/".
    assert!(names.iter().any(|n| n == "bin/"), "{names:?}");
    assert!(!names.iter().any(|n| n == "bin"), "{names:?}");
    d.docker_ok(&["rm", "exp"]);
}

#[test]
fn cp_copies_files_and_folders_out_of_a_container() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "run",
        "--name",
        "src",
        &image,
        "sh",
        "-c",
        "mkdir -p /data/sub; echo hello > /data/sub/f; ln -s /data/sub /lnk",
    ]);
    let out = d.dir.path().join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    d.docker_ok(&["cp", "src:/data", out.to_str().expect("path")]);
    assert_eq!(
        std::fs::read_to_string(out.join("data/sub/f")).expect("copied"),
        "hello\n"
    );
    // A symlink in the middle of the path resolves inside the container.
    let single = out.join("single");
    d.docker_ok(&["cp", "src:/lnk/f", single.to_str().expect("path")]);
    assert_eq!(std::fs::read_to_string(&single).expect("copied"), "hello\n");
    let err = d.docker_err(&["cp", "src:/nope", out.to_str().expect("path")]);
    assert!(
        err.contains("Could not find the file /nope in container src"),
        "{err}"
    );
    d.docker_ok(&["rm", "src"]);
}

/// `docker kill` (SIGKILL) answers once the container has stopped, as dockerd's `Kill`
/// does: a `docker rm` right after it succeeds, and inspect already shows it exited.
#[test]
fn kill_answers_once_the_container_has_stopped() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    for round in 0..3 {
        let name = format!("killed-{round}");
        d.docker_ok(&["run", "-d", "--name", &name, &image, "sleep", "300"]);
        d.docker_ok(&["kill", &name]);
        let state = &inspect(&d, &name)["State"];
        assert_eq!(state["Running"], false, "{state}");
        assert_eq!(state["ExitCode"], 137, "{state}");
        d.docker_ok(&["rm", &name]);
    }
    // A paused container is thawed so that the SIGKILL lands (dockerd's killWithSignal).
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "killed-paused",
        &image,
        "sleep",
        "300",
    ]);
    d.docker_ok(&["pause", "killed-paused"]);
    let started = std::time::Instant::now();
    d.docker_ok(&["kill", "killed-paused"]);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let state = &inspect(&d, "killed-paused")["State"];
    assert_eq!(state["Status"], "exited", "{state}");
    assert_eq!(state["ExitCode"], 137, "{state}");
}

/// `container prune` while containers are starting (as bollard's tests run in parallel):
/// a start holds the container until its task runs, so the prune either removed the
/// container before the start (which then fails with "No such container") or finds it
/// running and leaves it. Never a running task without a container.
#[test]
fn prune_during_starts_leaves_no_task_without_a_container() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    for round in 0..6 {
        let name = format!("race-{round}");
        d.docker_ok(&["create", "--name", &name, &image, "sleep", "300"]);
        let mut start = d.docker_cmd();
        start
            .args(["start", &name])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut start = start.spawn().expect("docker start");
        if round % 2 == 1 {
            std::thread::sleep(Duration::from_millis(20 * round as u64));
        }
        d.docker_ok(&["container", "prune", "-f"]);
        start.wait().expect("docker start ends");
    }
    let running = common::lines(&d.docker_ok(&["ps", "-q"])).len();
    let all = common::lines(&d.docker_ok(&["ps", "-aq"])).len();
    assert_eq!(running, all, "only running containers survive the prunes");
    // berth-containerd plus one shim per running container.
    eventually("one shim per running container", || {
        common::containerd_and_shim_pids(d.dir.path()).len() == running + 1
    });
}

/// `SizeRootFs` is the image's size plus the container's changes, as dockerd's `getSize`:
/// in the list with `size=1` (the CLI's `ps -s` "(virtual …)") and in inspect with `size=1`.
#[test]
fn sizes_count_the_image_under_the_changes() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let image_size = d.docker_ok(&["image", "inspect", "-f", "{{.Size}}", &image]);
    let image_size: u64 = image_size.trim().parse().expect("image size");
    assert!(image_size > 0);
    d.docker_ok(&[
        "run",
        "--name",
        "sized",
        &image,
        "sh",
        "-c",
        "head -c 5000 /dev/zero > /blob",
    ]);
    let listed = d.api("GET", "/containers/json?all=1&size=1", None).json();
    let row = &listed[0];
    let rw = row["SizeRw"].as_u64().expect("SizeRw");
    assert!(rw >= 5000, "{row}");
    assert_eq!(row["SizeRootFs"].as_u64(), Some(rw + image_size), "{row}");
    let inspected = d.api("GET", "/containers/sized/json?size=1", None).json();
    assert_eq!(inspected["SizeRootFs"].as_u64(), Some(rw + image_size));
    let shown = d.docker_ok(&["ps", "-a", "-s", "--format", "{{.Size}}"]);
    assert!(shown.contains("(virtual "), "{shown}");
}

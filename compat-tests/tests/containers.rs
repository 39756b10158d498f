//! Container lifecycle with the stock docker CLI: run -d, ps (filters, status strings),
//! inspect, stop, kill, wait, rm, rename, pause, dockerd's errors, and containers that
//! outlive a berthd restart. Images come from the fixture registry (scripts/test.sh).
mod common;

use std::time::Duration;

use common::{eventually, Daemon, Fixtures};
use serde_json::Value;

fn inspect(d: &Daemon, name: &str) -> Value {
    common::inspect_json(d, &["inspect"], name)
}

fn ps(d: &Daemon, args: &[&str]) -> Vec<String> {
    let mut all = vec!["ps", "--format", "{{.Names}}|{{.Status}}|{{.Command}}"];
    all.extend_from_slice(args);
    d.docker_ok(&all)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn run_detached_inspect_stop_and_remove() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--label",
        "tier=front",
        &image,
        "sleep",
        "300",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");

    let rows = ps(&d, &[]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].starts_with("web|Up "), "{rows:?}");
    assert!(rows[0].ends_with("|\"sleep 300\""), "{rows:?}");

    let c = inspect(&d, "web");
    assert_eq!(c["Id"], id);
    assert_eq!(c["Name"], "/web");
    assert_eq!(c["Path"], "sleep");
    assert_eq!(c["Args"], serde_json::json!(["300"]));
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(c["State"]["Running"], true);
    assert!(c["State"]["Pid"].as_u64().unwrap_or(0) > 0);
    assert_eq!(c["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
    assert_eq!(c["Config"]["Image"], image);
    assert_eq!(c["Config"]["Hostname"], &id[..12]);
    assert_eq!(c["Config"]["Labels"]["tier"], "front");
    assert_eq!(c["Image"], f.image("busybox").id);
    assert_eq!(c["Driver"], "overlay2");
    assert_eq!(c["Platform"], "linux");
    assert_eq!(c["RestartCount"], 0);
    assert_eq!(c["HostConfig"]["ShmSize"], 67108864);
    assert_eq!(c["HostConfig"]["LogConfig"]["Type"], "json-file");
    assert_eq!(c["Mounts"], serde_json::json!([]));
    assert!(c["LogPath"]
        .as_str()
        .unwrap_or("")
        .ends_with(&format!("{id}-json.log")));
    assert_eq!(c["GraphDriver"]["Name"], "overlay2");

    // Short ID prefix and name both find it.
    assert_eq!(inspect(&d, &id[..8])["Id"], id);

    // rm of a running container is refused; stop (sleep ignores SIGTERM as PID 1) kills.
    let err = d.docker_err(&["rm", "web"]);
    assert!(
        err.contains(&format!("You cannot remove a running container {id}. Stop the container before attempting removal or force remove")),
        "{err}"
    );
    d.docker_ok(&["stop", "-t", "1", "web"]);
    let c = inspect(&d, "web");
    assert_eq!(c["State"]["Status"], "exited");
    assert_eq!(c["State"]["ExitCode"], 137);
    assert_eq!(c["State"]["Pid"], 0);
    assert_ne!(c["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
    assert!(ps(&d, &[]).is_empty());
    let rows = ps(&d, &["-a"]);
    assert!(rows[0].starts_with("web|Exited (137) "), "{rows:?}");

    // Started again, then removed by force.
    d.docker_ok(&["start", "web"]);
    assert_eq!(inspect(&d, "web")["State"]["Running"], true);
    d.docker_ok(&["rm", "-f", "web"]);
    assert!(ps(&d, &["-a"]).is_empty());
    let err = d.docker_err(&["inspect", "web"]);
    assert!(err.contains("No such object: web"), "{err}");
}

#[test]
fn wait_reports_exit_codes_and_ps_filters() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "run", "-d", "--name", "three", "--label", "k=v", &image, "sh", "-c", "exit 3",
    ]);
    assert_eq!(d.docker_ok(&["wait", "three"]).trim(), "3");
    d.docker_ok(&["run", "-d", "--name", "zero", &image, "true"]);
    assert_eq!(d.docker_ok(&["wait", "zero"]).trim(), "0");
    d.docker_ok(&["create", "--name", "fresh", &image]);
    d.docker_ok(&["run", "-d", "--name", "up", &image, "sleep", "300"]);

    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["ps", "--format", "{{.Names}}"];
        all.extend_from_slice(args);
        let mut v: Vec<String> = d.docker_ok(&all).lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(names(&[]), vec!["up"]);
    assert_eq!(names(&["-a"]), vec!["fresh", "three", "up", "zero"]);
    assert_eq!(
        names(&["-a", "--filter", "status=exited"]),
        vec!["three", "zero"]
    );
    assert_eq!(names(&["-a", "--filter", "exited=3"]), vec!["three"]);
    assert_eq!(names(&["-a", "--filter", "status=created"]), vec!["fresh"]);
    assert_eq!(names(&["-a", "--filter", "label=k=v"]), vec!["three"]);
    assert_eq!(names(&["-a", "--filter", "name=thr"]), vec!["three"]);
    assert_eq!(
        names(&["-a", "--filter", &format!("ancestor={image}")]).len(),
        4
    );
    assert_eq!(names(&["-a", "-n", "1"]), vec!["up"]);

    let rows = ps(&d, &["-a", "--filter", "name=three"]);
    assert!(rows[0].starts_with("three|Exited (3) "), "{rows:?}");
    assert!(rows[0].ends_with("|\"sh -c 'exit 3'\""), "{rows:?}");
    let rows = ps(&d, &["-a", "--filter", "name=fresh"]);
    assert_eq!(rows[0].split('|').nth(1), Some("Created"), "{rows:?}");

    let err = d.docker_err(&["ps", "--filter", "bogus=1"]);
    assert!(err.contains("invalid filter 'bogus'"), "{err}");
    d.docker_ok(&["rm", "-f", "up", "three", "zero", "fresh"]);
}

#[test]
fn dockerd_errors_for_names_state_and_resources() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let id = d.docker_ok(&["create", "--name", "dup", &image, "true"]);
    let id = id.trim();
    let err = d.docker_err(&["create", "--name", "dup", &image]);
    assert!(
        err.contains(&format!("Conflict. The container name \"/dup\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")),
        "{err}"
    );
    let err = d.docker_err(&["create", "--name", "a b", &image]);
    assert!(
        err.contains("Invalid container name (a b), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
        "{err}"
    );
    let err = d.docker_err(&["start", "nope"]);
    assert!(err.contains("No such container: nope"), "{err}");
    let err = d.docker_err(&["rm", "nope"]);
    assert!(err.contains("No such container: nope"), "{err}");
    let err = d.docker_err(&["run", "-d", "-m", "1k", &image]);
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
    let err = d.docker_err(&["run", "-d", "--cpus", "1000", &image]);
    assert!(err.contains("Range of CPUs is from 0.01 to"), "{err}");
    let err = d.docker_err(&["run", "-d", "--log-opt", "foo=1", &image]);
    assert!(
        err.contains("unknown log opt 'foo' for json-file log driver"),
        "{err}"
    );
    for (opt, why) in [
        ("max-size=0", "max-size must be a positive number"),
        ("max-size=lots", "invalid size: 'lots'"),
        ("max-file=0", "max-file cannot be less than 1"),
    ] {
        let err = d.docker_err(&["run", "-d", "--log-opt", opt, &image]);
        let expected = format!("failed to initialize logging driver: {why}");
        assert!(err.contains(&expected), "{opt}: {err}");
    }
    let err = d.docker_err(&["kill", "dup"]);
    assert!(
        err.contains(&format!(
            "Cannot kill container: dup: Container {id} is not running"
        )),
        "{err}"
    );
    let err = d.docker_err(&["pause", "dup"]);
    assert!(
        err.contains(&format!("Container {id} is not running")),
        "{err}"
    );

    // Rename's errors as dockerd's: the same name, then the new name reserved.
    let err = d.docker_err(&["rename", "dup", "dup"]);
    assert!(
        err.contains("Renaming a container with the same name"),
        "{err}"
    );
    let err = d.docker_err(&["rename", "dup", "bad name"]);
    assert!(
        err.contains("Error when allocating new name: Invalid container name (/bad name)"),
        "{err}"
    );
    // Rename frees the old name.
    d.docker_ok(&["rename", "dup", "renamed"]);
    assert_eq!(inspect(&d, "renamed")["Name"], "/renamed");
    d.docker_ok(&["create", "--name", "dup", &image]);
    d.docker_ok(&["rm", "dup", "renamed"]);
}

#[test]
fn kill_pause_unpause_and_auto_remove() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["run", "-d", "--name", "pz", &image, "sleep", "300"]);
    d.docker_ok(&["pause", "pz"]);
    let c = inspect(&d, "pz");
    assert_eq!(c["State"]["Status"], "paused");
    assert_eq!(c["State"]["Paused"], true);
    assert!(ps(&d, &[])[0].contains("(Paused)"));
    d.docker_ok(&["unpause", "pz"]);
    assert_eq!(inspect(&d, "pz")["State"]["Status"], "running");
    d.docker_ok(&["kill", "--signal", "KILL", "pz"]);
    assert_eq!(d.docker_ok(&["wait", "pz"]).trim(), "137");

    // rm -f of an auto-removed container is quiet, as in dockerd.
    d.docker_ok(&[
        "run", "-d", "--rm", "--name", "quiet", &image, "sleep", "300",
    ]);
    let out = d.docker(&["rm", "-f", "quiet"]);
    assert!(
        out.status.success() && common::stderr(&out).is_empty(),
        "{}",
        common::stderr(&out)
    );
    d.docker_ok(&["run", "-d", "--rm", "--name", "gone", &image, "true"]);
    eventually("the --rm container to be removed", || {
        !d.docker(&["inspect", "gone"]).status.success()
    });
}

#[test]
fn containers_outlive_a_berthd_restart() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["run", "-d", "--name", "long", &image, "sleep", "300"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "short",
        &image,
        "sh",
        "-c",
        "sleep 2; exit 7",
    ]);
    let pid = inspect(&d, "long")["State"]["Pid"].clone();
    d.kill9();
    std::thread::sleep(Duration::from_secs(3));
    d.restart_with(&[]);
    let c = inspect(&d, "long");
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(c["State"]["Pid"], pid);
    // The exit that happened while berthd was down is recorded.
    eventually("the exit of 'short' to be recorded", || {
        inspect(&d, "short")["State"]["ExitCode"] == 7
    });
    assert_eq!(inspect(&d, "short")["State"]["Status"], "exited");
    // A clean stop (SIGTERM) leaves it running too.
    d.stop();
    d.restart_with(&[]);
    let c = inspect(&d, "long");
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(c["State"]["Pid"], pid);
    d.docker_ok(&["stop", "-t", "1", "long"]);
    d.docker_ok(&["rm", "long", "short"]);
}

/// A container with `--restart always` that waited for its next run when berthd died is
/// started with the daemon, though an interrupted run left its network namespace file
/// behind (as a berthd killed between making a namespace and recording it does): what
/// no container owns is released before restart policies start anything.
#[test]
fn restart_policies_start_after_what_interrupted_runs_left_is_released() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let id = d
        .docker_ok(&[
            "run",
            "-d",
            "--restart",
            "always",
            &image,
            "sh",
            "-c",
            "sleep 0.2; exit 3",
        ])
        .trim()
        .to_string();
    // Between two runs, once the back-off (doubled at each quick exit) is over a second.
    let mut started_before = Value::Null;
    eventually("the container to wait for its next run", || {
        let state = inspect(&d, &id);
        started_before = state["State"]["StartedAt"].clone();
        state["State"]["Restarting"] == true && state["RestartCount"].as_u64() >= Some(4)
    });
    d.kill9();
    let stale = d.dir.path().join("exec/netns").join(&id[..12]);
    std::fs::write(&stale, b"").expect("a namespace file left behind");
    d.restart_with(&[]);
    eventually("the container to be started with the daemon", || {
        let state = &inspect(&d, &id)["State"];
        state["StartedAt"] != started_before && state["Error"] == ""
    });
    assert!(
        !d.log().contains("starting the container at daemon start"),
        "{}",
        d.log()
    );
    d.docker_ok(&["rm", "-f", &id]);
}

/// A program that cannot be run is a start-time error with dockerd's exit codes (126 not
/// executable, 127 missing), and a `--rm` container is removed after it (the CLI waits
/// for that removal).
#[test]
fn a_program_that_cannot_run_exits_126_or_127_and_rm_removes_it() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    for (program, code, message) in [
        ("no-such-program", 127, "executable file not found in $PATH"),
        ("/no/such/file", 127, "no such file or directory"),
        ("/etc/passwd", 126, "permission denied"),
        ("/etc", 126, "permission denied"),
    ] {
        let started = std::time::Instant::now();
        let out = d.docker(&["run", "--rm", &busybox, program]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{program}: {}",
            common::stderr(&out)
        );
        assert!(
            common::stderr(&out).contains(message),
            "{program}: {}",
            common::stderr(&out)
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
    let left = d.docker_ok(&["ps", "-aq"]);
    assert!(left.trim().is_empty(), "--rm containers left: {left}");
    // Without --rm the container stays, with the error and exit code in its state.
    let out = d.docker(&["run", "--name", "kept", &busybox, "/etc/passwd"]);
    assert_eq!(out.status.code(), Some(126));
    let state = inspect(&d, "kept");
    assert_eq!(state["State"]["ExitCode"], 126, "{}", state["State"]);
    assert!(
        state["State"]["Error"]
            .as_str()
            .is_some_and(|e| e.contains("permission denied")),
        "{}",
        state["State"]
    );
}

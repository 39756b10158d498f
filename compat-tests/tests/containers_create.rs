//! What `docker create` / `docker run` keep, use and refuse, as dockerd: `--entrypoint ""`,
//! `--runtime` (kept, run with the runtime registered under that name, unknown names
//! refused), dockerd's error texts (log driver, `--storage-opt`), real-time CPU values,
//! and a user network's aliases before and after the first start.
mod common;

use std::path::{Path, PathBuf};

use common::{eventually, inspect_json, stderr, Daemon, Fixtures};
use serde_json::{json, Value};

#[test]
fn an_empty_entrypoint_clears_the_images_one() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["create", "--name", "base", &busybox, "true"]);
    d.docker_ok(&[
        "commit",
        "--change",
        r#"ENTRYPOINT ["echo", "from-entrypoint"]"#,
        "base",
        "with-entrypoint:v1",
    ]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", "with-entrypoint:v1", "x"]),
        "from-entrypoint x\n"
    );
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            "--entrypoint",
            "",
            "with-entrypoint:v1",
            "echo",
            "hi"
        ]),
        "hi\n"
    );
    // Nothing left to run: dockerd's message.
    let out = d.docker(&["run", "--rm", "--entrypoint", "", "with-entrypoint:v1"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Error response from daemon: No command specified"),
        "{}",
        stderr(&out)
    );

    // Through the API, as the CLI sends it: `[""]`; create, then start.
    let body = json!({"Image": "with-entrypoint:v1", "Entrypoint": [""], "Cmd": ["echo", "api"]});
    let r = d.api(
        "POST",
        "/containers/create?name=cleared",
        Some(&body.to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let c = inspect_json(&d, &["inspect"], "cleared");
    assert_eq!(c["Config"]["Entrypoint"], Value::Null);
    assert_eq!(c["Path"], "echo");
    assert_eq!(c["Args"], json!(["api"]));
    assert_eq!(d.docker_ok(&["start", "-a", "cleared"]), "api\n");
}

/// A runtime that logs its command lines to `log`, then runs berth-runc.
fn logging_runtime(dir: &Path, log: &Path) -> PathBuf {
    runtime_script(
        &dir.join("logged-runc"),
        &format!("echo \"$@\" >> {}", log.display()),
    )
}

/// An executable shell script at `path`: `before`, then berth-runc with its arguments.
fn runtime_script(path: &Path, before: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let runc = common::bin_dir().join("berth-runc");
    let text = format!("#!/bin/sh\n{before}\nexec {} \"$@\"\n", runc.display());
    std::fs::write(path, text).expect("runtime script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_path_buf()
}

/// berth-containerd outlives berthd (live restore); a berthd restarted with other
/// runtimes replaces it with one that knows them, and the new one adopts the running
/// containers.
#[test]
fn runtimes_added_across_a_restart_of_berthd_are_known() {
    let f = Fixtures::load();
    let scratch = tempfile::tempdir().expect("tempdir");
    let log = scratch.path().join("runtime.log");
    let script = logging_runtime(scratch.path(), &log);
    let mut d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["run", "-d", "--name", "lives", &busybox, "sleep", "300"]);
    d.stop();
    let add = format!("logged={}", script.display());
    d.restart_with(&["--add-runtime", &add]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", "--runtime", "logged", &busybox, "echo", "hi"]),
        "hi\n"
    );
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(logged.lines().any(|l| l.contains("create")), "{logged}");
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.Running}}", "lives"])
            .trim(),
        "true",
        "the container of before the restart runs on"
    );
    d.docker_ok(&["rm", "-f", "lives"]);
}

#[test]
fn the_runtime_a_client_names_is_kept_and_run() {
    let f = Fixtures::load();
    let scratch = tempfile::tempdir().expect("tempdir");
    let log = scratch.path().join("runtime.log");
    let script = logging_runtime(scratch.path(), &log);
    let add = format!("logged={}", script.display());
    let mut d = Daemon::start_with(&["--add-runtime", &add]);
    let busybox = d.pull_fixture(&f, "busybox");
    let info: Value =
        serde_json::from_str(&d.docker_ok(&["info", "--format", "{{json .}}"])).expect("info");
    // dockerd 20.10's names, all run by Berth's runtime, plus the one added.
    for name in [
        "runc",
        "io.containerd.runc.v2",
        "io.containerd.runtime.v1.linux",
        "logged",
    ] {
        assert!(info["Runtimes"].get(name).is_some(), "{}", info["Runtimes"]);
    }
    assert_eq!(info["DefaultRuntime"], "runc");

    assert_eq!(
        d.docker_ok(&[
            "run",
            "--name",
            "on-logged",
            "--runtime",
            "logged",
            &busybox,
            "echo",
            "hi"
        ]),
        "hi\n"
    );
    let runtime = |name: &str| {
        d.docker_ok(&["inspect", "-f", "{{.HostConfig.Runtime}}", name])
            .trim()
            .to_string()
    };
    assert_eq!(runtime("on-logged"), "logged");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(logged.lines().any(|l| l.contains("create")), "{logged}");

    // runc by name, as docker-py's tests ask for it: kept, and it runs, whether or not
    // the host has a runc of its own.
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--name",
            "on-runc",
            "--runtime",
            "runc",
            &busybox,
            "echo",
            "hi"
        ]),
        "hi\n"
    );
    assert_eq!(runtime("on-runc"), "runc");
    // No runtime named: the daemon's default, written at create as dockerd does.
    d.docker_ok(&["create", "--name", "on-default", &busybox, "true"]);
    assert_eq!(runtime("on-default"), "runc");

    let out = d.docker(&["create", "--runtime", "asdf", &busybox, "true"]);
    assert!(
        stderr(&out).contains("Error response from daemon: Unknown runtime specified asdf\n"),
        "{}",
        stderr(&out)
    );
    let body = json!({"Image": busybox, "HostConfig": {"Runtime": "asdf"}}).to_string();
    assert_eq!(d.api("POST", "/containers/create", Some(&body)).status, 400);

    // A runtime the daemon no longer has: the start is refused as dockerd refuses it.
    d.docker_ok(&[
        "create",
        "--name",
        "later",
        "--runtime",
        "logged",
        &busybox,
        "true",
    ]);
    d.stop();
    d.restart_with(&[]);
    let out = d.docker(&["start", "later"]);
    assert!(
        stderr(&out).contains("Unknown runtime specified logged"),
        "{}",
        stderr(&out)
    );
    assert_eq!(d.api("POST", "/containers/later/start", None).status, 400);
}

/// A runtime that logs its command lines to `log`, word by word, drops the two arguments
/// daemon.json gives it (`--berth-test-marker`, `two words`) and runs berth-runc with the
/// rest.
fn argued_runtime(dir: &Path, log: &Path) -> PathBuf {
    runtime_script(
        &dir.join("argued-runc"),
        &format!(
            "printf '%s|' \"$@\" >> {log}\necho >> {log}\n\
             [ \"$1\" = --berth-test-marker ] && shift 2",
            log = log.display()
        ),
    )
}

#[test]
fn daemon_json_runtime_args_come_before_every_runtime_command() {
    let f = Fixtures::load();
    let scratch = tempfile::tempdir().expect("tempdir");
    let log = scratch.path().join("runtime.log");
    let script = argued_runtime(scratch.path(), &log);
    let file = scratch.path().join("daemon.json");
    let config = json!({"runtimes": {"argued": {
        "path": script,
        "runtimeArgs": ["--berth-test-marker", "two words"],
    }}});
    std::fs::write(&file, config.to_string()).expect("daemon.json");
    let d = Daemon::start_with(&["--config-file", file.to_str().expect("path")]);
    let busybox = d.pull_fixture(&f, "busybox");
    let info: Value =
        serde_json::from_str(&d.docker_ok(&["info", "--format", "{{json .}}"])).expect("info");
    assert_eq!(
        info["Runtimes"]["argued"]["runtimeArgs"],
        json!(["--berth-test-marker", "two words"]),
        "{}",
        info["Runtimes"]
    );

    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "argued",
        "--runtime",
        "argued",
        &busybox,
        "sleep",
        "300",
    ]);
    assert_eq!(d.docker_ok(&["exec", "argued", "echo", "in"]), "in\n");
    d.docker_ok(&["rm", "-f", "argued"]);

    // The task of a removed container is deleted after `rm -f` has answered.
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    eventually("the runtime's delete of the removed container", || {
        read_log()
            .lines()
            .any(|l| l.split('|').any(|word| word == "delete"))
    });
    let logged = read_log();
    let commands: Vec<&str> = logged.lines().filter(|l| !l.is_empty()).collect();
    // Every command line starts with the configured arguments, one word each, spaces kept.
    for line in &commands {
        assert!(
            line.starts_with("--berth-test-marker|two words|"),
            "{logged}"
        );
    }
    for command in ["create", "start", "exec", "kill", "delete"] {
        assert!(
            commands
                .iter()
                .any(|l| l.split('|').any(|word| word == command)),
            "no {command} in {logged}"
        );
    }
}

#[test]
fn errors_read_as_dockerd_writes_them() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    for (args, message, status) in [
        (
            vec!["--log-driver", "asdf"],
            "logger: no log driver named 'asdf' is registered",
            400,
        ),
        (
            vec!["--storage-opt", "size=10M"],
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option",
            500,
        ),
        (vec!["--storage-opt", "foo=bar"], "Unknown option foo", 500),
    ] {
        let mut cmd = vec!["create"];
        cmd.extend(&args);
        cmd.extend([busybox.as_str(), "true"]);
        let out = d.docker(&cmd);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(
            stderr(&out).starts_with(&format!("Error response from daemon: {message}\n")),
            "{args:?}: {}",
            stderr(&out)
        );
        let host_config = match args[0] {
            "--log-driver" => json!({"LogConfig": {"Type": "asdf"}}),
            _ => {
                let (k, v) = args[1].split_once('=').expect("k=v");
                json!({"StorageOpt": {k: v}})
            }
        };
        let body = json!({"Image": busybox, "HostConfig": host_config}).to_string();
        let r = d.api("POST", "/containers/create", Some(&body));
        assert_eq!(
            (r.status, r.json()["message"].clone()),
            (status, json!(message))
        );
    }
    // Nothing was created.
    assert_eq!(d.docker_ok(&["ps", "-aq"]), "");

    // A rename onto a taken name: the name store's conflict, wrapped as dockerd wraps it.
    let taken = d.docker_ok(&["create", "--name", "taken", &busybox, "true"]);
    d.docker_ok(&["create", "--name", "mover", &busybox, "true"]);
    let out = d.docker(&["rename", "mover", "taken"]);
    assert!(
        stderr(&out).starts_with(&format!(
            "Error response from daemon: Error when allocating new name: Conflict. The container name \"/taken\" is already in use by container \"{}\".",
            taken.trim()
        )),
        "{}",
        stderr(&out)
    );
}

/// Whether the kernel has RT group scheduling: `cpu.rt_runtime_us` in the v1 cpu
/// controller. The mount point of that controller when it has.
fn rt_cpu_hierarchy() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let fields: Vec<&str> = right.split(' ').collect();
        let cpu =
            fields.first() == Some(&"cgroup") && fields.get(2)?.split(',').any(|o| o == "cpu");
        let mount = PathBuf::from(left.split(' ').nth(4)?);
        (cpu && mount.join("cpu.rt_runtime_us").exists()).then_some(mount)
    })
}

/// Removes `/sys/fs/cgroup/*/<parent>` (and what the runtime left in it).
fn remove_cgroup_parent(parent: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for h in hierarchies.flatten() {
        let dir = h.path().join(parent);
        if let Ok(children) = std::fs::read_dir(&dir) {
            for c in children.flatten().filter(|c| c.path().is_dir()) {
                let _ = std::fs::remove_dir(c.path());
            }
        }
        let _ = std::fs::remove_dir(&dir);
    }
}

#[test]
fn real_time_cpu_values_are_kept_applied_or_refused() {
    let f = Fixtures::load();
    let parent = format!("berth-rt-test-{}", std::process::id());
    let d = Daemon::start_with(&["--cpu-rt-runtime", "20000"]);
    let busybox = d.pull_fixture(&f, "busybox");
    let out = d.docker(&[
        "create",
        "--cpu-rt-period",
        "1000",
        "--cpu-rt-runtime",
        "2000",
        &busybox,
        "true",
    ]);
    let Some(cpu) = rt_cpu_hierarchy() else {
        // No RT group scheduling (or cgroup v2): refused, never accepted and ignored.
        assert!(
            stderr(&out).contains("Your kernel does not support CPU real-time scheduler"),
            "{}",
            stderr(&out)
        );
        return;
    };
    assert!(
        stderr(&out).contains("cpu real-time runtime cannot be higher than cpu real-time period"),
        "{}",
        stderr(&out)
    );
    let ran = d.docker(&[
        "run",
        "--name",
        "rt",
        "--cgroup-parent",
        &format!("/{parent}"),
        "--cpu-rt-period",
        "1000000",
        "--cpu-rt-runtime",
        "10000",
        &busybox,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/cpu*/cpu.rt_runtime_us /sys/fs/cgroup/cpu*/cpu.rt_period_us",
    ]);
    let parent_budget = std::fs::read_to_string(cpu.join(&parent).join("cpu.rt_runtime_us"));
    let shown = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.CpuRealtimePeriod}} {{.HostConfig.CpuRealtimeRuntime}}",
        "rt",
    ]);
    let _ = d.docker(&["rm", "-f", "rt"]);
    remove_cgroup_parent(&parent);
    assert!(ran.status.success(), "{}", stderr(&ran));
    assert_eq!(common::stdout(&ran), "10000\n1000000\n");
    assert_eq!(parent_budget.expect("the parent's budget").trim(), "20000");
    assert_eq!(shown.trim(), "1000000 10000");
}

#[test]
fn network_aliases_before_and_after_the_first_start() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["network", "create", "aliased"]);
    let id = d
        .docker_ok(&[
            "create",
            "--name",
            "web",
            "--network",
            "aliased",
            "--network-alias",
            "www",
            &busybox,
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    // API 1.44: dockerd still lists the short ID among the aliases, once connected.
    let aliases = |d: &Daemon| {
        d.api("GET", "/v1.44/containers/web/json", None).json()["NetworkSettings"]["Networks"]
            ["aliased"]["Aliases"]
            .clone()
    };
    assert_eq!(aliases(&d), json!(["www"]), "as given, before the start");
    d.docker_ok(&["start", "web"]);
    assert_eq!(aliases(&d), json!(["www", &id[..12]]));
    d.docker_ok(&["stop", "-t", "0", "web"]);
    assert_eq!(
        aliases(&d),
        json!(["www", &id[..12]]),
        "kept after the stop"
    );
    // The current API shows them as given; the short ID is among the DNS names.
    let current = d.api("GET", "/containers/web/json", None).json();
    assert_eq!(
        current["NetworkSettings"]["Networks"]["aliased"]["Aliases"],
        json!(["www"])
    );
    d.docker_ok(&["rm", "web"]);
    d.docker_ok(&["network", "rm", "aliased"]);
}

/// What dockerd accepts but warns about reaches the CLI as its "WARNING:" lines: ports
/// published on the host network, the OOM killer disabled without a memory limit.
#[test]
fn create_warns_as_dockerd_about_what_it_accepts() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let bb = d.pull_fixture(&f, "busybox");
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-p",
        "8080:80",
        "--oom-kill-disable",
        &bb,
        "true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("WARNING: Published ports are discarded when using host network mode"),
        "{err}"
    );
    assert!(
        err.contains(
            "WARNING: OOM killer is disabled for the container, but no memory limit is set"
        ),
        "{err}"
    );
    let quiet = d.docker(&["run", "--rm", "--network", "none", &bb, "true"]);
    assert!(
        quiet.status.success() && stderr(&quiet).is_empty(),
        "{}",
        stderr(&quiet)
    );
}

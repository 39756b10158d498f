//! `--init` (per container and daemon-wide) and `docker system prune`, with the stock
//! docker CLI.
mod common;

use std::time::{Duration, Instant};

use common::{eventually, Daemon, Fixtures};

/// `ps -o pid,stat,comm` rows of a container: (pid, stat, command).
fn processes(d: &Daemon, name: &str) -> Vec<(u32, String, String)> {
    d.docker_ok(&["exec", name, "ps", "-o", "pid,stat,comm"])
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((
                f.next()?.parse().ok()?,
                f.next()?.to_string(),
                f.next()?.to_string(),
            ))
        })
        .collect()
}

#[test]
fn init_runs_as_pid_1_forwards_signals_and_reaps_zombies() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let out = d.docker_ok(&["run", "--rm", "--init", &image, "ps"]);
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert!(
        rows.iter()
            .any(|r| r.trim_start().starts_with("1 ") && r.ends_with("/sbin/docker-init -- ps")),
        "{out}"
    );
    assert!(
        rows.iter()
            .any(|r| !r.trim_start().starts_with("1 ") && r.trim_end().ends_with(" ps")),
        "{out}"
    );

    // The signal reaches `sleep` through the init: a fast stop, exit 128+SIGTERM.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "init-sleep",
        "--init",
        &image,
        "sleep",
        "300",
    ]);
    let c = common::inspect_json(&d, &["inspect"], "init-sleep");
    assert_eq!(c["Path"], "sleep");
    assert_eq!(c["Args"], serde_json::json!(["300"]));
    assert_eq!(c["HostConfig"]["Init"], true);
    let began = Instant::now();
    d.docker_ok(&["stop", "init-sleep"]);
    assert!(
        began.elapsed() < Duration::from_secs(8),
        "{:?}",
        began.elapsed()
    );
    let c = common::inspect_json(&d, &["inspect"], "init-sleep");
    assert_eq!(c["State"]["ExitCode"], 143);

    // An orphan's exit: a zombie under `sleep` as PID 1, reaped by the init.
    let orphan = r#"sh -c "sleep 0.2 &"; exec sleep 300"#;
    d.docker_ok(&["run", "-d", "--name", "no-init", &image, "sh", "-c", orphan]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "with-init",
        "--init",
        &image,
        "sh",
        "-c",
        orphan,
    ]);
    eventually("a zombie without an init", || {
        processes(&d, "no-init")
            .iter()
            .any(|(_, stat, _)| stat.starts_with('Z'))
    });
    let rows = processes(&d, "with-init");
    assert!(
        rows.iter()
            .any(|(pid, _, cmd)| *pid == 1 && cmd == "docker-init"),
        "{rows:?}"
    );
    // With the init, the orphan ends and is reaped: one `sleep` left, no zombie. (Its exit
    // may be a moment old when this looks, as a zombie for the instant before the reap.)
    let mut rows = Vec::new();
    eventually("the orphan reaped by the init", || {
        rows = processes(&d, "with-init");
        let sleeps = rows.iter().filter(|(_, _, cmd)| cmd == "sleep").count();
        sleeps == 1 && !rows.iter().any(|(_, stat, _)| stat.starts_with('Z'))
    });
    // The zombie without an init stays: nobody reaps it.
    assert!(
        processes(&d, "no-init")
            .iter()
            .any(|(_, stat, _)| stat.starts_with('Z')),
        "{rows:?}"
    );
    d.docker_ok(&["rm", "-f", "init-sleep", "no-init", "with-init"]);
}

#[test]
fn daemon_wide_init_with_an_init_path() {
    let f = Fixtures::load();
    let d = Daemon::start_with(&["--init", "--init-path", "/usr/bin/tini-static"]);
    let image = d.pull_fixture(&f, "busybox");
    let out = d.docker_ok(&["run", "--rm", &image, "ps"]);
    assert!(out.contains("/sbin/docker-init -- ps"), "{out}");
    let out = d.docker_ok(&["run", "--rm", "--init=false", &image, "ps"]);
    assert!(!out.contains("docker-init"), "{out}");
    // A missing init binary: the start fails and the container records why.
    let d2 = Daemon::start_with(&["--init-path", "/nonexistent/docker-init"]);
    let image = d2.pull_fixture(&f, "busybox");
    let out = d2.docker(&["run", "--name", "bad-init", "--init", &image, "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", common::stderr(&out));
    let c = common::inspect_json(&d2, &["inspect"], "bad-init");
    assert_ne!(c["State"]["Error"], "", "{c}");
    d2.docker_ok(&["rm", "-f", "bad-init"]);
}

#[test]
fn system_prune_removes_stopped_containers_and_dangling_images() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    let hello = d.pull_fixture(&f, "hello");
    let hello_id = d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", &hello]);
    // Tagging busybox over hello's only tag leaves hello's image dangling.
    d.docker_ok(&["tag", &busybox, &hello]);
    let stopped = d.docker_ok(&["run", "--name", "prune-me", &busybox, "true"]);
    assert!(stopped.is_empty());
    d.docker_ok(&["run", "-d", "--name", "keep-me", &busybox, "sleep", "300"]);
    let id = d.docker_ok(&["inspect", "--format", "{{.Id}}", "prune-me"]);
    let out = d.docker_ok(&["system", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(out.contains(id.trim()), "{out}");
    assert!(
        out.contains(&format!("deleted: {}", hello_id.trim())),
        "{out}"
    );
    let total = out
        .lines()
        .find_map(|l| l.strip_prefix("Total reclaimed space: "))
        .unwrap_or_else(|| panic!("{out}"));
    assert_ne!(total, "0B", "{out}");
    assert!(d.docker(&["inspect", "prune-me"]).status.code() != Some(0));
    let running = d.docker_ok(&["ps", "-q", "--filter", "name=keep-me"]);
    assert!(!running.trim().is_empty());
    // Nothing left: a second prune reclaims nothing. (`--volumes` needs `/volumes/prune`,
    // which comes with volumes.)
    let out = d.docker_ok(&["system", "prune", "-f"]);
    assert!(out.contains("Total reclaimed space: 0B"), "{out}");
    d.docker_ok(&["rm", "-f", "keep-me"]);
    let out = d.docker_ok(&["system", "prune", "-a", "-f"]);
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert!(d.docker_ok(&["images", "-q"]).trim().is_empty());
}

//! Healthchecks with the stock docker CLI: `--health-*` flags, `State.Health` in
//! inspect, the `docker ps` status and `health` filter, the events, timeouts, and
//! monitors that carry on after berthd restarts.
mod common;

use std::io::Read;
use std::process::{Child, Stdio};

use common::{eventually, Daemon, Fixtures};
use serde_json::Value;

fn health(d: &Daemon, name: &str) -> Value {
    common::inspect_json(d, &["inspect"], name)["State"]["Health"].clone()
}

fn status(d: &Daemon, name: &str) -> String {
    health(d, name)["Status"].as_str().unwrap_or("").to_string()
}

/// `docker ps --filter health=X` names.
fn with_health(d: &Daemon, value: &str) -> Vec<String> {
    let filter = format!("health={value}");
    d.docker_ok(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect()
}

fn ps_status(d: &Daemon, name: &str) -> String {
    let filter = format!("name=^{name}$");
    d.docker_ok(&["ps", "-a", "--filter", &filter, "--format", "{{.Status}}"])
        .trim()
        .to_string()
}

/// `docker events` for one container, read when killed.
fn events(d: &Daemon, name: &str) -> Child {
    let filter = format!("container={name}");
    d.docker_cmd()
        .args([
            "events",
            "--filter",
            &filter,
            "--format",
            "{{.Action}}|{{json .Actor.Attributes}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker events")
}

fn stop_events(mut child: Child) -> Vec<String> {
    let _ = child.kill();
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    let _ = child.wait();
    out.lines().map(str::to_string).collect()
}

#[test]
fn health_goes_from_starting_to_unhealthy_to_healthy() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let watch = events(&d, "hc-flip");
    // A long start period keeps a failing container "starting".
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "hc-start",
        "--health-cmd",
        "false",
        "--health-interval",
        "1s",
        "--health-start-period",
        "5m",
        &image,
        "sleep",
        "300",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "hc-flip",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        &image,
        "sleep",
        "300",
    ]);
    d.docker_ok(&["run", "-d", "--name", "hc-none", &image, "sleep", "300"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "hc-off",
        "--no-healthcheck",
        &image,
        "sleep",
        "300",
    ]);

    eventually("a probe in the start period", || {
        health(&d, "hc-start")["Log"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
    });
    let h = health(&d, "hc-start");
    assert_eq!(h["Status"], "starting", "{h}");
    assert_eq!(h["FailingStreak"], 0, "{h}");
    assert!(ps_status(&d, "hc-start").ends_with("(health: starting)"));
    assert_eq!(with_health(&d, "starting"), vec!["hc-start"]);

    eventually("hc-flip to be unhealthy", || {
        status(&d, "hc-flip") == "unhealthy"
    });
    let h = health(&d, "hc-flip");
    assert!(h["FailingStreak"].as_u64().unwrap() >= 2, "{h}");
    let first = &h["Log"][0];
    assert_eq!(first["ExitCode"], 1, "{h}");
    assert_eq!(first["Output"], "", "{h}");
    assert!(first["Start"].as_str().unwrap() < first["End"].as_str().unwrap());
    assert!(ps_status(&d, "hc-flip").ends_with("(unhealthy)"));
    assert_eq!(with_health(&d, "unhealthy"), vec!["hc-flip"]);

    d.docker_ok(&["exec", "hc-flip", "touch", "/tmp/ok"]);
    eventually("hc-flip to be healthy", || {
        status(&d, "hc-flip") == "healthy"
    });
    assert_eq!(health(&d, "hc-flip")["FailingStreak"], 0);
    assert!(ps_status(&d, "hc-flip").ends_with("(healthy)"));
    assert_eq!(with_health(&d, "healthy"), vec!["hc-flip"]);
    let mut none = with_health(&d, "none");
    none.sort();
    assert_eq!(none, vec!["hc-none", "hc-off"]);
    assert!(health(&d, "hc-none").is_null());
    assert!(health(&d, "hc-off").is_null());
    eventually("at most 5 results kept", || {
        health(&d, "hc-flip")["Log"]
            .as_array()
            .is_some_and(|l| l.len() == 5)
    });

    let err = d.docker_err(&["ps", "--filter", "health=bogus"]);
    assert!(
        err.contains("Unrecognised filter value for health: bogus"),
        "{err}"
    );

    d.docker_ok(&["stop", "-t", "1", "hc-flip"]);
    assert_eq!(status(&d, "hc-flip"), "unhealthy");
    let seen = stop_events(watch);
    let actions: Vec<&str> = seen
        .iter()
        .map(|l| l.split('|').next().unwrap_or(""))
        .collect();
    let pos = |a: &str| actions.iter().position(|x| *x == a);
    let unhealthy = pos("health_status: unhealthy").unwrap_or_else(|| panic!("{seen:#?}"));
    let healthy = pos("health_status: healthy").unwrap_or_else(|| panic!("{seen:#?}"));
    assert!(unhealthy < healthy, "{seen:#?}");
    assert!(
        actions.contains(&"exec_create: /bin/sh -c test -f /tmp/ok"),
        "{seen:#?}"
    );
    assert!(
        actions.contains(&"exec_start: /bin/sh -c test -f /tmp/ok"),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("exec_die|") && l.contains(r#""exitCode":"1""#)),
        "{seen:#?}"
    );
    d.docker_ok(&["rm", "-f", "hc-start", "hc-flip", "hc-none", "hc-off"]);
}

#[test]
fn slow_probes_time_out_and_output_is_kept() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "hc-slow",
        "--health-cmd",
        "echo out; echo err >&2; sleep 30",
        "--health-interval",
        "1s",
        "--health-timeout",
        "1500ms",
        "--health-retries",
        "1",
        &image,
        "sleep",
        "300",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "hc-big",
        "--health-cmd",
        "head -c 5000 /dev/zero | tr '\\0' x; echo; echo tail",
        "--health-interval",
        "1s",
        &image,
        "sleep",
        "300",
    ]);
    eventually("the slow probe to time out", || {
        status(&d, "hc-slow") == "unhealthy"
    });
    let h = health(&d, "hc-slow");
    assert_eq!(h["Log"][0]["ExitCode"], -1, "{h}");
    assert_eq!(
        h["Log"][0]["Output"], "Health check exceeded timeout (1.5s)",
        "{h}"
    );
    eventually("the big probe to pass", || {
        status(&d, "hc-big") == "healthy"
    });
    let out = health(&d, "hc-big")["Log"][0]["Output"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(out.len(), 4096 + 3, "{out}");
    assert!(out.ends_with("xxx..."));
    // Timed-out probes are killed: their `sleep 30`s do not pile up in the container.
    let ps = d.docker_ok(&["exec", "hc-slow", "ps"]);
    // (At most the probe running now: the next one starts an interval after the last.)
    let sleeping = ps.lines().filter(|l| l.ends_with("sleep 30")).count();
    assert!(sleeping <= 1, "{ps}");
    d.docker_ok(&["rm", "-f", "hc-slow", "hc-big"]);
}

#[test]
fn health_monitors_resume_after_berthd_restarts() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "hc-live",
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
        &image,
        "sleep",
        "300",
    ]);
    eventually("hc-live to be healthy", || {
        status(&d, "hc-live") == "healthy"
    });
    d.kill9();
    let restarted = chrono::Utc::now();
    d.restart_with(&[]);
    eventually("a probe after the restart", || {
        let h = health(&d, "hc-live");
        h["Status"] == "healthy"
            && h["Log"].as_array().and_then(|l| l.last()).is_some_and(|r| {
                chrono::DateTime::parse_from_rfc3339(r["Start"].as_str().unwrap_or(""))
                    .is_ok_and(|t| t > restarted)
            })
    });
    d.docker_ok(&["rm", "-f", "hc-live"]);
}

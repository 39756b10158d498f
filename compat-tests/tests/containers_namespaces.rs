//! Shared PID and IPC namespaces (`--pid container:X`, `--ipc shareable|container:X|none|
//! host`), and the create-time checks dockerd makes before it looks at the image.
mod common;

use common::{eventually, stderr, Daemon, Fixtures};
use serde_json::json;

/// The mounts under the daemon's data root whose path ends in `/shm`.
fn shm_mounts(d: &Daemon) -> Vec<String> {
    let root = d.data_root().display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|p| p.starts_with(&root) && p.ends_with("/shm"))
        .collect()
}

#[test]
fn a_run_joins_the_pid_and_ipc_namespaces_it_names() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    let ns = |args: &[&str], kind: &str| {
        let mut cmd = vec!["run", "--rm"];
        cmd.extend(args);
        let link = format!("/proc/1/ns/{kind}");
        cmd.extend([busybox.as_str(), "readlink", link.as_str()]);
        d.docker_ok(&cmd)
    };

    // PID: the joiner sees the donor's processes, its PID 1 is the donor's.
    d.docker_ok(&["run", "-d", "--name", "donor", &busybox, "sleep", "300"]);
    let theirs = d.docker_ok(&["exec", "donor", "readlink", "/proc/1/ns/pid"]);
    assert_eq!(ns(&["--pid", "container:donor"], "pid"), theirs);
    assert_ne!(ns(&[], "pid"), theirs);
    let ps = d.docker_ok(&[
        "run",
        "--rm",
        "--pid",
        "container:donor",
        &busybox,
        "ps",
        "-o",
        "comm",
    ]);
    assert!(ps.lines().any(|l| l.trim() == "sleep"), "{ps}");

    // IPC: a private donor (the default) is not shareable.
    let out = d.docker(&["run", "--rm", "--ipc", "container:donor", &busybox, "true"]);
    assert!(
        stderr(&out).contains(
            "Error response from daemon: container donor: non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
        ),
        "{}",
        stderr(&out)
    );

    // A shareable one: same namespace, same /dev/shm, mounted on the host while it runs.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "shared",
        "--ipc",
        "shareable",
        "--shm-size",
        "3m",
        &busybox,
        "sleep",
        "300",
    ]);
    assert_eq!(shm_mounts(&d).len(), 1, "{:?}", shm_mounts(&d));
    d.docker_ok(&[
        "exec",
        "shared",
        "sh",
        "-c",
        "echo from-donor > /dev/shm/note",
    ]);
    let theirs = d.docker_ok(&["exec", "shared", "readlink", "/proc/1/ns/ipc"]);
    assert_eq!(ns(&["--ipc", "container:shared"], "ipc"), theirs);
    assert_ne!(ns(&[], "ipc"), theirs);
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            "--ipc",
            "container:shared",
            &busybox,
            "sh",
            "-c",
            "cat /dev/shm/note; df -k /dev/shm | tail -1 | awk '{print $2}'"
        ]),
        "from-donor\n3072\n"
    );
    // Its /dev/shm goes with its run.
    d.docker_ok(&["stop", "-t", "0", "shared"]);
    // Released by the exit's teardown, which runs once the exit is recorded (and so may
    // finish just after `stop` answers).
    eventually("/dev/shm unmounted after the stop", || {
        shm_mounts(&d).is_empty()
    });
    d.docker_ok(&["start", "shared"]);
    assert_eq!(shm_mounts(&d).len(), 1);
    d.docker_ok(&["rm", "-f", "shared"]);
    assert!(shm_mounts(&d).is_empty(), "{:?}", shm_mounts(&d));

    // A donor that is not running: dockerd's 409.
    d.docker_ok(&["create", "--name", "idle", &busybox, "true"]);
    for mode in ["--pid", "--ipc"] {
        let out = d.docker(&["run", "--rm", mode, "container:idle", &busybox, "true"]);
        assert!(
            stderr(&out).contains("Error response from daemon: container idle is not running"),
            "{mode}: {}",
            stderr(&out)
        );
    }

    // none: no /dev/shm at all; host: the host's.
    let mounts = d.docker_ok(&[
        "run",
        "--rm",
        "--ipc",
        "none",
        &busybox,
        "cat",
        "/proc/mounts",
    ]);
    assert!(!mounts.contains(" /dev/shm "), "{mounts}");
    let marker = format!("/dev/shm/berth-test-{}", std::process::id());
    std::fs::write(&marker, "host").expect("write to the host's /dev/shm");
    let seen = d.docker(&["run", "--rm", "--ipc", "host", &busybox, "cat", &marker]);
    let _ = std::fs::remove_file(&marker);
    assert_eq!(String::from_utf8_lossy(&seen.stdout), "host");
    d.docker_ok(&["rm", "-f", "donor", "idle"]);
}

#[test]
fn create_refuses_what_dockerd_refuses_before_it_looks_at_the_image() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    // Each a 400 with dockerd's text: the CLI prints it without trying to pull the image,
    // as it would for a 404.
    for (args, message) in [
        (vec!["--stop-signal", "FOO"], "Invalid signal: FOO"),
        (vec!["--ipc", "bogus"], "invalid IPC mode: bogus"),
        (
            vec!["--ipc", "container:nosuch"],
            "No such container: nosuch",
        ),
        (
            vec!["--pid", "container:nosuch"],
            "No such container: nosuch",
        ),
        (
            vec!["--volumes-from", "nosuch"],
            "No such container: nosuch",
        ),
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
    }
    let body = json!({"Image": busybox, "HostConfig": {"PidMode": "container:nosuch"}});
    let r = d.api("POST", "/containers/create", Some(&body.to_string()));
    assert_eq!(r.status, 400, "{}", r.text());
    // What the CLI checks itself, from other clients.
    for (body, message) in [
        (
            json!({"Image": busybox, "Env": ["A=1", "=x"]}),
            "invalid environment variable: =x",
        ),
        (
            json!({"Image": busybox, "HostConfig": {"PidMode": "bogus"}}),
            "invalid PID mode: bogus",
        ),
    ] {
        let r = d.api("POST", "/containers/create", Some(&body.to_string()));
        assert_eq!(
            (r.status, r.json()["message"].clone()),
            (400, json!(message))
        );
    }
    assert_eq!(d.docker_ok(&["ps", "-aq"]), "");

    // An image of another platform than the one asked for is not found, as dockerd's
    // GetImage with a platform (the CLI then pulls the platform's image).
    let body = json!({"Image": busybox}).to_string();
    let r = d.api(
        "POST",
        "/containers/create?platform=linux/arm64",
        Some(&body),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(
        r.json()["message"].as_str().is_some_and(|m| m.contains(
            "was found but does not match the specified platform: wanted linux/arm64, actual: linux/"
        )),
        "{}",
        r.text()
    );
    let r = d.api(
        "POST",
        "/containers/create?platform=linux/amd64",
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = d.api("POST", "/containers/create?platform=a/b/c/d", Some(&body));
    assert_eq!(r.status, 400, "{}", r.text());

    // `-e NAME` for a NAME the CLI's environment lacks unsets it: not passed on as `NAME`.
    let env = d.docker_ok(&["run", "--rm", "-e", "BERTH_SURELY_UNSET", &busybox, "env"]);
    assert!(
        !env.lines().any(|l| l.starts_with("BERTH_SURELY_UNSET")),
        "{env}"
    );
}

//! Container streams with the stock docker CLI: attached `docker run` (output, exit
//! codes, stdin), `docker logs` (tail, follow), attached `docker exec` (exit codes,
//! stdin, TTY). Images come from the fixture registry (scripts/test.sh).
mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::{stderr, stdout, Daemon, Fixtures};

/// Runs `docker ARGS` with `input` on its stdin.
fn docker_with_input(d: &Daemon, args: &[&str], input: &str) -> std::process::Output {
    let mut child = d
        .docker_cmd()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("docker output")
}

#[test]
fn attached_run_prints_output_and_exits_with_the_containers_code() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let hello = d.pull_fixture(&f, "hello");
    let out = d.docker_ok(&["run", "--rm", &hello]);
    assert!(out.contains("Hello from Berth!"), "{out}");
    assert!(
        d.docker_ok(&["ps", "-aq"]).trim().is_empty(),
        "--rm left the container"
    );

    let busybox = d.pull_fixture(&f, "busybox");
    let out = d.docker(&[
        "run",
        "--name",
        "three",
        &busybox,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    assert!(stderr(&out).contains("err\n"), "{}", stderr(&out));

    let out = docker_with_input(&d, &["run", "-i", "--rm", &busybox, "cat"], "piped in\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "piped in\n");

    let out = d.docker_ok(&["run", "-t", "--rm", &busybox, "sh", "-c", "tty; echo $TERM"]);
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    assert!(out.contains("xterm"), "{out:?}");
}

#[test]
fn logs_with_tail_and_follow() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "run",
        "--name",
        "talk",
        &busybox,
        "sh",
        "-c",
        "echo one; echo two; echo three >&2",
    ]);
    let out = d.docker(&["logs", "talk"]);
    assert_eq!(stdout(&out), "one\ntwo\n");
    assert_eq!(stderr(&out), "three\n");
    let out = d.docker(&["logs", "--tail", "2", "talk"]);
    assert_eq!(stdout(&out), "two\n");
    // Following a stopped container returns at once.
    let out = d.docker(&["logs", "-f", "talk"]);
    assert_eq!(stdout(&out), "one\ntwo\n");

    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        &busybox,
        "sh",
        "-c",
        "echo a; sleep 1; echo b",
    ]);
    let started = std::time::Instant::now();
    let out = d.docker_ok(&["logs", "-f", "slow"]);
    assert_eq!(out, "a\nb\n");
    assert!(started.elapsed() < Duration::from_secs(15));
    let err = d.docker_err(&["logs", "nope"]);
    assert!(err.contains("No such container: nope"), "{err}");
}

#[test]
fn attached_exec_codes_stdin_and_tty() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["run", "-d", "--name", "box", &busybox, "sleep", "300"]);
    let out = d.docker(&["exec", "box", "sh", "-c", "echo in-exec; exit 5"]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(stdout(&out), "in-exec\n");
    let out = docker_with_input(&d, &["exec", "-i", "box", "cat"], "to cat\n");
    assert_eq!(stdout(&out), "to cat\n");
    let out = d.docker_ok(&[
        "exec",
        "-t",
        "-e",
        "X=1",
        "-w",
        "/tmp",
        "box",
        "sh",
        "-c",
        "echo $TERM $X $(pwd)",
    ]);
    assert!(out.contains("xterm 1 /tmp"), "{out:?}");
    let out = d.docker(&["exec", "box", "no-such-binary"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("OCI runtime exec failed"),
        "{}",
        stdout(&out)
    );
    // A user the container does not have: the start answers 200 and the stream says
    // why, the exec ends with 126, as dockerd's.
    let out = d.docker(&["exec", "-u", "nosuchuser", "box", "true"]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "unable to find user nosuchuser: no matching entries in passwd file\r\n"
    );
    assert_eq!(stderr(&out), "");
    let out = d.docker(&["exec", "-t", "-u", "nosuchuser", "box", "true"]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("unable to find user nosuchuser"),
        "{}",
        stdout(&out)
    );
    // Detached, there is no stream: the error is the answer.
    let out = d.docker(&["exec", "-d", "-u", "nosuchuser", "box", "true"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unable to find user nosuchuser"),
        "{}",
        stderr(&out)
    );
    d.docker_ok(&["rm", "-f", "box"]);
}

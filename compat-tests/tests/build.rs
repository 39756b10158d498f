//! `docker build` with the classic builder (berthd's `/_ping` says `Builder-Version: 1`):
//! steps and their images, RUN output and failures, Dockerfile errors, build args and
//! labels, stages, `-f` (also from stdin), `.dockerignore`, `-q`. The cache, pushes,
//! events, cancelling, bollard and docker-compose are in `build_clients`.
mod build_support;
mod common;

use build_support::{build, build_ok, context};
use common::{inspect_json, lines, stderr, stdout, Daemon, Fixtures};

fn image_count(d: &Daemon) -> usize {
    lines(&d.docker_ok(&["images", "-aq"])).len()
}

#[test]
fn a_multi_step_build_makes_an_image_with_its_history() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let before = image_count(&d);
    let dir = context(&[
        (
            "Dockerfile",
            &format!(
                "FROM {base}\nENV GREETING=hello\nWORKDIR /app\nCOPY msg.txt .\nRUN echo \"$GREETING from run\" > run.txt && echo to-stdout && echo to-stderr >&2\nCMD [\"cat\", \"msg.txt\", \"run.txt\"]\n"
            ),
        ),
        ("msg.txt", "from the context\n"),
    ]);
    let out = build_ok(&d, dir.path(), &["-t", "built:v1"]);
    for expected in [
        "Step 1/6 : FROM ",
        "Step 2/6 : ENV GREETING=hello",
        " ---> Running in ",
        "to-stdout",
        "to-stderr",
        "Removing intermediate container ",
        "Successfully built ",
        "Successfully tagged built:v1",
    ] {
        assert!(out.contains(expected), "{expected:?} missing in:\n{out}");
    }
    let run = d.docker_ok(&["run", "--rm", "built:v1"]);
    assert_eq!(run, "from the context\nhello from run\n");

    let image = inspect_json(&d, &["image", "inspect"], "built:v1");
    let config = &image["Config"];
    assert_eq!(config["WorkingDir"], "/app");
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["cat", "msg.txt", "run.txt"])
    );
    let env: Vec<String> = serde_json::from_value(config["Env"].clone()).unwrap();
    assert!(env.contains(&"GREETING=hello".to_string()), "{env:?}");
    assert!(env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");
    assert!(image["Parent"]
        .as_str()
        .is_some_and(|p| p.starts_with("sha256:")));

    let history = d.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "built:v1",
    ]);
    let steps = lines(&history);
    assert_eq!(
        steps[0],
        "/bin/sh -c #(nop)  CMD [\"cat\" \"msg.txt\" \"run.txt\"]"
    );
    assert!(
        steps[1].starts_with("/bin/sh -c echo \"$GREETING from run\""),
        "{steps:?}"
    );
    assert!(
        steps[2].starts_with("/bin/sh -c #(nop) COPY file:"),
        "{steps:?}"
    );
    assert!(steps[2].ends_with(" in ."), "{steps:?}");
    assert_eq!(steps[3], "/bin/sh -c #(nop) WORKDIR /app");
    assert_eq!(steps[4], "/bin/sh -c #(nop)  ENV GREETING=hello");

    // Intermediate images are kept untagged; no build container is left.
    assert_eq!(image_count(&d), before + 5);
    assert!(lines(&d.docker_ok(&["ps", "-aq"])).is_empty());
    // Removing the result removes its untagged parents too.
    d.docker_ok(&["rmi", "built:v1"]);
    assert_eq!(image_count(&d), before);
}

#[test]
fn a_failing_run_stops_the_build_with_dockerds_message() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let dir = context(&[(
        "Dockerfile",
        &format!("FROM {base}\nRUN echo before && exit 3\n"),
    )]);
    let out = build(&d, dir.path(), &["--force-rm", "-t", "failed:v1"]);
    // The CLI exits with the RUN's code, as with dockerd.
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).contains("before"), "{}", stdout(&out));
    assert!(
        stderr(&out)
            .contains("The command '/bin/sh -c echo before && exit 3' returned a non-zero code: 3"),
        "{}",
        stderr(&out)
    );
    assert!(lines(&d.docker_ok(&["ps", "-aq"])).is_empty());
    assert!(!d
        .docker(&["image", "inspect", "failed:v1"])
        .status
        .success());
    // Without --force-rm the failed step's container stays, as dockerd leaves it.
    let out = build(&d, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(3));
    let left = lines(&d.docker_ok(&["ps", "-a", "--format", "{{.Status}}"]));
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("Exited (3)"), "{left:?}");
    d.docker_ok(&["container", "prune", "-f"]);
}

#[test]
fn dockerfile_errors_are_refused_before_any_step() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let dir = context(&[
        ("Dockerfile", &format!("FROM {base}\nFOO bar\n")),
        (
            "Dockerfile.stages",
            &format!("FROM {base} AS one\nRUN true\n"),
        ),
    ]);
    let out = build(&d, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("dockerfile parse error line 2: unknown instruction: FOO"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("Step 1/"), "{}", stdout(&out));
    let out = build(
        &d,
        dir.path(),
        &["-f", "Dockerfile.stages", "--target", "nope"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("failed to reach build target nope in Dockerfile"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn build_args_labels_and_another_dockerfile() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let dir = context(&[(
        "build.Dockerfile",
        &format!("FROM {base}\nARG WHO=nobody\nRUN echo \"hello $WHO\" > /who.txt\nCMD [\"cat\", \"/who.txt\"]\n"),
    )]);
    let out = build_ok(
        &d,
        dir.path(),
        &[
            "-f",
            "build.Dockerfile",
            "--build-arg",
            "WHO=berth",
            "--build-arg",
            "UNUSED=1",
            "--label",
            "built.by=test",
            "-t",
            "args:v1",
        ],
    );
    assert!(
        out.contains("[Warning] One or more build-args [UNUSED] were not consumed"),
        "{out}"
    );
    assert!(out.contains("LABEL built.by=test"), "{out}");
    assert_eq!(d.docker_ok(&["run", "--rm", "args:v1"]), "hello berth\n");
    let labels = d.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{index .Config.Labels \"built.by\"}}",
        "args:v1",
    ]);
    assert_eq!(labels.trim(), "test");
    // The RUN's history records the argument it used, as dockerd's does.
    let history = d.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "args:v1",
    ]);
    assert!(
        history.contains("|1 WHO=berth /bin/sh -c echo \"hello $WHO\" > /who.txt"),
        "{history}"
    );
}

#[test]
fn stages_copy_from_each_other_and_target_stops_early() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let dir = context(&[(
        "Dockerfile",
        &format!(
            "FROM {base} AS builder\nRUN echo compiled > /artifact\nFROM {base} AS tester\nRUN echo tested > /tested\nFROM {base}\nCOPY --from=builder /artifact /artifact\nCMD [\"cat\", \"/artifact\"]\n"
        ),
    )]);
    build_ok(&d, dir.path(), &["-t", "stages:final"]);
    assert_eq!(d.docker_ok(&["run", "--rm", "stages:final"]), "compiled\n");
    let absent = d.docker(&["run", "--rm", "stages:final", "ls", "/tested"]);
    assert!(!absent.status.success());

    let out = build_ok(
        &d,
        dir.path(),
        &["--target", "builder", "-t", "stages:builder"],
    );
    assert!(out.contains("Step 1/2 : FROM "), "{out}");
    assert!(!out.contains("tested"), "{out}");
    let run = d.docker_ok(&["run", "--rm", "stages:builder", "cat", "/artifact"]);
    assert_eq!(run, "compiled\n");
}

#[test]
fn dockerignore_keeps_files_out_of_the_context() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let dir = context(&[
        ("Dockerfile", &format!("FROM {base}\nCOPY . /ctx/\n")),
        (".dockerignore", "secret.txt\n"),
        ("secret.txt", "do not send\n"),
        ("kept.txt", "send me\n"),
    ]);
    build_ok(&d, dir.path(), &["-t", "ignored:v1"]);
    let listing = d.docker_ok(&["run", "--rm", "ignored:v1", "ls", "/ctx"]);
    let names = lines(&listing);
    assert!(names.contains(&"kept.txt".to_string()), "{names:?}");
    assert!(!names.contains(&"secret.txt".to_string()), "{names:?}");
}

#[test]
fn quiet_build_prints_only_the_image_id() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let dir = context(&[("Dockerfile", &format!("FROM {base}\nRUN echo noisy\n"))]);
    let out = build_ok(&d, dir.path(), &["-q", "-t", "quiet:v1"]);
    let id = d.docker_ok(&["image", "inspect", "-f", "{{.Id}}", "quiet:v1"]);
    assert_eq!(out.trim(), id.trim());
}

#[test]
fn a_dockerfile_on_stdin_builds_with_the_context() {
    use std::io::Write as _;
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let dir = context(&[("data.txt", "from the context\n")]);
    // `-f -`: the CLI appends the Dockerfile to the context's tar (and ends the tar early).
    let mut child = d
        .docker_cmd()
        .args(["build", "-f", "-", "-t", "stdin:v1", "."])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("docker build");
    let dockerfile = format!("FROM {base}\nCOPY data.txt /\nCMD [\"cat\", \"/data.txt\"]\n");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(dockerfile.as_bytes())
        .expect("writing the Dockerfile");
    let out = child.wait_with_output().expect("docker build output");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(
        d.docker_ok(&["run", "--rm", "stdin:v1"]),
        "from the context\n"
    );
}

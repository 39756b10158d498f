//! `docker build` with the classic builder (berthd's `/_ping` says `Builder-Version: 1`)
//! and bollard's `build_image`: steps and their images, RUN output and failures,
//! Dockerfile errors, build args and labels, stages, `-f`, `.dockerignore`, the cache,
//! and a built image pushed and pulled back.
mod common;

use std::path::Path;
use std::process::Output;

use common::{eventually, inspect_json, lines, stderr, stdout, unique_repo, Daemon, Fixtures};

/// A context folder holding `files` (name, content).
fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
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
fn build(d: &Daemon, dir: &Path, args: &[&str]) -> Output {
    d.docker_cmd()
        .arg("build")
        .args(args)
        .arg(".")
        .current_dir(dir)
        .output()
        .expect("docker build")
}

fn build_ok(d: &Daemon, dir: &Path, args: &[&str]) -> String {
    let out = build(d, dir, args);
    assert!(
        out.status.success(),
        "docker build {args:?} failed\nstdout: {}\nstderr: {}\nberthd log:\n{}",
        stdout(&out),
        stderr(&out),
        common::tail(&d.log(), 40)
    );
    stdout(&out)
}

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
fn a_second_build_uses_the_cache() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let dir = context(&[(
        "Dockerfile",
        &format!("FROM {base}\nENV A=1\nRUN date +%s%N > /stamp\n"),
    )]);
    let first = build_ok(&d, dir.path(), &["-t", "cached:v1"]);
    assert!(!first.contains("Using cache"), "{first}");
    let second = build_ok(&d, dir.path(), &["-t", "cached:v2"]);
    assert_eq!(second.matches(" ---> Using cache").count(), 2, "{second}");
    let id = |name: &str| d.docker_ok(&["image", "inspect", "-f", "{{.Id}}", name]);
    assert_eq!(id("cached:v1"), id("cached:v2"));
    let third = build_ok(&d, dir.path(), &["--no-cache", "-t", "cached:v3"]);
    assert!(!third.contains("Using cache"), "{third}");
    assert_ne!(id("cached:v1"), id("cached:v3"));
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
fn a_built_image_is_pushed_and_pulled_back() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let name = format!("{}/{}:v1", f.registry, unique_repo("built"));
    let dir = context(&[
        (
            "Dockerfile",
            &format!("FROM {base}\nCOPY payload.txt /payload.txt\nRUN echo ran >> /payload.txt\n"),
        ),
        ("payload.txt", "pushed\n"),
    ]);
    build_ok(&d, dir.path(), &["-t", &name]);
    d.docker_ok(&["push", &name]);
    d.docker_ok(&["rmi", &name]);
    d.docker_ok(&["pull", &name]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", &name, "cat", "/payload.txt"]),
        "pushed\nran\n"
    );
}

#[test]
fn bollard_builds_from_a_gzipped_context_with_registry_credentials() {
    use bollard::auth::DockerCredentials;
    use bollard::query_parameters::BuildImageOptionsBuilder;
    use futures::TryStreamExt;
    use std::collections::HashMap;

    let f = Fixtures::load();
    let d = Daemon::start();
    let base = f.auth_ref("busybox");
    let dockerfile = format!("FROM {base}\nRUN touch bollard.txt\n");
    let mut header = tar::Header::new_gnu();
    header.set_path("Dockerfile").unwrap();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    let mut tar = tar::Builder::new(Vec::new());
    tar.append(&header, dockerfile.as_bytes()).unwrap();
    let uncompressed = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &uncompressed).unwrap();
    let compressed = gz.finish().unwrap();

    let mut creds = HashMap::new();
    creds.insert(
        f.auth_registry.clone(),
        DockerCredentials {
            username: Some(f.username.clone()),
            password: Some(f.password.clone()),
            ..Default::default()
        },
    );
    let name = "bollard-built:latest";
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(name)
        .pull("true")
        .rm(true)
        .build();
    let docker = d.bollard();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let infos = runtime
        .block_on(
            docker
                .build_image(
                    options,
                    Some(creds),
                    Some(bollard::body_full(compressed.into())),
                )
                .try_collect::<Vec<_>>(),
        )
        .unwrap_or_else(|e| panic!("build: {e}\nberthd log:\n{}", common::tail(&d.log(), 40)));
    let id = infos
        .iter()
        .find_map(|i| i.aux.as_ref().and_then(|a| a.id.clone()))
        .expect("the build's aux ID");
    assert!(id.starts_with("sha256:"), "{id}");
    let out = d.docker(&["run", "--rm", name, "ls", "/bollard.txt"]);
    assert!(out.status.success(), "{}", stderr(&out));
    d.docker_ok(&["rmi", name]);
}

#[test]
fn an_interrupted_build_removes_its_running_container() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let dir = context(&[(
        "Dockerfile",
        &format!("FROM {base}\nRUN sleep 60\nRUN echo never\n"),
    )]);
    let mut child = d
        .docker_cmd()
        .args(["build", "-t", "interrupted:v1", "."])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker build");
    eventually("the RUN's container runs", || {
        !lines(&d.docker_ok(&["ps", "-q"])).is_empty()
    });
    // What Ctrl-C does: the client goes away; dockerd cancels the build.
    child.kill().expect("killing docker build");
    let _ = child.wait();
    eventually("the cancelled build's container is removed", || {
        lines(&d.docker_ok(&["ps", "-aq"])).is_empty()
    });
    assert!(!d
        .docker(&["image", "inspect", "interrupted:v1"])
        .status
        .success());
}

#[test]
fn docker_compose_builds_a_service() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let dir = context(&[
        (
            "app/Dockerfile",
            &format!("FROM {base}\nARG V=1\nRUN echo built $V > /v\nCMD [\"cat\", \"/v\"]\n"),
        ),
        (
            "docker-compose.yml",
            "version: \"3\"\nservices:\n  app:\n    build:\n      context: ./app\n      args:\n        V: \"2\"\n    image: composebuilt:latest\n",
        ),
    ]);
    let compose = |args: &[&str]| {
        std::process::Command::new("docker-compose")
            .current_dir(dir.path())
            .env("DOCKER_HOST", d.host())
            .env("DOCKER_CONFIG", &d.docker_config)
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("COMPOSE_API_VERSION")
            .args(["--no-ansi", "-p", "buildproj"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("running docker-compose")
    };
    let out = compose(&["build"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("Successfully tagged composebuilt:latest"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        d.docker_ok(&["run", "--rm", "composebuilt:latest"]),
        "built 2\n"
    );
}

#[test]
fn a_build_emits_the_events_dockerd_emits() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let dir = context(&[("Dockerfile", &format!("FROM {base}\nENV A=1\nRUN true\n"))]);
    let since = common::unix_now();
    build_ok(&d, dir.path(), &["-t", "evented:v1"]);
    let until = common::unix_now();
    let out = d.docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=container",
        "--filter",
        "type=image",
        "--format",
        "{{.Type}} {{.Action}}",
    ]);
    // dockerd 20.10: the ENV step's container is made and removed, the RUN's also
    // attached, started and dead; the result tagged.
    assert_eq!(
        lines(&out),
        [
            "container create",
            "container destroy",
            "container create",
            "container attach",
            "container start",
            "container die",
            "container destroy",
            "image tag",
        ],
        "{out}"
    );
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

#[test]
fn cache_from_a_pulled_image_reuses_its_steps() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let name = format!("{}/{}:v1", f.registry, unique_repo("cachefrom"));
    let dir = context(&[
        (
            "Dockerfile",
            &format!("FROM {base}\nENV A=1\nCOPY data.txt /\nRUN date +%s%N > /stamp\n"),
        ),
        ("data.txt", "cached\n"),
    ]);
    build_ok(&d, dir.path(), &["-t", &name]);
    let id = |name: &str| d.docker_ok(&["image", "inspect", "-f", "{{.Id}}", name]);
    let built = id(&name);
    d.docker_ok(&["push", &name]);
    // Only the pulled image is here: no local parent chain to use as a cache.
    d.docker_ok(&["rmi", &name]);
    d.docker_ok(&["pull", "-q", &name]);
    let without = build_ok(&d, dir.path(), &["-t", "nocachefrom:v1"]);
    assert!(!without.contains("Using cache"), "{without}");
    let with = build_ok(
        &d,
        dir.path(),
        &["--cache-from", &name, "-t", "cachefrom:v1"],
    );
    assert_eq!(with.matches(" ---> Using cache").count(), 3, "{with}");
    assert_eq!(id("cachefrom:v1"), built);
    let stamp = |image: &str| d.docker_ok(&["run", "--rm", image, "cat", "/stamp"]);
    assert_eq!(stamp("cachefrom:v1"), stamp(&name));
}

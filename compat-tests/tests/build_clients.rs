//! Builds as clients use them: the cache (`Using cache`, `--cache-from`), a built image
//! pushed and pulled back, the events, a build cancelled by its client, bollard's
//! `build_image` and docker-compose's `build`.
mod build_support;
mod common;

use build_support::{build_ok, context};
use common::{eventually, lines, stderr, stdout, unique_repo, Daemon, Fixtures};

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

/// `POST /build` of `dockerfile` as a raw client that reads nothing but the answer's
/// first bytes, then hangs up; the time it hung up (unix seconds).
fn build_and_hang_up(d: &Daemon, dockerfile: &str) -> f64 {
    use std::io::{Read, Write};
    let mut context = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    context
        .append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .expect("tar entry");
    let context = context.into_inner().expect("tar");
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).expect("connect");
    let head = compat_tests::http::request_head(
        "localhost",
        "POST",
        "/build?t=hungup:v1&rm=1",
        &[("Content-Type", "application/x-tar")],
        context.len(),
    );
    s.write_all(&head).expect("request");
    s.write_all(&context).expect("context");
    // The first bytes of the stream, and nothing more.
    let mut first = [0u8; 16];
    s.read_exact(&mut first).expect("the answer starts");
    eventually("the build's first container is made", || {
        !lines(&d.docker_ok(&["ps", "-aq"])).is_empty()
    });
    drop(s);
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

#[test]
fn a_build_whose_client_hung_up_stops_at_once() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let base = d.pull_fixture(&f, "busybox");
    let mut dockerfile = format!("FROM {base}\n");
    for i in 0..40 {
        dockerfile.push_str(&format!("RUN echo step {i}\n"));
    }
    let gone = build_and_hang_up(&d, &dockerfile);
    // The events of the 3 s after the hang-up (time for several more steps, had the build
    // gone on); the answer ends when `until` has passed.
    let r = d.api(
        "GET",
        &format!(
            "/events?since={:.3}&until={:.3}&filters=%7B%22type%22%3A%5B%22container%22%5D%2C%22event%22%3A%5B%22create%22%5D%7D",
            gone + 0.5,
            gone + 3.5
        ),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text().trim(),
        "",
        "containers created after the client hung up"
    );
    eventually("the hung-up build's containers are removed", || {
        lines(&d.docker_ok(&["ps", "-aq"])).is_empty()
    });
    assert!(!d
        .docker(&["image", "inspect", "hungup:v1"])
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

//! docker-compose 1.29 (Debian's, a docker-py client) against berthd, as its users run
//! it: a project with a published web service and a client service on the project's
//! network, `up -d`, `ps`, `logs`, `exec`, names between services, then `down` leaving
//! nothing behind.
mod common;

use common::network::{free_port, http_get};

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{Daemon, Fixtures};

fn compose(d: &Daemon, project_dir: &Path, project: &str, args: &[&str]) -> Output {
    Command::new("docker-compose")
        .current_dir(project_dir)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", &d.docker_config)
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("COMPOSE_API_VERSION")
        .args(["--no-ansi", "-p", project])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running docker-compose (installed by scripts/install-test-deps.sh)")
}

fn compose_ok(d: &Daemon, dir: &Path, project: &str, args: &[&str]) -> String {
    let out = compose(d, dir, project, args);
    assert!(
        out.status.success(),
        "docker-compose {args:?} failed ({}):\nstdout: {}\nstderr: {}\nberthd log tail:\n{}",
        out.status,
        common::stdout(&out),
        common::stderr(&out),
        common::tail(&d.log(), 40)
    );
    common::stdout(&out)
}

#[test]
fn a_project_comes_up_talks_and_goes_down() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    let httpd = d.pull_fixture(&f, "httpd");
    let port = free_port();
    let dir = d.dir.path().join("project");
    std::fs::create_dir_all(&dir).expect("project dir");
    std::fs::write(
        dir.join("docker-compose.yml"),
        format!(
            r#"version: "3.8"
services:
  web:
    image: {httpd}
    ports: ["127.0.0.1:{port}:80"]
    stop_grace_period: 2s
    networks:
      default:
        aliases: [www]
  app:
    image: {busybox}
    command: sh -c 'echo hello from app; exec sleep 300'
    stop_grace_period: 2s
    depends_on: [web]
    environment:
      GREETING: bonjour
"#
        ),
    )
    .expect("compose file");
    let project = "berthcompose";

    compose_ok(&d, &dir, project, &["up", "-d"]);
    let ps = compose_ok(&d, &dir, project, &["ps"]);
    for name in ["berthcompose_web_1", "berthcompose_app_1"] {
        let line = ps
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing from compose ps:\n{ps}"));
        assert!(line.contains(" Up "), "{name} not up:\n{ps}");
    }
    assert!(ps.contains(&format!("127.0.0.1:{port}->80/tcp")), "{ps}");

    // The published port serves the page to the host.
    let page = http_get(port);
    assert!(page.contains("Berth httpd fixture"), "{page}");

    common::eventually("app's greeting in compose logs", || {
        compose_ok(&d, &dir, project, &["logs", "app"]).contains("hello from app")
    });
    let env = compose_ok(
        &d,
        &dir,
        project,
        &["exec", "-T", "app", "sh", "-c", "echo $GREETING"],
    );
    assert_eq!(env.trim(), "bonjour");

    // Services find each other by service name and by alias on the project network.
    for name in ["web", "www"] {
        let out = compose_ok(&d, &dir, project, &["exec", "-T", "app", "nslookup", name]);
        let web_ip = d
            .docker_ok(&[
                "inspect",
                "--format",
                "{{(index .NetworkSettings.Networks \"berthcompose_default\").IPAddress}}",
                "berthcompose_web_1",
            ])
            .trim()
            .to_string();
        assert!(!web_ip.is_empty());
        assert!(
            out.contains(&web_ip),
            "{name} did not resolve to {web_ip}:\n{out}"
        );
    }

    // A changed service is recreated (compose reads the image's ContainerConfig then).
    let file = dir.join("docker-compose.yml");
    let text = std::fs::read_to_string(&file).expect("read compose file");
    std::fs::write(&file, text.replace("GREETING: bonjour", "GREETING: hallo")).expect("write");
    let out = compose(&d, &dir, project, &["up", "-d"]);
    assert!(
        out.status.success(),
        "recreate failed: {}{}",
        common::stdout(&out),
        common::stderr(&out)
    );
    assert!(
        common::stderr(&out).contains("Recreating"),
        "{}",
        common::stderr(&out)
    );
    let env = compose_ok(
        &d,
        &dir,
        project,
        &["exec", "-T", "app", "sh", "-c", "echo $GREETING"],
    );
    assert_eq!(env.trim(), "hallo");

    // `down` stops and removes the containers and the project's network.
    compose_ok(&d, &dir, project, &["down"]);
    let left = d.docker_ok(&["ps", "-aq"]);
    assert!(left.trim().is_empty(), "containers left: {left}");
    let networks = d.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.contains("berthcompose_default"), "{networks}");
}

/// docker-compose starts a created container after `network disconnect` and a
/// `network connect` with the service's aliases; the container must come up on that
/// network with those aliases (a created container's network plan was once re-derived
/// from its NetworkMode, making the connect a conflict).
#[test]
fn a_created_container_reconnected_before_start_gets_its_aliases() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["network", "create", "recon"]);
    d.docker_ok(&[
        "create",
        "--name",
        "c1",
        "--network",
        "recon",
        &busybox,
        "sleep",
        "300",
    ]);
    d.docker_ok(&["network", "disconnect", "recon", "c1"]);
    let nets = d.docker_ok(&[
        "inspect",
        "--format",
        "{{json .NetworkSettings.Networks}}",
        "c1",
    ]);
    assert_eq!(nets.trim(), "{}", "still on a network after disconnect");
    d.docker_ok(&["network", "connect", "--alias", "svc", "recon", "c1"]);
    d.docker_ok(&["start", "c1"]);
    let v = common::inspect_json(&d, &["inspect"], "c1");
    let ep = &v["NetworkSettings"]["Networks"]["recon"];
    assert!(
        ep["IPAddress"].as_str().is_some_and(|ip| !ip.is_empty()),
        "no address on recon: {ep}"
    );
    let aliases: Vec<&str> = ep["Aliases"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    assert!(aliases.contains(&"svc"), "{ep}");
    // Clients of API < 1.45 (docker-compose 1.x) also see the short ID among the aliases.
    let id = v["Id"].as_str().expect("Id");
    let out = d
        .docker_cmd()
        .env("DOCKER_API_VERSION", "1.41")
        .args([
            "inspect",
            "--format",
            "{{json (index .NetworkSettings.Networks \"recon\").Aliases}}",
            "c1",
        ])
        .output()
        .expect("docker inspect");
    assert_eq!(
        common::stdout(&out).trim(),
        format!("[\"svc\",\"{}\"]", &id[..12]),
        "{}",
        common::stderr(&out)
    );
    d.docker_ok(&["rm", "-f", "c1"]);
    d.docker_ok(&["network", "rm", "recon"]);
}

/// An attached `up` follows the containers' output and events: `--exit-code-from` ends
/// with the job's exit code and stops the rest.
#[test]
fn attached_up_exits_with_the_jobs_code() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    let httpd = d.pull_fixture(&f, "httpd");
    let dir = d.dir.path().join("project");
    std::fs::create_dir_all(&dir).expect("project dir");
    std::fs::write(
        dir.join("docker-compose.yml"),
        format!(
            r#"version: "3.8"
services:
  web:
    image: {httpd}
    stop_grace_period: 1s
  job:
    image: {busybox}
    command: sh -c 'echo job running; sleep 1; echo job done; exit 7'
"#
        ),
    )
    .expect("compose file");
    let out = compose(&d, &dir, "berthjob", &["up", "--exit-code-from", "job"]);
    let text = format!("{}{}", common::stdout(&out), common::stderr(&out));
    assert_eq!(out.status.code(), Some(7), "{text}");
    assert!(
        text.contains("job running") && text.contains("job done"),
        "{text}"
    );
    assert!(text.contains("exited with code 7"), "{text}");
    let running = d.docker_ok(&["ps", "-q"]);
    assert!(running.trim().is_empty(), "still running: {running}");
    compose_ok(&d, &dir, "berthjob", &["down"]);
}

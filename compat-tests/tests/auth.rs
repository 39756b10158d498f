//! Registry authentication with the stock docker CLI: `docker login` (good and bad
//! password, unreachable registry), pulls and pushes against the htpasswd registry
//! with and without a login, `docker logout`. Messages are dockerd 20.10's.
mod common;

use common::{unique_repo, Daemon, Fixtures};

fn login(d: &Daemon, f: &Fixtures, password: &str) -> std::process::Output {
    d.login(&f.auth_registry, &f.username, password)
}

#[test]
fn login_with_a_good_and_a_bad_password() {
    let f = Fixtures::load();
    let d = Daemon::start();

    let bad = login(&d, &f, "wrong-password");
    assert!(!bad.status.success(), "a bad password fails");
    let err = common::stderr(&bad);
    assert!(
        err.contains(&format!(
            "Error response from daemon: login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
            f.auth_registry
        )),
        "{err}"
    );

    let good = login(&d, &f, &f.password);
    assert!(good.status.success(), "stderr: {}", common::stderr(&good));
    assert!(
        common::stdout(&good).contains("Login Succeeded"),
        "{}",
        common::stdout(&good)
    );
    let config = std::fs::read_to_string(d.docker_config.join("config.json")).expect("CLI config");
    assert!(
        config.contains(&f.auth_registry),
        "the CLI stored the login: {config}"
    );
}

#[test]
fn login_to_an_unreachable_registry() {
    let d = Daemon::start();
    let err = d.docker_err(&["login", "-u", "x", "-p", "y", "127.0.0.1:1"]);
    assert!(
        err.contains("Error response from daemon: Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused"),
        "{err}"
    );
}

#[test]
fn pull_from_the_auth_registry_needs_a_login() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let reference = f.auth_ref("busybox");
    let image = f.image("busybox");

    let err = d.docker_err(&["pull", &reference]);
    assert!(
        err.contains(&format!(
            "Error response from daemon: Head \"http://{}/v2/{}/manifests/{}\": no basic auth credentials",
            f.auth_registry, image.repository, image.tag
        )),
        "{err}"
    );

    assert!(login(&d, &f, &f.password).status.success());
    let out = d.docker_ok(&["pull", &reference]);
    assert!(out.contains(&format!("Digest: {}", image.digest)), "{out}");
    let id = d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", &reference]);
    assert_eq!(id.trim(), image.id);

    d.docker_ok(&["logout", &f.auth_registry]);
    let hello = f.auth_ref("hello");
    let err = d.docker_err(&["pull", &hello]);
    assert!(
        err.contains("no basic auth credentials"),
        "after logout: {err}"
    );
}

#[test]
fn push_to_the_auth_registry_needs_a_login() {
    let f = Fixtures::load();
    let d = Daemon::start();
    d.docker_ok(&["pull", &f.anon_ref("hello")]);
    let repo = format!("{}/{}", f.auth_registry, unique_repo("authpush"));
    let target = format!("{repo}:v1");
    d.docker_ok(&["tag", &f.anon_ref("hello"), &target]);

    let out = d.docker(&["push", &target]);
    assert!(!out.status.success(), "push without login must fail");
    let all = format!("{}{}", common::stdout(&out), common::stderr(&out));
    assert!(
        all.contains(&format!("The push refers to repository [{repo}]")),
        "{all}"
    );
    assert!(all.contains("no basic auth credentials"), "{all}");

    assert!(login(&d, &f, &f.password).status.success());
    let out = d.docker_ok(&["push", &target]);
    assert!(
        out.contains(&format!("v1: digest: {} size:", f.image("hello").digest)),
        "{out}"
    );

    // And it can be pulled back with the login, into another daemon.
    let other = Daemon::start();
    assert!(login(&other, &f, &f.password).status.success());
    other.docker_ok(&["pull", &target]);
}

/// The token registry (Bearer challenge, docker/distribution token server) from the
/// fixtures JSON, which the harness does not model.
fn token_registry() -> String {
    let path =
        std::env::var("BERTH_FIXTURES").expect("BERTH_FIXTURES (run through scripts/test.sh)");
    let text = std::fs::read_to_string(&path).expect("fixtures file");
    let value: serde_json::Value = serde_json::from_str(&text).expect("fixtures JSON");
    value["token_registry"]
        .as_str()
        .expect("the fixtures have a token registry")
        .to_string()
}

fn login_to(d: &Daemon, registry: &str, user: &str, password: &str) -> std::process::Output {
    d.login(registry, user, password)
}

#[test]
fn token_registry_login_pull_and_push() {
    let f = Fixtures::load();
    let registry = token_registry();
    let d = Daemon::start();
    let hello = f.image("hello");
    let reference = format!("{registry}/{}:{}", hello.repository, hello.tag);

    let err = d.docker_err(&["pull", &reference]);
    assert!(
        err.contains(&format!(
            "Error response from daemon: pull access denied for {registry}/{}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
            hello.repository
        )),
        "{err}"
    );

    let bad = login_to(&d, &registry, &f.username, "wrong-password");
    assert!(!bad.status.success());
    let err = common::stderr(&bad);
    assert!(
        err.contains(&format!(
            "Error response from daemon: Get \"http://{registry}/v2/\": unauthorized: incorrect username or password"
        )),
        "{err}"
    );

    let good = login_to(&d, &registry, &f.username, &f.password);
    assert!(good.status.success(), "{}", common::stderr(&good));
    let out = d.docker_ok(&["pull", &reference]);
    assert!(out.contains(&format!("Digest: {}", hello.digest)), "{out}");

    let target = format!("{registry}/{}:v1", unique_repo("tokenpush"));
    d.docker_ok(&["tag", &reference, &target]);
    let out = d.docker_ok(&["push", &target]);
    assert!(
        out.contains(&format!("v1: digest: {} size:", hello.digest)),
        "{out}"
    );

    d.docker_ok(&["logout", &registry]);
    let out = d.docker(&["push", &target]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("denied: requested access to the resource is denied"),
        "{}",
        common::stderr(&out)
    );
}

//! The bearer-token flow (`WWW-Authenticate: Bearer realm=…` → GET realm with basic
//! credentials → `{"token": …}` → retry with `Authorization: Bearer`), as Docker Hub and most
//! real registries use it: the token server and the token registry themselves, then
//! `docker login`, `pull` and `push` through berthd.
//!
//! Messages are dockerd 20.10's against the same registry.

mod common;

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{stderr, stdout, Daemon, Fixtures};
use compat_tests::http;
use compat_tests::token::{self, jwt, keys};
use serde_json::Value;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The token registry's part of fixtures.json.
struct TokenFixtures {
    fixtures: Fixtures,
    /// "127.0.0.1:PORT" of the registry.
    registry: String,
    /// "127.0.0.1:PORT" of the token server.
    server: String,
    /// The signing certificate (PEM).
    cert: String,
}

fn load() -> TokenFixtures {
    let fixtures = Fixtures::load();
    let path = std::env::var("BERTH_FIXTURES").expect("BERTH_FIXTURES");
    let text = std::fs::read_to_string(&path).expect("reading fixtures.json");
    let json: Value = serde_json::from_str(&text).expect("parsing fixtures.json");
    let field = |name: &str| -> String {
        json[name].as_str().map(String::from).unwrap_or_else(|| {
            panic!("{path} has no {name:?}: rebuild the fixtures (berth-fixtures) with the token registry up (scripts/registries.sh start)")
        })
    };
    for name in token::IMAGES {
        assert_eq!(
            json["images"][name]["in_token_registry"], true,
            "{name} should be in the token registry"
        );
    }
    TokenFixtures {
        registry: field("token_registry"),
        server: field("token_server"),
        cert: field("token_cert"),
        fixtures,
    }
}

/// GET /token on the token server with optional credentials; returns the response.
fn get_token(server: &str, query: &str, auth: Option<(&str, &str)>) -> http::Response {
    http::get(server, &format!("/token?{query}"), None, auth).expect("GET /token")
}

/// A token for `scope` from the token server, with the fixtures' credentials.
fn token_for(t: &TokenFixtures, scope: &str, auth: Option<(&str, &str)>) -> String {
    let r = get_token(
        &t.server,
        &format!("service={}&scope={scope}", token::SERVICE),
        auth,
    );
    assert_eq!(r.status, 200, "token for {scope}: {}", r.text());
    let body: Value = serde_json::from_slice(&r.body).expect("token JSON");
    body["token"].as_str().expect("token").to_string()
}

/// Asserts that `text` (a docker command's stderr or stdout) contains `needle`, showing
/// berthd's log tail when it does not.
fn assert_has(d: &Daemon, text: &str, needle: &str) {
    assert!(
        text.contains(needle),
        "expected {needle:?} in:\n{text}\nberthd log tail:\n{}",
        common::tail(&d.log(), 25)
    );
}

fn creds(t: &TokenFixtures) -> (&str, &str) {
    (t.fixtures.username.as_str(), t.fixtures.password.as_str())
}

#[test]
fn token_server_answers_the_docker_token_protocol() {
    let t = load();
    let key = keys::load(Path::new(&t.cert).parent().expect("cert dir")).expect("signing key");
    let scope = "repository:berth/busybox:pull,push";
    let query = format!(
        "service={}&scope={}",
        token::SERVICE,
        scope.replace(':', "%3A").replace('/', "%2F")
    );

    // Wrong password: 401, with the details Docker's client shows.
    let r = get_token(&t.server, &query, Some(("berth", "not-the-password")));
    assert_eq!(r.status, 401, "{}", r.text());
    let body: Value = serde_json::from_slice(&r.body).expect("401 JSON");
    assert_eq!(body["details"], "incorrect username or password");
    assert!(
        r.header("www-authenticate")
            .unwrap_or_default()
            .starts_with("Basic "),
        "{:?}",
        r.headers
    );

    // Anonymous: a valid token that grants nothing.
    let r = get_token(&t.server, &query, None);
    assert_eq!(r.status, 200, "{}", r.text());
    let body: Value = serde_json::from_slice(&r.body).expect("token JSON");
    let (_, claims) = jwt::verify(body["token"].as_str().expect("token"), key.public_key())
        .expect("anonymous token");
    assert_eq!(claims.sub, "");
    assert!(claims.access.is_empty(), "{:?}", claims.access);

    // A service that is not ours.
    let r = get_token(&t.server, "service=someone-else", Some(creds(&t)));
    assert_eq!(r.status, 400, "{}", r.text());

    // The good password: a signed token carrying the scope.
    let before = chrono::Utc::now().timestamp();
    let r = get_token(
        &t.server,
        &format!("{query}&account=berth"),
        Some(creds(&t)),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/json"));
    let body: Value = serde_json::from_slice(&r.body).expect("token JSON");
    let tok = body["token"].as_str().expect("token");
    assert_eq!(body["access_token"], tok);
    assert_eq!(body["expires_in"], 300);
    let issued = body["issued_at"].as_str().expect("issued_at");
    chrono::DateTime::parse_from_rfc3339(issued)
        .unwrap_or_else(|e| panic!("issued_at {issued:?}: {e}"));

    let (header, claims) = jwt::verify(tok, key.public_key()).expect("token signature");
    assert_eq!(header.alg, "ES256");
    let cert_der = keys::pem_to_der(
        &std::fs::read_to_string(&t.cert).expect("cert"),
        "CERTIFICATE",
    )
    .expect("cert PEM");
    assert_eq!(header.x5c.len(), 1);
    assert_eq!(
        STANDARD.decode(&header.x5c[0]).expect("x5c base64"),
        cert_der,
        "x5c is the signing certificate"
    );
    assert_eq!(claims.iss, token::ISSUER);
    assert_eq!(claims.aud, token::SERVICE);
    assert_eq!(claims.sub, "berth");
    assert_eq!(claims.exp - claims.iat, 300);
    assert!(claims.nbf >= before - 1 && claims.nbf <= chrono::Utc::now().timestamp() + 1);
    assert!(!claims.jti.is_empty());
    assert_eq!(claims.access.len(), 1);
    assert_eq!(claims.access[0].kind, "repository");
    assert_eq!(claims.access[0].name, "berth/busybox");
    assert_eq!(claims.access[0].actions, vec!["pull", "push"]);
}

#[test]
fn token_server_answers_the_oauth2_password_grant() {
    let t = load();
    let key = keys::load(Path::new(&t.cert).parent().expect("cert dir")).expect("signing key");
    let post = |form: &str| {
        http::request(
            "POST",
            &t.server,
            "/token",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form.as_bytes(),
        )
        .expect("POST /token")
    };
    let scope = "repository%3Aberth%2Fhello%3Apull";
    let r = post(&format!(
        "grant_type=password&username=berth&password=nope&service={}&scope={scope}",
        token::SERVICE
    ));
    assert_eq!(r.status, 401, "{}", r.text());

    let r = post(&format!(
        "grant_type=password&username=berth&password=berth-secret&service={}&client_id=docker&access_type=offline&scope={scope}",
        token::SERVICE
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let body: Value = serde_json::from_slice(&r.body).expect("token JSON");
    assert_eq!(body["scope"], "repository:berth/hello:pull");
    let (_, claims) = jwt::verify(
        body["access_token"].as_str().expect("access_token"),
        key.public_key(),
    )
    .expect("signature");
    assert_eq!(claims.access[0].name, "berth/hello");

    // The refresh token buys a new access token.
    let refresh = body["refresh_token"].as_str().expect("refresh_token");
    let r = post(&format!(
        "grant_type=refresh_token&refresh_token={refresh}&service={}&scope={scope}",
        token::SERVICE
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post("grant_type=refresh_token&refresh_token=forged");
    assert_eq!(r.status, 401, "{}", r.text());
}

#[test]
fn token_registry_challenges_and_accepts_the_servers_tokens() {
    let t = load();
    let busybox = t.fixtures.image("busybox");

    let r = http::get(&t.registry, "/v2/", None, None).expect("GET /v2/");
    assert_eq!(r.status, 401);
    let challenge = r.header("www-authenticate").unwrap_or_default().to_string();
    assert_eq!(
        challenge,
        format!(
            "Bearer realm=\"http://{}/token\",service=\"{}\"",
            t.server,
            token::SERVICE
        )
    );

    // Basic credentials are not what this registry takes.
    let r = http::get(&t.registry, "/v2/", None, Some(creds(&t))).expect("GET /v2/");
    assert_eq!(r.status, 401);

    let manifest_path = format!("/v2/{}/manifests/{}", busybox.repository, busybox.tag);
    let with_token = |token: &str| {
        let bearer = format!("Bearer {token}");
        http::request(
            "GET",
            &t.registry,
            &manifest_path,
            &[("Accept", DOCKER_MANIFEST), ("Authorization", &bearer)],
            &[],
        )
        .expect("GET manifest")
    };

    let good = token_for(
        &t,
        &format!("repository:{}:pull", busybox.repository),
        Some(creds(&t)),
    );
    let r = with_token(&good);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("docker-content-digest"),
        Some(busybox.digest.as_str())
    );

    let anonymous = token_for(&t, &format!("repository:{}:pull", busybox.repository), None);
    let r = with_token(&anonymous);
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(
        r.header("www-authenticate")
            .unwrap_or_default()
            .contains("error=\"insufficient_scope\""),
        "{:?}",
        r.headers
    );

    // A token for another repository does not open this one.
    let other = token_for(&t, "repository:berth/hello:pull", Some(creds(&t)));
    assert_eq!(with_token(&other).status, 401);
}

/// The CLI's config.json in the daemon's private DOCKER_CONFIG.
fn cli_config(d: &Daemon) -> Value {
    std::fs::read_to_string(d.docker_config.join("config.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

fn login(d: &Daemon, t: &TokenFixtures) {
    let out = d.docker_ok(&[
        "login",
        "-u",
        &t.fixtures.username,
        "-p",
        &t.fixtures.password,
        &t.registry,
    ]);
    assert_has(d, &out, "Login Succeeded");
}

#[test]
fn login_rejects_a_bad_password_and_accepts_the_good_one() {
    let t = load();
    let d = Daemon::start();

    let out = d.docker(&[
        "login",
        "-u",
        "berth",
        "-p",
        "not-the-password",
        &t.registry,
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}\nberthd log:\n{}",
        stdout(&out),
        stderr(&out),
        d.log()
    );
    let err = stderr(&out);
    // dockerd: Error response from daemon: Get "http://127.0.0.1:15002/v2/": unauthorized: incorrect username or password
    assert_has(&d, &err, "Error response from daemon");
    assert_has(&d, &err, "unauthorized: incorrect username or password");
    assert!(
        cli_config(&d)["auths"][&t.registry].is_null(),
        "a failed login saved credentials"
    );

    login(&d, &t);
    let saved = cli_config(&d)["auths"][&t.registry]["auth"]
        .as_str()
        .map(String::from);
    assert_eq!(
        saved,
        Some(STANDARD.encode("berth:berth-secret")),
        "config.json: {}",
        cli_config(&d)
    );
}

#[test]
fn pull_needs_login() {
    let t = load();
    let d = Daemon::start();
    let busybox = t.fixtures.image("busybox");
    let hello = t.fixtures.image("hello");
    let busybox_ref = format!("{}/{}:{}", t.registry, busybox.repository, busybox.tag);
    let hello_ref = format!("{}/{}:{}", t.registry, hello.repository, hello.tag);

    // dockerd: Error response from daemon: pull access denied for 127.0.0.1:15002/berth/busybox,
    // repository does not exist or may require 'docker login': denied: requested access to the resource is denied
    let err = d.docker_err(&["pull", &busybox_ref]);
    assert_has(
        &d,
        &err,
        &format!(
            "pull access denied for {}/{}",
            t.registry, busybox.repository
        ),
    );
    assert_has(&d, &err, "may require 'docker login'");
    assert!(d.docker(&["image", "inspect", &busybox_ref]).status.code() != Some(0));

    login(&d, &t);
    let out = d.docker_ok(&["pull", &busybox_ref]);
    assert_has(&d, &out, &format!("Digest: {}", busybox.digest));
    let id = d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", &busybox_ref]);
    assert_eq!(id.trim(), busybox.id);

    // Logged out again, the next pull is refused.
    d.docker_ok(&["logout", &t.registry]);
    let err = d.docker_err(&["pull", &hello_ref]);
    assert_has(
        &d,
        &err,
        &format!("pull access denied for {}/{}", t.registry, hello.repository),
    );
}

#[test]
fn push_needs_login() {
    let t = load();
    let d = Daemon::start();
    let busybox = t.fixtures.image("busybox");
    let busybox_ref = format!("{}/{}:{}", t.registry, busybox.repository, busybox.tag);
    let repo = "berth-test/token-push";
    let tag = format!("t{}", std::process::id());
    let target = format!("{}/{repo}:{tag}", t.registry);

    login(&d, &t);
    d.docker_ok(&["pull", &busybox_ref]);
    d.docker_ok(&["tag", &busybox_ref, &target]);

    // Without credentials: the push stream ends with dockerd's
    // "denied: requested access to the resource is denied".
    d.docker_ok(&["logout", &t.registry]);
    let err = d.docker_err(&["push", &target]);
    assert_has(
        &d,
        &err,
        "denied: requested access to the resource is denied",
    );

    login(&d, &t);
    let out = d.docker_ok(&["push", &target]);
    assert_has(&d, &out, &format!("{tag}: digest: sha256:"));

    // The registry serves the pushed manifest, with busybox's layers.
    let token = token_for(&t, &format!("repository:{repo}:pull"), Some(creds(&t)));
    let bearer = format!("Bearer {token}");
    let r = http::request(
        "GET",
        &t.registry,
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Accept", DOCKER_MANIFEST), ("Authorization", &bearer)],
        &[],
    )
    .expect("GET pushed manifest");
    assert_eq!(r.status, 200, "{}", r.text());
    let manifest: Value = serde_json::from_slice(&r.body).expect("manifest JSON");
    assert_eq!(manifest["config"]["digest"], busybox.id.as_str());
    assert_eq!(
        manifest["layers"].as_array().map(Vec::len),
        Some(busybox.layers)
    );
}

//! The API obeys no web page: what a page the user has open can send to a TCP listener on
//! loopback (a `text/plain` POST needs no CORS preflight; a WebSocket needs none at all),
//! refused as the attack would send it; and pages the daemon's `--api-cors-header` allows.
mod common;

use common::network::{free_port, wait_for_port};
use compat_tests::http;
use serde_json::Value;

fn tcp_daemon(extra: &[&str]) -> (common::Daemon, String) {
    let port = free_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let mut args = vec!["-H", host.as_str(), "--tls=false"];
    args.extend_from_slice(extra);
    let d = common::Daemon::start_with(&args);
    wait_for_port(port);
    (d, format!("127.0.0.1:{port}"))
}

fn json(r: &http::Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

/// The attack: a page posts a container with the host's root bind-mounted, as
/// `fetch(url, {method: "POST", body})` sends a string (`text/plain;charset=UTF-8`).
#[test]
fn a_text_plain_create_with_a_host_bind_mount_is_refused() {
    let (d, addr) = tcp_daemon(&[]);
    let body = br#"{"Image":"busybox","Cmd":["sh","-c","cat /host/etc/shadow"],"HostConfig":{"Binds":["/:/host"]}}"#;
    let r = http::request(
        "POST",
        &addr,
        "/v1.41/containers/create?name=from-a-page",
        &[("Content-Type", "text/plain;charset=UTF-8")],
        body,
    )
    .expect("POST");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        json(&r)["message"],
        "unsupported Content-Type header (text/plain;charset=UTF-8): must be 'application/json'"
    );
    let all = d.docker_ok(&["ps", "-aq"]);
    assert!(all.trim().is_empty(), "a container was created: {all}");
    // The same body as JSON gets past the check (to the missing image).
    let r = http::request(
        "POST",
        &addr,
        "/v1.41/containers/create",
        &[("Content-Type", "application/json")],
        body,
    )
    .expect("POST");
    assert_eq!(r.status, 404, "{}", r.text());
    // Form posts do not pass either; a body without a type is refused as dockerd does.
    for (ct, expect) in [
        (
            "application/x-www-form-urlencoded",
            "unsupported Content-Type header",
        ),
        (
            "multipart/form-data; boundary=x",
            "unsupported Content-Type header",
        ),
        ("", "malformed Content-Type header (): mime: no media type"),
    ] {
        let headers: Vec<(&str, &str)> = if ct.is_empty() {
            vec![]
        } else {
            vec![("Content-Type", ct)]
        };
        let r = http::request(
            "POST",
            &addr,
            "/networks/create",
            &headers,
            br#"{"Name":"n"}"#,
        )
        .expect("POST");
        assert_eq!(r.status, 400, "{ct}: {}", r.text());
        let message = json(&r)["message"].as_str().unwrap_or("").to_string();
        assert!(message.starts_with(expect), "{ct}: {message}");
    }
}

#[test]
fn requests_from_pages_are_refused_without_a_cors_setting() {
    let (_d, addr) = tcp_daemon(&[]);
    // Clients that are not browsers send no Origin: served.
    let r = http::get(&addr, "/_ping", None, None).expect("ping");
    assert_eq!(r.status, 200);
    let origin = [("Origin", "http://evil.example")];
    for (method, path) in [
        ("GET", "/v1.41/containers/json"),
        ("POST", "/v1.41/containers/x/start"),
        ("OPTIONS", "/v1.41/containers/create"),
    ] {
        let r = http::request(method, &addr, path, &origin, b"").expect("request");
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text());
        assert!(
            json(&r)["message"]
                .as_str()
                .is_some_and(|m| m.contains("http://evil.example")),
            "{}",
            r.text()
        );
        assert!(r.header("Access-Control-Allow-Origin").is_none());
    }
    // DNS rebinding: the page is "same-origin", and a GET carries no Origin.
    let r = http::request(
        "GET",
        &addr,
        "/v1.41/containers/json",
        &[
            ("Sec-Fetch-Site", "same-origin"),
            ("Sec-Fetch-Mode", "cors"),
        ],
        b"",
    )
    .expect("GET");
    assert_eq!(r.status, 403, "{}", r.text());
    // A WebSocket attach needs no preflight: refused as well, before any lookup.
    let r = http::request(
        "GET",
        &addr,
        "/v1.41/containers/x/attach/ws?stream=1&stdin=1",
        &[
            ("Origin", "http://evil.example"),
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        b"",
    )
    .expect("websocket");
    assert_eq!(r.status, 403, "{}", r.text());
    // A preflight without Origin is dockerd's 200.
    let r = http::request("OPTIONS", &addr, "/v1.41/containers/create", &[], b"").expect("OPTIONS");
    assert_eq!(r.status, 200);
}

#[test]
fn pages_the_cors_setting_names_are_served_with_cors_headers() {
    let (_d, addr) = tcp_daemon(&["--api-cors-header", "http://ui.example:8080"]);
    let allowed = [
        ("Origin", "http://ui.example:8080"),
        ("Access-Control-Request-Method", "POST"),
    ];
    let r = http::request("OPTIONS", &addr, "/v1.41/containers/create", &allowed, b"")
        .expect("preflight");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("http://ui.example:8080")
    );
    assert_eq!(
        r.header("Access-Control-Allow-Methods"),
        Some("HEAD, GET, POST, DELETE, PUT, OPTIONS")
    );
    assert!(r
        .header("Access-Control-Allow-Headers")
        .is_some_and(|h| h.contains("X-Registry-Auth")));
    let r = http::request(
        "GET",
        &addr,
        "/v1.41/version",
        &[("Origin", "http://ui.example:8080")],
        b"",
    )
    .expect("GET");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("http://ui.example:8080")
    );
    let r = http::request(
        "GET",
        &addr,
        "/v1.41/version",
        &[("Origin", "http://other.example")],
        b"",
    )
    .expect("GET");
    assert_eq!(r.status, 403);
    // Even an allowed page posts JSON as JSON.
    let r = http::request(
        "POST",
        &addr,
        "/v1.41/volumes/create",
        &[
            ("Origin", "http://ui.example:8080"),
            ("Content-Type", "text/plain"),
        ],
        br#"{"Name":"v"}"#,
    )
    .expect("POST");
    assert_eq!(r.status, 400);
}

/// dockerd's daemon.json key sets the same.
#[test]
fn the_cors_setting_comes_from_daemon_json_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("daemon.json");
    std::fs::write(&file, r#"{"api-cors-header": "*"}"#).expect("daemon.json");
    let file = file.display().to_string();
    let (_d, addr) = tcp_daemon(&["--config-file", &file]);
    let r = http::request(
        "GET",
        &addr,
        "/_ping",
        &[("Origin", "http://any.example")],
        b"",
    )
    .expect("GET");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
}

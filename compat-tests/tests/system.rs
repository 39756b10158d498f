//! System endpoints, versions, listeners and the daemon's life: `docker version`/`info`,
//! raw HTTP on the unix socket, bollard, TCP with TLS, the plain-TCP policy, SIGTERM.
mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A raw HTTP/1.1 exchange: status, lower-cased headers, body.
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

fn raw_on<S: Read + Write>(mut stream: S, method: &str, path: &str, host: &str) -> RawResponse {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: berth-compat\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).expect("write request");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).expect("read response");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn raw(d: &common::Daemon, method: &str, path: &str) -> RawResponse {
    raw_on(
        UnixStream::connect(&d.socket).expect("connect socket"),
        method,
        path,
        "localhost",
    )
}

fn host_cgroup_version() -> &'static str {
    match nix::sys::statfs::statfs("/sys/fs/cgroup") {
        Ok(st) if st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => "2",
        _ => "1",
    }
}

#[test]
fn docker_version_negotiates_and_reports_berth() {
    let d = common::Daemon::start();
    let out = d.docker_ok(&["version", "--format", "{{json .}}"]);
    let v: Value = serde_json::from_str(out.trim()).expect("version JSON");
    let server = &v["Server"];
    assert_eq!(server["ApiVersion"], "1.53");
    assert_eq!(server["MinAPIVersion"], "1.24");
    assert_eq!(server["Os"], "linux");
    assert!(
        server["Version"].as_str().unwrap_or("").contains("berth"),
        "{server}"
    );
    assert!(
        server["Platform"]["Name"]
            .as_str()
            .unwrap_or("")
            .starts_with("Berth"),
        "{server}"
    );
    // The CLI (API 1.50) negotiates down to its own maximum.
    let client_api = v["Client"]["ApiVersion"].as_str().unwrap_or("").to_string();
    assert!(
        client_api.starts_with("1.") && client_api.as_str() <= "1.53",
        "client API {client_api}"
    );
    let plain = d.docker_ok(&["version"]);
    assert!(
        plain.contains("API version:      1.53 (minimum version 1.24)"),
        "{plain}"
    );
}

#[test]
fn docker_info_prints_and_parses() {
    let d = common::Daemon::start();
    let out = d.docker(&["info"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = common::stdout(&out);
    assert!(text.contains("Storage Driver: overlay2"), "{text}");
    assert!(
        !common::stderr(&out).contains("ERROR"),
        "{}",
        common::stderr(&out)
    );

    let json = d.docker_ok(&["info", "--format", "{{json .}}"]);
    let info: Value = serde_json::from_str(json.trim()).expect("info JSON");
    assert_eq!(info["Driver"], "overlay2");
    assert_eq!(info["CgroupVersion"], host_cgroup_version());
    assert_eq!(info["OSType"], "linux");
    assert_eq!(info["Swarm"]["LocalNodeState"], "inactive");
    assert_eq!(info["DockerRootDir"], d.data_root().display().to_string());
    assert_eq!(info["Containers"], 0);
    assert!(info["NCPU"].as_u64().unwrap_or(0) >= 1);
    assert!(info["ServerVersion"]
        .as_str()
        .unwrap_or("")
        .contains("berth"));
    let cidrs = info["RegistryConfig"]["InsecureRegistryCIDRs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(cidrs.contains(&Value::from("127.0.0.0/8")), "{cidrs:?}");
    let id = info["ID"].as_str().unwrap_or("").to_string();
    assert_eq!(id.len(), 36, "engine id {id:?}");

    // The engine ID survives a restart.
    let mut d = d;
    d.stop();
    d.restart_with(&[]);
    let again = d.docker_ok(&["info", "--format", "{{.ID}}"]);
    assert_eq!(again.trim(), id);
}

#[test]
fn ping_headers_get_and_head() {
    let d = common::Daemon::start();
    for method in ["GET", "HEAD"] {
        let r = raw(&d, method, "/_ping");
        assert_eq!(r.status, 200, "{method}");
        assert_eq!(r.header("api-version"), Some("1.53"));
        assert_eq!(r.header("builder-version"), Some("1"));
        assert_eq!(r.header("docker-experimental"), Some("false"));
        assert_eq!(r.header("ostype"), Some("linux"));
        assert_eq!(
            r.header("cache-control"),
            Some("no-cache, no-store, must-revalidate")
        );
        assert_eq!(r.header("pragma"), Some("no-cache"));
        assert!(
            r.header("server").unwrap_or("").starts_with("Docker/"),
            "{:?}",
            r.headers
        );
        assert!(r
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/plain"));
        if method == "GET" {
            assert_eq!(r.body, "OK");
        } else {
            assert_eq!(r.body, "");
            assert_eq!(r.header("content-length"), Some("0"));
        }
    }
}

#[test]
fn versions_and_unknown_paths_as_dockerd() {
    let d = common::Daemon::start();
    let r = raw(&d, "GET", "/v1.24/version");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["ApiVersion"], "1.53");
    assert_eq!(raw(&d, "GET", "/v1.53/version").status, 200);
    assert_eq!(raw(&d, "GET", "/version").status, 200);

    let r = raw(&d, "GET", "/v1.99/version");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "client version 1.99 is too new. Maximum supported API version is 1.53"
    );
    let r = raw(&d, "GET", "/v1.12/version");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body.trim(),
        "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
    );

    for (method, path) in [
        ("GET", "/nope"),
        ("GET", "/v1.99/nope"),
        ("GET", "/v1.40/nope"),
        ("DELETE", "/version"),
    ] {
        let r = raw(&d, method, path);
        assert_eq!(r.status, 404, "{method} {path}");
        assert_eq!(r.json()["message"], "page not found", "{method} {path}");
        // As Go's json.Encoder (dockerd's WriteJSON) writes it: a newline ends the body.
        assert_eq!(
            r.body, "{\"message\":\"page not found\"}\n",
            "{method} {path}"
        );
    }
    // A filter value dockerd refuses is refused with no container to test it on.
    let r = raw(
        &d,
        "GET",
        "/containers/json?filters=%7B%22status%22%3A%5B%22bogus%22%5D%7D",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["message"], "invalid filter 'status=bogus'");
    // bollard sends the socket path hex-encoded as the Host header.
    let hex_host: String = d
        .socket
        .display()
        .to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    let r = raw_on(
        UnixStream::connect(&d.socket).expect("connect"),
        "GET",
        "/_ping",
        &hex_host,
    );
    assert_eq!(r.status, 200);
}

#[test]
fn swarm_and_plugins_answer_as_a_non_swarm_dockerd() {
    let d = common::Daemon::start();
    let msg = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
    for path in [
        "/swarm",
        "/services",
        "/nodes",
        "/tasks",
        "/secrets",
        "/configs",
        "/v1.41/services/x",
    ] {
        let r = raw(&d, "GET", path);
        assert_eq!(r.status, 503, "{path}");
        assert_eq!(r.json()["message"], msg, "{path}");
    }
    assert_eq!(
        raw(&d, "POST", "/swarm/leave").json()["message"],
        "This node is not part of a swarm"
    );
    assert_eq!(raw(&d, "POST", "/swarm/init").status, 501);
    let r = raw(&d, "GET", "/plugins");
    assert_eq!((r.status, r.body.trim()), (200, "[]"));
    let r = raw(&d, "GET", "/plugins/vieux/sshfs:latest/json");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["message"],
        "plugin \"vieux/sshfs:latest\" not found"
    );
    let err = d.docker_err(&["service", "ls"]);
    assert!(err.contains("not a swarm manager"), "{err}");
    assert_eq!(d.docker_ok(&["plugin", "ls", "-q"]).trim(), "");
}

#[tokio::test]
async fn bollard_version_info_ping() {
    let d = common::Daemon::start();
    let docker = d.bollard();
    let ping = docker.ping().await.expect("ping");
    assert_eq!(ping, "OK");
    let version = docker.version().await.expect("version");
    assert_eq!(version.api_version.as_deref(), Some("1.53"));
    let info = docker.info().await.expect("info");
    assert_eq!(info.driver.as_deref(), Some("overlay2"));
    assert_eq!(info.os_type.as_deref(), Some("linux"));
}

#[test]
fn sigterm_removes_socket_and_pid_file() {
    let mut d = common::Daemon::start();
    let pidfile = d.dir.path().join("exec").join("berthd.pid");
    let pid = std::fs::read_to_string(&pidfile).expect("pid file");
    assert!(pid.trim().parse::<u32>().is_ok(), "pid file holds {pid:?}");
    let status = d.stop().expect("exit status");
    assert!(status.success(), "berthd exited with {status}\n{}", d.log());
    assert!(!d.socket.exists(), "socket left behind");
    assert!(!pidfile.exists(), "pid file left behind");
}

#[test]
fn a_second_daemon_on_the_same_data_root_is_refused() {
    let d = common::Daemon::start();
    let other = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(common::berthd_bin())
        .arg("--data-root")
        .arg(d.data_root())
        .arg("--exec-root")
        .arg(other.path().join("exec"))
        .arg("-H")
        .arg(format!("unix://{}", other.path().join("d.sock").display()))
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("in use"),
        "{}",
        common::stderr(&out)
    );
    // The first daemon is unharmed.
    d.docker_ok(&["version"]);
}

#[test]
fn daemon_json_conflicts_and_unknown_keys_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("daemon.json");
    std::fs::write(&file, r#"{"hosts": ["unix:///tmp/berth-conflict.sock"]}"#).expect("write");
    let err = common::berthd_refuses(&[
        "--config-file",
        file.to_str().expect("path"),
        "-H",
        "unix:///tmp/other.sock",
    ]);
    assert!(
        err.contains("specified both as a flag and in the configuration file"),
        "{err}"
    );
    std::fs::write(&file, r#"{"no-such-option": true}"#).expect("write");
    let err = common::berthd_refuses(&["--config-file", file.to_str().expect("path")]);
    assert!(
        err.contains("don't match any configuration option: no-such-option"),
        "{err}"
    );
}

#[test]
fn daemon_json_settings_reach_info() {
    let d0 = tempfile::tempdir().expect("tempdir");
    let file = d0.path().join("daemon.json");
    std::fs::write(
        &file,
        r#"{"insecure-registries": ["myregistry:5000"], "labels": ["berth.test=1"], "live-restore": true}"#,
    )
    .expect("write");
    let d = common::Daemon::start_with(&["--config-file", file.to_str().expect("path")]);
    let info: Value = serde_json::from_str(d.docker_ok(&["info", "--format", "{{json .}}"]).trim())
        .expect("json");
    assert_eq!(info["LiveRestoreEnabled"], true);
    assert_eq!(info["Labels"], serde_json::json!(["berth.test=1"]));
    assert_eq!(
        info["RegistryConfig"]["IndexConfigs"]["myregistry:5000"]["Secure"],
        false
    );
}

#[test]
fn restarts_over_a_stale_socket_and_pid_file_after_a_crash() {
    let mut d = common::Daemon::start();
    d.kill9();
    let pidfile = d.dir.path().join("exec").join("berthd.pid");
    assert!(
        d.socket.exists() && pidfile.exists(),
        "a crash leaves both behind"
    );
    let mut child = Command::new(common::berthd_bin())
        .arg("--data-root")
        .arg(d.data_root())
        .arg("--exec-root")
        .arg(d.dir.path().join("exec"))
        .arg("-H")
        .arg(format!("unix://{}", d.socket.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn berthd");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut up = false;
    while Instant::now() < deadline {
        if UnixStream::connect(&d.socket).is_ok() {
            up = true;
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("berthd exited with {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(up, "berthd did not come back on its stale socket");
    assert_eq!(raw(&d, "GET", "/_ping").body, "OK");
    let pid = std::fs::read_to_string(&pidfile).expect("pid file");
    assert_eq!(pid.trim(), child.id().to_string());
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let status = child.wait().expect("wait");
    assert!(status.success());
}

#[test]
fn an_upload_to_an_endpoint_berth_lacks_gets_the_404_not_a_broken_pipe() {
    let d = common::Daemon::start();
    // A 4 MiB upload to a path no dockerd serves: the client may send all of it and then
    // read dockerd's 404, not find the connection closed under it.
    let socket = d.host().trim_start_matches("unix://").to_string();
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
    let body = vec![0u8; 4 << 20];
    let head = format!(
        "POST /v1.53/images/upload-nowhere/feed HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(&body).expect("the whole upload is read");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read answer");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.contains("page not found"), "{answer}");
}

#[test]
fn a_tcp_port_in_use_is_refused_before_anything_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("api.sock");
    // berthd_refuses also checks that no berth-containerd, bridge or table is left.
    let err = common::berthd_refuses(&[
        "-H",
        &format!("unix://{}", sock.display()),
        "-H",
        &format!("tcp://127.0.0.1:{port}"),
        "--tls=false",
    ]);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(
        err.to_lowercase().contains("address already in use"),
        "{err}"
    );
    assert!(
        !sock.exists(),
        "the unix socket was created by a refused start"
    );
}

/// The unix socket is `srw-rw----` owned by root and the `docker` group (root's group when
/// there is no such group), as dockerd makes it.
#[test]
fn unix_socket_is_0660_for_the_docker_group() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let d = common::Daemon::start();
    let path = d.host().trim_start_matches("unix://").to_string();
    let meta = std::fs::metadata(&path).expect("socket metadata");
    assert!(meta.file_type().is_socket(), "{path} is not a socket");
    assert_eq!(meta.mode() & 0o7777, 0o660, "mode {:o}", meta.mode());
    assert_eq!(meta.uid(), 0);
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let docker_gid = group
        .lines()
        .find_map(|l| {
            let fields: Vec<&str> = l.split(':').collect();
            (fields.first() == Some(&"docker"))
                .then(|| fields.get(2).and_then(|g| g.parse::<u32>().ok()))
                .flatten()
        })
        .unwrap_or(0);
    assert_eq!(meta.gid(), docker_gid);
}

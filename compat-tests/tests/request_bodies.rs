//! Request bodies as dockerd's Go decoder reads them, sent as raw HTTP the way clients
//! write them: keys in any case fill the fields (`{"image":…,"hostconfig":{"binds":…}}`,
//! `{"detachKeys":"ctrl-p"}`), keys of maps (labels, options) stay as sent, a repeated
//! key is decoded in turn, on every endpoint that takes a JSON body.
mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::{Daemon, Fixtures};
use serde_json::{json, Value};

fn inspect(d: &Daemon, path: &str) -> Value {
    let r = d.api("GET", path, None);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

#[test]
fn a_create_body_in_lowercase_is_read_whole() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    let shared = tempfile::tempdir().expect("tempdir");
    std::fs::write(shared.path().join("f"), "from the host\n").expect("write");
    let body = json!({
        "image": busybox,
        "cmd": ["cat", "/hosttmp/f"],
        "workingdir": "/hosttmp",
        "labels": {"Mixed.Case": "kept"},
        "hostconfig": {
            "binds": [format!("{}:/hosttmp", shared.path().display())],
            "restartpolicy": {"name": "on-failure", "maximumretrycount": 2},
        },
    })
    .to_string();
    let r = d.api("POST", "/containers/create?name=lower", Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    let c = inspect(&d, "/containers/lower/json");
    assert_eq!(c["Config"]["Cmd"], json!(["cat", "/hosttmp/f"]));
    assert_eq!(c["Config"]["WorkingDir"], "/hosttmp");
    assert_eq!(c["Config"]["Labels"]["Mixed.Case"], "kept");
    assert!(c["Config"]["Labels"].get("mixed.case").is_none());
    assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(c["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 2);
    assert_eq!(
        d.docker_ok(&["start", "-a", "lower"]),
        "from the host\n",
        "the bind given as hostconfig.binds is mounted"
    );

    // A key given twice: decoded in turn, the last wins; objects merge as Go's do.
    let body = json!({"Image": busybox, "Cmd": ["echo", "first"]}).to_string();
    let body = format!(
        "{},\"cmd\":[\"echo\",\"second\"],\"HostConfig\":{{\"Memory\":67108864}},\"hostConfig\":{{\"CpuShares\":512}}}}",
        body.trim_end_matches('}')
    );
    let r = d.api("POST", "/containers/create?name=twice", Some(&body));
    assert_eq!(r.status, 201, "{body}: {}", r.text());
    let c = inspect(&d, "/containers/twice/json");
    assert_eq!(c["Config"]["Cmd"], json!(["echo", "second"]));
    assert_eq!(c["HostConfig"]["Memory"], 67_108_864);
    assert_eq!(c["HostConfig"]["CpuShares"], 512);

    // Cmd, Entrypoint, Shell, CapAdd, CapDrop are dockerd's StrSlice: a string is a list.
    let body = json!({"image": busybox, "cmd": "true", "hostconfig": {"capadd": "NET_ADMIN"}});
    let r = d.api(
        "POST",
        "/containers/create?name=strslice",
        Some(&body.to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let c = inspect(&d, "/containers/strslice/json");
    assert_eq!(c["Config"]["Cmd"], json!(["true"]));
    assert_eq!(c["HostConfig"]["CapAdd"], json!(["NET_ADMIN"]));

    // The update body too.
    let r = d.api(
        "POST",
        "/containers/twice/update",
        Some(r#"{"cpushares":256,"restartpolicy":{"name":"always"}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let c = inspect(&d, "/containers/twice/json");
    assert_eq!(c["HostConfig"]["CpuShares"], 256);
    assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "always");
}

/// Reads from `s` until `want` shows up or `limit` passes; what was read.
fn read_until(s: &mut UnixStream, want: &[u8], limit: Duration) -> Vec<u8> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !seen.windows(want.len()).any(|w| w == want) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    seen
}

#[test]
fn exec_detach_keys_sent_in_camel_case_detach_the_client() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["run", "-d", "--name", "box", &busybox, "sleep", "300"]);
    let r = d.api(
        "POST",
        "/containers/box/exec",
        Some(r#"{"attachStdin":true,"attachStdout":true,"attachStderr":true,"tty":true,"cmd":["cat"],"detachKeys":"ctrl-p"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let exec_id = r.json()["Id"].as_str().expect("exec id").to_string();

    let mut s = UnixStream::connect(&d.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let body = r#"{"Detach":false,"Tty":true}"#;
    let head = format!(
        "POST /exec/{exec_id}/start HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("start request");
    let answer = read_until(&mut s, b"\r\n\r\n", Duration::from_secs(10));
    assert!(
        answer.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    s.write_all(b"hello\n").expect("typing");
    let echoed = read_until(&mut s, b"hello", Duration::from_secs(10));
    assert!(
        echoed.windows(5).any(|w| w == b"hello"),
        "{}",
        String::from_utf8_lossy(&echoed)
    );
    // ctrl-p alone: the keys given at create, not dockerd's default ctrl-p,ctrl-q.
    s.write_all(&[0x10]).expect("detach key");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 1024];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break true,
        }
        if Instant::now() > deadline {
            break false;
        }
    };
    assert!(closed, "ctrl-p did not detach the exec's client");
    // Detached, not ended: cat still runs.
    let exec = inspect(&d, &format!("/exec/{exec_id}/json"));
    assert_eq!(exec["Running"], true, "{exec}");
}

#[test]
fn network_volume_and_connect_bodies_in_other_cases() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    let r = d.api(
        "POST",
        "/networks/create",
        Some(
            r#"{"name":"lowernet","internal":true,"attachable":true,"labels":{"Mixed.Case":"x"}}"#,
        ),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let net = inspect(&d, "/networks/lowernet");
    assert_eq!(net["Internal"], true);
    assert_eq!(net["Attachable"], true);
    assert_eq!(net["Labels"], json!({"Mixed.Case": "x"}));

    let r = d.api(
        "POST",
        "/volumes/create",
        Some(r#"{"NAME":"lowervol","driver":"local","labels":{"Mixed.Case":"y"}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let vol = inspect(&d, "/volumes/lowervol");
    assert_eq!(vol["Labels"], json!({"Mixed.Case": "y"}));

    d.docker_ok(&["create", "--name", "joiner", &busybox, "true"]);
    let r = d.api(
        "POST",
        "/networks/lowernet/connect",
        Some(r#"{"container":"joiner","endpointconfig":{"aliases":["web1"]}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let c = inspect(&d, "/containers/joiner/json");
    assert_eq!(
        c["NetworkSettings"]["Networks"]["lowernet"]["Aliases"],
        json!(["web1"]),
        "{}",
        c["NetworkSettings"]
    );
    let r = d.api(
        "POST",
        "/networks/lowernet/disconnect",
        Some(r#"{"CONTAINER":"joiner","force":false}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let c = inspect(&d, "/containers/joiner/json");
    assert!(c["NetworkSettings"]["Networks"].get("lowernet").is_none());
    d.docker_ok(&["rm", "joiner"]);
    d.docker_ok(&["network", "rm", "lowernet"]);
}

#[test]
fn auth_and_commit_bodies_in_other_cases() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    // Go's AuthConfig has lowercase tags; "Username" fills them as well.
    let body = json!({
        "Username": f.username,
        "PASSWORD": f.password,
        "ServerAddress": f.auth_registry,
    })
    .to_string();
    let r = d.api("POST", "/auth", Some(&body));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["Status"], "Login Succeeded");

    d.docker_ok(&["create", "--name", "src", &busybox, "true"]);
    let r = d.api(
        "POST",
        "/commit?container=src&repo=lowercommit&tag=v1",
        Some(r#"{"cmd":["echo","committed"],"env":["A=1"],"labels":{"Mixed.Case":"z"}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let image = inspect(&d, "/images/lowercommit:v1/json");
    assert_eq!(image["Config"]["Cmd"], json!(["echo", "committed"]));
    assert_eq!(image["Config"]["Env"][0], "A=1", "{}", image["Config"]);
    assert_eq!(image["Config"]["Labels"]["Mixed.Case"], "z");
}

#[test]
fn unknown_words_in_a_create_body_get_dockerd_messages() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    for (host_config, status, message) in [
        (
            json!({"RestartPolicy": {"Name": "bogus"}}),
            400,
            "invalid restart policy 'bogus'",
        ),
        (
            json!({"cgroupnsmode": "bogus"}),
            400,
            "invalid cgroup namespace mode: bogus",
        ),
        (
            json!({"Mounts": [{"Type": "bogus", "Target": "/x"}]}),
            400,
            "invalid mount config for type \"bogus\": mount type unknown",
        ),
        (
            json!({"Isolation": "hyperv"}),
            500,
            "Invalid isolation: \"hyperv\" - linux only supports 'default'",
        ),
    ] {
        let body = json!({"Image": busybox, "HostConfig": host_config}).to_string();
        let r = d.api("POST", "/containers/create", Some(&body));
        assert_eq!(
            (r.status, r.json()["message"].as_str().unwrap_or("")),
            (status, message),
            "{body}"
        );
    }
}

//! `--mount` options newer clients use, through the stock docker CLI and the raw API:
//! a volume's subfolder (`volume-subpath`, API 1.45). The host's mount table must show
//! nothing of them once the containers are gone. Images come from the fixture registry
//! (scripts/test.sh).
mod common;

use std::process::Command;

use common::{Daemon, Fixtures};
use serde_json::Value;

/// `curl` on the daemon's socket: (status, parsed body or Null).
fn api(d: &Daemon, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(&d.socket)
        .args(["-X", method, &format!("http://localhost{path}")]);
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "-d", b]);
    }
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// Mounts of the host whose mount point lies under this daemon's exec root.
fn host_mounts_under_exec_root(d: &Daemon) -> Vec<String> {
    let exec = d.dir.path().join("exec").join("mounts");
    let exec = exec.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|p| p.starts_with(&exec)))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_volume_subfolder_is_mounted_by_handle_with_dockerds_errors() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["volume", "create", "data"]);
    // docker-py's test_create_with_subpath_volume_mount, then symlinks inside the volume:
    // one that stays inside, three that lead out.
    d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "data:/vol",
        &image,
        "sh",
        "-c",
        "mkdir -p /vol/subdir /vol/empty && echo 'test content' > /vol/subdir/testfile.txt && \
         ln -s subdir /vol/link && ln -s ../.. /vol/up && ln -s /etc /vol/abs && \
         ln -s subdir/../.. /vol/sneaky",
    ]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=data,dst=/m,readonly,volume-subpath=subdir",
        &image,
        "sh",
        "-c",
        "cat /m/testfile.txt; ls /m; touch /m/new 2>/dev/null && echo writable || echo read-only",
    ]);
    assert_eq!(out, "test content\ntestfile.txt\nread-only\n");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=data,dst=/m,volume-subpath=link",
        &image,
        "sh",
        "-c",
        "cat /m/testfile.txt && echo more > /m/more",
    ]);
    assert_eq!(out, "test content\n");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "data:/vol",
        &image,
        "cat",
        "/vol/subdir/more",
    ]);
    assert_eq!(out, "more\n");

    // A file as the subpath.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=data,dst=/f.txt,volume-subpath=subdir/testfile.txt",
        &image,
        "cat",
        "/f.txt",
    ]);
    assert_eq!(out, "test content\n");

    // At create, the image's content at the destination is copied into an empty
    // subfolder, as into an empty volume.
    d.docker_ok(&[
        "create",
        "--mount",
        "type=volume,src=data,dst=/etc,volume-subpath=empty",
        &image,
    ]);
    let out = d.docker_ok(&["run", "--rm", "-v", "data:/vol", &image, "ls", "/vol/empty"]);
    assert!(common::lines(&out).contains(&"passwd".to_string()), "{out}");

    // `docker cp` sees the subfolder too, of a stopped container.
    d.docker_ok(&[
        "create",
        "--name",
        "cp",
        "--mount",
        "type=volume,src=data,dst=/m,volume-subpath=subdir",
        &image,
        "true",
    ]);
    let out = d.docker_ok(&["cp", "cp:/m/testfile.txt", "-"]);
    assert!(out.contains("test content"), "{out}");

    // Missing: dockerd's 404 at start, naming the volume's path.
    let data = common::inspect_json(&d, &["volume", "inspect"], "data")["Mountpoint"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let err = d.docker_err(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=data,dst=/m,volume-subpath=nope/deeper",
        &image,
        "true",
    ]);
    assert!(
        err.contains(&format!(
            "cannot access path {data}/nope/deeper: lstat {data}/nope: no such file or directory"
        )),
        "{err}"
    );
    // Leading out, by symlink: a 400 at start, and nothing of the host is mounted.
    for out_of_volume in ["up", "abs", "sneaky"] {
        let body = format!(
            r#"{{"Image":"{image}","Cmd":["true"],"HostConfig":{{"Mounts":[{{"Type":"volume","Source":"data","Target":"/m","VolumeOptions":{{"Subpath":"{out_of_volume}"}}}}]}}}}"#
        );
        let (status, created) = api(&d, "POST", "/v1.53/containers/create", Some(&body));
        assert_eq!(status, 201, "{created}");
        let id = created["Id"].as_str().unwrap_or_default().to_string();
        let (status, err) = api(&d, "POST", &format!("/containers/{id}/start"), None);
        assert_eq!(status, 400, "{out_of_volume}: {err}");
        assert_eq!(
            err["message"],
            format!(
                "path concatenation escapes the base directory, base: {data}, subpath: {out_of_volume}"
            )
        );
        let state = common::inspect_json(&d, &["inspect"], &id)["State"].clone();
        assert_eq!(state["Status"], "created", "{state}");
        assert_eq!(state["ExitCode"], 128, "{state}");
    }
    let (status, _) = api(
        &d,
        "POST",
        "/containers/create",
        Some(&format!(
            r#"{{"Image":"{image}","HostConfig":{{"Mounts":[{{"Type":"volume","Source":"data","Target":"/m","VolumeOptions":{{"Subpath":"nope"}}}}]}}}}"#
        )),
    );
    assert_eq!(status, 201);

    // Refused at create: a subpath that is not relative, or of an anonymous volume, or
    // from a client older than API 1.45.
    let err = d.docker_err(&[
        "create",
        "--mount",
        "type=volume,src=data,dst=/m,volume-subpath=../x",
        &image,
    ]);
    assert!(
        err.contains(
            "invalid mount config for type \"volume\": subpath must be a relative path within the volume"
        ),
        "{err}"
    );
    let err = d.docker_err(&[
        "create",
        "--mount",
        "type=volume,dst=/m,volume-subpath=x",
        &image,
    ]);
    assert!(
        err.contains("must not set Subpath when using anonymous volumes"),
        "{err}"
    );
    let old = format!(
        r#"{{"Image":"{image}","HostConfig":{{"Mounts":[{{"Type":"volume","Source":"data","Target":"/m","VolumeOptions":{{"Subpath":"subdir"}}}}]}}}}"#
    );
    let (status, err) = api(&d, "POST", "/v1.44/containers/create", Some(&old));
    assert_eq!(status, 400, "{err}");
    assert_eq!(
        err["message"],
        "VolumeOptions.Subpath needs API v1.45 or newer"
    );

    // Nothing pinned is left on the host.
    assert_eq!(host_mounts_under_exec_root(&d), Vec::<String>::new());
}

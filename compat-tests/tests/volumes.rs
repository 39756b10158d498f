//! Volumes with the stock docker CLI and the API: named volumes shared between containers,
//! `docker volume create/ls/inspect/rm/prune` with filters and dockerd's errors, volume
//! events, the API's shapes and statuses, volume users across a daemon restart. Mounts
//! themselves are in `volumes_mounts.rs`. Images come from the fixture registry
//! (scripts/test.sh).
mod common;

use common::{lines, mount_at, mounts, unix_now};

use common::{api, eventually, inspect_json, Daemon, Fixtures};
use serde_json::Value;

#[test]
fn named_volume_is_shared_listed_inspected_and_protected_while_used() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let since = unix_now();
    let out = d.docker_ok(&["volume", "create", "--label", "env=test", "data1"]);
    assert_eq!(out.trim(), "data1");
    d.docker_ok(&["volume", "create", "other2"]);
    d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "data1:/data",
        &image,
        "sh",
        "-c",
        "echo hello > /data/f",
    ]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "data1:/data:ro",
        &image,
        "cat",
        "/data/f",
    ]);
    assert_eq!(out.trim(), "hello");

    let v = inspect_json(&d, &["volume", "inspect"], "data1");
    assert_eq!(v["Name"], "data1");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Labels"]["env"], "test");
    let mountpoint = v["Mountpoint"].as_str().unwrap_or("").to_string();
    assert!(mountpoint.ends_with("/volumes/data1/_data"), "{v}");
    assert_eq!(
        std::fs::read_to_string(format!("{mountpoint}/f")).unwrap_or_default(),
        "hello\n"
    );
    let created = v["CreatedAt"].as_str().unwrap_or("");
    assert!(chrono::DateTime::parse_from_rfc3339(created).is_ok(), "{v}");

    let ls = |filter: &str| lines(&d.docker_ok(&["volume", "ls", "-q", "--filter", filter]));
    assert_eq!(ls("name=data"), vec!["data1"]);
    assert_eq!(ls("label=env=test"), vec!["data1"]);
    assert_eq!(ls("driver=local").len(), 2);
    let mut dangling = ls("dangling=true");
    dangling.sort();
    assert_eq!(dangling, vec!["data1", "other2"]);
    let err = d.docker_err(&["volume", "ls", "--filter", "foo=bar"]);
    assert!(err.contains("invalid filter 'foo'"), "{err}");

    // A stopped container that refers to the volume keeps it.
    let id = d.docker_ok(&[
        "create",
        "--name",
        "user1",
        "-v",
        "data1:/data",
        &image,
        "true",
    ]);
    let id = id.trim();
    assert_eq!(ls("dangling=false"), vec!["data1"]);
    let ps = d.docker_ok(&[
        "ps",
        "-a",
        "--filter",
        "volume=data1",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(ps.trim(), "user1");
    let ps = d.docker_ok(&[
        "ps",
        "-a",
        "--filter",
        "volume=/data",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(ps.trim(), "user1");
    let err = d.docker_err(&["volume", "rm", "data1"]);
    assert!(
        err.contains(&format!("remove data1: volume is in use - [{id}]")),
        "{err}"
    );
    let err = d.docker_err(&["volume", "rm", "-f", "data1"]);
    assert!(err.contains("volume is in use"), "{err}");
    d.docker_ok(&["rm", "user1"]);
    d.docker_ok(&["volume", "rm", "data1", "other2"]);
    let err = d.docker_err(&["volume", "inspect", "data1"]);
    assert!(err.contains("get data1: no such volume"), "{err}");
    let err = d.docker_err(&["volume", "rm", "data1"]);
    assert!(err.contains("get data1: no such volume"), "{err}");
    d.docker_ok(&["volume", "rm", "-f", "data1"]);

    let until = unix_now();
    let events = d.docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=volume",
        "--filter",
        "volume=data1",
        "--format",
        "{{.Action}}",
    ]);
    let actions = lines(&events);
    for wanted in ["create", "mount", "unmount", "destroy"] {
        assert!(
            actions.iter().any(|a| a == wanted),
            "{wanted} missing: {actions:?}"
        );
    }
}

#[test]
fn invalid_names_drivers_and_mount_specs_get_dockers_errors() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let err = d.docker_err(&["volume", "create", "a/b"]);
    assert!(
        err.contains("create a/b: \"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"),
        "{err}"
    );
    let err = d.docker_err(&["volume", "create", "../escape"]);
    assert!(err.contains("includes invalid characters"), "{err}");
    let err = d.docker_err(&["volume", "create", "x"]);
    assert!(err.contains("create x: volume name is too short"), "{err}");
    let err = d.docker_err(&["volume", "create", "-d", "foo", "vv"]);
    assert!(
        err.contains("create vv: error looking up volume plugin foo: plugin \"foo\" not found"),
        "{err}"
    );
    let err = d.docker_err(&["volume", "create", "--opt", "foo=bar", "vv"]);
    assert!(err.contains("create vv: invalid option: \"foo\""), "{err}");
    let err = d.docker_err(&["volume", "create", "--opt", "type=tmpfs", "vv"]);
    assert!(err.contains("missing required option: \"device\""), "{err}");
    assert!(lines(&d.docker_ok(&["volume", "ls", "-q"])).is_empty());

    let err = d.docker_err(&["create", "-v", "/tmp:/x", "-v", "v1:/x", &image]);
    assert!(err.contains("Duplicate mount point: /x"), "{err}");
    let err = d.docker_err(&["create", "-v", "/tmp:/x", "--tmpfs", "/x", &image]);
    assert!(err.contains("Duplicate mount point: /x"), "{err}");
    let err = d.docker_err(&["create", "-v", "/tmp:/x:foo", &image]);
    assert!(err.contains("invalid mode: foo"), "{err}");
    let err = d.docker_err(&["create", "-v", "ab:x", &image]);
    assert!(
        err.contains("invalid volume specification: 'ab:x'"),
        "{err}"
    );
    let err = d.docker_err(&[
        "create",
        "--mount",
        "type=bind,src=/nonexistent-berth-src,dst=/x",
        &image,
    ]);
    assert!(
        err.contains("invalid mount config for type \"bind\": bind source path does not exist: /nonexistent-berth-src"),
        "{err}"
    );
    let err = d.docker_err(&["create", "--volumes-from", "nope-vol", &image]);
    assert!(err.contains("No such container: nope-vol"), "{err}");
    // Nothing was left behind by the refused creates.
    assert!(lines(&d.docker_ok(&["volume", "ls", "-q"])).is_empty());
    assert!(lines(&d.docker_ok(&["ps", "-aq"])).is_empty());
}

#[test]
fn prune_takes_anonymous_volumes_unless_all() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["volume", "create", "keepme"]);
    d.docker_ok(&["create", "--name", "anon", "-v", "/scratch", &image]);
    let anon = mount_at(&mounts(&d, "anon"), "/scratch")["Name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert_eq!(anon.len(), 64);
    // In use: not pruned.
    let out = d.docker_ok(&["volume", "prune", "-f"]);
    assert!(!out.contains(&anon), "{out}");
    d.docker_ok(&["rm", "anon"]);
    let mut all = lines(&d.docker_ok(&["volume", "ls", "-q"]));
    all.sort();
    let mut expected = vec![anon.clone(), "keepme".to_string()];
    expected.sort();
    assert_eq!(all, expected);
    let out = d.docker_ok(&["volume", "prune", "-f"]);
    assert!(out.contains(&anon), "{out}");
    assert!(!out.contains("keepme"), "{out}");
    assert_eq!(lines(&d.docker_ok(&["volume", "ls", "-q"])), vec!["keepme"]);
    let out = d.docker_ok(&["volume", "prune", "-f", "--all"]);
    assert!(out.contains("keepme"), "{out}");
    assert!(lines(&d.docker_ok(&["volume", "ls", "-q"])).is_empty());
}

#[test]
fn api_shapes_and_statuses_follow_dockerd() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let (status, v) = api(
        &d,
        "POST",
        "/volumes/create",
        Some(r#"{"Name":"api1","Labels":{"a":"b"}}"#),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["Name"], "api1");
    assert_eq!(v["Labels"]["a"], "b");
    assert_eq!(v["Options"], Value::Null);
    assert_eq!(v["Scope"], "local");
    assert!(v.get("UsageData").is_none(), "{v}");
    // Creating an existing name answers the existing volume.
    let (status, again) = api(&d, "POST", "/volumes/create", Some(r#"{"Name":"api1"}"#));
    assert_eq!(status, 201);
    assert_eq!(again, v);
    let (status, anon) = api(&d, "POST", "/volumes/create", Some("{}"));
    assert_eq!(status, 201);
    let anon_name = anon["Name"].as_str().unwrap_or("").to_string();
    assert_eq!(anon_name.len(), 64, "{anon}");
    assert_eq!(anon["Labels"]["com.docker.volume.anonymous"], "");

    let (status, list) = api(&d, "GET", "/volumes", None);
    assert_eq!(status, 200);
    assert_eq!(list["Warnings"], Value::Null);
    assert_eq!(list["Volumes"].as_array().map(Vec::len), Some(2));
    let (status, err) = api(
        &d,
        "GET",
        "/volumes?filters=%7B%22dangling%22%3A%7B%22maybe%22%3Atrue%7D%7D",
        None,
    );
    assert_eq!(status, 400);
    assert_eq!(err["message"], "invalid filter 'dangling=[maybe]'");
    let (status, err) = api(&d, "PUT", "/volumes/api1?version=1", Some("{}"));
    assert_eq!(status, 503, "{err}");
    let (status, err) = api(&d, "GET", "/volumes/nope", None);
    assert_eq!(
        (status, err["message"].as_str()),
        (404, Some("get nope: no such volume"))
    );
    let (status, _) = api(&d, "DELETE", "/volumes/nope?force=1", None);
    assert_eq!(status, 204);

    d.docker_ok(&["create", "--name", "holder", "-v", "api1:/data", &image]);
    let (status, err) = api(&d, "DELETE", "/volumes/api1", None);
    assert_eq!(status, 409, "{err}");
    let (status, df) = api(&d, "GET", "/system/df?type=volume", None);
    assert_eq!(status, 200);
    let row = df["Volumes"]
        .as_array()
        .and_then(|a| a.iter().find(|v| v["Name"] == "api1"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(row["UsageData"]["RefCount"], 1, "{df}");
    assert_eq!(row["UsageData"]["Size"], 0, "{df}");
    assert!(df["Images"].is_null(), "{df}");
    // `type` came with API 1.42: an older client gets every kind, as from dockerd.
    let (status, df) = api(&d, "GET", "/v1.41/system/df?type=volume", None);
    assert_eq!(status, 200);
    assert!(
        df["Images"].is_array() && df["Containers"].is_array(),
        "{df}"
    );
    d.docker_ok(&["rm", "holder"]);

    // Before API 1.42 prune considered named volumes too.
    let (status, pruned) = api(&d, "POST", "/v1.41/volumes/prune", None);
    assert_eq!(status, 200);
    let mut deleted: Vec<String> = pruned["VolumesDeleted"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    deleted.sort();
    let mut expected = vec![anon_name, "api1".to_string()];
    expected.sort();
    assert_eq!(deleted, expected);
    let (_, pruned) = api(&d, "POST", "/volumes/prune", None);
    assert_eq!(pruned["VolumesDeleted"], Value::Null);
    assert_eq!(pruned["SpaceReclaimed"], 0);
}

#[test]
fn volume_users_survive_a_daemon_restart() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "keep-tmp",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "long",
        "-v",
        "keep-tmp:/t",
        &image,
        "sleep",
        "300",
    ]);
    let data = inspect_json(&d, &["volume", "inspect"], "keep-tmp")["Mountpoint"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .contains(&format!(" {data} "))
    };
    assert!(mounted());
    d.stop();
    d.restart_with(&[]);
    assert!(mounted(), "the running container's volume stays mounted");
    let err = d.docker_err(&["volume", "rm", "keep-tmp"]);
    assert!(err.contains("volume is in use"), "{err}");
    d.docker_ok(&["stop", "-t", "0", "long"]);
    eventually("the volume to be unmounted once its user stopped", || {
        !mounted()
    });
    d.docker_ok(&["rm", "long"]);
    d.docker_ok(&["volume", "rm", "keep-tmp"]);
}

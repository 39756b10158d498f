//! create → start → log → wait → delete; kill; log rotation; surviving the launcher.
mod common;
use common::*;
use serde_json::{json, Value};
use std::process::Command;

#[test]
fn exit_code_log_and_delete() {
    for_each_runtime("exit_code_log_and_delete", exit_code_log_and_delete_on);
}

fn exit_code_log_and_delete_on(rt: &Runtime) {
    let t = bundle(
        rt,
        "life",
        &["sh", "-c", "echo out; echo err >&2; exit 3"],
        false,
    );
    let sock = t.launch(&[]);
    assert_eq!(sock, t.sock.display().to_string());
    let st = t.ok("GET", "/state", Value::Null);
    assert_eq!(st["status"], "created");
    assert!(st["pid"].as_i64().unwrap() > 0);
    assert_eq!(st["exit_status"], Value::Null);
    let started = t.ok("POST", "/start", Value::Null);
    assert_eq!(started["pid"], st["pid"]);
    let w = t.ok("POST", "/wait", json!({ "exec_id": null }));
    assert_eq!(w["exit_status"], 3);
    let file: Value =
        serde_json::from_slice(&std::fs::read(t.state.join("exit.json")).unwrap()).unwrap();
    assert_eq!(file["exit_status"], 3);
    assert_eq!(file["exited_at"], w["exited_at"]);
    let st = t.ok("GET", "/state", Value::Null);
    assert_eq!(st["status"], "stopped");
    assert_eq!(st["exit_status"], 3);

    let lines = log_lines(&t.log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let out = lines
        .iter()
        .find(|l| l["stream"] == "stdout")
        .expect("stdout line");
    let err = lines
        .iter()
        .find(|l| l["stream"] == "stderr")
        .expect("stderr line");
    assert_eq!(out["log"], "out\n");
    assert_eq!(err["log"], "err\n");
    for l in &lines {
        let time = l["time"].as_str().unwrap();
        assert!(
            time.len() == 30 && time.ends_with('Z') && &time[10..11] == "T",
            "{time}"
        );
    }

    // A second start is a conflict; an unknown route a 404.
    assert_eq!(t.call("POST", "/start", Value::Null).0, 409);
    assert_eq!(t.call("GET", "/nope", Value::Null).0, 404);

    let pid = t.shim_pid();
    let d = t.ok("POST", "/delete", Value::Null);
    assert_eq!(d["exit_status"], 3);
    assert!(wait_gone(pid), "shim did not exit after delete");
    assert!(!t.sock.exists());
    assert!(t.state.join("exit.json").exists());
}

#[test]
fn kill_gives_137() {
    for_each_runtime("kill_gives_137", kill_gives_137_on);
}

fn kill_gives_137_on(rt: &Runtime) {
    let t = bundle(rt, "kill", &["sleep", "100"], false);
    t.launch(&[]);
    t.ok("POST", "/start", Value::Null);
    assert_eq!(t.call("POST", "/delete", Value::Null).0, 409);
    t.ok(
        "POST",
        "/kill",
        json!({ "signal": 9, "all": false, "exec_id": null }),
    );
    let w = t.ok("POST", "/wait", json!({}));
    assert_eq!(w["exit_status"], 137);
    t.ok("POST", "/delete", Value::Null);
}

#[test]
fn delete_created_container() {
    for_each_runtime("delete_created_container", delete_created_container_on);
}

fn delete_created_container_on(rt: &Runtime) {
    let t = bundle(rt, "delcreated", &["sleep", "100"], false);
    t.launch(&[]);
    let pid = t.shim_pid();
    let d = t.ok("POST", "/delete", Value::Null);
    assert_eq!(d["exit_status"], 137);
    assert!(wait_gone(pid));
}

#[test]
fn create_failure_is_reported() {
    for_each_runtime("create_failure_is_reported", create_failure_is_reported_on);
}

fn create_failure_is_reported_on(rt: &Runtime) {
    let t = bundle(rt, "fail", &["/no/such/binary"], false);
    // Break the bundle: a rootfs that does not exist.
    let cfg_path = t.bundle.join("config.json");
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["root"]["path"] = json!("missing-rootfs");
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let out = Command::new(shim())
        .args(t.start_args(&[]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!out.stderr.is_empty());
    assert!(!t.sock.exists());
}

#[test]
fn log_rotation() {
    for_each_runtime("log_rotation", log_rotation_on);
}

fn log_rotation_on(rt: &Runtime) {
    let script = "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done";
    let t = bundle(rt, "rotate", &["sh", "-c", script], false);
    t.launch(&["--log-max-size", "1000", "--log-max-file", "3"]);
    t.ok("POST", "/start", Value::Null);
    assert_eq!(t.ok("POST", "/wait", json!({}))["exit_status"], 0);
    let p1 = format!("{}.1", t.log.display());
    let p2 = format!("{}.2", t.log.display());
    let p3 = format!("{}.3", t.log.display());
    for p in [t.log.display().to_string(), p1.clone(), p2.clone()] {
        let len = std::fs::metadata(&p).unwrap().len();
        assert!(len > 0 && len <= 1000, "{p}: {len}");
    }
    assert!(!std::path::Path::new(&p3).exists());
    let last = log_lines(&t.log);
    assert_eq!(last.last().unwrap()["log"], "line 199\n");
    let older = log_lines(std::path::Path::new(&p1));
    let n_last: usize = last[0]["log"].as_str().unwrap()[5..]
        .trim()
        .parse()
        .unwrap();
    let n_older: usize = older.last().unwrap()["log"].as_str().unwrap()[5..]
        .trim()
        .parse()
        .unwrap();
    assert_eq!(n_older + 1, n_last);
    t.ok("POST", "/delete", Value::Null);
}

#[test]
fn survives_its_launchers_parent() {
    for_each_runtime(
        "survives_its_launchers_parent",
        survives_its_launchers_parent_on,
    );
}

fn survives_its_launchers_parent_on(rt: &Runtime) {
    let t = bundle(rt, "orphan", &["sleep", "100"], false);
    let args: Vec<String> = t.start_args(&[]).iter().map(|a| format!("'{a}'")).collect();
    let out_file = t.dir.path().join("out.txt");
    let script = format!("'{}' {} > '{}'", shim(), args.join(" "), out_file.display());
    let st = Command::new("sh").arg("-c").arg(&script).status().unwrap();
    assert!(st.success());
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap().trim(),
        t.sock.display().to_string()
    );
    let pid = t.shim_pid();
    let status = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = status
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // fields[3] is the session id: the shim leads its own session.
    assert_eq!(fields[3], pid.to_string());
    assert_eq!(t.ok("GET", "/state", Value::Null)["status"], "created");
    t.ok("POST", "/start", Value::Null);
    let rss = vm_rss_kib(pid);
    eprintln!("berth-shim VmRSS with a running container: {rss} KiB");
    assert!(rss > 0 && rss < 16 * 1024);
    // PID 1 of a pid namespace ignores SIGTERM without a handler: use SIGKILL.
    t.ok("POST", "/kill", json!({ "signal": 9 }));
    assert_eq!(t.ok("POST", "/wait", json!({}))["exit_status"], 137);
    t.ok("POST", "/delete", Value::Null);
    assert!(wait_gone(pid));
}

//! OOM reporting: `oom_killed` in `/wait` answers and `exit.json`.
mod common;
use common::*;
use serde_json::{json, Value};

const LIMIT: u64 = 32 * 1024 * 1024;

fn limited(rt: &Runtime, name: &str, args: &[&str]) -> Task {
    let t = bundle(rt, name, args, false);
    let cfg_path = t.bundle.join("config.json");
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    // swap = limit: no swapping past the limit where the host has swap.
    cfg["linux"]["resources"]["memory"] = json!({ "limit": LIMIT, "swap": LIMIT });
    std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    t
}

fn exit_file(t: &Task) -> Value {
    serde_json::from_slice(&std::fs::read(t.state.join("exit.json")).unwrap()).unwrap()
}

#[test]
fn oom_killed_init() {
    for_each_runtime("oom_killed_init", oom_killed_init_on);
}

fn oom_killed_init_on(rt: &Runtime) {
    // The string doubles until the 32 MiB limit: the OOM killer takes the shell.
    let t = limited(rt, "oom", &["sh", "-c", "x=a; while true; do x=$x$x; done"]);
    t.launch(&[]);
    t.ok("POST", "/start", Value::Null);
    let w = t.ok("POST", "/wait", json!({}));
    assert_eq!(w["exit_status"], 137, "{w}");
    assert_eq!(w["oom_killed"], true, "{w}");
    let file = exit_file(&t);
    assert_eq!(file["exit_status"], 137);
    assert_eq!(file["oom_killed"], true);
    assert_eq!(file["exited_at"], w["exited_at"]);
    t.ok("POST", "/delete", Value::Null);
}

#[test]
fn normal_exit_is_not_oom() {
    for_each_runtime("normal_exit_is_not_oom", normal_exit_is_not_oom_on);
}

fn normal_exit_is_not_oom_on(rt: &Runtime) {
    let t = limited(rt, "nooom", &["sh", "-c", "exit 4"]);
    t.launch(&[]);
    t.ok("POST", "/start", Value::Null);
    let w = t.ok("POST", "/wait", json!({}));
    assert_eq!(w["exit_status"], 4);
    assert_eq!(w["oom_killed"], false, "{w}");
    assert_eq!(exit_file(&t)["oom_killed"], false);
    t.ok("POST", "/delete", Value::Null);
}

#[test]
fn sigkill_is_not_oom() {
    for_each_runtime("sigkill_is_not_oom", sigkill_is_not_oom_on);
}

fn sigkill_is_not_oom_on(rt: &Runtime) {
    let t = limited(rt, "killnooom", &["sleep", "100"]);
    t.launch(&[]);
    t.ok("POST", "/start", Value::Null);
    t.ok("POST", "/kill", json!({ "signal": 9 }));
    let w = t.ok("POST", "/wait", json!({}));
    assert_eq!(w["exit_status"], 137);
    assert_eq!(w["oom_killed"], false, "{w}");
    assert_eq!(exit_file(&t)["oom_killed"], false);
    t.ok("POST", "/delete", Value::Null);
}

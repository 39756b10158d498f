//! berth-runc's own command line: spec, features, refusals, errors.
mod common;
use common::BERTH;
use std::process::Command;

#[test]
fn spec_writes_a_default_config_once() {
    let d = tempfile::tempdir().expect("tmp");
    let o = Command::new(BERTH)
        .args(["spec", "--bundle"])
        .arg(d.path())
        .output()
        .expect("spec");
    assert!(o.status.success());
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("config.json")).expect("read"))
            .expect("json");
    assert_eq!(c["root"]["path"], "rootfs");
    assert!(c["linux"]["namespaces"]
        .as_array()
        .is_some_and(|n| n.len() >= 5));
    let o = Command::new(BERTH)
        .args(["spec", "--bundle"])
        .arg(d.path())
        .output()
        .expect("spec");
    assert!(!o.status.success(), "spec must not overwrite config.json");
}

#[test]
fn features_is_json() {
    let o = Command::new(BERTH)
        .arg("features")
        .output()
        .expect("features");
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(v["ociVersionMax"].is_string());
}

#[test]
fn systemd_cgroup_is_refused_clearly() {
    let o = Command::new(BERTH)
        .args(["--systemd-cgroup", "state", "x"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--systemd-cgroup is not supported"));
}

#[test]
fn missing_container_errors() {
    let d = tempfile::tempdir().expect("tmp");
    for cmd in ["state", "start", "kill", "pause", "resume", "delete"] {
        let o = Command::new(BERTH)
            .arg("--root")
            .arg(d.path())
            .args([cmd, "nope"])
            .output()
            .expect("run");
        assert!(!o.status.success(), "{cmd}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("does not exist"),
            "{cmd}"
        );
    }
    let o = Command::new(BERTH)
        .arg("--root")
        .arg(d.path())
        .args(["delete", "--force", "nope"])
        .output()
        .expect("run");
    assert!(
        o.status.success(),
        "delete --force of a missing container succeeds, as with runc"
    );
    let o = Command::new(BERTH)
        .arg("--root")
        .arg(d.path())
        .args(["list"])
        .output()
        .expect("list");
    assert!(o.status.success());
}

//! berth-containerd restarts (SIGKILL and SIGTERM) with the fake shim: live shims are
//! adopted, exits that happened meanwhile are found with their codes.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test]
async fn sigkill_restart_adopts_live_shims_and_finds_exits() {
    let mut d = Daemon::start_fake().await;
    let live = fake_bundle(&d, "live", json!({}));
    let soon = fake_bundle(&d, "soon", json!({"exit_after_ms": 300, "exit_code": 7}));
    for (id, b) in [
        ("live", &live),
        ("soon", &soon),
        ("lost", &live),
        ("idle", &live),
    ] {
        assert_eq!(
            d.call("POST", "/tasks", Some(create_body(id, b))).await.0,
            201,
            "{id}"
        );
    }
    for id in ["live", "soon", "lost"] {
        assert_eq!(
            d.call("POST", &format!("/tasks/{id}/start"), None).await.0,
            200,
            "{id}"
        );
    }

    d.sigkill();
    assert!(
        d.socket().exists(),
        "a SIGKILL leaves the socket file behind"
    );
    // while it is down: "soon" exits by itself; the shim of "lost" dies without an exit file
    let pid = std::fs::read_to_string(d.task_dir("lost").join("shim.pid")).unwrap();
    signal(pid.trim().parse().unwrap(), "KILL");
    // until "soon" has written its exit.json and "lost" no longer answers
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let exited = d.task_dir("soon").join("exit.json").exists();
        let lost_gone = tokio::net::UnixStream::connect(d.task_dir("lost").join("shim.sock"))
            .await
            .is_err();
        if exited && lost_gone {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "soon exited: {exited}, lost gone: {lost_gone}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    d.spawn().await;
    let mut ev = d.events().await;
    let (_, v) = d.call("GET", "/tasks/live", None).await;
    assert_eq!(v["status"], "running", "{v}");
    assert_eq!(
        d.call("GET", "/tasks/idle", None).await.1["status"],
        "created"
    );
    let (_, v) = d.call("GET", "/tasks/soon", None).await;
    assert_eq!(
        (v["status"].as_str(), v["exit_status"].as_u64()),
        (Some("stopped"), Some(7)),
        "{v}"
    );
    let (_, v) = d.call("GET", "/tasks/lost", None).await;
    assert_eq!(
        (v["status"].as_str(), v["exit_status"].as_u64()),
        (Some("stopped"), Some(255)),
        "{v}"
    );
    assert_eq!(
        d.call("GET", "/tasks", None)
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // the adopted task's waiter was restarted: its exit is seen
    assert_eq!(
        d.call("POST", "/tasks/live/kill", Some(json!({"signal": 15})))
            .await
            .0,
        200
    );
    let e = next_event(&mut ev, "exit", "live").await;
    assert_eq!(e["exit_status"], 143);
    assert_eq!(
        d.call("POST", "/tasks/live/wait", None).await.1["exit_status"],
        143
    );

    // the exited and the lost tasks are cleaned on delete
    for (id, code) in [("soon", 7), ("lost", 255), ("live", 143), ("idle", 137)] {
        let (st, v) = d.call("DELETE", &format!("/tasks/{id}"), None).await;
        assert_eq!(
            (st, v["exit_status"].as_u64()),
            (200, Some(code)),
            "{id}: {v}"
        );
        assert!(!d.task_dir(id).exists(), "{id}");
    }
}

#[tokio::test]
async fn sigterm_is_clean_and_tasks_keep_running() {
    let mut d = Daemon::start_fake().await;
    let b = fake_bundle(&d, "t", json!({}));
    assert_eq!(
        d.call("POST", "/tasks", Some(create_body("t", &b))).await.0,
        201
    );
    assert_eq!(d.call("POST", "/tasks/t/start", None).await.0, 200);
    let status = d.sigterm();
    assert!(status.success(), "{status}");
    assert!(!d.socket().exists(), "socket removed on clean shutdown");
    // the shim still answers
    let (st, v) = call(&d.task_dir("t").join("shim.sock"), "GET", "/state", None).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("running")));
    d.spawn().await;
    assert_eq!(d.call("GET", "/tasks/t", None).await.1["status"], "running");
}

//! The local API end to end, with the fake shim.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn create_start_kill_wait_delete_with_events() {
    let d = Daemon::start_fake().await;
    let mut ev = d.events().await;
    let bundle = fake_bundle(&d, "a", json!({}));

    let (st, v) = d
        .call("POST", "/tasks", Some(create_body("a", &bundle)))
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["id"], "a");
    assert!(v["pid"].as_u64().unwrap() > 0);
    assert!(d.task_dir("a").join("task.json").exists());

    let (st, v) = d.call("GET", "/tasks/a", None).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("created")));
    assert_eq!(v["bundle"], bundle.as_str());
    assert_eq!(v["runtime"], "berth-runc");
    assert!(v["attach_socket"]
        .as_str()
        .unwrap()
        .ends_with("/tasks/a/attach.sock"));
    assert!(v["exit_status"].is_null());

    let (st, v) = d.call("POST", "/tasks/a/start", None).await;
    assert_eq!(st, 200, "{v}");
    let pid = v["pid"].as_u64().unwrap();
    let e = next_event(&mut ev, "start", "a").await;
    assert_eq!(e["pid"].as_u64(), Some(pid));
    assert_eq!(d.call("GET", "/tasks/a", None).await.1["status"], "running");

    // delete while running is a conflict; so is a second start
    assert_eq!(d.call("DELETE", "/tasks/a", None).await.0, 409);
    assert_eq!(d.call("POST", "/tasks/a/start", None).await.0, 409);

    // a waiter started before the exit sees it
    let sock = d.socket();
    let waiter = tokio::spawn(async move {
        call(
            &sock,
            "POST",
            "/tasks/a/wait",
            Some(json!({"exec_id": null})),
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let (st, _) = d
        .call(
            "POST",
            "/tasks/a/kill",
            Some(json!({"signal": 9, "all": false, "exec_id": null})),
        )
        .await;
    assert_eq!(st, 200);
    let (st, w) = waiter.await.unwrap();
    assert_eq!((st, w["exit_status"].as_u64()), (200, Some(137)));
    assert!(w["exited_at"].as_str().unwrap().ends_with('Z'));
    let e = next_event(&mut ev, "exit", "a").await;
    assert_eq!(e["exit_status"], 137);

    let (_, v) = d.call("GET", "/tasks/a", None).await;
    assert_eq!(
        (v["status"].as_str(), v["exit_status"].as_u64()),
        (Some("stopped"), Some(137))
    );
    // a wait after the exit answers at once
    assert_eq!(
        d.call("POST", "/tasks/a/wait", None).await.1["exit_status"],
        137
    );
    // killing a stopped task is a conflict
    assert_eq!(
        d.call("POST", "/tasks/a/kill", Some(json!({"signal": 15})))
            .await
            .0,
        409
    );

    let (st, v) = d.call("DELETE", "/tasks/a", None).await;
    assert_eq!((st, v["exit_status"].as_u64()), (200, Some(137)));
    let e = next_event(&mut ev, "delete", "a").await;
    assert_eq!(e["exit_status"], 137);
    assert_eq!(d.call("GET", "/tasks/a", None).await.0, 404);
    assert!(!d.task_dir("a").exists());
    assert_eq!(d.call("GET", "/tasks", None).await.1, json!([]));
}

#[tokio::test]
async fn errors_and_pause_resume() {
    let d = Daemon::start_fake().await;
    let mut ev = d.events().await;
    assert_eq!(d.call("POST", "/tasks/nope/start", None).await.0, 404);
    assert_eq!(d.call("GET", "/tasks/nope", None).await.0, 404);
    assert_eq!(d.call("DELETE", "/tasks/nope", None).await.0, 404);
    assert_eq!(
        d.call("POST", "/tasks", Some(json!({"id": 1}))).await.0,
        400
    );
    assert_eq!(
        d.call("POST", "/tasks", Some(create_body("../x", "/tmp")))
            .await
            .0,
        400
    );
    assert_eq!(
        d.call("POST", "/tasks", Some(create_body("x", "relative")))
            .await
            .0,
        400
    );

    // the runtime's failure comes back as a 500 with its message, nothing left behind
    let bad = fake_bundle(&d, "bad", json!({"fail_create": true}));
    let (st, v) = d
        .call("POST", "/tasks", Some(create_body("bad", &bad)))
        .await;
    assert_eq!(st, 500);
    assert!(
        v["message"].as_str().unwrap().contains("create failed"),
        "{v}"
    );
    assert!(!d.task_dir("bad").exists());

    let b = fake_bundle(&d, "p", json!({}));
    assert_eq!(
        d.call("POST", "/tasks", Some(create_body("p", &b))).await.0,
        201
    );
    assert_eq!(
        d.call("POST", "/tasks", Some(create_body("p", &b))).await.0,
        409
    );
    assert_eq!(d.call("POST", "/tasks/p/pause", None).await.0, 409);
    assert_eq!(d.call("POST", "/tasks/p/start", None).await.0, 200);
    assert_eq!(d.call("POST", "/tasks/p/resume", None).await.0, 409);
    assert_eq!(d.call("POST", "/tasks/p/pause", None).await.0, 200);
    next_event(&mut ev, "paused", "p").await;
    assert_eq!(d.call("GET", "/tasks/p", None).await.1["status"], "paused");
    assert_eq!(d.call("DELETE", "/tasks/p", None).await.0, 409);
    assert_eq!(d.call("POST", "/tasks/p/resume", None).await.0, 200);
    next_event(&mut ev, "resumed", "p").await;
    let (st, _) = d
        .call(
            "POST",
            "/tasks/p/resize",
            Some(json!({"width": 80, "height": 24, "exec_id": null})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        d.call(
            "POST",
            "/tasks/p/close-stdin",
            Some(json!({"exec_id": null}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        d.call("POST", "/tasks/p/kill", Some(json!({"signal": 0})))
            .await
            .0,
        400
    );

    // a created task can be deleted
    assert_eq!(
        d.call("POST", "/tasks", Some(create_body("c", &b))).await.0,
        201
    );
    let (st, v) = d.call("DELETE", "/tasks/c", None).await;
    assert_eq!((st, v["exit_status"].as_u64()), (200, Some(137)));
    let list = d.call("GET", "/tasks", None).await.1;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], "p");
}

#[tokio::test]
async fn exec_start_wait_and_events() {
    let d = Daemon::start_fake().await;
    let mut ev = d.events().await;
    let b = fake_bundle(&d, "e", json!({}));
    assert_eq!(
        d.call("POST", "/tasks", Some(create_body("e", &b))).await.0,
        201
    );
    assert_eq!(d.call("POST", "/tasks/e/start", None).await.0, 200);
    let process = json!({"args": ["true"], "cwd": "/", "env": []});
    let body = json!({"exec_id": "x1", "process": process, "terminal": false, "stdin": false});
    assert_eq!(d.call("POST", "/tasks/e/exec", Some(body)).await.0, 200);
    let (st, v) = d.call("POST", "/tasks/e/exec/x1/start", None).await;
    assert_eq!(st, 200, "{v}");
    let e = next_event(&mut ev, "exec-start", "e").await;
    assert_eq!(e["exec_id"], "x1");
    let (st, w) = d
        .call("POST", "/tasks/e/wait", Some(json!({"exec_id": "x1"})))
        .await;
    assert_eq!((st, w["exit_status"].as_u64()), (200, Some(0)));
    let e = next_event(&mut ev, "exec-exit", "e").await;
    assert_eq!(
        (e["exec_id"].as_str(), e["exit_status"].as_u64()),
        (Some("x1"), Some(0))
    );
    let (st, s) = d.call("GET", "/tasks/e/exec/x1", None).await;
    assert_eq!((st, s["status"].as_str()), (200, Some("stopped")));
    assert_eq!(d.call("GET", "/tasks/e/exec/nope", None).await.0, 404);
    // the task itself is still running
    assert_eq!(d.call("GET", "/tasks/e", None).await.1["status"], "running");
}

#[tokio::test]
async fn task_exiting_by_itself_is_reported() {
    let d = Daemon::start_fake().await;
    let mut ev = d.events().await;
    let b = fake_bundle(&d, "s", json!({"exit_after_ms": 100, "exit_code": 3}));
    assert_eq!(
        d.call("POST", "/tasks", Some(create_body("s", &b))).await.0,
        201
    );
    assert_eq!(d.call("POST", "/tasks/s/start", None).await.0, 200);
    let e = next_event(&mut ev, "exit", "s").await;
    assert_eq!(e["exit_status"], 3);
    let (_, v) = d.call("GET", "/tasks/s", None).await;
    assert_eq!(
        (v["status"].as_str(), v["exit_status"].as_u64()),
        (Some("stopped"), Some(3))
    );
}

#[tokio::test]
async fn oom_kill_reported_before_exit() {
    let d = Daemon::start_fake().await;
    let mut ev = d.events().await;
    let b = fake_bundle(
        &d,
        "o",
        json!({"exit_after_ms": 50, "exit_code": 137, "oom": true}),
    );
    assert_eq!(
        d.call("POST", "/tasks", Some(create_body("o", &b))).await.0,
        201
    );
    assert_eq!(d.call("POST", "/tasks/o/start", None).await.0, 200);
    next_event(&mut ev, "oom", "o").await;
    let e = next_event(&mut ev, "exit", "o").await;
    assert_eq!(e["exit_status"], 137);
    let w = d.call("POST", "/tasks/o/wait", None).await.1;
    assert_eq!(w["oom_killed"], true);
}

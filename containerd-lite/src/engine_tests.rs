//! Unit tests of the engine and of recovery with the in-process fake shim.

use std::sync::Arc;

use crate::config::{Cli, Config};
use crate::engine::Engine;
use crate::events::EventKind;
use crate::model::{CreateTaskRequest, KillRequest};
use crate::recovery::{recover, Found};
use crate::tasks::Status;
use crate::testing::FakeLauncher;
use clap::Parser;

fn engine(dir: &std::path::Path, launcher: FakeLauncher) -> Arc<Engine> {
    let cli = Cli::parse_from(["x", "--state", dir.to_str().unwrap()]);
    Engine::new(Config::from_cli(&cli).unwrap(), Arc::new(launcher))
}

fn req(id: &str) -> CreateTaskRequest {
    CreateTaskRequest {
        id: id.into(),
        bundle: "/b".into(),
        runtime: None,
        terminal: false,
        stdin: false,
        log: None,
    }
}

#[tokio::test]
async fn lifecycle_through_the_trait() {
    let tmp = tempfile::tempdir().unwrap();
    let launcher = FakeLauncher {
        live: true,
        ..Default::default()
    };
    let shim = launcher.shim.clone();
    let e = engine(tmp.path(), launcher);
    let mut ev = e.events.subscribe();
    assert_eq!(e.create(req("a")).await.unwrap().pid, 42);
    assert_eq!(e.state.load("a").unwrap().runtime, "berth-runc");
    assert_eq!(e.start("a").await.unwrap(), 42);
    assert_eq!(ev.recv().await.unwrap().kind, EventKind::Start);
    assert_eq!(e.delete("a").await.unwrap_err().status(), 409);
    e.kill(
        "a",
        KillRequest {
            signal: 9,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(e.wait("a", None).await.unwrap().exit_status, 137);
    let exit = ev.recv().await.unwrap();
    assert_eq!((exit.kind, exit.exit_status), (EventKind::Exit, Some(137)));
    assert_eq!(e.get("a").unwrap().status, Status::Stopped);
    assert_eq!(e.delete("a").await.unwrap().exit_status, 137);
    assert!(!e.state.task_dir("a").exists());
    let calls = shim.calls.lock().unwrap().clone();
    assert!(
        calls.contains(&"delete".to_string()) && calls.contains(&"wait".to_string()),
        "{calls:?}"
    );
}

#[tokio::test]
async fn failed_create_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(
        tmp.path(),
        FakeLauncher {
            fail: true,
            ..Default::default()
        },
    );
    let err = e.create(req("a")).await.unwrap_err();
    assert_eq!(err.status(), 500);
    assert!(!e.state.task_dir("a").exists());
    assert!(e.list().is_empty());
    // the id is free again
    assert_eq!(e.create(req("a")).await.unwrap_err().status(), 500);
}

#[tokio::test]
async fn recovery_without_shim_or_exit_file_is_255_and_deletable() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let e = engine(
            tmp.path(),
            FakeLauncher {
                live: true,
                ..Default::default()
            },
        );
        e.create(req("lost")).await.unwrap();
        e.create(req("done")).await.unwrap();
    }
    std::fs::write(
        tmp.path().join("tasks/done/exit.json"),
        br#"{"exit_status": 5, "exited_at": "2026-01-01T00:00:00.000000000Z"}"#,
    )
    .unwrap();
    std::fs::create_dir_all(tmp.path().join("tasks/empty")).unwrap();
    std::fs::create_dir_all(tmp.path().join("tasks/junk")).unwrap();
    std::fs::write(tmp.path().join("tasks/junk/something"), b"x").unwrap();
    let launcher = FakeLauncher::default();
    let calls = launcher.shim.clone();
    let e = engine(tmp.path(), launcher);
    let found = recover(&e).await;
    assert_eq!(
        found,
        vec![
            ("done".to_string(), Found::ExitedMeanwhile(5)),
            ("lost".to_string(), Found::Lost)
        ]
    );
    assert!(!tmp.path().join("tasks/empty").exists());
    assert!(tmp.path().join("tasks/junk").exists());
    assert_eq!(e.get("lost").unwrap().exit_status, Some(255));
    assert_eq!(
        e.get("done").unwrap().exited_at.as_deref(),
        Some("2026-01-01T00:00:00.000000000Z")
    );
    assert_eq!(e.wait("done", None).await.unwrap().exit_status, 5);
    assert_eq!(e.start("lost").await.unwrap_err().status(), 409);
    assert_eq!(e.delete("lost").await.unwrap().exit_status, 255);
    // Its shim is gone: the runtime deletes what is left of the container.
    assert!(
        calls
            .calls
            .lock()
            .unwrap()
            .contains(&"runtime-delete lost".to_string()),
        "{:?}",
        calls.calls.lock().unwrap()
    );
    assert!(!e.state.task_dir("lost").exists());
}

#[tokio::test]
async fn recovery_adopts_a_live_shim_and_restarts_its_waiter() {
    let tmp = tempfile::tempdir().unwrap();
    let launcher = FakeLauncher {
        live: true,
        ..Default::default()
    };
    let shim = launcher.shim.clone();
    {
        let e = engine(
            tmp.path(),
            FakeLauncher {
                live: true,
                shim: shim.clone(),
                fail: false,
            },
        );
        e.create(req("a")).await.unwrap();
        e.start("a").await.unwrap();
    }
    let e = engine(tmp.path(), launcher);
    assert_eq!(
        recover(&e).await,
        vec![("a".to_string(), Found::Adopted(Status::Running))]
    );
    let mut ev = e.events.subscribe();
    shim.exit_with(3);
    let exit = ev.recv().await.unwrap();
    assert_eq!((exit.kind, exit.exit_status), (EventKind::Exit, Some(3)));
    assert_eq!(e.get("a").unwrap().status, Status::Stopped);
}

#[tokio::test]
async fn start_event_comes_before_an_immediate_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let launcher = FakeLauncher {
        live: true,
        ..Default::default()
    };
    let shim = launcher.shim.clone();
    let (release, gate) = tokio::sync::oneshot::channel();
    *shim.start_gate.lock().unwrap() = Some(gate);
    let e = engine(tmp.path(), launcher);
    let mut ev = e.events.subscribe();
    e.create(req("q")).await.unwrap();
    let starting = {
        let e = e.clone();
        tokio::spawn(async move { e.start("q").await })
    };
    // The process exits while its start is being answered, and the exit is recorded…
    shim.started.notified().await;
    shim.exit_with(0);
    assert_eq!(e.wait("q", None).await.unwrap().exit_status, 0);
    // …but published only after the start.
    assert!(ev.try_recv().is_err(), "nothing published before the start");
    release.send(()).unwrap();
    assert_eq!(starting.await.unwrap().unwrap(), 42);
    assert_eq!(ev.recv().await.unwrap().kind, EventKind::Start);
    let exit = ev.recv().await.unwrap();
    assert_eq!((exit.kind, exit.exit_status), (EventKind::Exit, Some(0)));
    assert_eq!(e.get("q").unwrap().status, Status::Stopped);
    assert!(ev.try_recv().is_err(), "exit published once");
}

#[tokio::test]
async fn create_over_a_leftover_directory_is_a_conflict_and_keeps_it() {
    let tmp = tempfile::tempdir().unwrap();
    let e = engine(
        tmp.path(),
        FakeLauncher {
            live: true,
            ..Default::default()
        },
    );
    std::fs::create_dir_all(tmp.path().join("tasks/old")).unwrap();
    std::fs::write(tmp.path().join("tasks/old/exit.json"), b"{}").unwrap();
    assert_eq!(e.create(req("old")).await.unwrap_err().status(), 409);
    assert!(tmp.path().join("tasks/old/exit.json").exists());
    // the id is not left reserved
    assert_eq!(e.create(req("old")).await.unwrap_err().status(), 409);
}

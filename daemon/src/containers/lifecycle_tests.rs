//! The container lifecycle on the fakes — `FakeEngine` for berth-containerd, a recording
//! `RunEnvironment` for the root, volumes and network — without root: what dockerd does
//! on stop, kill of a paused container, restart policies, `--rm`, duplicate exits and
//! `wait`.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard_stubs::models::{HostConfig, RestartPolicy, RestartPolicyNameEnum};

use super::engine::{ExitInfo, FakeEngine, TaskEngine};
use super::environment::{EnvFuture, NetworkSetup, Prepared, RunEnvironment};
use super::record::{Container, Status};
use super::wait::{self, Condition};
use super::{exit, lifecycle, reconcile, remove, start, ContainerError, Result};
use crate::config::Config;
use crate::state::{Daemon, SharedDaemon};

/// Records what it was asked; makes nothing.
#[derive(Default)]
struct FakeEnvironment {
    calls: Mutex<Vec<String>>,
    /// The error the network's endpoints end with (as netd's "port is already allocated").
    network_error: Mutex<Option<String>>,
}

impl FakeEnvironment {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
    fn count(&self, what: &str) -> usize {
        self.calls().iter().filter(|c| c.starts_with(what)).count()
    }
}

impl RunEnvironment for FakeEnvironment {
    fn prepare<'a>(
        &'a self,
        daemon: &'a SharedDaemon,
        c: &'a Container,
    ) -> EnvFuture<'a, Result<Prepared>> {
        self.calls.lock().unwrap().push(format!("prepare {}", c.id));
        let bundle = super::environment::bundle_dir(daemon, &c.id);
        // The network's endpoints are made while the task is created (a task of their own).
        let failure = self.network_error.lock().unwrap().clone();
        let network = match failure {
            None => NetworkSetup::done(),
            Some(message) => NetworkSetup::pending(tokio::spawn(async move {
                tokio::task::yield_now().await;
                Err(ContainerError::Conflict(message))
            })),
        };
        Box::pin(async move { Ok(Prepared { bundle, network }) })
    }
    fn teardown<'a>(&'a self, _daemon: &'a SharedDaemon, c: &'a Container) -> EnvFuture<'a, ()> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("teardown {}", c.id));
        Box::pin(async {})
    }
    fn adopt(&self, c: &Container) {
        self.calls.lock().unwrap().push(format!("adopt {}", c.id));
    }
    fn release_leftovers<'a>(&'a self, _daemon: &'a Daemon, c: &'a Container) -> EnvFuture<'a, ()> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("leftovers {}", c.id));
        Box::pin(async {})
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    daemon: SharedDaemon,
    engine: Arc<FakeEngine>,
    env: Arc<FakeEnvironment>,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        data_root: dir.path().join("data"),
        exec_root: dir.path().join("exec"),
        ..Config::default()
    };
    let engine = Arc::new(FakeEngine::new());
    let env = Arc::new(FakeEnvironment::default());
    let daemon = Daemon::open_with(config, engine.clone(), env.clone()).expect("daemon");
    reconcile::start_engine(&daemon).await;
    Harness {
        _dir: dir,
        daemon,
        engine,
        env,
    }
}

/// A task's request as a test makes it by hand (no container started it).
fn bare_task(id: &str) -> super::engine::CreateTaskRequest {
    super::engine::CreateTaskRequest {
        id: id.to_string(),
        bundle: "/b".into(),
        runtime: None,
        terminal: false,
        stdin: false,
        log: None,
    }
}

impl Harness {
    /// A container record (created, never started) with this HostConfig.
    fn container(&self, name: &str, host_config: HostConfig) -> String {
        let id = self.daemon.containers.new_id();
        let c = Container {
            name: format!("/{name}"),
            host_config,
            ..Container::for_tests(&id, Default::default())
        };
        self.daemon.containers.insert(c).expect("insert");
        id
    }

    fn get(&self, id: &str) -> Container {
        self.daemon.containers.get(id).expect("container")
    }

    fn task(&self, id: &str) -> String {
        self.get(id).task_id().to_string()
    }

    /// Waits (bounded) until `f` holds for the container (or its absence).
    async fn until(&self, id: &str, what: &str, f: impl Fn(Option<&Container>) -> bool) {
        let mut rx = self.daemon.containers.watch(id);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if f(self.daemon.containers.get(id).as_ref()) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting for: {what}");
            match rx.as_mut() {
                // Status changes that notify nobody (start, pause) are polled for.
                Some(rx) => {
                    let _ = tokio::time::timeout(left.min(Duration::from_millis(20)), rx.changed())
                        .await;
                }
                None => {
                    tokio::time::sleep_until(
                        tokio::time::Instant::now() + left.min(Duration::from_millis(20)),
                    )
                    .await
                }
            }
        }
    }

    /// The container events published so far with this action, for this container.
    fn events(&self, id: &str, action: &str) -> usize {
        self.daemon
            .events
            .recent()
            .iter()
            .filter(|e| e.actor_id == id && e.action == action)
            .count()
    }
}

fn policy(name: RestartPolicyNameEnum, max: i64) -> HostConfig {
    HostConfig {
        restart_policy: Some(RestartPolicy {
            name: Some(name),
            maximum_retry_count: Some(max),
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn stop_falls_back_to_sigkill_after_its_timeout() {
    let h = harness().await;
    let id = h.container("deaf", HostConfig::default());
    start::start(&h.daemon, &id).await.expect("start");
    h.engine.set_behaviour(|b| {
        b.ignored_signals.insert(15);
    });
    let begun = Instant::now();
    lifecycle::stop(&h.daemon, &id, Some(1), None)
        .await
        .expect("stop");
    assert!(
        begun.elapsed() >= Duration::from_secs(1),
        "waited the timeout"
    );
    let c = h.get(&id);
    assert_eq!((c.state.status, c.state.exit_code), (Status::Exited, 137));
    let task = h.task(&id);
    let calls = h.engine.calls();
    let kills: Vec<_> = calls
        .iter()
        .filter(|c| **c == format!("kill {task}"))
        .collect();
    assert_eq!(kills.len(), 2, "SIGTERM, then SIGKILL: {calls:?}");
    assert_eq!(h.events(&id, "kill"), 2);
    assert_eq!(h.events(&id, "die"), 1);
    assert_eq!(h.events(&id, "stop"), 1);
    assert!(c.state.manually_stopped);
    assert_eq!(h.env.count("teardown"), 1);
    assert!(h.engine.status(&task).is_none(), "the task is deleted");
    // Stopped already: 304.
    assert!(matches!(
        lifecycle::stop(&h.daemon, &id, Some(1), None).await,
        Err(ContainerError::NotModified)
    ));
}

#[tokio::test]
async fn kill_of_a_paused_container_thaws_it() {
    let h = harness().await;
    let id = h.container("frozen", HostConfig::default());
    start::start(&h.daemon, &id).await.expect("start");
    lifecycle::pause(&h.daemon, &id).await.expect("pause");
    assert_eq!(h.get(&id).state.status, Status::Paused);
    lifecycle::kill(&h.daemon, &id, None).await.expect("kill");
    // The kill answers once the container has stopped.
    let c = h.get(&id);
    assert_eq!((c.state.status, c.state.exit_code), (Status::Exited, 137));
    let task = h.task(&id);
    let calls = h.engine.calls();
    let kill = calls.iter().position(|c| *c == format!("kill {task}"));
    let resume = calls.iter().position(|c| *c == format!("resume {task}"));
    assert!(
        matches!((kill, resume), (Some(k), Some(r)) if k < r),
        "the signal, then the thaw: {calls:?}"
    );
    assert_eq!(h.events(&id, "pause"), 1);
    assert_eq!(h.events(&id, "unpause"), 1);
    assert_eq!(h.events(&id, "die"), 1);
}

#[tokio::test]
async fn restart_policy_backs_off_and_counts_restarts() {
    let h = harness().await;
    let id = h.container("flaky", policy(RestartPolicyNameEnum::ON_FAILURE, 2));
    start::start(&h.daemon, &id).await.expect("start");
    let mut times = Vec::new();
    for n in 1..=2u64 {
        let task = h.task(&id);
        let exited = Instant::now();
        h.engine.exit(&task, 1);
        h.until(&id, "the next run", |c| {
            c.is_some_and(|c| c.restart_count == n && c.state.status == Status::Running)
        })
        .await;
        times.push(exited.elapsed());
    }
    // dockerd's back-off: 100 ms, then 200 ms.
    assert!(times[0] >= Duration::from_millis(100), "{times:?}");
    assert!(times[1] >= Duration::from_millis(200), "{times:?}");
    // The third failure is past the maximum: it stays exited.
    h.engine.exit(&h.task(&id), 1);
    h.until(&id, "exited for good", |c| {
        c.is_some_and(|c| c.state.status == Status::Exited)
    })
    .await;
    let c = h.get(&id);
    assert_eq!((c.restart_count, c.state.exit_code), (2, 1));
    assert_eq!(h.events(&id, "die"), 3);
    assert_eq!(h.events(&id, "start"), 3);
}

#[tokio::test]
async fn rm_container_that_cannot_start_is_removed() {
    let h = harness().await;
    let id = h.container(
        "gone",
        HostConfig {
            auto_remove: Some(true),
            ..Default::default()
        },
    );
    h.engine.set_behaviour(|b| {
        b.start_error = Some("exec: \"nope\": executable file not found in $PATH".into());
    });
    let err = start::start(&h.daemon, &id)
        .await
        .expect_err("cannot start");
    assert!(matches!(err, ContainerError::Invalid(_)), "{err:?}");
    assert!(h.daemon.containers.get(&id).is_none(), "removed");
    assert_eq!(h.events(&id, "destroy"), 1);
    assert!(h.engine.task_ids().is_empty(), "no task left");
    assert_eq!(h.env.count("prepare"), 1);
    assert!(h.env.count("teardown") >= 1, "{:?}", h.env.calls());
}

#[tokio::test]
async fn a_failed_start_is_recorded_as_dockerd_does() {
    let h = harness().await;
    let id = h.container("nostart", HostConfig::default());
    h.engine.set_behaviour(|b| {
        b.start_error = Some("permission denied".into());
    });
    assert!(start::start(&h.daemon, &id).await.is_err());
    let c = h.get(&id);
    assert_eq!((c.state.status, c.state.exit_code), (Status::Created, 126));
    assert!(!c.state.has_task);
    assert!(h.engine.task_ids().is_empty());
}

#[tokio::test]
async fn a_network_that_fails_while_the_task_is_created_deletes_the_task() {
    let h = harness().await;
    let id = h.container("noport", HostConfig::default());
    *h.env.network_error.lock().unwrap() =
        Some("Bind for 0.0.0.0:80 failed: port is already allocated".into());
    let err = start::start(&h.daemon, &id).await.expect_err("no network");
    assert!(
        matches!(&err, ContainerError::Conflict(m) if m.contains("port is already allocated")),
        "{err:?}"
    );
    let task = h.task(&id);
    let calls = h.engine.calls();
    assert!(calls.contains(&format!("create {task}")), "{calls:?}");
    assert!(calls.contains(&format!("delete {task}")), "{calls:?}");
    assert!(!calls.contains(&format!("start {task}")), "{calls:?}");
    assert!(h.engine.task_ids().is_empty(), "no task left");
    assert!(h.env.count("teardown") >= 1, "{:?}", h.env.calls());
    let c = h.get(&id);
    assert_eq!((c.state.status, c.state.exit_code), (Status::Created, 128));
    // The next start, with the network back, runs.
    *h.env.network_error.lock().unwrap() = None;
    start::start(&h.daemon, &id).await.expect("start");
    assert_eq!(h.get(&id).state.status, Status::Running);
}

#[tokio::test]
async fn an_rm_container_is_removed_at_its_exit_and_its_task_deleted() {
    let h = harness().await;
    let id = h.container(
        "rm-at-exit",
        HostConfig {
            auto_remove: Some(true),
            ..Default::default()
        },
    );
    start::start(&h.daemon, &id).await.expect("start");
    let task = h.task(&id);
    h.engine.exit(&task, 0);
    h.until(&id, "removed", |c| c.is_none()).await;
    assert_eq!(h.events(&id, "die"), 1);
    assert_eq!(h.events(&id, "destroy"), 1);
    assert!(h.env.count("teardown") >= 1, "{:?}", h.env.calls());
    // The task's deletion runs after the removal, once.
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.engine.status(&task).is_some() && Instant::now() < deadline {
        // Polling the fake from the test (not an ordering inside the daemon).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(h.engine.status(&task).is_none(), "the task is deleted");
    let deletes = h
        .engine
        .calls()
        .iter()
        .filter(|c| **c == format!("delete {task}"))
        .count();
    assert_eq!(deletes, 1, "{:?}", h.engine.calls());
}

#[tokio::test]
async fn an_exit_seen_twice_is_recorded_once() {
    let h = harness().await;
    let id = h.container("twice", HostConfig::default());
    start::start(&h.daemon, &id).await.expect("start");
    let c = h.get(&id);
    let pid = c.state.pid;
    let mut waiter = h.daemon.containers.watch(&id).expect("watch");
    let exit = ExitInfo::now(3);
    // The event, the resync after a reconnect and a direct report, all at once.
    h.engine.exit(c.task_id(), 3);
    tokio::join!(
        exit::record_exit(&h.daemon, &id, pid, exit.clone()),
        exit::record_exit(&h.daemon, &id, pid, exit),
        reconcile::sync_exits(&h.daemon),
    );
    h.until(&id, "exited", |c| {
        c.is_some_and(|c| c.state.status == Status::Exited)
    })
    .await;
    // An exit of an earlier run changes nothing either.
    exit::record_exit(&h.daemon, &id, pid + 1000, ExitInfo::now(9)).await;
    assert_eq!(h.get(&id).state.exit_code, 3);
    assert_eq!(h.events(&id, "die"), 1);
    assert_eq!(h.env.count("teardown"), 1);
    assert_eq!(waiter.borrow_and_update().exits, 1);
}

#[tokio::test]
async fn wait_conditions_as_dockerd() {
    let h = harness().await;
    let id = h.container("waited", HostConfig::default());
    // not-running on a created container: at once.
    let code = wait::wait(&h.daemon, &id, Condition::NotRunning).expect("wait");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), code)
            .await
            .ok(),
        Some(0)
    );
    // next-exit and removed, asked before the start.
    let next = tokio::spawn(wait::wait(&h.daemon, &id, Condition::NextExit).expect("wait"));
    let removed = tokio::spawn(wait::wait(&h.daemon, &id, Condition::Removed).expect("wait"));
    start::start(&h.daemon, &id).await.expect("start");
    let running = wait::wait(&h.daemon, &id, Condition::NotRunning).expect("wait");
    h.engine.exit(&h.task(&id), 5);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .ok(),
        Some(5)
    );
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .unwrap()
            .ok(),
        Some(5)
    );
    assert!(!removed.is_finished());
    remove::remove(&h.daemon, &id, false).await.expect("rm");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), removed)
            .await
            .unwrap()
            .ok(),
        Some(5)
    );
    assert!(matches!(
        wait::wait(&h.daemon, &id, Condition::NotRunning),
        Err(ContainerError::NotFound(_))
    ));
}

#[tokio::test]
async fn wait_returns_at_the_exit_of_a_container_that_restarts() {
    let h = harness().await;
    let id = h.container("always", policy(RestartPolicyNameEnum::ALWAYS, 0));
    start::start(&h.daemon, &id).await.expect("start");
    let waited = wait::wait(&h.daemon, &id, Condition::NotRunning).expect("wait");
    h.engine.exit(&h.task(&id), 7);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), waited)
            .await
            .ok(),
        Some(7),
        "dockerd's wait returns at the exit, though the policy restarts it"
    );
    // The waiter woke with the restart already scheduled (dockerd's SetRestarting): a
    // removal without force is refused (the back-off is 100 ms; this runs before).
    let refused = remove::remove(&h.daemon, &id, false).await;
    assert!(
        matches!(refused, Err(ContainerError::Conflict(ref m)) if m.starts_with("You cannot remove a restarting container")),
        "{refused:?}"
    );
    h.until(&id, "restarted", |c| {
        c.is_some_and(|c| c.state.status == Status::Running && c.restart_count == 1)
    })
    .await;
    // rm -f of a container with a restart policy: removed, not restarted.
    remove::remove(&h.daemon, &id, true).await.expect("rm -f");
    assert!(h.daemon.containers.get(&id).is_none());
    assert!(h.engine.task_ids().is_empty());
}

#[tokio::test]
async fn rm_force_kills_and_removes_and_a_second_rm_is_told() {
    let h = harness().await;
    let id = h.container("busy", HostConfig::default());
    start::start(&h.daemon, &id).await.expect("start");
    let refused = remove::remove(&h.daemon, &id, false).await;
    assert!(
        matches!(refused, Err(ContainerError::Conflict(ref m)) if m.starts_with("You cannot remove a running container"))
    );
    remove::remove(&h.daemon, &id, true).await.expect("rm -f");
    assert!(h.daemon.containers.get(&id).is_none());
    assert!(h.engine.task_ids().is_empty());
    assert_eq!(h.events(&id, "die"), 1);
    assert_eq!(h.events(&id, "destroy"), 1);
    assert_eq!(
        h.env.count("teardown"),
        2,
        "at the exit, and (idempotent) at the removal"
    );
    // die comes before destroy.
    let actions: Vec<String> = h
        .daemon
        .events
        .recent()
        .iter()
        .filter(|e| e.actor_id == id)
        .map(|e| e.action.clone())
        .collect();
    let die = actions.iter().position(|a| a == "die");
    let destroy = actions.iter().position(|a| a == "destroy");
    assert!(die < destroy, "{actions:?}");
}

#[tokio::test]
async fn rm_force_during_a_start_kills_the_new_run_and_removes_it() {
    let h = harness().await;
    let id = h.container("starting", HostConfig::default());
    // A start under way holds the container's lock; the removal looks before it runs.
    let lock = h.daemon.container_locks.lock(&id).await;
    let removal = tokio::spawn({
        let (daemon, id) = (h.daemon.clone(), id.clone());
        async move { remove::remove(&daemon, &id, true).await }
    });
    h.until(&id, "the removal to wait for the lock", |_| {
        h.daemon.container_locks.users(&id) == 2
    })
    .await;
    let c = super::state_changes::start_requested(&h.daemon, &id).expect("start requested");
    start::run(&h.daemon, &c)
        .await
        .expect("the start finishes first");
    drop(lock);
    removal
        .await
        .expect("task")
        .expect("rm -f removes the run that started meanwhile");
    assert!(h.daemon.containers.get(&id).is_none());
    assert!(h.engine.task_ids().is_empty());
}

#[tokio::test]
async fn the_fake_engine_keeps_tasks_as_berth_containerd() {
    let e = FakeEngine::new();
    let req = bare_task("t");
    e.create(&req).await.unwrap();
    assert!(e.create(&req).await.unwrap_err().is_conflict());
    let pid = e.start("t").await.unwrap();
    assert!(e.delete("t").await.unwrap_err().is_conflict());
    e.kill("t", 9, None).await.unwrap();
    assert_eq!(e.wait("t", None).await.unwrap().exit_status, 137);
    assert_eq!(e.get("t").await.unwrap().pid, pid);
    assert_eq!(e.delete("t").await.unwrap().exit_status, 137);
    assert!(e.get("t").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn reconcile_removes_what_interrupted_operations_left() {
    let h = harness().await;
    // A start cut short (berthd killed between the task's create and its start): the
    // record says created, a task waits.
    let cut = h.container("cut", HostConfig::default());
    let req = bare_task(&h.task(&cut));
    h.engine.create(&req).await.expect("create");
    // A running container whose record says exited (killed before its start was recorded).
    let lost = h.container("lost", HostConfig::default());
    let req = super::engine::CreateTaskRequest {
        id: h.task(&lost),
        ..req
    };
    h.engine.create(&req).await.expect("create");
    h.engine.start(&h.task(&lost)).await.expect("start");
    // A removal under way (rm -f whose exit was recorded, then berthd was killed).
    let going = h.container("going", HostConfig::default());
    h.daemon
        .containers
        .update(&going, |r| {
            r.state.removal_started()?;
            Ok(())
        })
        .expect("removing");
    reconcile::reconcile(&h.daemon).await;
    assert!(h.engine.task_ids().is_empty(), "{:?}", h.engine.task_ids());
    assert!(
        h.daemon.containers.get(&going).is_none(),
        "the removal is finished"
    );
    assert_eq!(h.get(&cut).state.status, Status::Created);
    assert!(h.env.calls().contains(&format!("leftovers {cut}")));
    assert!(h.env.calls().contains(&format!("leftovers {lost}")));
    // And the containers start again normally.
    start::start(&h.daemon, &cut).await.expect("start");
    assert_eq!(h.get(&cut).state.status, Status::Running);
}

#[tokio::test]
async fn reconcile_finishes_a_forced_removal_that_was_under_way() {
    let h = harness().await;
    // `rm -f` recorded its request, then berthd was killed before the kill landed: the
    // records say running (one paused, one with `always`), marked for removal.
    let always = HostConfig {
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::ALWAYS),
            maximum_retry_count: None,
        }),
        ..Default::default()
    };
    let running = h.container("running", always);
    let paused = h.container("paused", HostConfig::default());
    for id in [&running, &paused] {
        start::start(&h.daemon, id).await.expect("start");
    }
    lifecycle::pause(&h.daemon, &paused).await.expect("pause");
    for id in [&running, &paused] {
        super::state_changes::removal_requested(&h.daemon, id).expect("rm -f requested");
    }
    reconcile::reconcile(&h.daemon).await;
    for id in [&running, &paused] {
        h.until(id, "the removal finished", |c| c.is_none()).await;
        assert!(h.env.calls().contains(&format!("teardown {id}")));
    }
    assert!(h.engine.task_ids().is_empty(), "{:?}", h.engine.task_ids());
}

#[tokio::test]
async fn rm_f_whose_kill_cannot_reach_the_container_fails_at_once_and_can_be_retried() {
    let h = harness().await;
    let id = h.container("web", HostConfig::default());
    start::start(&h.daemon, &id).await.expect("start");
    h.engine.set_behaviour(|b| b.kill_unavailable = true);
    // dockerd's "Could not kill running container" at once, not after a 30 s wait for an
    // exit that is not coming.
    let err = tokio::time::timeout(Duration::from_secs(5), remove::remove(&h.daemon, &id, true))
        .await
        .expect("answered at once")
        .expect_err("the kill failed");
    assert!(
        err.to_string().starts_with(&format!(
            "Could not kill running container {id}, cannot remove"
        )),
        "{err}"
    );
    assert_eq!(h.get(&id).state.status, Status::Running);
    // The removal was given up, so the next one is no "already in progress".
    h.engine.set_behaviour(|b| b.kill_unavailable = false);
    remove::remove(&h.daemon, &id, true).await.expect("rm -f");
    assert!(h.daemon.containers.get(&id).is_none());
}

#[tokio::test]
async fn a_reconnect_deletes_tasks_whose_container_is_gone() {
    let h = harness().await;
    // A removal forgot the container while its task's deletion failed (berth-containerd
    // was down): the task stays, and no record names it.
    let req = bare_task("0123456789abcdef0123456789abcdef");
    h.engine.create(&req).await.expect("create");
    h.engine.start(&req.id).await.expect("start");
    // A container that runs keeps its task.
    let kept = h.container("kept", HostConfig::default());
    start::start(&h.daemon, &kept).await.expect("start");
    reconcile::sync_exits(&h.daemon).await;
    assert_eq!(h.engine.task_ids(), vec![h.task(&kept)]);
    assert_eq!(h.get(&kept).state.status, Status::Running);
}

#[tokio::test]
async fn stop_whose_signals_cannot_reach_the_container_fails_at_once() {
    let h = harness().await;
    let id = h.container("web", HostConfig::default());
    start::start(&h.daemon, &id).await.expect("start");
    h.engine.set_behaviour(|b| b.kill_unavailable = true);
    // Not the stop timeout (10 s) and then 30 s for an exit that is not coming.
    let err = tokio::time::timeout(
        Duration::from_secs(5),
        lifecycle::stop(&h.daemon, &id, None, None),
    )
    .await
    .expect("answered at once")
    .expect_err("no signal reached it");
    assert!(
        err.to_string()
            .starts_with(&format!("Cannot kill container {id}")),
        "{err}"
    );
    h.engine.set_behaviour(|b| b.kill_unavailable = false);
    lifecycle::stop(&h.daemon, &id, Some(1), None)
        .await
        .expect("stop");
    assert_eq!(h.get(&id).state.status, Status::Exited);
}

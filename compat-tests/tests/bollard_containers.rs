//! Containers through bollard: create, start, wait, inspect, remove.
mod common;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, RemoveContainerOptionsBuilder,
    StartContainerOptions, WaitContainerOptionsBuilder,
};
use common::{Daemon, Fixtures};
use futures::StreamExt;

#[tokio::test]
async fn create_start_wait_inspect_remove() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let docker = d.bollard();

    let body = ContainerCreateBody {
        image: Some(image.clone()),
        cmd: Some(vec!["sh".into(), "-c".into(), "exit 5".into()]),
        host_config: Some(HostConfig {
            memory: Some(64 << 20),
            ..Default::default()
        }),
        ..Default::default()
    };
    let opts = CreateContainerOptionsBuilder::default()
        .name("bolly")
        .build();
    let created = docker
        .create_container(Some(opts), body)
        .await
        .expect("create_container");
    assert_eq!(created.id.len(), 64);

    let c = docker
        .inspect_container("bolly", None::<InspectContainerOptions>)
        .await
        .expect("inspect");
    assert_eq!(c.name.as_deref(), Some("/bolly"));
    let state = c.state.expect("state");
    assert_eq!(state.status.map(|s| s.to_string()), Some("created".into()));
    assert_eq!(c.host_config.and_then(|h| h.memory), Some(64 << 20));

    let wait_opts = WaitContainerOptionsBuilder::default()
        .condition("next-exit")
        .build();
    let mut waiter = docker.wait_container("bolly", Some(wait_opts));
    docker
        .start_container("bolly", None::<StartContainerOptions>)
        .await
        .expect("start");
    // bollard turns a non-zero exit into an error carrying the code.
    match waiter.next().await {
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => {
            assert_eq!(code, 5)
        }
        other => panic!("unexpected wait result: {other:?}"),
    }
    let c = docker
        .inspect_container(&created.id, None::<InspectContainerOptions>)
        .await
        .expect("inspect after exit");
    assert_eq!(c.state.and_then(|s| s.exit_code), Some(5));

    let err = docker
        .inspect_container("nope", None::<InspectContainerOptions>)
        .await
        .expect_err("unknown container");
    match err {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => {
            assert_eq!(status_code, 404);
            assert_eq!(message, "No such container: nope");
        }
        other => panic!("unexpected error: {other:?}"),
    }

    let rm = RemoveContainerOptionsBuilder::default().force(true).build();
    docker
        .remove_container("bolly", Some(rm))
        .await
        .expect("remove");
    assert!(docker
        .inspect_container("bolly", None::<InspectContainerOptions>)
        .await
        .is_err());
}

#[tokio::test]
async fn exec_logs_and_list_through_bollard() {
    use bollard::container::LogOutput;
    use bollard::exec::{CreateExecOptions, StartExecResults};
    use bollard::query_parameters::{ListContainersOptionsBuilder, LogsOptionsBuilder};

    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let docker = d.bollard();
    let body = ContainerCreateBody {
        image: Some(image.clone()),
        cmd: Some(vec![
            "sh".into(),
            "-c".into(),
            "echo started; sleep 300".into(),
        ]),
        labels: Some([("suite".to_string(), "bollard".to_string())].into()),
        ..Default::default()
    };
    let opts = CreateContainerOptionsBuilder::default()
        .name("bexec")
        .build();
    docker
        .create_container(Some(opts), body)
        .await
        .expect("create");
    docker
        .start_container("bexec", None::<StartContainerOptions>)
        .await
        .expect("start");

    let mut filters = std::collections::HashMap::new();
    filters.insert("label".to_string(), vec!["suite=bollard".to_string()]);
    let list = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].names, Some(vec!["/bexec".to_string()]));

    let exec = docker
        .create_exec(
            "bexec",
            CreateExecOptions {
                cmd: Some(vec!["sh", "-c", "echo from-exec; exit 3"]),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("create_exec");
    let mut text = String::new();
    if let StartExecResults::Attached { mut output, .. } =
        docker.start_exec(&exec.id, None).await.expect("start_exec")
    {
        while let Some(Ok(chunk)) = output.next().await {
            text.push_str(&chunk.to_string());
        }
    } else {
        panic!("exec was not attached");
    }
    assert_eq!(text, "from-exec\n");
    let inspected = docker.inspect_exec(&exec.id).await.expect("inspect_exec");
    assert_eq!(inspected.exit_code, Some(3));
    assert_eq!(inspected.running, Some(false));

    let mut logs = docker.logs(
        "bexec",
        Some(LogsOptionsBuilder::default().stdout(true).build()),
    );
    let mut out = String::new();
    while let Some(Ok(chunk)) = logs.next().await {
        if let LogOutput::StdOut { message } = chunk {
            out.push_str(&String::from_utf8_lossy(&message));
        }
    }
    assert_eq!(out, "started\n");

    let rm = RemoveContainerOptionsBuilder::default().force(true).build();
    docker
        .remove_container("bexec", Some(rm))
        .await
        .expect("remove");
}

/// Resizing a container started without a terminal is not an error (there is nothing to
/// resize), as with dockerd and containerd's shim; then kill, wait and remove in a row,
/// as bollard's own integration tests do.
#[tokio::test]
async fn resize_without_a_tty_then_kill_wait_remove() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let docker = d.bollard();
    let body = ContainerCreateBody {
        image: Some(image),
        open_stdin: Some(true),
        ..Default::default()
    };
    let opts = CreateContainerOptionsBuilder::default()
        .name("notty")
        .build();
    docker
        .create_container(Some(opts), body)
        .await
        .expect("create_container");
    docker
        .start_container("notty", None::<StartContainerOptions>)
        .await
        .expect("start");
    let size = bollard::query_parameters::ResizeContainerTTYOptionsBuilder::default()
        .w(50)
        .h(50)
        .build();
    docker
        .resize_container_tty("notty", size)
        .await
        .expect("resize of a container without a tty");
    docker
        .kill_container(
            "notty",
            None::<bollard::query_parameters::KillContainerOptions>,
        )
        .await
        .expect("kill");
    let _ = docker
        .wait_container(
            "notty",
            None::<bollard::query_parameters::WaitContainerOptions>,
        )
        .collect::<Vec<_>>()
        .await;
    docker
        .remove_container(
            "notty",
            None::<bollard::query_parameters::RemoveContainerOptions>,
        )
        .await
        .expect("remove right after kill and wait");
}

/// docker-py's `test_create_with_restart_policy`: a `restart: always` container exits,
/// its waiter returns, and an immediate removal without force is refused (the exit and
/// the scheduled restart are one transition before the waiters wake, as dockerd's
/// `SetRestarting`); a forced removal then removes it.
#[tokio::test]
async fn removal_right_after_the_wait_of_a_restarting_container_is_refused() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let docker = d.bollard();
    let body = ContainerCreateBody {
        image: Some(image),
        cmd: Some(vec!["sleep".into(), "1".into()]),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            restart_policy: Some(bollard::models::RestartPolicy {
                name: Some(bollard::models::RestartPolicyNameEnum::ALWAYS),
                maximum_retry_count: Some(0),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let opts = CreateContainerOptionsBuilder::default()
        .name("always")
        .build();
    let id = docker
        .create_container(Some(opts), body)
        .await
        .expect("create_container")
        .id;
    docker
        .start_container("always", None::<StartContainerOptions>)
        .await
        .expect("start");
    let waited = docker
        .wait_container(
            "always",
            None::<bollard::query_parameters::WaitContainerOptions>,
        )
        .collect::<Vec<_>>()
        .await;
    assert!(matches!(waited.as_slice(), [Ok(_)]), "{waited:?}");
    let refused = docker
        .remove_container(
            "always",
            None::<bollard::query_parameters::RemoveContainerOptions>,
        )
        .await
        .expect_err("removal of a restarting container without force");
    match refused {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => {
            assert_eq!(status_code, 409, "{message}");
            // Restarting (back-off of 100 ms) or, on a slow machine, running again.
            let restarting = format!("You cannot remove a restarting container {id}. Stop the container before attempting removal or force remove");
            let running = format!("You cannot remove a running container {id}. Stop the container before attempting removal or force remove");
            assert!(message == restarting || message == running, "{message}");
        }
        other => panic!("unexpected error: {other:?}"),
    }
    let rm = RemoveContainerOptionsBuilder::default().force(true).build();
    docker
        .remove_container("always", Some(rm))
        .await
        .expect("forced removal");
    assert!(docker
        .inspect_container("always", None::<InspectContainerOptions>)
        .await
        .is_err());
}

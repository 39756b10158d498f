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

//! Pods survive crashes of the engine above them, as Docker's containers do: a pod and its
//! container started through the CRI keep running when berthd and berth-containerd are
//! killed with SIGKILL; the restarted berthd (which relaunches berth-containerd) finds them
//! again, serves their status, exec and stop, and `docker ps` never lists them.
//! Self-contained: the pause image is built from the busybox fixture with `docker build`.
mod common;
mod cri_support;

use std::collections::HashMap;

use berth_cri::proto::*;
use common::{Daemon, Fixtures};
use cri_support::CriSetup;

fn alive(pid: u32) -> bool {
    pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn pid_in(info: &HashMap<String, String>) -> u32 {
    let v: serde_json::Value =
        serde_json::from_str(info.get("info").expect("verbose info")).expect("info JSON");
    v["pid"].as_u64().expect("pid in info") as u32
}

fn log_lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn pods_survive_kill_9_of_berthd_and_berth_containerd() {
    let f = Fixtures::load();
    let setup = CriSetup::new("bcri-rs", "10.87.17.0/24");
    let pause = "berth-test/pause:survival";
    let args = setup.daemon_args(pause);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut d = Daemon::start_with(&args);

    // The pause image: busybox sleeping for ever.
    let busybox = d.pull_fixture(&f, "busybox");
    let ctx = setup.dir.path().join("pause-context");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {busybox}\nCMD [\"sleep\", \"2147483647\"]\n"),
    )
    .unwrap();
    d.docker_ok(&["build", "-q", "-t", pause, ctx.to_str().unwrap()]);

    let logs = setup.dir.path().join("pod-logs");
    std::fs::create_dir_all(&logs).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let socket = cri_support::socket(&d);
    let pod_config = PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: "survivor".into(),
            uid: "uid-survivor".into(),
            namespace: "berth-test".into(),
            attempt: 0,
        }),
        hostname: "survivor".into(),
        log_directory: logs.display().to_string(),
        linux: Some(Default::default()),
        ..Default::default()
    };
    let (pod, cid, pause_pid, ctr_pid) = rt.block_on(async {
        let (mut rc, mut ic) = cri_support::clients(&socket).await;
        ic.pull_image(PullImageRequest {
            image: Some(ImageSpec {
                image: busybox.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("pull through the CRI");
        let pod = rc
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(pod_config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .expect("RunPodSandbox")
            .into_inner()
            .pod_sandbox_id;
        let cid = rc
            .create_container(CreateContainerRequest {
                pod_sandbox_id: pod.clone(),
                config: Some(ContainerConfig {
                    metadata: Some(ContainerMetadata {
                        name: "ticker".into(),
                        attempt: 0,
                    }),
                    image: Some(ImageSpec {
                        image: busybox.clone(),
                        ..Default::default()
                    }),
                    command: vec![
                        "sh".into(),
                        "-c".into(),
                        "while true; do echo tick; sleep 0.1; done".into(),
                    ],
                    log_path: "ticker.log".into(),
                    ..Default::default()
                }),
                sandbox_config: Some(pod_config.clone()),
            })
            .await
            .expect("CreateContainer")
            .into_inner()
            .container_id;
        rc.start_container(StartContainerRequest {
            container_id: cid.clone(),
        })
        .await
        .expect("StartContainer");
        let ps = rc
            .pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: pod.clone(),
                verbose: true,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(
            !ps.status
                .as_ref()
                .unwrap()
                .network
                .as_ref()
                .unwrap()
                .ip
                .is_empty(),
            "the pod has an address"
        );
        let cs = rc
            .container_status(ContainerStatusRequest {
                container_id: cid.clone(),
                verbose: true,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            cs.status.as_ref().unwrap().state,
            ContainerState::ContainerRunning as i32
        );
        (pod, cid, pid_in(&ps.info), pid_in(&cs.info))
    });
    assert!(alive(pause_pid) && alive(ctr_pid));

    // Pods' containers are not Docker's.
    let ps = d.docker_ok(&["ps", "-a", "--format", "{{.ID}} {{.Image}}"]);
    assert!(
        !ps.contains(&cid[..12]) && !ps.contains(&pod[..12]),
        "docker ps lists a pod's container:\n{ps}"
    );

    // A crash of everything above the shims.
    let containerd: Vec<i32> = common::engine_pids(d.dir.path())
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                c.split('\0')
                    .next()
                    .is_some_and(|argv0| argv0.ends_with("berth-containerd"))
            })
        })
        .collect();
    assert_eq!(
        containerd.len(),
        1,
        "one berth-containerd among {:?}",
        common::engine_pids(d.dir.path())
            .iter()
            .map(|p| String::from_utf8_lossy(
                &std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default()
            )
            .replace('\0', " "))
            .collect::<Vec<_>>()
    );
    d.kill9();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(containerd[0]),
        nix::sys::signal::Signal::SIGKILL,
    );
    common::eventually("berth-containerd is gone", || !alive(containerd[0] as u32));
    let log = logs.join("ticker.log");
    let before = log_lines(&log);
    common::eventually(
        "the container keeps logging with nothing above its shim",
        || log_lines(&log) > before + 3,
    );
    assert!(
        alive(pause_pid) && alive(ctr_pid),
        "the pod died with berthd"
    );

    d.restart_with(&args);
    rt.block_on(async {
        let (mut rc, _) = cri_support::clients(&socket).await;
        let pods = rc
            .list_pod_sandbox(ListPodSandboxRequest { filter: None })
            .await
            .unwrap()
            .into_inner()
            .items;
        let found = pods
            .iter()
            .find(|p| p.id == pod)
            .expect("the pod is listed after the restart");
        assert_eq!(found.state, PodSandboxState::SandboxReady as i32);
        let cs = rc
            .container_status(ContainerStatusRequest {
                container_id: cid.clone(),
                verbose: true,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            cs.status.as_ref().unwrap().state,
            ContainerState::ContainerRunning as i32
        );
        assert_eq!(pid_in(&cs.info), ctr_pid, "the same process");
        let out = rc
            .exec_sync(ExecSyncRequest {
                container_id: cid.clone(),
                cmd: vec!["echo".into(), "still here".into()],
                timeout: 10,
            })
            .await
            .expect("ExecSync after the restart")
            .into_inner();
        assert_eq!(
            (
                out.exit_code,
                String::from_utf8_lossy(&out.stdout).to_string()
            ),
            (0, "still here\n".to_string())
        );

        // The lifecycle goes on as usual.
        rc.stop_container(StopContainerRequest {
            container_id: cid.clone(),
            timeout: 1,
        })
        .await
        .expect("StopContainer");
        let cs = rc
            .container_status(ContainerStatusRequest {
                container_id: cid.clone(),
                verbose: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            cs.status.as_ref().unwrap().state,
            ContainerState::ContainerExited as i32
        );
        rc.remove_container(RemoveContainerRequest {
            container_id: cid.clone(),
        })
        .await
        .expect("RemoveContainer");
        rc.stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        })
        .await
        .expect("StopPodSandbox");
        rc.remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        })
        .await
        .expect("RemovePodSandbox");
        let left = rc
            .list_pod_sandbox(ListPodSandboxRequest { filter: None })
            .await
            .unwrap()
            .into_inner()
            .items;
        assert!(left.is_empty(), "pods left: {left:?}");
    });
    common::eventually("the pod's processes are gone", || {
        !alive(pause_pid) && !alive(ctr_pid)
    });
}

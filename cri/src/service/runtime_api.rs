//! The CRI RuntimeService: each handler parses, calls one domain function of [`Cri`] and
//! maps the result. State-changing calls run in their own task, so a kubelet that gives
//! up (a deadline, a closed connection) cannot leave an operation half done: it finishes
//! or undoes itself. Calls this runtime does not offer answer Unimplemented, as
//! containerd 1.6 does for them.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tonic::{Request, Response, Status};

use super::Cri;
use crate::error::CriResult;
use crate::proto::runtime_service_server::RuntimeService;
use crate::proto::*;

pub struct RuntimeApi(pub Arc<Cri>);

/// The runtime's name in `Version`.
pub const RUNTIME_NAME: &str = "berth";

type Reply<T> = Result<Response<T>, Status>;
type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Runs `work` to its end in its own task, whatever happens to the caller.
pub(crate) async fn detached<T: Send + 'static>(
    work: impl Future<Output = CriResult<T>> + Send + 'static,
) -> Result<T, Status> {
    match tokio::spawn(work).await {
        Ok(r) => r.map_err(Status::from),
        Err(e) => Err(Status::internal(format!("the operation failed: {e}"))),
    }
}

fn once<T: Send + 'static>(item: T) -> BoxStream<T> {
    Box::pin(futures::stream::iter([Ok(item)]))
}

#[tonic::async_trait]
impl RuntimeService for RuntimeApi {
    async fn version(&self, _: Request<VersionRequest>) -> Reply<VersionResponse> {
        Ok(Response::new(VersionResponse {
            version: "0.1.0".into(),
            runtime_name: RUNTIME_NAME.into(),
            runtime_version: self.0.opts.runtime_version.clone(),
            runtime_api_version: "v1".into(),
        }))
    }

    async fn run_pod_sandbox(
        &self,
        r: Request<RunPodSandboxRequest>,
    ) -> Reply<RunPodSandboxResponse> {
        let r = r.into_inner();
        let cri = self.0.clone();
        let config = r.config.unwrap_or_default();
        let id =
            detached(async move { cri.run_pod_sandbox(config, r.runtime_handler).await }).await?;
        Ok(Response::new(RunPodSandboxResponse { pod_sandbox_id: id }))
    }

    async fn stop_pod_sandbox(
        &self,
        r: Request<StopPodSandboxRequest>,
    ) -> Reply<StopPodSandboxResponse> {
        let cri = self.0.clone();
        let id = r.into_inner().pod_sandbox_id;
        detached(async move { cri.stop_pod_sandbox(&id).await }).await?;
        Ok(Response::new(StopPodSandboxResponse {}))
    }

    async fn remove_pod_sandbox(
        &self,
        r: Request<RemovePodSandboxRequest>,
    ) -> Reply<RemovePodSandboxResponse> {
        let cri = self.0.clone();
        let id = r.into_inner().pod_sandbox_id;
        detached(async move { cri.remove_pod_sandbox(&id).await }).await?;
        Ok(Response::new(RemovePodSandboxResponse {}))
    }

    async fn pod_sandbox_status(
        &self,
        r: Request<PodSandboxStatusRequest>,
    ) -> Reply<PodSandboxStatusResponse> {
        let r = r.into_inner();
        Ok(Response::new(
            self.0.pod_sandbox_status(&r.pod_sandbox_id, r.verbose)?,
        ))
    }

    async fn list_pod_sandbox(
        &self,
        r: Request<ListPodSandboxRequest>,
    ) -> Reply<ListPodSandboxResponse> {
        let items = self.0.list_pod_sandboxes(r.into_inner().filter);
        Ok(Response::new(ListPodSandboxResponse { items }))
    }

    type StreamPodSandboxesStream = BoxStream<StreamPodSandboxesResponse>;
    async fn stream_pod_sandboxes(
        &self,
        r: Request<StreamPodSandboxesRequest>,
    ) -> Reply<Self::StreamPodSandboxesStream> {
        let pod_sandboxes = self.0.list_pod_sandboxes(r.into_inner().filter);
        Ok(Response::new(once(StreamPodSandboxesResponse {
            pod_sandboxes,
        })))
    }

    async fn create_container(
        &self,
        r: Request<CreateContainerRequest>,
    ) -> Reply<CreateContainerResponse> {
        let r = r.into_inner();
        let cri = self.0.clone();
        let config = r.config.unwrap_or_default();
        let id = detached(async move {
            cri.create_container(&r.pod_sandbox_id, config, r.sandbox_config)
                .await
        })
        .await?;
        Ok(Response::new(CreateContainerResponse { container_id: id }))
    }

    async fn start_container(
        &self,
        r: Request<StartContainerRequest>,
    ) -> Reply<StartContainerResponse> {
        let cri = self.0.clone();
        let id = r.into_inner().container_id;
        detached(async move { cri.start_container(&id).await }).await?;
        Ok(Response::new(StartContainerResponse {}))
    }

    async fn stop_container(
        &self,
        r: Request<StopContainerRequest>,
    ) -> Reply<StopContainerResponse> {
        let cri = self.0.clone();
        let r = r.into_inner();
        detached(async move { cri.stop_container(&r.container_id, r.timeout).await }).await?;
        Ok(Response::new(StopContainerResponse {}))
    }

    async fn remove_container(
        &self,
        r: Request<RemoveContainerRequest>,
    ) -> Reply<RemoveContainerResponse> {
        let cri = self.0.clone();
        let id = r.into_inner().container_id;
        detached(async move { cri.remove_container(&id).await }).await?;
        Ok(Response::new(RemoveContainerResponse {}))
    }

    async fn list_containers(
        &self,
        r: Request<ListContainersRequest>,
    ) -> Reply<ListContainersResponse> {
        let containers = self.0.list_containers(r.into_inner().filter);
        Ok(Response::new(ListContainersResponse { containers }))
    }

    type StreamContainersStream = BoxStream<StreamContainersResponse>;
    async fn stream_containers(
        &self,
        r: Request<StreamContainersRequest>,
    ) -> Reply<Self::StreamContainersStream> {
        let containers = self.0.list_containers(r.into_inner().filter);
        Ok(Response::new(once(StreamContainersResponse { containers })))
    }

    async fn container_status(
        &self,
        r: Request<ContainerStatusRequest>,
    ) -> Reply<ContainerStatusResponse> {
        let r = r.into_inner();
        Ok(Response::new(
            self.0.container_status_of(&r.container_id, r.verbose)?,
        ))
    }

    async fn update_container_resources(
        &self,
        r: Request<UpdateContainerResourcesRequest>,
    ) -> Reply<UpdateContainerResourcesResponse> {
        let cri = self.0.clone();
        let r = r.into_inner();
        detached(async move {
            cri.update_container_resources(&r.container_id, r.linux)
                .await
        })
        .await?;
        Ok(Response::new(UpdateContainerResourcesResponse {}))
    }

    async fn reopen_container_log(
        &self,
        r: Request<ReopenContainerLogRequest>,
    ) -> Reply<ReopenContainerLogResponse> {
        self.0
            .reopen_container_log(&r.into_inner().container_id)
            .await?;
        Ok(Response::new(ReopenContainerLogResponse {}))
    }

    async fn exec_sync(&self, r: Request<ExecSyncRequest>) -> Reply<ExecSyncResponse> {
        let cri = self.0.clone();
        let r = r.into_inner();
        let out =
            detached(async move { cri.exec_sync(&r.container_id, r.cmd, r.timeout).await }).await?;
        Ok(Response::new(ExecSyncResponse {
            stdout: out.stdout,
            stderr: out.stderr,
            exit_code: out.exit_code,
        }))
    }

    async fn exec(&self, r: Request<ExecRequest>) -> Reply<ExecResponse> {
        let url = self.0.exec_url(r.into_inner())?;
        Ok(Response::new(ExecResponse { url }))
    }

    async fn attach(&self, r: Request<AttachRequest>) -> Reply<AttachResponse> {
        let url = self.0.attach_url(r.into_inner())?;
        Ok(Response::new(AttachResponse { url }))
    }

    async fn port_forward(&self, r: Request<PortForwardRequest>) -> Reply<PortForwardResponse> {
        let url = self.0.port_forward_url(r.into_inner())?;
        Ok(Response::new(PortForwardResponse { url }))
    }

    async fn container_stats(
        &self,
        r: Request<ContainerStatsRequest>,
    ) -> Reply<ContainerStatsResponse> {
        let stats = self.0.container_stats(&r.into_inner().container_id)?;
        Ok(Response::new(ContainerStatsResponse { stats: Some(stats) }))
    }

    async fn list_container_stats(
        &self,
        r: Request<ListContainerStatsRequest>,
    ) -> Reply<ListContainerStatsResponse> {
        let stats = self.0.list_container_stats(r.into_inner().filter);
        Ok(Response::new(ListContainerStatsResponse { stats }))
    }

    type StreamContainerStatsStream = BoxStream<StreamContainerStatsResponse>;
    async fn stream_container_stats(
        &self,
        r: Request<StreamContainerStatsRequest>,
    ) -> Reply<Self::StreamContainerStatsStream> {
        let container_stats = self.0.list_container_stats(r.into_inner().filter);
        Ok(Response::new(once(StreamContainerStatsResponse {
            container_stats,
        })))
    }

    async fn pod_sandbox_stats(
        &self,
        r: Request<PodSandboxStatsRequest>,
    ) -> Reply<PodSandboxStatsResponse> {
        let stats = self.0.pod_sandbox_stats(&r.into_inner().pod_sandbox_id)?;
        Ok(Response::new(PodSandboxStatsResponse {
            stats: Some(stats),
        }))
    }

    async fn list_pod_sandbox_stats(
        &self,
        r: Request<ListPodSandboxStatsRequest>,
    ) -> Reply<ListPodSandboxStatsResponse> {
        let stats = self.0.list_pod_sandbox_stats(r.into_inner().filter);
        Ok(Response::new(ListPodSandboxStatsResponse { stats }))
    }

    type StreamPodSandboxStatsStream = BoxStream<StreamPodSandboxStatsResponse>;
    async fn stream_pod_sandbox_stats(
        &self,
        r: Request<StreamPodSandboxStatsRequest>,
    ) -> Reply<Self::StreamPodSandboxStatsStream> {
        let pod_sandbox_stats = self.0.list_pod_sandbox_stats(r.into_inner().filter);
        Ok(Response::new(once(StreamPodSandboxStatsResponse {
            pod_sandbox_stats,
        })))
    }

    async fn update_runtime_config(
        &self,
        r: Request<UpdateRuntimeConfigRequest>,
    ) -> Reply<UpdateRuntimeConfigResponse> {
        // The pod CIDR goes to the CNI configuration, which the node's operator writes (as
        // with containerd when no CNI config template is set): nothing to change here.
        let cidr = r
            .into_inner()
            .runtime_config
            .and_then(|c| c.network_config)
            .map(|n| n.pod_cidr)
            .unwrap_or_default();
        if !cidr.is_empty() {
            tracing::info!(%cidr, "the kubelet set the pod CIDR");
        }
        Ok(Response::new(UpdateRuntimeConfigResponse {}))
    }

    async fn status(&self, r: Request<StatusRequest>) -> Reply<StatusResponse> {
        Ok(Response::new(self.0.runtime_status(r.into_inner().verbose)))
    }

    async fn checkpoint_container(
        &self,
        _: Request<CheckpointContainerRequest>,
    ) -> Reply<CheckpointContainerResponse> {
        Err(Status::unimplemented(
            "CheckpointContainer is not supported by berth",
        ))
    }

    type GetContainerEventsStream = BoxStream<ContainerEventResponse>;
    async fn get_container_events(
        &self,
        _: Request<GetEventsRequest>,
    ) -> Reply<Self::GetContainerEventsStream> {
        let rx = self.0.events.subscribe();
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(ev) => return Some((Ok(ev), rx)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_metric_descriptors(
        &self,
        _: Request<ListMetricDescriptorsRequest>,
    ) -> Reply<ListMetricDescriptorsResponse> {
        Err(Status::unimplemented(
            "CRI metrics are not supported by berth",
        ))
    }

    async fn list_pod_sandbox_metrics(
        &self,
        _: Request<ListPodSandboxMetricsRequest>,
    ) -> Reply<ListPodSandboxMetricsResponse> {
        Err(Status::unimplemented(
            "CRI metrics are not supported by berth",
        ))
    }

    type StreamPodSandboxMetricsStream = BoxStream<StreamPodSandboxMetricsResponse>;
    async fn stream_pod_sandbox_metrics(
        &self,
        _: Request<StreamPodSandboxMetricsRequest>,
    ) -> Reply<Self::StreamPodSandboxMetricsStream> {
        Err(Status::unimplemented(
            "CRI metrics are not supported by berth",
        ))
    }

    async fn runtime_config(
        &self,
        _: Request<RuntimeConfigRequest>,
    ) -> Reply<RuntimeConfigResponse> {
        Ok(Response::new(RuntimeConfigResponse {
            linux: Some(LinuxRuntimeConfiguration {
                cgroup_driver: CgroupDriver::Cgroupfs as i32,
            }),
        }))
    }

    async fn update_pod_sandbox_resources(
        &self,
        _: Request<UpdatePodSandboxResourcesRequest>,
    ) -> Reply<UpdatePodSandboxResourcesResponse> {
        Err(Status::unimplemented(
            "UpdatePodSandboxResources is not supported by berth",
        ))
    }
}

impl Cri {
    /// `Status`: the runtime is ready; the network is ready once a CNI config exists.
    pub fn runtime_status(&self, verbose: bool) -> StatusResponse {
        let network = self.cni.network();
        let mut conditions = vec![RuntimeCondition {
            r#type: "RuntimeReady".into(),
            status: true,
            reason: String::new(),
            message: String::new(),
        }];
        conditions.push(match &network {
            Ok(_) => RuntimeCondition {
                r#type: "NetworkReady".into(),
                status: true,
                reason: String::new(),
                message: String::new(),
            },
            Err(e) => RuntimeCondition {
                r#type: "NetworkReady".into(),
                status: false,
                reason: "NetworkPluginNotReady".into(),
                message: format!("Network plugin returns error: {e}"),
            },
        });
        let mut info = std::collections::HashMap::new();
        if verbose {
            let v = serde_json::json!({
                "cniconfig": {
                    "confDir": self.opts.cni_conf_dir,
                    "binDirs": self.opts.cni_bin_dirs,
                    "network": network.as_ref().ok().map(|n| n.source.display().to_string()),
                },
                "sandboxImage": self.opts.sandbox_image,
                "streamServer": self.streams.base_url(),
            });
            info.insert("config".to_string(), v.to_string());
        }
        StatusResponse {
            status: Some(RuntimeStatus { conditions }),
            info,
            runtime_handlers: vec![RuntimeHandler {
                name: String::new(),
                features: Some(RuntimeHandlerFeatures {
                    recursive_read_only_mounts: false,
                    user_namespaces: false,
                }),
            }],
            features: Some(RuntimeFeatures {
                supplemental_groups_policy: false,
                user_namespaces_host_network: false,
            }),
        }
    }
}

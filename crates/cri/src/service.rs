//! The gRPC services: each call parses its request, runs one method of
//! [`Cri`] (blocking ones off the async threads) and maps its error kind to
//! a gRPC status (in `error.rs`, once).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::api::{
    self, image_service_server::ImageService, runtime_service_server::RuntimeService,
};
use crate::error::{CriError, Kind};
use crate::Cri;

/// The runtime's name, as `crictl version` shows it.
pub const RUNTIME_NAME: &str = "berth";
/// The CRI version spoken.
pub const API_VERSION: &str = "v1";

/// The services over a shared [`Cri`].
#[derive(Debug, Clone)]
pub struct Services(pub Arc<Cri>);

type Answer<T> = Result<Response<T>, Status>;

/// Runs a blocking call of the CRI server off the async threads.
async fn blocking<T: Send + 'static>(
    cri: &Arc<Cri>,
    f: impl FnOnce(&Cri) -> Result<T, CriError> + Send + 'static,
) -> Result<T, Status> {
    let cri = cri.clone();
    match tokio::task::spawn_blocking(move || f(&cri)).await {
        Ok(r) => r.map_err(Status::from),
        Err(e) => Err(Status::internal(format!("task failed: {e}"))),
    }
}

fn ok<T>(v: T) -> Answer<T> {
    Ok(Response::new(v))
}

#[tonic::async_trait]
impl RuntimeService for Services {
    async fn version(&self, _r: Request<api::VersionRequest>) -> Answer<api::VersionResponse> {
        ok(api::VersionResponse {
            version: "0.1.0".into(),
            runtime_name: RUNTIME_NAME.into(),
            runtime_version: env!("CARGO_PKG_VERSION").into(),
            runtime_api_version: API_VERSION.into(),
        })
    }

    async fn run_pod_sandbox(
        &self,
        r: Request<api::RunPodSandboxRequest>,
    ) -> Answer<api::RunPodSandboxResponse> {
        let req = r.into_inner();
        let id = blocking(&self.0, move |c| c.run_pod_sandbox(req)).await?;
        ok(api::RunPodSandboxResponse { pod_sandbox_id: id })
    }

    async fn stop_pod_sandbox(
        &self,
        r: Request<api::StopPodSandboxRequest>,
    ) -> Answer<api::StopPodSandboxResponse> {
        let id = r.into_inner().pod_sandbox_id;
        blocking(&self.0, move |c| c.stop_pod_sandbox(&id)).await?;
        ok(api::StopPodSandboxResponse {})
    }

    async fn remove_pod_sandbox(
        &self,
        r: Request<api::RemovePodSandboxRequest>,
    ) -> Answer<api::RemovePodSandboxResponse> {
        let id = r.into_inner().pod_sandbox_id;
        blocking(&self.0, move |c| c.remove_pod_sandbox(&id)).await?;
        ok(api::RemovePodSandboxResponse {})
    }

    async fn pod_sandbox_status(
        &self,
        r: Request<api::PodSandboxStatusRequest>,
    ) -> Answer<api::PodSandboxStatusResponse> {
        let req = r.into_inner();
        ok(blocking(&self.0, move |c| {
            c.pod_sandbox_status(&req.pod_sandbox_id, req.verbose)
        })
        .await?)
    }

    async fn list_pod_sandbox(
        &self,
        r: Request<api::ListPodSandboxRequest>,
    ) -> Answer<api::ListPodSandboxResponse> {
        let req = r.into_inner();
        let items = blocking(&self.0, move |c| c.list_pod_sandbox(req.filter.as_ref())).await?;
        ok(api::ListPodSandboxResponse { items })
    }

    async fn create_container(
        &self,
        r: Request<api::CreateContainerRequest>,
    ) -> Answer<api::CreateContainerResponse> {
        let req = r.into_inner();
        let id = blocking(&self.0, move |c| c.create_container(req)).await?;
        ok(api::CreateContainerResponse { container_id: id })
    }

    async fn start_container(
        &self,
        r: Request<api::StartContainerRequest>,
    ) -> Answer<api::StartContainerResponse> {
        let id = r.into_inner().container_id;
        blocking(&self.0, move |c| c.start_container(&id)).await?;
        ok(api::StartContainerResponse {})
    }

    async fn stop_container(
        &self,
        r: Request<api::StopContainerRequest>,
    ) -> Answer<api::StopContainerResponse> {
        let req = r.into_inner();
        blocking(&self.0, move |c| {
            c.stop_container(&req.container_id, req.timeout)
        })
        .await?;
        ok(api::StopContainerResponse {})
    }

    async fn remove_container(
        &self,
        r: Request<api::RemoveContainerRequest>,
    ) -> Answer<api::RemoveContainerResponse> {
        let id = r.into_inner().container_id;
        blocking(&self.0, move |c| c.remove_container(&id)).await?;
        ok(api::RemoveContainerResponse {})
    }

    async fn list_containers(
        &self,
        r: Request<api::ListContainersRequest>,
    ) -> Answer<api::ListContainersResponse> {
        let req = r.into_inner();
        let containers = blocking(&self.0, move |c| c.list_containers(req.filter.as_ref())).await?;
        ok(api::ListContainersResponse { containers })
    }

    async fn container_status(
        &self,
        r: Request<api::ContainerStatusRequest>,
    ) -> Answer<api::ContainerStatusResponse> {
        let req = r.into_inner();
        ok(blocking(&self.0, move |c| {
            c.container_status(&req.container_id, req.verbose)
        })
        .await?)
    }

    async fn update_container_resources(
        &self,
        r: Request<api::UpdateContainerResourcesRequest>,
    ) -> Answer<api::UpdateContainerResourcesResponse> {
        let req = r.into_inner();
        blocking(&self.0, move |c| c.update_container_resources(&req)).await?;
        ok(api::UpdateContainerResourcesResponse {})
    }

    async fn reopen_container_log(
        &self,
        r: Request<api::ReopenContainerLogRequest>,
    ) -> Answer<api::ReopenContainerLogResponse> {
        let id = r.into_inner().container_id;
        blocking(&self.0, move |c| c.reopen_container_log(&id)).await?;
        ok(api::ReopenContainerLogResponse {})
    }

    async fn exec_sync(&self, r: Request<api::ExecSyncRequest>) -> Answer<api::ExecSyncResponse> {
        let req = r.into_inner();
        ok(self.0.exec_sync(&req).await?)
    }

    async fn exec(&self, r: Request<api::ExecRequest>) -> Answer<api::ExecResponse> {
        let req = r.into_inner();
        let url = blocking(&self.0, move |c| c.stream_exec(req)).await?;
        ok(api::ExecResponse { url })
    }

    async fn attach(&self, r: Request<api::AttachRequest>) -> Answer<api::AttachResponse> {
        let req = r.into_inner();
        let url = blocking(&self.0, move |c| c.stream_attach(req)).await?;
        ok(api::AttachResponse { url })
    }

    async fn port_forward(
        &self,
        r: Request<api::PortForwardRequest>,
    ) -> Answer<api::PortForwardResponse> {
        let req = r.into_inner();
        let url = blocking(&self.0, move |c| c.stream_port_forward(req)).await?;
        ok(api::PortForwardResponse { url })
    }

    async fn container_stats(
        &self,
        r: Request<api::ContainerStatsRequest>,
    ) -> Answer<api::ContainerStatsResponse> {
        let id = r.into_inner().container_id;
        let stats = blocking(&self.0, move |c| c.container_stats(&id)).await?;
        ok(api::ContainerStatsResponse { stats: Some(stats) })
    }

    async fn list_container_stats(
        &self,
        r: Request<api::ListContainerStatsRequest>,
    ) -> Answer<api::ListContainerStatsResponse> {
        let req = r.into_inner();
        let stats = blocking(&self.0, move |c| {
            c.list_container_stats(req.filter.as_ref())
        })
        .await?;
        ok(api::ListContainerStatsResponse { stats })
    }

    async fn pod_sandbox_stats(
        &self,
        r: Request<api::PodSandboxStatsRequest>,
    ) -> Answer<api::PodSandboxStatsResponse> {
        let id = r.into_inner().pod_sandbox_id;
        let stats = blocking(&self.0, move |c| c.pod_sandbox_stats(&id)).await?;
        ok(api::PodSandboxStatsResponse { stats: Some(stats) })
    }

    async fn list_pod_sandbox_stats(
        &self,
        r: Request<api::ListPodSandboxStatsRequest>,
    ) -> Answer<api::ListPodSandboxStatsResponse> {
        let req = r.into_inner();
        let stats = blocking(&self.0, move |c| {
            c.list_pod_sandbox_stats(req.filter.as_ref())
        })
        .await?;
        ok(api::ListPodSandboxStatsResponse { stats })
    }

    async fn update_runtime_config(
        &self,
        _r: Request<api::UpdateRuntimeConfigRequest>,
    ) -> Answer<api::UpdateRuntimeConfigResponse> {
        // The pod CIDR the kubelet hands down is the CNI config's business
        // (as with containerd's default config); nothing else is in it.
        ok(api::UpdateRuntimeConfigResponse {})
    }

    async fn status(&self, r: Request<api::StatusRequest>) -> Answer<api::StatusResponse> {
        let verbose = r.into_inner().verbose;
        let network = self.0.cni.ready();
        let conditions = vec![
            api::RuntimeCondition {
                r#type: "RuntimeReady".into(),
                status: true,
                reason: String::new(),
                message: String::new(),
            },
            api::RuntimeCondition {
                r#type: "NetworkReady".into(),
                status: network.is_ok(),
                reason: if network.is_ok() {
                    String::new()
                } else {
                    "NetworkPluginNotReady".into()
                },
                message: network.err().unwrap_or_default(),
            },
        ];
        let mut info = HashMap::new();
        if verbose {
            let cfg = &self.0.cfg;
            info.insert(
                "config".to_string(),
                serde_json::json!({
                    "root": cfg.root, "state": cfg.state,
                    "streamServer": self.0.stream_base(),
                    "cniConfDir": cfg.cni_conf_dir, "cniBinDirs": cfg.cni_bin_dirs,
                    "cgroupParent": cfg.cgroup_parent,
                })
                .to_string(),
            );
        }
        ok(api::StatusResponse {
            status: Some(api::RuntimeStatus { conditions }),
            info,
        })
    }

    async fn checkpoint_container(
        &self,
        _r: Request<api::CheckpointContainerRequest>,
    ) -> Answer<api::CheckpointContainerResponse> {
        Err(CriError::new(Kind::Unimplemented, "checkpoint/restore is not supported").into())
    }

    type GetContainerEventsStream = Pin<
        Box<dyn tokio_stream::Stream<Item = Result<api::ContainerEventResponse, Status>> + Send>,
    >;

    async fn get_container_events(
        &self,
        _r: Request<api::GetEventsRequest>,
    ) -> Answer<Self::GetContainerEventsStream> {
        let cri = self.0.clone();
        let rx = cri.events.subscribe();
        cri.watch_exits();
        let stream = tokio_stream::wrappers::BroadcastStream::new(rx);
        let stream = tokio_stream::StreamExt::filter_map(stream, move |ev| {
            let (id, what): (String, api::ContainerEventType) = ev.ok()?;
            let status = cri.container_status(&id, false).ok().and_then(|s| s.status);
            let sandbox = status
                .as_ref()
                .and_then(|_| cri.container(&id).ok())
                .and_then(|c| cri.pod_sandbox_status(&c.sandbox_id, false).ok())
                .and_then(|s| s.status);
            Some(Ok(api::ContainerEventResponse {
                container_id: id.clone(),
                container_event_type: what as i32,
                created_at: crate::time::now_ns(),
                pod_sandbox_status: sandbox,
                containers_statuses: status.into_iter().collect(),
            }))
        });
        ok(Box::pin(stream))
    }

    async fn list_metric_descriptors(
        &self,
        _r: Request<api::ListMetricDescriptorsRequest>,
    ) -> Answer<api::ListMetricDescriptorsResponse> {
        ok(api::ListMetricDescriptorsResponse::default())
    }

    async fn list_pod_sandbox_metrics(
        &self,
        _r: Request<api::ListPodSandboxMetricsRequest>,
    ) -> Answer<api::ListPodSandboxMetricsResponse> {
        ok(api::ListPodSandboxMetricsResponse::default())
    }
}

#[tonic::async_trait]
impl ImageService for Services {
    async fn list_images(
        &self,
        r: Request<api::ListImagesRequest>,
    ) -> Answer<api::ListImagesResponse> {
        let req = r.into_inner();
        let images = blocking(&self.0, move |c| {
            crate::images::list(&c.engine, req.filter.as_ref())
        })
        .await?;
        ok(api::ListImagesResponse { images })
    }

    async fn image_status(
        &self,
        r: Request<api::ImageStatusRequest>,
    ) -> Answer<api::ImageStatusResponse> {
        let req = r.into_inner();
        ok(blocking(&self.0, move |c| {
            crate::images::status(&c.engine, req.image.as_ref(), req.verbose)
        })
        .await?)
    }

    async fn pull_image(
        &self,
        r: Request<api::PullImageRequest>,
    ) -> Answer<api::PullImageResponse> {
        let req = r.into_inner();
        let image_ref = crate::images::pull(
            &self.0.engine,
            &self.0.cfg.registry,
            req.image.as_ref(),
            req.auth.as_ref(),
        )
        .await?;
        ok(api::PullImageResponse { image_ref })
    }

    async fn remove_image(
        &self,
        r: Request<api::RemoveImageRequest>,
    ) -> Answer<api::RemoveImageResponse> {
        let req = r.into_inner();
        blocking(&self.0, move |c| {
            crate::images::remove(&c.engine, req.image.as_ref())
        })
        .await?;
        ok(api::RemoveImageResponse {})
    }

    async fn image_fs_info(
        &self,
        _r: Request<api::ImageFsInfoRequest>,
    ) -> Answer<api::ImageFsInfoResponse> {
        ok(blocking(&self.0, |c| {
            crate::images::fs_info(&c.engine, &c.image_root())
        })
        .await?)
    }
}

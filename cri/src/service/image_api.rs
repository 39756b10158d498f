//! The CRI ImageService: thin handlers over `images`. A pull runs in its own task: a
//! kubelet that gives up does not leave half an image behind (the pull finishes).
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tonic::{Request, Response, Status};

use super::runtime_api::detached;
use super::Cri;
use crate::proto::image_service_server::ImageService;
use crate::proto::*;

pub struct ImageApi(pub Arc<Cri>);

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ImageService for ImageApi {
    async fn list_images(&self, r: Request<ListImagesRequest>) -> Reply<ListImagesResponse> {
        let images = self.0.list_images(r.into_inner().filter);
        Ok(Response::new(ListImagesResponse { images }))
    }

    type StreamImagesStream =
        Pin<Box<dyn Stream<Item = Result<StreamImagesResponse, Status>> + Send + 'static>>;
    async fn stream_images(
        &self,
        r: Request<StreamImagesRequest>,
    ) -> Reply<Self::StreamImagesStream> {
        let images = self.0.list_images(r.into_inner().filter);
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(
            StreamImagesResponse { images },
        )]))))
    }

    async fn image_status(&self, r: Request<ImageStatusRequest>) -> Reply<ImageStatusResponse> {
        let r = r.into_inner();
        Ok(Response::new(self.0.image_status(r.image, r.verbose)?))
    }

    async fn pull_image(&self, r: Request<PullImageRequest>) -> Reply<PullImageResponse> {
        let r = r.into_inner();
        let cri = self.0.clone();
        let image_ref = detached(async move { cri.pull_image(r.image, r.auth).await }).await?;
        Ok(Response::new(PullImageResponse { image_ref }))
    }

    async fn remove_image(&self, r: Request<RemoveImageRequest>) -> Reply<RemoveImageResponse> {
        let cri = self.0.clone();
        let image = r.into_inner().image;
        detached(async move { cri.remove_image(image).await }).await?;
        Ok(Response::new(RemoveImageResponse {}))
    }

    async fn image_fs_info(&self, _: Request<ImageFsInfoRequest>) -> Reply<ImageFsInfoResponse> {
        Ok(Response::new(self.0.image_fs_info()))
    }
}

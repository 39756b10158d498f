//! The layers of a pull: downloads run 3 at a time (dockerd's max-concurrent-downloads),
//! unpacking goes strictly in order, each layer as soon as it and the ones below are in.
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::client::RegistryClient;
use super::download::{fetch_blob, DownloadReport};
use super::manifest::Descriptor;
use super::{RegistryError, RegistryResult};
use crate::progress::{short_id, ProgressSink};
use crate::state::SharedDaemon;
use crate::store::images::LayerRecord;

/// Downloads at once, as dockerd's default `max-concurrent-downloads`.
pub const MAX_CONCURRENT_DOWNLOADS: usize = 3;

/// One layer of the manifest and where it goes.
#[derive(Debug, Clone)]
pub struct LayerPlan {
    pub descriptor: Descriptor,
    pub diff_id: String,
    pub chain_id: String,
    pub parent: Option<String>,
    /// Already unpacked under its chain ID ("Already exists").
    pub present: bool,
}

/// Brings every layer of `plans` (bottom first) into the layer store; returns the
/// image record's layer list.
pub async fn pull_layers(
    daemon: &SharedDaemon,
    client: &RegistryClient,
    image: &oci_client::Reference,
    plans: Vec<LayerPlan>,
    sink: &ProgressSink,
) -> RegistryResult<Vec<LayerRecord>> {
    // Announce, as dockerd does: present layers first line, then the ones to fetch.
    let mut queued = 0usize;
    for plan in &plans {
        let id = short_id(&plan.descriptor.digest);
        if plan.present {
            sink.action(&id, "Already exists").await;
        } else {
            sink.action(&id, "Pulling fs layer").await;
        }
    }
    for plan in plans.iter().filter(|p| !p.present) {
        if queued >= MAX_CONCURRENT_DOWNLOADS {
            sink.action(&short_id(&plan.descriptor.digest), "Waiting")
                .await;
        }
        queued += 1;
    }

    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_DOWNLOADS));
    let mut downloads: Vec<Option<JoinHandle<RegistryResult<u64>>>> =
        Vec::with_capacity(plans.len());
    for plan in &plans {
        if plan.present {
            downloads.push(None);
            continue;
        }
        let (daemon, client, image, sink, slots) = (
            daemon.clone(),
            client.clone(),
            image.clone(),
            sink.clone(),
            slots.clone(),
        );
        let descriptor = plan.descriptor.clone();
        downloads.push(Some(tokio::spawn(async move {
            let _slot = slots
                .acquire_owned()
                .await
                .map_err(|e| RegistryError::Internal(e.to_string()))?;
            let id = short_id(&descriptor.digest);
            fetch_blob(
                &daemon,
                &client,
                &image,
                &descriptor,
                Some(DownloadReport {
                    sink: &sink,
                    id: &id,
                }),
            )
            .await
        })));
    }

    let result = unpack_in_order(daemon, &plans, &mut downloads, sink).await;
    if result.is_err() {
        // Stop the downloads still running; their partial blobs are discarded.
        for handle in downloads.iter().flatten() {
            handle.abort();
        }
    }
    result
}

async fn unpack_in_order(
    daemon: &SharedDaemon,
    plans: &[LayerPlan],
    downloads: &mut [Option<JoinHandle<RegistryResult<u64>>>],
    sink: &ProgressSink,
) -> RegistryResult<Vec<LayerRecord>> {
    let mut records = Vec::with_capacity(plans.len());
    for (plan, download) in plans.iter().zip(downloads.iter_mut()) {
        let size = match download.take() {
            None => match daemon.layers.get(&plan.chain_id)? {
                Some(info) => info.size,
                None => {
                    return Err(RegistryError::Internal(format!(
                        "layer {} vanished during the pull",
                        plan.chain_id
                    )))
                }
            },
            Some(handle) => {
                handle.await??;
                unpack_layer(daemon, plan, sink).await?
            }
        };
        records.push(LayerRecord {
            diff_id: plan.diff_id.clone(),
            chain_id: plan.chain_id.clone(),
            blob_digest: Some(plan.descriptor.digest.clone()),
            media_type: Some(plan.descriptor.media_type.clone()),
            blob_size: plan.descriptor.size,
            size,
        });
    }
    Ok(records)
}

/// Unpacks one downloaded layer on top of its parent, reporting "Extracting" from a
/// ticker while the blocking unpack runs. Returns the unpacked size.
async fn unpack_layer(
    daemon: &SharedDaemon,
    plan: &LayerPlan,
    sink: &ProgressSink,
) -> RegistryResult<u64> {
    let id = short_id(&plan.descriptor.digest);
    let total = daemon.content.size(&plan.descriptor.digest)?;
    let read = Arc::new(AtomicU64::new(0));

    let ticker = {
        let (sink, id, read) = (sink.clone(), id.clone(), read.clone());
        tokio::spawn(async move {
            loop {
                let current = read.load(Ordering::Relaxed);
                if current > 0 && current < total {
                    sink.bytes(&id, "Extracting", current, total).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let (task_daemon, task_plan, task_read) = (daemon.clone(), plan.clone(), read.clone());
    let unpacked = tokio::task::spawn_blocking(move || {
        let blob = task_daemon
            .content
            .open_blob(&task_plan.descriptor.digest)?;
        let reader = CountingReader {
            inner: blob,
            count: task_read,
        };
        task_daemon
            .layers
            .unpack(task_plan.parent.as_deref(), &task_plan.diff_id, reader)
    })
    .await;
    ticker.abort();
    let info = unpacked??;
    if info.chain_id != plan.chain_id {
        return Err(RegistryError::Internal(format!(
            "layer unpacked as {} but expected chain ID {}",
            info.chain_id, plan.chain_id
        )));
    }
    sink.bytes(&id, "Extracting", total, total).await;
    sink.action(&id, "Pull complete").await;
    Ok(info.size)
}

/// Counts the bytes read through it (the compressed blob, as dockerd's "Extracting").
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

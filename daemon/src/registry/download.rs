//! One blob from a registry into the content store, reporting "Downloading" progress.
//!
//! The bytes go through a bounded channel to a blocking writer (`ContentStore::writer`),
//! which commits — verifies the digest, fsyncs, renames — only once the whole blob has
//! arrived; an interrupted download leaves nothing but a temporary ingest file, removed
//! when the writer is dropped (or, after a crash, when the store is next opened).
use bytes::Bytes;
use futures::StreamExt;
use oci_client::client::LayerDescriptor;
use tokio::sync::mpsc;

use super::client::RegistryClient;
use super::manifest::Descriptor;
use super::{RegistryError, RegistryResult};
use crate::progress::ProgressSink;
use crate::state::SharedDaemon;
use crate::store::content::BlobWriter;
use crate::store::StoreError;

/// Where to report a download: the sink and the id the layer is shown under.
pub struct DownloadReport<'a> {
    pub sink: &'a ProgressSink,
    pub id: &'a str,
}

enum WriteCommand {
    Chunk(Bytes),
    /// Everything arrived: verify and commit.
    Finish,
}

/// Makes sure the blob `descriptor` is in the content store, downloading it from
/// `image`'s repository if needed. Returns its size.
pub async fn fetch_blob(
    daemon: &SharedDaemon,
    client: &RegistryClient,
    image: &oci_client::Reference,
    descriptor: &Descriptor,
    report: Option<DownloadReport<'_>>,
) -> RegistryResult<u64> {
    if daemon.content.exists(&descriptor.digest) {
        return Ok(daemon.content.size(&descriptor.digest)?);
    }
    client
        .oci
        .store_auth_if_needed(image.resolve_registry(), &client.auth)
        .await;
    let layer = LayerDescriptor {
        digest: &descriptor.digest,
        urls: &descriptor.urls,
    };
    let mut stream = client
        .oci
        .pull_blob_stream(image, &layer)
        .await
        .map_err(|e| client.translate(e))?;
    let total = if descriptor.size > 0 {
        descriptor.size
    } else {
        stream.content_length.unwrap_or(0)
    };

    let writer = daemon.content.writer(&descriptor.digest)?;
    let (tx, rx) = mpsc::channel::<WriteCommand>(16);
    let write_task = tokio::task::spawn_blocking(move || write_blob(writer, rx));

    let mut received = 0u64;
    let mut failure = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                received += bytes.len() as u64;
                if tx.send(WriteCommand::Chunk(bytes)).await.is_err() {
                    break; // The writer failed; its error is collected below.
                }
                if let Some(report) = &report {
                    report
                        .sink
                        .bytes(report.id, "Downloading", received, total)
                        .await;
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if let Some(e) = failure {
        drop(tx); // The writer sees no Finish and discards the partial blob.
        let _ = write_task.await;
        tracing::warn!(digest = %descriptor.digest, error = %e, "blob download failed");
        return Err(download_error(&descriptor.digest, e));
    }
    if let Some(report) = &report {
        report.sink.action(report.id, "Verifying Checksum").await;
    }
    // If the writer already failed, this send fails too and the error comes from the task.
    let _ = tx.send(WriteCommand::Finish).await;
    drop(tx);
    let size = write_task.await??;
    if let Some(report) = &report {
        report.sink.action(report.id, "Download complete").await;
    }
    Ok(size)
}

/// The blocking side: writes chunks, commits on `Finish`, discards on a closed channel.
fn write_blob(mut writer: BlobWriter, mut rx: mpsc::Receiver<WriteCommand>) -> RegistryResult<u64> {
    while let Some(command) = rx.blocking_recv() {
        match command {
            WriteCommand::Chunk(bytes) => writer.write(&bytes)?,
            WriteCommand::Finish => return Ok(writer.commit()?),
        }
    }
    Err(RegistryError::Network(format!(
        "download of {} was interrupted",
        writer.expected_digest()
    )))
}

fn download_error(digest: &str, e: std::io::Error) -> RegistryError {
    let text = e.to_string();
    if text.contains("digest") || text.contains("Digest") {
        RegistryError::Store(StoreError::DigestMismatch {
            expected: digest.to_string(),
            actual: text,
        })
    } else {
        RegistryError::Network(text)
    }
}

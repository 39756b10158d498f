//! `POST /images/create?fromSrc=…`: `docker import` — a root filesystem tarball (the
//! request body for `fromSrc=-`, or an http(s) URL) becomes a one-layer image.
//!
//! Order on disk, as for pulls: the tarball as a verified blob, the unpacked layer, the
//! config blob, then the image record and its tag. dockerd answers with one line,
//! `{"status":"sha256:<id>"}`, once the image exists.
use std::io::Read;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::Response;
use futures::StreamExt;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use crate::api::ApiError;
use crate::containers::commit_config::{apply_changes, go_config};
use crate::reference::Reference;
use crate::registry::platform::Platform;
use crate::state::SharedDaemon;
use crate::store::images::{ImageRecord, LayerRecord};
use crate::store::layers::LayerStore;
use crate::store::StoreError;

/// What `docker import` asked for.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    /// "-" (the body) or an http(s) URL.
    pub source: String,
    /// Name (and maybe tag) to give the image.
    pub repo: Option<String>,
    pub tag: Option<String>,
    pub message: Option<String>,
    /// Dockerfile instructions applied to the config (`--change`).
    pub changes: Vec<String>,
}

/// Imports the tarball and answers dockerd's single status line.
pub async fn import(
    daemon: SharedDaemon,
    request: ImportRequest,
    body: Body,
) -> Result<Response, ApiError> {
    let (target, container_config) = match target_and_config(&request) {
        Ok(checked) => checked,
        Err(e) => {
            crate::api::body::discard(body).await;
            return Err(e);
        }
    };
    // The layer is unpacked before the record exists: keep collections away until then.
    let lease_holder = daemon.clone();
    let _lease = lease_holder.gc_gate.writer().await;

    // The tarball into a temporary file, hashed on the way. It lives in the content
    // store's ingest folder, which the store empties when it opens: a crash mid-import
    // leaves nothing behind after the next start.
    let tmp_dir = daemon.config.data_root.join("content").join("ingest");
    tokio::fs::create_dir_all(&tmp_dir)
        .await
        .map_err(|e| ApiError::internal(format!("create {}: {e}", tmp_dir.display())))?;
    let temp = tempfile::Builder::new()
        .prefix("import-")
        .tempfile_in(&tmp_dir)
        .map_err(|e| ApiError::internal(format!("temporary file in {}: {e}", tmp_dir.display())))?;
    let blob_digest = receive(&request.source, body, temp.path()).await?;

    let comment = request
        .message
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("Imported from {}", request.source));
    let image_id = tokio::task::spawn_blocking(move || -> Result<String, ApiError> {
        let id = store_image(
            &daemon,
            temp.path(),
            &blob_digest,
            &comment,
            container_config,
        )?;
        if let Some(target) = target {
            daemon.images.set_ref(&target.to_string(), &id)?;
            crate::events::image::publish(&daemon, "tag", &id, &target.familiar());
        }
        crate::events::image::publish(&daemon, "import", &id, &id);
        Ok(id)
    })
    .await
    .map_err(|e| ApiError::internal(format!("import task failed: {e}")))??;
    tracing::info!(image = %image_id, source = %request.source, "imported image");

    let mut line = serde_json::to_vec(&json!({ "status": image_id })).unwrap_or_default();
    line.extend_from_slice(b"\r\n");
    let mut response = Response::new(Body::from(line));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// Copies the source into `path`; returns the sha256 digest of what was written.
async fn receive(source: &str, body: Body, path: &std::path::Path) -> Result<String, ApiError> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| ApiError::internal(format!("create {}: {e}", path.display())))?;
    let mut hasher = Sha256::new();
    let io_error = |e: std::io::Error| ApiError::internal(format!("write {}: {e}", path.display()));
    if source == "-" {
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk
                .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(io_error)?;
        }
    } else if source.starts_with("http://") || source.starts_with("https://") {
        let answer = reqwest::get(source)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if !answer.status().is_success() {
            return Err(ApiError::internal(format!(
                "Get \"{source}\": unexpected status {}",
                answer.status()
            )));
        }
        let mut stream = answer.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::internal(e.to_string()))?;
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(io_error)?;
        }
    } else {
        return Err(ApiError::bad_request(format!(
            "invalid fromSrc {source:?}: \"-\" or an http(s) URL"
        )));
    }
    file.sync_all().await.map_err(io_error)?;
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// The blocking part: blob, layer, config, record. Returns the image ID.
fn store_image(
    daemon: &SharedDaemon,
    tarball: &std::path::Path,
    blob_digest: &str,
    comment: &str,
    config: Value,
) -> Result<String, ApiError> {
    let open = |p: &std::path::Path| {
        std::fs::File::open(p).map_err(|e| StoreError::io(format!("open {}", p.display()), e))
    };
    let (diff_id, media_type) = diff_id_of(open(tarball)?)?;
    if !daemon.content.exists(blob_digest) {
        let mut writer = daemon.content.writer(blob_digest)?;
        writer.write_from(open(tarball)?)?;
        writer.commit()?;
    }
    let info = daemon
        .layers
        .unpack(None, &diff_id, daemon.content.open_blob(blob_digest)?)?;
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let host = Platform::host();
    let image_config = json!({
        "architecture": host.architecture,
        "comment": comment,
        "config": config,
        "created": created,
        "docker_version": "",
        "history": [{ "created": created, "comment": comment }],
        "os": "linux",
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
    });
    let bytes = serde_json::to_vec(&image_config).map_err(|e| ApiError::internal(e.to_string()))?;
    let id = daemon.content.write_bytes(&bytes)?;
    let layer = LayerRecord {
        diff_id: diff_id.clone(),
        chain_id: LayerStore::chain_id(None, &diff_id),
        blob_digest: Some(blob_digest.to_string()),
        media_type: Some(media_type.to_string()),
        blob_size: daemon.content.size(blob_digest)?,
        size: info.size,
    };
    daemon
        .images
        .insert(ImageRecord::local(id.clone(), vec![layer], String::new()))?;
    Ok(id)
}

/// The digest of the uncompressed tar (gzip, zstd or plain), and the blob's media type.
fn diff_id_of(mut file: std::fs::File) -> Result<(String, &'static str), ApiError> {
    let mut magic = [0u8; 4];
    let n = file
        .read(&mut magic)
        .map_err(|e| ApiError::internal(format!("read the tarball: {e}")))?;
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let whole = head.chain(file);
    let (reader, media_type): (Box<dyn Read>, &'static str) = match &magic[..n] {
        [0x1f, 0x8b, ..] => (
            Box::new(flate2::read::GzDecoder::new(whole)),
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        ),
        [0x28, 0xb5, 0x2f, 0xfd] => (
            Box::new(
                zstd::stream::read::Decoder::new(whole)
                    .map_err(|e| ApiError::bad_request(format!("zstd tarball: {e}")))?,
            ),
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ),
        [b'B', b'Z', b'h', ..] | [0xfd, b'7', b'z', b'X'] => {
            return Err(ApiError::bad_request(
                "bzip2 and xz tarballs are not supported: use a plain, gzip or zstd tar",
            ))
        }
        _ => (
            Box::new(whole),
            "application/vnd.docker.image.rootfs.diff.tar",
        ),
    };
    let mut hashing = crate::store::digest::HashingReader::new(reader);
    // Read as a tar first (a body that is none is refused before anything is stored,
    // with dockerd's text), then to its end: the diff ID covers every byte.
    let not_a_tar = |e: std::io::Error| {
        ApiError::bad_request(format!(
            "Error processing tar file(exit status 1): {}",
            crate::in_root::go_tar_message(&e)
        ))
    };
    {
        let mut archive = tar::Archive::new(&mut hashing);
        for entry in archive.entries().map_err(not_a_tar)? {
            let mut entry = entry.map_err(not_a_tar)?;
            std::io::copy(&mut entry, &mut std::io::sink()).map_err(not_a_tar)?;
        }
    }
    std::io::copy(&mut hashing, &mut std::io::sink())
        .map_err(|e| ApiError::bad_request(format!("reading the tarball: {e}")))?;
    Ok((hashing.digest(), media_type))
}

/// The import's target reference and image config, checked before the upload is read.
fn target_and_config(request: &ImportRequest) -> Result<(Option<Reference>, Value), ApiError> {
    let target = match request.repo.as_deref().filter(|r| !r.is_empty()) {
        None => None,
        Some(repo) => {
            let mut reference = Reference::parse(repo)?;
            if let Some(tag) = request.tag.as_deref() {
                reference = reference.with_tag(tag);
                Reference::parse(&reference.to_string())?;
            }
            if reference.digest.is_some() {
                return Err(ApiError::bad_request(
                    "cannot import with a digest reference",
                ));
            }
            Some(if reference.tag.is_none() {
                reference.with_tag(crate::reference::DEFAULT_TAG)
            } else {
                reference
            })
        }
    };
    let container_config = config_from_changes(&request.changes)?;
    Ok((target, container_config))
}

/// A container config (Go's `container.Config`, every field present as dockerd writes
/// it) with the `--change` instructions applied: the same instructions and checks as
/// `docker commit --change` (dockerd's `BuildFromConfig` serves both).
pub fn config_from_changes(changes: &[String]) -> Result<Value, ApiError> {
    let mut config = go_config(&Value::Null);
    apply_changes(&mut config, changes)?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_build_the_config() {
        let config = config_from_changes(&[
            "CMD [\"/bin/sh\"]".to_string(),
            "ENV A=1 B=\"two words\"".to_string(),
            "WORKDIR /srv".to_string(),
            "EXPOSE 80".to_string(),
            "LABEL x=y".to_string(),
            "ENTRYPOINT echo hi".to_string(),
        ])
        .expect("valid changes");
        assert_eq!(config["Cmd"], json!(["/bin/sh"]));
        assert_eq!(config["Env"], json!(["A=1", "B=two words"]));
        assert_eq!(config["WorkingDir"], json!("/srv"));
        assert_eq!(config["ExposedPorts"], json!({"80/tcp": {}}));
        assert_eq!(config["Labels"], json!({"x": "y"}));
        assert_eq!(config["Entrypoint"], json!(["/bin/sh", "-c", "echo hi"]));
        let err = config_from_changes(&["RUN true".to_string()]).unwrap_err();
        assert_eq!(err.to_string(), "run is not a valid change command");
        assert_eq!(config_from_changes(&[]).expect("empty")["Cmd"], Value::Null);
    }
}

//! `GET /containers/{id}/export`: the container's root as a tar stream (the overlay of
//! its image and its changes), held mounted while the tar is written, each entry read by
//! handle (`in_root::tar_out`): a running container swapping its folders for symlinks
//! gets the symlinks archived, never the host's files they point at.
use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::record::Container;
use super::{rootfs, Result};
use crate::in_root::tar_out::{self, TreeTar};
use crate::in_root::walk::{self, Entry};

/// A `Write` that hands chunks to the response body (from a blocking thread).
pub(crate) struct ChannelWriter {
    pub(crate) tx: mpsc::Sender<std::io::Result<Bytes>>,
}

/// The size of the chunks sent: a tar written entry by entry would otherwise go out in
/// 512-byte headers and small files, one body chunk (and one client write) each.
pub(crate) const CHUNK: usize = 64 * 1024;

impl ChannelWriter {
    /// A writer sending whole `CHUNK`s (the rest when it is dropped).
    pub(crate) fn buffered(
        tx: mpsc::Sender<std::io::Result<Bytes>>,
    ) -> std::io::BufWriter<ChannelWriter> {
        std::io::BufWriter::with_capacity(CHUNK, ChannelWriter { tx })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes every entry under `root`.
fn write_tar(root: &Path, out: impl Write) -> std::io::Result<()> {
    let dir = std::fs::File::open(root)?;
    let root = Entry::from_fd(walk::open_beneath(dir.as_fd(), Path::new(""))?)?;
    let mut tar = TreeTar::new(out);
    tar.append_children(&root, Path::new(""), &tar_out::no_mounts)?;
    tar.finish().map(drop)
}

/// Starts the export; the receiver yields the tar's bytes. `written` runs once the whole
/// tar has been handed over (dockerd's `export` event comes then, not for a cut export).
pub fn export(
    c: Container,
    layers_root: &Path,
    written: impl FnOnce(&Container) + Send + 'static,
) -> Result<mpsc::Receiver<std::io::Result<Bytes>>> {
    let merged = rootfs::mount_rootfs(&c, layers_root)?;
    let (tx, rx) = mpsc::channel(16);
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter::buffered(tx.clone());
        match write_tar(&merged, writer) {
            Ok(()) => written(&c),
            Err(e) => {
                tracing::debug!(id = %c.id, error = %e, "export ended early");
                let _ = tx.blocking_send(Err(e));
            }
        }
        rootfs::unmount_rootfs(&c);
    });
    Ok(rx)
}

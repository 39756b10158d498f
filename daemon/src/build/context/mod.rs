//! The build context: the tar `POST /build` uploads (plain, gzip, bzip2, xz or zstd),
//! unpacked safely into a scratch folder that is removed with the `BuildContext`.
//!
//! As dockerd 20.10 (`builder/remotecontext`): the tar is unpacked as it is (modes,
//! times, owners from its headers; names may not climb out, symlinks resolve inside
//! the context). The client has already left out what `.dockerignore` excludes; the
//! daemon only reads the Dockerfile, then removes the Dockerfile and `.dockerignore`
//! themselves when `.dockerignore` excludes them (`COPY . /` then leaves them out).
pub mod dockerignore;

use std::io::Read;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use thiserror::Error;

use crate::containers::archive_extract::{
    clean_relative, extract, remove_all_at, ExtractError, ExtractOptions,
};
use crate::in_root::{fd_path, InRoot};
use crate::store::decompress;

/// A context that could not be read; texts are dockerd's.
#[derive(Debug, Error)]
pub enum ContextError {
    /// Bad input: dockerd answers 400 ("the Dockerfile (Dockerfile) cannot be empty").
    #[error("{0}")]
    Invalid(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// dockerd's untyped errors, answered 500 ("Cannot locate specified Dockerfile: x").
    #[error("{0}")]
    Failed(String),
}

fn io_err(context: impl Into<String>, source: std::io::Error) -> ContextError {
    ContextError::Io {
        context: context.into(),
        source,
    }
}

/// The default Dockerfile name, and its lowercase fallback.
const DEFAULT_DOCKERFILE: &str = "Dockerfile";
const IGNORE_FILE: &str = ".dockerignore";

/// An unpacked context.
#[derive(Debug)]
pub struct BuildContext {
    root: PathBuf,
    /// The scratch folder, removed on drop.
    _dir: tempfile::TempDir,
    /// The `.dockerignore` patterns (none without the file).
    ignore: Vec<String>,
}

impl BuildContext {
    /// Unpacks the uploaded body (read in chunks from `chunks`) into a new folder under
    /// `scratch`.
    pub fn unpack(chunks: impl Read, scratch: &Path) -> Result<BuildContext, ContextError> {
        std::fs::create_dir_all(scratch)
            .map_err(|e| io_err(format!("creating {}", scratch.display()), e))?;
        let dir = tempfile::Builder::new()
            .prefix("docker-builder")
            .tempdir_in(scratch)
            .map_err(|e| io_err("creating the context folder", e))?;
        let root = dir.path().to_path_buf();
        let fs = open_root(&root)?;
        let unpacked = decompress::with_decompressed(chunks, |tar| {
            extract(&fs, "/", tar, &ExtractOptions::default())
        });
        match unpacked {
            Ok(Ok(())) => {}
            // A body that is no tar is the client's error: dockerd's text, as a 400.
            Ok(Err(ExtractError::BadArchive(e))) => {
                return Err(ContextError::Invalid(crate::in_root::go_tar_message(&e)))
            }
            Ok(Err(e)) => {
                return Err(ContextError::Failed(format!(
                    "Error processing tar file({e}): "
                )))
            }
            Err(e) => return Err(ContextError::Invalid(crate::in_root::go_tar_message(&e))),
        }
        let ignore = match read_in(&fs, IGNORE_FILE) {
            Ok(bytes) => dockerignore::read_patterns(&String::from_utf8_lossy(&bytes)),
            Err(ReadError::Missing | ReadError::Unresolvable) => Vec::new(),
            Err(ReadError::Other(e)) => return Err(io_err("reading .dockerignore", e)),
        };
        Ok(BuildContext {
            root,
            _dir: dir,
            ignore,
        })
    }

    /// The folder holding the context.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The `.dockerignore` patterns as read (comments and blank lines dropped).
    pub fn ignore_patterns(&self) -> &[String] {
        &self.ignore
    }

    /// Whether `.dockerignore` excludes `path` (relative to the context); a malformed
    /// pattern excludes nothing, as in dockerd.
    pub fn is_excluded(&self, path: &str) -> bool {
        dockerignore::Matcher::new(&self.ignore).is_ok_and(|m| m.excludes(path))
    }

    /// The Dockerfile's text: `name` relative to the context ("Dockerfile" when empty,
    /// then "dockerfile" as dockerd falls back), never outside it. Once read, the
    /// Dockerfile and `.dockerignore` are removed from the context if `.dockerignore`
    /// excludes them.
    pub fn dockerfile(&self, name: &str) -> Result<String, ContextError> {
        let name = if name.is_empty() {
            DEFAULT_DOCKERFILE
        } else {
            name
        };
        let fs = open_root(&self.root)?;
        let (used, bytes) = read_dockerfile(&fs, name)?;
        if bytes.is_empty() {
            return Err(ContextError::Invalid(format!(
                "the Dockerfile ({used}) cannot be empty"
            )));
        }
        self.remove_ignored(&fs, &used)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// dockerd's `removeDockerfile`: `.dockerignore` and the Dockerfile go when excluded.
    fn remove_ignored(&self, fs: &InRoot, dockerfile: &str) -> Result<(), ContextError> {
        let Ok(matcher) = dockerignore::Matcher::new(&self.ignore) else {
            return Ok(());
        };
        for file in [IGNORE_FILE, dockerfile] {
            if !matcher.excludes(file) {
                continue;
            }
            let Ok(resolved) = fs.resolve(file, true) else {
                continue;
            };
            let Ok(parent) = fs.resolve_parent(&resolved.path, false) else {
                continue;
            };
            if parent.name.is_empty() {
                continue;
            }
            if let Err(e) = remove_all_at(&parent.dir, &parent.name) {
                tracing::error!(file, error = %e, "failed to remove an excluded build file");
            }
        }
        Ok(())
    }
}

fn open_root(root: &Path) -> Result<InRoot, ContextError> {
    InRoot::from_dir(root, &[]).map_err(|e| ContextError::Failed(e.to_string()))
}

/// The Dockerfile `name` (after dockerd's fallback) and its content.
fn read_dockerfile(fs: &InRoot, name: &str) -> Result<(String, Vec<u8>), ContextError> {
    if clean_relative(name).is_none() {
        return Err(forbidden(name));
    }
    match read_in(fs, name) {
        Ok(bytes) => Ok((name.to_string(), bytes)),
        Err(ReadError::Missing) => {
            let lowercase = name.to_lowercase();
            if name == DEFAULT_DOCKERFILE && fs.resolve(&lowercase, true).is_ok() {
                return read_dockerfile(fs, &lowercase);
            }
            Err(ContextError::Failed(format!(
                "Cannot locate specified Dockerfile: {name}"
            )))
        }
        Err(ReadError::Unresolvable) => Err(forbidden(name)),
        Err(ReadError::Other(e)) => Err(ContextError::Failed(format!(
            "unexpected error reading Dockerfile: read {name}: {e}"
        ))),
    }
}

/// dockerd's `FullPath` error (a 400 here: the client named the path).
fn forbidden(name: &str) -> ContextError {
    ContextError::Invalid(format!(
        "forbidden path outside the build context: {name} ()"
    ))
}

enum ReadError {
    Missing,
    /// The path cannot be resolved (a file used as a folder, a symlink loop).
    Unresolvable,
    Other(std::io::Error),
}

/// The content of `path` in the context, symlinks resolved inside it.
fn read_in(fs: &InRoot, path: &str) -> Result<Vec<u8>, ReadError> {
    let resolved = match fs.resolve(path, true) {
        Ok(r) => r,
        Err(Errno::ENOENT) => return Err(ReadError::Missing),
        Err(_) => return Err(ReadError::Unresolvable),
    };
    let mut file = std::fs::File::open(fd_path(&resolved.fd)).map_err(ReadError::Other)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(ReadError::Other)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_hostile;

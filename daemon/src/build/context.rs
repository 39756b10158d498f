//! The build context: the tar `POST /build` uploads (plain, gzip, bzip2, xz or zstd),
//! unpacked safely into a scratch folder that is removed with the `BuildContext`.
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A context that could not be read; texts are dockerd's.
#[derive(Debug, Error)]
pub enum ContextError {
    /// Bad input: dockerd answers 400 ("Cannot locate specified Dockerfile: …", …).
    #[error("{0}")]
    Invalid(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// An unpacked context.
#[derive(Debug)]
pub struct BuildContext {
    root: PathBuf,
}

impl BuildContext {
    /// Unpacks the uploaded body (read in chunks from `chunks`) into a new folder under
    /// `scratch`.
    pub fn unpack(
        _chunks: impl std::io::Read,
        _scratch: &Path,
    ) -> Result<BuildContext, ContextError> {
        Err(ContextError::Invalid("build contexts are being written".into()))
    }

    /// The folder holding the context.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The Dockerfile's text: `name` relative to the context ("Dockerfile" when empty,
    /// then "dockerfile" as dockerd falls back), never outside it.
    pub fn dockerfile(&self, _name: &str) -> Result<String, ContextError> {
        Err(ContextError::Invalid("build contexts are being written".into()))
    }
}

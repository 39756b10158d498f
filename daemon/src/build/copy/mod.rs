//! `COPY` and `ADD`: sources (wildcards allowed) from a source root — the build context or
//! another stage's root — into a destination root, every path resolved inside its root.
//!
//! As dockerd 20.10's classic builder (`builder/dockerfile/copy.go`, `internals.go`):
//! - `sources` finds the sources and their checksums (the history comment and the cache
//!   key), `fetch` downloads ADD's URLs;
//! - `place` writes them into the destination, `owner` resolves `--chown`;
//! - `gopath` has Go's path matching and cleaning that all of it follows.
//!
//! [`prepare`] does the first part (all a cache probe needs), [`PreparedCopy::copy_into`]
//! the second; [`copy_into`] both.
pub mod gopath;

mod fetch;
mod hash;
mod owner;
mod place;
mod sources;

use std::io::Read;
use std::path::Path;

use thiserror::Error;

use crate::containers::archive_extract::{extract, ExtractOptions};
use crate::in_root::InRoot;
use crate::store::decompress;

/// A copy that could not be done; texts are dockerd's.
#[derive(Debug, Error)]
pub enum CopyError {
    /// The user's mistake, e.g. "COPY failed: file not found in build context or excluded
    /// by .dockerignore: stat missing: file does not exist".
    #[error("{0}")]
    Invalid(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// An I/O error whose text reads as Go's ("not a directory").
fn io_err(context: impl Into<String>, e: std::io::Error) -> CopyError {
    let source = match e.raw_os_error() {
        Some(code) => {
            let text = nix::errno::Errno::from_raw(code).desc();
            let mut chars = text.chars();
            let lower = match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => String::new(),
            };
            std::io::Error::new(e.kind(), lower)
        }
        None => e,
    };
    CopyError::Io {
        context: context.into(),
        source,
    }
}

/// How to copy.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// `--chown` as written, resolved with the destination root's /etc/passwd and /etc/group.
    pub chown: Option<String>,
    /// `--chmod` as written (octal). dockerd 20.10 refuses it without BuildKit; the
    /// builder decides whether to pass it.
    pub chmod: Option<String>,
    /// ADD: unpack local tar archives (plain, gzip, bzip2, xz) at the destination.
    pub unpack_archives: bool,
    /// ADD: sources may be http(s) URLs, fetched.
    pub allow_urls: bool,
    /// `COPY --from`: the sources are another stage's or image's files. A missing one
    /// is then "stat x: file does not exist", and without `--chown` they keep their
    /// owners.
    pub from_stage: bool,
}

impl CopyOptions {
    /// "ADD" or "COPY", for messages.
    fn instruction(&self) -> &'static str {
        if self.allow_urls || self.unpack_archives {
            "ADD"
        } else {
            "COPY"
        }
    }
}

/// A COPY/ADD whose sources are found, downloaded and checksummed.
#[derive(Debug)]
pub struct PreparedCopy {
    found: sources::Found,
    dest: String,
    options: CopyOptions,
    checksum: String,
}

/// Finds `sources` in `source_root` (and downloads URLs) for a copy to `dest`: the
/// errors dockerd gives before its cache probe (missing sources, several sources to a
/// destination without a trailing "/").
pub fn prepare(
    source_root: &Path,
    sources: &[String],
    dest: &str,
    options: &CopyOptions,
) -> Result<PreparedCopy, CopyError> {
    let inst = options.instruction();
    let found = sources::find(source_root, sources, dest, options, inst)?;
    if found.sources.len() > 1 && !dest.ends_with('/') {
        return Err(CopyError::Invalid(format!(
            "When using {inst} with more than one source file, the destination must be a directory and end with a /"
        )));
    }
    let checksum = match found.sources.as_slice() {
        [one] => one.sum.clone(),
        many => {
            let sums: Vec<String> = many.iter().map(|s| s.sum.clone()).collect();
            hash::sum_of("multi", &sums)
        }
    };
    Ok(PreparedCopy {
        found,
        dest: dest.to_string(),
        options: options.clone(),
        checksum,
    })
}

impl PreparedCopy {
    /// The sources' checksum as dockerd writes it in the step's history
    /// ("file:<sha256>", "dir:<sha256>", "multi:<sha256>", or a download's bare sum).
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// Copies the sources to the destination in `dest_root` (a relative one taken from
    /// `workdir`).
    pub fn copy_into(&self, dest_root: &Path, workdir: &str) -> Result<(), CopyError> {
        let fs = InRoot::from_dir(dest_root, &[])
            .map_err(|e| CopyError::Invalid(format!("failed to copy files: {e}")))?;
        let owner = match self.options.chown.as_deref().filter(|c| !c.is_empty()) {
            Some(chown) => Some(owner::resolve(&fs, chown).map_err(CopyError::Invalid)?),
            None if self.options.from_stage => None,
            None => Some((0, 0)),
        };
        let chmod = self.options.chmod.as_deref().map(parse_chmod).transpose()?;
        let writer = place::Writer {
            fs: &fs,
            owner,
            chmod,
        };
        let dest = place::normalize_dest(workdir, &self.dest);
        for source in &self.found.sources {
            self.copy_one(&writer, source, &dest)?;
        }
        Ok(())
    }

    /// dockerd's `performCopyForInfo`.
    fn copy_one(
        &self,
        writer: &place::Writer<'_>,
        source: &sources::Source,
        dest: &str,
    ) -> Result<(), CopyError> {
        let source_fs = InRoot::from_dir(&source.root, &[])
            .map_err(|e| CopyError::Invalid(format!("failed to copy files: {e}")))?;
        let resolved = source_fs
            .resolve(&source.path, true)
            .map_err(|e| place::fail(format!("source path not found: {}", source.path), e))?;
        let host = source.root.join(resolved.path.trim_start_matches('/'));
        let meta = std::fs::metadata(&host)
            .map_err(|e| place::fail(format!("source path not found: {}", source.path), e))?;
        let dest_path = place::scoped(writer.fs, dest)?;
        if meta.is_dir() {
            return writer.copy_directory(&host, &dest_path);
        }
        if self.options.unpack_archives && !source.downloaded && is_archive(&host) {
            let (_, _) = writer.mkdir_all(&dest_path, (0, 0))?;
            let file = std::fs::File::open(&host)
                .map_err(|e| place::fail(format!("open {}", source.path), e))?;
            let unpacked = decompress::with_decompressed(file, |tar| {
                extract(writer.fs, &dest_path, tar, &ExtractOptions::default())
            });
            return match unpacked {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(CopyError::Invalid(format!("failed to copy files: {e}"))),
                Err(e) => Err(place::fail(format!("unpacking {}", source.path), e)),
            };
        }
        let into_dir = dest.ends_with('/') || place::is_existing_dir(writer.fs, &dest_path)?;
        let target = if into_dir {
            let base = gopath::clean(&source.path);
            let base = base.rsplit('/').next().unwrap_or(&base);
            format!("{}/{base}", dest_path.trim_end_matches('/'))
        } else {
            dest_path
        };
        writer.copy_file(&host, &target)
    }
}

/// Copies `sources` (relative to `source_root`) to `dest` in `dest_root`; a relative `dest`
/// is taken from `workdir`. Returns the sources' checksum as dockerd writes it in the
/// step's history ("file:<sha256>", "dir:<sha256>", "multi:<sha256>").
pub fn copy_into(
    source_root: &Path,
    sources: &[String],
    dest_root: &Path,
    dest: &str,
    workdir: &str,
    options: &CopyOptions,
) -> Result<String, CopyError> {
    let prepared = prepare(source_root, sources, dest, options)?;
    prepared.copy_into(dest_root, workdir)?;
    Ok(prepared.checksum)
}

/// BuildKit's `--chmod`: octal, at most 07777.
fn parse_chmod(text: &str) -> Result<u32, CopyError> {
    match u32::from_str_radix(text, 8) {
        Ok(mode) if mode <= 0o7777 => Ok(mode),
        _ => Err(CopyError::Invalid(format!(
            "invalid chmod parameter: '{text}'. it should be octal string and between 0 and 07777"
        ))),
    }
}

/// dockerd's `isArchivePath`: (possibly compressed) content that starts with a tar header.
fn is_archive(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let checked = decompress::with_decompressed(file, |content: &mut dyn Read| {
        let mut archive = tar::Archive::new(content);
        let first = archive.entries().map(|mut entries| entries.next());
        Ok::<bool, ()>(matches!(first, Ok(Some(Ok(_)))))
    });
    matches!(checked, Ok(Ok(true)))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_add;
#[cfg(test)]
mod tests_roots;

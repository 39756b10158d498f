//! Finding the sources of a COPY/ADD in their root, as dockerd's `copier`: a leading
//! "/" or "./" is dropped, wildcards are matched against every path of the root (Go's
//! `filepath.Match`), symlinks resolve inside the root, `..` may not climb out of it,
//! URLs are downloaded (ADD only). Each source gets its checksum.
use std::fs::Metadata;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::gopath::{contains_wildcards, go_match};
use super::{fetch, hash, io_err, CopyError, CopyOptions};
use crate::containers::archive_extract::clean_relative;
use crate::in_root::InRoot;

/// One source to copy.
#[derive(Debug)]
pub struct Source {
    /// The host folder `path` is in (the source root, or a download's folder).
    pub root: PathBuf,
    /// Its path in `root` as the instruction names it: its last component names the copy
    /// in a folder destination (a symlink's own name, not its target's).
    pub path: String,
    /// "file:<sum>", "dir:<sum>", or a download's bare sum.
    pub sum: String,
    /// Downloads are never unpacked.
    pub downloaded: bool,
}

/// The sources found, and the folders holding downloads (removed when dropped).
#[derive(Debug, Default)]
pub struct Found {
    pub sources: Vec<Source>,
    pub downloads: Vec<tempfile::TempDir>,
}

/// Finds every source of the instruction `inst` ("COPY" or "ADD").
pub fn find(
    source_root: &Path,
    names: &[String],
    dest: &str,
    options: &CopyOptions,
    inst: &str,
) -> Result<Found, CopyError> {
    let fs = InRoot::from_dir(source_root, &[])
        .map_err(|e| CopyError::Invalid(format!("{inst} failed: {e}")))?;
    let finder = Finder {
        fs: &fs,
        root: source_root,
        inst,
        from_stage: options.from_stage,
    };
    let mut found = Found::default();
    for name in names {
        if is_url(name) {
            if !options.allow_urls {
                return Err(CopyError::Invalid(format!(
                    "{inst} failed: source can't be a URL for COPY"
                )));
            }
            let download = fetch::download(name, dest)
                .map_err(|e| CopyError::Invalid(format!("{inst} failed: {e}")))?;
            found.sources.push(Source {
                root: download.dir.path().to_path_buf(),
                path: download.file_name.clone(),
                sum: download.sum.clone(),
                downloaded: true,
            });
            found.downloads.push(download.dir);
            continue;
        }
        finder.find(name, true, &mut found.sources)?;
    }
    if found.sources.is_empty() {
        return Err(CopyError::Invalid(format!(
            "{inst} failed: no source files were specified"
        )));
    }
    Ok(found)
}

/// dockerd's `urlutil.IsURL`.
pub fn is_url(name: &str) -> bool {
    name.starts_with("http://") || name.starts_with("https://")
}

struct Finder<'a> {
    fs: &'a InRoot,
    root: &'a Path,
    inst: &'a str,
    from_stage: bool,
}

impl Finder<'_> {
    /// dockerd's `calcCopyInfo`.
    fn find(&self, name: &str, wildcards: bool, out: &mut Vec<Source>) -> Result<(), CopyError> {
        let path = name.strip_prefix('/').unwrap_or(name);
        let path = path.strip_prefix("./").unwrap_or(path);
        if wildcards && contains_wildcards(path) {
            let mut matched = Vec::new();
            walk(self.root, "", &mut |_, rel, _| {
                if !rel.is_empty() && go_match(path, rel) == Ok(true) {
                    matched.push(rel.to_string());
                }
                Ok(())
            })?;
            for rel in matched {
                self.find(&rel, false, out)?;
            }
            return Ok(());
        }
        out.push(self.single(path)?);
        Ok(())
    }

    fn single(&self, path: &str) -> Result<Source, CopyError> {
        let inst = self.inst;
        if clean_relative(path).is_none() {
            return Err(CopyError::Invalid(format!(
                "{inst} failed: forbidden path outside the build context: {path} ()"
            )));
        }
        let resolved = match self.fs.resolve(path, true) {
            Ok(r) => r,
            Err(Errno::ENOENT) => {
                let context = if self.from_stage {
                    String::new()
                } else {
                    "file not found in build context or excluded by .dockerignore: ".into()
                };
                return Err(CopyError::Invalid(format!(
                    "{inst} failed: {context}stat {path}: file does not exist"
                )));
            }
            // dockerd's FullPath calls any other failure (a file used as a folder, a
            // symlink loop) a forbidden path.
            Err(_) => {
                return Err(CopyError::Invalid(format!(
                    "{inst} failed: forbidden path outside the build context: {path} ()"
                )))
            }
        };
        let rel = resolved.path.trim_start_matches('/').to_string();
        let host = self.root.join(&rel);
        let meta =
            std::fs::symlink_metadata(&host).map_err(|e| io_err(format!("stat {path}"), e))?;
        let sum = if meta.is_dir() {
            let mut sums = Vec::new();
            walk(&host, &rel, &mut |entry, entry_rel, _| {
                if !entry_rel.is_empty() {
                    // dockerd skips what it cannot hash.
                    if let Ok(sum) = hash::entry_sum(entry, entry_rel) {
                        sums.push(sum);
                    }
                }
                Ok(())
            })?;
            sums.sort();
            hash::sum_of("dir", &sums)
        } else {
            let sum =
                hash::entry_sum(&host, &rel).map_err(|e| io_err(format!("hashing {path}"), e))?;
            format!("file:{sum}")
        };
        Ok(Source {
            root: self.root.to_path_buf(),
            path: path.to_string(),
            sum,
            downloaded: false,
        })
    }
}

type Visit<'a> = dyn FnMut(&Path, &str, &Metadata) -> Result<(), CopyError> + 'a;

/// Go's `filepath.Walk` from `host` (whose path in the root is `rel`): the entry, then
/// (for a folder) its entries in name order, symlinks never followed.
pub fn walk(host: &Path, rel: &str, visit: &mut Visit<'_>) -> Result<(), CopyError> {
    let meta = std::fs::symlink_metadata(host).map_err(|e| io_err(format!("lstat {rel}"), e))?;
    visit(host, rel, &meta)?;
    if !meta.is_dir() {
        return Ok(());
    }
    let mut names: Vec<String> = std::fs::read_dir(host)
        .map_err(|e| io_err(format!("reading {rel}"), e))?
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| io_err(format!("reading {rel}"), e))?;
    names.sort();
    for name in names {
        let child_rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        walk(&host.join(&name), &child_rel, visit)?;
    }
    Ok(())
}

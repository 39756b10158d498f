//! Folders written as tar streams from handles (`docker cp` out of a container, `docker
//! export`, the layer of `docker commit`): every entry is opened relative to its parent's
//! descriptor without following it ([`walk`](super::walk)), its header and content come
//! from that descriptor, so a name the container swaps for a symlink while the tar is
//! written is archived as the symlink it became, never followed on the host
//! (CVE-2018-15664). As Go's `archive.TarWithOptions`: entries in name order, depth first,
//! sockets skipped, a file linked more than once written once and its other names as
//! hard-link entries to the first. Pseudo-filesystems are not entered.
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::walk::{self, Entry};

/// How deep a tree may go: each level holds one descriptor while its folder is written.
const MAX_DEPTH: usize = 1024;

/// What replaces the entry at a path below the walk's start (a container's volumes and
/// binds, mounted where dockerd's `docker cp` sees them); `None` keeps the tree's own.
pub type Mounts<'a> = &'a dyn Fn(&Path) -> Option<io::Result<Entry>>;

/// No mounts: the tree as it is.
pub fn no_mounts(_: &Path) -> Option<io::Result<Entry>> {
    None
}

/// A tar being written from handles.
pub struct TreeTar<W: Write> {
    builder: tar::Builder<W>,
    /// The archive names of files linked more than once, by device and inode.
    first_names: HashMap<(u64, u64), PathBuf>,
    /// Names written as given, folders ending in "/" (dockerd's `docker cp` names).
    as_given: bool,
}

impl<W: Write> TreeTar<W> {
    pub fn new(out: W) -> Self {
        TreeTar {
            builder: tar::Builder::new(out),
            first_names: HashMap::new(),
            as_given: false,
        }
    }

    /// A tar whose names are written as given ("/", "./x", "/bin/ash") and whose
    /// folders' names end in "/", as Go's `archive` package writes them for
    /// `docker cp` ([`super::tar_names`]).
    pub fn with_names_as_given(out: W) -> Self {
        TreeTar {
            as_given: true,
            ..TreeTar::new(out)
        }
    }

    /// Writes one header and its data under `name` (and `link`, for links).
    fn emit(
        &mut self,
        header: &mut tar::Header,
        name: &Path,
        link: Option<&Path>,
        data: impl Read,
    ) -> io::Result<()> {
        if self.as_given {
            let mut raw = name.as_os_str().as_encoded_bytes().to_vec();
            if header.entry_type() == tar::EntryType::Directory && !raw.ends_with(b"/") {
                raw.push(b'/');
            }
            let link = link.map(|l| l.as_os_str().as_encoded_bytes());
            return super::tar_names::append(&mut self.builder, header, &raw, link, data);
        }
        if header.entry_type() == tar::EntryType::Directory {
            // Go's `archive` package names folders with a trailing "/" (its
            // `canonicalTarName`), in `docker export` and in committed layers alike.
            let parts: Vec<&[u8]> = name
                .components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(part) => Some(part.as_encoded_bytes()),
                    _ => None,
                })
                .collect();
            if !parts.is_empty() {
                let mut raw = parts.join(&b'/');
                raw.push(b'/');
                return super::tar_names::append(&mut self.builder, header, &raw, None, data);
            }
        }
        match link {
            Some(target) => self.builder.append_link(header, name, target),
            None => self.builder.append_data(header, name, data),
        }
    }

    /// Appends `entry` named `name` and, for a folder, everything below it.
    pub fn append_tree(
        &mut self,
        entry: &Entry,
        name: &Path,
        mounts: Mounts<'_>,
    ) -> io::Result<()> {
        self.append_entry(entry, name)?;
        if entry.meta.is_dir() {
            self.append_children(entry, name, mounts)?;
        }
        Ok(())
    }

    /// Appends everything below the folder `dir` (not `dir` itself), each named `prefix`
    /// joined with its path below `dir`.
    pub fn append_children(
        &mut self,
        dir: &Entry,
        prefix: &Path,
        mounts: Mounts<'_>,
    ) -> io::Result<()> {
        self.walk(dir, prefix, Path::new(""), mounts, 0)
    }

    fn walk(
        &mut self,
        dir: &Entry,
        prefix: &Path,
        rel: &Path,
        mounts: Mounts<'_>,
        depth: usize,
    ) -> io::Result<()> {
        if dir.on_pseudo_fs() {
            return Ok(());
        }
        if depth > MAX_DEPTH {
            return Err(io::Error::other(format!(
                "{} is more than {MAX_DEPTH} folders deep",
                prefix.join(rel).display()
            )));
        }
        let listing = dir.open_dir()?;
        for name in walk::names(listing.as_fd())? {
            let child_rel = rel.join(&name);
            let child = match mounts(&child_rel) {
                Some(mounted) => mounted?,
                None => match Entry::open(listing.as_fd(), &name)? {
                    Some(child) => child,
                    // Removed since the listing: as if it had never been there.
                    None => continue,
                },
            };
            if child.meta.file_type().is_socket() {
                continue;
            }
            self.append_entry(&child, &prefix.join(&child_rel))?;
            if child.meta.is_dir() {
                self.walk(&child, prefix, &child_rel, mounts, depth + 1)?;
            }
        }
        Ok(())
    }

    /// Appends one entry (a folder without what it holds).
    pub fn append_entry(&mut self, entry: &Entry, name: &Path) -> io::Result<()> {
        let meta = &entry.meta;
        let ft = meta.file_type();
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
        header.set_mode(meta.mode() & 0o7777);
        if ft.is_file() && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.first_names.get(&key) {
                header.set_entry_type(tar::EntryType::Link);
                header.set_size(0);
                let first = first.clone();
                return self.emit(&mut header, name, Some(&first), io::empty());
            }
            self.first_names.insert(key, name.to_path_buf());
        }
        if ft.is_file() {
            let size = meta.len();
            let file = entry.open_file()?;
            return self.emit(&mut header, name, None, ExactSize::new(file, size));
        }
        if ft.is_symlink() {
            let target = entry.link_target()?;
            return self.emit(&mut header, name, Some(Path::new(&target)), io::empty());
        }
        if ft.is_char_device() || ft.is_block_device() {
            let dev = meta.rdev();
            header.set_device_major(libc::major(dev))?;
            header.set_device_minor(libc::minor(dev))?;
        }
        header.set_size(0);
        self.emit(&mut header, name, None, io::empty())
    }

    /// The tar itself, for entries made by hand (whiteouts).
    pub fn builder(&mut self) -> &mut tar::Builder<W> {
        &mut self.builder
    }

    /// Writes the end of the archive.
    pub fn finish(mut self) -> io::Result<W> {
        self.builder.finish()?;
        self.builder.into_inner()
    }
}

/// A file's content as exactly `size` bytes, the size its header promised: cut when the
/// file grew since, padded with zeros when it shrank (a running container may write it
/// meanwhile; a tar whose entry is longer than its header is corrupt).
struct ExactSize<R> {
    inner: io::Take<R>,
    missing: u64,
}

impl<R: Read> ExactSize<R> {
    fn new(inner: R, size: u64) -> Self {
        ExactSize {
            inner: inner.take(size),
            missing: size,
        }
    }
}

impl<R: Read> Read for ExactSize<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.missing == 0 || buf.is_empty() {
            return Ok(0);
        }
        let n = match self.inner.read(buf)? {
            0 => {
                let n = buf
                    .len()
                    .min(usize::try_from(self.missing).unwrap_or(usize::MAX));
                buf[..n].fill(0);
                n
            }
            n => n,
        };
        self.missing -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn entries(bytes: &[u8]) -> Vec<(String, tar::EntryType, Option<String>, Vec<u8>)> {
        let mut archive = tar::Archive::new(bytes);
        let mut seen = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let name = entry.path().expect("path").display().to_string();
            let link = entry
                .link_name()
                .expect("link name")
                .map(|l| l.display().to_string());
            let kind = entry.header().entry_type();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("data");
            seen.push((name, kind, link, data));
        }
        seen
    }

    fn root_entry(path: &Path) -> Entry {
        Entry::from_fd(
            walk::open_beneath(File::open(path).expect("open").as_fd(), Path::new("")).expect("fd"),
        )
        .expect("entry")
    }

    #[test]
    fn hard_links_are_written_once_depth_first() {
        let root = tempfile::tempdir().expect("tempdir");
        let bin = root.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        std::fs::write(bin.join("busybox"), vec![7u8; 100_000]).expect("busybox");
        for applet in ["ash", "ls", "zcat"] {
            std::fs::hard_link(bin.join("busybox"), bin.join(applet)).expect("link");
        }
        std::fs::write(root.path().join("alone"), b"x").expect("file");
        std::fs::write(root.path().join("z"), b"z").expect("file");
        std::os::unix::fs::symlink("/etc/passwd", root.path().join("link")).expect("ln");
        let mut tar = TreeTar::new(Vec::new());
        tar.append_children(&root_entry(root.path()), Path::new(""), &no_mounts)
            .expect("tar");
        let bytes = tar.finish().expect("tar bytes");
        assert!(bytes.len() < 150_000, "{} bytes", bytes.len());
        let seen: Vec<_> = entries(&bytes)
            .into_iter()
            .map(|(n, k, l, _)| (n, k, l))
            .collect();
        use tar::EntryType::{Directory, Link, Regular, Symlink};
        assert_eq!(
            seen,
            [
                ("alone".to_string(), Regular, None),
                ("bin/".to_string(), Directory, None),
                ("bin/ash".to_string(), Regular, None),
                ("bin/busybox".to_string(), Link, Some("bin/ash".to_string())),
                ("bin/ls".to_string(), Link, Some("bin/ash".to_string())),
                ("bin/zcat".to_string(), Link, Some("bin/ash".to_string())),
                ("link".to_string(), Symlink, Some("/etc/passwd".to_string())),
                ("z".to_string(), Regular, None),
            ]
        );
    }

    #[test]
    fn mounts_replace_what_the_tree_has() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(root.path().join("data")).expect("mkdir");
        std::fs::write(root.path().join("data/hidden"), b"under").expect("file");
        let volume = tempfile::tempdir().expect("volume");
        std::fs::write(volume.path().join("v"), b"volume").expect("file");
        let volume_path = volume.path().to_path_buf();
        let mounts = move |rel: &Path| {
            (rel == Path::new("data")).then(|| {
                Entry::from_fd(walk::open_beneath(
                    File::open(&volume_path)?.as_fd(),
                    Path::new(""),
                )?)
            })
        };
        let mut tar = TreeTar::new(Vec::new());
        tar.append_tree(&root_entry(root.path()), Path::new("r"), &mounts)
            .expect("tar");
        let seen: Vec<_> = entries(&tar.finish().expect("bytes"))
            .into_iter()
            .map(|(n, _, _, d)| (n, d))
            .collect();
        assert_eq!(
            seen,
            [
                ("r/".to_string(), vec![]),
                ("r/data/".to_string(), vec![]),
                ("r/data/v".to_string(), b"volume".to_vec()),
            ]
        );
    }

    #[test]
    fn content_is_exactly_the_header_size() {
        let mut out = Vec::new();
        ExactSize::new(&b"abcdef"[..], 3)
            .read_to_end(&mut out)
            .expect("read");
        assert_eq!(out, b"abc");
        out.clear();
        ExactSize::new(&b"ab"[..], 4)
            .read_to_end(&mut out)
            .expect("read");
        assert_eq!(out, b"ab\0\0");
    }
}

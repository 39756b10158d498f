//! Extraction tests: building tars (including malicious ones, with raw header names)
//! and checking what lands on disk.
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;

/// Builds a tar entry by entry, writing names into the header raw, so that names the
/// `tar` crate would refuse to build ("../x", "/abs") can be tested.
pub(crate) struct LayerTar {
    builder: tar::Builder<Vec<u8>>,
}

impl LayerTar {
    pub(crate) fn new() -> Self {
        LayerTar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: EntryType, path: &str, mode: u32, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_mtime(1_600_000_000);
        header.set_uid(0);
        header.set_gid(0);
        let name = &mut header.as_gnu_mut().unwrap().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        header
    }

    fn append(&mut self, mut header: tar::Header, data: &[u8]) -> &mut Self {
        header.set_cksum();
        self.builder.append(&header, data).unwrap();
        self
    }

    pub(crate) fn file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        self.file_with(path, data, 0o644, 0, 0)
    }

    pub(crate) fn file_with(
        &mut self,
        path: &str,
        data: &[u8],
        mode: u32,
        uid: u64,
        gid: u64,
    ) -> &mut Self {
        let mut header = Self::header(EntryType::Regular, path, mode, data.len() as u64);
        header.set_uid(uid);
        header.set_gid(gid);
        self.append(header, data)
    }

    pub(crate) fn dir(&mut self, path: &str, mode: u32) -> &mut Self {
        self.append(Self::header(EntryType::Directory, path, mode, 0), b"")
    }

    pub(crate) fn dir_with_mtime(&mut self, path: &str, mode: u32, mtime: u64) -> &mut Self {
        let mut header = Self::header(EntryType::Directory, path, mode, 0);
        header.set_mtime(mtime);
        self.append(header, b"")
    }

    pub(crate) fn link(&mut self, kind: EntryType, path: &str, target: &str) -> &mut Self {
        let mut header = Self::header(kind, path, 0o777, 0);
        let linkname = &mut header.as_gnu_mut().unwrap().linkname;
        linkname[..target.len()].copy_from_slice(target.as_bytes());
        self.append(header, b"")
    }

    pub(crate) fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        self.link(EntryType::Symlink, path, target)
    }

    pub(crate) fn hard_link(&mut self, path: &str, target: &str) -> &mut Self {
        self.link(EntryType::Link, path, target)
    }

    pub(crate) fn device(
        &mut self,
        kind: EntryType,
        path: &str,
        major: u32,
        minor: u32,
    ) -> &mut Self {
        let mut header = Self::header(kind, path, 0o620, 0);
        header.set_device_major(major).unwrap();
        header.set_device_minor(minor).unwrap();
        self.append(header, b"")
    }

    pub(crate) fn pax_file(
        &mut self,
        path: &str,
        data: &[u8],
        records: &[(&str, &[u8])],
    ) -> &mut Self {
        self.builder
            .append_pax_extensions(records.iter().copied())
            .unwrap();
        self.file(path, data)
    }

    pub(crate) fn bytes(&mut self) -> Vec<u8> {
        let builder = std::mem::replace(&mut self.builder, tar::Builder::new(Vec::new()));
        builder.into_inner().unwrap()
    }

    /// Extracts into `dest`.
    pub(crate) fn unpack(&mut self, dest: &Path) -> StoreResult<u64> {
        unpack_layer(&self.bytes()[..], dest)
    }
}

pub(crate) fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let c_name = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    let n = unsafe {
        libc::lgetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

#[test]
fn files_dirs_links_and_metadata() {
    let dest = tempfile::tempdir().unwrap();
    let size = LayerTar::new()
        .dir("./", 0o755)
        .dir("./usr/", 0o755)
        .dir_with_mtime("./usr/bin/", 0o755, 1_500_000_000)
        .file_with("./usr/bin/su", b"setuid binary", 0o4755, 0, 0)
        .file_with("./usr/bin/owned", b"owned", 0o640, 1234, 5678)
        .dir("./tmp/", 0o1777)
        .symlink("./usr/bin/sh", "/bin/busybox")
        .hard_link("./usr/bin/su2", "usr/bin/su")
        .device(EntryType::Char, "./dev/null", 1, 3)
        .device(EntryType::Fifo, "./run/fifo", 0, 0)
        .pax_file(
            "./cap",
            b"ping",
            &[
                ("SCHILY.xattr.user.note", b"hello"),
                ("SCHILY.xattr.trusted.overlay.opaque", b"y"),
            ],
        )
        .unpack(dest.path())
        .unwrap();
    let d = dest.path();
    // Regular files, plus the symlink's target length, as dockerd counts a layer's size.
    assert_eq!(size, 13 + 5 + 4 + "/bin/busybox".len() as u64);
    assert_eq!(
        std::fs::read(d.join("usr/bin/su")).unwrap(),
        b"setuid binary"
    );
    let su = std::fs::metadata(d.join("usr/bin/su")).unwrap();
    assert_eq!(su.permissions().mode() & 0o7777, 0o4755);
    assert_eq!(su.mtime(), 1_600_000_000);
    assert_eq!(su.nlink(), 2);
    assert_eq!(
        std::fs::metadata(d.join("usr/bin/su2")).unwrap().ino(),
        su.ino()
    );
    let owned = std::fs::metadata(d.join("usr/bin/owned")).unwrap();
    assert_eq!(
        (owned.uid(), owned.gid(), owned.mode() & 0o7777),
        (1234, 5678, 0o640)
    );
    assert_eq!(
        std::fs::metadata(d.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
    // Set after the files inside were written.
    assert_eq!(
        std::fs::metadata(d.join("usr/bin")).unwrap().mtime(),
        1_500_000_000
    );
    assert_eq!(
        std::fs::read_link(d.join("usr/bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    let null = std::fs::symlink_metadata(d.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o620);
    assert!(std::fs::symlink_metadata(d.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(
        get_xattr(&d.join("cap"), "user.note").as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(
        get_xattr(&d.join("cap"), "trusted.overlay.opaque"),
        None,
        "reserved xattr must be dropped"
    );
}

#[test]
fn later_entries_replace_earlier_ones() {
    let dest = tempfile::tempdir().unwrap();
    LayerTar::new()
        .file("a", b"first")
        .file("a", b"second")
        .file("d/one", b"1")
        .dir("d/", 0o700)
        .file("d/two", b"2")
        .file("gone/inner", b"x")
        .file("gone", b"now a file")
        .file("s", b"file")
        .symlink("s", "a")
        .unpack(dest.path())
        .unwrap();
    let d = dest.path();
    assert_eq!(std::fs::read(d.join("a")).unwrap(), b"second");
    assert_eq!(
        std::fs::read(d.join("d/one")).unwrap(),
        b"1",
        "dir over dir merges"
    );
    assert_eq!(std::fs::read(d.join("d/two")).unwrap(), b"2");
    assert_eq!(
        std::fs::metadata(d.join("d")).unwrap().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::read(d.join("gone")).unwrap(),
        b"now a file",
        "file over dir removes the dir"
    );
    assert!(std::fs::symlink_metadata(d.join("s"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn whiteout_of_a_file_becomes_a_character_device() {
    let dest = tempfile::tempdir().unwrap();
    LayerTar::new()
        .dir("etc/", 0o755)
        .file("etc/.wh.motd", b"")
        .unpack(dest.path())
        .unwrap();
    let whiteout = std::fs::symlink_metadata(dest.path().join("etc/motd")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
    assert!(!dest.path().join("etc/.wh.motd").exists());
}

#[test]
fn opaque_marker_becomes_an_xattr() {
    let dest = tempfile::tempdir().unwrap();
    LayerTar::new()
        .dir("var/", 0o755)
        .dir("var/cache/", 0o755)
        .file("var/cache/.wh..wh..opq", b"")
        .file("var/cache/new", b"n")
        .file(".wh..wh.plnk", b"")
        .unpack(dest.path())
        .unwrap();
    let cache = dest.path().join("var/cache");
    assert_eq!(
        get_xattr(&cache, "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(
        get_xattr(&dest.path().join("var"), "trusted.overlay.opaque"),
        None
    );
    assert!(!cache.join(".wh..wh..opq").exists());
    assert!(std::fs::symlink_metadata(dest.path().join(".wh..wh.plnk")).is_err());
    assert!(std::fs::symlink_metadata(dest.path().join(".wh.plnk")).is_err());
}

#[test]
fn pax_long_names_and_precise_mtime() {
    let dest = tempfile::tempdir().unwrap();
    let long = format!("deep/{}/file", "x".repeat(150));
    LayerTar::new()
        .pax_file(
            "short",
            b"long name",
            &[("path", long.as_bytes()), ("mtime", b"1600000000.25")],
        )
        .unpack(dest.path())
        .unwrap();
    let meta = std::fs::metadata(dest.path().join(&long)).unwrap();
    assert_eq!(
        (meta.mtime(), meta.mtime_nsec()),
        (1_600_000_000, 250_000_000)
    );
}

#[test]
fn empty_and_garbage_archives() {
    let dest = tempfile::tempdir().unwrap();
    assert_eq!(unpack_layer(&b""[..], dest.path()).unwrap(), 0);
    assert!(matches!(
        unpack_layer(&[7u8; 1024][..], dest.path()),
        Err(StoreError::InvalidArchive(_))
    ));
}

/// An entry whose numeric fields were left empty (`Header::new_gnu()` without a mode, as
/// bollard's tests send) reads them as 0, as Go's archive/tar does; a field holding
/// something that is not a number is still refused.
#[test]
fn empty_numeric_fields_read_as_zero() {
    let mut header = tar::Header::new_gnu();
    header.set_path("entrypoint.wasm").unwrap();
    header.set_size(0);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_data(&mut header, "entrypoint.wasm", &[][..])
        .unwrap();
    let bytes = builder.into_inner().unwrap();
    let dest = tempfile::tempdir().unwrap();
    unpack_layer(&bytes[..], dest.path()).expect("an empty mode is 0");
    let meta = std::fs::symlink_metadata(dest.path().join("entrypoint.wasm")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0);

    let mut header = tar::Header::new_gnu();
    header.set_path("bad").unwrap();
    header.set_size(0);
    header.as_old_mut().mode = *b"zz\0\0\0\0\0\0";
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append(&header, &[][..]).unwrap();
    let bytes = builder.into_inner().unwrap();
    let dest = tempfile::tempdir().unwrap();
    assert!(unpack_layer(&bytes[..], dest.path()).is_err());
}

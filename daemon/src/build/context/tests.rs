use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::*;

/// One tar entry: name, kind, content (or link target), mode, uid, gid, mtime.
pub(super) struct Entry<'a> {
    pub name: &'a str,
    pub kind: tar::EntryType,
    pub data: &'a [u8],
    pub mode: u32,
    pub ids: (u64, u64),
    pub mtime: u64,
}

pub(super) fn file<'a>(name: &'a str, data: &'a [u8]) -> Entry<'a> {
    Entry {
        name,
        kind: tar::EntryType::Regular,
        data,
        mode: 0o644,
        ids: (0, 0),
        mtime: 1_600_000_000,
    }
}

pub(super) fn dir(name: &str) -> Entry<'_> {
    Entry {
        kind: tar::EntryType::Directory,
        mode: 0o755,
        ..file(name, b"")
    }
}

pub(super) fn link<'a>(name: &'a str, kind: tar::EntryType, target: &'a str) -> Entry<'a> {
    Entry {
        kind,
        mode: 0o777,
        ..file(name, target.as_bytes())
    }
}

/// A tar of `entries`; names and link targets are written raw (`..` and `/` allowed).
pub(super) fn tar_of(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut header = tar::Header::new_old();
        let name = &mut header.as_old_mut().name;
        name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        header.set_entry_type(e.kind);
        header.set_mode(e.mode);
        header.set_uid(e.ids.0);
        header.set_gid(e.ids.1);
        header.set_mtime(e.mtime);
        let content: &[u8] = if e.kind.is_symlink() || e.kind.is_hard_link() {
            let target = &mut header.as_old_mut().linkname;
            target[..e.data.len()].copy_from_slice(e.data);
            b""
        } else {
            e.data
        };
        header.set_size(content.len() as u64);
        header.set_cksum();
        builder.append(&header, content).expect("append");
    }
    builder.into_inner().expect("tar")
}

pub(super) fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("scratch")
}

fn unpack(tar: &[u8]) -> (tempfile::TempDir, BuildContext) {
    let scratch = scratch();
    let context = BuildContext::unpack(tar, scratch.path()).expect("unpack");
    (scratch, context)
}

fn sample() -> Vec<u8> {
    tar_of(&[
        Entry {
            mode: 0o750,
            ids: (0, 0),
            mtime: 1_500_000_000,
            ..dir("src")
        },
        Entry {
            mode: 0o4755,
            ids: (1234, 5678),
            mtime: 1_400_000_000,
            ..file("src/tool", b"#!/bin/sh\n")
        },
        file("Dockerfile", b"FROM scratch\n"),
        link("src/link", tar::EntryType::Symlink, "tool"),
        link("src/hard", tar::EntryType::Link, "src/tool"),
    ])
}

#[test]
fn the_tar_is_unpacked_with_its_modes_owners_and_times() {
    let (scratch, context) = unpack(&sample());
    let root = context.root().to_path_buf();
    assert!(root.starts_with(scratch.path()));
    let tool = std::fs::metadata(root.join("src/tool")).expect("tool");
    assert_eq!(tool.permissions().mode() & 0o7777, 0o4755);
    assert_eq!((tool.uid(), tool.gid()), (1234, 5678));
    assert_eq!(tool.mtime(), 1_400_000_000);
    assert_eq!(tool.nlink(), 2, "the hard link is one file");
    let src = std::fs::metadata(root.join("src")).expect("src");
    assert_eq!(src.permissions().mode() & 0o7777, 0o750);
    assert_eq!(src.mtime(), 1_500_000_000);
    assert_eq!(
        std::fs::read_link(root.join("src/link")).expect("link"),
        Path::new("tool")
    );
    drop(context);
    assert!(!root.exists(), "the context is removed on drop");
}

#[test]
fn compressed_contexts_are_recognised() {
    let plain = sample();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).expect("gz");
    let gz = gz.finish().expect("gz");
    let zst = zstd::encode_all(&plain[..], 3).expect("zstd");
    let by_program = |program: &str| crate::store::decompress::compressed_by(program, &plain);
    for body in [gz, zst, by_program("bzip2"), by_program("xz")] {
        let (_scratch, context) = unpack(&body);
        assert_eq!(
            std::fs::read(context.root().join("src/tool")).expect("tool"),
            b"#!/bin/sh\n"
        );
        assert_eq!(context.dockerfile("").expect("df"), "FROM scratch\n");
    }
}

#[test]
fn an_empty_body_is_an_empty_context() {
    let (_scratch, context) = unpack(b"");
    assert_eq!(
        context.dockerfile("").expect_err("none").to_string(),
        "Cannot locate specified Dockerfile: Dockerfile"
    );
}

#[test]
fn dockerfile_names_resolve_as_dockerd() {
    let (_scratch, context) = unpack(&tar_of(&[
        file("dockerfile", b"FROM lower\n"),
        file("sub/Custom", b"FROM custom\n"),
        file("empty", b""),
        link("sub/up", tar::EntryType::Symlink, "../../../sub/Custom"),
    ]));
    assert_eq!(context.dockerfile("").expect("fallback"), "FROM lower\n");
    assert_eq!(
        context.dockerfile("Dockerfile").expect("fb"),
        "FROM lower\n"
    );
    assert_eq!(
        context.dockerfile("sub/Custom").expect("sub"),
        "FROM custom\n"
    );
    assert_eq!(
        context.dockerfile("/sub/Custom").expect("abs"),
        "FROM custom\n"
    );
    assert_eq!(
        context.dockerfile("sub/up").expect("symlink inside"),
        "FROM custom\n"
    );
    let err = |name: &str| context.dockerfile(name).expect_err(name);
    assert_eq!(
        err("./Dockerfile").to_string(),
        "Cannot locate specified Dockerfile: ./Dockerfile"
    );
    assert_eq!(
        err("nope").to_string(),
        "Cannot locate specified Dockerfile: nope"
    );
    assert_eq!(
        err("/etc/passwd").to_string(),
        "Cannot locate specified Dockerfile: /etc/passwd"
    );
    let outside = err("../x");
    assert!(matches!(outside, ContextError::Invalid(_)));
    assert_eq!(
        outside.to_string(),
        "forbidden path outside the build context: ../x ()"
    );
    assert_eq!(
        err("a/../../x").to_string(),
        "forbidden path outside the build context: a/../../x ()"
    );
    assert_eq!(
        err("empty/Dockerfile").to_string(),
        "forbidden path outside the build context: empty/Dockerfile ()",
        "a file used as a folder"
    );
    let empty = err("empty");
    assert!(matches!(empty, ContextError::Invalid(_)));
    assert_eq!(empty.to_string(), "the Dockerfile (empty) cannot be empty");
}

#[test]
fn excluded_dockerfile_and_dockerignore_are_removed_once_read() {
    let (_scratch, context) = unpack(&tar_of(&[
        file("Dockerfile", b"FROM x\n"),
        file(
            ".dockerignore",
            b"# build files\nDockerfile\n.dockerignore\nfoo\n",
        ),
        file("foo", b"sent anyway"),
        file("bar", b"kept"),
    ]));
    assert_eq!(
        context.ignore_patterns(),
        ["Dockerfile", ".dockerignore", "foo"]
    );
    assert!(context.is_excluded("foo"));
    assert!(!context.is_excluded("bar"));
    assert_eq!(context.dockerfile("").expect("df"), "FROM x\n");
    let root = context.root();
    assert!(!root.join("Dockerfile").exists());
    assert!(!root.join(".dockerignore").exists());
    // dockerd leaves the rest to the client: what was sent stays.
    assert!(root.join("foo").exists());
    assert!(root.join("bar").exists());
}

#[test]
fn files_not_excluded_stay() {
    let (_scratch, context) = unpack(&tar_of(&[
        file("sub/Dockerfile", b"FROM x\n"),
        file(".dockerignore", b"*\n!sub\n"),
    ]));
    context.dockerfile("sub/Dockerfile").expect("df");
    assert!(context.root().join("sub/Dockerfile").exists());
    assert!(!context.root().join(".dockerignore").exists());
}

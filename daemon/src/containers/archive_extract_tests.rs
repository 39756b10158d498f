use super::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    build(&mut b);
    b.into_inner().expect("tar")
}

fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8], mode: u32) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_uid(1234);
    h.set_gid(4321);
    h.set_mtime(1_000_000);
    // set_path refuses "..": write the raw name as a hostile archive would.
    let bytes = name.as_bytes();
    h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    h.set_cksum();
    b.append(&h, data).expect("append");
}

fn link(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, name: &str, target: &str) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(0);
    h.set_mode(0o777);
    let bytes = name.as_bytes();
    h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    let t = target.as_bytes();
    h.as_old_mut().linkname[..t.len()].copy_from_slice(t);
    h.set_cksum();
    b.append(&h, std::io::empty()).expect("append");
}

fn root() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("dest")).expect("dirs");
    (dir, root)
}

#[test]
fn names_are_cleaned_relative_to_the_extraction_point() {
    assert_eq!(clean_relative("/a/./b/"), Some("a/b".into()));
    assert_eq!(clean_relative("a/../b"), Some("b".into()));
    assert_eq!(clean_relative("../x"), None);
    assert_eq!(clean_relative("a/../../x"), None);
    assert_eq!(clean_relative("./"), Some(String::new()));
}

#[test]
fn files_keep_modes_owners_and_times() {
    let (_d, root) = root();
    let fs = InRoot::from_dir(&root, &[]).expect("fs");
    let tar = tar_of(|b| file(b, "sub/f", b"hello", 0o4750));
    extract(&fs, "/dest", tar.as_slice(), &ExtractOptions::default()).expect("extract");
    let meta = std::fs::metadata(root.join("dest/sub/f")).expect("stat");
    assert_eq!(
        std::fs::read(root.join("dest/sub/f")).expect("read"),
        b"hello"
    );
    assert_eq!(meta.permissions().mode() & 0o7777, 0o4750);
    assert_eq!((meta.uid(), meta.gid()), (1234, 4321));
    assert_eq!(meta.mtime(), 1_000_000);
}

#[test]
fn hostile_entries_stay_inside_the_root() {
    let (dir, root) = root();
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).expect("dir");
    let fs = InRoot::from_dir(&root, &[]).expect("fs");
    // An absolute name is relative to the extraction point.
    let tar = tar_of(|b| file(b, "/abs", b"x", 0o644));
    extract(&fs, "/dest", tar.as_slice(), &ExtractOptions::default()).expect("extract");
    assert!(root.join("dest/abs").is_file());
    // A symlink to the host's root, then a file through it: lands in the container root.
    let target = outside.display().to_string();
    let tar = tar_of(|b| {
        link(b, tar::EntryType::Symlink, "evil", &target);
        file(b, "evil/pwned", b"x", 0o644);
    });
    extract(&fs, "/dest", tar.as_slice(), &ExtractOptions::default()).expect("extract");
    assert!(!outside.join("pwned").exists());
    assert!(root
        .join(target.trim_start_matches('/'))
        .join("pwned")
        .is_file());
    // Climbing out is refused, hard links out are refused.
    let tar = tar_of(|b| file(b, "../../escape", b"x", 0o644));
    let err = extract(&fs, "/dest", tar.as_slice(), &ExtractOptions::default());
    assert!(matches!(err, Err(ExtractError::Refused(_))), "{err:?}");
    let tar = tar_of(|b| link(b, tar::EntryType::Link, "hl", "../../../etc/passwd"));
    let err = extract(&fs, "/dest", tar.as_slice(), &ExtractOptions::default());
    assert!(matches!(err, Err(ExtractError::Refused(_))), "{err:?}");
    assert!(!Path::new(&root).join("escape").exists());
}

#[test]
fn hard_links_inside_work() {
    let (_d, root) = root();
    let fs = InRoot::from_dir(&root, &[]).expect("fs");
    let tar = tar_of(|b| {
        file(b, "a", b"same", 0o644);
        link(b, tar::EntryType::Link, "b", "a");
    });
    extract(&fs, "/dest", tar.as_slice(), &ExtractOptions::default()).expect("extract");
    let a = std::fs::metadata(root.join("dest/a")).expect("a");
    let b = std::fs::metadata(root.join("dest/b")).expect("b");
    assert_eq!(a.ino(), b.ino());
}

#[test]
fn no_overwrite_dir_non_dir_refuses_as_dockerd() {
    let (_d, root) = root();
    std::fs::create_dir_all(root.join("dest/d/inner")).expect("dirs");
    let fs = InRoot::from_dir(&root, &[]).expect("fs");
    let tar = tar_of(|b| file(b, "d", b"x", 0o644));
    let strict = ExtractOptions {
        no_overwrite_dir_non_dir: true,
        chown: None,
    };
    let err = extract(&fs, "/dest", tar.as_slice(), &strict).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "cannot overwrite directory \"/dest/d\" with non-directory \"/dest\""
    );
    // Without the option the file replaces the folder, as dockerd does.
    extract(&fs, "/dest", tar.as_slice(), &ExtractOptions::default()).expect("extract");
    assert!(root.join("dest/d").is_file());
}

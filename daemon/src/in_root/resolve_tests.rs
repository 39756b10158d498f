use super::*;

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("real/sub")).expect("dirs");
    std::fs::create_dir_all(root.join("tmp")).expect("dirs");
    std::os::unix::fs::symlink("/", root.join("evil")).expect("link");
    std::os::unix::fs::symlink("../../..", root.join("tmp/up")).expect("link");
    std::os::unix::fs::symlink("/real", root.join("abs")).expect("link");
    std::os::unix::fs::symlink("loop2", root.join("loop1")).expect("link");
    std::os::unix::fs::symlink("loop1", root.join("loop2")).expect("link");
    (dir, root)
}

#[test]
fn symlinks_and_dotdot_stay_inside_the_root() {
    let (_dir, root) = setup();
    let fs = InRoot::from_dir(&root, &[]).expect("open");
    assert_eq!(fs.resolve("/evil/real", true).expect("r").path, "/real");
    assert_eq!(
        fs.resolve("/tmp/up/tmp/up/real/sub", true).expect("r").path,
        "/real/sub"
    );
    assert_eq!(fs.resolve("/../../../real", true).expect("r").path, "/real");
    assert_eq!(fs.resolve("/abs/sub", true).expect("r").path, "/real/sub");
    // The last component is the link itself unless asked to follow it.
    assert_eq!(fs.resolve("/abs", false).expect("r").path, "/abs");
    assert_eq!(fs.resolve("/abs", true).expect("r").path, "/real");
    // Whatever the host has at /etc, the container's root has none.
    assert_eq!(
        fs.resolve("/evil/etc/passwd", true).err(),
        Some(Errno::ENOENT)
    );
    assert_eq!(fs.resolve("/loop1/x", true).err(), Some(Errno::ELOOP));
}

#[test]
fn parents_resolve_inside_and_can_be_created() {
    let (_dir, root) = setup();
    let fs = InRoot::from_dir(&root, &[]).expect("open");
    let p = fs.resolve_parent("/tmp/up/new/dir/file", true).expect("r");
    assert_eq!(p.path, "/new/dir/file");
    assert_eq!(p.name, "file");
    assert!(root.join("new/dir").is_dir());
    let p = fs.resolve_parent("/evil", false).expect("r");
    assert_eq!((p.path.as_str(), p.name.as_str()), ("/evil", "evil"));
    let p = fs.resolve_parent("/", false).expect("r");
    assert_eq!((p.path.as_str(), p.name.as_str()), ("/", ""));
}

#[test]
fn mounts_of_a_stopped_container_map_to_their_sources() {
    let (dir, root) = setup();
    let volume = dir.path().join("volume");
    std::fs::create_dir_all(volume.join("inside")).expect("dirs");
    // A link in the volume pointing at the root goes back to the container's root.
    std::os::unix::fs::symlink("/real", volume.join("back")).expect("link");
    let fs = InRoot::from_dir(&root, &[("/data", volume.as_path())]).expect("open");
    let r = fs.resolve("/data/inside", true).expect("r");
    assert_eq!(r.path, "/data/inside");
    let meta = std::fs::metadata(fd_path(&r.fd)).expect("stat");
    let want = std::fs::metadata(volume.join("inside")).expect("stat");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.ino(), want.ino());
    assert_eq!(
        fs.resolve("/data/back/sub", true).expect("r").path,
        "/real/sub"
    );
    assert_eq!(
        fs.resolve("/evil/data/inside", true).expect("r").path,
        "/data/inside"
    );
}

#[test]
fn mkdir_all_creates_inside_the_root_through_symlinks() {
    let (dir, root) = setup();
    let fs = InRoot::from_dir(&root, &[]).expect("open");
    // /evil -> / : the folders are made in the root, not on the host.
    let outside = dir.path().join("outside");
    std::os::unix::fs::symlink(&outside, root.join("w")).expect("link");
    let made = fs.mkdir_all("/w/x/deeper").expect("mkdir");
    assert_eq!(made.path, format!("{}/x/deeper", outside.display()));
    assert!(root
        .join(outside.strip_prefix("/").expect("abs"))
        .join("x/deeper")
        .is_dir());
    assert!(!outside.exists(), "created on the host");
    assert_eq!(
        fs.mkdir_all("/evil/tmp/up/made").expect("mkdir").path,
        "/made"
    );
    assert!(root.join("made").is_dir());
    // A file on the way is not a folder.
    std::fs::write(root.join("file"), "x").expect("file");
    assert_eq!(fs.mkdir_all("/file/x").err(), Some(Errno::ENOTDIR));
    assert_eq!(fs.mkdir_all("/file").err(), Some(Errno::ENOTDIR));
}

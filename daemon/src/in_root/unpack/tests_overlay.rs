//! Mounts two extracted layers with overlayfs, to show the whiteout conversion is
//! what the kernel expects.
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::tests::LayerTar;

struct Unmount<'a>(&'a std::path::Path);

impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        let _ = umount2(self.0, MntFlags::MNT_DETACH);
    }
}

#[test]
fn overlay_honours_whiteouts_and_opaque_dirs() {
    let root = tempfile::tempdir().unwrap();
    let [layer1, layer2, upper, work, merged] =
        ["layer1", "layer2", "upper", "work", "merged"].map(|name| root.path().join(name));
    for dir in [&layer1, &layer2, &upper, &work, &merged] {
        std::fs::create_dir(dir).unwrap();
    }
    LayerTar::new()
        .file("keep", b"kept")
        .file("gone", b"deleted above")
        .dir("opq/", 0o755)
        .file("opq/old", b"hidden above")
        .dir("plain/", 0o755)
        .file("plain/old", b"still visible")
        .unpack(&layer1)
        .unwrap();
    LayerTar::new()
        .file(".wh.gone", b"")
        .dir("opq/", 0o755)
        .file("opq/.wh..wh..opq", b"")
        .file("opq/new", b"new")
        .file("plain/new", b"new")
        .unpack(&layer2)
        .unwrap();
    let options = format!(
        "lowerdir={}:{},upperdir={},workdir={}",
        layer2.display(),
        layer1.display(),
        upper.display(),
        work.display()
    );
    match mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    ) {
        Ok(()) => {}
        Err(e @ (Errno::EPERM | Errno::ENODEV)) => {
            println!("skipped: cannot mount overlay here ({e})");
            return;
        }
        Err(e) => panic!("overlay mount failed: {e}"),
    }
    let _unmount = Unmount(&merged);
    assert_eq!(std::fs::read(merged.join("keep")).unwrap(), b"kept");
    assert!(
        std::fs::symlink_metadata(merged.join("gone")).is_err(),
        "whiteout did not hide the file"
    );
    assert_eq!(std::fs::read(merged.join("opq/new")).unwrap(), b"new");
    assert!(
        std::fs::symlink_metadata(merged.join("opq/old")).is_err(),
        "opaque dir did not hide the lower entry"
    );
    let mut plain: Vec<_> = std::fs::read_dir(merged.join("plain"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    plain.sort();
    assert_eq!(plain, ["new", "old"]);
}

//! Each test here is an attempt to write outside the layer; each would fail if the
//! protection it names were removed.
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::tests::LayerTar;
use super::*;

/// A layer directory nested in a sandbox, and a sibling "outside" directory that
/// must stay untouched.
struct Sandbox {
    _root: tempfile::TempDir,
    dest: std::path::PathBuf,
    outside: std::path::PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("layers/a/diff");
        let outside = root.path().join("outside");
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        Sandbox {
            dest,
            outside,
            _root: root,
        }
    }

    fn root(&self) -> &Path {
        self._root.path()
    }

    fn outside_is_empty(&self) -> bool {
        std::fs::read_dir(&self.outside).unwrap().next().is_none()
    }
}

#[test]
fn dotdot_names_are_confined() {
    let sandbox = Sandbox::new();
    // Unconfined, this lands in <root>/outside/escaped.
    LayerTar::new()
        .file("../../../outside/escaped", b"x")
        .unpack(&sandbox.dest)
        .unwrap();
    assert!(sandbox.outside_is_empty());
    assert_eq!(
        std::fs::read(sandbox.dest.join("outside/escaped")).unwrap(),
        b"x"
    );
}

#[test]
fn absolute_names_are_confined() {
    let sandbox = Sandbox::new();
    let absolute = format!("{}/escaped", sandbox.outside.display());
    LayerTar::new()
        .file(&absolute, b"x")
        .unpack(&sandbox.dest)
        .unwrap();
    assert!(sandbox.outside_is_empty());
    assert!(sandbox
        .dest
        .join(absolute.trim_start_matches('/'))
        .is_file());
}

#[test]
fn writing_through_a_symlink_is_refused() {
    let sandbox = Sandbox::new();
    let result = LayerTar::new()
        .symlink("escape", sandbox.outside.to_str().unwrap())
        .file("escape/file", b"x")
        .unpack(&sandbox.dest);
    assert!(
        matches!(result, Err(StoreError::UnsafePath(_))),
        "{result:?}"
    );
    assert!(sandbox.outside_is_empty());
}

#[test]
fn writing_through_a_relative_symlink_is_refused() {
    let sandbox = Sandbox::new();
    let result = LayerTar::new()
        .symlink("up", "../../../outside")
        .file("up/file", b"x")
        .unpack(&sandbox.dest);
    assert!(
        matches!(result, Err(StoreError::UnsafePath(_))),
        "{result:?}"
    );
    assert!(sandbox.outside_is_empty());
}

#[test]
fn writing_through_a_chain_of_symlinked_parents_is_refused() {
    let sandbox = Sandbox::new();
    let result = LayerTar::new()
        .dir("a/", 0o755)
        .symlink("a/b", "../c")
        .symlink("c", sandbox.outside.to_str().unwrap())
        .file("a/b/sub/file", b"x")
        .unpack(&sandbox.dest);
    assert!(
        matches!(result, Err(StoreError::UnsafePath(_))),
        "{result:?}"
    );
    assert!(sandbox.outside_is_empty());
}

#[test]
fn a_file_entry_replaces_a_symlink_instead_of_writing_through_it() {
    let sandbox = Sandbox::new();
    let victim = sandbox.outside.join("victim");
    std::fs::write(&victim, b"original").unwrap();
    LayerTar::new()
        .symlink("x", victim.to_str().unwrap())
        .file("x", b"overwritten?")
        .unpack(&sandbox.dest)
        .unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"original");
    assert_eq!(
        std::fs::read(sandbox.dest.join("x")).unwrap(),
        b"overwritten?"
    );
}

#[test]
fn a_directory_entry_replaces_a_symlink() {
    let sandbox = Sandbox::new();
    LayerTar::new()
        .symlink("d", sandbox.outside.to_str().unwrap())
        .dir("d/", 0o755)
        .file("d/file", b"inside")
        .unpack(&sandbox.dest)
        .unwrap();
    assert!(sandbox.outside_is_empty());
    assert!(std::fs::symlink_metadata(sandbox.dest.join("d"))
        .unwrap()
        .is_dir());
    assert_eq!(
        std::fs::read(sandbox.dest.join("d/file")).unwrap(),
        b"inside"
    );
}

#[test]
fn hard_link_out_of_the_tree_is_refused() {
    let sandbox = Sandbox::new();
    let secret = sandbox.outside.join("secret");
    std::fs::write(&secret, b"secret").unwrap();
    // Relative to the layer directory, this names <root>/outside/secret.
    let result = LayerTar::new()
        .hard_link("h", "../../../outside/secret")
        .unpack(&sandbox.dest);
    assert!(
        matches!(result, Err(StoreError::UnsafePath(_))),
        "{result:?}"
    );
    assert!(std::fs::symlink_metadata(sandbox.dest.join("h")).is_err());
    assert_eq!(std::fs::metadata(&secret).unwrap().nlink(), 1);
}

#[test]
fn hard_link_with_absolute_target_stays_inside() {
    let sandbox = Sandbox::new();
    let secret = sandbox.outside.join("secret");
    std::fs::write(&secret, b"secret").unwrap();
    // "/…/outside/secret" is that path inside the layer, where nothing exists.
    let result = LayerTar::new()
        .hard_link("h", secret.to_str().unwrap())
        .unpack(&sandbox.dest);
    assert!(
        matches!(result, Err(StoreError::InvalidArchive(_))),
        "{result:?}"
    );
    assert_eq!(std::fs::metadata(&secret).unwrap().nlink(), 1);
}

#[test]
fn hard_link_through_a_symlink_is_refused() {
    let sandbox = Sandbox::new();
    let secret = sandbox.outside.join("secret");
    std::fs::write(&secret, b"secret").unwrap();
    let result = LayerTar::new()
        .symlink("s", sandbox.outside.to_str().unwrap())
        .hard_link("h", "s/secret")
        .unpack(&sandbox.dest);
    assert!(
        matches!(result, Err(StoreError::UnsafePath(_))),
        "{result:?}"
    );
    assert!(std::fs::symlink_metadata(sandbox.dest.join("h")).is_err());
    assert_eq!(std::fs::metadata(&secret).unwrap().nlink(), 1);
}

#[test]
fn hard_link_to_a_symlink_links_the_symlink_itself() {
    let sandbox = Sandbox::new();
    let secret = sandbox.outside.join("secret");
    std::fs::write(&secret, b"secret").unwrap();
    LayerTar::new()
        .symlink("s", secret.to_str().unwrap())
        .hard_link("h", "s")
        .unpack(&sandbox.dest)
        .unwrap();
    assert!(std::fs::symlink_metadata(sandbox.dest.join("h"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::metadata(&secret).unwrap().nlink(), 1);
}

#[test]
fn whiteout_names_are_confined() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.outside.join("keep"), b"keep").unwrap();
    LayerTar::new()
        .file("../../../outside/.wh.keep", b"")
        .unpack(&sandbox.dest)
        .unwrap();
    assert_eq!(
        std::fs::read(sandbox.outside.join("keep")).unwrap(),
        b"keep"
    );
    assert!(std::fs::symlink_metadata(sandbox.dest.join("outside/keep")).is_ok());
}

#[test]
fn whiteout_through_a_symlink_is_refused() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.outside.join("keep"), b"keep").unwrap();
    let result = LayerTar::new()
        .symlink("s", sandbox.outside.to_str().unwrap())
        .file("s/.wh.keep", b"")
        .file("s/.wh..wh..opq", b"")
        .unpack(&sandbox.dest);
    assert!(
        matches!(result, Err(StoreError::UnsafePath(_))),
        "{result:?}"
    );
    assert_eq!(
        std::fs::read(sandbox.outside.join("keep")).unwrap(),
        b"keep"
    );
    assert!(super::tests::get_xattr(&sandbox.outside, "trusted.overlay.opaque").is_none());
    let _ = sandbox.root();
}

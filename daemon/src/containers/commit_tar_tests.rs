use super::*;

fn whiteout(path: &Path) {
    nix::sys::stat::mknod(
        path,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0),
        0,
    )
    .expect("mknod (tests run as root)");
}

fn set_opaque(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c_path = CString::new(path.as_os_str().as_bytes()).expect("path");
    let name = CString::new(OPAQUE_XATTR).expect("name");
    // SAFETY: NUL-terminated strings, value and length match.
    let rc = unsafe { libc::lsetxattr(c_path.as_ptr(), name.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    assert_eq!(rc, 0, "setxattr (tests run as root)");
}

#[test]
fn overlay_whiteouts_become_oci_whiteouts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let upper = dir.path().join("upper");
    let lower = dir.path().join("lower");
    for d in ["etc", "gone-dir", "opaque", "same"] {
        std::fs::create_dir_all(lower.join(d)).expect("lower");
        std::fs::create_dir_all(upper.join(d)).expect("upper");
    }
    std::fs::write(upper.join("etc/new.conf"), "x").expect("file");
    whiteout(&upper.join("etc/removed"));
    whiteout(&upper.join("gone-dir/file"));
    set_opaque(&upper.join("opaque"));
    std::fs::write(upper.join("opaque/only"), "o").expect("file");

    let items = layer_items(&upper, std::slice::from_ref(&lower)).expect("items");
    let p = |s: &str| PathBuf::from(s);
    assert_eq!(
        items,
        vec![
            Item::Copy(p("etc")),
            Item::Copy(p("etc/new.conf")),
            Item::Whiteout(p("etc/.wh.removed")),
            Item::Copy(p("gone-dir")),
            Item::Whiteout(p("gone-dir/.wh.file")),
            Item::Copy(p("opaque")),
            Item::Opaque(p("opaque/.wh..wh..opq")),
            Item::Copy(p("opaque/only")),
        ],
        "unchanged folders left out"
    );

    let mut bytes = Vec::new();
    write_layer_tar(&upper, &items, &mut bytes).expect("tar");
    let mut archive = tar::Archive::new(bytes.as_slice());
    let entries: Vec<(String, tar::EntryType, u64)> = archive
        .entries()
        .expect("entries")
        .map(|e| {
            let e = e.expect("entry");
            let h = e.header();
            (
                e.path().expect("path").display().to_string(),
                h.entry_type(),
                h.size().expect("size"),
            )
        })
        .collect();
    assert!(entries.contains(&("etc/.wh.removed".into(), tar::EntryType::Regular, 0)));
    assert!(entries.contains(&("opaque/.wh..wh..opq".into(), tar::EntryType::Regular, 0)));
    assert!(entries.iter().all(|(_, t, _)| *t != tar::EntryType::Char));
}

#[test]
fn nothing_changed_is_an_empty_layer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let upper = dir.path().join("upper");
    let lower = dir.path().join("lower");
    std::fs::create_dir_all(lower.join("etc")).expect("lower");
    // A folder copied up and left as it was is no change.
    std::fs::create_dir_all(upper.join("etc")).expect("upper");
    assert!(layer_items(&upper, &[lower]).expect("items").is_empty());
}

#[test]
fn hard_links_made_in_the_container_stay_links() {
    let dir = tempfile::tempdir().expect("tempdir");
    let upper = dir.path().join("upper");
    let lower = dir.path().join("lower");
    std::fs::create_dir_all(&lower).expect("lower");
    std::fs::create_dir_all(upper.join("bin")).expect("upper");
    std::fs::write(upper.join("bin/tool"), vec![1u8; 50_000]).expect("tool");
    std::fs::hard_link(upper.join("bin/tool"), upper.join("bin/alias")).expect("link");
    let items = layer_items(&upper, std::slice::from_ref(&lower)).expect("items");
    let mut bytes = Vec::new();
    write_layer_tar(&upper, &items, &mut bytes).expect("tar");
    assert!(bytes.len() < 60_000, "{} bytes", bytes.len());
    let mut archive = tar::Archive::new(&bytes[..]);
    let links: Vec<(String, Option<String>)> = archive
        .entries()
        .expect("entries")
        .map(|e| e.expect("entry"))
        .filter(|e| e.header().entry_type() == tar::EntryType::Link)
        .map(|e| {
            (
                e.path().expect("path").display().to_string(),
                e.link_name()
                    .expect("link")
                    .map(|l| l.display().to_string()),
            )
        })
        .collect();
    assert_eq!(
        links,
        [("bin/tool".to_string(), Some("bin/alias".to_string()))]
    );
}

#[test]
fn a_folder_swapped_for_a_symlink_after_listing_is_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let upper = dir.path().join("upper");
    let lower = dir.path().join("lower");
    let host = dir.path().join("host");
    std::fs::create_dir_all(&lower).expect("lower");
    std::fs::create_dir_all(upper.join("d")).expect("upper");
    std::fs::write(upper.join("d/secret"), "inside").expect("file");
    std::fs::create_dir_all(&host).expect("host");
    std::fs::write(host.join("secret"), "HOST-ONLY").expect("host file");
    let items = layer_items(&upper, std::slice::from_ref(&lower)).expect("items");
    // The container swaps its folder for a symlink to a host folder before the tar.
    std::fs::rename(upper.join("d"), upper.join("d.real")).expect("rename");
    std::os::unix::fs::symlink(&host, upper.join("d")).expect("symlink");
    let mut bytes = Vec::new();
    write_layer_tar(&upper, &items, &mut bytes).expect("tar");
    let token = b"HOST-ONLY";
    assert!(
        !bytes.windows(token.len()).any(|w| w == token),
        "the host's file was committed"
    );
}

//! Contexts that try to write outside their folder, or are not tars at all.
use super::tests::{dir, file, link, scratch, tar_of};
use super::*;

/// Unpacks `tar` in a scratch folder that also holds a "victim" file next to where the
/// context goes; returns the context (or error), what changed outside, and the scratch
/// folder (which holds the context).
fn unpack_hostile(
    tar: &[u8],
) -> (
    Result<BuildContext, ContextError>,
    Vec<String>,
    tempfile::TempDir,
) {
    let scratch = scratch();
    let outside = scratch.path().join("victim");
    std::fs::write(&outside, "untouched").expect("victim");
    let result = BuildContext::unpack(tar, &scratch.path().join("contexts"));
    let mut strays = Vec::new();
    for entry in std::fs::read_dir(scratch.path()).expect("list").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "contexts" && name != "victim" {
            strays.push(name);
        }
    }
    if std::fs::read_to_string(&outside).expect("victim") != "untouched" {
        strays.push("victim changed".into());
    }
    (result, strays, scratch)
}

#[test]
fn names_climbing_out_are_refused() {
    for name in ["../escaped", "a/../../escaped", "../victim"] {
        let (result, strays, _scratch) = unpack_hostile(&tar_of(&[file(name, b"evil")]));
        let err = result.expect_err(name).to_string();
        assert!(err.starts_with("Error processing tar file("), "{err}");
        assert!(strays.is_empty(), "{name}: {strays:?}");
    }
}

#[test]
fn absolute_names_stay_inside() {
    let (result, strays, _scratch) = unpack_hostile(&tar_of(&[file("/abs/file", b"x")]));
    let context = result.expect("unpack");
    assert!(context.root().join("abs/file").is_file());
    assert!(strays.is_empty(), "{strays:?}");
}

#[test]
fn symlinks_do_not_lead_writes_out() {
    let (result, strays, _scratch) = unpack_hostile(&tar_of(&[
        link("up", tar::EntryType::Symlink, "../.."),
        file("up/victim", b"evil"),
        link("abs", tar::EntryType::Symlink, "/"),
        file("abs/escaped", b"evil"),
        dir("d"),
        link("d/back", tar::EntryType::Symlink, "../../../.."),
        file("d/back/escaped2", b"evil"),
    ]));
    let context = result.expect("symlinks resolve inside the context");
    assert!(strays.is_empty(), "{strays:?}");
    // Each write landed inside the context, where the symlink resolves in it.
    assert!(context.root().join("victim").is_file());
    assert!(context.root().join("escaped").is_file());
    assert!(context.root().join("escaped2").is_file());
}

#[test]
fn hard_links_may_not_point_out() {
    let (result, strays, _scratch) =
        unpack_hostile(&tar_of(&[link("h", tar::EntryType::Link, "../victim")]));
    assert!(result.is_err());
    assert!(strays.is_empty(), "{strays:?}");
}

#[test]
fn broken_tars_are_errors() {
    let whole = tar_of(&[file("a", &[b'x'; 3000])]);
    let (result, _, _) = unpack_hostile(&whole[..1500]);
    let err = result.expect_err("truncated");
    // dockerd's text for a body cut short; the client's error, so a 400.
    assert_eq!(err.to_string(), "unexpected EOF");
    assert!(matches!(err, ContextError::Invalid(_)), "{err:?}");
    let (result, _, _) = unpack_hostile(&[b'g'; 700]);
    assert!(result.is_err(), "garbage is not a context");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &whole).expect("gz");
    let gz = gz.finish().expect("gz");
    let (result, _, _) = unpack_hostile(&gz[..gz.len() / 2]);
    assert!(result.is_err(), "a truncated gzip stream is an error");
}

#[test]
fn a_failed_unpack_leaves_no_folder_behind() {
    let scratch = scratch();
    let result = BuildContext::unpack(&[b'g'; 700][..], scratch.path());
    assert!(result.is_err());
    let left: Vec<_> = std::fs::read_dir(scratch.path()).expect("ls").collect();
    assert!(left.is_empty(), "{left:?}");
}

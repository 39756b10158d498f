//! Paths resolved inside their roots, ownership (--chown, COPY --from) and --chmod.
use std::os::unix::fs::symlink;

use super::tests::{set_mode_time, stat, Roots};
use super::*;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n";
const GROUP: &str = "root:x:0:\nusers:x:100:app\napp:x:1000:\n";

fn with_users(r: &Roots) {
    std::fs::write(r.dest("etc/passwd"), PASSWD).expect("passwd");
    std::fs::write(r.dest("etc/group"), GROUP).expect("group");
}

fn chown(spec: &str) -> CopyOptions {
    CopyOptions {
        chown: Some(spec.to_string()),
        ..CopyOptions::default()
    }
}

#[test]
fn source_symlinks_resolve_inside_the_source_root() {
    let r = Roots::new();
    r.file("etc/passwd", "context passwd", 0o644, 1_000);
    r.file("d/keep", "k", 0o644, 1_000);
    symlink("../../etc", r.src("d/esc")).expect("ln");
    symlink("/etc/hostname", r.src("abs")).expect("ln");
    symlink("/../../../../etc", r.src("up")).expect("ln");
    r.copy(&["d/esc/passwd"], "/w4", "/").expect("copy");
    assert_eq!(
        std::fs::read_to_string(r.dest("w4")).expect("w4"),
        "context passwd"
    );
    r.copy(&["up/passwd"], "/w5", "/").expect("copy");
    assert_eq!(
        std::fs::read_to_string(r.dest("w5")).expect("w5"),
        "context passwd"
    );
    assert_eq!(
        r.copy(&["abs"], "/abs", "/").expect_err("dangling").to_string(),
        "COPY failed: file not found in build context or excluded by .dockerignore: stat abs: file does not exist"
    );
    // A folder whose symlink leads out is copied as the symlink itself.
    r.copy(&["d"], "/dcopy", "/").expect("dir");
    assert_eq!(
        std::fs::read_link(r.dest("dcopy/esc")).expect("link"),
        std::path::Path::new("../../etc")
    );
}

#[test]
fn destination_symlinks_resolve_inside_the_destination_root() {
    let r = Roots::new();
    r.file("a", "payload", 0o644, 1_000);
    let outside = tempfile::tempdir().expect("outside");
    symlink(outside.path(), r.dest("out")).expect("ln");
    symlink("../../../../..", r.dest("up")).expect("ln");
    std::fs::create_dir_all(r.dest("var/data")).expect("mkdir");
    symlink("/var/data", r.dest("data")).expect("ln");
    r.copy(&["a"], "/out/", "/").expect("abs link");
    r.copy(&["a"], "/up/escaped", "/").expect("relative link");
    r.copy(&["a"], "/data/", "/").expect("link to a folder");
    assert_eq!(
        std::fs::read_dir(outside.path()).expect("ls").count(),
        0,
        "nothing written outside"
    );
    let inside = r.dest(&format!("{}/a", outside.path().display()));
    assert!(inside.is_file(), "{inside:?}");
    assert!(r.dest("escaped").is_file());
    assert!(r.dest("var/data/a").is_file());
    let dir_copy = Roots::new();
    dir_copy.file("d/f", "x", 0o644, 1_000);
    symlink(outside.path(), dir_copy.dest("out")).expect("ln");
    dir_copy.copy(&["d"], "/out/sub", "/").expect("dir");
    assert_eq!(std::fs::read_dir(outside.path()).expect("ls").count(), 0);
}

#[test]
fn a_symlink_destination_file_is_written_through_inside_the_root() {
    let r = Roots::new();
    r.file("a", "new", 0o644, 1_000);
    std::fs::write(r.dest("target"), "old").expect("target");
    symlink("/target", r.dest("lnk")).expect("ln");
    r.copy(&["a"], "/lnk", "/").expect("copy");
    assert_eq!(std::fs::read_to_string(r.dest("target")).expect("t"), "new");
    assert!(std::fs::symlink_metadata(r.dest("lnk"))
        .expect("lnk")
        .file_type()
        .is_symlink());
}

#[test]
fn chown_by_name_and_id_owns_new_folders_too() {
    let r = Roots::new();
    with_users(&r);
    r.file("a", "a", 0o4751, 1_000);
    r.file("d/e/f", "f", 0o644, 1_000);
    r.run(&["d"], "/own/", "/", &chown("app")).expect("dir");
    let (_, uid, gid, _) = stat(&r.dest("own"));
    assert_eq!((uid, gid), (1000, 1000));
    assert_eq!(stat(&r.dest("own/e/f")).1, 1000);
    r.run(&["a"], "/ownf/sub/a2", "/", &chown("1000:users"))
        .expect("file");
    let (_, uid, gid, _) = stat(&r.dest("ownf/sub"));
    assert_eq!((uid, gid), (1000, 100));
    let (mode, uid, gid, _) = stat(&r.dest("ownf/sub/a2"));
    assert_eq!((mode, uid, gid), (0o751, 1000, 100), "chown drops setuid");
    r.copy(&["a"], "/plain", "/").expect("no chown");
    assert_eq!(
        stat(&r.dest("plain")),
        (0o751, 0, 0, 1_000),
        "nor does root"
    );
    r.run(&["d"], "/x/own/", "/", &chown("1000"))
        .expect("nested");
    assert_eq!(
        stat(&r.dest("x")).1,
        0,
        "only the destination folder is chowned"
    );
    assert_eq!(stat(&r.dest("x/own")).1, 1000);
}

#[test]
fn chown_errors_are_dockerds() {
    let r = Roots::new();
    with_users(&r);
    r.file("a", "a", 0o644, 1_000);
    let prefix = "unable to convert uid/gid chown string to host mapping";
    for (spec, why) in [
        (
            "nouser",
            "can't find uid for user nouser: no such user: nouser",
        ),
        (
            "0:zzgroup",
            "can't find gid for group zzgroup: no such group: zzgroup",
        ),
        ("a:b:c", "invalid chown string format: a:b:c"),
    ] {
        let err = r.run(&["a"], "/x", "/", &chown(spec)).expect_err(spec);
        assert_eq!(err.to_string(), format!("{prefix}: {why}"));
    }
    assert!(!r.dest("x").exists());
}

#[test]
fn copy_from_a_stage_keeps_owners_unless_chowned() {
    let r = Roots::new();
    with_users(&r);
    r.file("bin/tool", "t", 0o755, 1_000);
    std::os::unix::fs::chown(r.src("bin/tool"), Some(1234), Some(5678)).expect("chown");
    set_mode_time(&r.src("bin/tool"), 0o4755, 1_000);
    let from = CopyOptions {
        from_stage: true,
        ..CopyOptions::default()
    };
    r.run(&["bin/tool"], "/kept", "/", &from).expect("copy");
    assert_eq!(stat(&r.dest("kept")), (0o4755, 1234, 5678, 1_000));
    let chowned = CopyOptions {
        chown: Some("app".into()),
        ..from.clone()
    };
    r.run(&["bin/tool"], "/mine", "/", &chowned).expect("copy");
    assert_eq!(stat(&r.dest("mine")).1, 1000);
    assert_eq!(
        r.run(&["nothere"], "/", "/", &from)
            .expect_err("missing")
            .to_string(),
        "COPY failed: stat nothere: file does not exist"
    );
}

#[test]
fn chmod_sets_files_and_folders() {
    let r = Roots::new();
    r.file("d/f", "f", 0o600, 1_000);
    set_mode_time(&r.src("d"), 0o700, 1_000);
    r.file("d/sub/g", "g", 0o600, 1_000);
    let options = CopyOptions {
        chmod: Some("751".into()),
        ..CopyOptions::default()
    };
    r.run(&["d"], "/m", "/", &options).expect("copy");
    assert_eq!(stat(&r.dest("m/f")).0, 0o751);
    assert_eq!(stat(&r.dest("m/sub")).0, 0o751);
    assert_eq!(stat(&r.dest("m/sub/g")).0, 0o751);
    let bad = CopyOptions {
        chmod: Some("64a".into()),
        ..CopyOptions::default()
    };
    assert_eq!(
        r.run(&["d"], "/m", "/", &bad).expect_err("bad").to_string(),
        "invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777"
    );
    let big = CopyOptions {
        chmod: Some("10000".into()),
        ..CopyOptions::default()
    };
    assert!(r.run(&["d"], "/m", "/", &big).is_err());
}

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::*;

/// A source root and a destination root.
pub(super) struct Roots {
    pub src: tempfile::TempDir,
    pub dest: tempfile::TempDir,
}

impl Roots {
    pub fn new() -> Roots {
        let roots = Roots {
            src: tempfile::tempdir().expect("src"),
            dest: tempfile::tempdir().expect("dest"),
        };
        std::fs::create_dir_all(roots.dest.path().join("etc")).expect("etc");
        roots
    }

    pub fn src(&self, rel: &str) -> PathBuf {
        self.src.path().join(rel)
    }

    pub fn dest(&self, rel: &str) -> PathBuf {
        self.dest.path().join(rel.trim_start_matches('/'))
    }

    /// Writes a source file (and its folders) with `mode` and `mtime`.
    pub fn file(&self, rel: &str, content: &str, mode: u32, mtime: u64) {
        let path = self.src(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, content).expect("write");
        set_mode_time(&path, mode, mtime);
    }

    pub fn copy(&self, sources: &[&str], dest: &str, workdir: &str) -> Result<String, CopyError> {
        self.run(sources, dest, workdir, &CopyOptions::default())
    }

    pub fn run(
        &self,
        sources: &[&str],
        dest: &str,
        workdir: &str,
        options: &CopyOptions,
    ) -> Result<String, CopyError> {
        let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        copy_into(
            self.src.path(),
            &sources,
            self.dest.path(),
            dest,
            workdir,
            options,
        )
    }
}

pub(super) fn set_mode_time(path: &Path, mode: u32, mtime: u64) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime);
    std::fs::File::open(path)
        .and_then(|f| f.set_modified(when))
        .expect("mtime");
}

/// (mode bits, uid, gid, mtime) of `path`, not followed.
pub(super) fn stat(path: &Path) -> (u32, u32, u32, i64) {
    let m = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    (m.mode() & 0o7777, m.uid(), m.gid(), m.mtime())
}

fn message(result: Result<String, CopyError>) -> String {
    result.expect_err("should fail").to_string()
}

#[test]
fn a_file_keeps_its_mode_and_time_and_belongs_to_root() {
    let r = Roots::new();
    r.file("a", "hello", 0o640, 1_577_934_245);
    let sum = r.copy(&["a"], "/x", "/").expect("copy");
    assert!(sum.starts_with("file:") && sum.len() == 5 + 64, "{sum}");
    assert_eq!(std::fs::read_to_string(r.dest("x")).expect("x"), "hello");
    assert_eq!(stat(&r.dest("x")), (0o640, 0, 0, 1_577_934_245));
}

#[test]
fn destinations_ending_in_slash_or_folders_receive_the_file() {
    let r = Roots::new();
    r.file("a", "hello", 0o644, 1_000);
    r.copy(&["a"], "/new/deep/", "/").expect("copy");
    assert!(r.dest("new/deep/a").is_file());
    let (mode, uid, gid, _) = stat(&r.dest("new/deep"));
    assert_eq!((mode, uid, gid), (0o755, 0, 0));
    r.copy(&["a"], "/etc", "/")
        .expect("into an existing folder");
    assert!(r.dest("etc/a").is_file());
    r.copy(&["./a"], "/b", "/").expect("./ is dropped");
    assert!(r.dest("b").is_file());
}

#[test]
fn relative_destinations_start_at_the_working_folder() {
    let r = Roots::new();
    r.file("a", "hello", 0o644, 1_000);
    r.copy(&["a"], "rel", "/w").expect("rel");
    assert!(r.dest("w/rel").is_file());
    r.copy(&["a"], "sub/", "w2").expect("sub/");
    assert!(r.dest("w2/sub/a").is_file());
    r.copy(&["a"], ".", "/w3").expect(".");
    assert!(
        r.dest("w3").is_file(),
        "\".\" names the working folder itself"
    );
    std::fs::create_dir(r.dest("w4")).expect("mkdir");
    r.copy(&["a"], ".", "/w4").expect(".");
    assert!(
        r.dest("w4/a").is_file(),
        "which receives the file when it exists"
    );
}

#[test]
fn a_folder_copies_its_content() {
    let r = Roots::new();
    r.file("d/e/f", "x", 0o600, 1_546_300_800);
    set_mode_time(&r.src("d/e"), 0o700, 1_546_300_800);
    std::os::unix::fs::symlink("e/f", r.src("d/link")).expect("ln");
    std::fs::hard_link(r.src("d/e/f"), r.src("d/hard")).expect("hard link");
    let sum = r.copy(&["d"], "/x/y", "/").expect("copy");
    assert!(sum.starts_with("dir:"), "{sum}");
    assert_eq!(stat(&r.dest("x/y/e")), (0o700, 0, 0, 1_546_300_800));
    assert_eq!(stat(&r.dest("x/y/e/f")), (0o600, 0, 0, 1_546_300_800));
    assert_eq!(stat(&r.dest("x/y")).0, 0o755);
    assert_eq!(
        std::fs::read_link(r.dest("x/y/link")).expect("symlink kept"),
        Path::new("e/f")
    );
    let f = std::fs::metadata(r.dest("x/y/e/f")).expect("f");
    let hard = std::fs::metadata(r.dest("x/y/hard")).expect("hard");
    assert_eq!(
        (f.ino(), f.nlink()),
        (hard.ino(), 2),
        "hard links stay linked"
    );
}

#[test]
fn an_existing_destination_folder_keeps_its_mode_and_owner() {
    let r = Roots::new();
    r.file("d/f", "x", 0o644, 1_000);
    std::fs::create_dir(r.dest("existing")).expect("mkdir");
    set_mode_time(&r.dest("existing"), 0o711, 1_000);
    std::os::unix::fs::chown(r.dest("existing"), Some(5), Some(5)).expect("chown");
    r.copy(&["d"], "/existing", "/").expect("copy");
    let (mode, uid, gid, _) = stat(&r.dest("existing"));
    assert_eq!((mode, uid, gid), (0o711, 5, 5));
    assert!(r.dest("existing/f").is_file());
}

#[test]
fn existing_files_are_replaced_and_folders_merged() {
    let r = Roots::new();
    r.file("d/sub/new", "new", 0o644, 1_000);
    r.file("d/file", "fresh", 0o644, 1_000);
    std::fs::create_dir_all(r.dest("t/sub")).expect("mkdir");
    std::fs::write(r.dest("t/sub/old"), "old").expect("old");
    std::fs::write(r.dest("t/file"), "stale").expect("stale");
    r.copy(&["d"], "/t", "/").expect("copy");
    assert!(r.dest("t/sub/old").is_file());
    assert!(r.dest("t/sub/new").is_file());
    assert_eq!(
        std::fs::read_to_string(r.dest("t/file")).expect("f"),
        "fresh"
    );
}

#[test]
fn wildcards_match_like_go() {
    let r = Roots::new();
    r.file("a.txt", "a", 0o644, 1_000);
    r.file("b.txt", "b", 0o644, 1_000);
    r.file("c.md", "c", 0o644, 1_000);
    r.file("d/e/f", "f", 0o644, 1_000);
    r.file("d/g", "g", 0o644, 1_000);
    let sum = r.copy(&["*.txt"], "/out/", "/").expect("copy");
    assert!(sum.starts_with("multi:"), "{sum}");
    assert!(r.dest("out/a.txt").is_file() && r.dest("out/b.txt").is_file());
    assert!(!r.dest("out/c.md").exists());
    r.copy(&["d/*"], "/w3/", "/").expect("d/*");
    assert!(
        r.dest("w3/f").is_file(),
        "a matched folder copies its content"
    );
    assert!(r.dest("w3/g").is_file());
    r.copy(&["[c]*"], "/one", "/")
        .expect("a single match needs no slash");
    assert!(r.dest("one").is_file());
    assert_eq!(
        message(r.copy(&["*.txt"], "/dst", "/")),
        "When using COPY with more than one source file, the destination must be a directory and end with a /"
    );
    assert_eq!(
        message(r.copy(&["z*"], "/", "/")),
        "COPY failed: no source files were specified"
    );
}

#[test]
fn dockerd_messages_for_bad_sources() {
    let r = Roots::new();
    r.file("a", "a", 0o644, 1_000);
    r.file("b", "b", 0o644, 1_000);
    assert_eq!(
        message(r.copy(&["nothere"], "/", "/")),
        "COPY failed: file not found in build context or excluded by .dockerignore: stat nothere: file does not exist"
    );
    assert_eq!(
        message(r.copy(&["../x"], "/", "/")),
        "COPY failed: forbidden path outside the build context: ../x ()"
    );
    assert_eq!(
        message(r.copy(&["/../a"], "/x", "/")),
        "COPY failed: forbidden path outside the build context: ../a ()"
    );
    assert_eq!(
        message(r.copy(&["a/x"], "/", "/")),
        "COPY failed: forbidden path outside the build context: a/x ()",
        "a file used as a folder"
    );
    assert_eq!(
        message(r.copy(&["http://127.0.0.1:1/x"], "/", "/")),
        "COPY failed: source can't be a URL for COPY"
    );
    assert_eq!(
        message(r.copy(&["a", "b"], "/dst", "/")),
        "When using COPY with more than one source file, the destination must be a directory and end with a /"
    );
    assert_eq!(
        message(r.copy(&["a", "nothere"], "/dst/", "/")),
        "COPY failed: file not found in build context or excluded by .dockerignore: stat nothere: file does not exist"
    );
    assert!(
        !r.dest("dst").exists(),
        "nothing is copied when a source is missing"
    );
}

#[test]
fn dockerd_messages_for_bad_destinations() {
    let r = Roots::new();
    r.file("d/f", "x", 0o644, 1_000);
    r.file("a", "a", 0o644, 1_000);
    std::fs::write(r.dest("file"), "x").expect("file");
    assert_eq!(
        message(r.copy(&["d"], "/file", "/")),
        "failed to copy files: failed to copy directory: mkdir /file: not a directory"
    );
    assert_eq!(
        message(r.copy(&["a"], "/file/x", "/")),
        "failed to copy files: lstat /file/x: not a directory"
    );
}

#[test]
fn a_symlinked_source_is_copied_as_its_target_under_its_own_name() {
    let r = Roots::new();
    r.file("d/e/f", "target", 0o640, 1_000);
    std::os::unix::fs::symlink("e/f", r.src("d/link")).expect("ln");
    let sum = r.copy(&["d/link"], "/linkcopy", "/").expect("copy");
    assert!(sum.starts_with("file:"));
    assert_eq!(stat(&r.dest("linkcopy")).0, 0o640);
    assert_eq!(
        std::fs::read_to_string(r.dest("linkcopy")).expect("file"),
        "target"
    );
    r.copy(&["d/link"], "/dir/", "/").expect("into a folder");
    assert!(r.dest("dir/link").is_file());
}

#[test]
fn checksums_follow_content_mode_and_names() {
    let r = Roots::new();
    r.file("a", "one", 0o644, 1_000);
    r.file("d/x", "x", 0o644, 1_000);
    let sum = |srcs: &[&str]| {
        let names: Vec<String> = srcs.iter().map(|s| s.to_string()).collect();
        prepare(r.src.path(), &names, "/dst/", &CopyOptions::default())
            .expect("prepare")
            .checksum()
            .to_string()
    };
    let file = sum(&["a"]);
    let dir = sum(&["d"]);
    let multi = sum(&["a", "d"]);
    assert!(file.starts_with("file:") && dir.starts_with("dir:") && multi.starts_with("multi:"));
    assert_eq!(sum(&["a"]), file, "stable");
    assert_eq!(sum(&["/a"]), file, "the same file");
    set_mode_time(&r.src("a"), 0o644, 2_000);
    assert_eq!(sum(&["a"]), file, "times do not count");
    set_mode_time(&r.src("a"), 0o600, 2_000);
    let chmodded = sum(&["a"]);
    assert_ne!(chmodded, file);
    std::fs::write(r.src("a"), "two").expect("write");
    assert_ne!(sum(&["a"]), chmodded);
    std::fs::write(r.src("d/x"), "y").expect("write");
    assert_ne!(sum(&["d"]), dir, "a folder's sum follows its files");
    std::fs::rename(r.src("d/x"), r.src("d/z")).expect("rename");
    let renamed = sum(&["d"]);
    std::fs::rename(r.src("d/z"), r.src("d/x")).expect("rename back");
    assert_ne!(renamed, sum(&["d"]), "and their names");
    assert_ne!(sum(&["d", "a"]), sum(&["a", "d"]), "multi keeps the order");
}

#[test]
fn prepare_writes_nothing() {
    let r = Roots::new();
    r.file("a", "one", 0o644, 1_000);
    let prepared = prepare(
        r.src.path(),
        &["a".to_string()],
        "/x",
        &CopyOptions::default(),
    )
    .expect("prepare");
    assert!(!r.dest("x").exists());
    prepared.copy_into(r.dest.path(), "/").expect("copy");
    assert!(r.dest("x").is_file());
}

#[test]
fn the_whole_root_copies_with_a_dot_or_a_slash() {
    let r = Roots::new();
    r.file("a", "a", 0o644, 1_000);
    r.file("d/f", "f", 0o644, 1_000);
    let dot = r.copy(&["."], "/app", "/").expect(".");
    assert!(dot.starts_with("dir:"));
    assert!(r.dest("app/a").is_file() && r.dest("app/d/f").is_file());
    assert_eq!(r.copy(&["/"], "/app2/", "/").expect("/"), dot);
    assert!(r.dest("app2/d/f").is_file());
}

//! A container (or an image) that attacks the host through its own files, driven as the
//! user would with the stock CLI: folders swapped for symlinks while `docker cp`, `docker
//! export` and `docker commit` read them (CVE-2018-15664's class), a WORKDIR through a
//! symlink to a host folder, the container's `/proc` and `/sys` copied out, mount points
//! through symlinks. Nothing may reach or change a host file.
mod common;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{unique, Daemon, Fixtures};

/// A folder on the host (under /tmp) holding `secret` with a token no container has;
/// removed when dropped.
struct Canary {
    dir: PathBuf,
    token: String,
}

impl Canary {
    fn new(prefix: &str) -> Canary {
        let name = unique(prefix);
        let dir = Path::new("/tmp").join(&name);
        std::fs::create_dir_all(dir.join("sub")).expect("canary dir");
        let token = format!("HOST-ONLY-{name}");
        std::fs::write(dir.join("secret"), &token).expect("canary");
        std::fs::write(dir.join("sub/secret"), &token).expect("canary");
        Canary { dir, token }
    }

    fn found_in(&self, bytes: &[u8]) -> bool {
        let token = self.token.as_bytes();
        bytes.windows(token.len()).any(|w| w == token)
    }
}

/// A host path a test expects never to be made; removed if it was.
struct HostPath(PathBuf);

impl Drop for HostPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `docker ARGS...`, killed after `limit` (a copy that never ends is a failure too).
fn docker_bounded(d: &Daemon, args: &[&str], limit: Duration) -> Output {
    let mut child = d
        .docker_cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + limit;
    loop {
        if let Some(_status) = child.try_wait().expect("wait") {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("docker {args:?} still running after {limit:?}");
        }
        // Polling a child the test started: a retry back-off, not an ordering sleep.
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = child.wait_with_output().expect("output");
    out.stdout = reader.join().expect("reader");
    out
}

/// The entry names of a tar.
fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .display()
                .to_string()
        })
        .collect()
}

/// Whether any file under `dir` holds `canary`'s token.
fn host_files_hold(dir: &Path, canary: &Canary) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                if let Ok(bytes) = std::fs::read(e.path()) {
                    if canary.found_in(&bytes) {
                        found.push(e.path());
                    }
                }
            }
        }
    }
    found
}

/// How many times each reader meets the racing container.
const CP_TRIES: usize = 100;
const EXPORT_TRIES: usize = 60;
const COMMIT_TRIES: usize = 40;

#[test]
fn cp_export_and_commit_of_a_container_racing_its_symlinks_read_no_host_file() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let canary = Canary::new("berth-race-canary");
    let c = unique("berth-race");
    // /race/dN and /race/evilN trade places all the time (renameat2 RENAME_EXCHANGE):
    // one moment a folder, the next a symlink to the host's canary folder (a path that
    // inside the container leads nowhere); four pairs at once. A big file listed before
    // them keeps a walker busy between listing /race and reading what is below: a walker
    // that reads by path meets the swap there.
    let swap = common::static_program(d.dir.path(), "swap.c");
    let script = format!(
        "mkdir -p /race && dd if=/dev/zero of=/race/aaa-big bs=1M count=2 2>/dev/null; \
         for n in 0 1 2 3; do mkdir -p /race/d$n/sub && echo inside > /race/d$n/secret \
         && echo inside > /race/d$n/sub/secret && ln -s {canary} /race/evil$n \
         && /swap /race/d$n /race/evil$n & done; wait",
        canary = canary.dir.display()
    );
    let mount = format!("{}:/swap:ro", swap.display());
    d.docker_ok(&[
        "run", "-d", "--name", &c, "-v", &mount, &image, "sh", "-c", &script,
    ]);
    common::eventually("the container racing", || {
        d.docker(&["exec", &c, "test", "-e", "/race/evil3"])
            .status
            .success()
    });
    let limit = Duration::from_secs(60);
    let (mut leaks, mut raced) = (Vec::new(), 0usize);
    for i in 0..CP_TRIES {
        let out = docker_bounded(&d, &["cp", &format!("{c}:/race"), "-"], limit);
        if !out.status.success() {
            // A name that vanished mid-copy may fail the copy; it never leaks.
            continue;
        }
        if canary.found_in(&out.stdout) {
            leaks.push(format!("cp #{i}"));
        }
        if tar_names(&out.stdout)
            .iter()
            .any(|n| n.starts_with("race/evil") && n.ends_with("secret"))
        {
            raced += 1;
        }
    }
    for i in 0..EXPORT_TRIES {
        let out = docker_bounded(&d, &["export", &c], limit);
        if canary.found_in(&out.stdout) {
            leaks.push(format!("export #{i}"));
        }
    }
    let repo = unique("berth-race-commit");
    for i in 0..COMMIT_TRIES {
        let tag = format!("{repo}:{i}");
        d.docker(&["commit", "--pause=false", &c, &tag]);
    }
    // Every committed layer is unpacked in the data root: none holds the host's token.
    let in_layers = host_files_hold(&d.data_root().join("layers"), &canary);
    eprintln!(
        "race: {CP_TRIES} cp (the swap seen in {raced}), {EXPORT_TRIES} export, {COMMIT_TRIES} \
         commit; leaks: {leaks:?}, host content in committed layers: {in_layers:?}"
    );
    assert!(leaks.is_empty(), "host content in {leaks:?}");
    assert!(
        in_layers.is_empty(),
        "host content committed: {in_layers:?}"
    );
    assert!(
        raced > 0,
        "the copies never met the swap: the test proves nothing"
    );
    d.docker_ok(&["rm", "-f", &c]);
}

#[test]
fn a_workdir_through_a_symlink_is_made_inside_the_container() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let guard = HostPath(PathBuf::from("/tmp").join(unique("berth-workdir-target")));
    let host = guard.0.clone();
    let mk = unique("berth-wd-mk");
    d.docker_ok(&[
        "run",
        "--name",
        &mk,
        &image,
        "ln",
        "-s",
        &host.display().to_string(),
        "/w",
    ]);
    let evil = unique("berth-wd-image");
    d.docker_ok(&["commit", "--change", "WORKDIR /w/x/deeper", &mk, &evil]);
    // The process starts in the folder, made inside the container's root (where the
    // link leads inside it).
    let out = d.docker_ok(&["run", "--rm", &evil, "pwd"]);
    assert!(!host.exists(), "{} was made on the host", host.display());
    assert_eq!(out.trim(), format!("{}/x/deeper", host.display()));
    // The same given on the command line.
    d.docker_ok(&["run", "--rm", "-w", "/w/other", &evil, "true"]);
    assert!(!host.exists(), "{} was made on the host", host.display());
    // A working directory that is a file fails the start, as with dockerd.
    let err = d.docker_err(&["run", "--rm", "-w", "/bin/sh", &image, "true"]);
    assert!(
        err.contains("Cannot mkdir: /bin/sh is not a directory"),
        "{err}"
    );
    d.docker_ok(&["rm", &mk]);
    d.docker_ok(&["rmi", &evil]);
}

#[test]
fn mount_points_and_volume_copies_through_symlinks_stay_inside_the_container() {
    let d = Daemon::start();
    let canary = Canary::new("berth-mounts-canary");
    let etc_guard = HostPath(PathBuf::from("/tmp").join(unique("berth-etc-target")));
    let vol_guard = HostPath(PathBuf::from("/tmp").join(unique("berth-vol-target")));
    let (host_etc, host_vol) = (etc_guard.0.clone(), vol_guard.0.clone());
    // An image whose /etc is a link to a host folder (hosts, hostname, resolv.conf are
    // mounted there), whose /data is one too (a volume is mounted below it), and whose
    // /copy holds a link to the canary (a new volume gets /copy's content).
    let mut b = tar::Builder::new(Vec::new());
    b.append_path_with_name("/bin/busybox", "bin/busybox")
        .expect("busybox");
    let link = |b: &mut tar::Builder<Vec<u8>>, name: &str, target: &Path| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, name, target).expect("link");
    };
    link(&mut b, "bin/sh", Path::new("busybox"));
    link(&mut b, "etc", &host_etc);
    link(&mut b, "data", &host_vol);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_mode(0o755);
    b.append_data(&mut h, "copy", std::io::empty())
        .expect("dir");
    link(&mut b, "copy/escape", &canary.dir);
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    b.append_data(&mut h, "copy/file", &b"mine\n"[..])
        .expect("file");
    let tar = b.into_inner().expect("tar");
    let evil = unique("berth-links-image");
    let mut import = d
        .docker_cmd()
        .args(["import", "-", &evil])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker import");
    {
        use std::io::Write as _;
        import
            .stdin
            .take()
            .expect("stdin")
            .write_all(&tar)
            .expect("tar to stdin");
    }
    let imported = import.wait_with_output().expect("import");
    assert!(imported.status.success(), "{}", common::stderr(&imported));
    let vol = unique("berth-copyup");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/copy"),
        "-v",
        "/data/sub",
        "--hostname",
        "h1",
        &evil,
        "/bin/busybox",
        "sh",
        "-c",
        "busybox cat /etc/hostname; busybox ls /copy; busybox ls /copy/escape/ 2>&1 || true",
    ]);
    assert!(out.lines().next() == Some("h1"), "{out}");
    assert!(out.contains("file"), "{out}");
    for p in [&host_etc, &host_vol] {
        assert!(!p.exists(), "{} was made on the host", p.display());
    }
    assert!(!out.contains(&canary.token), "{out}");
    // The volume holds the link as a link, not the canary's files.
    let mountpoint = d.docker_ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", &vol]);
    let mountpoint = PathBuf::from(mountpoint.trim());
    assert!(host_files_hold(&mountpoint, &canary).is_empty());
    assert!(std::fs::symlink_metadata(mountpoint.join("escape"))
        .expect("link")
        .file_type()
        .is_symlink());
    d.docker_ok(&["volume", "rm", &vol]);
    d.docker_ok(&["rmi", &evil]);
}

#[test]
fn cp_of_proc_and_sys_copies_the_containers_files_not_the_kernels() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let c = unique("berth-cp-proc");
    let vol = unique("berth-cp-proc-vol");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "-v",
        &format!("{vol}:/data"),
        &image,
        "sh",
        "-c",
        "echo kept > /data/file && echo mine > /mine && sleep 300",
    ]);
    common::eventually("the container's files", || {
        d.docker(&["exec", &c, "test", "-f", "/mine"])
            .status
            .success()
    });
    let limit = Duration::from_secs(60);
    // The host's kernel log is nobody's file in the container: not found, never streamed.
    let out = docker_bounded(&d, &["cp", &format!("{c}:/proc/kmsg"), "-"], limit);
    assert!(!out.status.success(), "/proc/kmsg was copied");
    let err = common::stderr(&out);
    assert!(err.contains("Could not find the file /proc/kmsg"), "{err}");
    for dir in ["proc", "sys"] {
        let out = docker_bounded(&d, &["cp", &format!("{c}:/{dir}"), "-"], limit);
        assert!(out.status.success(), "{}", common::stderr(&out));
        assert_eq!(
            tar_names(&out.stdout),
            [dir],
            "/{dir} is an empty folder of the root"
        );
    }
    // The whole root: the container's files and its volume, nothing of /proc or /sys.
    let out = docker_bounded(&d, &["cp", &format!("{c}:/"), "-"], limit);
    assert!(out.status.success(), "{}", common::stderr(&out));
    // Names as the archive has them, without a leading "./" or "/".
    let names: Vec<String> = tar_names(&out.stdout)
        .into_iter()
        .map(|n| {
            n.trim_start_matches("./")
                .trim_start_matches('/')
                .to_string()
        })
        .collect();
    for wanted in ["mine", "data/file", "bin/busybox", "etc/hostname"] {
        assert!(
            names.iter().any(|n| n == wanted),
            "{wanted} missing from {} entries: {:?}",
            names.len(),
            &names[..names.len().min(8)]
        );
    }
    let inside: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("proc/") || n.starts_with("sys/"))
        .collect();
    assert!(
        inside.is_empty(),
        "pseudo-filesystem entries copied: {:?}",
        &inside[..inside.len().min(5)]
    );
    // The volume's file comes from the volume.
    let out = docker_bounded(&d, &["cp", &format!("{c}:/data/file"), "-"], limit);
    let mut archive = tar::Archive::new(&out.stdout[..]);
    let mut entry = archive
        .entries()
        .expect("entries")
        .next()
        .expect("one")
        .expect("entry");
    let mut text = String::new();
    entry.read_to_string(&mut text).expect("read");
    assert_eq!(text, "kept\n");
    d.docker_ok(&["rm", "-f", &c]);
    d.docker_ok(&["volume", "rm", &vol]);
}

#[test]
fn a_container_that_changed_nothing_has_no_changes() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let c = unique("berth-no-changes");
    d.docker_ok(&["run", "--name", &c, "-v", "/anon", &image, "true"]);
    // The volume's mount point is the container's change, as with dockerd.
    assert_eq!(d.docker_ok(&["diff", &c]).trim(), "A /anon");
    let plain = unique("berth-no-changes-plain");
    d.docker_ok(&["run", "--name", &plain, "-w", "/", &image, "true"]);
    assert_eq!(d.docker_ok(&["diff", &plain]).trim(), "");
    let changes = std::process::Command::new("curl")
        .args(["-s", "--unix-socket"])
        .arg(&d.socket)
        .arg(format!("http://localhost/containers/{plain}/changes"))
        .output()
        .expect("curl");
    assert_eq!(common::stdout(&changes).trim(), "null");
    // Committed, nothing changed: no new layer.
    let committed = unique("berth-no-changes-image");
    d.docker_ok(&["commit", &plain, &committed]);
    let layers = |image: &str| {
        common::inspect_json(&d, &["image", "inspect"], image)["RootFS"]["Layers"]
            .as_array()
            .map(Vec::len)
    };
    assert_eq!(layers(&committed), layers(&image));
    // The export has the init layer's files, as dockerd's.
    let export = docker_bounded(&d, &["export", &plain], Duration::from_secs(60));
    let names = tar_names(&export.stdout);
    for wanted in [".dockerenv", "etc/hosts", "etc/mtab"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} not exported");
    }
    // A container never started has its init layer too (dockerd's is made at create).
    let fresh = unique("berth-fresh");
    d.docker_ok(&["create", "--name", &fresh, &image]);
    let out = docker_bounded(
        &d,
        &["cp", &format!("{fresh}:/etc/resolv.conf"), "-"],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(tar_names(&out.stdout), ["resolv.conf"]);
    assert_eq!(d.docker_ok(&["diff", &fresh]).trim(), "");
    d.docker_ok(&["rm", &c, &plain, &fresh]);
    d.docker_ok(&["rmi", &committed]);
}

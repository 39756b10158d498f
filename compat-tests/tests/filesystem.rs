//! A container's files with the stock docker CLI: `docker cp` both ways (running and
//! stopped containers, volumes and binds, tars on stdin, hostile symlinks), `docker
//! export`, `docker diff`, `docker commit` (changes, history, push and pull back).
mod common;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use common::{Daemon, Fixtures};

/// A name no other test or run uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// `docker ARGS...` with `input` on its stdin; asserts success, returns stdout.
fn docker_stdin(d: &Daemon, args: &[&str], input: &[u8]) -> String {
    let mut child = d
        .docker_cmd()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("docker output");
    assert!(
        out.status.success(),
        "docker {args:?}: {}\n{}",
        common::stderr(&out),
        common::tail(&d.log(), 30)
    );
    common::stdout(&out)
}

/// A tar holding one file `name` with `data`.
fn one_file_tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o600);
    h.set_uid(42);
    h.set_gid(43);
    h.set_cksum();
    b.append_data(&mut h, name, data).expect("append");
    b.into_inner().expect("tar")
}

/// Local files to copy in: file.txt (0640, 1234:5678) and dir/{a (0755), sub/b}.
fn make_sources(root: &Path) {
    std::fs::create_dir_all(root.join("dir/sub")).expect("dirs");
    std::fs::write(root.join("file.txt"), "hello\n").expect("file");
    std::fs::set_permissions(
        root.join("file.txt"),
        std::fs::Permissions::from_mode(0o640),
    )
    .expect("chmod");
    std::os::unix::fs::chown(root.join("file.txt"), Some(1234), Some(5678)).expect("chown");
    std::fs::write(root.join("dir/a"), "#!/bin/sh\n").expect("file");
    std::fs::set_permissions(root.join("dir/a"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    std::fs::write(root.join("dir/sub/b"), "b\n").expect("file");
}

#[test]
fn cp_into_and_out_of_running_and_stopped_containers() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let src = d.dir.path().join("src");
    make_sources(&src);
    let bind = d.dir.path().join("bind");
    std::fs::create_dir_all(&bind).expect("bind dir");
    let s = |p: &str| src.join(p).display().to_string();
    let bind_spec = format!("{}:/data", bind.display());

    // Running, with a bind mount.
    d.docker_ok(&[
        "run", "-d", "--name", "cprun", "-v", &bind_spec, &image, "sleep", "300",
    ]);
    d.docker_ok(&["cp", &s("file.txt"), "cprun:/tmp/"]);
    d.docker_ok(&["cp", &s("file.txt"), "cprun:/tmp/renamed.txt"]);
    d.docker_ok(&["cp", &s("dir"), "cprun:/tmp/"]);
    docker_stdin(
        &d,
        &["cp", "-", "cprun:/tmp"],
        &one_file_tar("fromstdin.txt", b"stdin\n"),
    );
    // dockerd decompresses what it unpacks: a gzip'ed or zstd'ed tar on stdin works too.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &one_file_tar("gzipped.txt", b"gz\n")).expect("gzip");
    docker_stdin(&d, &["cp", "-", "cprun:/tmp"], &gz.finish().expect("gzip"));
    let zst = zstd::encode_all(&one_file_tar("zstded.txt", b"zst\n")[..], 3).expect("zstd");
    docker_stdin(&d, &["cp", "-", "cprun:/tmp"], &zst);
    let out = d.docker_ok(&[
        "exec",
        "cprun",
        "cat",
        "/tmp/gzipped.txt",
        "/tmp/zstded.txt",
    ]);
    assert_eq!(out, "gz\nzst\n");
    d.docker_ok(&["cp", &s("file.txt"), "cprun:/data/"]);
    let out = d.docker_ok(&[
        "exec",
        "cprun",
        "stat",
        "-c",
        "%n %u:%g %a",
        "/tmp/file.txt",
        "/tmp/renamed.txt",
        "/tmp/dir/a",
        "/tmp/dir/sub/b",
        "/tmp/fromstdin.txt",
    ]);
    assert!(out.contains("/tmp/file.txt 1234:5678 640"), "{out}");
    assert!(out.contains("/tmp/renamed.txt 1234:5678 640"), "{out}");
    assert!(out.contains("/tmp/dir/a 0:0 755"), "{out}");
    assert!(out.contains("/tmp/dir/sub/b"), "{out}");
    assert!(out.contains("/tmp/fromstdin.txt 42:43 600"), "{out}");
    // What went into the bind mount is on the host.
    assert_eq!(
        std::fs::read_to_string(bind.join("file.txt")).expect("on the host"),
        "hello\n"
    );
    // And out again: a folder, and a file from the bind mount.
    let out_dir = d.dir.path().join("out");
    std::fs::create_dir_all(&out_dir).expect("out");
    let o = |p: &str| out_dir.join(p).display().to_string();
    d.docker_ok(&["cp", "cprun:/tmp/dir", &o("")]);
    let a = std::fs::metadata(out_dir.join("dir/a")).expect("copied out");
    assert_eq!(a.permissions().mode() & 0o777, 0o755);
    d.docker_ok(&["cp", "cprun:/data/file.txt", &o("from-bind.txt")]);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("from-bind.txt")).expect("file"),
        "hello\n"
    );
    let err = d.docker_err(&["cp", "cprun:/no/such/file", &o("x")]);
    assert!(
        err.contains("Could not find the file /no/such/file in container cprun"),
        "{err}"
    );

    // Stopped (created): everything lands in its root and shows when it runs.
    d.docker_ok(&[
        "create",
        "--name",
        "cpstop",
        "-v",
        &bind_spec,
        &image,
        "sh",
        "-c",
        "stat -c '%n %u:%g %a' /tmp/file.txt /tmp/dir/a; cat /tmp/fromstdin.txt /data/stopped.txt",
    ]);
    d.docker_ok(&["cp", &s("file.txt"), "cpstop:/tmp/"]);
    d.docker_ok(&["cp", &s("dir"), "cpstop:/tmp/"]);
    docker_stdin(
        &d,
        &["cp", "-", "cpstop:/tmp"],
        &one_file_tar("fromstdin.txt", b"stdin-stopped\n"),
    );
    d.docker_ok(&["cp", &s("file.txt"), "cpstop:/data/stopped.txt"]);
    assert!(
        bind.join("stopped.txt").is_file(),
        "a stopped container's bind"
    );
    // Out of it as a tar on stdout: the headers keep owner and mode.
    let tar_out = d
        .docker_cmd()
        .args(["cp", "cpstop:/tmp/file.txt", "-"])
        .output()
        .expect("cp");
    assert!(tar_out.status.success(), "{}", common::stderr(&tar_out));
    let mut archive = tar::Archive::new(tar_out.stdout.as_slice());
    let entry = archive
        .entries()
        .expect("tar")
        .next()
        .expect("one entry")
        .expect("entry");
    let h = entry.header();
    assert_eq!(
        entry.path().expect("path").display().to_string(),
        "file.txt"
    );
    assert_eq!((h.uid().expect("uid"), h.gid().expect("gid")), (1234, 5678));
    assert_eq!(h.mode().expect("mode") & 0o7777, 0o640);
    let out = d.docker_ok(&["start", "-a", "cpstop"]);
    assert!(out.contains("/tmp/file.txt 1234:5678 640"), "{out}");
    assert!(out.contains("/tmp/dir/a 0:0 755"), "{out}");
    assert!(out.contains("stdin-stopped"), "{out}");
    assert!(out.contains("hello"), "{out}");

    // A read-only root refuses, its volumes do not.
    d.docker_ok(&[
        "run",
        "-d",
        "--read-only",
        "--name",
        "cpro",
        "-v",
        &bind_spec,
        &image,
        "sleep",
        "300",
    ]);
    let err = d.docker_err(&["cp", &s("file.txt"), "cpro:/tmp/"]);
    assert!(
        err.contains("container rootfs is marked read-only"),
        "{err}"
    );
    d.docker_ok(&["cp", &s("file.txt"), "cpro:/data/ro-ok.txt"]);
    assert!(bind.join("ro-ok.txt").is_file());

    d.docker_ok(&["rm", "-f", "cprun", "cpstop", "cpro"]);
}

#[test]
fn cp_through_hostile_symlinks_stays_inside_the_container() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let name1 = unique("berth-cp-escape");
    let name2 = unique("berth-cp-escape-up");
    let name3 = unique("berth-cp-escape-tar");
    let src = d.dir.path().join("src");
    std::fs::create_dir_all(&src).expect("src");
    for n in [&name1, &name2] {
        std::fs::write(src.join(n), "x\n").expect("file");
    }
    d.docker_ok(&["run", "-d", "--name", "evil", &image, "sleep", "300"]);
    d.docker_ok(&[
        "exec",
        "evil",
        "sh",
        "-c",
        "ln -s / /evil && ln -s ../../.. /tmp/up",
    ]);
    let host_paths = [
        format!("/tmp/{name1}"),
        format!("/etc/{name2}"),
        format!("/tmp/{name3}"),
        format!("/{name3}"),
    ];
    let copy_all = |d: &Daemon| {
        d.docker_ok(&[
            "cp",
            &src.join(&name1).display().to_string(),
            "evil:/evil/tmp/",
        ]);
        d.docker_ok(&[
            "cp",
            &src.join(&name2).display().to_string(),
            "evil:/tmp/up/etc/",
        ]);
        // A tar whose own symlink points at the host's /tmp, then a file through it.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        h.set_cksum();
        b.append_link(&mut h, "lnk", "/tmp").expect("link");
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, format!("lnk/{name3}"), &b"x\n"[..])
            .expect("file");
        let tar = b.into_inner().expect("tar");
        docker_stdin(d, &["cp", "-", "evil:/evil/tmp/up"], &tar);
        for p in &host_paths {
            assert!(!Path::new(p).exists(), "{p} was written on the host");
        }
    };
    copy_all(&d);
    let out = d.docker_ok(&[
        "exec",
        "evil",
        "ls",
        &format!("/tmp/{name1}"),
        &format!("/etc/{name2}"),
        &format!("/tmp/{name3}"),
    ]);
    assert_eq!(out.lines().count(), 3, "{out}");
    // The same on the stopped container.
    d.docker_ok(&[
        "exec",
        "evil",
        "sh",
        "-c",
        "rm /tmp/berth-cp-* /etc/berth-cp-*",
    ]);
    d.docker_ok(&["stop", "-t", "0", "evil"]);
    copy_all(&d);
    d.docker_ok(&["start", "evil"]);
    let out = d.docker_ok(&[
        "exec",
        "evil",
        "ls",
        &format!("/tmp/{name1}"),
        &format!("/etc/{name2}"),
        &format!("/tmp/{name3}"),
    ]);
    assert_eq!(out.lines().count(), 3, "{out}");
    d.docker_ok(&["rm", "-f", "evil"]);
}

#[test]
fn commit_makes_an_image_with_the_changes() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let busybox_layers = f.image("busybox").layers;
    d.docker_ok(&[
        "run",
        "--name",
        "cm",
        &image,
        "sh",
        "-c",
        "echo data > /added && rm /bin/ls",
    ]);
    let diff = d.docker_ok(&["diff", "cm"]);
    for line in ["A /added", "D /bin/ls", "C /bin"] {
        assert!(diff.lines().any(|l| l == line), "{line} in {diff}");
    }
    // `docker export` piped to `tar t`.
    let export = d
        .docker_cmd()
        .args(["export", "cm"])
        .output()
        .expect("export");
    assert!(export.status.success());
    let mut tar_t = std::process::Command::new("tar")
        .arg("t")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("tar");
    tar_t
        .stdin
        .take()
        .expect("stdin")
        .write_all(&export.stdout)
        .expect("pipe");
    let listing = common::stdout(&tar_t.wait_with_output().expect("tar t"));
    assert!(listing.lines().any(|l| l == "added"), "{listing}");
    assert!(!listing.lines().any(|l| l == "bin/ls"), "{listing}");

    let err = d.docker_err(&["commit", "--change", "RUN true", "cm"]);
    assert!(err.contains("run is not a valid change command"), "{err}");
    let repo = "berth-test/committed:v1";
    let id = d.docker_ok(&[
        "commit",
        "--change",
        "CMD [\"cat\", \"/added\"]",
        "--change",
        "ENV X=1",
        "-a",
        "the author",
        "-m",
        "the message",
        "cm",
        repo,
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(d.docker_ok(&["run", "--rm", repo]), "data\n");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        repo,
        "sh",
        "-c",
        "echo X=$X; test -e /bin/ls && echo present || echo gone",
    ]);
    assert_eq!(out, "X=1\ngone\n");
    let history = d.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.Comment}}|{{.CreatedBy}}",
        repo,
    ]);
    let first = history.lines().next().unwrap_or("");
    assert_eq!(
        first, "the message|sh -c echo data > /added && rm /bin/ls",
        "{history}"
    );
    let meta = d.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Author}}|{{.Comment}}|{{len .RootFS.Layers}}|{{.Config.Env}}",
        repo,
    ]);
    assert_eq!(
        meta.trim(),
        format!(
            "the author|the message|{}|[PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin X=1]",
            busybox_layers + 1
        )
    );
    // `--until 0s` would be whole seconds (the CLI truncates durations), missing an
    // event of the current second: a timestamp with nanoseconds instead.
    let until = common::unix_now();
    let events = d.docker_ok(&[
        "events",
        "--since",
        "5m",
        "--until",
        &until,
        "--filter",
        "event=commit",
        "--format",
        "{{.Actor.Attributes.name}} {{.Actor.Attributes.imageRef}}",
    ]);
    assert!(events.contains("cm berth-test/committed:v1"), "{events}");

    // Nothing changed: a new image, no new layer. A running one is paused meanwhile.
    d.docker_ok(&["run", "-d", "--name", "idle", &image, "sleep", "300"]);
    let empty = d.docker_ok(&["commit", "idle"]);
    let layers = d.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{len .RootFS.Layers}}",
        empty.trim(),
    ]);
    assert_eq!(layers.trim(), busybox_layers.to_string());
    let state = d.docker_ok(&["inspect", "-f", "{{.State.Status}}", "idle"]);
    assert_eq!(state.trim(), "running");
    d.docker_ok(&["rm", "-f", "cm", "idle"]);
    d.docker_ok(&["rmi", repo, empty.trim()]);
}

#[test]
fn commit_with_pause_of_an_exiting_or_exited_container_commits_it_as_it_is() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "run",
        "--name",
        "done",
        &busybox,
        "sh",
        "-c",
        "echo x > /made",
    ]);
    let r = d.api(
        "POST",
        "/commit?container=done&repo=exited&pause=true",
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Exiting: the process is gone, the daemon may not have seen its exit yet. dockerd
    // pauses at best and commits the container as it is.
    for i in 0..10 {
        let name = format!("exiting{i}");
        d.docker_ok(&["run", "-d", "--name", &name, &busybox, "sleep", "300"]);
        let pid: i32 = d
            .docker_ok(&["inspect", "-f", "{{.State.Pid}}", &name])
            .trim()
            .parse()
            .expect("pid");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill");
        let r = d.api(
            "POST",
            &format!("/commit?container={name}&repo=exiting&tag=t{i}&pause=true"),
            None,
        );
        assert_eq!(r.status, 201, "{name}: {}", r.text());
    }
}

#[test]
fn a_committed_image_pushes_and_pulls_back_by_digest() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "run",
        "--name",
        "pushme",
        &image,
        "sh",
        "-c",
        "echo pushed > /pushed",
    ]);
    let reference = format!("{}/{}:c1", f.auth_registry, common::unique_repo("commit"));
    d.docker_ok(&["commit", "pushme", &reference]);
    let login = d.login(&f.auth_registry, &f.username, &f.password);
    assert!(login.status.success(), "{}", common::stderr(&login));
    let push = d.docker_ok(&["push", &reference]);
    let digest = push
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no digest in {push}"))
        .to_string();
    let layers_before = d.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .RootFS.Layers}}",
        &reference,
    ]);
    d.docker_ok(&["rm", "pushme"]);
    d.docker_ok(&["rmi", &reference]);
    d.docker_ok(&["pull", &reference]);
    let after = d.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .RootFS.Layers}} {{json .RepoDigests}}",
        &reference,
    ]);
    assert!(
        after.starts_with(layers_before.trim()),
        "{after} vs {layers_before}"
    );
    assert!(after.contains(&digest), "{after} lacks {digest}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", &reference, "cat", "/pushed"]),
        "pushed\n"
    );
    d.docker_ok(&["rmi", &reference]);
}

/// Exports and copies of a stopped container at the same time each hold its root
/// mounted: none is cut short when another finishes (or when the container's exit is
/// handled just after `docker run` returns).
#[test]
fn concurrent_exports_of_a_stopped_container_are_whole() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["run", "--name", "exported", &image, "true"]);
    let dir = d.dir.path().join("exports");
    std::fs::create_dir_all(&dir).expect("exports folder");
    let children: Vec<_> = (0..4)
        .map(|i| {
            let out = dir.join(format!("export-{i}.tar"));
            let args: Vec<String> = if i % 2 == 0 {
                vec!["export".into(), "-o".into(), out.display().to_string()]
            } else {
                vec!["cp".into(), "exported:/".into(), "-".into()]
            };
            let mut cmd = d.docker_cmd();
            cmd.args(&args);
            if i % 2 == 0 {
                cmd.arg("exported");
            }
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("docker")
        })
        .collect();
    let mut sizes = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().expect("docker output");
        assert!(
            out.status.success(),
            "{i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tar = if i % 2 == 0 {
            std::fs::read(dir.join(format!("export-{i}.tar"))).expect("export file")
        } else {
            out.stdout
        };
        let mut archive = tar::Archive::new(&tar[..]);
        let (mut entries, mut hard_links) = (0, 0);
        for entry in archive.entries().expect("a tar") {
            let entry = entry.expect("a whole entry");
            entries += 1;
            if entry.header().entry_type() == tar::EntryType::Link {
                hard_links += 1;
            }
        }
        assert!(entries > 100, "{i}: only {entries} entries");
        // busybox's applets are one file with many names: written once, then as links.
        assert!(hard_links > 50, "{i}: {hard_links} hard links");
        assert!(tar.len() < 20 << 20, "{i}: {} bytes", tar.len());
        sizes.push(entries);
    }
    assert_eq!(sizes[0], sizes[2], "{sizes:?}");
    assert_eq!(sizes[1], sizes[3], "{sizes:?}");
}

/// A container removed while an export still reads its root (`docker rm`, as bollard's
/// tests do with `container prune` alongside) goes at once, and the export still ends
/// whole: its folder stays until the export lets go, as dockerd's mounted RW layer does.
#[test]
fn removing_a_container_during_its_export_leaves_the_export_whole() {
    use std::io::Read as _;
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "run",
        "--name",
        "going",
        &image,
        "sh",
        "-c",
        "echo mine > /made-here",
    ]);
    let mut export = d
        .docker_cmd()
        .args(["export", "going"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker export");
    let mut stdout = export.stdout.take().expect("stdout");
    // Read a little: the rest waits in the pipes while the container is removed.
    let mut tar = vec![0u8; 4096];
    stdout
        .read_exact(&mut tar)
        .expect("the export's first bytes");
    d.docker_ok(&["rm", "going"]);
    let err = d.docker_err(&["inspect", "going"]);
    assert!(err.contains("No such object: going"), "{err}");
    stdout
        .read_to_end(&mut tar)
        .expect("the rest of the export");
    let status = export.wait().expect("docker export ends");
    assert!(status.success());
    let mut archive = tar::Archive::new(&tar[..]);
    let mut names = Vec::new();
    for entry in archive.entries().expect("a tar") {
        let entry = entry.expect("a whole entry");
        names.push(entry.path().expect("a path").display().to_string());
    }
    assert!(names.iter().any(|n| n == "made-here"), "{names:?}");
    assert!(names.iter().any(|n| n == "bin/sh"), "{names:?}");
    // The folder went when the export ended.
    let containers = d.data_root().join("containers");
    common::eventually("the removed container's folder to go", || {
        std::fs::read_dir(&containers)
            .map(|entries| entries.count() == 0)
            .unwrap_or(true)
    });
}

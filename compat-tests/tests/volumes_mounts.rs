//! Container mounts with the stock docker CLI: local volumes with driver options (tmpfs,
//! `o=bind`), binds read-write and read-only, `--tmpfs`, `--read-only`, `--volumes-from`,
//! anonymous volumes pre-filled with the image's content (Config.Volumes and an image
//! VOLUME), inspect's `Mounts`, `rm -v` and `--rm`. Images come from the fixture registry
//! (scripts/test.sh).
mod common;

use common::{lines, mount_at, mounts};

use common::{eventually, inspect_json, Daemon, Fixtures};

#[test]
fn tmpfs_volumes_binds_tmpfs_and_read_only_roots() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=2m",
        "tmpv",
    ]);
    let v = inspect_json(&d, &["volume", "inspect"], "tmpv");
    assert_eq!(v["Options"]["type"], "tmpfs");
    assert_eq!(v["Options"]["o"], "size=2m");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "tmpv:/t",
        &image,
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts; echo x > /t/f && cat /t/f",
    ]);
    assert!(out.contains("tmpfs /t tmpfs"), "{out}");
    assert!(out.contains("size=2048k"), "{out}");
    // Unmounted once its last user stopped: the data went with the tmpfs.
    let data = v["Mountpoint"].as_str().unwrap_or("").to_string();
    eventually("the tmpfs volume to be unmounted", || {
        !std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .contains(&format!(" {data} "))
    });

    // Binds: read-write, then read-only.
    let host = tempfile::tempdir().expect("host dir");
    let hp = host.path().display().to_string();
    std::fs::write(host.path().join("in"), "from host\n").expect("write");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{hp}:/h"),
        &image,
        "sh",
        "-c",
        "cat /h/in; echo out > /h/out",
    ]);
    assert_eq!(out.trim(), "from host");
    assert_eq!(
        std::fs::read_to_string(host.path().join("out")).unwrap_or_default(),
        "out\n"
    );
    let out = d.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{hp}:/h:ro"),
        &image,
        "sh",
        "-c",
        "echo x > /h/ro",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(!host.path().join("ro").exists());
    // A local volume that binds a host folder (`o=bind`), and one whose device is missing.
    d.docker_ok(&[
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        &format!("device={hp}"),
        "--opt",
        "o=bind",
        "bindvol",
    ]);
    let out = d.docker_ok(&["run", "--rm", "-v", "bindvol:/b", &image, "cat", "/b/in"]);
    assert_eq!(out.trim(), "from host");
    d.docker_ok(&[
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        "device=/nonexistent-berth-dev",
        "--opt",
        "o=bind",
        "badvol",
    ]);
    let err = d.docker_err(&["run", "--rm", "-v", "badvol:/b", &image, "true"]);
    assert!(err.contains("error while mounting volume"), "{err}");
    d.docker_ok(&["volume", "rm", "bindvol", "badvol"]);
    // A missing -v source is created, as dockerd does.
    let made = host.path().join("made/by/run");
    d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/m", made.display()),
        &image,
        "true",
    ]);
    assert!(made.is_dir());

    // --tmpfs, and --read-only with a writable volume.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/scratch:size=1m",
        &image,
        "sh",
        "-c",
        "grep ' /scratch ' /proc/mounts; echo ok > /scratch/f && cat /scratch/f",
    ]);
    assert!(out.contains("tmpfs /scratch tmpfs"), "{out}");
    assert!(out.trim_end().ends_with("ok"), "{out}");
    let out = d.docker(&[
        "run",
        "--rm",
        "--read-only",
        "-v",
        "rwvol:/data",
        &image,
        "sh",
        "-c",
        "echo v > /data/f && cat /data/f && touch /rootfile",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}");
    assert_eq!(stdout.trim(), "v");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
}

#[test]
fn anonymous_volumes_copy_up_volumes_from_mounts_shape_and_rm_v() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let host = tempfile::tempdir().expect("host dir");
    let hp = host.path().display().to_string();
    d.docker_ok(&[
        "run",
        "--name",
        "src",
        "-v",
        "/etc",
        "-v",
        "named1:/n1",
        "-v",
        &format!("{hp}:/b1:ro"),
        "--tmpfs",
        "/t1",
        "--mount",
        "type=tmpfs,dst=/t2,tmpfs-size=1048576",
        &image,
        "sh",
        "-c",
        "echo mine > /n1/f",
    ]);
    let m = mounts(&d, "src");
    assert_eq!(m.len(), 4, "{m:?}");
    let anon = mount_at(&m, "/etc");
    assert_eq!(anon["Type"], "volume");
    assert_eq!(anon["Driver"], "local");
    assert_eq!(anon["Mode"], "");
    assert_eq!(anon["RW"], true);
    assert_eq!(anon["Propagation"], "");
    let anon_name = anon["Name"].as_str().unwrap_or("").to_string();
    let anon_source = anon["Source"].as_str().unwrap_or("").to_string();
    assert!(
        anon_source.ends_with(&format!("/volumes/{anon_name}/_data")),
        "{anon}"
    );
    let named = mount_at(&m, "/n1");
    assert_eq!(named["Name"], "named1");
    assert_eq!(named["Mode"], "z");
    let bind = mount_at(&m, "/b1");
    assert_eq!(bind["Type"], "bind");
    assert_eq!(bind["Source"], hp.as_str());
    assert_eq!(bind["Mode"], "ro");
    assert_eq!(bind["RW"], false);
    assert_eq!(bind["Propagation"], "rprivate");
    assert!(bind.get("Name").is_none(), "{bind}");
    let tmpfs = mount_at(&m, "/t2");
    assert_eq!(tmpfs["Type"], "tmpfs");
    assert_eq!(tmpfs["Source"], "");
    assert!(m.iter().all(|x| x["Destination"] != "/t1"), "{m:?}");
    let listed = d.docker_ok(&[
        "ps",
        "-a",
        "--filter",
        "name=src",
        "--format",
        "{{.Mounts}}",
    ]);
    assert!(listed.contains("named1"), "{listed}");

    // The image's /etc was copied into the new anonymous volume, modes kept.
    let passwd = std::path::Path::new(&anon_source).join("passwd");
    let copied = std::fs::read_to_string(&passwd).unwrap_or_default();
    assert!(copied.contains("root:"), "{}", passwd.display());
    let out = d.docker_ok(&["run", "--rm", &image, "stat", "-c", "%a %u", "/etc/passwd"]);
    let meta = std::fs::metadata(&passwd).expect("copied passwd");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        out.trim(),
        format!("{:o} {}", meta.mode() & 0o7777, meta.uid())
    );

    // --volumes-from: the same volumes, read-only where asked.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "src",
        &image,
        "cat",
        "/n1/f",
    ]);
    assert_eq!(out.trim(), "mine");
    let out = d.docker(&[
        "run",
        "--rm",
        "--volumes-from",
        "src:ro",
        &image,
        "sh",
        "-c",
        "echo x > /n1/g",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"));

    // The copy happens at create, as dockerd's: a data-only container never started
    // shares the image's content.
    d.docker_ok(&["create", "--name", "dataonly", "-v", "/etc", &image]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "dataonly",
        &image,
        "cat",
        "/etc/passwd",
    ]);
    assert!(out.contains("root:"), "{out}");
    d.docker_ok(&["rm", "-v", "dataonly"]);

    // A nocopy volume stays empty.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "empty1:/etc:nocopy",
        &image,
        "ls",
        "/etc",
    ]);
    assert_eq!(out.trim(), "");

    // rm -v takes the anonymous volume, not the named one.
    d.docker_ok(&["rm", "-v", "src"]);
    let left = lines(&d.docker_ok(&["volume", "ls", "-q"]));
    assert!(!left.contains(&anon_name), "{left:?}");
    assert!(left.contains(&"named1".to_string()), "{left:?}");

    // --rm does the same when the container exits.
    d.docker_ok(&[
        "run",
        "--rm",
        "--name",
        "gone",
        "-v",
        "/anon2",
        "-v",
        "named1:/n",
        &image,
        "true",
    ]);
    eventually("the --rm container's anonymous volume to go", || {
        let mut left = lines(&d.docker_ok(&["volume", "ls", "-q"]));
        left.sort();
        left == vec!["empty1".to_string(), "named1".to_string()]
    });

    let df = d.docker_ok(&["system", "df", "-v", "--format", "{{json .Volumes}}"]);
    assert!(df.contains("named1"), "{df}");
}

#[test]
fn an_image_volume_gets_a_prefilled_anonymous_volume() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = dir.path().join("rootfs.tar");
    d.docker_ok(&["create", "--name", "exp", &image]);
    d.docker_ok(&["export", "-o", &tar.display().to_string(), "exp"]);
    d.docker_ok(&["rm", "exp"]);
    d.docker_ok(&[
        "import",
        "--change",
        "VOLUME /etc",
        "--change",
        "CMD [\"sh\"]",
        &tar.display().to_string(),
        "volimg:1",
    ]);
    let volumes = d.docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Volumes}}",
        "volimg:1",
    ]);
    assert!(volumes.contains("/etc"), "{volumes}");

    d.docker_ok(&["run", "--name", "vi", "volimg:1", "true"]);
    let m = mounts(&d, "vi");
    assert_eq!(m.len(), 1, "{m:?}");
    let anon = mount_at(&m, "/etc");
    assert_eq!(anon["Type"], "volume");
    assert_eq!(anon["Mode"], "");
    let source = std::path::Path::new(anon["Source"].as_str().unwrap_or(""));
    assert!(
        std::fs::read_to_string(source.join("passwd")).is_ok_and(|p| p.contains("root:")),
        "{}",
        source.display()
    );
    // A mount of the user's at the same place replaces the image's volume.
    d.docker_ok(&[
        "create",
        "--name",
        "vn",
        "-v",
        "mine:/etc:nocopy",
        "volimg:1",
    ]);
    let m = mounts(&d, "vn");
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(mount_at(&m, "/etc")["Name"], "mine");
    d.docker_ok(&["rm", "-v", "vi", "vn"]);
    assert_eq!(lines(&d.docker_ok(&["volume", "ls", "-q"])), vec!["mine"]);
}

//! `--mount` options newer clients use, through the stock docker CLI and the raw API:
//! a volume's subfolder (`volume-subpath`, API 1.45); how a bind covers the mounts
//! below its source (`bind-recursive`, API 1.44, and the recursively read-only default);
//! an image's filesystem (`type=image`, API 1.48). The host's mount table must show
//! nothing of them once the containers are gone. Images come from the fixture registry
//! (scripts/test.sh).
mod common;

use common::{api, Daemon, Fixtures};

/// Mounts of the host whose mount point lies under this daemon's exec root.
fn host_mounts_under_exec_root(d: &Daemon) -> Vec<String> {
    let exec = d.dir.path().join("exec");
    let exec = format!("{}/", exec.display());
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|p| p.starts_with(&exec)))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_volume_subfolder_is_mounted_by_handle_with_dockerds_errors() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["volume", "create", "data"]);
    // docker-py's test_create_with_subpath_volume_mount, then symlinks inside the volume:
    // one that stays inside, three that lead out.
    d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "data:/vol",
        &image,
        "sh",
        "-c",
        "mkdir -p /vol/subdir /vol/empty && echo 'test content' > /vol/subdir/testfile.txt && \
         ln -s subdir /vol/link && ln -s ../.. /vol/up && ln -s /etc /vol/abs && \
         ln -s subdir/../.. /vol/sneaky",
    ]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=data,dst=/m,readonly,volume-subpath=subdir",
        &image,
        "sh",
        "-c",
        "cat /m/testfile.txt; ls /m; touch /m/new 2>/dev/null && echo writable || echo read-only",
    ]);
    assert_eq!(out, "test content\ntestfile.txt\nread-only\n");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=data,dst=/m,volume-subpath=link",
        &image,
        "sh",
        "-c",
        "cat /m/testfile.txt && echo more > /m/more",
    ]);
    assert_eq!(out, "test content\n");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "data:/vol",
        &image,
        "cat",
        "/vol/subdir/more",
    ]);
    assert_eq!(out, "more\n");

    // A file as the subpath.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=data,dst=/f.txt,volume-subpath=subdir/testfile.txt",
        &image,
        "cat",
        "/f.txt",
    ]);
    assert_eq!(out, "test content\n");

    // At create, the image's content at the destination is copied into an empty
    // subfolder, as into an empty volume.
    d.docker_ok(&[
        "create",
        "--mount",
        "type=volume,src=data,dst=/etc,volume-subpath=empty",
        &image,
    ]);
    let out = d.docker_ok(&["run", "--rm", "-v", "data:/vol", &image, "ls", "/vol/empty"]);
    assert!(common::lines(&out).contains(&"passwd".to_string()), "{out}");

    // `docker cp` sees the subfolder too, of a stopped container.
    d.docker_ok(&[
        "create",
        "--name",
        "cp",
        "--mount",
        "type=volume,src=data,dst=/m,volume-subpath=subdir",
        &image,
        "true",
    ]);
    let out = d.docker_ok(&["cp", "cp:/m/testfile.txt", "-"]);
    assert!(out.contains("test content"), "{out}");

    // Missing: dockerd's 404 at start, naming the volume's path.
    let data = common::inspect_json(&d, &["volume", "inspect"], "data")["Mountpoint"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let err = d.docker_err(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=data,dst=/m,volume-subpath=nope/deeper",
        &image,
        "true",
    ]);
    assert!(
        err.contains(&format!(
            "cannot access path {data}/nope/deeper: lstat {data}/nope: no such file or directory"
        )),
        "{err}"
    );
    // Leading out, by symlink: a 400 at start, and nothing of the host is mounted.
    for out_of_volume in ["up", "abs", "sneaky"] {
        let body = format!(
            r#"{{"Image":"{image}","Cmd":["true"],"HostConfig":{{"Mounts":[{{"Type":"volume","Source":"data","Target":"/m","VolumeOptions":{{"Subpath":"{out_of_volume}"}}}}]}}}}"#
        );
        let (status, created) = api(&d, "POST", "/v1.53/containers/create", Some(&body));
        assert_eq!(status, 201, "{created}");
        let id = created["Id"].as_str().unwrap_or_default().to_string();
        let (status, err) = api(&d, "POST", &format!("/containers/{id}/start"), None);
        assert_eq!(status, 400, "{out_of_volume}: {err}");
        assert_eq!(
            err["message"],
            format!(
                "path concatenation escapes the base directory, base: {data}, subpath: {out_of_volume}"
            )
        );
        let state = common::inspect_json(&d, &["inspect"], &id)["State"].clone();
        assert_eq!(state["Status"], "created", "{state}");
        assert_eq!(state["ExitCode"], 128, "{state}");
    }
    let (status, _) = api(
        &d,
        "POST",
        "/containers/create",
        Some(&format!(
            r#"{{"Image":"{image}","HostConfig":{{"Mounts":[{{"Type":"volume","Source":"data","Target":"/m","VolumeOptions":{{"Subpath":"nope"}}}}]}}}}"#
        )),
    );
    assert_eq!(status, 201);

    // Refused at create: a subpath that is not relative, or of an anonymous volume, or
    // from a client older than API 1.45.
    let err = d.docker_err(&[
        "create",
        "--mount",
        "type=volume,src=data,dst=/m,volume-subpath=../x",
        &image,
    ]);
    assert!(
        err.contains(
            "invalid mount config for type \"volume\": subpath must be a relative path within the volume"
        ),
        "{err}"
    );
    let err = d.docker_err(&[
        "create",
        "--mount",
        "type=volume,dst=/m,volume-subpath=x",
        &image,
    ]);
    assert!(
        err.contains("must not set Subpath when using anonymous volumes"),
        "{err}"
    );
    let old = format!(
        r#"{{"Image":"{image}","HostConfig":{{"Mounts":[{{"Type":"volume","Source":"data","Target":"/m","VolumeOptions":{{"Subpath":"subdir"}}}}]}}}}"#
    );
    let (status, err) = api(&d, "POST", "/v1.44/containers/create", Some(&old));
    assert_eq!(status, 400, "{err}");
    assert_eq!(
        err["message"],
        "VolumeOptions.Subpath needs API v1.45 or newer"
    );

    // Nothing pinned is left on the host.
    common::eventually("nothing mounted under the exec root", || {
        host_mounts_under_exec_root(&d).is_empty()
    });
}

/// A host folder with a tmpfs mounted at `sub` (holding `marker`), unmounted on drop.
struct FolderWithSubmount(tempfile::TempDir);

impl FolderWithSubmount {
    fn new() -> FolderWithSubmount {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir sub");
        nix::mount::mount(
            Some("tmpfs"),
            &dir.path().join("sub"),
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("size=1m"),
        )
        .expect("mount tmpfs");
        std::fs::write(dir.path().join("sub/marker"), "m").expect("marker");
        FolderWithSubmount(dir)
    }

    fn path(&self) -> String {
        self.0.path().display().to_string()
    }
}

impl Drop for FolderWithSubmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0.path().join("sub"), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// What a container sees at /m: whether its top and the submount below are writable,
/// and whether the submount is there at all.
const PROBE: &str = "touch /m/top 2>/dev/null && echo top-rw || echo top-ro; \
    if [ -e /m/sub/marker ]; then touch /m/sub/x 2>/dev/null && echo sub-rw || echo sub-ro; \
    else echo sub-absent; fi; rm -f /m/top /m/sub/x 2>/dev/null; true";

#[test]
fn binds_cover_their_submounts_as_bind_recursive_asks() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let host = FolderWithSubmount::new();
    let src = host.path();
    let run = |how: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(how);
        args.extend_from_slice(&[&image, "sh", "-c", PROBE]);
        d.docker_ok(&args)
    };
    // dockerd 25+: a read-only bind is read-only all the way down where the kernel has
    // mount_setattr (every kernel the tests run on), by -v and by --mount alike.
    let ro_bind = format!("{src}:/m:ro");
    assert_eq!(run(&["-v", &ro_bind]), "top-ro\nsub-ro\n");
    let mount = |opts: &str| format!("type=bind,src={src},dst=/m{opts}");
    assert_eq!(run(&["--mount", &mount(",readonly")]), "top-ro\nsub-ro\n");
    assert_eq!(
        run(&[
            "--mount",
            &mount(",readonly,bind-recursive=readonly,bind-propagation=rprivate")
        ]),
        "top-ro\nsub-ro\n"
    );
    // writable: read-only at the top only, as every read-only bind was before.
    assert_eq!(
        run(&["--mount", &mount(",readonly,bind-recursive=writable")]),
        "top-ro\nsub-rw\n"
    );
    // disabled: a plain bind, the submount left out.
    assert_eq!(
        run(&["--mount", &mount(",bind-recursive=disabled")]),
        "top-rw\nsub-absent\n"
    );
    assert_eq!(run(&["--mount", &mount("")]), "top-rw\nsub-rw\n");

    // A client older than API 1.44 keeps the old default (read-only at the top only),
    // and cannot ask for ReadOnlyForceRecursive.
    let body = |api_opts: &str| {
        format!(
            r#"{{"Image":"{image}","Cmd":["sh","-c",{probe}],"HostConfig":{{"Mounts":[{{"Type":"bind","Source":"{src}","Target":"/m","ReadOnly":true{api_opts}}}]}}}}"#,
            probe = serde_json::to_string(PROBE).expect("json")
        )
    };
    let run_api = |version: &str, api_opts: &str| {
        let (status, created) = api(
            &d,
            "POST",
            &format!("/{version}/containers/create"),
            Some(&body(api_opts)),
        );
        assert_eq!(status, 201, "{created}");
        let id = created["Id"].as_str().unwrap_or_default().to_string();
        d.docker_ok(&["start", "-a", &id])
    };
    assert_eq!(run_api("v1.43", ""), "top-ro\nsub-rw\n");
    assert_eq!(run_api("v1.44", ""), "top-ro\nsub-ro\n");
    let (status, err) = api(
        &d,
        "POST",
        "/v1.43/containers/create",
        Some(&body(r#","BindOptions":{"ReadOnlyForceRecursive":true}"#)),
    );
    assert_eq!(status, 400, "{err}");
    assert_eq!(
        err["message"],
        "BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer"
    );

    // Options that contradict each other are accepted at create and fail the start
    // with dockerd's words.
    let conflicting = format!(
        r#"{{"Image":"{image}","Cmd":["true"],"HostConfig":{{"Mounts":[{{"Type":"bind","Source":"{src}","Target":"/m","BindOptions":{{"ReadOnlyNonRecursive":true}}}}]}}}}"#
    );
    let (status, created) = api(&d, "POST", "/v1.53/containers/create", Some(&conflicting));
    assert_eq!(status, 201, "{created}");
    let id = created["Id"].as_str().unwrap_or_default().to_string();
    let (status, err) = api(&d, "POST", &format!("/v1.53/containers/{id}/start"), None);
    assert_eq!(status, 500, "{err}");
    assert_eq!(
        err["message"],
        "mount options conflict: !ReadOnly && BindOptions.ReadOnlyNonRecursive"
    );
    // The teardowns of the runs (and of the failed start) follow their ends.
    common::eventually("nothing mounted under the exec root", || {
        host_mounts_under_exec_root(&d).is_empty()
    });
}

#[test]
fn an_image_is_mounted_read_only_with_its_layers_and_subpath() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    // Three layers over busybox's, with plain, opaque and folder whiteouts.
    let layered = d.pull_fixture(&f, "whiteout");
    let listing = "ls /img/data /img/opq; [ -e /img/dir ] && echo dir-shown; \
        touch /img/x 2>/dev/null && echo writable || echo read-only; ls /sub";
    let out = d.docker_ok(&[
        "run",
        "--name",
        "user",
        "--mount",
        &format!("type=image,source={layered},target=/img"),
        "--mount",
        &format!("type=image,source={layered},target=/sub,image-subpath=data"),
        &image,
        "sh",
        "-c",
        listing,
    ]);
    assert_eq!(
        out,
        "/img/data:\nadded\nkeep\n\n/img/opq:\nnew\nread-only\nadded\nkeep\n"
    );
    let mounts = common::mounts(&d, "user");
    let img = common::mount_at(&mounts, "/img");
    assert_eq!(img["Type"], "image", "{img}");
    assert_eq!(img["Name"], layered.as_str(), "{img}");
    assert_eq!(img["RW"], false, "{img}");
    assert_eq!(img["Propagation"], "rprivate", "{img}");
    // The image is in use while the container exists.
    let err = d.docker_err(&["rmi", &layered]);
    assert!(
        err.contains("container") && err.contains("is using"),
        "{err}"
    );
    // A second run of the stopped container mounts it again.
    let out = d.docker_ok(&["start", "-a", "user"]);
    assert!(out.ends_with("read-only\nadded\nkeep\n"), "{out}");
    // The run's teardown (its image overlays with it) follows the exit.
    common::eventually("the image overlays unmounted after the run", || {
        host_mounts_under_exec_root(&d).is_empty()
    });
    d.docker_ok(&["rm", "user"]);
    d.docker_ok(&["rmi", &layered]);

    // dockerd's errors: a missing image at create (404), a subpath that climbs out of
    // the image, a subpath the image lacks (at start), clients before API 1.48.
    let err = d.docker_err(&[
        "create",
        "--mount",
        "type=image,source=nosuch-image:1,target=/img",
        &image,
    ]);
    assert!(err.contains("No such image: nosuch-image:1"), "{err}");
    let err = d.docker_err(&[
        "create",
        "--mount",
        &format!("type=image,source={image},target=/img,image-subpath=../etc"),
        &image,
    ]);
    assert!(
        err.contains("invalid mount config for type \"image\": subpath must be a relative path"),
        "{err}"
    );
    let err = d.docker_err(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=image,source={image},target=/img,image-subpath=nope"),
        &image,
        "true",
    ]);
    assert!(err.contains("cannot access path"), "{err}");
    let body = format!(
        r#"{{"Image":"{image}","HostConfig":{{"Mounts":[{{"Type":"image","Source":"{image}","Target":"/img"}}]}}}}"#
    );
    let (status, err) = api(&d, "POST", "/v1.47/containers/create", Some(&body));
    assert_eq!(status, 400, "{err}");
    assert_eq!(
        err["message"],
        r#"Mount type "Image" needs API v1.48 or newer"#
    );
    let (status, created) = api(&d, "POST", "/v1.48/containers/create", Some(&body));
    assert_eq!(status, 201, "{created}");
    common::eventually("nothing mounted under the exec root", || {
        host_mounts_under_exec_root(&d).is_empty()
    });
}

//! `docker cp CONTAINER:PATH -` names its entries as dockerd does (checked against
//! dockerd 20.10): the top entry is the last element of the cleaned path ("/" for the
//! root, "." for a path ending in "/."), folders end in "/", hard links point at rebased
//! names; the stat header names the same; a file asked for with a trailing "/" is an
//! error. Images come from the fixture registry (scripts/test.sh).
mod common;

use std::process::Command;

use common::{Daemon, Fixtures};

/// The raw entry names (and link targets) of `docker cp C:PATH -`.
fn names(d: &Daemon, path: &str) -> Vec<(String, String)> {
    let out = d
        .docker_cmd()
        .args(["cp", path, "-"])
        .output()
        .expect("docker cp");
    assert!(out.status.success(), "{path}: {}", common::stderr(&out));
    let mut archive = tar::Archive::new(&out.stdout[..]);
    archive
        .entries()
        .expect("entries")
        .map(|e| {
            let e = e.expect("entry");
            let link = e
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default();
            (String::from_utf8_lossy(&e.path_bytes()).into_owned(), link)
        })
        .collect()
}

fn first_names(d: &Daemon, path: &str, n: usize) -> Vec<String> {
    names(d, path)
        .into_iter()
        .take(n)
        .map(|(name, _)| name)
        .collect()
}

/// The `name` of the path's `X-Docker-Container-Path-Stat`.
fn stat_name(d: &Daemon, path: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-I", "--unix-socket"])
        .arg(&d.socket)
        .arg(format!(
            "http://localhost/containers/names/archive?path={path}"
        ))
        .output()
        .expect("curl");
    let headers = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = headers
        .lines()
        .find_map(|l| l.strip_prefix("X-Docker-Container-Path-Stat: "))
        .unwrap_or_else(|| panic!("{path}: no stat header in {headers}"));
    use base64::Engine;
    let json = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .expect("base64");
    let stat: serde_json::Value = serde_json::from_slice(&json).expect("stat json");
    stat["name"].as_str().unwrap_or_default().to_string()
}

#[test]
fn cp_out_names_entries_as_dockerd() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&[
        "run",
        "--name",
        "names",
        &image,
        "sh",
        "-c",
        "mkdir -p /d/sub && echo hi > /d/f && ln -s f /d/l && ln -s /d /dl",
    ]);
    assert_eq!(first_names(&d, "names:/", 3), ["/", "/.dockerenv", "/bin/"]);
    // busybox's applets are hard links to /bin/arch's file, rebased like the names.
    let root = names(&d, "names:/");
    let ash = root
        .iter()
        .find(|(n, _)| n == "/bin/ash")
        .expect("/bin/ash");
    assert!(ash.1.starts_with("/bin/"), "{ash:?}");
    let d_listing = ["d/", "d/f", "d/l", "d/sub/"];
    for path in ["names:/d", "names:/d/", "names:/d/sub/..", "names:d"] {
        assert_eq!(first_names(&d, path, 4), d_listing, "{path}");
    }
    assert_eq!(
        first_names(&d, "names:/d/.", 4),
        ["./", "./f", "./l", "./sub/"]
    );
    // A trailing "/" follows a final symlink; the entries keep the name asked for.
    assert_eq!(first_names(&d, "names:/dl/", 2), ["dl/", "dl/f"]);
    assert_eq!(
        names(&d, "names:/dl"),
        [("dl".to_string(), "/d".to_string())]
    );
    assert_eq!(first_names(&d, "names:/d/f", 2), ["f"]);
    for (path, name) in [
        ("/", "/"),
        ("/d/.", "."),
        ("/d/sub/..", "d"),
        ("/dl/", "dl"),
    ] {
        assert_eq!(stat_name(&d, path), name, "{path}");
    }
    let err = d.docker_err(&["cp", "names:/d/f/", "-"]);
    assert!(err.contains("lstat /d/f/: not a directory"), "{err}");
}

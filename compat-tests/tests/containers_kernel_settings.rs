//! Kernel settings a run asks for that are easy to accept and forget: block I/O limits,
//! a private cgroup namespace, and the flags of the read-only /proc paths.
mod common;

use common::{inspect_json, stderr, Daemon, Fixtures};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// A block device of the host: its /dev path and "major:minor".
fn a_block_device() -> Option<(String, String)> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.into_iter().find_map(|name| {
        let path = format!("/dev/{name}");
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.file_type().is_block_device() {
            return None;
        }
        let rdev = meta.rdev();
        let numbers = format!("{}:{}", libc::major(rdev), libc::minor(rdev));
        Some((path, numbers))
    })
}

/// The container's cgroup file: v1 under the controller, v2 in its one directory.
fn cgroup_file(id: &str, v1_controller: &str, v1_file: &str, v2_file: &str) -> String {
    let v1 = format!("/sys/fs/cgroup/{v1_controller}/berth/{id}/{v1_file}");
    let v2 = format!("/sys/fs/cgroup/berth/{id}/{v2_file}");
    std::fs::read_to_string(&v1)
        .or_else(|_| std::fs::read_to_string(&v2))
        .unwrap_or_else(|e| panic!("neither {v1} nor {v2}: {e}"))
}

#[test]
fn block_io_limits_reach_the_cgroup_or_are_refused_as_dockerd_does() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");

    // A device that does not exist: the container is created, its start fails with
    // Go's stat error, and the CLI exits 127 as for any missing file.
    let out = d.docker(&[
        "run",
        "--name",
        "nodev",
        "--device-read-bps",
        "/dev/berth-nosuch:1mb",
        &busybox,
        "true",
    ]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stat /dev/berth-nosuch: no such file or directory"),
        "{}",
        stderr(&out)
    );
    let c = inspect_json(&d, &["inspect"], "nodev");
    assert_eq!(c["State"]["Status"], "created");
    d.docker_ok(&["rm", "nodev"]);

    let Some((device, numbers)) = a_block_device() else {
        eprintln!("no block device under /sys/block: the throttles are not checked");
        return;
    };
    let v1 = std::path::Path::new("/sys/fs/cgroup/blkio").is_dir();
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "limited",
        "--device-read-bps",
        &format!("{device}:1mb"),
        "--device-write-iops",
        &format!("{device}:100"),
        &busybox,
        "sleep",
        "300",
    ]);
    let id = id.trim();
    if v1 {
        let read = cgroup_file(id, "blkio", "blkio.throttle.read_bps_device", "-");
        assert!(
            read.lines().any(|l| l == format!("{numbers} 1048576")),
            "{read}"
        );
        let write = cgroup_file(id, "blkio", "blkio.throttle.write_iops_device", "-");
        assert!(
            write.lines().any(|l| l == format!("{numbers} 100")),
            "{write}"
        );
    } else {
        let max = cgroup_file(id, "-", "-", "io.max");
        let line = max.lines().find(|l| l.starts_with(&numbers)).unwrap_or("");
        assert!(
            line.contains("rbps=1048576") && line.contains("wiops=100"),
            "{max}"
        );
    }
    let c = inspect_json(&d, &["inspect"], "limited");
    assert_eq!(c["HostConfig"]["BlkioDeviceReadBps"][0]["Rate"], 1 << 20);

    // A weight: applied where the kernel has the file, else discarded with dockerd's warning.
    let weight_file = ["blkio.weight", "blkio.bfq.weight"].iter().any(|f| {
        std::path::Path::new("/sys/fs/cgroup/blkio")
            .join(f)
            .exists()
    });
    let out = d.docker(&["update", "--blkio-weight", "300", "limited"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = inspect_json(&d, &["inspect"], "limited");
    if v1 && !weight_file {
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(
            all.contains("Your kernel does not support Block I/O weight"),
            "{all}"
        );
        assert_eq!(c["HostConfig"]["BlkioWeight"], 0);
    } else {
        assert_eq!(c["HostConfig"]["BlkioWeight"], 300);
    }
    d.docker_ok(&["rm", "-f", "limited"]);
}

#[test]
fn a_private_cgroup_namespace_is_the_containers_own() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    let paths = |mode: &str| {
        let out = d.docker_ok(&[
            "run",
            "--rm",
            "--cgroupns",
            mode,
            &busybox,
            "cat",
            "/proc/self/cgroup",
        ]);
        out.lines()
            .filter_map(|l| l.splitn(3, ':').nth(2).map(str::to_string))
            .collect::<Vec<_>>()
    };
    let private = paths("private");
    assert!(!private.is_empty());
    assert!(private.iter().all(|p| p == "/"), "{private:?}");
    let host = paths("host");
    assert!(host.iter().any(|p| p.contains("/berth/")), "{host:?}");
}

#[test]
fn read_only_proc_paths_keep_nosuid_nodev_noexec() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    let info = d.docker_ok(&["run", "--rm", &busybox, "cat", "/proc/self/mountinfo"]);
    for path in ["/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq"] {
        let line = info
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(path))
            .unwrap_or_else(|| panic!("{path} is not mounted: {info}"));
        let options: Vec<&str> = line.split(' ').nth(5).unwrap_or("").split(',').collect();
        for flag in ["ro", "nosuid", "nodev", "noexec"] {
            assert!(options.contains(&flag), "{path} lacks {flag}: {line}");
        }
    }
}

/// Sysctls as dockerd sets them: a container with a network namespace of its own gets
/// dockerd's defaults (ports below 1024 and ICMP echo sockets for any user), under the
/// user's `--sysctl`; a key whose namespace is the host's is refused at start (with
/// `--network host` it would change the host's setting), and the host keeps its value.
#[test]
fn sysctls_get_dockerds_defaults_and_never_reach_the_host() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    let read =
        "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range";
    let defaults = d.docker_ok(&["run", "--rm", &busybox, "sh", "-c", read]);
    assert_eq!(
        defaults.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "2147483647"]
    );
    let none = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &busybox,
        "sh",
        "-c",
        read,
    ]);
    assert!(none.starts_with("0\n"), "{none}");
    let overridden = d.docker_ok(&[
        "run",
        "--rm",
        "--sysctl",
        "net.ipv4.ip_unprivileged_port_start=1000",
        &busybox,
        "cat",
        "/proc/sys/net/ipv4/ip_unprivileged_port_start",
    ]);
    assert_eq!(overridden.trim(), "1000");

    let key = "/proc/sys/net/ipv4/tcp_keepalive_probes";
    let host_before = std::fs::read_to_string(key).expect("host sysctl");
    let wanted = if host_before.trim() == "7" { "8" } else { "7" };
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--sysctl",
        &format!("net.ipv4.tcp_keepalive_probes={wanted}"),
        &busybox,
        "true",
    ]);
    assert_ne!(out.status.code(), Some(0), "accepted on the host's network");
    assert!(
        stderr(&out).contains(
            "sysctl \"net.ipv4.tcp_keepalive_probes\" not allowed in host network namespace"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(key).expect("host sysctl"),
        host_before
    );
    let out = d.docker(&[
        "run",
        "--rm",
        "--ipc",
        "host",
        "--sysctl",
        "kernel.shmmni=4000",
        &busybox,
        "true",
    ]);
    assert!(
        stderr(&out).contains("sysctl \"kernel.shmmni\" is not allowed in the hosts ipc namespace"),
        "{}",
        stderr(&out)
    );
    let ps = d.docker_ok(&["ps", "-aq"]);
    assert!(ps.trim().is_empty(), "--rm containers left: {ps}");
}

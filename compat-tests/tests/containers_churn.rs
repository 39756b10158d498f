//! Operations that finish or undo themselves. A user's client gives up half-way (ctrl-c,
//! a client timeout: `curl -m`) on start, stop, rm -f, create and network connect at
//! random points; berthd and berth-containerd are killed with SIGKILL during a churn of
//! `docker run` and `docker rm -f`. Once everything is removed (and berthd started
//! again), nothing of it is left: no shim, mount, network namespace, veth, address
//! lease, task folder or container record.
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// A small deterministic generator (the seed is printed, to replay a failure).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() as usize) % items.len()]
    }
}

/// `curl -m SECS` on the daemon's socket: the client gives up after SECS.
fn cut_short(d: &Daemon, secs: f64, method: &str, path: &str, body: Option<&str>) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "/dev/null", "--unix-socket"])
        .arg(&d.socket)
        .args(["-m", &format!("{secs:.3}"), "-X", method])
        .arg(format!("http://localhost{path}"));
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "-d", b]);
    }
    let _ = cmd.status();
}

/// Everything of this daemon's that should be gone once its containers are.
#[derive(Debug, Default, PartialEq)]
struct Leftovers {
    shims: Vec<i32>,
    mounts: Vec<String>,
    netns: Vec<String>,
    veths: Vec<String>,
    leases: Vec<String>,
    tasks: Vec<String>,
    records: Vec<String>,
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn leftovers(d: &Daemon) -> Leftovers {
    let dir = d.dir.path();
    let shims = containerd_and_shim_pids(dir)
        .into_iter()
        .filter(|pid| {
            // Its program (berth-containerd's command line names berth-shim too); not
            // the launch server, which is no task's.
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    // A shim forked by the launch server shows one string (its words
                    // separated by spaces, as setproctitle writes it).
                    let argv0 = c.split(|b| *b == 0).next().unwrap_or_default();
                    let program = argv0.split(|b| *b == b' ').next().unwrap_or_default();
                    String::from_utf8_lossy(program).ends_with("berth-shim")
                })
                .unwrap_or(false)
        })
        .collect();
    let prefix = dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    // The veths on this daemon's bridges.
    let mut veths = Vec::new();
    for bridge in network::links_of(dir) {
        let out = Command::new("ip")
            .args(["-j", "link", "show", "master", &bridge])
            .output()
            .expect("ip link");
        let links: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        veths.extend(
            links
                .iter()
                .filter_map(|l| l["ifname"].as_str().map(str::to_string)),
        );
    }
    let ipam: serde_json::Value = std::fs::read(d.data_root().join("network/ipam.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut leases = Vec::new();
    if let Some(nets) = ipam["networks"].as_object() {
        for (net, pool) in nets {
            if let Some(l) = pool["leases"].as_object() {
                leases.extend(l.iter().map(|(ip, c)| format!("{net}:{ip}:{c}")));
            }
        }
    }
    Leftovers {
        shims,
        mounts,
        netns: names_in(&dir.join("exec/netns")),
        veths,
        leases,
        tasks: names_in(&dir.join("exec/containerd/tasks")),
        records: names_in(&d.data_root().join("containers")),
    }
}

fn remove_everything(d: &Daemon) {
    let ids = d.docker_ok(&["ps", "-aq"]);
    for id in ids.split_whitespace() {
        // A container another removal is finishing answers 409 or 404: fine.
        let _ = d.docker(&["rm", "-f", id]);
    }
}

fn containerd_pid(d: &Daemon) -> Option<i32> {
    engine_pids(d.dir.path()).into_iter().find(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains("berth-containerd"))
            .unwrap_or(false)
    })
}

#[test]
fn cancelled_operations_and_killed_daemons_leave_nothing_behind() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["network", "create", "churn"]);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.as_nanos() as u64)
        .unwrap_or(1);
    eprintln!("seed {seed}");
    let mut rng = Lcg(seed);
    let cuts = [0.001, 0.003, 0.008, 0.015, 0.03, 0.06, 0.12];

    // Clients that give up half-way through each operation.
    for _ in 0..12 {
        let id = d
            .docker_ok(&["create", &image, "sleep", "1000"])
            .trim()
            .to_string();
        cut_short(
            &d,
            *rng.pick(&cuts),
            "POST",
            &format!("/containers/{id}/start"),
            None,
        );
        let connect = format!(r#"{{"Container":"{id}"}}"#);
        cut_short(
            &d,
            *rng.pick(&cuts),
            "POST",
            "/networks/churn/connect",
            Some(&connect),
        );
        cut_short(
            &d,
            *rng.pick(&cuts),
            "POST",
            &format!("/containers/{id}/stop?t=0"),
            None,
        );
        cut_short(
            &d,
            *rng.pick(&cuts),
            "POST",
            &format!("/containers/{id}/start"),
            None,
        );
        let create = format!(r#"{{"Image":"{image}","Cmd":["sleep","1000"]}}"#);
        cut_short(
            &d,
            *rng.pick(&cuts),
            "POST",
            "/containers/create",
            Some(&create),
        );
        cut_short(
            &d,
            *rng.pick(&cuts),
            "DELETE",
            &format!("/containers/{id}?force=1"),
            None,
        );
    }

    // Everything the user removes is gone, though every client gave up half-way.
    remove_everything(&d);
    assert_nothing_left(
        &d,
        seed,
        "after cancelled operations and rm -f of everything",
    );

    // SIGKILL of berthd and of berth-containerd while containers come and go.
    for round in 0..2 {
        let host = d.host();
        let config = d.docker_config.clone();
        let image = image.clone();
        let churn = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                let run = |args: &[&str]| {
                    Command::new("docker")
                        .env("DOCKER_HOST", &host)
                        .env("DOCKER_CONFIG", &config)
                        .args(args)
                        .output()
                };
                let Ok(out) = run(&["run", "-d", "--network", "churn", &image, "sleep", "1000"])
                else {
                    continue;
                };
                let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if !id.is_empty() {
                    let _ = run(&["rm", "-f", &id]);
                }
                let _ = run(&["run", "--rm", &image, "true"]);
            }
        });
        std::thread::sleep(Duration::from_millis(700 + 400 * round));
        if round == 1 {
            if let Some(pid) = containerd_pid(&d) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        d.kill9();
        let _ = churn.join();
        d.restart_with(&[]);
    }

    remove_everything(&d);
    assert_nothing_left(&d, seed, "after the SIGKILLs and rm -f of everything");
    d.docker_ok(&["network", "rm", "churn"]);
    // And after a stop and a start of berthd.
    d.stop();
    d.restart_with(&[]);
    remove_everything(&d);
    assert_nothing_left(&d, seed, "after a restart of berthd");
}

fn assert_nothing_left(d: &Daemon, seed: u64, when: &str) {
    let mut last = Leftovers::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        last = leftovers(d);
        if last == Leftovers::default() {
            return;
        }
        // The shims exit once their answer to the delete is out.
        std::thread::sleep(Duration::from_millis(100));
    }
    let containerd_log =
        std::fs::read_to_string(d.dir.path().join("exec/containerd/containerd.log"))
            .unwrap_or_default();
    // What each daemon said about the containers left behind, wherever it is in the logs.
    let about_leftovers = |log: &str| -> String {
        let ids: Vec<&str> = last.records.iter().map(|r| &r[..r.len().min(12)]).collect();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| ids.iter().any(|id| l.contains(id)))
            .collect();
        lines[lines.len().saturating_sub(80)..].join("\n")
    };
    panic!(
        "left behind {when} (seed {seed}): {last:#?}\nberth-containerd log tail:\n{}\nberthd log tail:\n{}\nberth-containerd about them:\n{}\nberthd about them:\n{}",
        tail(&containerd_log, 40),
        tail(&d.log(), 40),
        about_leftovers(&containerd_log),
        about_leftovers(&d.log())
    );
}

/// berth-containerd alone is killed (berthd stays up and launches it again): a `rm -f`
/// meanwhile answers at once (dockerd's "Could not kill running container" while its
/// containerd is down, or success once it is back), never hangs, and once everything
/// is removed nothing of the containers is left.
#[test]
fn a_killed_berth_containerd_leaves_nothing_behind_once_containers_are_removed() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["network", "create", "alone"]);
    let ids: Vec<String> = (0..3)
        .map(|_| {
            d.docker_ok(&["run", "-d", "--network", "alone", &image, "sleep", "1000"])
                .trim()
                .to_string()
        })
        .collect();
    let containerd = containerd_pid(&d).expect("berth-containerd runs");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(containerd),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill berth-containerd");
    let began = Instant::now();
    let out = d.docker(&["rm", "-f", &ids[0]]);
    assert!(
        began.elapsed() < Duration::from_secs(15),
        "rm -f took {:?}",
        began.elapsed()
    );
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Could not kill running container"), "{err}");
    }
    for id in &ids {
        eventually(&format!("rm -f {id}"), || {
            d.docker(&["rm", "-f", id]).status.success()
                || !d.docker(&["inspect", id]).status.success()
        });
    }
    d.docker_ok(&["network", "rm", "alone"]);
    assert_nothing_left(
        &d,
        0,
        "after berth-containerd was killed and everything removed",
    );
}

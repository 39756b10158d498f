//! Stats from a real cgroup v1 hierarchy: a child process is moved into fresh
//! `berth-stats-test-*` cgroups under /sys/fs/cgroup/{memory,cpu,cpuacct,pids,blkio},
//! sampled, then killed and the cgroups removed. Skipped where there is no v1 hierarchy
//! or no root.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berthd::stats::{sample, stats_stream, CgroupPaths, Host, StatsOptions, Target};

const CONTROLLERS: &[&str] = &["memory", "cpu", "cpuacct", "pids", "blkio"];

/// The test's cgroups and child; removes both when dropped, even after a failed assert.
struct Fixture {
    dirs: Vec<(String, PathBuf)>,
    child: Option<Child>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for (_, dir) in &self.dirs {
            // The kernel may take a moment to let go of a cgroup whose last task just died.
            let deadline = Instant::now() + Duration::from_secs(5);
            while std::fs::remove_dir(dir).is_err() && dir.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn available() -> bool {
    let root = nix_is_root();
    root && CONTROLLERS
        .iter()
        .all(|c| Path::new("/sys/fs/cgroup").join(c).join("tasks").exists())
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Fresh cgroups with a child in them that has burnt a little CPU and now sleeps.
fn start_child(tag: &str) -> (Fixture, i32) {
    let name = format!("berth-stats-test-{tag}-{}", std::process::id());
    let mut fixture = Fixture {
        dirs: Vec::new(),
        child: None,
    };
    for c in CONTROLLERS {
        let dir = Path::new("/sys/fs/cgroup").join(c).join(&name);
        std::fs::create_dir(&dir).expect("create cgroup");
        fixture.dirs.push((c.to_string(), dir));
    }
    // Waits for a line, burns a little CPU, then sleeps until killed.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("read go; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done; exec sleep 60")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let pid = child.id() as i32;
    for (_, dir) in &fixture.dirs {
        // One thread: `tasks` moves it without waiting for the whole thread group.
        std::fs::write(dir.join("tasks"), pid.to_string()).expect("join cgroup");
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    fixture.child = Some(child);
    stdin.write_all(b"go\n").expect("go");
    let mut buf = [0u8; 5];
    std::io::Read::read_exact(&mut stdout, &mut buf).expect("child done");
    // "done" is printed just before the shell execs `sleep`: wait for the exec to happen, so
    // the process table shows `sleep 60` (a loaded machine can run this test in between).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default() != "sleep\n" {
        assert!(
            std::time::Instant::now() < deadline,
            "child {pid} never exec'd sleep"
        );
        // Poll back-off: the test waits on another process's exec, which sends no signal.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    (fixture, pid)
}

#[test]
fn samples_a_real_v1_cgroup() {
    if !available() {
        eprintln!(
            "skipped: no cgroup v1 hierarchy (memory, cpu, cpuacct, pids, blkio) or not root"
        );
        return;
    }
    let (mut fixture, pid) = start_child("sample");

    // The cgroup as the container core will name it, and as found from the pid.
    let given = CgroupPaths::v1(fixture.dirs.clone());
    let found = CgroupPaths::of_pid(Path::new("/proc"), pid).expect("cgroup of pid");
    assert_eq!(found, given, "discovered from /proc/{pid}/cgroup");

    assert_eq!(given.pids().expect("cgroup.procs"), vec![pid]);
    let listed = berthd::stats::top(&given.pids().expect("pids"), "").expect("top");
    assert_eq!(listed.processes.len(), 1);
    assert_eq!(listed.processes[0][1], pid.to_string());
    assert!(listed.processes[0][7].starts_with("sleep 60"), "{listed:?}");

    let host = Host::real();
    let s = sample(&given, pid, &host).expect("sample");
    assert!(s.cpu_stats.cpu_usage.total_usage > 0, "{s:?}");
    assert_eq!(
        s.cpu_stats.cpu_usage.percpu_usage.len(),
        host.online_cpus as usize
    );
    assert!(s.cpu_stats.system_cpu_usage > 0);
    assert!(s.memory_stats.usage > 0);
    assert!(s.memory_stats.max_usage >= s.memory_stats.usage);
    assert_eq!(s.memory_stats.limit, host.memory_total().expect("meminfo"));
    assert!(s.memory_stats.stats.contains_key("total_rss"));
    assert_eq!(s.pids_stats.current, 1, "exec'd sleep is the only task");
    assert!(s.blkio_stats.io_service_bytes_recursive.is_some());
    assert!(!s.networks.contains_key("lo"));

    let json = serde_json::to_value(&s).expect("json");
    assert!(json["read"].as_str().is_some_and(|r| r.ends_with('Z')));

    // Once the process is gone the cgroup reads as empty, not as an error.
    if let Some(mut child) = fixture.child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let after = sample(&given, pid, &host).expect("sample after exit");
    assert_eq!(after.pids_stats.current, 0);
    assert!(after.networks.is_empty());
}

/// `GET /containers/{id}/stats` served with `stats_stream`, as the route will.
async fn stats_route(
    axum::extract::Path((_version, id)): axum::extract::Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
    axum::extract::State(cgroup): axum::extract::State<(CgroupPaths, i32)>,
) -> axum::response::Response {
    let flag = |key: &str, default: bool| {
        q.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| !matches!(v.as_str(), "" | "0" | "false"))
            .unwrap_or(default)
    };
    let opts = StatsOptions {
        name: format!("/{id}"),
        id,
        stream: flag("stream", true),
        one_shot: flag("one-shot", false),
        api_version: 50,
    };
    let (paths, pid) = cgroup;
    let body = stats_stream(opts, Host::real(), move || Target::Running {
        cgroup: paths.clone(),
        pid,
    });
    let mut response = axum::response::Response::new(axum::body::Body::from_stream(body));
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

async fn ping() -> impl axum::response::IntoResponse {
    ([("api-version", "1.50"), ("ostype", "linux")], "OK")
}

#[test]
fn docker_stats_no_stream_shows_every_column() {
    if !available() {
        eprintln!("skipped: no cgroup v1 hierarchy or not root");
        return;
    }
    if Command::new("docker").arg("--version").output().is_err() {
        eprintln!("skipped: no docker CLI");
        return;
    }
    let (fixture, pid) = start_child("cli");
    let cgroup = CgroupPaths::v1(fixture.dirs.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("docker.sock");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt
        .block_on(async { tokio::net::UnixListener::bind(&socket) })
        .expect("bind");
    let app = axum::Router::new()
        .route("/_ping", axum::routing::get(ping).head(ping))
        .route(
            "/{version}/containers/{id}/stats",
            axum::routing::get(stats_route),
        )
        .with_state((cgroup, pid));
    rt.spawn(async move { axum::serve(listener, app).await });

    let out = Command::new("docker")
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .env("DOCKER_CONFIG", dir.path())
        .args(["stats", "--no-stream", "--format", "{{json .}}", "web"])
        .output()
        .expect("docker stats");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let row: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON row");
    eprintln!("docker stats --no-stream: {row}");
    assert_eq!(row["Name"], "web");
    assert_eq!(row["PIDs"], "1");
    let cpu = row["CPUPerc"].as_str().expect("CPU %");
    assert!(cpu.ends_with('%') && cpu != "--", "{row}");
    let mem = row["MemUsage"].as_str().expect("mem usage");
    let (usage, limit) = mem.split_once(" / ").expect("usage / limit");
    assert!(!usage.starts_with("0B"), "{row}");
    assert!(limit.ends_with("GiB") || limit.ends_with("MiB"), "{row}");
    assert!(
        row["MemPerc"].as_str().is_some_and(|m| m.ends_with('%')),
        "{row}"
    );
    assert!(
        row["NetIO"].as_str().is_some_and(|n| n.contains(" / ")),
        "{row}"
    );
    assert!(
        row["BlockIO"].as_str().is_some_and(|b| b.contains(" / ")),
        "{row}"
    );
    drop(fixture);
}

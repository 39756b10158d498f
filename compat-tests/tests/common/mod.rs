//! The shared harness of the compat tests: a real `berthd` on a temporary data root
//! and socket, the stock `docker` CLI pointed at it with a private config directory,
//! a bollard client, and the fixture registries started by `scripts/test.sh`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

pub mod dns;
pub mod network;

/// Where the workspace's binaries are: `$BERTHD_BIN`'s folder, else `$CARGO_TARGET_DIR/debug`,
/// else `<workspace>/target/debug`.
pub fn bin_dir() -> PathBuf {
    if let Ok(p) = std::env::var("BERTHD_BIN") {
        if let Some(dir) = Path::new(&p).parent() {
            return dir.to_path_buf();
        }
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug")
}

pub fn berthd_bin() -> PathBuf {
    std::env::var("BERTHD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| bin_dir().join("berthd"))
}

/// The fixture images and registries, as written by `berth-fixtures` to `$BERTH_FIXTURES`.
#[derive(Debug, Clone, Deserialize)]
pub struct Fixtures {
    /// Anonymous registry, "127.0.0.1:PORT".
    pub registry: String,
    /// Registry with htpasswd basic auth, "127.0.0.1:PORT".
    pub auth_registry: String,
    pub username: String,
    pub password: String,
    /// Registry with bearer-token auth (Docker's token protocol), "127.0.0.1:PORT".
    #[serde(default)]
    pub token_registry: Option<String>,
    /// By fixture name: busybox, hello, httpd, big, busybox-oci, multi, hello-zstd.
    pub images: BTreeMap<String, FixtureImage>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FixtureImage {
    /// Repository path inside a registry, e.g. "berth/busybox".
    pub repository: String,
    pub tag: String,
    /// Digest of what the registry serves for the tag (manifest, or index for multi).
    pub digest: String,
    /// Media type of that manifest or index.
    pub media_type: String,
    /// Image ID (config digest) of the linux/amd64 image.
    pub id: String,
    /// Number of layers of the linux/amd64 image.
    pub layers: usize,
    /// Whether it was also pushed to the auth registry.
    pub in_auth_registry: bool,
}

impl Fixtures {
    /// Loads `$BERTH_FIXTURES`. Panics with a clear message when the fixtures are not up:
    /// run the tests through `scripts/test.sh`.
    pub fn load() -> Fixtures {
        let path = std::env::var("BERTH_FIXTURES").unwrap_or_else(|_| {
            panic!("BERTH_FIXTURES is not set: run the suite through scripts/test.sh, which builds the fixtures and starts the registries")
        });
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
    }
    pub fn image(&self, name: &str) -> &FixtureImage {
        self.images
            .get(name)
            .unwrap_or_else(|| panic!("no fixture image {name:?}"))
    }
    /// "REGISTRY/REPO:TAG" in the anonymous registry.
    pub fn anon_ref(&self, name: &str) -> String {
        let i = self.image(name);
        format!("{}/{}:{}", self.registry, i.repository, i.tag)
    }
    /// "REGISTRY/REPO:TAG" in the auth registry.
    pub fn auth_ref(&self, name: &str) -> String {
        let i = self.image(name);
        format!("{}/{}:{}", self.auth_registry, i.repository, i.tag)
    }
}

/// A running berthd with its own data root, exec root and socket, stopped (SIGTERM) on drop.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    /// A private DOCKER_CONFIG directory for the CLI (logins do not leak).
    pub docker_config: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    /// Starts berthd listening on a unix socket in a temporary directory.
    pub fn start() -> Daemon {
        Self::start_with(&[])
    }

    /// Starts berthd with extra arguments (more `-H`, TLS flags, ...).
    pub fn start_with(extra: &[&str]) -> Daemon {
        Self::start_wrapped(&[], extra)
    }

    /// Starts berthd with extra arguments and environment variables (which
    /// berth-containerd and the shims it starts inherit).
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        Self::start_wrapped_with_env(&[], extra, env)
    }

    /// Starts berthd through a wrapper command that ends by exec-ing its arguments
    /// (`unshare --net sh -c '…; exec "$@"' sh`), so the daemon keeps the child's pid.
    pub fn start_wrapped(wrapper: &[&str], extra: &[&str]) -> Daemon {
        Self::start_wrapped_with_env(wrapper, extra, &[])
    }

    fn start_wrapped_with_env(wrapper: &[&str], extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("berth-test-")
            .tempdir()
            .expect("tempdir");
        let socket = dir.path().join("docker.sock");
        let docker_config = dir.path().join("docker-config");
        std::fs::create_dir_all(&docker_config).expect("docker config dir");
        let data_root = dir.path().join("data");
        let exec_root = dir.path().join("exec");
        let log = std::fs::File::create(dir.path().join("berthd.log")).expect("log file");
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(berthd_bin());
                cmd
            }
            None => Command::new(berthd_bin()),
        };
        cmd.arg("--debug")
            .arg("--data-root")
            .arg(&data_root)
            .arg("--exec-root")
            .arg(&exec_root)
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log clone"))
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", berthd_bin().display()));
        let mut d = Daemon {
            dir,
            socket,
            docker_config,
            child: Some(child),
        };
        d.wait_ready();
        d
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("berthd exited early with {status}; log:\n{}", self.log());
                }
            }
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "berthd did not listen on {} within 30s; log:\n{}",
            self.socket.display(),
            self.log()
        );
    }

    /// berthd's process ID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// One raw API request on the daemon's socket, with a JSON body when one is given
    /// (sent exactly as written: the test decides the keys' case).
    pub fn api(
        &self,
        method: &str,
        path: &str,
        json_body: Option<&str>,
    ) -> compat_tests::http::Response {
        let headers: &[(&str, &str)] = match json_body {
            Some(_) => &[("Content-Type", "application/json")],
            None => &[],
        };
        let body = json_body.unwrap_or("").as_bytes();
        compat_tests::http::request_unix(&self.socket, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// berthd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }

    /// A `docker` CLI command pointed at this daemon.
    pub fn docker_cmd(&self) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", &self.docker_config)
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `docker ARGS...` and returns its output, whatever its status.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_cmd()
            .args(args)
            .output()
            .expect("running docker")
    }

    /// Runs `docker ARGS...`, asserts it succeeded, returns its stdout.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed with {}\nstdout: {}\nstderr: {}\nberthd log tail:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail(&self.log(), 40)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `docker ARGS...`, asserts it failed, returns its stderr.
    pub fn docker_err(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            !out.status.success(),
            "docker {args:?} unexpectedly succeeded\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `docker pull -q` of fixture `name` from the anonymous registry; returns the reference.
    pub fn pull_fixture(&self, f: &Fixtures, name: &str) -> String {
        let reference = f.anon_ref(name);
        self.docker_ok(&["pull", "-q", &reference]);
        reference
    }

    /// `docker login --username USER --password-stdin REGISTRY`, the password on stdin.
    pub fn login(&self, registry: &str, user: &str, password: &str) -> Output {
        use std::io::Write as _;
        let mut child = self
            .docker_cmd()
            .args(["login", "--username", user, "--password-stdin", registry])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker login");
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(password.as_bytes())
                .expect("password to stdin");
        }
        child.wait_with_output().expect("docker login output")
    }

    /// A bollard client on this daemon's socket.
    pub fn bollard(&self) -> bollard::Docker {
        bollard::Docker::connect_with_unix(
            &self.socket.to_string_lossy(),
            120,
            bollard::API_DEFAULT_VERSION,
        )
        .expect("bollard connect")
    }

    /// Stops the daemon with SIGTERM and waits for it (up to 20 s, then SIGKILL).
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// Kills the daemon with SIGKILL (a crash), without cleanup.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a new berthd on the same data root, exec root and socket (after stop or kill9).
    pub fn restart_with(&mut self, extra: &[&str]) {
        assert!(self.child.is_none(), "restart_with: stop or kill9 first");
        let _ = std::fs::remove_file(&self.socket);
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("berthd.log"))
            .expect("log file");
        let child = Command::new(berthd_bin())
            .arg("--debug")
            .arg("--data-root")
            .arg(self.dir.path().join("data"))
            .arg("--exec-root")
            .arg(self.dir.path().join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log clone"))
            .stderr(log)
            .spawn()
            .expect("restart berthd");
        self.child = Some(child);
        self.wait_ready();
    }

    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        cleanup_engine(self.dir.path());
    }
}

/// Kills what a test's daemon left running — its berth-containerd, shims and containers
/// (found by their command lines, which name this test's folder) — then unmounts the
/// overlays under that folder and removes the containers' cgroups.
/// The engine's processes but its shim launch server (`berth-shim launch-server`, kept
/// while containers are being started and gone after some idle seconds): berth-containerd
/// and one shim per task.
pub fn containerd_and_shim_pids(dir: &Path) -> Vec<i32> {
    engine_pids(dir)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).nth(1) != Some(b"launch-server".as_slice()))
        })
        .collect()
}

/// Processes (berth-containerd, its shim launch server, shims) whose command line names
/// this test daemon's exec root.
pub fn engine_pids(dir: &Path) -> Vec<i32> {
    let marker = dir.join("exec").join("containerd").display().to_string();
    let mut owned: Vec<i32> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&marker) {
                owned.push(pid);
            }
        }
    }
    owned
}

pub fn cleanup_engine(dir: &Path) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let owned = engine_pids(dir);
    // Children first (the containers under each shim), then the shims and containerd.
    let mut all = Vec::new();
    let mut stack = owned.clone();
    while let Some(pid) = stack.pop() {
        if all.contains(&pid) {
            continue;
        }
        all.push(pid);
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for t in tasks.flatten() {
                let children =
                    std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
                stack.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<i32>().ok()),
                );
            }
        }
    }
    for pid in all.iter().rev() {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    std::thread::sleep(Duration::from_millis(100));
    let prefix = dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
    let ids: Vec<String> = std::fs::read_dir(dir.join("data").join("containers"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup/berth")];
    if let Ok(d) = std::fs::read_dir("/sys/fs/cgroup") {
        roots.extend(d.flatten().map(|e| e.path().join("berth")));
    }
    for id in &ids {
        for root in &roots {
            let _ = std::fs::remove_dir(root.join(id));
        }
    }
    network::cleanup_network(dir);
}

/// The last `n` lines of `text`.
/// `docker inspect` of one object (container, or image with `["image", "inspect"]`), parsed.
pub fn inspect_json(d: &Daemon, command: &[&str], name: &str) -> serde_json::Value {
    let mut args = command.to_vec();
    args.push(name);
    let out = d.docker_ok(&args);
    let parsed: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("inspect output is not JSON ({e}): {out}"));
    parsed
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or_else(|| panic!("inspect printed no object: {out}"))
}

/// Waits until `check` holds (up to 20 s), else panics naming `what`.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// stdout of an Output as a String.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr of an Output as a String.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs berthd with `args` (and a temporary data root and exec root), expecting it to
/// refuse to start within 20 s; returns its stderr.
pub fn berthd_refuses(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(berthd_bin())
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn berthd");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let out = child.wait_with_output().expect("output");
            // A refused start checks everything before it starts anything: no
            // berth-containerd, bridge or firewall table of this data root may remain.
            let engine_left = engine_pids(dir.path());
            cleanup_engine(dir.path());
            let (links_left, table_left) = network::cleanup_network(dir.path());
            assert!(!status.success(), "berthd {args:?} started");
            assert!(
                engine_left.is_empty() && links_left.is_empty() && !table_left,
                "berthd {args:?} refused but left engine processes {engine_left:?}, links \
                 {links_left:?}, firewall table: {table_left}"
            );
            return stderr(&out);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            network::cleanup_network(dir.path());
            panic!("berthd {args:?} did not refuse to start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A repository name no other test or run uses: "berth-test/PREFIX-PID-NANOS".
pub fn unique_repo(prefix: &str) -> String {
    format!("berth-test/{}", unique(prefix))
}

/// A name (of a container, volume, image, host folder) no other test or run uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// `fixtures/<source>` (a small C program) built static with musl-gcc, as the fixtures'
/// `hello`, into `dir`; returns the program's path.
pub fn static_program(dir: &Path, source: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(source);
    let out = dir.join(source.file_stem().unwrap_or_default());
    let status = Command::new("musl-gcc")
        .args(["-static", "-Os", "-o"])
        .arg(&out)
        .arg(&source)
        .status()
        .expect("musl-gcc (scripts/install-test-deps.sh installs musl-tools)");
    assert!(status.success(), "musl-gcc {}", source.display());
    out
}

/// Non-empty trimmed lines of a command's output.
pub fn lines(out: &str) -> Vec<String> {
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Now as `SECONDS.NANOS`, the form `docker events --since/--until` takes.
pub fn unix_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// `Mounts` of a container's inspect.
pub fn mounts(d: &Daemon, container: &str) -> Vec<serde_json::Value> {
    inspect_json(d, &["inspect"], container)["Mounts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The mount at `destination` among `mounts`.
pub fn mount_at<'a>(mounts: &'a [serde_json::Value], destination: &str) -> &'a serde_json::Value {
    mounts
        .iter()
        .find(|m| m["Destination"] == destination)
        .unwrap_or_else(|| panic!("no mount at {destination}: {mounts:?}"))
}

/// `curl` on the daemon's socket (raw API requests the CLI cannot express): (status,
/// parsed body or Null).
pub fn api(d: &Daemon, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(&d.socket)
        .args(["-X", method, &format!("http://localhost{path}")]);
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "-d", b]);
    }
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    let status = code.trim().parse().unwrap_or(0);
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

//! create → start → wait for exit → delete of a trivial bundle (busybox
//! `true`), N times with berth-runc and with runc; median and p90 in ms.
//!
//!   cargo build --release -p berth-runc --bins --examples
//!   /work/target-runtime/release/examples/bench [N]
//!
//! berth-runc is taken from next to the examples directory (or $BERTH_RUNC);
//! runc from $RUNC or /usr/sbin/runc.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn build_bundle(dir: &Path, berth: &Path) {
    let root = dir.join("rootfs");
    for d in ["bin", "proc", "sys", "dev", "tmp"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy /bin/busybox");
    std::os::unix::fs::symlink("busybox", root.join("bin/true")).expect("symlink");
    let st = Command::new(berth)
        .arg("spec")
        .arg("--bundle")
        .arg(dir)
        .status()
        .expect("spec");
    assert!(st.success());
    let p = dir.join("config.json");
    let mut c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json");
    c["process"]["terminal"] = serde_json::json!(false);
    c["process"]["args"] = serde_json::json!(["/bin/true"]);
    std::fs::write(&p, c.to_string()).expect("write");
}

fn run(bin: &Path, root: &Path, args: &[&str]) {
    let st = Command::new(bin)
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("spawn");
    assert!(st.success(), "{} {:?} failed", bin.display(), args);
}

/// Total, create, start, wait, delete (ms).
fn once(bin: &Path, root: &Path, bundle: &Path, id: &str) -> [f64; 5] {
    let pidf = bundle.join("pid");
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    let t0 = Instant::now();
    run(
        bin,
        root,
        &[
            "create",
            "--bundle",
            bundle.to_str().expect("utf8"),
            "--pid-file",
            pidf.to_str().expect("utf8"),
            id,
        ],
    );
    let c = ms(t0);
    let pid: i32 = std::fs::read_to_string(&pidf)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid");
    let t1 = Instant::now();
    run(bin, root, &["start", id]);
    let s = ms(t1);
    let t2 = Instant::now();
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    let w = ms(t2);
    let t3 = Instant::now();
    run(bin, root, &["delete", id]);
    [ms(t0), c, s, w, ms(t3)]
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (pick(0.5), pick(0.9))
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    // SAFETY: prctl with integer arguments: containers are reparented to us.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let exe = std::env::current_exe().expect("exe");
    let berth = std::env::var_os("BERTH_RUNC")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            exe.parent()
                .and_then(Path::parent)
                .map(|d| d.join("berth-runc"))
                .expect("berth-runc path")
        });
    let runc = std::env::var_os("RUNC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/runc"));
    let tmp = tempfile::tempdir().expect("tmp");
    let bundle = tmp.path().join("bundle");
    build_bundle(&bundle, &berth);
    println!("N={n}, bundle: busybox /bin/true");
    for (name, bin) in [("berth-runc", &berth), ("runc", &runc)] {
        // State roots on /run (tmpfs), where the runtimes keep them by default.
        let root = PathBuf::from(format!("/run/berth-bench-{}/{name}", std::process::id()));
        once(bin, &root, &bundle, "warmup");
        let runs: Vec<[f64; 5]> = (0..n)
            .map(|i| once(bin, &root, &bundle, &format!("bench-{i}")))
            .collect();
        let col = |k: usize| stats(runs.iter().map(|r| r[k]).collect());
        let (med, p90) = col(0);
        println!(
            "{name:<11} median {med:7.2} ms   p90 {p90:7.2} ms   ({})",
            bin.display()
        );
        let parts: Vec<String> = ["create", "start", "wait", "delete"]
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{p} {:.2}", col(i + 1).0))
            .collect();
        println!("            medians by step (ms): {}", parts.join(", "));
        let _ = std::fs::remove_dir_all(&root);
    }
    let _ = std::fs::remove_dir(format!("/run/berth-bench-{}", std::process::id()));
}

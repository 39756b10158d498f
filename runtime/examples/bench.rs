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
    let st = Command::new(berth).arg("spec").arg("--bundle").arg(dir).status().expect("spec");
    assert!(st.success());
    let p = dir.join("config.json");
    let mut c: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json");
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

fn once(bin: &Path, root: &Path, bundle: &Path, id: &str) -> f64 {
    let pidf = bundle.join("pid");
    let t0 = Instant::now();
    run(bin, root, &["create", "--bundle", bundle.to_str().expect("utf8"), "--pid-file", pidf.to_str().expect("utf8"), id]);
    let pid: i32 = std::fs::read_to_string(&pidf).expect("pid").trim().parse().expect("pid");
    run(bin, root, &["start", id]);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    run(bin, root, &["delete", id]);
    t0.elapsed().as_secs_f64() * 1000.0
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (pick(0.5), pick(0.9))
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    // SAFETY: prctl with integer arguments: containers are reparented to us.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let exe = std::env::current_exe().expect("exe");
    let berth = std::env::var_os("BERTH_RUNC").map(PathBuf::from).unwrap_or_else(|| {
        exe.parent().and_then(Path::parent).map(|d| d.join("berth-runc")).expect("berth-runc path")
    });
    let runc = std::env::var_os("RUNC").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/sbin/runc"));
    let tmp = tempfile::tempdir().expect("tmp");
    let bundle = tmp.path().join("bundle");
    build_bundle(&bundle, &berth);
    println!("N={n}, bundle: busybox /bin/true");
    for (name, bin) in [("berth-runc", &berth), ("runc", &runc)] {
        let root = tmp.path().join(format!("root-{name}"));
        once(bin, &root, &bundle, "warmup");
        let times: Vec<f64> = (0..n).map(|i| once(bin, &root, &bundle, &format!("bench-{i}"))).collect();
        let (med, p90) = stats(times);
        println!("{name:<11} median {med:7.2} ms   p90 {p90:7.2} ms   ({})", bin.display());
    }
}

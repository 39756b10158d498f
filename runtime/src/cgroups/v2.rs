//! cgroup v2: one directory, controllers enabled in the parents' subtree_control.
use super::{given, resolve, write, Cgroup, ROOT};
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxResources};
use std::path::{Path, PathBuf};

pub fn create(
    cgroups_path: Option<&Path>,
    id: &str,
    res: Option<&LinuxResources>,
) -> Result<Cgroup> {
    let pc = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| Error::io("read", "/proc/self/cgroup", e))?;
    let me = pc
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("/")
        .to_string();
    let rel = resolve(cgroups_path, id, &me);
    let dir = PathBuf::from(ROOT).join(rel.strip_prefix("/").unwrap_or(&rel));
    enable_controllers(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Cgroup(format!("mkdir {}: {e}", dir.display())))?;
    if let Some(r) = res {
        if let Err(e) = apply(&dir, r) {
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
    }
    Ok(Cgroup::V2 { path: dir })
}

/// Best effort: +controller in every ancestor's cgroup.subtree_control.
fn enable_controllers(dir: &Path) {
    let root = Path::new(ROOT);
    let rel = dir.strip_prefix(root).unwrap_or(Path::new(""));
    let mut cur = root.to_path_buf();
    for c in rel.components() {
        let avail = std::fs::read_to_string(cur.join("cgroup.controllers")).unwrap_or_default();
        let want: Vec<String> = avail
            .split_whitespace()
            .filter(|c| matches!(*c, "cpu" | "cpuset" | "memory" | "pids" | "io" | "hugetlb"))
            .map(|c| format!("+{c}"))
            .collect();
        if !want.is_empty() {
            let _ = std::fs::write(cur.join("cgroup.subtree_control"), want.join(" "));
        }
        cur.push(c);
        let _ = std::fs::create_dir(&cur);
    }
}

/// cpu.shares (2..262144) to cpu.weight (1..10000), as runc converts.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

/// The controllers `r` needs, each with what asks for it.
pub fn needed(r: &LinuxResources) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if let Some(m) = r.memory() {
        if [m.limit(), m.reservation(), m.swap()]
            .iter()
            .any(|v| given(*v).is_some())
        {
            out.push(("memory", "a memory limit"));
        }
    }
    if let Some(c) = r.cpu() {
        if given(c.shares()).is_some() || given(c.quota()).is_some() || given(c.period()).is_some()
        {
            out.push(("cpu", "a cpu share or quota"));
        }
        if c.cpus().as_deref().is_some_and(|s| !s.is_empty())
            || c.mems().as_deref().is_some_and(|s| !s.is_empty())
        {
            out.push(("cpuset", "a cpuset"));
        }
    }
    if given(r.pids().map(|p| p.limit())).is_some() {
        out.push(("pids", "a pids limit"));
    }
    if let Some(io) = r.block_io() {
        let devices = [
            io.weight_device().as_ref().map(Vec::len),
            io.throttle_read_bps_device().as_ref().map(Vec::len),
            io.throttle_write_bps_device().as_ref().map(Vec::len),
            io.throttle_read_iops_device().as_ref().map(Vec::len),
            io.throttle_write_iops_device().as_ref().map(Vec::len),
        ];
        if io.weight().is_some_and(|w| w > 0) || devices.iter().flatten().any(|n| *n > 0) {
            out.push(("io", "a block I/O weight or limit"));
        }
    }
    out
}

/// A resource whose controller is not enabled for `dir` is an error, not a
/// silent no-op (on a hybrid host the controller may belong to v1).
pub fn check_controllers(dir: &Path, r: &LinuxResources) -> Result<()> {
    let f = dir.join("cgroup.controllers");
    let avail = std::fs::read_to_string(&f)
        .map_err(|e| Error::Cgroup(format!("read {}: {e}", f.display())))?;
    let have: Vec<&str> = avail.split_whitespace().collect();
    for (c, what) in needed(r) {
        if !have.contains(&c) {
            return Err(Error::Cgroup(format!(
                "{what} is set but the {c} controller is not enabled in the cgroup v2 \
                 hierarchy for {} (enabled: {})",
                dir.display(),
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(" ")
                }
            )));
        }
    }
    Ok(())
}

pub fn apply(dir: &Path, r: &LinuxResources) -> Result<()> {
    check_controllers(dir, r)?;
    if let Some(m) = r.memory() {
        let limit = given(m.limit());
        if let Some(l) = limit {
            write(&dir.join("memory.max"), &max(l))?;
        }
        if let Some(l) = given(m.reservation()) {
            write(&dir.join("memory.low"), &max(l))?;
        }
        if let Some(s) = given(m.swap()) {
            let v = match limit {
                _ if s < 0 => "max".to_string(),
                Some(l) if l > 0 => (s - l).max(0).to_string(),
                _ => s.to_string(),
            };
            let f = dir.join("memory.swap.max");
            if f.exists() {
                write(&f, &v)?;
            } else if s > 0 && Some(s) != limit {
                return Err(Error::Cgroup(
                    "swap limit requested but the kernel has no swap accounting".into(),
                ));
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = given(c.shares()) {
            write(&dir.join("cpu.weight"), &shares_to_weight(s).to_string())?;
        }
        let (quota, period) = (given(c.quota()), given(c.period()));
        if quota.is_some() || period.is_some() {
            let q = quota
                .filter(|q| *q > 0)
                .map(|q| q.to_string())
                .unwrap_or_else(|| "max".into());
            write(
                &dir.join("cpu.max"),
                &format!("{q} {}", period.unwrap_or(100_000)),
            )?;
        }
        if let Some(s) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            write(&dir.join("cpuset.cpus"), s)?;
        }
        if let Some(s) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            write(&dir.join("cpuset.mems"), s)?;
        }
    }
    if let Some(l) = given(r.pids().map(|p| p.limit())) {
        write(&dir.join("pids.max"), &max(l))?;
    }
    if let Some(io) = r.block_io() {
        block_io(dir, io)?;
    }
    Ok(())
}

/// A blkio weight (10..1000) as an io.weight (1..10000), as runc converts.
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight).saturating_sub(10) * 9999) / 990
}

/// io: the weight in io.bfq.weight (1..1000 as given) or io.weight (converted), and the
/// throttles in io.max, one "major:minor key=value" line each.
fn block_io(dir: &Path, io: &LinuxBlockIo) -> Result<()> {
    let bfq = dir.join("io.bfq.weight");
    let weight_line = |prefix: String, w: u16| {
        if bfq.exists() {
            (bfq.clone(), format!("{prefix}{w}"))
        } else {
            (
                dir.join("io.weight"),
                format!("{prefix}{}", blkio_to_io_weight(w)),
            )
        }
    };
    if let Some(w) = io.weight().filter(|w| *w > 0) {
        let (file, line) = weight_line(String::new(), w);
        write(&file, &line)?;
    }
    for d in io.weight_device().iter().flatten() {
        if let Some(w) = d.weight().filter(|w| *w > 0) {
            let (file, line) = weight_line(format!("{}:{} ", d.major(), d.minor()), w);
            write(&file, &line)?;
        }
    }
    for (key, devices) in [
        ("rbps", io.throttle_read_bps_device()),
        ("wbps", io.throttle_write_bps_device()),
        ("riops", io.throttle_read_iops_device()),
        ("wiops", io.throttle_write_iops_device()),
    ] {
        for d in devices.iter().flatten() {
            let line = format!("{}:{} {key}={}", d.major(), d.minor(), d.rate());
            write(&dir.join("io.max"), &line)?;
        }
    }
    Ok(())
}

fn max(v: i64) -> String {
    if v <= 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

pub fn freeze(dir: &Path, frozen: bool) -> Result<()> {
    write(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
    for _ in 0..1000 {
        let ev = std::fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
        if ev.lines().any(|l| l == format!("frozen {}", frozen as u8)) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(Error::Cgroup(
        "cgroup did not reach the frozen state".into(),
    ))
}

pub fn is_frozen(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_controller_is_an_error() {
        let d = tempfile::tempdir().expect("tmp");
        std::fs::write(d.path().join("cgroup.controllers"), "hugetlb\n").expect("write");
        let r: LinuxResources =
            serde_json::from_str(r#"{"memory": {"limit": 1048576}}"#).expect("res");
        let e = apply(d.path(), &r)
            .expect_err("no memory controller")
            .to_string();
        assert!(e.contains("memory controller is not enabled"), "{e}");
        assert!(e.contains("enabled: hugetlb"), "{e}");
        let none: LinuxResources = serde_json::from_str("{}").expect("res");
        assert!(apply(d.path(), &none).is_ok());
        // Zeros are "unset", as daemons send them (runc's reading).
        let zeros: LinuxResources = serde_json::from_str(
            r#"{"memory": {"limit": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 0}, "pids": {"limit": 0}}"#,
        )
        .expect("res");
        apply(d.path(), &zeros).expect("zeros need no controller");
        assert!(!d.path().join("memory.max").exists());
    }

    #[test]
    fn writes_v2_files() {
        let d = tempfile::tempdir().expect("tmp");
        let f = |n: &str| d.path().join(n);
        std::fs::write(f("cgroup.controllers"), "cpuset cpu memory pids\n").expect("write");
        std::fs::write(f("memory.swap.max"), "max").expect("write");
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory": {"limit": 1048576, "swap": 3145728, "reservation": 4096},
                "cpu": {"shares": 1024, "quota": 20000, "period": 50000, "cpus": "0"},
                "pids": {"limit": -1}}"#,
        )
        .expect("res");
        apply(d.path(), &r).expect("apply");
        let read = |n: &str| std::fs::read_to_string(f(n)).expect("read");
        assert_eq!(read("memory.max"), "1048576");
        assert_eq!(read("memory.swap.max"), "2097152");
        assert_eq!(read("memory.low"), "4096");
        assert_eq!(read("cpu.weight"), "39");
        assert_eq!(read("cpu.max"), "20000 50000");
        assert_eq!(read("cpuset.cpus"), "0");
        assert_eq!(read("pids.max"), "max");
    }

    #[test]
    fn weight_conversion() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }
}

//! cgroup v2: one directory, controllers enabled in the parents' subtree_control.
use super::{resolve, write, Cgroup, ROOT};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;
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
        apply(&dir, r)?;
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

pub fn apply(dir: &Path, r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        if let Some(l) = m.limit() {
            write(&dir.join("memory.max"), &max(l))?;
        }
        if let Some(l) = m.reservation() {
            write(&dir.join("memory.low"), &max(l))?;
        }
        if let Some(s) = m.swap() {
            let v = match m.limit() {
                _ if s < 0 => "max".to_string(),
                Some(l) if l > 0 => (s - l).max(0).to_string(),
                _ => s.to_string(),
            };
            let f = dir.join("memory.swap.max");
            if f.exists() {
                write(&f, &v)?;
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares() {
            write(&dir.join("cpu.weight"), &shares_to_weight(s).to_string())?;
        }
        if c.quota().is_some() || c.period().is_some() {
            let q = c
                .quota()
                .filter(|q| *q > 0)
                .map(|q| q.to_string())
                .unwrap_or_else(|| "max".into());
            write(
                &dir.join("cpu.max"),
                &format!("{q} {}", c.period().unwrap_or(100_000)),
            )?;
        }
        if let Some(s) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            write(&dir.join("cpuset.cpus"), s)?;
        }
        if let Some(s) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            write(&dir.join("cpuset.mems"), s)?;
        }
    }
    if let Some(p) = r.pids() {
        write(&dir.join("pids.max"), &max(p.limit()))?;
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
    fn weight_conversion() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }
}

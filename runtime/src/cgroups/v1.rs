//! cgroup v1: one directory per hierarchy, resources written per controller.
use super::{given, resolve, write, Cgroup};
use crate::error::{Error, Result};
use oci_spec::runtime::{
    LinuxBlockIo, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory, LinuxResources,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A mounted v1 hierarchy: its mount point and the controllers (or name=…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mountpoint: PathBuf,
    pub controllers: Vec<String>,
}

pub fn parse_mountinfo(text: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let r: Vec<&str> = right.split(' ').collect();
        if r.first() != Some(&"cgroup") {
            continue;
        }
        let Some(mp) = left.split(' ').nth(4) else {
            continue;
        };
        let supers = r.get(2).copied().unwrap_or("");
        let controllers = supers
            .split(',')
            .filter(|o| {
                !matches!(
                    *o,
                    "rw" | "ro" | "relatime" | "noatime" | "nosuid" | "nodev" | "noexec" | "xattr"
                ) && !o.starts_with("release_agent")
                    && !o.starts_with("clone_children")
            })
            .map(str::to_string)
            .collect();
        out.push(Hierarchy {
            mountpoint: PathBuf::from(mp),
            controllers,
        });
    }
    out
}

/// Path of the calling process in the hierarchy with these controllers.
pub fn self_path(proc_cgroup: &str, controllers: &[String]) -> String {
    for line in proc_cgroup.lines() {
        let mut it = line.splitn(3, ':');
        let (_, Some(list), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let mut a: Vec<&str> = list.split(',').collect();
        let mut b: Vec<&str> = controllers.iter().map(String::as_str).collect();
        a.sort_unstable();
        b.sort_unstable();
        if !list.is_empty() && a == b {
            return path.to_string();
        }
    }
    "/".to_string()
}

pub fn create(
    cgroups_path: Option<&Path>,
    id: &str,
    res: Option<&LinuxResources>,
) -> Result<Cgroup> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("read", "/proc/self/mountinfo", e))?;
    let pc = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| Error::io("read", "/proc/self/cgroup", e))?;
    let mut paths = BTreeMap::new();
    for h in parse_mountinfo(&mi) {
        let Some(name) = h
            .mountpoint
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
        else {
            continue;
        };
        let rel = resolve(cgroups_path, id, &self_path(&pc, &h.controllers));
        let dir = h.mountpoint.join(rel.strip_prefix("/").unwrap_or(&rel));
        if h.controllers.iter().any(|c| c == "cpuset") {
            init_cpuset(&h.mountpoint, &dir)?;
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Cgroup(format!("mkdir {}: {e}", dir.display())))?;
        paths.insert(name, dir);
    }
    let cg = Cgroup::V1 { paths };
    if let (Some(r), Cgroup::V1 { paths }) = (res, &cg) {
        if let Err(e) = apply(paths, r) {
            let _ = cg.destroy();
            return Err(e);
        }
    }
    Ok(cg)
}

/// cpuset.cpus/mems start empty in a new v1 cgroup: copy them down from the parents.
fn init_cpuset(mountpoint: &Path, dir: &Path) -> Result<()> {
    let rel = dir.strip_prefix(mountpoint).unwrap_or(Path::new(""));
    let mut cur = mountpoint.to_path_buf();
    for c in rel.components() {
        let parent = cur.clone();
        cur.push(c);
        if !cur.exists() {
            std::fs::create_dir(&cur)
                .map_err(|e| Error::Cgroup(format!("mkdir {}: {e}", cur.display())))?;
        }
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let mine = std::fs::read_to_string(cur.join(f)).unwrap_or_default();
            if mine.trim().is_empty() {
                let theirs = std::fs::read_to_string(parent.join(f)).unwrap_or_default();
                write(&cur.join(f), theirs.trim())?;
            }
        }
    }
    Ok(())
}

fn dev_rule(d: &LinuxDeviceCgroup) -> String {
    let t = match d.typ() {
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        Some(LinuxDeviceType::P) => "p",
        Some(LinuxDeviceType::A) | None => "a",
    };
    let n = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_else(|| "*".into());
    format!(
        "{t} {}:{} {}",
        n(d.major()),
        n(d.minor()),
        d.access().as_deref().unwrap_or("rwm")
    )
}

/// Devices every container may use (runc adds the same).
const DEFAULT_ALLOW: [&str; 11] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

pub fn apply(paths: &BTreeMap<String, PathBuf>, r: &LinuxResources) -> Result<()> {
    let get = |n: &str| {
        paths
            .iter()
            .find(|(k, _)| k.split(',').any(|p| p == n))
            .map(|(_, v)| v.clone())
    };
    if let (Some(m), Some(dir)) = (r.memory(), get("memory")) {
        memory_limits(&dir, m)?;
        if let Some(l) = given(m.reservation()) {
            write(&dir.join("memory.soft_limit_in_bytes"), &l.to_string())?;
        }
        if let Some(s) = m.swappiness() {
            if s <= 100 {
                write(&dir.join("memory.swappiness"), &s.to_string())?;
            }
        }
        if m.disable_oom_killer() == Some(true) {
            write(&dir.join("memory.oom_control"), "1")?;
        }
    }
    if let (Some(c), Some(dir)) = (r.cpu(), get("cpu")) {
        if let Some(s) = given(c.shares()) {
            write(&dir.join("cpu.shares"), &s.to_string())?;
        }
        if let Some(p) = given(c.period()) {
            write(&dir.join("cpu.cfs_period_us"), &p.to_string())?;
        }
        if let Some(q) = given(c.quota()) {
            write(&dir.join("cpu.cfs_quota_us"), &q.to_string())?;
        }
        realtime(
            &dir,
            given(c.realtime_period()),
            given(c.realtime_runtime()),
        )?;
    }
    if let (Some(c), Some(dir)) = (r.cpu(), get("cpuset")) {
        if let Some(s) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            write(&dir.join("cpuset.cpus"), s)?;
        }
        if let Some(s) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            write(&dir.join("cpuset.mems"), s)?;
        }
    }
    if let (Some(l), Some(dir)) = (given(r.pids().map(|p| p.limit())), get("pids")) {
        let v = if l > 0 { l.to_string() } else { "max".into() };
        write(&dir.join("pids.max"), &v)?;
    }
    if let (Some(io), Some(dir)) = (r.block_io(), get("blkio")) {
        block_io(&dir, io)?;
    }
    if let Some(dir) = get("devices") {
        if let Some(devs) = r.devices() {
            for d in devs {
                let f = if d.allow() {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                write(&dir.join(f), &dev_rule(d))?;
            }
            for rule in DEFAULT_ALLOW {
                write(&dir.join("devices.allow"), rule)?;
            }
        }
    }
    Ok(())
}

/// blkio: the weight (BFQ's file when the kernel has it, as runc) and the throttles, one
/// "major:minor value" line per device.
fn block_io(dir: &Path, io: &LinuxBlockIo) -> Result<()> {
    let either = |bfq: &str, cfq: &str| {
        let b = dir.join(bfq);
        if b.exists() {
            b
        } else {
            dir.join(cfq)
        }
    };
    if let Some(w) = io.weight().filter(|w| *w > 0) {
        write(&either("blkio.bfq.weight", "blkio.weight"), &w.to_string())?;
    }
    for d in io.weight_device().iter().flatten() {
        if let Some(w) = d.weight().filter(|w| *w > 0) {
            let f = either("blkio.bfq.weight_device", "blkio.weight_device");
            write(&f, &format!("{}:{} {w}", d.major(), d.minor()))?;
        }
    }
    for (file, devices) in [
        (
            "blkio.throttle.read_bps_device",
            io.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            io.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            io.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            io.throttle_write_iops_device(),
        ),
    ] {
        for d in devices.iter().flatten() {
            write(
                &dir.join(file),
                &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
            )?;
        }
    }
    Ok(())
}

/// cpu.rt_period_us and cpu.rt_runtime_us, as runc's `SetRtSched`: the kernel wants
/// runtime <= period at every step, so a period it refuses (EINVAL: below the current
/// runtime) is written again after the new runtime.
fn realtime(dir: &Path, period: Option<u64>, runtime: Option<i64>) -> Result<()> {
    let period_file = dir.join("cpu.rt_period_us");
    let mut retry_period = None;
    if let Some(p) = period {
        match std::fs::write(&period_file, p.to_string()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && runtime.is_some() => {
                retry_period = Some(p);
            }
            Err(e) => {
                return Err(Error::Cgroup(format!(
                    "write \"{p}\" to {}: {e}",
                    period_file.display()
                )))
            }
        }
    }
    if let Some(r) = runtime {
        write(&dir.join("cpu.rt_runtime_us"), &r.to_string())?;
    }
    if let Some(p) = retry_period {
        write(&period_file, &p.to_string())?;
    }
    Ok(())
}

/// memory.limit_in_bytes and memory.memsw.limit_in_bytes. The kernel wants
/// limit <= memsw at every step: when the new limit is above the current memsw
/// limit (an update raising both), memsw is written first.
fn memory_limits(dir: &Path, m: &LinuxMemory) -> Result<()> {
    let memsw = dir.join("memory.memsw.limit_in_bytes");
    let has_memsw = memsw.exists();
    let limit = given(m.limit());
    let swap = match given(m.swap()) {
        Some(s) if !has_memsw && s != -1 && Some(s) != limit => {
            return Err(Error::Cgroup(
                "swap limit requested but the kernel has no swap accounting".into(),
            ))
        }
        Some(s) if has_memsw => Some(s),
        _ => None,
    };
    let unlimited = |v: i64| if v < 0 { i64::MAX } else { v };
    let swap_first = match (limit, swap) {
        (Some(l), Some(_)) => {
            let cur = std::fs::read_to_string(&memsw)
                .ok()
                .and_then(|c| c.trim().parse::<i64>().ok())
                .unwrap_or(i64::MAX);
            unlimited(l) > cur
        }
        _ => false,
    };
    if let (true, Some(s)) = (swap_first, swap) {
        write(&memsw, &s.to_string())?;
    }
    if let Some(l) = limit {
        write(&dir.join("memory.limit_in_bytes"), &l.to_string())?;
    }
    if let (false, Some(s)) = (swap_first, swap) {
        write(&memsw, &s.to_string())?;
    }
    Ok(())
}

pub fn freeze(paths: &BTreeMap<String, PathBuf>, frozen: bool) -> Result<()> {
    let dir = paths
        .get("freezer")
        .ok_or_else(|| Error::Cgroup("no freezer hierarchy".into()))?;
    let want = if frozen { "FROZEN" } else { "THAWED" };
    write(&dir.join("freezer.state"), want)?;
    for _ in 0..1000 {
        let s = std::fs::read_to_string(dir.join("freezer.state")).unwrap_or_default();
        if s.trim() == want {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        write(&dir.join("freezer.state"), want)?;
    }
    Err(Error::Cgroup(format!("freezer did not reach {want}")))
}

pub fn is_frozen(paths: &BTreeMap<String, PathBuf>) -> bool {
    paths
        .get("freezer")
        .and_then(|d| std::fs::read_to_string(d.join("freezer.state")).ok())
        .is_some_and(|s| s.trim() == "FROZEN" || s.trim() == "FREEZING")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: &str = "30 25 0:26 / /sys/fs/cgroup/cpu rw,relatime shared:5 - cgroup cgroup rw,cpu
31 25 0:27 / /sys/fs/cgroup/memory rw,relatime shared:6 - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
33 25 0:29 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";

    #[test]
    fn hybrid_mountinfo_ignores_cgroup2() {
        let h = parse_mountinfo(MI);
        assert_eq!(h.len(), 3);
        assert_eq!(h[1].controllers, vec!["memory".to_string()]);
        assert_eq!(h[2].controllers, vec!["name=systemd".to_string()]);
    }

    #[test]
    fn realtime_writes_period_then_runtime() {
        let dir = tempfile::tempdir().unwrap();
        realtime(dir.path(), Some(1_000_000), Some(95_000)).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(read("cpu.rt_period_us"), "1000000");
        assert_eq!(read("cpu.rt_runtime_us"), "95000");
        realtime(dir.path(), None, None).unwrap();
        assert_eq!(read("cpu.rt_runtime_us"), "95000");
    }

    #[test]
    fn self_path_matches_controllers() {
        let pc = "9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/";
        assert_eq!(self_path(pc, &["memory".to_string()]), "/process_api/abc");
        assert_eq!(self_path(pc, &["name=systemd".to_string()]), "/");
    }
}

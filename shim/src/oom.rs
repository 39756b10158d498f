//! Was the container OOM-killed? The container's memory cgroup is found from
//! `/proc/<init pid>/cgroup` while the init lives (after its death the entry is gone);
//! its OOM-kill counter is read then and again when the init is reaped (the runtime
//! removes the cgroup only at `delete`, which comes later).
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counter {
    /// cgroup v2 `memory.events` / v1 `memory.oom_control`: the `oom_kill N` line.
    OomKill,
    /// v1 on kernels without `oom_kill` in `memory.oom_control`: `memory.failcnt`, the
    /// number of times the limit was hit (an OOM only if the init also died of SIGKILL).
    Failcnt,
}

#[derive(Debug)]
pub struct OomWatch {
    file: PathBuf,
    counter: Counter,
    start: u64,
}

impl OomWatch {
    /// The watch for the memory cgroup `pid` is in; None when there is none to read.
    pub fn for_pid(pid: i32) -> Option<OomWatch> {
        let root = Path::new(CGROUP_ROOT);
        let table = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let candidates = candidates(root, &table, is_cgroup2(root));
        candidates.into_iter().find_map(|(file, counter)| {
            let start = read_counter(&file, counter)?;
            Some(OomWatch {
                file,
                counter,
                start,
            })
        })
    }

    /// Whether the OOM killer struck since the watch began; `status` is the init's exit
    /// status (128+n for signal n).
    pub fn killed(&self, status: i32) -> bool {
        let Some(now) = read_counter(&self.file, self.counter) else {
            return false;
        };
        match self.counter {
            Counter::OomKill => now > self.start,
            Counter::Failcnt => now > self.start && status == 128 + libc::SIGKILL,
        }
    }
}

/// Is `root` itself a cgroup2 mount (the unified hierarchy only)?
fn is_cgroup2(root: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(root.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs with a valid C string and a zeroed out-struct.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type == libc::CGROUP2_SUPER_MAGIC
    }
}

/// The counter files to try, best first, from the text of `/proc/<pid>/cgroup`.
fn candidates(root: &Path, table: &str, v2: bool) -> Vec<(PathBuf, Counter)> {
    let mut out = Vec::new();
    for line in table.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        if v2 && ctrls.is_empty() {
            out.push((root.join(rel).join("memory.events"), Counter::OomKill));
        } else if !v2 && ctrls.split(',').any(|c| c == "memory") {
            let dir = root.join("memory").join(rel);
            out.push((dir.join("memory.oom_control"), Counter::OomKill));
            out.push((dir.join("memory.failcnt"), Counter::Failcnt));
        }
    }
    out
}

fn read_counter(file: &Path, counter: Counter) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    parse_counter(&text, counter)
}

fn parse_counter(text: &str, counter: Counter) -> Option<u64> {
    match counter {
        Counter::Failcnt => text.trim().parse().ok(),
        Counter::OomKill => text.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            if k == "oom_kill" {
                v.trim().parse().ok()
            } else {
                None
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_candidates() {
        let table = "9:name=systemd:/\n4:memory:/a/b\n3:cpu,cpuacct:/a/b\n0::/\n";
        let c = candidates(Path::new("/cg"), table, false);
        assert_eq!(
            c,
            vec![
                (
                    PathBuf::from("/cg/memory/a/b/memory.oom_control"),
                    Counter::OomKill
                ),
                (
                    PathBuf::from("/cg/memory/a/b/memory.failcnt"),
                    Counter::Failcnt
                ),
            ]
        );
    }

    #[test]
    fn v2_candidates() {
        let c = candidates(Path::new("/cg"), "0::/system.slice/x\n", true);
        assert_eq!(
            c,
            vec![(
                PathBuf::from("/cg/system.slice/x/memory.events"),
                Counter::OomKill
            )]
        );
        // The hybrid layout's v2 line is not the memory controller.
        assert!(candidates(Path::new("/cg"), "0::/x\n", false).is_empty());
    }

    #[test]
    fn counters() {
        let ctl = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(parse_counter(ctl, Counter::OomKill), Some(2));
        let ev = "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(parse_counter(ev, Counter::OomKill), Some(1));
        assert_eq!(
            parse_counter("oom_kill_disable 0\n", Counter::OomKill),
            None
        );
        assert_eq!(parse_counter("7\n", Counter::Failcnt), Some(7));
    }
}

//! What berthd keeps resident once it is up. Start-up runs much code that requests never
//! run again (opening the stores and netd, restoring sandboxes, parsing flags and
//! daemon.json); the kernel keeps those pages of the executable mapped, counted in berthd's
//! RSS, for as long as nothing else needs the memory. Once initialization is done they are
//! handed back with `madvise(MADV_PAGEOUT)` on the executable's read-only mappings: they are
//! clean copies of the file, so nothing changes but residency, and what requests run comes
//! back on first use. A kernel older than 5.4 refuses the call; then nothing changes at all.
use std::path::Path;

/// Hands back the pages of berthd's own executable that are resident now.
pub fn release_executable_pages() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    let mut released = 0usize;
    for (start, end) in executable_ranges(&maps, &exe) {
        let len = end - start;
        // SAFETY: the range is one of this process's own read-only, file-backed mappings
        // of its executable; MADV_PAGEOUT only drops pages that are re-read from the file
        // when next touched, so no memory the program uses changes or goes away.
        let rc = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_PAGEOUT) };
        if rc == 0 {
            released += len;
        }
    }
    tracing::debug!("start-up code handed back ({} KiB mapped)", released / 1024);
}

/// The `start..end` of every read-only mapping of `exe` in `/proc/self/maps` text.
fn executable_ranges(maps: &str, exe: &Path) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let path = fields.nth(3)?;
            if perms.contains('w') || Path::new(path) != exe {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            let start = usize::from_str_radix(a, 16).ok()?;
            let end = usize::from_str_radix(b, 16).ok()?;
            (end > start).then_some((start, end))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_mappings_of_the_executable() {
        let maps = "\
5600-5700 r--p 00000000 fd:01 10 /usr/bin/berthd
5700-5900 r-xp 00100000 fd:01 10 /usr/bin/berthd
5900-5a00 rw-p 00300000 fd:01 10 /usr/bin/berthd
7f00-7f10 r-xp 00000000 fd:01 11 /usr/lib/libc.so.6
7f20-7f30 rw-p 00000000 00:00 0
";
        assert_eq!(
            executable_ranges(maps, Path::new("/usr/bin/berthd")),
            vec![(0x5600, 0x5700), (0x5700, 0x5900)]
        );
    }

    #[test]
    fn handing_back_is_harmless() {
        release_executable_pages();
        // Code still runs: the pages come back from the file.
        assert_eq!(executable_ranges("", Path::new("/x")), Vec::new());
    }
}

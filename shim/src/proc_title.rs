//! The command line a forked shim shows (`ps`, `/proc/PID/cmdline`): a shim forked by
//! the launch server inherits the server's (`berth-shim launch-server …`), so it writes
//! its own — `berth-shim start --id ID …`, the command an exec'd shim shows, so that it
//! names its state folder as one does — as setproctitle(3) does: over the block of the
//! process's argument and environment strings, where the kernel reads a command line
//! from, as one string (words separated by spaces: once the title runs past the
//! arguments' end the kernel shows the block's first string only). The environment is
//! copied out first. (`prctl(PR_SET_MM_ARG_START)`, which could point elsewhere, needs
//! CAP_SYS_RESOURCE.)

/// Copies the environment out of the strings block, then writes `title`'s words,
/// space-separated and NUL-ended (cut to the block), over it. Call only while the
/// process is single-threaded.
pub fn set(title: &[&str]) {
    let Some((start, end)) = strings_block() else {
        return;
    };
    // The environment's strings live in the block: copied to the heap (setenv copies),
    // getenv and spawned commands keep seeing them once it is overwritten.
    let vars: Vec<(std::ffi::OsString, std::ffi::OsString)> = std::env::vars_os().collect();
    // SAFETY: single-threaded (the caller's contract): nothing reads the environment
    // while it is rebuilt.
    unsafe {
        if libc::clearenv() != 0 {
            return;
        }
        for (k, v) in &vars {
            std::env::set_var(k, v);
        }
    }
    let text = fitted(title, end - start);
    // SAFETY: [start, end) is this process's argument and environment strings (from
    // /proc/self/stat), mapped writable at the top of its stack; nothing points into it
    // any more (the environment was copied out above, std keeps its own copy of the
    // arguments).
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), start as *mut u8, text.len());
    }
}

/// `title`'s words joined by spaces, cut to `len - 1` bytes, then NULs up to `len`.
fn fitted(title: &[&str], len: usize) -> Vec<u8> {
    let mut text = title.join(" ").into_bytes();
    text.truncate(len.saturating_sub(1));
    text.resize(len, 0);
    text
}

/// `arg_start` and `env_end` of /proc/self/stat (fields 48 and 51): the strings block.
fn strings_block() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces;
    // they start at field 3.
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<usize>().ok();
    let (arg_start, env_end) = (field(48)?, field(51)?);
    (arg_start > 0 && env_end > arg_start + 1).then_some((arg_start, env_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strings_block_holds_the_arguments() {
        let (start, end) = strings_block().expect("block");
        let cmdline = std::fs::read("/proc/self/cmdline").expect("cmdline");
        assert!(end - start >= cmdline.len(), "{start:#x}..{end:#x}");
    }

    #[test]
    fn one_string_cut_to_the_block() {
        assert_eq!(fitted(&["ab", "cd"], 8), b"ab cd\0\0\0");
        assert_eq!(fitted(&["ab", "cdef"], 6), b"ab cd\0");
        assert_eq!(fitted(&["abc"], 1), b"\0");
    }
}

//! The command line a forked shim shows (`ps`, `/proc/PID/cmdline`): a shim forked by
//! the launch server inherits the server's (`berth-shim launch-server …`), so it writes
//! its own over the server's argument strings, which is where the kernel reads a command
//! line from: `berth-shim start --id ID …`, as an exec'd shim shows, in as many whole
//! words as fit. (`prctl(PR_SET_MM_ARG_START)`, which could point elsewhere, needs
//! CAP_SYS_RESOURCE; writing on into the environment's strings makes the kernel show the
//! first string only.)

/// Writes `title` (its words NUL-separated, as many whole words as fit, the rest of the
/// area NUL) over the process's argument strings.
pub fn set(title: &[&str]) {
    let Some((start, end)) = arguments_area() else {
        return;
    };
    let text = fitted(title, end - start);
    // SAFETY: [start, end) is this process's argument strings area (from /proc/self/stat),
    // mapped writable at the top of its stack; std keeps its own copy of the arguments.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), start as *mut u8, text.len());
    }
}

/// `title`'s words, each NUL-ended, while they fit in `len` bytes; NULs up to `len`.
fn fitted(title: &[&str], len: usize) -> Vec<u8> {
    let mut text = Vec::with_capacity(len);
    for word in title {
        if text.len() + word.len() + 1 > len {
            break;
        }
        text.extend_from_slice(word.as_bytes());
        text.push(0);
    }
    text.resize(len, 0);
    text
}

/// `arg_start` and `arg_end` of /proc/self/stat (fields 48 and 49).
fn arguments_area() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces;
    // they start at field 3.
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<usize>().ok();
    let (arg_start, arg_end) = (field(48)?, field(49)?);
    (arg_start > 0 && arg_end > arg_start).then_some((arg_start, arg_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arguments_area_is_found() {
        let (start, end) = arguments_area().expect("area");
        let cmdline = std::fs::read("/proc/self/cmdline").expect("cmdline");
        assert_eq!(end - start, cmdline.len());
    }

    #[test]
    fn whole_words_that_fit() {
        assert_eq!(fitted(&["ab", "cd"], 8), b"ab\0cd\0\0\0");
        assert_eq!(fitted(&["ab", "cdef"], 6), b"ab\0\0\0\0");
        assert_eq!(fitted(&["abc"], 3), b"\0\0\0");
    }
}

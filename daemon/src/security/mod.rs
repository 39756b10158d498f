//! A container's security settings as Docker computes them: capabilities,
//! `--security-opt`, the default seccomp profile, masked and read-only paths,
//! devices, and the user and groups a process runs as (from the image's
//! /etc/passwd and /etc/group).
//!
//! Everything here is pure or reads only the host's /proc, /sys and /dev (or
//! the image's root); nothing changes the system.
//!
//! How the container core uses it:
//! - at create: [`container::validate_at_create`] (CapAdd/CapDrop names and
//!   SecurityOpt, with dockerd's errors), then store
//!   [`opts::adapt_security_opt`] as HostConfig.SecurityOpt ("label=disable"
//!   for privileged / host IPC / host PID) and
//!   [`paths::host_config_defaults`] as HostConfig.MaskedPaths/ReadonlyPaths;
//! - at start: [`container::for_container`] then
//!   [`container::ContainerSecurity::apply_to_spec`], and
//!   [`users::resolve`] on the mounted root then
//!   [`container::apply_user_to_spec`];
//! - for exec: [`container::exec_capabilities`] and [`users::resolve`].
//!
//! Errors carry the HTTP status dockerd gives them
//! ([`SecurityError::http_status`]).
pub mod capabilities;
pub mod container;
pub mod device_rules;
pub mod devices;
pub mod opts;
pub mod paths;
pub mod seccomp;
pub mod users;

/// Errors of this module; the daemon maps them to API errors once, with
/// [`SecurityError::http_status`].
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// Input the user gave is not valid (a 400 for the API).
    #[error("{0}")]
    Invalid(String),
    /// A user or group named in the config does not exist in the image.
    #[error("{0}")]
    UnknownUser(String),
    /// Reading the image's files failed.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// An error dockerd returns without a class, so its API answers 500:
    /// an invalid `--security-opt`, a seccomp profile that does not decode, a
    /// device that cannot be added, a malformed device cgroup rule.
    #[error("{0}")]
    Failed(String),
}

impl SecurityError {
    /// The HTTP status dockerd answers with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            SecurityError::Invalid(_) => 400,
            // dockerd reports these as plain errors (no errdefs class).
            SecurityError::UnknownUser(_) | SecurityError::Io(..) | SecurityError::Failed(_) => 500,
        }
    }
}

/// Quotes `s` as Go's `%q` does (strconv.Quote), for error messages that
/// must read exactly like dockerd's.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An OS error's text as Go prints a `syscall.Errno` ("no such file or
/// directory"), which is how dockerd's messages spell them.
pub(crate) fn go_errno_text(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            let text = nix::errno::Errno::from_raw(code).desc();
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text.to_string(),
            }
        }
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("foo"), "\"foo\"");
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote("\x01"), "\"\\x01\"");
        assert_eq!(go_quote("été"), "\"été\"");
    }

    #[test]
    fn errno_text_is_lowercase_like_go() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(go_errno_text(&e), "no such file or directory");
    }

    #[test]
    fn statuses() {
        assert_eq!(SecurityError::Invalid("x".into()).http_status(), 400);
        assert_eq!(SecurityError::Failed("x".into()).http_status(), 500);
    }
}

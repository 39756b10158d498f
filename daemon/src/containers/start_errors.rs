//! How dockerd reads a runtime's failure to start a container's or an exec's process
//! (`setExitCodeFromError`): the exit code it records (126 cannot be run, 127 not
//! found, 128 anything else), the message it returns, and whether the request was bad
//! (400) or the failure the daemon's (500).

/// A start failure as dockerd reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartFailure {
    pub exit_code: i64,
    pub message: String,
    /// The command or its configuration is at fault (dockerd's 400), not the daemon.
    pub invalid_config: bool,
}

pub fn classify(message: &str) -> StartFailure {
    let lower = message.to_ascii_lowercase();
    let (exit_code, message) = if lower.contains("permission denied") {
        (126, message.to_string())
    } else if lower.contains("is a directory") {
        // docker/cli reads "permission denied" to exit 126 (Go 1.20 made it EISDIR).
        (126, format!("{message}: permission denied"))
    } else if lower.contains("not a directory") {
        (
            127,
            format!("{message}: Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type"),
        )
    } else if [
        "executable file not found",
        "no such file or directory",
        "system cannot find the file specified",
    ]
    .iter()
    .any(|m| lower.contains(m))
    {
        (127, message.to_string())
    } else {
        return StartFailure {
            exit_code: 128,
            message: message.to_string(),
            invalid_config: false,
        };
    };
    StartFailure {
        exit_code,
        message,
        invalid_config: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_and_messages_read_as_dockerds() {
        let not_found = classify("exec: \"nope\": executable file not found in $PATH");
        assert_eq!((not_found.exit_code, not_found.invalid_config), (127, true));
        assert_eq!(
            classify("stat /x: no such file or directory").exit_code,
            127
        );
        let denied = classify("exec: \"/etc\": permission denied");
        assert_eq!((denied.exit_code, denied.invalid_config), (126, true));
        let dir = classify("exec: \"/etc\": is a directory");
        assert_eq!(dir.exit_code, 126);
        assert!(dir.message.ends_with(": is a directory: permission denied"));
        let mount = classify("mount /a on /b: not a directory");
        assert_eq!(mount.exit_code, 127);
        assert!(mount
            .message
            .contains("Are you trying to mount a directory onto a file"));
        let other = classify("cgroup: something broke");
        assert_eq!((other.exit_code, other.invalid_config), (128, false));
        assert_eq!(other.message, "cgroup: something broke");
    }
}

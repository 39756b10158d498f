//! Signal names and numbers as `docker kill --signal` and StopSignal give them.
use super::ContainerError;

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// Parses "KILL", "SIGKILL", "sigkill", "9", "SIGRTMIN+3" into a signal number.
pub fn parse(text: &str) -> Result<i32, ContainerError> {
    let invalid = || ContainerError::Invalid(format!("Invalid signal: {text}"));
    if let Ok(n) = text.parse::<i32>() {
        return match n {
            0 => Err(invalid()),
            1..=64 => Ok(n),
            // moby's ParseSignal takes any number; ValidSignalForPlatform then refuses it.
            _ => Err(ContainerError::Invalid(format!(
                "the linux daemon does not support signal {n}"
            ))),
        };
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Ok(*n);
    }
    if let Some(rest) = name.strip_prefix("RTMIN") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.trim_start_matches('+')
                .parse()
                .map_err(|_| invalid())?
        };
        let n = 34 + off;
        return if (34..=64).contains(&n) {
            Ok(n)
        } else {
            Err(invalid())
        };
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.trim_start_matches('-')
                .parse()
                .map_err(|_| invalid())?
        };
        let n = 64 - off;
        return if (34..=64).contains(&n) {
            Ok(n)
        } else {
            Err(invalid())
        };
    }
    Err(invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("SIGTERM").unwrap(), 15);
        assert_eq!(parse("sighup").unwrap(), 1);
        assert_eq!(parse("10").unwrap(), 10);
        assert_eq!(parse("SIGRTMIN+1").unwrap(), 35);
        assert!(parse("NOPE").is_err());
        assert_eq!(parse("0").unwrap_err().to_string(), "Invalid signal: 0");
        assert_eq!(
            parse("99").unwrap_err().to_string(),
            "the linux daemon does not support signal 99"
        );
    }
}

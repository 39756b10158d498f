//! The API server's settings: which web pages may use it (`--api-cors-header`, dockerd's flag
//! and daemon.json key) and the bounds on its connections (Berth's own flags: dockerd has
//! none of them).
use std::time::Duration;

use super::{ConfigError, Flags};

/// Default of `--api-header-timeout` (hyper's default; dockerd waits 5 minutes for a head
/// and keeps idle connections for ever).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of `--api-body-timeout`.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// The connections of all listeners together may hold at most this share of the file
/// descriptors berthd may open; the rest stays for containers (logs, attach sockets, DNS),
/// the stores and the networks.
const CONNECTIONS_SHARE_OF_FDS: u64 = 2;
/// And no listener more than this many by default.
const MAX_CONNECTIONS_CEILING: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiServerConfig {
    /// `--api-cors-header`: `*` or the origins of web pages allowed to use the API.
    pub cors_header: Option<String>,
    /// `--api-header-timeout`: a request head must arrive within this of the connection
    /// opening or going idle (so it is the keep-alive idle timeout too).
    pub header_timeout: Duration,
    /// `--api-body-timeout`: the longest a request body may keep its reader waiting.
    pub body_timeout: Duration,
    /// `--api-max-connections`: per listener; `None` means from RLIMIT_NOFILE.
    pub max_connections: Option<usize>,
}

impl Default for ApiServerConfig {
    fn default() -> Self {
        ApiServerConfig {
            cors_header: None,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: None,
        }
    }
}

impl ApiServerConfig {
    pub fn resolve(flags: &Flags, file_cors: Option<String>) -> Result<Self, ConfigError> {
        let duration = |flag: &str, v: &Option<String>, default: Duration| match v {
            None => Ok(default),
            Some(text) => parse_positive_duration(text)
                .map_err(|why| ConfigError::Invalid(format!("invalid --{flag} {text:?}: {why}"))),
        };
        if flags.api_max_connections == Some(0) {
            return Err(ConfigError::Invalid(
                "invalid --api-max-connections 0: must be at least 1".into(),
            ));
        }
        Ok(ApiServerConfig {
            cors_header: flags.api_cors_header.clone().or(file_cors),
            header_timeout: duration(
                "api-header-timeout",
                &flags.api_header_timeout,
                DEFAULT_HEADER_TIMEOUT,
            )?,
            body_timeout: duration(
                "api-body-timeout",
                &flags.api_body_timeout,
                DEFAULT_BODY_TIMEOUT,
            )?,
            max_connections: flags.api_max_connections,
        })
    }

    /// The cap of each of `listeners` listeners: `--api-max-connections`, else an even share
    /// of half the file descriptors berthd may open, at most 4096.
    pub fn max_connections_per_listener(&self, listeners: usize) -> usize {
        if let Some(n) = self.max_connections {
            return n;
        }
        let fds = open_files_limit().unwrap_or(1024);
        let share = fds / CONNECTIONS_SHARE_OF_FDS / listeners.max(1) as u64;
        (share as usize).clamp(16, MAX_CONNECTIONS_CEILING)
    }
}

/// A Go duration (`30s`, `1m30s`, `500ms`) above zero.
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let nanos = crate::build::dockerfile::duration::parse_duration(text)?;
    if nanos <= 0 {
        return Err("must be above zero".into());
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// The soft RLIMIT_NOFILE.
fn open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit we own and reads nothing else.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::flags::parse_for_test as flags;

    #[test]
    fn defaults_and_flags() {
        let c = ApiServerConfig::resolve(&flags(&[]), None).expect("defaults");
        assert_eq!(c, ApiServerConfig::default());
        let c = ApiServerConfig::resolve(
            &flags(&[
                "--api-header-timeout",
                "1500ms",
                "--api-body-timeout=2s",
                "--api-max-connections",
                "8",
                "--api-cors-header",
                "http://ui.example",
            ]),
            Some("*".into()),
        )
        .expect("flags");
        assert_eq!(c.header_timeout, Duration::from_millis(1500));
        assert_eq!(c.body_timeout, Duration::from_secs(2));
        assert_eq!(c.max_connections_per_listener(3), 8);
        assert_eq!(c.cors_header.as_deref(), Some("http://ui.example"));
        let file = ApiServerConfig::resolve(&flags(&[]), Some("*".into())).expect("file");
        assert_eq!(file.cors_header.as_deref(), Some("*"));
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            &["--api-header-timeout", "0s"][..],
            &["--api-body-timeout", "soon"][..],
            &["--api-max-connections", "0"][..],
        ] {
            assert!(
                ApiServerConfig::resolve(&flags(args), None).is_err(),
                "{args:?}"
            );
        }
    }

    #[test]
    fn the_default_cap_shares_half_the_descriptors() {
        let c = ApiServerConfig::default();
        let one = c.max_connections_per_listener(1);
        assert!((16..=MAX_CONNECTIONS_CEILING).contains(&one), "{one}");
        assert!(c.max_connections_per_listener(4) <= one);
    }
}

//! `since` and `until` of `GET /events`. The docker CLI turns `--since 10m` or an RFC
//! 3339 time into unix seconds with nanoseconds ("1795844491.000000000") before sending
//! it; dockerd only reads that form. Berth also takes the CLI's other forms (a Go
//! duration before now, RFC 3339 times and dates) from other clients.
use chrono::{DateTime, Utc};

use super::EventsError;
use crate::images::filters::parse_timestamp;

/// The window of past and future events a request asks for, in nanoseconds since the
/// epoch; `None` where not given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl Window {
    /// Parses both values (empty means not given) and refuses `until` before `since`.
    pub fn parse(since: &str, until: &str, now: DateTime<Utc>) -> Result<Window, EventsError> {
        let window = Window {
            since: parse_time(since, now)?,
            until: parse_time(until, now)?,
        };
        if let (Some(s), Some(u)) = (window.since, window.until) {
            if u < s {
                return Err(EventsError::SinceAfterUntil {
                    since: since.to_string(),
                    until: until.to_string(),
                });
            }
        }
        Ok(window)
    }

    /// Whether past events are sent at all (dockerd: only when `since` or `until` is given).
    pub fn wants_history(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    /// Whether a past event at `time_nano` is within the window.
    pub fn contains(&self, time_nano: i64) -> bool {
        self.since.is_none_or(|s| time_nano >= s) && self.until.is_none_or(|u| time_nano <= u)
    }

    /// Whether the window is over at `now` (only past events are wanted).
    pub fn ended_at(&self, now: DateTime<Utc>) -> bool {
        let now = now.timestamp_nanos_opt().unwrap_or(i64::MAX);
        self.until.is_some_and(|u| u < now)
    }
}

/// One `since` / `until` value in nanoseconds since the epoch; `None` when empty.
pub fn parse_time(value: &str, now: DateTime<Utc>) -> Result<Option<i64>, EventsError> {
    if value.is_empty() {
        return Ok(None);
    }
    let t = parse_timestamp(value, now).map_err(|_| EventsError::InvalidTime(value.to_string()))?;
    t.timestamp_nanos_opt()
        .map(Some)
        .ok_or_else(|| EventsError::InvalidTime(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 500).expect("time")
    }

    #[test]
    fn unix_seconds_with_fraction_as_the_cli_sends() {
        let n = now();
        assert_eq!(
            parse_time("1795844491.000000000", n),
            Ok(Some(1_795_844_491_000_000_000))
        );
        assert_eq!(
            parse_time("1795844491.5", n),
            Ok(Some(1_795_844_491_500_000_000))
        );
        assert_eq!(
            parse_time("1795844491", n),
            Ok(Some(1_795_844_491_000_000_000))
        );
        assert_eq!(parse_time("", n), Ok(None));
    }

    #[test]
    fn durations_and_rfc3339() {
        let n = now();
        assert_eq!(
            parse_time("10m", n),
            Ok(Some(1_800_000_000_000_000_500 - 600_000_000_000))
        );
        assert_eq!(
            parse_time("2027-01-15T08:00:00Z", n),
            Ok(Some(1_800_000_000_000_000_000))
        );
        assert_eq!(
            parse_time("2027-01-15T09:00:00+01:00", n),
            Ok(Some(1_800_000_000_000_000_000))
        );
        assert_eq!(
            parse_time("abc", n),
            Err(EventsError::InvalidTime("abc".into()))
        );
        assert_eq!(
            EventsError::InvalidTime("abc".into()).to_string(),
            "failed to parse value as time or duration: \"abc\""
        );
    }

    #[test]
    fn until_before_since_is_refused() {
        let e = Window::parse("10", "5", now()).expect_err("refused");
        assert_eq!(
            e.to_string(),
            "`since` time (10) cannot be after `until` time (5)"
        );
        let w = Window::parse("5", "10", now()).expect("window");
        assert!(w.contains(7_000_000_000) && !w.contains(11_000_000_000));
        assert!(w.wants_history() && w.ended_at(now()));
        let w = Window::parse("", "", now()).expect("window");
        assert!(!w.wants_history() && !w.ended_at(now()) && w.contains(0));
    }
}

//! What `GET /containers/{id}/logs` asks for, parsed from its query as dockerd does.
use chrono::{DateTime, TimeZone, Utc};

use crate::streams::error::StreamError;
use crate::streams::query::Form;

/// The options of a logs request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsOptions {
    pub stdout: bool,
    pub stderr: bool,
    /// Keep reading as the log grows, until the container stops.
    pub follow: bool,
    /// Only entries at or after this time (dockerd stops checking after the first match).
    pub since: Option<DateTime<Utc>>,
    /// Stop at the first entry after this time.
    pub until: Option<DateTime<Utc>>,
    /// Prefix each entry with its time (RFC 3339, nine fraction digits) and a space.
    pub timestamps: bool,
    /// Only the last N lines, counted across rotated files over both streams; `None` = all.
    pub tail: Option<usize>,
    /// Prefix each entry with its attributes (`k=v,k2=v2`) and a space.
    pub details: bool,
}

impl Default for LogsOptions {
    /// Both streams, everything, no follow.
    fn default() -> Self {
        LogsOptions {
            stdout: true,
            stderr: true,
            follow: false,
            since: None,
            until: None,
            timestamps: false,
            tail: None,
            details: false,
        }
    }
}

impl LogsOptions {
    /// Parses the API's query string (`stdout`, `stderr`, `follow`, `since`, `until`,
    /// `timestamps`, `tail`, `details`). Errors are 400s with dockerd's messages.
    pub fn from_query(query: Option<&str>) -> Result<LogsOptions, StreamError> {
        Self::from_form(&Form::parse(query))
    }

    /// The same from an already decoded form.
    pub fn from_form(form: &Form) -> Result<LogsOptions, StreamError> {
        let stdout = form.bool("stdout");
        let stderr = form.bool("stderr");
        if !stdout && !stderr {
            return Err(StreamError::BadParameter(
                "Bad parameters: you must choose at least one stream".into(),
            ));
        }
        let since = match form.get("since") {
            "" => None,
            v => Some(parse_unix_timestamp(v)?),
        };
        let until = match form.get("until") {
            "" | "0" => None,
            v => Some(parse_unix_timestamp(v)?),
        };
        Ok(LogsOptions {
            stdout,
            stderr,
            follow: form.bool("follow"),
            since,
            until,
            timestamps: form.bool("timestamps"),
            tail: parse_tail(form.get("tail")),
            details: form.bool("details"),
        })
    }
}

/// dockerd: `strconv.Atoi(tail)`; anything that is not a number, or a negative
/// one, means all lines.
pub fn parse_tail(v: &str) -> Option<usize> {
    match v.parse::<i64>() {
        Ok(n) if n >= 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => None,
    }
}

/// `SECONDS[.FRACTION]` as the CLI sends `since`/`until` (dockerd's
/// `timetypes.ParseTimestamps`), with its error text.
pub fn parse_unix_timestamp(v: &str) -> Result<DateTime<Utc>, StreamError> {
    let (secs, frac) = match v.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (v, None),
    };
    let secs: i64 = secs.parse().map_err(|e| parse_int_error(secs, &e))?;
    let nanos: i64 = match frac {
        None => 0,
        Some(f) => {
            let n: i64 = f.parse().map_err(|e| parse_int_error(f, &e))?;
            // dockerd scales by 10^(9 - digits): "5" is half a second, extra digits truncate.
            let digits = f.trim_start_matches(['+', '-']).len() as i32;
            (n as f64 * 10f64.powi(9 - digits)) as i64
        }
    };
    Utc.timestamp_opt(secs, 0)
        .single()
        .and_then(|t| t.checked_add_signed(chrono::Duration::nanoseconds(nanos)))
        .ok_or_else(|| StreamError::BadParameter(format!("timestamp out of range: {v:?}")))
}

fn parse_int_error(v: &str, e: &std::num::ParseIntError) -> StreamError {
    use std::num::IntErrorKind;
    let why = match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
        _ => "invalid syntax",
    };
    StreamError::BadParameter(format!("strconv.ParseInt: parsing {v:?}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_flags() {
        let o = LogsOptions::from_query(Some("stdout=1&follow=true&timestamps=1&details=0"))
            .expect("valid");
        assert!(o.stdout && !o.stderr && o.follow && o.timestamps && !o.details);
        assert_eq!(o.tail, None);
        assert_eq!(o.since, None);
    }

    #[test]
    fn at_least_one_stream() {
        let e = LogsOptions::from_query(Some("follow=1")).expect_err("no stream");
        assert_eq!(
            e.to_string(),
            "Bad parameters: you must choose at least one stream"
        );
        assert!(LogsOptions::from_query(Some("stdout=0&stderr=no")).is_err());
    }

    #[test]
    fn tail_values() {
        assert_eq!(parse_tail("all"), None);
        assert_eq!(parse_tail(""), None);
        assert_eq!(parse_tail("-1"), None);
        assert_eq!(parse_tail("x"), None);
        assert_eq!(parse_tail("0"), Some(0));
        assert_eq!(parse_tail("+3"), Some(3));
        assert_eq!(parse_tail("10"), Some(10));
    }

    #[test]
    fn since_and_until() {
        let o = LogsOptions::from_query(Some("stderr=1&since=1700000000.5&until=1700000001"))
            .expect("valid");
        let since = o.since.expect("since");
        assert_eq!(since.timestamp(), 1_700_000_000);
        assert_eq!(since.timestamp_subsec_nanos(), 500_000_000);
        assert_eq!(o.until.expect("until").timestamp(), 1_700_000_001);
        let o = LogsOptions::from_query(Some("stderr=1&until=0&since=0")).expect("valid");
        assert_eq!(o.until, None);
        assert_eq!(o.since.map(|t| t.timestamp()), Some(0));
        let t = parse_unix_timestamp("1.000000001999").expect("valid");
        assert_eq!(t.timestamp_subsec_nanos(), 1);
    }

    #[test]
    fn bad_timestamps_use_dockerd_wording() {
        let e = LogsOptions::from_query(Some("stdout=1&since=abc")).expect_err("bad");
        assert!(matches!(e, StreamError::BadParameter(_)));
        assert_eq!(
            e.to_string(),
            "strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        let e = LogsOptions::from_query(Some("stdout=1&until=12.x")).expect_err("bad");
        assert_eq!(
            e.to_string(),
            "strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        let e = LogsOptions::from_query(Some("stdout=1&since=2024-01-01T00:00:00Z"))
            .expect_err("RFC 3339 is the CLI's job");
        assert!(e.to_string().contains("invalid syntax"));
    }
}

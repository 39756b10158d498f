//! The `filters` query parameter as dockerd reads it (moby `api/types/filters`):
//! JSON `{"key":{"value":true}}` or the older `{"key":["value"]}`, validated against
//! the keys an endpoint accepts, with dockerd's error texts ("invalid filter 'x'").
//! Also the matching helpers the image filters need: labels, Go `path.Match` globs,
//! and timestamps for `until`.
use std::collections::{BTreeMap, BTreeSet};

use super::RequestError;

/// Parsed filters: each key with its set of values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    fields: BTreeMap<String, BTreeSet<String>>,
}

impl Filters {
    /// Parses the `filters` parameter; empty means no filter.
    pub fn from_json(text: &str) -> Result<Filters, RequestError> {
        if text.is_empty() {
            return Ok(Filters::default());
        }
        if let Ok(map) = serde_json::from_str::<BTreeMap<String, BTreeMap<String, bool>>>(text) {
            let fields = map
                .into_iter()
                .map(|(k, v)| (k, v.into_keys().collect()))
                .collect();
            return Ok(Filters { fields });
        }
        match serde_json::from_str::<BTreeMap<String, Vec<String>>>(text) {
            Ok(map) => Ok(Filters {
                fields: map
                    .into_iter()
                    .map(|(k, v)| (k, v.into_iter().collect()))
                    .collect(),
            }),
            Err(_) => Err(RequestError::InvalidParameter("invalid filter".into())),
        }
    }

    /// Adds one value (tests and internal callers).
    pub fn add(&mut self, key: &str, value: &str) {
        self.fields
            .entry(key.to_string())
            .or_default()
            .insert(value.to_string());
    }

    /// Refuses keys not in `accepted`: "invalid filter 'x'".
    pub fn validate(&self, accepted: &[&str]) -> Result<(), RequestError> {
        match self.fields.keys().find(|k| !accepted.contains(&k.as_str())) {
            Some(k) => Err(RequestError::InvalidParameter(format!(
                "invalid filter '{k}'"
            ))),
            None => Ok(()),
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    /// The values of `key` (empty when absent).
    pub fn get(&self, key: &str) -> Vec<&str> {
        self.fields
            .get(key)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// dockerd's `GetBoolOrDefault`: "1"/"true" or "0"/"false", exactly one of them.
    pub fn get_bool_or_default(&self, key: &str, default: bool) -> Result<bool, RequestError> {
        let Some(values) = self.fields.get(key) else {
            return Ok(default);
        };
        let is_false = values.contains("0") || values.contains("false");
        let is_true = values.contains("1") || values.contains("true");
        if values.is_empty() {
            return Err(RequestError::InvalidParameter(format!(
                "invalid filter '{key}'"
            )));
        }
        if is_false == is_true {
            let list: Vec<&str> = values.iter().map(String::as_str).collect();
            return Err(RequestError::InvalidParameter(format!(
                "invalid filter '{key}=[{}]'",
                list.join(" ")
            )));
        }
        Ok(is_true)
    }

    /// dockerd's `MatchKVList`: every `k` or `k=v` value of `key` is among `labels`.
    pub fn match_kv_list(&self, key: &str, labels: &BTreeMap<String, String>) -> bool {
        let Some(values) = self.fields.get(key).filter(|v| !v.is_empty()) else {
            return true;
        };
        if labels.is_empty() {
            return false;
        }
        values.iter().all(|value| match value.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
            None => labels.contains_key(value.as_str()),
        })
    }
}

/// Go's `path.Match`: `*` (any run without '/'), `?`, `[...]` classes with ranges and
/// `^` negation, `\` escapes. A malformed pattern is an error ("syntax error in pattern").
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, RequestError> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
        .ok_or_else(|| RequestError::InvalidParameter("syntax error in pattern".into()))
}

fn match_from(p: &[char], n: &[char]) -> Option<bool> {
    if p.is_empty() {
        return Some(n.is_empty());
    }
    match p[0] {
        '*' => {
            // Try every split of a run of non-'/' characters.
            let mut i = 0;
            loop {
                if match_from(&p[1..], &n[i..])? {
                    return Some(true);
                }
                if i >= n.len() || n[i] == '/' {
                    // Still check the rest of the pattern is well formed.
                    return validate_rest(&p[1..]).map(|_| false);
                }
                i += 1;
            }
        }
        '?' => {
            if n.is_empty() || n[0] == '/' {
                return validate_rest(&p[1..]).map(|_| false);
            }
            match_from(&p[1..], &n[1..])
        }
        '[' => {
            let (matched, used) = match_class(&p[1..], n.first().copied())?;
            if n.is_empty() || !matched {
                return validate_rest(&p[1 + used..]).map(|_| false);
            }
            match_from(&p[1 + used..], &n[1..])
        }
        '\\' => {
            let c = *p.get(1)?;
            if n.first() != Some(&c) {
                return validate_rest(&p[2..]).map(|_| false);
            }
            match_from(&p[2..], &n[1..])
        }
        c => {
            if n.first() != Some(&c) {
                return validate_rest(&p[1..]).map(|_| false);
            }
            match_from(&p[1..], &n[1..])
        }
    }
}

/// Checks the syntax of what remains of a pattern (Go reports bad patterns even on a mismatch).
fn validate_rest(p: &[char]) -> Option<()> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '[' => {
                let (_, used) = match_class(&p[i + 1..], None)?;
                i += 1 + used;
            }
            '\\' => {
                p.get(i + 1)?;
                i += 2;
            }
            _ => i += 1,
        }
    }
    Some(())
}

/// Matches a class body (after '['); returns whether `c` matched and how many pattern
/// characters the class used, including the closing ']'. None: malformed.
fn match_class(p: &[char], c: Option<char>) -> Option<(bool, usize)> {
    let mut i = 0;
    let negated = p.first() == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = class_char(p, &mut i)?;
        let hi = if p.get(i) == Some(&'-') {
            i += 1;
            class_char(p, &mut i)?
        } else {
            lo
        };
        if let Some(c) = c {
            if lo <= c && c <= hi {
                matched = true;
            }
        }
    }
    Some((matched != negated, i))
}

fn class_char(p: &[char], i: &mut usize) -> Option<char> {
    let ch = *p.get(*i)?;
    if ch == '-' || ch == ']' {
        return None;
    }
    if ch == '\\' {
        let escaped = *p.get(*i + 1)?;
        *i += 2;
        return Some(escaped);
    }
    *i += 1;
    Some(ch)
}

/// dockerd's `timetypes.GetTimestamp` + `ParseTimestamps` for `until`/`since` values:
/// a Go duration ("10m", "1h30m") before now, an RFC 3339 time or date, or unix
/// seconds with an optional fraction.
pub fn parse_timestamp(
    value: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, RequestError> {
    if let Some(d) = parse_go_duration(value) {
        return Ok(now - d);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(value, fmt) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let secs: i64 = secs.parse().map_err(|_| {
        RequestError::InvalidParameter(format!(
            "failed to parse value as time or duration: \"{value}\""
        ))
    })?;
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        digits.parse().map_err(|_| {
            RequestError::InvalidParameter(format!(
                "failed to parse value as time or duration: \"{value}\""
            ))
        })?
    };
    chrono::DateTime::from_timestamp(secs, nanos).ok_or_else(|| {
        RequestError::InvalidParameter(format!(
            "failed to parse value as time or duration: \"{value}\""
        ))
    })
}

/// A Go duration string: sequence of number+unit (ns, us, µs, ms, s, m, h).
pub(crate) fn parse_go_duration(text: &str) -> Option<chrono::Duration> {
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    let negative = rest.starts_with('-');
    rest = rest.trim_start_matches('-');
    if rest.is_empty() || !rest.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let number: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total_nanos += number * scale;
        rest = &rest[unit_end..];
    }
    let nanos = total_nanos as i64;
    Some(chrono::Duration::nanoseconds(if negative {
        -nanos
    } else {
        nanos
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_json_shapes() {
        let a = Filters::from_json(r#"{"dangling":{"true":true}}"#).unwrap();
        let b = Filters::from_json(r#"{"dangling":["true"]}"#).unwrap();
        assert_eq!(a, b);
        assert!(a.get_bool_or_default("dangling", false).unwrap());
        assert!(Filters::from_json("nope").is_err());
    }

    #[test]
    fn validates_keys_and_bools() {
        let f = Filters::from_json(r#"{"foo":["x"]}"#).unwrap();
        assert_eq!(
            f.validate(&["dangling"]).unwrap_err().to_string(),
            "invalid filter 'foo'"
        );
        let f = Filters::from_json(r#"{"dangling":["maybe"]}"#).unwrap();
        assert_eq!(
            f.get_bool_or_default("dangling", false)
                .unwrap_err()
                .to_string(),
            "invalid filter 'dangling=[maybe]'"
        );
    }

    #[test]
    fn matches_labels() {
        let mut f = Filters::default();
        f.add("label", "a=b");
        f.add("label", "c");
        let mut labels = BTreeMap::new();
        labels.insert("a".to_string(), "b".to_string());
        assert!(!f.match_kv_list("label", &labels));
        labels.insert("c".to_string(), "anything".to_string());
        assert!(f.match_kv_list("label", &labels));
        assert!(Filters::default().match_kv_list("label", &BTreeMap::new()));
    }

    #[test]
    fn globs_like_go_path_match() {
        assert!(glob_match("busy*", "busybox:latest").unwrap());
        assert!(!glob_match("busy*", "127.0.0.1:5000/busybox:latest").unwrap());
        assert!(glob_match("*/berth/*", "127.0.0.1:5000/berth/busybox:latest").unwrap());
        assert!(glob_match("b?sybox", "busybox").unwrap());
        assert!(glob_match("[a-c]usybox", "busybox").unwrap());
        assert!(!glob_match("[^a-c]usybox", "busybox").unwrap());
        assert!(glob_match("[", "x").is_err());
    }

    #[test]
    fn parses_timestamps_and_durations() {
        let now = chrono::DateTime::from_timestamp(1_000_000, 0).unwrap();
        assert_eq!(
            parse_timestamp("10m", now).unwrap().timestamp(),
            1_000_000 - 600
        );
        assert_eq!(
            parse_timestamp("1h30m", now).unwrap().timestamp(),
            1_000_000 - 5400
        );
        assert_eq!(
            parse_timestamp("1500000000", now).unwrap().timestamp(),
            1_500_000_000
        );
        assert_eq!(
            parse_timestamp("2020-01-01T00:00:00Z", now)
                .unwrap()
                .timestamp(),
            1_577_836_800
        );
        assert_eq!(
            parse_timestamp("2020-01-01", now).unwrap().timestamp(),
            1_577_836_800
        );
        assert!(parse_timestamp("yesterday", now).is_err());
    }
}

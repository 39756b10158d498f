//! The API's query strings, read the way dockerd's `httputils` reads them:
//! `application/x-www-form-urlencoded`, the first value of a repeated key wins,
//! booleans are false only for "", "0", "no", "false" and "none".
use std::collections::HashMap;

/// A decoded query string.
#[derive(Debug, Clone, Default)]
pub struct Form {
    values: HashMap<String, String>,
}

impl Form {
    /// Decodes `a=1&b=x%20y` (a missing query is an empty form).
    pub fn parse(query: Option<&str>) -> Form {
        let mut values = HashMap::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            values
                .entry(decode_component(k))
                .or_insert_with(|| decode_component(v));
        }
        Form { values }
    }

    /// A form from already decoded pairs (e.g. axum's `Query<Vec<(String, String)>>`).
    pub fn from_pairs<I, K, V>(pairs: I) -> Form
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut values = HashMap::new();
        for (k, v) in pairs {
            values.entry(k.into()).or_insert_with(|| v.into());
        }
        Form { values }
    }

    /// The value of `key`, "" when absent (Go's `Form.Get`).
    pub fn get(&self, key: &str) -> &str {
        self.values.get(key).map(String::as_str).unwrap_or("")
    }

    /// Whether `key` is present at all.
    pub fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// dockerd's `BoolValue`.
    pub fn bool(&self, key: &str) -> bool {
        bool_value(self.get(key))
    }
}

/// dockerd's `httputils.BoolValue` on one value.
pub fn bool_value(v: &str) -> bool {
    !matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "no" | "false" | "none"
    )
}

/// Percent-decoding with `+` as a space; invalid escapes are kept as they are.
fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_components_are_decoded() {
        let f = Form::parse(Some(
            "tail=5&tail=7&detachKeys=ctrl-a%2Cb&x=a+b&flag&bad=%zz%4",
        ));
        assert_eq!(f.get("tail"), "5");
        assert_eq!(f.get("detachKeys"), "ctrl-a,b");
        assert_eq!(f.get("x"), "a b");
        assert!(f.has("flag"));
        assert_eq!(f.get("flag"), "");
        assert_eq!(f.get("bad"), "%zz%4");
        assert_eq!(f.get("missing"), "");
    }

    #[test]
    fn booleans_as_dockerd_reads_them() {
        for v in ["", "0", "no", "false", "none", " FALSE ", "No"] {
            assert!(!bool_value(v), "{v:?}");
        }
        for v in ["1", "true", "yes", "on", "anything"] {
            assert!(bool_value(v), "{v:?}");
        }
    }
}

//! Detach keys: the API's `detachKeys` ("ctrl-p,ctrl-q", "ctrl-a,b", …) and spotting
//! the sequence in a client's stdin. Like dockerd, detaching only applies with a TTY.
use super::error::StreamError;

/// ctrl-p, ctrl-q.
pub const DEFAULT_DETACH_KEYS: [u8; 2] = [16, 17];

/// moby/term's `ToBytes`: comma-separated keys, each a single character, `ctrl-@`,
/// `ctrl-a` … `ctrl-z`, `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`, `ctrl-_` or `DEL`.
/// The error is attach's 400 (`Invalid detach keys (…) provided`); see
/// `parse_exec_detach_keys` for exec create's.
pub fn parse_detach_keys(keys: &str) -> Result<Vec<u8>, StreamError> {
    keys.split(',')
        .map(key_code)
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| StreamError::BadParameter(format!("Invalid detach keys ({keys}) provided")))
}

/// The same for `POST /containers/{id}/exec`'s `DetachKeys`, with exec create's
/// wording (`Invalid escape keys (…) provided`); dockerd checks them at create.
pub fn parse_exec_detach_keys(keys: &str) -> Result<Option<Vec<u8>>, StreamError> {
    if keys.is_empty() {
        return Ok(None);
    }
    parse_detach_keys(keys)
        .map(Some)
        .map_err(|_| StreamError::BadParameter(format!("Invalid escape keys ({keys}) provided")))
}

/// The detach keys of a request: `None` for an absent or empty `detachKeys`
/// (the defaults then apply).
pub fn detach_keys_from_query(value: &str) -> Result<Option<Vec<u8>>, StreamError> {
    if value.is_empty() {
        return Ok(None);
    }
    parse_detach_keys(value).map(Some)
}

fn key_code(key: &str) -> Option<u8> {
    if key.len() == 1 {
        return Some(key.as_bytes()[0]);
    }
    if key == "DEL" {
        return Some(127);
    }
    let c = key.strip_prefix("ctrl-")?;
    match c.as_bytes() {
        [b'@'] => Some(0),
        [l @ b'a'..=b'z'] => Some(l - b'a' + 1),
        [b'['] => Some(27),
        [b'\\'] => Some(28),
        [b']'] => Some(29),
        [b'^'] => Some(30),
        [b'_'] => Some(31),
        _ => None,
    }
}

/// Watches stdin for the detach sequence. Bytes that could start the sequence are
/// held back until it is clear they do not (then they are passed on), so the
/// sequence itself never reaches the container.
#[derive(Debug)]
pub struct DetachMatcher {
    keys: Vec<u8>,
    matched: usize,
}

/// What a chunk of stdin turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
    /// Pass these bytes on.
    Forward(Vec<u8>),
    /// The sequence was typed: pass on these bytes (typed before it), then detach.
    Detach(Vec<u8>),
}

impl DetachMatcher {
    /// `keys` empty means the default ctrl-p,ctrl-q.
    pub fn new(keys: &[u8]) -> DetachMatcher {
        let keys = if keys.is_empty() {
            DEFAULT_DETACH_KEYS.to_vec()
        } else {
            keys.to_vec()
        };
        DetachMatcher { keys, matched: 0 }
    }

    pub fn scan(&mut self, data: &[u8]) -> Scan {
        let mut out = Vec::with_capacity(data.len() + self.matched);
        for &b in data {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Scan::Detach(out);
                }
                continue;
            }
            // Not the sequence after all: release what was held, then look at `b` afresh.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Scan::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Scan::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_moby_term() {
        assert_eq!(
            parse_detach_keys("ctrl-p,ctrl-q").expect("ok"),
            vec![16, 17]
        );
        assert_eq!(parse_detach_keys("ctrl-a,b").expect("ok"), vec![1, b'b']);
        assert_eq!(
            parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_,DEL,ctrl-z").expect("ok"),
            vec![0, 27, 28, 29, 30, 31, 127, 26]
        );
        assert_eq!(
            parse_detach_keys(",").expect_err("empty key").to_string(),
            "Invalid detach keys (,) provided"
        );
        for bad in ["ctrl-P", "ctrl-", "ctrl-ab", "alt-a", "", "é", "ctrl-1"] {
            let e = parse_detach_keys(bad).expect_err(bad);
            assert!(matches!(e, StreamError::BadParameter(_)));
            assert_eq!(
                e.to_string(),
                format!("Invalid detach keys ({bad}) provided")
            );
        }
        assert_eq!(detach_keys_from_query("").expect("ok"), None);
        assert_eq!(
            detach_keys_from_query("ctrl-x").expect("ok"),
            Some(vec![24])
        );
        assert_eq!(
            parse_exec_detach_keys("ctrl-")
                .expect_err("bad")
                .to_string(),
            "Invalid escape keys (ctrl-) provided"
        );
        assert_eq!(parse_exec_detach_keys("").expect("ok"), None);
    }

    #[test]
    fn spots_the_sequence_across_reads() {
        let mut m = DetachMatcher::new(&[]);
        assert_eq!(m.scan(b"ab\x10"), Scan::Forward(b"ab".to_vec()));
        assert_eq!(m.scan(b"\x11rest"), Scan::Detach(Vec::new()));
        let mut m = DetachMatcher::new(&[]);
        assert_eq!(m.scan(b"x\x10\x11y"), Scan::Detach(b"x".to_vec()));
    }

    #[test]
    fn held_bytes_are_released_when_the_sequence_breaks() {
        let mut m = DetachMatcher::new(&[1, b'b']);
        assert_eq!(m.scan(b"\x01"), Scan::Forward(Vec::new()));
        assert_eq!(m.scan(b"c"), Scan::Forward(b"\x01c".to_vec()));
        // A repeated first key starts the sequence again.
        assert_eq!(m.scan(b"\x01\x01b"), Scan::Detach(b"\x01".to_vec()));
        let mut one = DetachMatcher::new(b"q");
        assert_eq!(one.scan(b"abq"), Scan::Detach(b"ab".to_vec()));
    }
}

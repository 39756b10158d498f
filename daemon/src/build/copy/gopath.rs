//! Go's `path.Clean` and `filepath.Match` (and the `**` of `.dockerignore`): dockerd's
//! COPY sources, destinations and ignore patterns are defined by them.

/// Go's `path.Clean`: "." and empty components dropped, ".." removes the previous one
/// (above the root of a rooted path it is dropped), "" is ".".
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Whether a COPY source has wildcards (dockerd's `containsWildcards`: `\` escapes).
pub fn contains_wildcards(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Go's error for a malformed pattern.
pub const BAD_PATTERN: &str = "syntax error in pattern";

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(char),
    /// `?`: one character but `/`.
    One,
    /// `*`: any run of characters without `/`.
    Star,
    /// `**` at the end of a `.dockerignore` pattern: anything.
    Rest,
    /// `**` (or `**/`) elsewhere in a `.dockerignore` pattern: any number of folders.
    Folders,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled glob.
#[derive(Debug, Clone, PartialEq)]
pub struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    /// `filepath.Match`'s syntax: `*`, `?`, `[...]` (`^` negates), `\` escapes.
    pub fn new(pattern: &str) -> Result<Glob, &'static str> {
        parse(pattern, false)
    }

    /// `.dockerignore`'s (moby `fileutils`): the same, and `**` spans folders.
    pub fn with_double_star(pattern: &str) -> Result<Glob, &'static str> {
        parse(pattern, true)
    }

    /// Whether all of `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let chars: Vec<char> = name.chars().collect();
        match_at(&self.tokens, &chars)
    }
}

/// `filepath.Match(pattern, name)`.
pub fn go_match(pattern: &str, name: &str) -> Result<bool, &'static str> {
    Ok(Glob::new(pattern)?.matches(name))
}

fn parse(pattern: &str, double_star: bool) -> Result<Glob, &'static str> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if double_star && chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                tokens.push(if i == chars.len() {
                    Token::Rest
                } else {
                    Token::Folders
                });
            }
            '*' => tokens.push(Token::Star),
            '?' => tokens.push(Token::One),
            '\\' => {
                let escaped = chars.get(i).ok_or(BAD_PATTERN)?;
                i += 1;
                tokens.push(Token::Literal(*escaped));
            }
            '[' => {
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    if chars.get(i) == Some(&']') && !ranges.is_empty() {
                        i += 1;
                        break;
                    }
                    let lo = class_char(&chars, &mut i)?;
                    let hi = if chars.get(i) == Some(&'-') {
                        i += 1;
                        class_char(&chars, &mut i)?
                    } else {
                        lo
                    };
                    if lo > hi {
                        return Err(BAD_PATTERN);
                    }
                    ranges.push((lo, hi));
                }
                tokens.push(Token::Class { negated, ranges });
            }
            other => tokens.push(Token::Literal(other)),
        }
    }
    Ok(Glob { tokens })
}

/// One character of a class (Go's `getEsc`): `-` and `]` must be escaped there.
fn class_char(chars: &[char], i: &mut usize) -> Result<char, &'static str> {
    let mut c = *chars.get(*i).ok_or(BAD_PATTERN)?;
    if c == '-' || c == ']' {
        return Err(BAD_PATTERN);
    }
    if c == '\\' {
        *i += 1;
        c = *chars.get(*i).ok_or(BAD_PATTERN)?;
    }
    *i += 1;
    if *i >= chars.len() {
        return Err(BAD_PATTERN); // an unterminated class
    }
    Ok(c)
}

fn match_at(tokens: &[Token], name: &[char]) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        return name.is_empty();
    };
    match token {
        Token::Literal(c) => name.first() == Some(c) && match_at(rest, &name[1..]),
        Token::One => name.first().is_some_and(|c| *c != '/') && match_at(rest, &name[1..]),
        Token::Class { negated, ranges } => {
            name.first()
                .is_some_and(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated)
                && match_at(rest, &name[1..])
        }
        Token::Star => {
            for skip in 0..=name.len() {
                if match_at(rest, &name[skip..]) {
                    return true;
                }
                if name.get(skip) == Some(&'/') {
                    break;
                }
            }
            false
        }
        Token::Rest => true,
        Token::Folders => {
            match_at(rest, name)
                || (0..name.len()).any(|i| name[i] == '/' && match_at(rest, &name[i + 1..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_is_go_path_clean() {
        for (input, want) in [
            ("", "."),
            ("a/b/../c/", "a/c"),
            ("./a//b/.", "a/b"),
            ("../a", "../a"),
            ("a/../../b", "../b"),
            ("/../a", "/a"),
            ("/", "/"),
            ("//a/./b/", "/a/b"),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
    }

    #[test]
    fn go_filepath_match() {
        let yes = [
            ("*", "abc"),
            ("a*c", "abbbc"),
            ("a?c", "abc"),
            ("[a-c]x", "bx"),
            ("[^a-c]x", "dx"),
            ("a\\*b", "a*b"),
            ("*/f", "d/f"),
            ("*.txt", ".txt"),
            ("[\\]]", "]"),
        ];
        for (p, n) in yes {
            assert_eq!(go_match(p, n), Ok(true), "{p} {n}");
        }
        let no = [
            ("*", "a/b"),
            ("a?c", "a/c"),
            ("[^a-c]x", "ax"),
            ("a*", "b"),
            ("d*", "d/e"),
            ("abc", "ab"),
        ];
        for (p, n) in no {
            assert_eq!(go_match(p, n), Ok(false), "{p} {n}");
        }
        for bad in ["[", "[]a]", "[a-]", "a\\", "[z-a]", "[a"] {
            assert_eq!(go_match(bad, "a"), Err(BAD_PATTERN), "{bad}");
        }
    }

    #[test]
    fn double_star_spans_folders() {
        let g = |p: &str| Glob::with_double_star(p).expect(p);
        assert!(g("**").matches("a/b/c"));
        assert!(g("**/x").matches("x"));
        assert!(g("**/x").matches("a/b/x"));
        assert!(!g("**/x").matches("a/bx"));
        assert!(g("a/**/b").matches("a/b"));
        assert!(g("a/**/b").matches("a/x/y/b"));
        assert!(g("a/**").matches("a/x/y"));
        assert!(!g("a/*").matches("a/x/y"));
        // Without the option, ** is two stars.
        assert!(!Glob::new("**").expect("**").matches("a/b"));
    }

    #[test]
    fn wildcards_are_detected_unless_escaped() {
        assert!(contains_wildcards("*.txt"));
        assert!(contains_wildcards("a[bc]"));
        assert!(contains_wildcards("a?"));
        assert!(!contains_wildcards("plain/name"));
        assert!(!contains_wildcards("a\\*b"));
    }
}

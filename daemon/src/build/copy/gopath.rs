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
        let mut memo = vec![None; (self.tokens.len() + 1) * (chars.len() + 1)];
        match_at(&self.tokens, &chars, 0, 0, &mut memo)
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

/// Whether `name[n..]` matches `tokens[t..]`; `memo` keeps each answer so that many
/// stars cost at most tokens × characters steps.
fn match_at(
    tokens: &[Token],
    name: &[char],
    t: usize,
    n: usize,
    memo: &mut [Option<bool>],
) -> bool {
    let key = t * (name.len() + 1) + n;
    if let Some(known) = memo[key] {
        return known;
    }
    let rest = name.get(n..).unwrap_or_default();
    let result = match tokens.get(t) {
        None => rest.is_empty(),
        Some(Token::Literal(c)) => {
            rest.first() == Some(c) && match_at(tokens, name, t + 1, n + 1, memo)
        }
        Some(Token::One) => {
            rest.first().is_some_and(|c| *c != '/') && match_at(tokens, name, t + 1, n + 1, memo)
        }
        Some(Token::Class { negated, ranges }) => {
            rest.first()
                .is_some_and(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated)
                && match_at(tokens, name, t + 1, n + 1, memo)
        }
        Some(Token::Star) => {
            let run = rest.iter().take_while(|c| **c != '/').count();
            (0..=run).any(|skip| match_at(tokens, name, t + 1, n + skip, memo))
        }
        Some(Token::Rest) => true,
        Some(Token::Folders) => {
            match_at(tokens, name, t + 1, n, memo)
                || (0..rest.len())
                    .any(|i| rest[i] == '/' && match_at(tokens, name, t + 1, n + i + 1, memo))
        }
    };
    memo[key] = Some(result);
    result
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
    fn many_stars_stay_fast() {
        let name = "a".repeat(200);
        let started = std::time::Instant::now();
        assert_eq!(go_match(&"*a".repeat(30), &name), Ok(true));
        assert_eq!(go_match(&format!("{}b", "*a".repeat(30)), &name), Ok(false));
        let deep = Glob::with_double_star(&"**/a/".repeat(10)).expect("glob");
        assert!(deep.matches(&"a/".repeat(100)));
        assert!(!deep.matches(&format!("{}b", "a/".repeat(100))));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
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

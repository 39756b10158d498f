//! `.dockerignore`: its lines as buildkit's `dockerignore.ReadAll` reads them, and the
//! patterns matched as moby's `fileutils.PatternMatcher` (dockerd 20.10) does: `*`, `?`
//! and classes within one folder, `**` across folders, `!` for exceptions (the last
//! matching pattern wins), and a pattern that matches a folder matches what it holds.
use crate::build::copy::gopath::{clean, Glob};

/// The patterns of a `.dockerignore` file: comments (`#` first on the line) and blank
/// lines dropped, spaces trimmed, paths cleaned and made relative.
pub fn read_patterns(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut patterns = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        patterns.push(if invert {
            format!("!{cleaned}")
        } else {
            cleaned
        });
    }
    patterns
}

#[derive(Debug, Clone)]
struct Pattern {
    glob: Glob,
    exclusion: bool,
    /// How many folders deep the pattern is ("a/b" is 2).
    depth: usize,
}

/// Compiled patterns.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

impl Matcher {
    /// Compiles `patterns`; a malformed one is an error, as in dockerd.
    pub fn new(patterns: &[String]) -> Result<Matcher, String> {
        let mut compiled = Vec::new();
        for raw in patterns {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let mut pattern = clean(raw);
            let exclusion = pattern.starts_with('!');
            if exclusion {
                if pattern.len() == 1 {
                    return Err("illegal exclusion pattern: \"!\"".into());
                }
                pattern.remove(0);
            }
            let glob = Glob::with_double_star(&pattern).map_err(str::to_string)?;
            // dockerd also checks the pattern with filepath.Match.
            Glob::new(&pattern).map_err(str::to_string)?;
            compiled.push(Pattern {
                glob,
                exclusion,
                depth: pattern.split('/').count(),
            });
        }
        Ok(Matcher { patterns: compiled })
    }

    /// Whether `path` (relative to the context) is excluded. The context itself never is.
    pub fn excludes(&self, path: &str) -> bool {
        let file = clean(path);
        if file == "." {
            return false;
        }
        let parent = match file.rfind('/') {
            Some(i) => &file[..i],
            None => ".",
        };
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for pattern in &self.patterns {
            let mut hit = pattern.glob.matches(&file);
            if !hit && parent != "." && pattern.depth <= parent_dirs.len() {
                hit = pattern
                    .glob
                    .matches(&parent_dirs[..pattern.depth].join("/"));
            }
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(lines: &str) -> Matcher {
        Matcher::new(&read_patterns(lines)).expect("patterns")
    }

    #[test]
    fn lines_are_read_as_buildkit_does() {
        let text = "\u{feff}# comment\n  foo/  \n\n!  ./bar\n/abs/x\n #not a comment\n/\n!\n";
        assert_eq!(
            read_patterns(text),
            ["foo", "!bar", "abs/x", "#not a comment", "/", "!"]
        );
    }

    #[test]
    fn patterns_and_exceptions() {
        let m = matcher("*.md\n!README.md\nbuild\n**/*.tmp\nsecret/**\n");
        assert!(m.excludes("CHANGES.md"));
        assert!(!m.excludes("README.md"));
        assert!(!m.excludes("docs/CHANGES.md"), "* stays in one folder");
        assert!(m.excludes("build"));
        assert!(
            m.excludes("build/out/x.o"),
            "a folder's content is excluded"
        );
        assert!(m.excludes("a.tmp"));
        assert!(m.excludes("deep/er/a.tmp"));
        assert!(m.excludes("secret/key"));
        assert!(!m.excludes("secretive"));
        assert!(!m.excludes("."));
        assert!(!m.excludes("src/main.rs"));
    }

    #[test]
    fn the_last_match_wins() {
        let m = matcher("!keep\n*\n");
        assert!(m.excludes("keep"));
        let m = matcher("*\n!keep\n");
        assert!(!m.excludes("keep"));
        assert!(m.excludes("other"));
        assert!(m.excludes("Dockerfile"));
    }

    #[test]
    fn folder_exceptions_reach_inside() {
        let m = matcher("docs\n!docs/keep.md\n");
        assert!(m.excludes("docs/other.md"));
        assert!(!m.excludes("docs/keep.md"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert_eq!(
            Matcher::new(&["!".to_string()]).expect_err("!"),
            "illegal exclusion pattern: \"!\""
        );
        assert_eq!(
            Matcher::new(&["a[".to_string()]).expect_err("["),
            "syntax error in pattern"
        );
    }
}

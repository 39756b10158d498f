//! From the file's text to logical lines, as buildkit's `parser.Parse` reads it: the
//! parser directives at the top (`# escape=`, `# syntax=`), comments, blank lines and
//! line continuations with the escape character.

/// The longest line Go's bufio.Scanner reads (its 64 KiB buffer, less the newline).
const MAX_LINE: usize = 65535;

/// One instruction's text with its continuation lines joined (comments dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    /// The line it starts on, from 1.
    pub start: usize,
    /// The line it ends on.
    pub end: usize,
    pub text: String,
}

/// The file split into logical lines.
#[derive(Debug, Clone)]
pub(crate) struct Lines {
    pub escape: char,
    pub lines: Vec<LogicalLine>,
    /// dockerd's warnings about empty continuation lines, printed before the steps.
    pub warnings: Vec<String>,
}

/// The directives state: which were seen, and whether the top of the file is over.
struct Directives {
    escape: char,
    done: bool,
    seen: Vec<String>,
}

impl Directives {
    /// Looks at a line for `# name=value` while still at the top of the file.
    fn look_at(&mut self, line: &str) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = directive(line) else {
            self.done = true;
            return Ok(());
        };
        let name = name.to_ascii_lowercase();
        if name != "escape" && name != "syntax" {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&name) {
            return Err(format!("only one {name} parser directive can be used"));
        }
        self.seen.push(name.clone());
        if name == "escape" {
            match value {
                "`" => self.escape = '`',
                "\\" => self.escape = '\\',
                other => {
                    return Err(format!(
                        "invalid escape token '{other}' does not match ` or \\"
                    ))
                }
            }
        }
        Ok(())
    }
}

/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`: the name and the value.
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches(is_regex_space);
    let name_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let (name, rest) = rest.split_at(name_len);
    let value = rest
        .trim_start_matches(is_regex_space)
        .strip_prefix('=')?
        .trim_matches(is_regex_space);
    if value.is_empty() {
        return None;
    }
    Some((name, value))
}

/// RE2's `\s`: `[\t\n\f\r ]`.
fn is_regex_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// A comment line: `#` first after leading white space.
fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// dockerd's `processLine`: strips a comment line to nothing (after trimming the left of
/// the first line of an instruction) and looks for directives.
fn process_line<'a>(
    d: &mut Directives,
    line: &'a str,
    strip_left: bool,
) -> Result<&'a str, String> {
    let line = if strip_left { line.trim_start() } else { line };
    d.look_at(line)?;
    Ok(if line.starts_with('#') { "" } else { line })
}

/// Removes a trailing escape character (and the blanks after it) that continues the
/// line: `true` when the line ends the instruction. An escaped escape character
/// (`foo \\`) does not continue, as in dockerd.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    let Some(before) = body.strip_suffix(escape) else {
        return (line, true);
    };
    if before.ends_with(escape) {
        return (line, true);
    }
    (before, false)
}

/// Splits the text into lines as Go's `bufio.ScanLines` does (a trailing `\r` is dropped).
fn physical_lines(text: &str) -> impl Iterator<Item = &str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let body = text.strip_suffix('\n').unwrap_or(text);
    let empty = text.is_empty();
    body.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .take(if empty { 0 } else { usize::MAX })
}

/// Reads the file into logical lines; errors are the parser's messages (without the
/// "failed to parse" prefix).
pub(crate) fn split_lines(text: &str, escape: char) -> Result<Lines, String> {
    let mut d = Directives {
        escape,
        done: false,
        seen: Vec::new(),
    };
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut current = 0;
    // Go's bufio.Scanner stops at a line longer than its buffer; what was read before
    // still counts (an empty file is still "file with no instructions").
    let mut too_long = false;
    let mut lines = physical_lines(text).take_while(|l| {
        too_long = l.len() > MAX_LINE;
        !too_long
    });
    while let Some(raw) = lines.next() {
        let first = process_line(&mut d, raw, true)?;
        current += 1;
        let start = current;
        let (first, mut ended) = trim_continuation(first, d.escape);
        if ended && first.is_empty() {
            continue;
        }
        let mut line = first.to_string();
        let mut empty_continuation = false;
        while !ended {
            let Some(raw) = lines.next() else { break };
            let next = process_line(&mut d, raw, false)?;
            current += 1;
            if is_comment(raw) {
                continue;
            }
            if next.trim_start().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (part, end) = trim_continuation(next, d.escape);
            ended = end;
            line.push_str(part);
        }
        if empty_continuation {
            warnings.push(format!(
                "[WARNING]: Empty continuation line found in:\n    {line}"
            ));
        }
        out.push(LogicalLine {
            start,
            end: current,
            text: line,
        });
    }
    if !warnings.is_empty() {
        warnings.push(
            "[WARNING]: Empty continuation lines will become errors in a future release.".into(),
        );
    }
    drop(lines);
    if out.is_empty() {
        return Err("file with no instructions".into());
    }
    if too_long {
        return Err(format!(
            "dockerfile line greater than max allowed size of {MAX_LINE}"
        ));
    }
    Ok(Lines {
        escape: d.escape,
        lines: out,
        warnings,
    })
}

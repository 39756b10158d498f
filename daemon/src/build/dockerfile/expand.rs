//! Variable expansion as buildkit's shell lexer (`shell/lex.go`, `ProcessWord` and
//! `ProcessWords`) does it for the builder: quotes, the escape character, `$VAR`,
//! `${VAR}`, `${VAR:-word}`, `${VAR:+word}`, `${VAR:?message}` and the forms without
//! the colon (`${VAR-word}`, `${VAR+word}`, `${VAR?message}`, as newer dockerd).
pub(crate) use crate::gotext::go_quote;

/// A variable lookup: the value, or `None` when unset.
pub(crate) type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Expands one word (quotes removed, white space kept).
pub(crate) fn process_word(word: &str, escape: char, vars: Vars) -> Result<String, String> {
    process(word, escape, vars).map(|(word, _)| word)
}

/// Expands a word and splits the result into words (white space from expanded
/// variables splits, quoted white space does not).
pub(crate) fn process_words(word: &str, escape: char, vars: Vars) -> Result<Vec<String>, String> {
    process(word, escape, vars).map(|(_, words)| words)
}

fn process(source: &str, escape: char, vars: Vars) -> Result<(String, Vec<String>), String> {
    let mut lexer = Lexer {
        chars: source.chars().collect(),
        pos: 0,
        escape,
        vars,
    };
    lexer
        .process_stop_on(None)
        .map_err(|err| format!("failed to process {}: {err}", go_quote(source)))
}

/// The words being collected by `ProcessWords`.
#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    vars: Vars<'a>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let ch = self.peek();
        if ch.is_some() {
            self.pos += 1;
        }
        ch
    }

    /// Reads up to the end, or up to `stop` (consumed).
    fn process_stop_on(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match ch {
                '\'' => {
                    let s = self.single_quote()?;
                    result.push_str(&s);
                    words.add_raw_string(&s);
                }
                '"' => {
                    let s = self.double_quote()?;
                    result.push_str(&s);
                    words.add_raw_string(&s);
                }
                '$' => {
                    let s = self.dollar()?;
                    result.push_str(&s);
                    words.add_string(&s);
                }
                _ => {
                    self.next();
                    if ch == self.escape {
                        let Some(escaped) = self.next() else { break };
                        words.add_raw_char(escaped);
                        result.push(escaped);
                    } else {
                        words.add_char(ch);
                        result.push(ch);
                    }
                }
            }
        }
        if let Some(stop) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            ));
        }
        Ok((result, words.finish()))
    }

    /// `'…'`: everything literal up to the next single quote.
    fn single_quote(&mut self) -> Result<String, String> {
        self.next();
        let mut result = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => return Ok(result),
                Some(ch) => result.push(ch),
            }
        }
    }

    /// `"…"`: literal but for `$` and the escape character before `"`, `$` or itself.
    fn double_quote(&mut self) -> Result<String, String> {
        self.next();
        let mut result = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.next();
                    return Ok(result);
                }
                Some('$') => result.push_str(&self.dollar()?),
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.escape {
                        match self.peek() {
                            None => continue,
                            Some(next) if next == '"' || next == '$' || next == self.escape => {
                                ch = next;
                                self.next();
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        (self.vars)(name)
    }

    /// `$name`, `${name}` and `${name<modifier>word}`.
    fn dollar(&mut self) -> Result<String, String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.lookup(&name).unwrap_or_default());
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let mut modifier = self.next();
        let colon = modifier == Some(':');
        if colon {
            modifier = self.next();
        }
        match modifier {
            Some('}') if !colon => return Ok(self.lookup(&name).unwrap_or_default()),
            Some('-' | '+' | '?') => {}
            Some(other) if colon => {
                // dockerd reads the word before it looks at the modifier.
                self.word_to_brace()?;
                return Err(format!("unsupported modifier ({other}) in substitution"));
            }
            None if colon => {
                return Err("syntax error: missing '}'".into());
            }
            _ => return Err("missing ':' in substitution".into()),
        }
        let word = self.word_to_brace()?;
        let value = self.lookup(&name);
        let empty = value.as_deref().is_some_and(str::is_empty);
        let unset = value.is_none() || (colon && empty);
        match modifier {
            Some('-') => Ok(if unset {
                word
            } else {
                value.unwrap_or_default()
            }),
            Some('+') => Ok(if unset { String::new() } else { word }),
            _ => match value {
                None => Err(format!(
                    "{name}: {}",
                    or(word, "is not allowed to be unset")
                )),
                Some(v) if colon && v.is_empty() => Err(format!(
                    "{name}: {}",
                    or(word, "is not allowed to be empty")
                )),
                Some(v) => Ok(v),
            },
        }
    }

    /// The word after a modifier, up to the closing brace.
    fn word_to_brace(&mut self) -> Result<String, String> {
        match self.process_stop_on(Some('}')) {
            Ok((word, _)) => Ok(word),
            Err(_) if self.peek().is_none() => Err("syntax error: missing '}'".into()),
            Err(err) => Err(err),
        }
    }

    /// A variable name: letters, digits and `_`; or digits only (`$1`); or one special
    /// parameter (`$@`, `$*`, `$#`, `$?`, `$-`, `$$`, `$!`, `$0`).
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_numeric() {
                while let Some(d) = self.peek().filter(|c| c.is_numeric()) {
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !(ch.is_alphabetic() || ch.is_numeric() || ch == '_') {
                break;
            }
            name.push(ch);
            self.next();
        }
        name
    }
}

fn or(word: String, default: &str) -> String {
    if word.is_empty() {
        default.to_string()
    } else {
        word
    }
}

//! One logical line into its keyword, flags and arguments, as buildkit's
//! `splitCommand` and line parsers do: JSON (exec) form or shell form, words with
//! their quotes kept (for ENV, LABEL, ARG), `name value` and `name=value` pairs.

/// A parsed line: the parser's node, flattened (ONBUILD's trigger and HEALTHCHECK's
/// type come first in `args`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RawNode {
    /// The keyword, lowercase.
    pub cmd: String,
    /// `--name=value` words before the arguments.
    pub flags: Vec<String>,
    pub args: Vec<String>,
    /// The arguments were a JSON array of strings.
    pub json: bool,
    /// The whole line as read (continuations joined).
    pub original: String,
}

const NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

/// Go's `regexp` `[\t\v\f\r ]+` (reWhitespace).
fn is_ws(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// Splits on runs of reWhitespace (like `reWhitespace.Split(s, -1)`, keeping empty
/// ends as Go does).
fn split_ws(s: &str, limit: Option<usize>) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = s;
    loop {
        if limit.is_some_and(|l| parts.len() + 1 == l) {
            parts.push(rest.to_string());
            return parts;
        }
        match rest.find(is_ws) {
            None => {
                parts.push(rest.to_string());
                return parts;
            }
            Some(i) => {
                parts.push(rest[..i].to_string());
                rest = rest[i..].trim_start_matches(is_ws);
            }
        }
    }
}

/// Parses one logical line.
pub(crate) fn parse_line(line: &str, escape: char) -> Result<RawNode, String> {
    let trimmed = line.trim();
    let mut split = split_ws(trimmed, Some(2)).into_iter();
    let cmd = split.next().unwrap_or_default().to_lowercase();
    let (rest, flags) = match split.next() {
        Some(after) => extract_flags(&after),
        None => (String::new(), Vec::new()),
    };
    let rest = rest.trim();
    let (args, json) = match cmd.as_str() {
        "add" | "copy" | "volume" => maybe_json_to_list(rest)?,
        "arg" => (parse_words(rest, escape), false),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(rest)?,
        "env" => (name_val(rest, "ENV", escape)?, false),
        "label" => (name_val(rest, "LABEL", escape)?, false),
        "expose" | "from" => (whitespace_delimited(rest), false),
        "healthcheck" => health_config(rest)?,
        "maintainer" | "stopsignal" | "user" | "workdir" => (
            Some(rest.to_string())
                .filter(|r| !r.is_empty())
                .into_iter()
                .collect(),
            false,
        ),
        "onbuild" if !rest.is_empty() => {
            let child = parse_line(rest, escape)?;
            let mut args = vec![child.cmd];
            args.extend(child.args);
            (args, false)
        }
        _ => (Vec::new(), false),
    };
    Ok(RawNode {
        cmd,
        flags,
        args,
        json,
        original: line.to_string(),
    })
}

/// `extractBuilderFlags`: the leading `--flag` words (quotes and `\` handled) and the rest.
fn extract_flags(line: &str) -> (String, Vec<String>) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && chars[i].1.is_whitespace() {
            i += 1;
        }
        if i == chars.len() {
            return (String::new(), words);
        }
        if !(chars[i].1 == '-' && chars.get(i + 1).is_some_and(|c| c.1 == '-')) {
            return (line[chars[i].0..].to_string(), words);
        }
        let mut word = String::new();
        let mut blank_ok = false;
        let mut quote: Option<char> = None;
        loop {
            let Some(&(pos, ch)) = chars.get(i) else {
                if word != "--" && (blank_ok || !word.is_empty()) {
                    words.push(word);
                }
                return (String::new(), words);
            };
            i += 1;
            match quote {
                None if ch.is_whitespace() => {
                    if word == "--" {
                        return (line[pos..].to_string(), words);
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(word);
                    }
                    break;
                }
                None if ch == '\'' || ch == '"' => {
                    quote = Some(ch);
                    blank_ok = true;
                }
                Some(q) if ch == q => quote = None,
                _ if ch == '\\' => match chars.get(i) {
                    None => quote = None,
                    Some(&(_, next)) => {
                        word.push(next);
                        i += 1;
                    }
                },
                _ => word.push(ch),
            }
        }
    }
}

/// `parseWords`: words split on white space, quotes and escapes kept for the lexer.
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if !in_word {
            if ch.is_whitespace() {
                continue;
            }
            in_word = true;
        }
        match quote {
            None => {
                if ch.is_whitespace() {
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                    in_word = false;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    let Some(&next) = chars.get(i) else { continue };
                    word.push(ch);
                    word.push(next);
                    i += 1;
                    continue;
                }
                word.push(ch);
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                }
                if ch == escape && q != '\'' {
                    let Some(&next) = chars.get(i) else {
                        quote = None;
                        continue;
                    };
                    word.push(ch);
                    word.push(next);
                    i += 1;
                    continue;
                }
                word.push(ch);
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// `parseNameVal`: `name value` (legacy, one pair) or `name=value ...`, as key, value, ….
fn name_val(rest: &str, key: &str, escape: char) -> Result<Vec<String>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let parts = split_ws(rest, Some(2));
        if parts.len() < 2 {
            return Err(format!("{key} must have two arguments"));
        }
        return Ok(parts);
    }
    let mut out = Vec::new();
    for word in words {
        let Some((name, value)) = word.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                super::expand::go_quote(&word)
            ));
        };
        out.push(name.to_string());
        out.push(value.to_string());
    }
    Ok(out)
}

/// `parseStringsWhitespaceDelimited`.
fn whitespace_delimited(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    split_ws(rest, None)
}

/// `parseJSON`: `Ok(None)` when the text is not a JSON array (then the other form is
/// used), an error when it is an array of something else than strings.
fn parse_json(rest: &str) -> Result<Option<Vec<String>>, String> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    // Like Go's json.Decoder: the first value only, what follows it is ignored.
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
    let Some(Ok(serde_json::Value::Array(items))) = stream.next() else {
        return Ok(None);
    };
    items
        .into_iter()
        .map(|item| match item {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(NOT_STRING_ARRAY.to_string()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `parseMaybeJSON`: RUN, CMD, ENTRYPOINT, SHELL (the shell form is one argument).
fn maybe_json(rest: &str) -> Result<(Vec<String>, bool), String> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    Ok(match parse_json(rest)? {
        Some(items) => (items, true),
        None => (vec![rest.to_string()], false),
    })
}

/// `parseMaybeJSONToList`: COPY, ADD, VOLUME (the other form is split on white space).
fn maybe_json_to_list(rest: &str) -> Result<(Vec<String>, bool), String> {
    Ok(match parse_json(rest)? {
        Some(items) => (items, true),
        None => (whitespace_delimited(rest), false),
    })
}

/// `parseHealthConfig`: the type word, then the command as `parseMaybeJSON`.
fn health_config(rest: &str) -> Result<(Vec<String>, bool), String> {
    let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if sep == 0 {
        return Ok((Vec::new(), false));
    }
    let (typ, after) = rest.split_at(sep);
    let (cmd, json) = maybe_json(after.trim_start())?;
    let mut args = vec![typ.to_string()];
    args.extend(cmd);
    Ok((args, json))
}

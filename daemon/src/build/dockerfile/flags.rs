//! An instruction's `--flags`, checked as buildkit's `BFlags.Parse` does (the messages
//! are dockerd's).

/// The kind of value a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagKind {
    /// `--name=value`, once.
    String,
    /// `--name=value`, any number of times.
    Strings,
}

/// The flags an instruction accepts, and what the line gave.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    known: Vec<(&'static str, FlagKind)>,
    /// `(name, value)` in the order given.
    given: Vec<(String, String)>,
}

impl Flags {
    pub(crate) fn new(known: &[(&'static str, FlagKind)]) -> Self {
        Self {
            known: known.to_vec(),
            given: Vec::new(),
        }
    }

    /// Checks the words against the known flags.
    pub(crate) fn parse(mut self, words: &[String]) -> Result<Self, String> {
        for word in words {
            let Some(arg) = word.strip_prefix("--") else {
                return Err(format!("Arg should start with -- : {word}"));
            };
            if arg.is_empty() {
                break;
            }
            let (name, value) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (arg, None),
            };
            let Some(&(_, kind)) = self.known.iter().find(|(n, _)| *n == name) else {
                return Err(format!("Unknown flag: {name}"));
            };
            if kind != FlagKind::Strings && self.given.iter().any(|(n, _)| n == name) {
                return Err(format!("Duplicate flag specified: {name}"));
            }
            let Some(value) = value else {
                return Err(format!("Missing a value on flag: {name}"));
            };
            self.given.push((name.to_string(), value.to_string()));
        }
        Ok(self)
    }

    /// The value of a string flag; `None` when not given or given empty (as dockerd,
    /// which cannot tell them apart).
    pub(crate) fn value(&self, name: &str) -> Option<String> {
        self.given
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    }

    /// Every value given to a flag, in order (empty ones too).
    pub(crate) fn values(&self, name: &str) -> Vec<&str> {
        self.given
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The names given, in order (each once).
    pub(crate) fn used(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (name, _) in &self.given {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const COPY: &[(&str, FlagKind)] = &[("from", FlagKind::String), ("chown", FlagKind::String)];

    #[test]
    fn values_and_errors_as_dockerd() {
        let f = Flags::new(COPY)
            .parse(&words(&["--from=build", "--chown="]))
            .unwrap();
        assert_eq!(f.value("from").as_deref(), Some("build"));
        assert_eq!(f.value("chown"), None);
        assert_eq!(f.used(), vec!["from", "chown"]);
        let err = |w: &[&str]| Flags::new(COPY).parse(&words(w)).unwrap_err();
        assert_eq!(err(&["--link"]), "Unknown flag: link");
        assert_eq!(err(&["--from"]), "Missing a value on flag: from");
        assert_eq!(
            err(&["--from=a", "--from=b"]),
            "Duplicate flag specified: from"
        );
        assert_eq!(err(&["-x"]), "Arg should start with -- : -x");
        // `--` ends the flags.
        let f = Flags::new(COPY).parse(&words(&["--", "--bogus"])).unwrap();
        assert!(f.used().is_empty());
    }

    #[test]
    fn repeatable_flags_collect() {
        let f = Flags::new(&[("mount", FlagKind::Strings)])
            .parse(&words(&[
                "--mount=type=cache,target=/a",
                "--mount=type=tmpfs",
            ]))
            .unwrap();
        assert_eq!(f.used(), vec!["mount"]);
    }
}

//! The Dockerfile language as dockerd's classic builder reads it (moby's
//! `buildkit/frontend/dockerfile/parser` and `instructions`): `parse` splits the file
//! into stages of instructions; `Instruction::command` gives one instruction's typed
//! form with variables expanded where dockerd expands them.
//!
//! It follows dockerd 20.10 (the buildkit parser it vendors), with two things taken
//! from newer dockerd: `${VAR-word}` / `${VAR+word}` (20.10: "missing ':' in
//! substitution") and `HEALTHCHECK --start-interval` (20.10: "Unknown flag").
//!
//! Modules: `lines` (directives, comments, continuations), `split` (keyword, flags,
//! JSON or shell form, words), `flags`, `mounts` (`RUN --mount` values),
//! `instructions` (typed and checked, unexpanded), `expand` (the shell lexer),
//! `command` (expansion at the step), `duration` (Go durations).
use thiserror::Error;

mod command;
pub(crate) mod duration;
mod expand;
mod flags;
mod instructions;
mod lines;
mod mounts;
mod split;
#[cfg(test)]
mod tests_command;
#[cfg(test)]
mod tests_errors;
#[cfg(test)]
mod tests_expand;
#[cfg(test)]
mod tests_lines;
#[cfg(test)]
mod tests_parse;

use instructions::Parsed;

/// A Dockerfile that could not be read; the text is dockerd's message, to be sent as
/// the build's error as it is.
///
/// From `parse` (before any step; dockerd answers 400 with it): "failed to parse
/// Dockerfile: …" (the file's syntax), "dockerfile parse error line N: …" (an
/// instruction), "no build stage in current context". From `Instruction::command` (at
/// the step, in the progress stream): expansion errors ("failed to process \"…\": …")
/// and the classic builder's refusals.
#[derive(Debug, Error)]
pub enum DockerfileError {
    /// "dockerfile parse error line N: …", "unknown instruction: FOO", …
    #[error("{0}")]
    Parse(String),
    /// Valid Dockerfile syntax the classic builder refuses (e.g. `RUN --mount`,
    /// `COPY --chmod`): "the --mount option requires BuildKit. …".
    #[error("{0}")]
    Unsupported(String),
}

/// A whole Dockerfile.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    /// The escape character (`# escape=` directive; `\` by default).
    pub escape: char,
    /// The `ARG`s before the first `FROM`: usable in `FROM` lines only.
    pub meta_args: Vec<Instruction>,
    /// The stages, each starting with its `FROM`.
    pub stages: Vec<Stage>,
    /// dockerd's warnings about empty continuation lines (it prints them, each
    /// followed by a newline, on the build's stderr stream before the first step).
    pub warnings: Vec<String>,
}

/// One stage: its `FROM` and what follows it up to the next `FROM`.
#[derive(Debug, Clone)]
pub struct Stage {
    pub from: Instruction,
    pub instructions: Vec<Instruction>,
}

/// One instruction as written.
#[derive(Debug, Clone)]
pub struct Instruction {
    /// The line it starts on, from 1.
    pub line: usize,
    /// The instruction as dockerd prints it in "Step N/M : …" (continuations joined).
    pub original: String,
    /// The keyword, lowercase ("run", "copy", …).
    pub keyword: String,
    /// The parsed node; private to this module.
    pub(crate) node: Node,
}

/// The parser's node of an instruction: its typed form before expansion.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// `None` only for a node made with `Node::default()`.
    parsed: Option<Parsed>,
    escape: char,
}

impl Default for Node {
    fn default() -> Self {
        Self {
            parsed: None,
            escape: '\\',
        }
    }
}

/// A command in shell form (run with the stage's SHELL) or exec form (JSON array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellOrExec {
    Shell(String),
    Exec(Vec<String>),
}

/// `COPY` and `ADD`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopySpec {
    /// Sources as written after expansion (may hold wildcards; ADD may give URLs).
    pub sources: Vec<String>,
    pub dest: String,
    /// `--from=` (COPY only): a stage name or index, or an image.
    pub from: Option<String>,
    /// `--chown=user:group`, unresolved.
    pub chown: Option<String>,
    /// `--chmod=` as written (octal).
    pub chmod: Option<String>,
}

/// `HEALTHCHECK`, in the image config's `Healthcheck` terms (durations in nanoseconds;
/// `None` when the flag was not given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthcheckSpec {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]`, or `["NONE"]`.
    pub test: Vec<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub start_period: Option<i64>,
    pub start_interval: Option<i64>,
    pub retries: Option<i64>,
}

/// An instruction's typed form, variables expanded where dockerd expands them
/// (ADD, ARG, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    From {
        image: String,
        /// `AS name`, lowercased as dockerd does.
        name: Option<String>,
        /// `--platform=`.
        platform: Option<String>,
    },
    Run(ShellOrExec),
    Cmd(ShellOrExec),
    Entrypoint(ShellOrExec),
    Shell(Vec<String>),
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    /// Each declared name with its default, if any.
    Arg(Vec<(String, Option<String>)>),
    Expose(Vec<String>),
    User(String),
    Workdir(String),
    Volume(Vec<String>),
    StopSignal(String),
    Healthcheck(HealthcheckSpec),
    /// The trigger instruction's text, as stored in the image's `OnBuild`.
    Onbuild(String),
    Maintainer(String),
    Copy(CopySpec),
    Add(CopySpec),
}

/// Parses a whole Dockerfile named `Dockerfile` (see `parse_named`).
pub fn parse(text: &str) -> Result<Dockerfile, DockerfileError> {
    parse_named(text, "Dockerfile")
}

/// Parses a whole Dockerfile; `name` is the path the build asked for (the `dockerfile`
/// query parameter), which dockerd names in syntax errors: "failed to parse
/// Dockerfile: file with no instructions". Every instruction is checked (flags,
/// arguments) as dockerd does before the first step.
pub fn parse_named(text: &str, name: &str) -> Result<Dockerfile, DockerfileError> {
    let syntax = |err: String| DockerfileError::Parse(format!("failed to parse {name}: {err}"));
    let read = lines::split_lines(text, '\\').map_err(syntax)?;
    let nodes = read
        .lines
        .iter()
        .map(|line| split::parse_line(&line.text, read.escape).map(|node| (line.start, node)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(syntax)?;
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for (line, raw) in nodes {
        let parsed = instructions::parse_node(&raw).map_err(|err| {
            DockerfileError::Parse(format!("dockerfile parse error line {line}: {err}"))
        })?;
        let instruction = Instruction::new(line, &raw, parsed, read.escape);
        if raw.cmd == "from" {
            stages.push(Stage {
                from: instruction,
                instructions: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.instructions.push(instruction);
        } else if raw.cmd == "arg" {
            meta_args.push(instruction);
        } else {
            return Err(DockerfileError::Parse(
                "no build stage in current context".into(),
            ));
        }
    }
    Ok(Dockerfile {
        escape: read.escape,
        meta_args,
        stages,
        warnings: read.warnings,
    })
}

/// Parses one instruction on its own (an `ONBUILD` trigger of the base image; dockerd
/// parses triggers with the default escape `\`). The errors are dockerd's texts for a
/// trigger (no line prefix): "unknown instruction: FOO", "onbuild trigger should be a
/// single expression", …
pub fn parse_instruction(text: &str, escape: char) -> Result<Instruction, DockerfileError> {
    let read = lines::split_lines(text, escape).map_err(DockerfileError::Parse)?;
    let [line] = read.lines.as_slice() else {
        return Err(DockerfileError::Parse(
            "onbuild trigger should be a single expression".into(),
        ));
    };
    let raw = split::parse_line(&line.text, read.escape).map_err(DockerfileError::Parse)?;
    let parsed = instructions::parse_node(&raw).map_err(DockerfileError::Parse)?;
    if raw.cmd == "from" {
        return Err(DockerfileError::Parse(
            "*instructions.Stage is not a command type".into(),
        ));
    }
    Ok(Instruction::new(line.start, &raw, parsed, read.escape))
}

/// Expands variables in one word as dockerd's builder does (`ProcessWord`), for what
/// the builder expands itself. The error is dockerd's ("failed to process \"…\": …").
pub fn expand_word(
    word: &str,
    escape: char,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<String, DockerfileError> {
    expand::process_word(word, escape, vars).map_err(DockerfileError::Parse)
}

impl Dockerfile {
    /// The M of dockerd's "Step N/M": the meta ARGs, the FROMs and the instructions.
    pub fn total_steps(&self) -> usize {
        self.meta_args.len()
            + self
                .stages
                .iter()
                .map(|s| 1 + s.instructions.len())
                .sum::<usize>()
    }
}

impl Instruction {
    fn new(line: usize, raw: &split::RawNode, parsed: Parsed, escape: char) -> Self {
        Self {
            line,
            original: raw.original.trim().to_string(),
            keyword: raw.cmd.clone(),
            node: Node {
                parsed: Some(parsed),
                escape,
            },
        }
    }

    /// The typed command; `vars` looks up a variable (the stage's ENV and its ARGs in
    /// scope, as the builder keeps them; the meta ARGs for `FROM`), `None` when unset.
    /// Refusals of the classic builder (`RUN --mount`, `--chmod`) come as
    /// `DockerfileError::Unsupported`, after expansion as in dockerd.
    pub fn command(
        &self,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Command, DockerfileError> {
        let Some(parsed) = &self.node.parsed else {
            return Err(DockerfileError::Parse(format!(
                "unknown instruction: {}",
                self.keyword.to_uppercase()
            )));
        };
        command::expand(parsed, self.node.escape, vars)
    }
}

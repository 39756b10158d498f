//! The Dockerfile language as dockerd's classic builder reads it (moby's
//! `buildkit/frontend/dockerfile/parser` and `instructions`): `parse` splits the file
//! into stages of instructions; `Instruction::command` gives one instruction's typed
//! form with variables expanded where dockerd expands them.
use thiserror::Error;

/// A Dockerfile that could not be read; the text is dockerd's message.
#[derive(Debug, Error)]
pub enum DockerfileError {
    /// "dockerfile parse error line N: …", "unknown instruction: FOO", …
    #[error("{0}")]
    Parse(String),
    /// Valid Dockerfile syntax the classic builder refuses (e.g. `RUN --mount`).
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
    #[allow(dead_code)]
    pub(crate) node: Node,
}

/// The parser's node of an instruction (flags, arguments, JSON form).
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {}

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

/// Parses a whole Dockerfile.
pub fn parse(_text: &str) -> Result<Dockerfile, DockerfileError> {
    Err(DockerfileError::Unsupported(
        "the Dockerfile parser is being written".into(),
    ))
}

/// Parses one instruction on its own (an `ONBUILD` trigger of the base image).
pub fn parse_instruction(_text: &str, _escape: char) -> Result<Instruction, DockerfileError> {
    Err(DockerfileError::Unsupported(
        "the Dockerfile parser is being written".into(),
    ))
}

impl Instruction {
    /// The typed command; `vars` looks up a variable (the stage's ENV and its ARGs in
    /// scope, as the builder keeps them), `None` when unset.
    pub fn command(
        &self,
        _vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Command, DockerfileError> {
        Err(DockerfileError::Unsupported(
            "the Dockerfile parser is being written".into(),
        ))
    }
}

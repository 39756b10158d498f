//! A parsed line into its typed instruction, checked as buildkit's
//! `instructions.ParseInstruction` does when dockerd reads the Dockerfile (before any
//! step runs). Variables are not expanded yet: that happens at the step
//! (`Instruction::command`).

use super::duration::parse_duration;
use super::expand::go_quote;
use super::flags::{FlagKind, Flags};
use super::split::RawNode;
use super::{Command, CopySpec, HealthcheckSpec, ShellOrExec};

const S: FlagKind = FlagKind::String;

/// An instruction checked but not expanded, with what the step needs to refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub command: Command,
    /// The flags given to RUN (the classic builder refuses them at the step).
    pub run_flags: Vec<String>,
}

/// Types one node; the error is dockerd's text without the line prefix.
pub(crate) fn parse_node(node: &RawNode) -> Result<Parsed, String> {
    let mut run_flags = Vec::new();
    let args = &node.args;
    let flags = |known: &[(&'static str, FlagKind)]| Flags::new(known).parse(&node.flags);
    let command = match node.cmd.as_str() {
        "env" => {
            flags(&[])?;
            Command::Env(key_values(args, "ENV")?)
        }
        "maintainer" => {
            one_arg(args, "MAINTAINER")?;
            flags(&[])?;
            Command::Maintainer(args[0].clone())
        }
        "label" => {
            flags(&[])?;
            Command::Label(key_values(args, "LABEL")?)
        }
        "add" | "copy" => copy(node)?,
        "from" => from(node)?,
        "onbuild" => onbuild(node)?,
        "workdir" => {
            one_arg(args, "WORKDIR")?;
            flags(&[])?;
            Command::Workdir(args[0].clone())
        }
        "run" => {
            let f = flags(&[("mount", FlagKind::Strings)])?;
            run_flags = f.used();
            for mount in f.values("mount") {
                super::mounts::check_mount(mount)?;
            }
            Command::Run(shell_or_exec(node))
        }
        "cmd" => {
            flags(&[])?;
            Command::Cmd(shell_or_exec(node))
        }
        "entrypoint" => {
            flags(&[])?;
            Command::Entrypoint(shell_or_exec(node))
        }
        "healthcheck" => Command::Healthcheck(healthcheck(node)?),
        "expose" => {
            if args.is_empty() {
                return Err(at_least_one("EXPOSE"));
            }
            flags(&[])?;
            let mut ports = args.clone();
            ports.sort();
            Command::Expose(ports)
        }
        "user" => {
            one_arg(args, "USER")?;
            flags(&[])?;
            Command::User(args[0].clone())
        }
        "volume" => {
            if args.is_empty() {
                return Err(at_least_one("VOLUME"));
            }
            flags(&[])?;
            let volumes: Vec<String> = args.iter().map(|v| v.trim().to_string()).collect();
            if volumes.iter().any(String::is_empty) {
                return Err("VOLUME specified can not be an empty string".into());
            }
            Command::Volume(volumes)
        }
        // dockerd does not look at STOPSIGNAL's and ARG's flags.
        "stopsignal" => {
            one_arg(args, "STOPSIGNAL")?;
            Command::StopSignal(args[0].clone())
        }
        "arg" => Command::Arg(arg(args)?),
        "shell" => {
            flags(&[])?;
            match shell_or_exec(node) {
                ShellOrExec::Exec(list) if list.is_empty() => return Err(at_least_one("SHELL")),
                ShellOrExec::Exec(list) => Command::Shell(list),
                ShellOrExec::Shell(s) if s.is_empty() => return Err(at_least_one("SHELL")),
                ShellOrExec::Shell(_) => {
                    return Err("SHELL requires the arguments to be in JSON form".into())
                }
            }
        }
        other => return Err(format!("unknown instruction: {}", other.to_uppercase())),
    };
    Ok(Parsed { command, run_flags })
}

fn at_least_one(cmd: &str) -> String {
    format!("{cmd} requires at least one argument")
}

fn one_arg(args: &[String], cmd: &str) -> Result<(), String> {
    if args.len() == 1 {
        Ok(())
    } else {
        Err(format!("{cmd} requires exactly one argument"))
    }
}

/// `handleJSONArgs`: the exec form as is, the shell form as one string.
fn shell_or_exec(node: &RawNode) -> ShellOrExec {
    if node.json {
        ShellOrExec::Exec(node.args.clone())
    } else {
        ShellOrExec::Shell(node.args.join(" "))
    }
}

/// `parseKvps`: ENV and LABEL pairs.
fn key_values(args: &[String], cmd: &str) -> Result<Vec<(String, String)>, String> {
    if args.is_empty() {
        return Err(at_least_one(cmd));
    }
    if !args.len().is_multiple_of(2) {
        return Err(format!("Bad input to {cmd}, too many arguments"));
    }
    args.chunks(2)
        .map(|pair| {
            if pair[0].is_empty() {
                Err(format!("{cmd} names can not be blank"))
            } else {
                Ok((pair[0].clone(), pair[1].clone()))
            }
        })
        .collect()
}

fn arg(args: &[String]) -> Result<Vec<(String, Option<String>)>, String> {
    if args.is_empty() {
        return Err(at_least_one("ARG"));
    }
    args.iter()
        .map(|word| match word.split_once('=') {
            Some(("", _)) => Err("ARG names can not be blank".to_string()),
            Some((name, value)) => Ok((name.to_string(), Some(value.to_string()))),
            None => Ok((word.clone(), None)),
        })
        .collect()
}

fn copy(node: &RawNode) -> Result<Command, String> {
    let (dest, sources) = match node.args.split_last() {
        Some((dest, sources)) if !sources.is_empty() => (dest, sources),
        _ => {
            return Err(format!(
                "{} requires at least two arguments, but only one was provided. Destination could not be determined",
                node.cmd.to_uppercase()
            ))
        }
    };
    let is_copy = node.cmd == "copy";
    let known: &[(&str, FlagKind)] = if is_copy {
        &[("chown", S), ("from", S), ("chmod", S)]
    } else {
        &[("chown", S), ("chmod", S)]
    };
    let flags = Flags::new(known).parse(&node.flags)?;
    let spec = CopySpec {
        sources: sources.to_vec(),
        dest: dest.clone(),
        from: flags.value("from"),
        chown: flags.value("chown"),
        chmod: flags.value("chmod"),
    };
    Ok(if is_copy {
        Command::Copy(spec)
    } else {
        Command::Add(spec)
    })
}

fn from(node: &RawNode) -> Result<Command, String> {
    let args = &node.args;
    let name = match args.len() {
        3 if args[1].eq_ignore_ascii_case("as") => {
            let name = args[2].to_lowercase();
            if !valid_stage_name(&name) {
                return Err(format!(
                    "invalid name for build stage: {}, name can't start with a number or contain symbols",
                    go_quote(&args[2])
                ));
            }
            Some(name)
        }
        1 => None,
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    let flags = Flags::new(&[("platform", S)]).parse(&node.flags)?;
    Ok(Command::From {
        image: args[0].clone(),
        name,
        platform: flags.value("platform"),
    })
}

/// `^[a-z][a-z0-9-_\.]*$`.
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

fn onbuild(node: &RawNode) -> Result<Command, String> {
    let Some(trigger) = node.args.first() else {
        return Err(at_least_one("ONBUILD"));
    };
    Flags::new(&[]).parse(&node.flags)?;
    let trigger = trigger.trim().to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => {
            return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into());
        }
        "MAINTAINER" | "FROM" => {
            return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"));
        }
        _ => {}
    }
    // `(?i)^\s*ONBUILD\s*` removed from the line.
    let line = node.original.trim_start_matches(is_re_space);
    let expression = line
        .get(..7)
        .filter(|k| k.eq_ignore_ascii_case("onbuild"))
        .map_or(line, |_| line[7..].trim_start_matches(is_re_space));
    Ok(Command::Onbuild(expression.to_string()))
}

fn is_re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

fn healthcheck(node: &RawNode) -> Result<HealthcheckSpec, String> {
    let Some(typ) = node.args.first() else {
        return Err(at_least_one("HEALTHCHECK"));
    };
    let typ = typ.to_uppercase();
    let rest = &node.args[1..];
    if typ == "NONE" {
        if !rest.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        return Ok(HealthcheckSpec {
            test: vec![typ],
            ..Default::default()
        });
    }
    let flags = Flags::new(&[
        ("interval", S),
        ("timeout", S),
        ("start-period", S),
        ("start-interval", S),
        ("retries", S),
    ])
    .parse(&node.flags)?;
    if typ != "CMD" {
        return Err(format!(
            "Unknown type {} in HEALTHCHECK (try CMD)",
            go_quote(&typ)
        ));
    }
    if rest.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".into());
    }
    let test = if node.json {
        std::iter::once(typ).chain(rest.iter().cloned()).collect()
    } else {
        vec!["CMD-SHELL".to_string(), rest.join(" ")]
    };
    let interval = |name: &str| -> Result<Option<i64>, String> {
        let Some(text) = flags.value(name) else {
            return Ok(None);
        };
        let nanos = parse_duration(&text)?;
        if nanos < 1_000_000 {
            return Err(format!(
                "Interval {} cannot be less than 1ms",
                go_quote(name)
            ));
        }
        Ok(Some(nanos))
    };
    let mut spec = HealthcheckSpec {
        test,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries: None,
    };
    if let Some(text) = flags.value("retries") {
        let retries = parse_int32(&text)?;
        if retries < 1 {
            return Err(format!("--retries must be at least 1 (not {retries})"));
        }
        spec.retries = Some(retries);
    }
    Ok(spec)
}

/// Go's `strconv.ParseInt(text, 10, 32)` with its errors.
fn parse_int32(text: &str) -> Result<i64, String> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            go_quote(text)
        ));
    }
    text.parse::<i32>().map(i64::from).map_err(|_| {
        format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_quote(text)
        )
    })
}

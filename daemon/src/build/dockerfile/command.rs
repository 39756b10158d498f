//! An instruction's typed form at its step: variables expanded in the instructions
//! dockerd's builder expands (`SupportsSingleWordExpansion`, EXPOSE's word splitting,
//! FROM's base name and platform), then the classic builder's refusals.

use super::expand::{process_word, process_words, Vars};
use super::instructions::Parsed;
use super::{Command, CopySpec, DockerfileError};

const BUILDKIT_ONLY: &str =
    "option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled";

/// Expands `parsed` with `vars`.
pub(crate) fn expand(
    parsed: &Parsed,
    escape: char,
    vars: Vars,
) -> Result<Command, DockerfileError> {
    let word = |w: &str| process_word(w, escape, vars).map_err(DockerfileError::Parse);
    let pairs = |list: &[(String, String)]| -> Result<Vec<(String, String)>, DockerfileError> {
        list.iter().map(|(k, v)| Ok((word(k)?, word(v)?))).collect()
    };
    let command = match &parsed.command {
        Command::From {
            image,
            name,
            platform,
        } => {
            let platform = match platform {
                Some(p) => Some(word(p).map_err(|err| {
                    // dockerd names the platform it failed on, but its variable is
                    // empty by then: "failed to process arguments for platform : …".
                    DockerfileError::Parse(format!(
                        "failed to process arguments for platform : {err}"
                    ))
                })?),
                None => None,
            };
            let expanded = word(image)?;
            if expanded.is_empty() {
                return Err(DockerfileError::Parse(format!(
                    "base name ({image}) should not be blank"
                )));
            }
            Command::From {
                image: expanded,
                name: name.clone(),
                platform: platform.filter(|p| !p.is_empty()),
            }
        }
        Command::Run(cmd) => {
            if let Some(flag) = parsed.run_flags.first() {
                return Err(DockerfileError::Unsupported(format!(
                    "the --{flag} {BUILDKIT_ONLY}"
                )));
            }
            Command::Run(cmd.clone())
        }
        Command::Env(list) => Command::Env(pairs(list)?),
        Command::Label(list) => Command::Label(pairs(list)?),
        Command::Arg(list) => Command::Arg(
            list.iter()
                .map(|(k, v)| Ok((word(k)?, v.as_deref().map(word).transpose()?)))
                .collect::<Result<_, DockerfileError>>()?,
        ),
        Command::Expose(ports) => {
            let mut out = Vec::new();
            for port in ports {
                out.extend(process_words(port, escape, vars).map_err(DockerfileError::Parse)?);
            }
            Command::Expose(out)
        }
        Command::User(user) => Command::User(word(user)?),
        Command::Workdir(path) => Command::Workdir(word(path)?),
        Command::StopSignal(signal) => Command::StopSignal(word(signal)?),
        Command::Volume(list) => {
            let volumes = list
                .iter()
                .map(|v| word(v))
                .collect::<Result<Vec<_>, _>>()?;
            if volumes.iter().any(String::is_empty) {
                return Err(DockerfileError::Parse(
                    "VOLUME specified can not be an empty string".into(),
                ));
            }
            Command::Volume(volumes)
        }
        Command::Copy(spec) => Command::Copy(copy_spec(spec, &word)?),
        Command::Add(spec) => Command::Add(copy_spec(spec, &word)?),
        // Not expanded by dockerd: RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD,
        // MAINTAINER.
        other => other.clone(),
    };
    Ok(command)
}

/// COPY and ADD: `--chown`, the sources and the destination are expanded (not
/// `--from`); `--chmod` is refused by the classic builder.
fn copy_spec(
    spec: &CopySpec,
    word: &dyn Fn(&str) -> Result<String, DockerfileError>,
) -> Result<CopySpec, DockerfileError> {
    let chown = spec.chown.as_deref().map(word).transpose()?;
    let sources = spec
        .sources
        .iter()
        .map(|s| word(s))
        .collect::<Result<Vec<_>, _>>()?;
    let dest = word(&spec.dest)?;
    if spec.chmod.is_some() {
        return Err(DockerfileError::Unsupported(format!(
            "the --chmod {BUILDKIT_ONLY}"
        )));
    }
    Ok(CopySpec {
        sources,
        dest,
        from: spec.from.clone(),
        chown: chown.filter(|c| !c.is_empty()),
        chmod: None,
    })
}

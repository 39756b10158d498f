//! `--security-opt` (HostConfig.SecurityOpt) as dockerd reads it.

use super::SecurityError;

/// Which seccomp profile a container gets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SeccompChoice {
    /// Docker's default profile.
    #[default]
    Default,
    /// `seccomp=unconfined`.
    Unconfined,
    /// A profile in Docker's JSON format (the CLI sends the file's content).
    Profile(String),
}

/// The parsed security options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityOptions {
    pub no_new_privileges: bool,
    pub seccomp: SeccompChoice,
}

/// Parses HostConfig.SecurityOpt.
pub fn parse(opts: &[String]) -> Result<SecurityOptions, SecurityError> {
    let mut out = SecurityOptions::default();
    for opt in opts {
        if opt == "no-new-privileges" || opt == "no-new-privileges:true" {
            out.no_new_privileges = true;
        } else if let Some(v) = opt.strip_prefix("seccomp=") {
            out.seccomp = if v == "unconfined" {
                SeccompChoice::Unconfined
            } else {
                SeccompChoice::Profile(v.to_string())
            };
        } else {
            return Err(SecurityError::Invalid(format!(
                "Invalid --security-opt: {opt:?}"
            )));
        }
    }
    Ok(out)
}

//! `--security-opt` (HostConfig.SecurityOpt) as dockerd reads it
//! (moby's `parseSecurityOpt` in daemon/daemon_unix.go).
//!
//! On a host without AppArmor or SELinux, as here, dockerd accepts
//! `apparmor=…` and `label=…` with any value and ignores them; they are kept
//! in [`SecurityOptions`] so inspect and a future LSM backend can see them.

use super::{go_quote, SecurityError};

/// Which seccomp profile a container gets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SeccompChoice {
    /// Docker's default profile (nothing given, `seccomp=` or `seccomp=builtin`).
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
    /// `apparmor=<profile>`; ignored on hosts without AppArmor.
    pub apparmor_profile: Option<String>,
    /// The values of `label=…` (and a bare `disable`); ignored without SELinux.
    pub label_opts: Vec<String>,
    /// `writable-cgroups[=bool]`: `None` means "as privileged".
    pub writable_cgroups: Option<bool>,
    /// `systempaths=unconfined`: no masked or read-only paths. The docker CLI
    /// turns this option into empty HostConfig.MaskedPaths/ReadonlyPaths
    /// itself and dockerd refuses it; Berth accepts it from API clients too.
    pub unconfined_system_paths: bool,
}

/// The seccomp value that means Docker's built-in profile.
const SECCOMP_BUILTIN: &str = "builtin";
/// The seccomp (and apparmor) value that means no profile.
const UNCONFINED: &str = "unconfined";

/// Parses HostConfig.SecurityOpt.
pub fn parse(opts: &[String]) -> Result<SecurityOptions, SecurityError> {
    parse_with_daemon_default(opts, false)
}

/// Parses HostConfig.SecurityOpt starting from the daemon's
/// `--no-new-privileges` setting (daemon.json "no-new-privileges").
pub fn parse_with_daemon_default(
    opts: &[String],
    daemon_no_new_privileges: bool,
) -> Result<SecurityOptions, SecurityError> {
    let mut out = SecurityOptions {
        no_new_privileges: daemon_no_new_privileges,
        ..SecurityOptions::default()
    };
    for opt in opts {
        match opt.as_str() {
            "no-new-privileges" => {
                out.no_new_privileges = true;
                continue;
            }
            "writable-cgroups" => {
                out.writable_cgroups = Some(true);
                continue;
            }
            "disable" => {
                out.label_opts.push("disable".into());
                continue;
            }
            _ => {}
        }
        // `key=value`, or the old `key:value` when there is no '='.
        let split = if opt.contains('=') {
            opt.split_once('=')
        } else {
            opt.split_once(':')
        };
        let Some((key, value)) = split else {
            return Err(invalid(1, opt));
        };
        match key {
            "label" => out.label_opts.push(value.to_string()),
            "apparmor" => out.apparmor_profile = Some(value.to_string()),
            "seccomp" => {
                out.seccomp = match value {
                    "" | SECCOMP_BUILTIN => SeccompChoice::Default,
                    UNCONFINED => SeccompChoice::Unconfined,
                    json => SeccompChoice::Profile(json.to_string()),
                }
            }
            "no-new-privileges" => {
                out.no_new_privileges = parse_go_bool(value).ok_or_else(|| invalid(2, opt))?
            }
            "writable-cgroups" => {
                out.writable_cgroups = Some(parse_go_bool(value).ok_or_else(|| invalid(2, opt))?)
            }
            "systempaths" if value == UNCONFINED => out.unconfined_system_paths = true,
            _ => return Err(invalid(2, opt)),
        }
    }
    Ok(out)
}

/// dockerd's message for an option it cannot read; it has no error class,
/// so the API answers 500.
fn invalid(which: u8, opt: &str) -> SecurityError {
    SecurityError::Failed(format!("invalid --security-opt {which}: {}", go_quote(opt)))
}

/// Go's strconv.ParseBool.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// HostConfig.SecurityOpt as dockerd stores it when a container is created
/// (adaptContainerSettings → generateSecurityOpt): a privileged container,
/// or one sharing the host's IPC or PID namespace, gets "label=disable"
/// appended unless the user gave a `label=` option. (Labels copied from a
/// `container:` IPC/PID peer are SELinux process labels, empty without
/// SELinux, so they add nothing here.)
pub fn adapt_security_opt(
    security_opt: &[String],
    privileged: bool,
    ipc_host: bool,
    pid_host: bool,
) -> Vec<String> {
    let mut out = security_opt.to_vec();
    let user_label = security_opt
        .iter()
        .any(|o| o.split('=').next() == Some("label"));
    if !user_label && (privileged || ipc_host || pid_host) {
        out.push("label=disable".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Result<SecurityOptions, SecurityError> {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn no_new_privileges_forms() {
        for ok in [
            "no-new-privileges",
            "no-new-privileges:true",
            "no-new-privileges=true",
            "no-new-privileges=1",
        ] {
            assert!(p(&[ok]).expect(ok).no_new_privileges, "{ok}");
        }
        assert!(
            !p(&["no-new-privileges=false"])
                .expect("false")
                .no_new_privileges
        );
        let later_wins = p(&["no-new-privileges", "no-new-privileges:false"]).expect("both");
        assert!(!later_wins.no_new_privileges);
        let daemon = parse_with_daemon_default(&[], true).expect("daemon");
        assert!(daemon.no_new_privileges);
    }

    #[test]
    fn seccomp_forms() {
        assert_eq!(
            p(&["seccomp=unconfined"]).expect("u").seccomp,
            SeccompChoice::Unconfined
        );
        assert_eq!(
            p(&["seccomp:unconfined"]).expect("u").seccomp,
            SeccompChoice::Unconfined
        );
        assert_eq!(
            p(&["seccomp=builtin"]).expect("b").seccomp,
            SeccompChoice::Default
        );
        let json = r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW","x":"a=b"}"#;
        assert_eq!(
            p(&[json]).expect("json").seccomp,
            SeccompChoice::Profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","x":"a=b"}"#.into())
        );
    }

    #[test]
    fn labels_and_apparmor_are_accepted() {
        let o = p(&["apparmor=foo", "label=type:foo", "label:disable", "disable"]).expect("ok");
        assert_eq!(o.apparmor_profile.as_deref(), Some("foo"));
        // "label=type:foo" splits at '=' first.
        assert_eq!(o.label_opts, vec!["type:foo", "disable", "disable"]);
    }

    #[test]
    fn writable_cgroups_and_systempaths() {
        assert_eq!(
            p(&["writable-cgroups"]).expect("w").writable_cgroups,
            Some(true)
        );
        assert_eq!(
            p(&["writable-cgroups=false"]).expect("w").writable_cgroups,
            Some(false)
        );
        assert!(
            p(&["systempaths=unconfined"])
                .expect("s")
                .unconfined_system_paths
        );
        assert!(p(&["systempaths=foo"]).is_err());
    }

    #[test]
    fn dockerd_errors() {
        let e = p(&["foo"]).expect_err("foo");
        assert_eq!(e.to_string(), "invalid --security-opt 1: \"foo\"");
        assert_eq!(e.http_status(), 500);
        let e = p(&["no-new-privileges:maybe"]).expect_err("maybe");
        assert_eq!(
            e.to_string(),
            "invalid --security-opt 2: \"no-new-privileges:maybe\""
        );
        let e = p(&["bogus=1"]).expect_err("bogus");
        assert_eq!(e.to_string(), "invalid --security-opt 2: \"bogus=1\"");
    }

    #[test]
    fn label_disable_is_added_where_dockerd_adds_it() {
        let none: Vec<String> = Vec::new();
        assert_eq!(
            adapt_security_opt(&none, true, false, false),
            vec!["label=disable"]
        );
        assert_eq!(
            adapt_security_opt(&none, false, true, false),
            vec!["label=disable"]
        );
        assert!(adapt_security_opt(&none, false, false, false).is_empty());
        let apparmor = vec!["apparmor=x".to_string()];
        assert_eq!(
            adapt_security_opt(&apparmor, true, false, false),
            vec!["apparmor=x", "label=disable"]
        );
        let label = vec!["label=user:u".to_string()];
        assert_eq!(adapt_security_opt(&label, true, true, true), label);
    }
}

//! Reading a profile in Docker's JSON format, as `--security-opt
//! seccomp=<file>` sends it (the CLI inlines the file's content). Like Go's
//! encoding/json, field names match case-insensitively, unknown fields are
//! ignored and `null` counts as absent.

use oci_spec::runtime::LinuxSeccompArg;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::model::{arg_with, ArchGroup, Condition, DockerProfile, KernelVersion, SyscallRule};
use crate::security::SecurityError;

type Obj = Map<String, Value>;

fn decode_error(msg: impl std::fmt::Display) -> SecurityError {
    SecurityError::Failed(format!("Decoding seccomp profile failed: {msg}"))
}

/// The value of `key` in `obj`: an exact match first, then one that differs
/// only in case, as Go does; `null` is `None`.
fn field<'a>(obj: &'a Obj, key: &str) -> Option<&'a Value> {
    obj.get(key)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

fn as_object<'a>(v: &'a Value, what: &str) -> Result<&'a Obj, SecurityError> {
    v.as_object()
        .ok_or_else(|| decode_error(format!("json: cannot unmarshal {} into {what}", kind(v))))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn string(obj: &Obj, key: &str) -> Result<Option<String>, SecurityError> {
    match field(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(decode_error(format!(
            "json: cannot unmarshal {} into field {key} of type string",
            kind(v)
        ))),
    }
}

fn list<'a>(obj: &'a Obj, key: &str) -> Result<&'a [Value], SecurityError> {
    match field(obj, key) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(v) => Err(decode_error(format!(
            "json: cannot unmarshal {} into field {key} of type array",
            kind(v)
        ))),
    }
}

fn strings(obj: &Obj, key: &str) -> Result<Vec<String>, SecurityError> {
    list(obj, key)?
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            // Go leaves a null element as "".
            Value::Null => Ok(String::new()),
            v => Err(decode_error(format!(
                "json: cannot unmarshal {} into field {key} of type string",
                kind(v)
            ))),
        })
        .collect()
}

fn unsigned<T: TryFrom<u64>>(obj: &Obj, key: &str) -> Result<Option<T>, SecurityError> {
    let Some(v) = field(obj, key) else {
        return Ok(None);
    };
    v.as_u64()
        .and_then(|n| T::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| {
            decode_error(format!(
                "json: cannot unmarshal {v} into field {key} of an unsigned integer type"
            ))
        })
}

/// An OCI enum (action, arch, operator, flag) from its SCREAMING_SNAKE name.
fn oci_enum<T: DeserializeOwned>(name: &str, what: &str) -> Result<T, SecurityError> {
    serde_json::from_value(Value::String(name.to_string()))
        .map_err(|_| decode_error(format!("unknown {what} {name:?}")))
}

fn oci_enums<T: DeserializeOwned>(
    obj: &Obj,
    key: &str,
    what: &str,
) -> Result<Vec<T>, SecurityError> {
    strings(obj, key)?
        .iter()
        .map(|s| oci_enum(s, what))
        .collect()
}

/// Parses a profile.
pub fn parse(json: &str) -> Result<DockerProfile, SecurityError> {
    let root: Value = serde_json::from_str(json).map_err(decode_error)?;
    let obj = as_object(&root, "Go value of type seccomp.Seccomp")?;
    let default_action = match string(obj, "defaultAction")?.as_deref() {
        None | Some("") => None,
        Some(a) => Some(oci_enum(a, "seccomp action")?),
    };
    let mut arch_map = Vec::new();
    for entry in list(obj, "archMap")? {
        let e = as_object(entry, "Go value of type seccomp.Architecture")?;
        arch_map.push(ArchGroup {
            arch: match string(e, "architecture")? {
                Some(a) => oci_enum(&a, "architecture")?,
                None => return Err(decode_error("archMap entry without architecture")),
            },
            sub_arches: oci_enums(e, "subArchitectures", "architecture")?,
        });
    }
    let mut syscalls = Vec::new();
    for entry in list(obj, "syscalls")? {
        syscalls.push(syscall(as_object(
            entry,
            "Go value of type seccomp.Syscall",
        )?)?);
    }
    Ok(DockerProfile {
        default_action,
        default_errno_ret: unsigned(obj, "defaultErrnoRet")?,
        architectures: oci_enums(obj, "architectures", "architecture")?,
        arch_map,
        flags: oci_enums(obj, "flags", "seccomp flag")?,
        listener_path: string(obj, "listenerPath")?.filter(|s| !s.is_empty()),
        listener_metadata: string(obj, "listenerMetadata")?.filter(|s| !s.is_empty()),
        syscalls,
    })
}

fn syscall(obj: &Obj) -> Result<SyscallRule, SecurityError> {
    let mut names = strings(obj, "names")?;
    if let Some(name) = string(obj, "name")?.filter(|n| !n.is_empty()) {
        if !names.is_empty() {
            return Err(SecurityError::Failed(
                "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'".into(),
            ));
        }
        names = vec![name];
    }
    let action = match string(obj, "action")? {
        Some(a) if !a.is_empty() => oci_enum(&a, "seccomp action")?,
        _ => {
            return Err(decode_error(format!(
                "syscall rule {names:?} has no action"
            )))
        }
    };
    let mut args = Vec::new();
    for a in list(obj, "args")? {
        args.push(argument(as_object(
            a,
            "Go value of type specs.LinuxSeccompArg",
        )?)?);
    }
    Ok(SyscallRule {
        names,
        action,
        errno_ret: unsigned(obj, "errnoRet")?,
        args,
        comment: string(obj, "comment")?.unwrap_or_default(),
        includes: condition(field(obj, "includes"))?,
        excludes: condition(field(obj, "excludes"))?,
    })
}

fn argument(obj: &Obj) -> Result<LinuxSeccompArg, SecurityError> {
    let op = match string(obj, "op")? {
        Some(op) if !op.is_empty() => oci_enum(&op, "seccomp operator")?,
        _ => return Err(decode_error("syscall argument without op")),
    };
    Ok(arg_with(
        unsigned(obj, "index")?.unwrap_or(0),
        unsigned(obj, "value")?.unwrap_or(0),
        unsigned(obj, "valueTwo")?,
        op,
    ))
}

fn condition(v: Option<&Value>) -> Result<Condition, SecurityError> {
    let Some(v) = v else {
        return Ok(Condition::default());
    };
    let obj = as_object(v, "Go value of type seccomp.Filter")?;
    let min_kernel = match field(obj, "minKernel") {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(kernel_version(s)?),
        Some(other) => {
            return Err(decode_error(format!(
                "invalid kernel version: {other}, expected \"<kernel>.<major>\""
            )))
        }
    };
    Ok(Condition {
        caps: strings(obj, "caps")?,
        arches: strings(obj, "arches")?,
        min_kernel,
    })
}

/// "<kernel>.<major>", each part a number below 256, not "0.0".
fn kernel_version(s: &str) -> Result<KernelVersion, SecurityError> {
    let bad = |why: &str| {
        decode_error(format!(
            "invalid kernel version: \"{s}\", expected \"<kernel>.<major>\"{why}"
        ))
    };
    let parts: Vec<&str> = s.splitn(3, '.').collect();
    let [kernel, major] = parts[..] else {
        return Err(bad(""));
    };
    let (Ok(kernel), Ok(major)) = (kernel.parse::<u8>(), major.parse::<u8>()) else {
        return Err(bad(": invalid syntax"));
    };
    if kernel == 0 && major == 0 {
        return Err(bad(": version cannot be 0.0"));
    }
    Ok(KernelVersion {
        kernel: kernel.into(),
        major: major.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompOperator};

    #[test]
    fn reads_a_full_profile() {
        let p = parse(
            r#"{
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                         "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                        {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}],
            "syscalls": [
              {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
              {"name": "kill", "action": "SCMP_ACT_LOG", "comment": "old form"},
              {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
               "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]}},
              {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
              {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ]}"#,
        )
        .expect("parse");
        assert_eq!(p.default_action, Some(LinuxSeccompAction::ScmpActErrno));
        assert_eq!(p.default_errno_ret, Some(1));
        assert_eq!(
            p.arch_map[0].sub_arches,
            vec![Arch::ScmpArchX86, Arch::ScmpArchX32]
        );
        assert!(p.arch_map[1].sub_arches.is_empty());
        assert_eq!(p.syscalls[1].names, vec!["kill"]);
        assert_eq!(p.syscalls[1].action, LinuxSeccompAction::ScmpActLog);
        let clone = &p.syscalls[2];
        assert_eq!(clone.args[0].op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
        assert_eq!(clone.args[0].value(), 2114060288);
        assert_eq!(clone.excludes.caps, vec!["CAP_SYS_ADMIN"]);
        assert_eq!(
            p.syscalls[3].includes.min_kernel,
            Some(KernelVersion {
                kernel: 4,
                major: 8
            })
        );
        assert_eq!(p.syscalls[4].errno_ret, Some(38));
    }

    #[test]
    fn field_names_match_in_any_case_and_unknown_ones_are_ignored() {
        let p = parse(r#"{"DefaultAction":"SCMP_ACT_ALLOW","SYSCALLS":[{"Names":["x"],"ACTION":"SCMP_ACT_KILL_PROCESS"}],"whatever":1}"#)
            .expect("parse");
        assert_eq!(p.default_action, Some(LinuxSeccompAction::ScmpActAllow));
        assert_eq!(p.syscalls[0].action, LinuxSeccompAction::ScmpActKillProcess);
    }

    #[test]
    fn empty_profile() {
        let p = parse("{}").expect("parse");
        assert_eq!(p, DockerProfile::default());
        let p = parse(r#"{"defaultAction":"","syscalls":null}"#).expect("parse");
        assert_eq!(p, DockerProfile::default());
    }

    #[test]
    fn errors() {
        let e = parse("not json").expect_err("json");
        assert!(e
            .to_string()
            .starts_with("Decoding seccomp profile failed: "));
        let e = parse(r#"{"syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#)
            .expect_err("both");
        assert!(e.to_string().starts_with("both 'name' and 'names'"));
        assert!(parse(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).is_err());
        assert!(parse(r#"{"architectures":["SCMP_ARCH_VAX"]}"#).is_err());
        assert!(parse(r#"{"defaultErrnoRet":-1}"#).is_err());
        let e = parse(r#"{"syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8.1"}}]}"#)
            .expect_err("kernel");
        assert!(e.to_string().contains("invalid kernel version: \"4.8.1\""));
        assert!(kernel_version("0.0").is_err());
        assert!(kernel_version("256.1").is_err());
    }

    #[test]
    fn flags_and_listener() {
        let p = parse(r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG"],"listenerPath":"/run/agent.sock"}"#)
            .expect("parse");
        assert_eq!(p.flags.len(), 1);
        assert_eq!(p.listener_path.as_deref(), Some("/run/agent.sock"));
    }
}

//! Seccomp profiles from the spec, compiled to BPF with `seccompiler`'s rule chains
//! behind a binary search on the syscall number (`seccomp_tree`).
//! One filter per distinct rule action is stacked on a base filter (rules →
//! allow, anything else → defaultAction); the kernel applies the most
//! restrictive answer, which gives OCI's semantics for disjoint rules.
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule,
};
use std::collections::BTreeMap;

fn syscall_number(name: &str) -> Option<i64> {
    #[cfg(target_arch = "x86_64")]
    {
        crate::seccomp_x86_64::number(name)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = name;
        None
    }
}

fn action(a: LinuxSeccompAction, errno: Option<u32>, default_errno: u32) -> Result<SeccompAction> {
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            SeccompAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActErrno => SeccompAction::Errno(errno.unwrap_or(default_errno)),
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(errno.unwrap_or(0)),
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(Error::Unsupported(
                "seccomp SCMP_ACT_NOTIFY is not supported".into(),
            ))
        }
    })
}

fn key(a: &SeccompAction) -> String {
    format!("{a:?}")
}

/// Syscall number → its rules; no rules = matches unconditionally.
type Rules = BTreeMap<i64, Vec<SeccompRule>>;

/// The profile's rules: the base filter's (every listed syscall) with the default action,
/// and, for each action other than allow, the syscalls that get it.
struct Filters {
    default: SeccompAction,
    all: Rules,
    by_action: Vec<(SeccompAction, Rules)>,
}

fn filters(s: &LinuxSeccomp) -> Result<Filters> {
    let default_errno = s.default_errno_ret().unwrap_or(libc::EPERM as u32);
    let default = action(s.default_action(), None, default_errno)?;
    // None = matches unconditionally; Some(rules) = any of the rules.
    type Listed = BTreeMap<i64, Option<Vec<SeccompRule>>>;
    let mut all: Listed = BTreeMap::new();
    let mut by_action: BTreeMap<String, (SeccompAction, Listed)> = BTreeMap::new();
    for sc in s.syscalls().as_deref().unwrap_or(&[]) {
        let act = action(sc.action(), sc.errno_ret(), default_errno)?;
        let mut conds = Vec::new();
        for a in sc.args().as_deref().unwrap_or(&[]) {
            let (op, val) = match a.op() {
                LinuxSeccompOperator::ScmpCmpNe => (SeccompCmpOp::Ne, a.value()),
                LinuxSeccompOperator::ScmpCmpLt => (SeccompCmpOp::Lt, a.value()),
                LinuxSeccompOperator::ScmpCmpLe => (SeccompCmpOp::Le, a.value()),
                LinuxSeccompOperator::ScmpCmpEq => (SeccompCmpOp::Eq, a.value()),
                LinuxSeccompOperator::ScmpCmpGe => (SeccompCmpOp::Ge, a.value()),
                LinuxSeccompOperator::ScmpCmpGt => (SeccompCmpOp::Gt, a.value()),
                LinuxSeccompOperator::ScmpCmpMaskedEq => (
                    SeccompCmpOp::MaskedEq(a.value()),
                    a.value_two().unwrap_or(0),
                ),
            };
            let c = SeccompCondition::new(a.index() as u8, SeccompCmpArgLen::Qword, op, val)
                .map_err(|e| Error::Spec(format!("seccomp condition: {e}")))?;
            conds.push(c);
        }
        for name in sc.names() {
            // Names the kernel does not know here are skipped, as libseccomp does.
            let Some(nr) = syscall_number(name) else {
                continue;
            };
            let rule = if conds.is_empty() {
                None
            } else {
                Some(
                    SeccompRule::new(conds.clone())
                        .map_err(|e| Error::Spec(format!("seccomp rule: {e}")))?,
                )
            };
            for map in [
                &mut all,
                &mut by_action
                    .entry(key(&act))
                    .or_insert_with(|| (act.clone(), BTreeMap::new()))
                    .1,
            ] {
                match (&rule, map.get_mut(&nr)) {
                    (None, _) => {
                        map.insert(nr, None);
                    }
                    (Some(r), None) => {
                        map.insert(nr, Some(vec![r.clone()]));
                    }
                    (Some(r), Some(Some(v))) => v.push(r.clone()),
                    (Some(_), Some(None)) => {}
                }
            }
        }
    }
    let rules = |listed: Listed| -> Rules {
        listed
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect()
    };
    Ok(Filters {
        default,
        all: rules(all),
        by_action: by_action
            .into_values()
            .filter(|(act, _)| *act != SeccompAction::Allow)
            .map(|(act, listed)| (act, rules(listed)))
            .collect(),
    })
}

/// Compiles the profile into the BPF programs to install, in order.
pub fn compile(s: &LinuxSeccomp) -> Result<Vec<BpfProgram>> {
    let arch: seccompiler::TargetArch = std::env::consts::ARCH
        .try_into()
        .map_err(|_| Error::Unsupported(format!("seccomp on {}", std::env::consts::ARCH)))?;
    let Filters {
        default,
        all,
        by_action,
    } = filters(s)?;
    let mut out = Vec::new();
    let mut push = |rules: Rules, mismatch: SeccompAction, matched: SeccompAction| -> Result<()> {
        if mismatch == matched {
            return Ok(());
        }
        let program = crate::seccomp_tree::compile(rules, mismatch, matched, arch)
            .map_err(|e| Error::Spec(format!("seccomp: {e}")))?;
        out.push(program);
        Ok(())
    };
    push(all, default, SeccompAction::Allow)?;
    for (act, rules) in by_action {
        push(rules, SeccompAction::Allow, act)?;
    }
    Ok(out)
}

/// The base filter's rules and the default action, for tests that compare compilers.
#[cfg(test)]
pub fn base_rules(s: &LinuxSeccomp) -> Result<(Rules, SeccompAction)> {
    let f = filters(s)?;
    Ok((f.all, f.default))
}

/// Installs the filters, as runc does: with `SECCOMP_SET_MODE_FILTER` and no
/// `no_new_privs` of its own. Before capabilities are dropped the process holds
/// CAP_SYS_ADMIN, which the kernel accepts instead; the flag is set only when the spec
/// asks for it (`process::finalize`). seccompiler's `apply_filter` would set it always,
/// and setuid programs (`su`, `ping`, `sudo`) would then run without their privileges.
pub fn apply(progs: &[BpfProgram]) -> Result<()> {
    for p in progs {
        install(p)?;
    }
    Ok(())
}

fn install(program: &BpfProgram) -> Result<()> {
    if program.is_empty() {
        return Err(Error::Spec("install seccomp filter: empty program".into()));
    }
    let len = u16::try_from(program.len())
        .map_err(|_| Error::Spec("install seccomp filter: program too long".into()))?;
    let fprog = libc::sock_fprog {
        len,
        // seccompiler's `sock_filter` is `#[repr(C)]` with the kernel's layout.
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `fprog` points at `program`'s instructions, alive for the whole call; the
    // kernel copies the program and keeps no reference to this memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0 as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(Error::Spec(format!(
            "install seccomp filter: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_an_allowlist_with_errno_rules() {
        let s: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                {"names": ["read", "write", "exit_group", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ]
        }))
        .expect("profile");
        let p = compile(&s).expect("compile");
        assert_eq!(p.len(), 2);
        assert_eq!(syscall_number("read"), Some(0));
    }
}

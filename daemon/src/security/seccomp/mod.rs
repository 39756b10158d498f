//! Seccomp: Docker's default profile, and profiles given with
//! `--security-opt seccomp=…`, turned into the OCI spec's `linux.seccomp`.
//!
//! As dockerd: `seccomp=unconfined` means no filter; a privileged container
//! gets no filter unless a profile is given explicitly; everything else gets
//! Docker's default profile, rendered for the container's capabilities (the
//! bounding set), this machine's architecture and its kernel version.
//!
//! berth-runc runs every action of the OCI spec but SCMP_ACT_NOTIFY (it
//! refuses the container then); runc runs them all.

mod default_profile;
mod docker_json;
mod model;

use oci_spec::runtime::LinuxSeccomp;

pub use default_profile::{default_profile, CLONE_NAMESPACE_FLAGS};
pub use model::{
    arg, arg_with, native_arch_name, ArchGroup, Condition, DockerProfile, Host, KernelVersion,
    SyscallRule,
};

use super::opts::SeccompChoice;
use super::SecurityError;

impl DockerProfile {
    /// Reads a profile in Docker's JSON format.
    pub fn from_json(json: &str) -> Result<DockerProfile, SecurityError> {
        docker_json::parse(json)
    }
}

/// The OCI seccomp section for a container that is not privileged, with
/// capabilities `caps` ("CAP_…" names, the bounding set); `None` means no
/// filter.
pub fn profile(
    choice: &SeccompChoice,
    caps: &[String],
) -> Result<Option<LinuxSeccomp>, SecurityError> {
    container_profile(choice, caps, false)
}

/// The OCI seccomp section for a container; `None` means no filter (leave
/// `linux.seccomp` out of the spec).
pub fn container_profile(
    choice: &SeccompChoice,
    caps: &[String],
    privileged: bool,
) -> Result<Option<LinuxSeccomp>, SecurityError> {
    render(choice, caps, privileged, &Host::current())
}

/// [`container_profile`] for a given host.
pub fn render(
    choice: &SeccompChoice,
    caps: &[String],
    privileged: bool,
    host: &Host,
) -> Result<Option<LinuxSeccomp>, SecurityError> {
    match choice {
        SeccompChoice::Unconfined => Ok(None),
        SeccompChoice::Default if privileged => Ok(None),
        SeccompChoice::Default => default_profile().render(caps, host),
        SeccompChoice::Profile(json) => DockerProfile::from_json(json)?.render(caps, host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompOperator, LinuxSyscall};

    fn x86_64() -> Host {
        Host {
            arch: "amd64",
            kernel: Some(KernelVersion {
                kernel: 6,
                major: 1,
            }),
        }
    }

    fn caps(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn default_for(c: &[&str]) -> LinuxSeccomp {
        render(&SeccompChoice::Default, &caps(c), false, &x86_64())
            .expect("render")
            .expect("a filter")
    }

    /// The rules that name `call`.
    fn rules_for<'a>(s: &'a LinuxSeccomp, call: &str) -> Vec<&'a LinuxSyscall> {
        s.syscalls()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .filter(|r| r.names().iter().any(|n| n == call))
            .collect()
    }

    fn allowed_unconditionally(s: &LinuxSeccomp, call: &str) -> bool {
        rules_for(s, call).iter().any(|r| {
            r.action() == LinuxSeccompAction::ScmpActAllow
                && r.args().as_ref().is_none_or(|a| a.is_empty())
        })
    }

    #[test]
    fn default_profile_shape() {
        let s = default_for(crate::security::capabilities::DEFAULT);
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(1));
        assert_eq!(
            s.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
        );
        for call in [
            "read",
            "execve",
            "arch_prctl",
            "modify_ldt",
            "chroot",
            "ptrace",
            "wait4",
        ] {
            assert!(allowed_unconditionally(&s, call), "{call}");
        }
        for call in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "reboot",
            "init_module",
            "bpf",
            "syslog",
            "settimeofday",
            "acct",
            "iopl",
            "mbind",
            "kcmp",
            "open_by_handle_at",
        ] {
            assert!(!allowed_unconditionally(&s, call), "{call}");
        }
        // Arm-only calls are not in an x86_64 profile.
        assert!(rules_for(&s, "cacheflush").is_empty());
    }

    #[test]
    fn clone_is_limited_without_sys_admin() {
        let s = default_for(crate::security::capabilities::DEFAULT);
        let clone = rules_for(&s, "clone");
        assert_eq!(clone.len(), 1);
        let a = clone[0].args().as_deref().expect("args")[0];
        assert_eq!(a.index(), 0);
        assert_eq!(a.op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
        assert_eq!(a.value(), 0x7E02_0000);
        let clone3 = rules_for(&s, "clone3");
        assert_eq!(clone3[0].action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(clone3[0].errno_ret(), Some(38));
    }

    #[test]
    fn sys_admin_opens_namespaces_and_mounts() {
        let s = default_for(&["CAP_SYS_ADMIN"]);
        for call in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "clone",
            "clone3",
            "sethostname",
        ] {
            assert!(allowed_unconditionally(&s, call), "{call}");
        }
        assert_eq!(rules_for(&s, "clone3").len(), 1);
    }

    #[test]
    fn other_capabilities() {
        let pairs = [
            ("CAP_SYS_PTRACE", "kcmp"),
            ("CAP_SYS_MODULE", "finit_module"),
            ("CAP_SYS_TIME", "clock_settime"),
            ("CAP_SYS_BOOT", "reboot"),
            ("CAP_SYSLOG", "syslog"),
            ("CAP_SYS_PACCT", "acct"),
            ("CAP_SYS_RAWIO", "ioperm"),
            ("CAP_SYS_NICE", "set_mempolicy"),
            ("CAP_SYS_TTY_CONFIG", "vhangup"),
            ("CAP_BPF", "bpf"),
            ("CAP_PERFMON", "perf_event_open"),
            ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
        ];
        for (cap, call) in pairs {
            assert!(
                allowed_unconditionally(&default_for(&[cap]), call),
                "{cap} {call}"
            );
            assert!(!allowed_unconditionally(&default_for(&[]), call), "{call}");
        }
    }

    #[test]
    fn socket_and_personality_have_argument_rules() {
        let s = default_for(&[]);
        let socket: Vec<_> = rules_for(&s, "socket")
            .iter()
            .map(|r| {
                let a = r.args().as_deref().expect("args")[0];
                (a.op(), a.value())
            })
            .collect();
        use LinuxSeccompOperator::*;
        assert_eq!(
            socket,
            vec![(ScmpCmpLt, 38), (ScmpCmpEq, 39), (ScmpCmpGt, 40)]
        );
        let personas: Vec<u64> = rules_for(&s, "personality")
            .iter()
            .map(|r| r.args().as_deref().expect("args")[0].value())
            .collect();
        assert_eq!(personas, vec![0, 8, 0x20000, 0x20008, 0xffffffff]);
    }

    #[test]
    fn ptrace_needs_kernel_4_8_without_the_capability() {
        let old = Host {
            arch: "amd64",
            kernel: Some(KernelVersion {
                kernel: 4,
                major: 4,
            }),
        };
        let s = render(&SeccompChoice::Default, &[], false, &old)
            .expect("r")
            .expect("s");
        assert!(!allowed_unconditionally(&s, "ptrace"));
    }

    #[test]
    fn unconfined_and_privileged() {
        assert_eq!(
            render(&SeccompChoice::Unconfined, &[], false, &x86_64()).expect("r"),
            None
        );
        assert_eq!(
            render(&SeccompChoice::Default, &[], true, &x86_64()).expect("r"),
            None
        );
        let custom = SeccompChoice::Profile(r#"{"defaultAction":"SCMP_ACT_LOG"}"#.into());
        let s = render(&custom, &[], true, &x86_64())
            .expect("r")
            .expect("explicit profile");
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActLog);
    }

    #[test]
    fn custom_profile_conditions_use_the_container_caps() {
        let json = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},
                        {"names":["read"],"action":"SCMP_ACT_ALLOW","excludes":{"arches":["amd64"]}}]}"#;
        let choice = SeccompChoice::Profile(json.into());
        let with = render(&choice, &caps(&["CAP_SYS_ADMIN"]), false, &x86_64())
            .expect("r")
            .expect("s");
        assert!(allowed_unconditionally(&with, "mount"));
        assert!(rules_for(&with, "read").is_empty());
        let without = render(&choice, &[], false, &x86_64())
            .expect("r")
            .expect("s");
        assert!(without.syscalls().is_none());
        assert_eq!(
            without.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64][..])
        );
    }

    #[test]
    fn rendered_profile_serialises_like_docker() {
        let s = default_for(&[]);
        let v = serde_json::to_value(&s).expect("json");
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 1);
        assert_eq!(v["architectures"][0], "SCMP_ARCH_X86_64");
        let back: LinuxSeccomp = serde_json::from_value(v).expect("round trip");
        assert_eq!(back, s);
    }

    #[test]
    fn every_default_rule_names_calls() {
        let p = default_profile();
        assert!(p.syscalls.iter().all(|r| !r.names.is_empty()));
        assert_eq!(p.syscalls[0].names.len(), 361);
    }
}

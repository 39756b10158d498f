//! Docker's seccomp profile format (moby/profiles/seccomp's `Seccomp`): the
//! OCI fields plus `archMap`, and syscall rules that apply only with some
//! capabilities, architectures or kernel versions. [`DockerProfile::render`]
//! turns it into the OCI `linux.seccomp` for one container, as moby's
//! setupSeccomp does.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall,
};

use crate::security::SecurityError;

/// A whole profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DockerProfile {
    /// `None` when the profile has no (or an empty) defaultAction.
    pub default_action: Option<LinuxSeccompAction>,
    pub default_errno_ret: Option<u32>,
    pub architectures: Vec<Arch>,
    pub arch_map: Vec<ArchGroup>,
    pub flags: Vec<LinuxSeccompFilterFlag>,
    pub listener_path: Option<String>,
    pub listener_metadata: Option<String>,
    pub syscalls: Vec<SyscallRule>,
}

/// An `archMap` entry: a native architecture and the ones it also runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchGroup {
    pub arch: Arch,
    pub sub_arches: Vec<Arch>,
}

/// One entry of `syscalls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: LinuxSeccompAction,
    pub errno_ret: Option<u32>,
    pub args: Vec<LinuxSeccompArg>,
    pub comment: String,
    /// The rule applies only if all of these hold.
    pub includes: Condition,
    /// The rule is dropped if any of these holds.
    pub excludes: Condition,
}

/// `includes` / `excludes`: capabilities ("CAP_…"), architectures in
/// libseccomp's native spelling ("amd64", "x86", "arm64"…), a kernel version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Condition {
    pub caps: Vec<String>,
    pub arches: Vec<String>,
    pub min_kernel: Option<KernelVersion>,
}

/// A kernel version as "<kernel>.<major>" ("4.8").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    pub kernel: u64,
    pub major: u64,
}

impl KernelVersion {
    /// The version of a kernel release string ("6.1.0-13-amd64"), read as Go's
    /// `Sscanf("%d.%d")`.
    pub fn from_release(release: &str) -> Option<KernelVersion> {
        let (kernel, rest) = release.split_once('.')?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some(KernelVersion {
            kernel: kernel.parse().ok()?,
            major: digits.parse().ok()?,
        })
    }

    /// The running kernel's version.
    pub fn running() -> Option<KernelVersion> {
        let uts = nix::sys::utsname::uname().ok()?;
        KernelVersion::from_release(&uts.release().to_string_lossy())
    }
}

/// What a profile is rendered against, besides the container's capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// libseccomp's name of the native architecture ("amd64").
    pub arch: &'static str,
    /// `None` when the kernel version cannot be read; rules that need it
    /// are then an error, as in moby.
    pub kernel: Option<KernelVersion>,
}

impl Host {
    /// This machine.
    pub fn current() -> Host {
        Host {
            arch: native_arch_name(),
            kernel: KernelVersion::running(),
        }
    }
}

/// libseccomp's name for the architecture this daemon was built for.
pub fn native_arch_name() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loongarch64",
        "mips64" if cfg!(target_endian = "little") => "mipsel64",
        "mips64" => "mips64",
        other => other,
    }
}

/// The seccomp architecture of a libseccomp native name.
fn seccomp_arch(native: &str) -> Option<Arch> {
    Some(match native {
        "x86" => Arch::ScmpArchX86,
        "amd64" => Arch::ScmpArchX86_64,
        "arm" => Arch::ScmpArchArm,
        "arm64" => Arch::ScmpArchAarch64,
        "loong64" | "loongarch64" => Arch::ScmpArchLoongarch64,
        "mips64" => Arch::ScmpArchMips64,
        "mips64n32" => Arch::ScmpArchMips64n32,
        "mipsel64" => Arch::ScmpArchMipsel64,
        "mips3l64n32" => Arch::ScmpArchMipsel64n32,
        "mipsle" => Arch::ScmpArchMipsel,
        "ppc" => Arch::ScmpArchPpc,
        "ppc64" => Arch::ScmpArchPpc64,
        "ppc64le" => Arch::ScmpArchPpc64le,
        "riscv64" => Arch::ScmpArchRiscv64,
        "s390" => Arch::ScmpArchS390,
        "s390x" => Arch::ScmpArchS390x,
        _ => return None,
    })
}

impl SyscallRule {
    /// A rule for `names` with `action` and no conditions.
    pub fn new(names: &[&str], action: LinuxSeccompAction) -> SyscallRule {
        SyscallRule {
            names: names.iter().map(|n| n.to_string()).collect(),
            action,
            errno_ret: None,
            args: Vec::new(),
            comment: String::new(),
            includes: Condition::default(),
            excludes: Condition::default(),
        }
    }

    /// Whether the rule applies to a container with `caps` on `host`.
    fn applies(&self, caps: &[String], host: &Host) -> Result<bool, SecurityError> {
        let ex = &self.excludes;
        if ex.arches.iter().any(|a| a == host.arch) || ex.caps.iter().any(|c| caps.contains(c)) {
            return Ok(false);
        }
        if let Some(min) = ex.min_kernel {
            if kernel_at_least(host, min)? {
                return Ok(false);
            }
        }
        let inc = &self.includes;
        if !inc.arches.is_empty() && !inc.arches.iter().any(|a| a == host.arch) {
            return Ok(false);
        }
        if !inc.caps.iter().all(|c| caps.contains(c)) {
            return Ok(false);
        }
        if let Some(min) = inc.min_kernel {
            if !kernel_at_least(host, min)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn to_oci(&self) -> LinuxSyscall {
        let mut s = LinuxSyscall::default();
        s.set_names(self.names.clone());
        s.set_action(self.action);
        s.set_errno_ret(self.errno_ret);
        if !self.args.is_empty() {
            s.set_args(Some(self.args.clone()));
        }
        s
    }
}

fn kernel_at_least(host: &Host, min: KernelVersion) -> Result<bool, SecurityError> {
    match host.kernel {
        Some(k) => Ok(k >= min),
        None => Err(SecurityError::Failed(
            "failed to parse kernel version of this host".into(),
        )),
    }
}

/// An argument condition, as the profile tables write it.
pub fn arg(index: usize, value: u64, op: LinuxSeccompOperator) -> LinuxSeccompArg {
    arg_with(index, value, None, op)
}

/// An argument condition with a second value (for SCMP_CMP_MASKED_EQ the
/// first value is the mask and the second the expected result).
pub fn arg_with(
    index: usize,
    value: u64,
    value_two: Option<u64>,
    op: LinuxSeccompOperator,
) -> LinuxSeccompArg {
    let builder = LinuxSeccompArgBuilder::default()
        .index(index)
        .value(value)
        .op(op);
    let builder = match value_two {
        Some(v) => builder.value_two(v),
        None => builder,
    };
    // Every field has a value, so building cannot fail; the fallback only
    // keeps this free of unwrap().
    builder.build().unwrap_or_default()
}

impl DockerProfile {
    /// The OCI section for a container whose bounding set is `caps`
    /// ("CAP_…"); `None` when the profile is empty (no defaultAction and no
    /// syscalls), which moby reads as "no filter".
    pub fn render(
        &self,
        caps: &[String],
        host: &Host,
    ) -> Result<Option<LinuxSeccomp>, SecurityError> {
        if self.default_action.is_none() && self.syscalls.is_empty() {
            return Ok(None);
        }
        if !self.architectures.is_empty() && !self.arch_map.is_empty() {
            return Err(SecurityError::Failed(
                "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'".into(),
            ));
        }
        let Some(default_action) = self.default_action else {
            return Err(SecurityError::Failed(
                "the seccomp profile has syscall rules but no defaultAction".into(),
            ));
        };
        let mut arches = self.architectures.clone();
        if let Some(native) = seccomp_arch(host.arch) {
            if let Some(group) = self.arch_map.iter().find(|g| g.arch == native) {
                arches.push(group.arch);
                arches.extend(group.sub_arches.iter().copied());
            }
        }
        let mut syscalls = Vec::new();
        for rule in &self.syscalls {
            if rule.applies(caps, host)? {
                syscalls.push(rule.to_oci());
            }
        }
        let mut out = LinuxSeccomp::default();
        out.set_default_action(default_action);
        out.set_default_errno_ret(self.default_errno_ret);
        out.set_architectures((!arches.is_empty()).then_some(arches));
        out.set_flags((!self.flags.is_empty()).then(|| self.flags.clone()));
        out.set_listener_path(self.listener_path.as_ref().map(Into::into));
        out.set_listener_metadata(self.listener_metadata.clone());
        out.set_syscalls((!syscalls.is_empty()).then_some(syscalls));
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LinuxSeccompAction::*;

    fn host(kernel: Option<(u64, u64)>) -> Host {
        Host {
            arch: "amd64",
            kernel: kernel.map(|(kernel, major)| KernelVersion { kernel, major }),
        }
    }

    #[test]
    fn kernel_versions() {
        let v = |k, m| {
            Some(KernelVersion {
                kernel: k,
                major: m,
            })
        };
        assert_eq!(KernelVersion::from_release("6.18.44-fc-v669"), v(6, 18));
        assert_eq!(KernelVersion::from_release("3.12-1-amd64"), v(3, 12));
        assert_eq!(KernelVersion::from_release("4.8"), v(4, 8));
        assert_eq!(KernelVersion::from_release("garbage"), None);
        assert!(KernelVersion::running().is_some());
    }

    #[test]
    fn conditions() {
        let caps = vec!["CAP_SYS_ADMIN".to_string()];
        let mut r = SyscallRule::new(&["mount"], ScmpActAllow);
        r.includes.caps = caps.clone();
        assert!(r.applies(&caps, &host(None)).expect("ok"));
        assert!(!r.applies(&[], &host(None)).expect("ok"));

        let mut r = SyscallRule::new(&["clone"], ScmpActAllow);
        r.excludes.caps = caps.clone();
        r.excludes.arches = vec!["s390x".into()];
        assert!(r.applies(&[], &host(None)).expect("ok"));
        assert!(!r.applies(&caps, &host(None)).expect("ok"));

        let mut r = SyscallRule::new(&["arch_prctl"], ScmpActAllow);
        r.includes.arches = vec!["arm64".into()];
        assert!(!r.applies(&[], &host(None)).expect("ok"));

        let mut r = SyscallRule::new(&["ptrace"], ScmpActAllow);
        r.includes.min_kernel = Some(KernelVersion {
            kernel: 4,
            major: 8,
        });
        assert!(r.applies(&[], &host(Some((6, 1)))).expect("ok"));
        assert!(r.applies(&[], &host(Some((4, 8)))).expect("ok"));
        assert!(!r.applies(&[], &host(Some((4, 7)))).expect("ok"));
        assert!(r.applies(&[], &host(None)).is_err());
    }

    #[test]
    fn arch_map_expands_for_the_native_arch() {
        let p = DockerProfile {
            default_action: Some(ScmpActErrno),
            arch_map: vec![
                ArchGroup {
                    arch: Arch::ScmpArchAarch64,
                    sub_arches: vec![Arch::ScmpArchArm],
                },
                ArchGroup {
                    arch: Arch::ScmpArchX86_64,
                    sub_arches: vec![Arch::ScmpArchX86, Arch::ScmpArchX32],
                },
            ],
            ..Default::default()
        };
        let s = p.render(&[], &host(None)).expect("render").expect("some");
        assert_eq!(
            s.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
        );
        assert!(s.syscalls().is_none());
    }

    #[test]
    fn empty_profile_means_no_filter_and_conflicts_are_errors() {
        assert_eq!(
            DockerProfile::default()
                .render(&[], &host(None))
                .expect("ok"),
            None
        );
        let p = DockerProfile {
            default_action: Some(ScmpActAllow),
            architectures: vec![Arch::ScmpArchX86_64],
            arch_map: vec![ArchGroup {
                arch: Arch::ScmpArchX86_64,
                sub_arches: vec![],
            }],
            ..Default::default()
        };
        let e = p.render(&[], &host(None)).expect_err("both");
        assert!(e
            .to_string()
            .starts_with("both 'architectures' and 'archMap'"));
    }
}

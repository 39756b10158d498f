//! Docker's default seccomp profile: everything is refused with EPERM except
//! an allowlist; more calls open up with capabilities (a container with
//! CAP_SYS_ADMIN may mount, unshare, setns…); `clone` is allowed without
//! CAP_SYS_ADMIN only when it creates no namespace, and `clone3` then fails
//! with ENOSYS so that libcs fall back to `clone`. Written from moby's
//! profiles/seccomp/default.json; the rules keep its order.

use oci_spec::runtime::{
    Arch, LinuxSeccompAction::ScmpActAllow, LinuxSeccompAction::ScmpActErrno,
    LinuxSeccompOperator as Op,
};

use super::model::{arg, ArchGroup, DockerProfile, KernelVersion, SyscallRule};

/// clone flags that create namespaces: NEWNS | NEWCGROUP | NEWUTS | NEWIPC |
/// NEWUSER | NEWPID | NEWNET (0x7E020000).
pub const CLONE_NAMESPACE_FLAGS: u64 = 0x0002_0000 // CLONE_NEWNS
    | 0x0200_0000 // CLONE_NEWCGROUP
    | 0x0400_0000 // CLONE_NEWUTS
    | 0x0800_0000 // CLONE_NEWIPC
    | 0x1000_0000 // CLONE_NEWUSER
    | 0x2000_0000 // CLONE_NEWPID
    | 0x4000_0000; // CLONE_NEWNET

/// socket() families the profile refuses: AF_ALG (38) and AF_VSOCK (40).
const AF_ALG: u64 = 38;
const AF_NFC: u64 = 39;
const AF_VSOCK: u64 = 40;

/// The calls every container may make.
#[rustfmt::skip]
const ALLOWED: &[&str] = &[
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat",
    "capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime",
    "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
    "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
    "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
    "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2",
    "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit",
    "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
    "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32",
    "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork",
    "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64",
    "fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64",
    "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents",
    "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32",
    "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid",
    "getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid",
    "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname",
    "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32",
    "getxattr", "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1",
    "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc",
    "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
    "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listmount", "listxattr",
    "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat",
    "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret",
    "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
    "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
    "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall",
    "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat",
    "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc",
    "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64",
    "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64",
    "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
    "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
    "removexattr", "removexattrat", "rename", "renameat", "renameat2", "restart_syscall",
    "riscv_hwprobe", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
    "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
    "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
    "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
    "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
    "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
    "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
    "set_tid_address", "setuid", "setuid32", "setxattr", "setxattrat", "shmat", "shmctl",
    "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
    "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
    "statfs64", "statmount", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
    "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
    "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
    "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat",
    "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
    "writev",
];

/// Calls that open up with one capability.
#[rustfmt::skip]
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    ("CAP_SYS_MODULE", &["delete_module", "init_module", "finit_module"]),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    ("CAP_SYS_TIME", &["settimeofday", "stime", "clock_settime", "clock_settime64"]),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    ("CAP_SYS_NICE", &["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// What CAP_SYS_ADMIN opens.
#[rustfmt::skip]
const SYS_ADMIN: &[&str] = &[
    "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
    "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount",
    "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
    "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare",
];

/// Calls only some architectures have, with those architectures.
#[rustfmt::skip]
const BY_ARCH: &[(&[&str], &[&str])] = &[
    (&["ppc64le"], &["sync_file_range2", "swapcontext"]),
    (
        &["arm", "arm64"],
        &["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"],
    ),
    (&["amd64", "x32"], &["arch_prctl"]),
    (&["amd64", "x32", "x86"], &["modify_ldt"]),
    (&["s390", "s390x"], &["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"]),
    (&["riscv64"], &["riscv_flush_icache"]),
];

/// personality() values allowed: PER_LINUX, PER_LINUX32, UNAME26 variants,
/// and the 0xffffffff query.
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

fn allow(names: &[&str]) -> SyscallRule {
    SyscallRule::new(names, ScmpActAllow)
}

fn with_caps(mut rule: SyscallRule, caps: &[&str]) -> SyscallRule {
    rule.includes.caps = caps.iter().map(|c| c.to_string()).collect();
    rule
}

fn on_arches(mut rule: SyscallRule, arches: &[&str]) -> SyscallRule {
    rule.includes.arches = arches.iter().map(|a| a.to_string()).collect();
    rule
}

fn group(arch: Arch, sub_arches: &[Arch]) -> ArchGroup {
    ArchGroup {
        arch,
        sub_arches: sub_arches.to_vec(),
    }
}

/// Docker's default profile, before it is rendered for a container.
pub fn default_profile() -> DockerProfile {
    let mut rules = vec![allow(ALLOWED)];

    let mut trace = allow(&["process_vm_readv", "process_vm_writev", "ptrace"]);
    trace.includes.min_kernel = Some(KernelVersion {
        kernel: 4,
        major: 8,
    });
    rules.push(trace);

    // socket(): every family but AF_ALG and AF_VSOCK.
    for (value, op) in [
        (AF_ALG, Op::ScmpCmpLt),
        (AF_NFC, Op::ScmpCmpEq),
        (AF_VSOCK, Op::ScmpCmpGt),
    ] {
        let mut r = allow(&["socket"]);
        r.args = vec![arg(0, value, op)];
        rules.push(r);
    }
    for &persona in PERSONALITIES {
        let mut r = allow(&["personality"]);
        r.args = vec![arg(0, persona, Op::ScmpCmpEq)];
        rules.push(r);
    }
    for (arches, names) in BY_ARCH {
        rules.push(on_arches(allow(names), arches));
    }
    rules.push(with_caps(
        allow(&["open_by_handle_at"]),
        &["CAP_DAC_READ_SEARCH"],
    ));
    rules.push(with_caps(allow(SYS_ADMIN), &["CAP_SYS_ADMIN"]));

    // Without CAP_SYS_ADMIN: clone without namespace flags (its flags are
    // argument 1 on s390), and clone3 — whose flags seccomp cannot see —
    // fails with ENOSYS so that callers fall back to clone.
    let no_admin = vec!["CAP_SYS_ADMIN".to_string()];
    let mut clone = allow(&["clone"]);
    clone.args = vec![arg(0, CLONE_NAMESPACE_FLAGS, Op::ScmpCmpMaskedEq)];
    clone.excludes.caps = no_admin.clone();
    clone.excludes.arches = vec!["s390".into(), "s390x".into()];
    rules.push(clone);
    let mut clone_s390 = on_arches(allow(&["clone"]), &["s390", "s390x"]);
    clone_s390.args = vec![arg(1, CLONE_NAMESPACE_FLAGS, Op::ScmpCmpMaskedEq)];
    clone_s390.excludes.caps = no_admin.clone();
    clone_s390.comment = "s390 parameter ordering for clone is different".into();
    rules.push(clone_s390);
    let mut clone3 = SyscallRule::new(&["clone3"], ScmpActErrno);
    clone3.errno_ret = Some(libc::ENOSYS as u32);
    clone3.excludes.caps = no_admin;
    rules.push(clone3);

    for (cap, names) in BY_CAPABILITY {
        rules.push(with_caps(allow(names), &[cap]));
    }

    DockerProfile {
        default_action: Some(ScmpActErrno),
        default_errno_ret: Some(libc::EPERM as u32),
        architectures: Vec::new(),
        arch_map: vec![
            group(
                Arch::ScmpArchX86_64,
                &[Arch::ScmpArchX86, Arch::ScmpArchX32],
            ),
            group(Arch::ScmpArchAarch64, &[Arch::ScmpArchArm]),
            group(
                Arch::ScmpArchMips64,
                &[Arch::ScmpArchMips, Arch::ScmpArchMips64n32],
            ),
            group(
                Arch::ScmpArchMips64n32,
                &[Arch::ScmpArchMips, Arch::ScmpArchMips64],
            ),
            group(
                Arch::ScmpArchMipsel64,
                &[Arch::ScmpArchMipsel, Arch::ScmpArchMipsel64n32],
            ),
            group(
                Arch::ScmpArchMipsel64n32,
                &[Arch::ScmpArchMipsel, Arch::ScmpArchMipsel64],
            ),
            group(Arch::ScmpArchS390x, &[Arch::ScmpArchS390]),
            group(Arch::ScmpArchRiscv64, &[]),
            group(Arch::ScmpArchLoongarch64, &[]),
        ],
        flags: Vec::new(),
        listener_path: None,
        listener_metadata: None,
        syscalls: rules,
    }
}

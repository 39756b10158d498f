//! A seccomp filter that finds the syscall number by binary search instead of one
//! comparison per listed syscall, as libseccomp's binary-tree optimisation does.
//!
//! seccompiler's filters compare the number against each listed syscall in turn: about
//! 1 500 instructions for Docker's default profile. The kernel pays for that length at
//! every install, in every container and every exec: it translates and JIT-compiles the
//! program, then runs it once per syscall number to learn which ones are always allowed
//! (the action cache). Here the numbers are split into ranges (runs of syscalls allowed
//! without conditions, gaps that get the other action, one range per syscall with argument
//! conditions), found with `JGE` comparisons: a few hundred instructions, a dozen run per
//! syscall. A syscall with conditions runs seccompiler's own chain for it, spliced in whole
//! (its jumps are relative), so conditions mean exactly what they mean to seccompiler.
use std::collections::BTreeMap;

use seccompiler::{
    sock_filter, BackendError, BpfProgram, SeccompAction, SeccompFilter, SeccompRule, TargetArch,
};

// Instruction codes (linux/bpf_common.h): class | size or operation | source.
/// BPF_LD | BPF_W | BPF_ABS
const BPF_LD_W_ABS: u16 = 0x20;
/// BPF_JMP | BPF_JA
const BPF_JMP_JA: u16 = 0x05;
/// BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP | BPF_JGT | BPF_K, BPF_JMP | BPF_JGE | BPF_K
#[cfg(test)]
const BPF_JMP_JEQ_K: u16 = 0x15;
#[cfg(test)]
const BPF_JMP_JGT_K: u16 = 0x25;
const BPF_JMP_JGE_K: u16 = 0x35;
/// BPF_ALU | BPF_AND | BPF_K
#[cfg(test)]
const BPF_ALU_AND_K: u16 = 0x54;
/// BPF_RET | BPF_K
const BPF_RET_K: u16 = 0x06;
/// `struct seccomp_data`: the syscall number, then the audit architecture.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;
/// seccompiler starts every program with this many instructions of architecture check.
const ARCH_CHECK_LEN: usize = 3;
/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
const MAX_LEN: usize = 4096;

/// A range of syscall numbers and what the filter does for them.
enum Leaf {
    Return(u32),
    /// seccompiler's chain for one syscall with conditions.
    Chain(Vec<sock_filter>),
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The same decisions as `SeccompFilter::new(rules, mismatch, matched, arch)` compiled by
/// seccompiler: syscalls in `rules` with no rule, or with a rule that holds, get `matched`;
/// everything else gets `mismatch`; another architecture kills the process.
pub fn compile(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    mismatch: SeccompAction,
    matched: SeccompAction,
    arch: TargetArch,
) -> Result<BpfProgram, BackendError> {
    // seccompiler checks its arguments (identical actions, empty rules) and gives the
    // architecture check; an empty map is its own program.
    let plain = SeccompFilter::new(BTreeMap::new(), mismatch.clone(), matched.clone(), arch)?;
    let plain = BpfProgram::try_from(plain)?;
    if rules.is_empty() {
        return Ok(plain);
    }
    let mut leaves: Vec<(u32, Leaf)> = Vec::new();
    let (on_mismatch, on_match) = (u32::from(mismatch.clone()), u32::from(matched.clone()));
    let mut next = 0u64; // the first number not yet in a range
    for (nr, chain) in rules {
        let nr = u32::try_from(nr).map_err(|_| BackendError::InvalidArgumentNumber)?;
        if u64::from(nr) > next {
            leaves.push((next as u32, Leaf::Return(on_mismatch)));
        }
        if chain.is_empty() {
            // Extends the allowed run before it, if there is one right there.
            let extends = matches!(leaves.last(), Some((_, Leaf::Return(a))) if *a == on_match)
                && u64::from(nr) == next;
            if !extends {
                leaves.push((nr, Leaf::Return(on_match)));
            }
        } else {
            let one = SeccompFilter::new(
                BTreeMap::from([(i64::from(nr), chain)]),
                mismatch.clone(),
                matched.clone(),
                arch,
            )?;
            let program = BpfProgram::try_from(one)?;
            leaves.push((nr, Leaf::Chain(program[ARCH_CHECK_LEN..].to_vec())));
        }
        next = u64::from(nr) + 1;
    }
    if next <= u64::from(u32::MAX) {
        leaves.push((next as u32, Leaf::Return(on_mismatch)));
    }
    let mut program = plain[..ARCH_CHECK_LEN].to_vec();
    debug_assert_eq!(program[0].k, ARCH_OFFSET);
    program.push(stmt(BPF_LD_W_ABS, NR_OFFSET));
    search(&leaves, &mut program);
    if program.len() > MAX_LEN {
        return Err(BackendError::FilterTooLarge(program.len()));
    }
    Ok(program)
}

/// Emits the search over `leaves` (sorted by their first number, together covering every
/// number from the first): `if nr >= middle { right half } else { left half }`. The jump
/// to the right half is a `JA`, whose offset has 32 bits where a conditional jump has 8.
fn search(leaves: &[(u32, Leaf)], out: &mut Vec<sock_filter>) {
    if let [(_, leaf)] = leaves {
        match leaf {
            Leaf::Return(action) => out.push(stmt(BPF_RET_K, *action)),
            Leaf::Chain(chain) => out.extend_from_slice(chain),
        }
        return;
    }
    let middle = leaves.len() / 2;
    let (left, right) = leaves.split_at(middle);
    out.push(jump(BPF_JMP_JGE_K, right[0].0, 0, 1));
    let ja = out.len();
    out.push(stmt(BPF_JMP_JA, 0));
    search(left, out);
    out[ja].k = (out.len() - ja - 1) as u32;
    search(right, out);
}

/// A classic BPF interpreter for the instructions seccompiler and this module emit, to
/// compare filters in tests: the action returned for one call.
#[cfg(test)]
pub fn run(program: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let word = |offset: u32| -> u32 {
        match offset {
            0 => nr,
            4 => arch,
            o if (16..64).contains(&o) => {
                let arg = args[((o - 16) / 8) as usize];
                if o % 8 == 0 {
                    arg as u32
                } else {
                    (arg >> 32) as u32
                }
            }
            o => panic!("load of offset {o}"),
        }
    };
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let i = &program[pc];
        pc += 1;
        let cond = |taken: bool| if taken { i.jt as usize } else { i.jf as usize };
        match i.code {
            BPF_LD_W_ABS => acc = word(i.k),
            BPF_ALU_AND_K => acc &= i.k,
            BPF_JMP_JA => pc += i.k as usize,
            BPF_JMP_JEQ_K => pc += cond(acc == i.k),
            BPF_JMP_JGE_K => pc += cond(acc >= i.k),
            BPF_JMP_JGT_K => pc += cond(acc > i.k),
            BPF_RET_K => return i.k,
            code => panic!("instruction {code:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition};

    fn arch() -> TargetArch {
        std::env::consts::ARCH.try_into().expect("arch")
    }

    fn rule(index: u8, op: SeccompCmpOp, value: u64) -> SeccompRule {
        let c = SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value).expect("cond");
        SeccompRule::new(vec![c]).expect("rule")
    }

    /// Every number up to past the last listed one, and the edges of 32 bits, with
    /// arguments on both sides of the values the rules name.
    fn assert_same_decisions(rules: BTreeMap<i64, Vec<SeccompRule>>, mismatch: SeccompAction) {
        let linear = BpfProgram::try_from(
            SeccompFilter::new(
                rules.clone(),
                mismatch.clone(),
                SeccompAction::Allow,
                arch(),
            )
            .expect("filter"),
        )
        .expect("linear");
        let tree = compile(rules, mismatch, SeccompAction::Allow, arch()).expect("tree");
        // The architecture the linear filter checks first (`JEQ arch`).
        let audit = linear[1].k;
        let args: [u64; 8] = [0, 1, 8, 37, 39, 41, 0x7E02_0000, u64::MAX];
        let numbers = (0..520).chain([0x3FFF_FFFF, 0x4000_0000, 0x4000_0001, u32::MAX]);
        for nr in numbers {
            for a in args {
                let call = [a, a ^ 4, a, 0, 0, 0];
                assert_eq!(
                    run(&tree, audit, nr, call),
                    run(&linear, audit, nr, call),
                    "syscall {nr} with {call:?}"
                );
            }
        }
        assert_eq!(
            run(&tree, audit ^ 1, 0, [0; 6]),
            libc::SECCOMP_RET_KILL_PROCESS
        );
    }

    #[test]
    fn decides_as_the_linear_filter_of_dockers_default_profile() {
        let profile: oci_spec::runtime::LinuxSeccomp =
            serde_json::from_str(include_str!("assets/test-default-seccomp.json"))
                .expect("profile");
        let programs = crate::seccomp::compile(&profile).expect("compile");
        let base = &programs[0];
        assert!(base.len() < 500, "{} instructions", base.len());
        let (rules, default) = crate::seccomp::base_rules(&profile).expect("rules");
        assert_same_decisions(rules, default);
    }

    #[test]
    fn decides_as_the_linear_filter_for_runs_gaps_and_conditions() {
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        for nr in [0, 1, 2, 3, 7, 9, 10, 300, 301, 435] {
            rules.insert(nr, vec![]);
        }
        rules.insert(4, vec![rule(0, SeccompCmpOp::Eq, 8)]);
        rules.insert(
            41,
            vec![rule(0, SeccompCmpOp::Lt, 38), rule(0, SeccompCmpOp::Gt, 40)],
        );
        rules.insert(56, vec![rule(0, SeccompCmpOp::MaskedEq(0x7E02_0000), 0)]);
        rules.insert(8, vec![rule(1, SeccompCmpOp::Ne, 5)]);
        assert_same_decisions(rules.clone(), SeccompAction::Errno(1));
        assert_same_decisions(rules, SeccompAction::KillProcess);
        let one = BTreeMap::from([(1000i64, vec![])]);
        assert_same_decisions(one, SeccompAction::Errno(38));
    }
}

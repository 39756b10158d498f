//! Running the xtables tools (`iptables`, `ip6tables`, or their `-legacy` variants):
//! one-shot commands, whole-chain rewrites with `*-restore --noflush`, and jumps from
//! built-in chains added once and removed again. The tools take their lock (`-w`), so
//! Berth and other programs changing the same tables do not race.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::firewall::Family;

/// One xtables command and its restore companion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Xtables {
    pub command: &'static str,
    pub restore: &'static str,
}

impl Xtables {
    /// `iptables`/`ip6tables`: whichever variant the host's alternatives point to.
    pub fn default_for(family: Family) -> Xtables {
        match family {
            Family::V4 => Xtables {
                command: "iptables",
                restore: "iptables-restore",
            },
            Family::V6 => Xtables {
                command: "ip6tables",
                restore: "ip6tables-restore",
            },
        }
    }

    /// `iptables-legacy`/`ip6tables-legacy`: the x_tables filter tables nftables cannot see.
    pub fn legacy_for(family: Family) -> Xtables {
        match family {
            Family::V4 => Xtables {
                command: "iptables-legacy",
                restore: "iptables-legacy-restore",
            },
            Family::V6 => Xtables {
                command: "ip6tables-legacy",
                restore: "ip6tables-legacy-restore",
            },
        }
    }

    /// Runs one command; whether it succeeded (a failing `-C` is an answer, not an error).
    pub fn run(&self, args: &[&str]) -> Result<bool> {
        let status = Command::new(self.command)
            .arg("-w")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| Error::io(format!("run {}", self.command), e))?;
        Ok(status.success())
    }

    /// Output of one command (`-S`), empty when it fails.
    pub fn output(&self, args: &[&str]) -> String {
        Command::new(self.command)
            .arg("-w")
            .args(args)
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Feeds `input` to `<restore> -w --noflush`: the chains it declares are
    /// rewritten whole, atomically, and nothing else is touched.
    pub fn restore(&self, input: &str) -> Result<()> {
        let mut child = Command::new(self.restore)
            .args(["-w", "--noflush"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(format!("run {}", self.restore), e))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .map_err(|e| Error::io(format!("write to {}", self.restore), e))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io(format!("wait for {}", self.restore), e))?;
        if !out.status.success() {
            return Err(Error::Firewall(format!(
                "{}: {}",
                self.restore,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    /// Adds `rule` at the head of `table`/`chain` unless it is there already.
    pub fn ensure_first(&self, table: &str, chain: &str, rule: &[&str]) -> Result<()> {
        let check = [&["-t", table, "-C", chain][..], rule].concat();
        if self.run(&check)? {
            return Ok(());
        }
        let insert = [&["-t", table, "-I", chain, "1"][..], rule].concat();
        if self.run(&insert)? {
            Ok(())
        } else {
            Err(Error::Firewall(format!(
                "{}: cannot add {} in {chain}",
                self.command,
                rule.join(" ")
            )))
        }
    }

    /// Removes every copy of `rule` from `table`/`chain`.
    pub fn remove_all(&self, table: &str, chain: &str, rule: &[&str]) -> Result<()> {
        let delete = [&["-t", table, "-D", chain][..], rule].concat();
        while self.run(&delete)? {}
        Ok(())
    }

    /// Creates a user chain when missing, leaving its rules alone when not.
    pub fn ensure_chain(&self, table: &str, chain: &str) -> Result<()> {
        if !self.run(&["-t", table, "-n", "-L", chain])? {
            self.run(&["-t", table, "-N", chain])?;
        }
        Ok(())
    }

    /// Flushes and deletes a chain of Berth's; a missing one is fine.
    pub fn drop_chain(&self, table: &str, chain: &str) -> Result<()> {
        self.run(&["-t", table, "-F", chain])?;
        self.run(&["-t", table, "-X", chain])?;
        Ok(())
    }

    /// Whether the tool is installed (in one of the usual sbin folders or on PATH).
    pub fn installed(&self) -> bool {
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(self.command).exists()))
            .unwrap_or(false);
        on_path
            || ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
                .iter()
                .any(|d| Path::new(d).join(self.command).exists())
    }
}

/// Whether the kernel has x_tables' (legacy) `filter` table of `family` loaded: only
/// then can a legacy `FORWARD` chain drop anything.
pub fn legacy_filter_loaded(family: Family) -> bool {
    let path = match family {
        // thread-self: the namespace of the calling thread (/proc/net is the process's).
        Family::V4 => "/proc/thread-self/net/ip_tables_names",
        Family::V6 => "/proc/thread-self/net/ip6_tables_names",
    };
    std::fs::read_to_string(path)
        .map(|names| names.lines().any(|l| l.trim() == "filter"))
        .unwrap_or(false)
}

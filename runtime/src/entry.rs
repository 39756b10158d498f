//! berth-runc's command line run to its exit code: the binary's `main`, and what a
//! caller that forks instead of executing the binary (berth-shim) runs in its child.
//! Errors go to stderr and to the --log file.
use std::ffi::OsString;

use anyhow::{bail, Context, Result};
use clap::Parser;

use crate::cli::{self, Cli, Cmd};
use crate::{container, exec, logging, query, run, spec, update};

/// Parses `args` (the program name first) and runs the command; returns the exit code
/// (clap's own for bad arguments, `--help` and `--version`).
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    logging::init(logging::LogConfig {
        file: cli.log.clone(),
        json: cli.log_format == "json",
        debug: cli.debug,
    });
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{e:#}");
            logging::error(&msg);
            eprintln!("berth-runc: {msg}");
            1
        }
    }
}

fn create_opts(root: &std::path::Path, a: &cli::CreateArgs) -> Result<container::CreateOpts> {
    if a.preserve_fds > 0 {
        bail!("--preserve-fds is not supported by berth-runc yet");
    }
    Ok(container::CreateOpts {
        root: root.to_path_buf(),
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        pid_file: absolute(&a.pid_file),
        console_socket: absolute(&a.console_socket),
    })
}

fn absolute(p: &Option<std::path::PathBuf>) -> Option<std::path::PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    p.as_ref().map(|p| cwd.join(p))
}

fn dispatch(cli: Cli) -> Result<i32> {
    if cli.systemd_cgroup {
        bail!("--systemd-cgroup is not supported by berth-runc: it manages cgroupfs directly (v1 or v2); drop the flag");
    }
    // Absolute paths: create changes into the bundle directory.
    let cwd = std::env::current_dir().context("current directory")?;
    let root = cwd.join(&cli.root);
    logging::debug(&format!("command {:?}", cli.cmd));
    match &cli.cmd {
        Cmd::Create(a) => {
            container::create(&create_opts(&root, a)?)?;
        }
        Cmd::Run {
            create,
            detach,
            keep,
        } => return Ok(run::run(&create_opts(&root, create)?, *detach, *keep)?),
        Cmd::Start { id } => container::start(&root, id)?,
        Cmd::State { id } => println!("{}", query::state_json(&root, id)?),
        Cmd::Kill { all, id, signal } => {
            let sig = container::parse_signal(signal.as_deref().unwrap_or("SIGTERM"))?;
            container::kill_container(&root, id, sig, *all)?;
        }
        Cmd::Delete { force, id } => container::delete(&root, id, *force)?,
        Cmd::Exec {
            process,
            tty,
            console_socket,
            detach,
            pid_file,
            env,
            cwd,
            user,
            id,
            args,
        } => {
            let o = exec::ExecOpts {
                root: root.clone(),
                id: id.clone(),
                process_file: process.clone(),
                args: args.clone(),
                tty: *tty,
                console_socket: console_socket.clone(),
                detach: *detach,
                pid_file: absolute(pid_file),
                env: env.clone(),
                cwd: cwd.clone(),
                user: user.clone(),
            };
            return Ok(exec::exec(&o)?);
        }
        Cmd::Pause { id } => container::pause(&root, id, true)?,
        Cmd::Resume { id } => container::pause(&root, id, false)?,
        Cmd::Ps {
            format,
            id,
            ps_args,
        } => println!("{}", query::ps(&root, id, format, ps_args)?),
        Cmd::List { format, quiet } => {
            let out = query::list(&root, format, *quiet)?;
            if !out.is_empty() {
                println!("{out}");
            }
        }
        Cmd::Spec { bundle, rootless } => {
            if *rootless {
                bail!("--rootless specs are not supported by berth-runc yet");
            }
            let p = bundle.join("config.json");
            if p.exists() {
                bail!("File {} exists. Remove it first", p.display());
            }
            let v = spec::default_spec()?;
            let text = serde_json::to_string_pretty(&v)?;
            std::fs::write(&p, text).with_context(|| format!("write {}", p.display()))?;
        }
        Cmd::Features => print!("{}", spec::FEATURES),
        Cmd::Update(a) => {
            let doc = match &a.resources {
                Some(p) if p.as_os_str() == "-" => {
                    let mut s = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                        .context("read resources from stdin")?;
                    Some(s)
                }
                Some(p) => Some(
                    std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?,
                ),
                None => None,
            };
            let flags = update::Flags {
                memory: a.memory.clone(),
                memory_swap: a.memory_swap.clone(),
                memory_reservation: a.memory_reservation.clone(),
                cpu_shares: a.cpu_shares,
                cpu_quota: a.cpu_quota,
                cpu_period: a.cpu_period,
                cpuset_cpus: a.cpuset_cpus.clone(),
                cpuset_mems: a.cpuset_mems.clone(),
                pids_limit: a.pids_limit,
            };
            update::update(&root, &a.id, update::change(doc.as_deref(), &flags)?)?;
        }
    }
    Ok(0)
}

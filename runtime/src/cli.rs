//! runc's command line.
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "berth-runc",
    version,
    about = "OCI runtime with runc's command line"
)]
pub struct Cli {
    #[arg(long, global = true, default_value = "/run/berth-runc")]
    pub root: PathBuf,
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    #[arg(long = "log-format", global = true, default_value = "text")]
    pub log_format: String,
    #[arg(long, global = true)]
    pub debug: bool,
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    #[arg(long, global = true, hide = true)]
    pub criu: Option<String>,
    #[arg(long, hide = true)]
    pub rootless: Option<String>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    Create(CreateArgs),
    Run {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(short, long)]
        detach: bool,
        #[arg(long)]
        keep: bool,
    },
    Start {
        id: String,
    },
    State {
        id: String,
    },
    Kill {
        #[arg(short, long)]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    Exec {
        #[arg(short, long)]
        process: Option<PathBuf>,
        #[arg(short, long)]
        tty: bool,
        #[arg(long = "console-socket")]
        console_socket: Option<PathBuf>,
        #[arg(short, long)]
        detach: bool,
        #[arg(long = "pid-file")]
        pid_file: Option<PathBuf>,
        #[arg(short, long)]
        env: Vec<String>,
        #[arg(long)]
        cwd: Option<PathBuf>,
        #[arg(short, long)]
        user: Option<String>,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
    Ps {
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        rootless: bool,
    },
    Features,
    /// New resource limits for a running container (runc's update).
    Update(UpdateArgs),
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// OCI LinuxResources JSON, a file or '-' for stdin
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes (sizes like 64m; -1 for no limit)
    #[arg(long)]
    pub memory: Option<String>,
    /// Memory plus swap limit (-1 for no limit)
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    #[arg(long = "cpu-shares", alias = "cpu-share")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    pub id: String,
}

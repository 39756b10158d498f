//! berth-shim: one per container; the container's parent and subreaper, holder of its
//! stdio or pty, writer of its json-file log and exit status. See docs/engine-protocol.md.
mod attach;
mod cli;
mod control;
mod error;
mod exec;
mod in_process;
mod io;
mod launch;
mod launch_server;
mod log;
mod oom;
mod proc_title;
mod process;
mod reaper;
mod runtime;
mod runtime_child;
mod server;
mod shim;
mod terminal;
mod util;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("start") => {
            let a = cli::StartArgs::parse(&args[1..])?;
            let code = launch::launch(a)?;
            std::process::exit(code);
        }
        Some("launch-server") => {
            let idle = launch_server::parse_args(&args[1..])?;
            std::process::exit(launch_server::serve(idle)?);
        }
        Some("--version") => {
            println!("berth-shim {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        _ => {
            eprintln!(
                "{}\n       berth-shim launch-server [--idle-secs N] [--state-root DIR]",
                cli::USAGE
            );
            std::process::exit(2);
        }
    }
}

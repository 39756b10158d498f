//! berth-containerd: spawns and tracks one berth-shim per task (docs/engine-protocol.md).

use std::sync::Arc;

use anyhow::Context;
use berth_containerd::config::{Cli, Config};
use berth_containerd::engine::Engine;
use berth_containerd::launcher::ProcessLauncher;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    one_malloc_arena();
    run()
}

/// glibc gives each thread that allocates its own arena (up to 8 per CPU), and keeps each
/// arena's freed pages. The supervisor's few requests need no parallel allocation: one arena.
/// Measured with scripts/bench-api.sh's workload (600 runs): anonymous memory after it
/// 1.8 -> 1.5 MiB (MALLOC_ARENA_MAX=1).
fn one_malloc_arena() {
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = if cli.debug { "debug" } else { "info" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = Config::from_cli(&cli)?;
    std::fs::create_dir_all(config.state.join("tasks"))
        .with_context(|| format!("creating {}", config.state.display()))?;
    let launcher = Arc::new(ProcessLauncher::new(&config.shim).with_launch_server(&config.state));
    let address = config.address.clone();
    let engine = Engine::new(config, launcher);
    let found = berth_containerd::recovery::recover(&engine).await;
    tracing::info!(tasks = found.len(), "recovered tasks");
    let listener = berth_containerd::server::bind(&address)
        .with_context(|| format!("binding {}", address.display()))?;
    tracing::info!(address = %address.display(), "serving");
    if let Some(fd) = cli.ready_fd {
        berth_containerd::server::notify_ready(fd);
    }
    berth_containerd::server::serve(engine, listener, &address).await?;
    Ok(())
}

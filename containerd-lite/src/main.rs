//! berth-containerd: spawns and tracks one berth-shim per task (docs/engine-protocol.md).

use std::sync::Arc;

use anyhow::Context;
use berth_containerd::config::{Cli, Config};
use berth_containerd::engine::Engine;
use berth_containerd::launcher::ProcessLauncher;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
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
    let launcher = Arc::new(ProcessLauncher::new(&config.shim));
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

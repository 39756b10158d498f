//! berthd: the Berth daemon. Parses flags and daemon.json, sets up logging, runs the server.
use anyhow::Context;
use clap::Parser;

use berthd::config::{Config, Flags};

/// jemalloc, configured to give memory back: a background thread purges pages freed for a
/// second (`dirty_decay_ms`) at once (`muzzy_decay_ms:0`). Measured (release, 1 000 keep-alive
/// connections opened together, then closed): glibc kept +17 MiB and grew with each round,
/// mimalloc 2.0 kept +17 MiB, jemalloc with these settings +1 MiB.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read when it starts (the name its prefixed build looks for).
/// Its default 4 arenas per CPU are kept: one arena (`narenas:1`, with thread caches up to
/// 4 KiB) kept 1.3 MiB less after scripts/bench-api.sh's workload but cost CPU on every
/// request (A/B on one release binary through `_RJEM_MALLOC_CONF`: `/_ping` 19-22 vs 15-16 us,
/// 100-container list 208-211 vs 179-183 us).
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> std::process::ExitCode {
    let flags = Flags::parse();
    if flags.version {
        println!(
            "Berth version {} (Docker Engine API {}), build {}",
            berthd::api::version::ENGINE_VERSION,
            berthd::api::version::MAX_API_VERSION,
            berthd::api::version::GIT_COMMIT
        );
        return std::process::ExitCode::SUCCESS;
    }
    match run(flags) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("berthd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(flags: Flags) -> anyhow::Result<()> {
    // Logging comes first (so that daemon.json warnings are seen), at the level the flags
    // say; once daemon.json is read, the level is set again from the whole configuration.
    let set_level = init_logging(level_of(
        flags.debug.unwrap_or(false),
        flags.log_level.as_deref().unwrap_or("info"),
    ));
    let config = Config::from_flags(&flags).context("invalid configuration")?;
    set_level(level_of(config.debug, &config.log_level));
    if flags.validate {
        println!("configuration OK");
        return Ok(());
    }
    berthd::server::tls::install_crypto_provider();
    tracing::info!(
        data_root = %config.data_root.display(),
        exec_root = %config.exec_root.display(),
        "Starting up berthd {}",
        berthd::api::version::ENGINE_VERSION
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("berthd")
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(berthd::server::run(config));
    // Blocking work still running (a layer being unpacked, say) must not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    result?;
    Ok(())
}

fn level_of(debug: bool, log_level: &str) -> &'static str {
    match (debug, log_level) {
        (true, _) | (_, "debug") => "debug",
        (_, "warn") => "warn",
        (_, "error") | (_, "fatal") => "error",
        _ => "info",
    }
}

/// Installs the log subscriber; returns a function that changes its level later.
/// `RUST_LOG`, when set, wins over both.
fn init_logging(level: &str) -> impl Fn(&str) {
    use tracing_subscriber::prelude::*;
    let filter_for = |level: &str| {
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!(
                "{level},h2=info,hyper=info,rustls=info,netlink_packet_route=error"
            ))
        })
    };
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter_for(level));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .try_init();
    move |level: &str| {
        let _ = handle.reload(filter_for(level));
    }
}

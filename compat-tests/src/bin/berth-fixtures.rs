//! Builds the compat tests' fixture images, pushes them to the loopback registries started by
//! `scripts/registries.sh`, and writes the fixtures JSON (`$BERTH_FIXTURES`).
//!
//! Usage: berth-fixtures [--dir DIR] [--registry ADDR] [--auth-registry ADDR] [--token-registry ADDR] [--no-push]
//! Prints the path of the JSON file on stdout.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use compat_tests::fixtures::{cache::Cache, catalog, output, push, PASSWORD, USERNAME};
use compat_tests::token;
use oci_client::secrets::RegistryAuth;

fn default_dir() -> PathBuf {
    std::env::var_os("BERTH_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/berth-fixtures"
            ))
        })
}

fn default_registry(var: &str, port: u16) -> String {
    format!(
        "127.0.0.1:{}",
        std::env::var(var)
            .ok()
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or(port)
    )
}

#[derive(Debug, Parser)]
#[command(
    about = "Build Berth's fixture images, push them to the test registries, write fixtures.json"
)]
struct Args {
    /// Working directory: cache/, fixtures.json. Default $BERTH_FIXTURES_DIR or <repo>/target/berth-fixtures.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Anonymous registry. Default 127.0.0.1:$BERTH_REGISTRY_PORT (15000).
    #[arg(long)]
    registry: Option<String>,
    /// Basic-auth registry. Default 127.0.0.1:$BERTH_AUTH_REGISTRY_PORT (15001).
    #[arg(long)]
    auth_registry: Option<String>,
    /// Bearer-token registry (gets busybox and hello). Default 127.0.0.1:$BERTH_TOKEN_REGISTRY_PORT (15002).
    #[arg(long)]
    token_registry: Option<String>,
    /// Its token server, recorded in the JSON. Default 127.0.0.1:$BERTH_TOKEN_SERVER_PORT (15003).
    #[arg(long)]
    token_server: Option<String>,
    /// Static busybox to put in the images.
    #[arg(long, default_value = "/bin/busybox")]
    busybox: PathBuf,
    /// Source of /hello.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hello.c"))]
    hello_c: PathBuf,
    /// Source of the netclient image's /usr/local/bin/netclient.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/netclient.c"))]
    netclient_c: PathBuf,
    /// Where to write the JSON. Default DIR/fixtures.json.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Build only (no registry needed); the JSON is still written.
    #[arg(long)]
    no_push: bool,
    /// Only these fixtures (comma-separated names); default all.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let dir = args.dir.clone().unwrap_or_else(default_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    let registry = args
        .registry
        .clone()
        .unwrap_or_else(|| default_registry("BERTH_REGISTRY_PORT", 15000));
    let auth_registry = args
        .auth_registry
        .clone()
        .unwrap_or_else(|| default_registry("BERTH_AUTH_REGISTRY_PORT", 15001));
    let token_registry = args.token_registry.clone().unwrap_or_else(|| {
        default_registry("BERTH_TOKEN_REGISTRY_PORT", token::DEFAULT_REGISTRY_PORT)
    });
    let token_server = args
        .token_server
        .clone()
        .unwrap_or_else(|| default_registry("BERTH_TOKEN_SERVER_PORT", token::DEFAULT_SERVER_PORT));
    // The token server's signing key and certificate (made by whichever comes first: this or
    // scripts/registries.sh starting the token server; reused afterwards).
    let token_key = token::keys::ensure(&dir.join(token::SIGNING_DIR))?;

    let cache = Cache::new(dir.join("cache"));
    let inputs = catalog::Inputs {
        busybox: args.busybox.clone(),
        hello_c: args.hello_c.clone(),
        netclient_c: args.netclient_c.clone(),
    };
    // Building is CPU-bound and synchronous: keep it off the async workers.
    let fixtures = {
        let cache = cache.clone();
        let only = args.only.clone();
        let wanted = move |name: &str| only.is_empty() || only.iter().any(|o| o == name);
        tokio::task::spawn_blocking(move || catalog::build_all(&cache, &inputs, &wanted))
            .await
            .context("build task panicked")??
    };
    eprintln!(
        "berth-fixtures: built {} images in {:.1?}",
        fixtures.len(),
        started.elapsed()
    );

    if !args.no_push {
        let targets = [
            push::Target {
                registry: registry.clone(),
                auth: RegistryAuth::Anonymous,
                is_auth_registry: false,
                only: None,
            },
            push::Target {
                registry: auth_registry.clone(),
                auth: RegistryAuth::Basic(USERNAME.into(), PASSWORD.into()),
                is_auth_registry: true,
                only: None,
            },
            push::Target {
                registry: token_registry.clone(),
                auth: RegistryAuth::Basic(USERNAME.into(), PASSWORD.into()),
                is_auth_registry: false,
                only: Some(token::IMAGES.iter().map(|s| s.to_string()).collect()),
            },
        ];
        let pushed = push::push_all(&cache, &targets, &fixtures).await?;
        eprintln!(
            "berth-fixtures: {pushed} pushes, done in {:.1?}",
            started.elapsed()
        );
    }

    let out = args.out.unwrap_or_else(|| dir.join("fixtures.json"));
    let file = output::fixtures_file(&registry, &auth_registry, &fixtures);
    let file =
        output::with_token_registry(file, &token_registry, &token_server, token_key.cert_path());
    output::write(&out, &file)?;
    println!("{}", out.display());
    Ok(())
}

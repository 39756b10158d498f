//! The compat tests' registry token server (Docker token protocol, ES256 JWTs with `x5c`).
//! scripts/registries.sh runs it in front of the token-auth registry.
//!
//! Usage: berth-token-server [--listen ADDR] [--dir DIR] [--init]
//! With --init it only makes sure the signing key and certificate exist, prints the
//! certificate's path and exits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use compat_tests::fixtures::{PASSWORD, USERNAME};
use compat_tests::token::{self, keys, server};

fn default_dir() -> PathBuf {
    std::env::var_os("BERTH_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/berth-fixtures"
            ))
        })
        .join(token::SIGNING_DIR)
}

fn default_listen() -> SocketAddr {
    let port = std::env::var("BERTH_TOKEN_SERVER_PORT")
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(token::DEFAULT_SERVER_PORT);
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[derive(Debug, Parser)]
#[command(about = "Token server for Berth's bearer-token test registry")]
struct Args {
    /// Address to listen on. Default 127.0.0.1:$BERTH_TOKEN_SERVER_PORT (15003).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Signing key directory (key.pem, cert.pem), made when missing.
    /// Default $BERTH_FIXTURES_DIR/registry-token/signing.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The tokens' issuer (the registry's auth.token.issuer).
    #[arg(long, default_value = token::ISSUER)]
    issuer: String,
    /// The tokens' audience (the registry's auth.token.service).
    #[arg(long, default_value = token::SERVICE)]
    service: String,
    /// The one user.
    #[arg(long, default_value = USERNAME)]
    username: String,
    #[arg(long, default_value = PASSWORD)]
    password: String,
    /// Token lifetime in seconds.
    #[arg(long, default_value_t = token::EXPIRES_IN)]
    expires_in: i64,
    /// Only create the key and certificate, print the certificate's path, exit.
    #[arg(long)]
    init: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = args.dir.clone().unwrap_or_else(default_dir);
    let key = keys::ensure(&dir)?;
    if args.init {
        println!("{}", key.cert_path().display());
        return Ok(());
    }
    let listen = args.listen.unwrap_or_else(default_listen);
    let config = server::Config {
        issuer: args.issuer,
        service: args.service,
        username: args.username,
        password: args.password,
        expires_in: args.expires_in,
    };
    eprintln!(
        "berth-token-server: listening on {listen}, issuer {:?}, service {:?}, certificate {}",
        config.issuer,
        config.service,
        key.cert_path().display()
    );
    let app = server::router(Arc::new(server::TokenServer { config, key }));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    axum::serve(listener, app).await.context("serving")?;
    Ok(())
}

//! berthd: the Docker Engine API daemon of Berth.
//!
//! Layout (one concern per module):
//! - `config`    — command-line flags and daemon.json, resolved into `Config`.
//! - `server`    — listeners: unix sockets, TCP, TLS; graceful shutdown.
//! - `api`       — the HTTP router, version prefixes, Docker-shaped errors, handlers.
//! - `state`     — `Daemon`, the shared state every handler sees.
//! - `store`     — content store (blobs), layer store (unpacked layers), image records.
//! - `reference` — Docker image reference parsing and normalisation.
//! - `registry`  — pulling and pushing images with oci-client, registry auth.
//! - `progress`  — the JSON progress messages the CLI draws as progress bars.
pub mod api;
pub mod config;
pub mod images;
pub mod progress;
pub mod reference;
pub mod registry;
pub mod server;
pub mod state;
pub mod store;

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
//! - `containers` — container records, create, lifecycle through berth-containerd.
//! - `security`  — capabilities, seccomp, security options, users and groups.
//! - `streams`   — logs, attach and exec streams, hijacked connections.
//! - `stats`     — container stats and top.
//! - `events`    — the event bus behind `GET /events`.
//! - `gotext`    — Go's text forms dockerd's messages use (`%q`, `url.QueryEscape`).
//! - `gojson`    — JSON request bodies decoded as Go's encoding/json does (keys matched case-insensitively).
//! - `volumes`   — volumes of the local driver: store, names, options, filters, prune.
//! - `build`     — the classic builder behind `POST /build`.
//! - `cri`       — the Kubernetes CRI server (crate `berth-cri`) over berthd's images,
//!   berth-containerd and security defaults.
#![recursion_limit = "256"]
pub mod api;
pub mod build;
pub mod config;
pub mod containers;
pub mod cri;
pub mod events;
pub mod gojson;
pub mod gotext;
pub mod images;
pub mod in_root;
pub mod networks;
pub mod progress;
pub mod reference;
pub mod registry;
pub mod security;
pub mod server;
pub mod state;
pub mod stats;
pub mod store;
pub mod streams;
pub mod volumes;

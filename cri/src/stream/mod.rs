//! The streaming server of Exec, Attach and PortForward, as the kubelet's
//! (k8s.io/kubelet/pkg/cri/streaming, which containerd embeds): the CRI call validates the
//! request and answers a URL with a single-use token (valid one minute); the client then
//! connects to that URL and upgrades the HTTP connection to SPDY/3.1, opening one stream
//! per channel (remotecommand protocols v1–v5 for exec and attach, portforward.k8s.io for
//! port forwarding).
//!
//! - `server`        — the HTTP listener, the token cache, the upgrade.
//! - `spdy`          — SPDY/3.1 framing and its zlib-compressed header blocks.
//! - `remotecommand` — exec and attach over SPDY streams (stdin, stdout, stderr, error,
//!   resize).
//! - `portforward`   — port forwarding into a pod's network namespace.
//! - `attach`        — the shim's attach socket (the container side of exec and attach).
pub mod attach;
pub mod portforward;
pub mod remotecommand;
pub mod server;
pub mod spdy;

pub use server::StreamServer;

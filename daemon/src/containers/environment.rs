//! What a run needs besides its task, made in one place and released in one place: the
//! overlay root, the volumes, the network sandbox (namespace, endpoints, ports, DNS) and
//! the OCI bundle. `prepare` undoes what it made when a step fails; `teardown` releases
//! a run's resources and may be called more than once (only the first call lets go of
//! the run's hold on the overlay). As dockerd's `containerStart` setup and `Cleanup`.
//!
//! [`RunEnvironment`] is the seam: [`HostEnvironment`] does it on this host (root
//! needed); tests use a recording fake (`containers/lifecycle_tests`).
use std::collections::HashSet;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use super::record::Container;
use super::{rootfs, timing, ContainerError, Result};
use crate::state::{Daemon, SharedDaemon};

pub type EnvFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What `prepare` made: the OCI bundle's folder, and the network's endpoints while they
/// are still being made.
pub struct Prepared {
    pub bundle: PathBuf,
    pub network: NetworkSetup,
}

/// The endpoints, ports and DNS of a run's namespace, made meanwhile by a task of their
/// own (`networks::sandbox::Connect`): they go on while the runtime creates the
/// container, and must be finished before its process starts. On an error they have
/// released the sandbox; the rest of the run is the caller's to tear down.
pub struct NetworkSetup(Option<tokio::task::JoinHandle<Result<()>>>);

impl NetworkSetup {
    /// Nothing left to make.
    pub fn done() -> NetworkSetup {
        NetworkSetup(None)
    }

    /// Being made by `task`.
    pub fn pending(task: tokio::task::JoinHandle<Result<()>>) -> NetworkSetup {
        NetworkSetup(Some(task))
    }

    /// Waits until it is made.
    pub async fn finished(self) -> Result<()> {
        match self.0 {
            None => Ok(()),
            Some(task) => task.await.unwrap_or_else(|e| {
                Err(ContainerError::Internal(format!(
                    "setting up the network: {e}"
                )))
            }),
        }
    }
}

pub trait RunEnvironment: Send + Sync {
    /// Makes everything the run of `c` needs: the bundle's folder, the network's
    /// endpoints perhaps still under way. On an error nothing of it is left.
    fn prepare<'a>(
        &'a self,
        daemon: &'a SharedDaemon,
        c: &'a Container,
    ) -> EnvFuture<'a, Result<Prepared>>;
    /// Releases what `prepare` made for the run of `c`. Safe to call again.
    fn teardown<'a>(&'a self, daemon: &'a SharedDaemon, c: &'a Container) -> EnvFuture<'a, ()>;
    /// After berthd restarts: the run of `c` (recorded running) holds its resources.
    fn adopt(&self, c: &Container);
    /// After berthd restarts, for a container that does not run: whatever an
    /// interrupted run left (a mounted root, volumes, a network namespace and its
    /// addresses, processes in its cgroup) is released.
    fn release_leftovers<'a>(&'a self, daemon: &'a Daemon, c: &'a Container) -> EnvFuture<'a, ()>;
}

/// The OCI bundle folder of a container: `<exec-root>/containers/<id>`.
pub fn bundle_dir(daemon: &Daemon, id: &str) -> PathBuf {
    daemon.config.exec_root.join("containers").join(id)
}

/// The real thing: overlay mounts, volume mounts, netd, the bundle on disk.
#[derive(Default)]
pub struct HostEnvironment {
    /// Containers whose run holds its overlay mounted (one `unmount_rootfs` is owed).
    holding: Arc<Mutex<HashSet<String>>>,
}

fn hold(holding: &Mutex<HashSet<String>>) -> std::sync::MutexGuard<'_, HashSet<String>> {
    holding.lock().unwrap_or_else(|p| p.into_inner())
}

impl HostEnvironment {
    fn holding(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        hold(&self.holding)
    }

    async fn prepare_run(&self, daemon: &SharedDaemon, c: &Container) -> Result<Prepared> {
        // Whatever fails or is cut short from here on is released again.
        let undo = Undo {
            env: self,
            daemon,
            c,
            armed: true,
        };
        // The root (mount syscalls, on a blocking thread) and the network sandbox at once.
        let rootfs = {
            let (daemon, c) = (daemon.clone(), c.clone());
            tokio::task::spawn_blocking(move || {
                let _stage = timing::stage("start.rootfs", &c.id);
                rootfs::check_layers(&daemon.layers, &c.layers)?;
                rootfs::mount_rootfs(&c, &daemon.config.data_root.join("layers"))
            })
        };
        let network = async {
            let _stage = timing::stage("start.network", &c.id);
            crate::networks::sandbox::setup(daemon, c).await
        };
        let (merged, netns) = tokio::join!(rootfs, network);
        let merged = merged
            .map_err(|e| ContainerError::Internal(format!("mounting the root: {e}")))
            .and_then(|r| r);
        if merged.is_ok() {
            self.holding().insert(c.id.clone());
        }
        let (merged, sandbox) = (merged?, netns?);
        let mut connect = sandbox.connect;
        if net_sysctls(c) {
            // The runtime writes the container's `net.*` sysctls into the namespace: its
            // interfaces must be there first, as in dockerd (whose hook runs before).
            if let Some(connect) = connect.take() {
                let _stage = timing::stage("start.network_connect", &c.id);
                connect.run(daemon).await?;
            }
        }
        let netns = sandbox.netns;
        let volumes_stage = timing::stage("start.volumes", &c.id);
        let mounts = super::mounts::setup::setup(daemon, c)?;
        drop(volumes_stage);
        let _spec = timing::stage("start.spec", &c.id);
        // The runtime mounts from pinned sources where the record names a volume.
        let for_runtime = Container {
            mount_points: mounts,
            ..c.clone()
        };
        let bundle = super::start::write_bundle(daemon, &for_runtime, &merged, netns.as_deref())?;
        undo.disarm();
        let network = match connect {
            None => NetworkSetup::done(),
            Some(connect) => {
                let (daemon, id) = (daemon.clone(), c.id.clone());
                NetworkSetup::pending(tokio::spawn(async move {
                    let _stage = timing::stage("start.network_connect", &id);
                    connect.run(&daemon).await.map_err(ContainerError::from)
                }))
            }
        };
        Ok(Prepared { bundle, network })
    }

    fn release_now(&self, daemon: &Daemon, c: &Container) {
        release_on_host(&self.holding, daemon, c);
    }
}

/// Whether the container sets sysctls of its network namespace (`--sysctl net.…`).
fn net_sysctls(c: &Container) -> bool {
    c.host_config
        .sysctls
        .as_ref()
        .is_some_and(|s| s.keys().any(|k| k.starts_with("net.")))
}

/// What a run held on this host besides its network: volumes, the overlay root (when
/// this run holds it), leftover processes, the bundle. Blocking (unmounts).
fn release_on_host(holding: &Mutex<HashSet<String>>, daemon: &Daemon, c: &Container) {
    super::mounts::setup::release(daemon, c);
    super::shared_namespaces::release(c);
    if hold(holding).remove(&c.id) {
        rootfs::unmount_rootfs(c);
    }
    // Nothing, unless the shim died and nobody reaped the container's processes.
    super::cgroup_leftovers::kill(c);
    let bundle = bundle_dir(daemon, &c.id);
    if let Err(e) = std::fs::remove_dir_all(&bundle) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(id = %c.id, error = %e, "removing the bundle");
        }
    }
}

/// Releases a half-made run if `prepare_run` does not get to its end (an error, or its
/// future dropped): the synchronous parts at once, the network in a task of its own.
/// Everything it calls copes with what was never made.
struct Undo<'a> {
    env: &'a HostEnvironment,
    daemon: &'a SharedDaemon,
    c: &'a Container,
    armed: bool,
}

impl Undo<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.env.release_now(self.daemon, self.c);
        let daemon = self.daemon.clone();
        let c = self.c.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { crate::networks::sandbox::release(&daemon, &c).await });
        }
    }
}

impl RunEnvironment for HostEnvironment {
    fn prepare<'a>(
        &'a self,
        daemon: &'a SharedDaemon,
        c: &'a Container,
    ) -> EnvFuture<'a, Result<Prepared>> {
        Box::pin(self.prepare_run(daemon, c))
    }

    fn teardown<'a>(&'a self, daemon: &'a SharedDaemon, c: &'a Container) -> EnvFuture<'a, ()> {
        Box::pin(async move {
            // The root's unmount (overlayfs syncs its upper filesystem, the mount table
            // waits for an RCU grace period) on a blocking thread, not a runtime worker,
            // and the network's release meanwhile. Once begun, it ends, whatever happens
            // to this future.
            let on_host = {
                let (holding, daemon, c) = (self.holding.clone(), daemon.clone(), c.clone());
                tokio::task::spawn_blocking(move || {
                    let _stage = timing::stage("teardown.rootfs", &c.id);
                    release_on_host(&holding, &daemon, &c);
                })
            };
            let network = async {
                let _stage = timing::stage("teardown.network", &c.id);
                crate::networks::sandbox::release(daemon, c).await;
            };
            let (on_host, ()) = tokio::join!(on_host, network);
            if let Err(e) = on_host {
                tracing::warn!(id = %c.id, error = %e, "releasing the run's root and volumes");
            }
        })
    }

    fn adopt(&self, c: &Container) {
        self.holding().insert(c.id.clone());
    }

    fn release_leftovers<'a>(&'a self, daemon: &'a Daemon, c: &'a Container) -> EnvFuture<'a, ()> {
        Box::pin(async move {
            if !self.holding().contains(&c.id) {
                // No run holds it; an export or a `cp` cannot, berthd just started.
                rootfs::unmount_unheld(c);
            }
            self.release_now(daemon, c);
            crate::networks::sandbox::release(daemon, c).await;
        })
    }
}

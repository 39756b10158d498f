//! A running container's networking: its namespace from netd, its endpoints on each
//! network, its published ports, its embedded DNS, its /etc/hosts and resolv.conf —
//! made at start, released when it stops or goes, put back after a restart of berthd.
use std::net::Ipv4Addr;
use std::path::PathBuf;

use netd::netns::NetnsPath;

use super::endpoints::{ContainerNetwork, EndpointRequest, Mode};
use super::record::{new_id, EndpointRecord};
use super::{events, ports, NetworkError, Result};
use crate::containers::record::Container;
use crate::state::Daemon;

/// The names a container answers to on a network's embedded DNS (`DNSNames`), as
/// moby's `buildEndpointDNSNames`: name, aliases, short ID, hostname, each once.
pub(super) fn dns_names(c: &Container, aliases: &[String]) -> Vec<String> {
    let mut names = vec![c.bare_name().to_string()];
    names.extend(aliases.iter().cloned());
    names.push(c.short_id().to_string());
    if let Some(h) = c.config.hostname.as_deref().filter(|h| !h.is_empty()) {
        names.push(h.to_string());
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// Connects a container's namespace to one network and records the endpoint.
pub(super) async fn attach(
    daemon: &Daemon,
    c: &Container,
    ns: &NetnsPath,
    request: &EndpointRequest,
    ifname: &str,
) -> Result<EndpointRecord> {
    let netd = daemon.networks.netd()?;
    let network = daemon.networks.find(&request.network_id)?;
    let ip = match &request.ipv4 {
        Some(ip) => Some(
            ip.parse::<Ipv4Addr>()
                .map_err(|_| NetworkError::Invalid(format!("invalid IPv4 address: {ip}")))?,
        ),
        None => None,
    };
    let ip6 = match &request.ipv6 {
        Some(ip) => Some(
            ip.parse::<std::net::Ipv6Addr>()
                .map_err(|_| NetworkError::Invalid(format!("invalid IPv6 address: {ip}")))?,
        ),
        None => None,
    };
    let mac = match &request.mac {
        Some(m) => Some(netd::network::endpoint::parse_mac(m)?),
        None => None,
    };
    let user_defined = network.name != "bridge";
    let names = dns_names(c, &request.aliases);
    let link_local = request
        .link_local_ips
        .iter()
        .filter_map(|ip| ip.parse::<Ipv4Addr>().ok())
        .collect();
    let connected = netd
        .connect(&netd::ConnectRequest {
            network_id: network.id.clone(),
            container_id: c.id.clone(),
            netns: ns.clone(),
            ifname: ifname.to_string(),
            ip,
            ip6,
            mac,
            names: if user_defined {
                names.clone()
            } else {
                Vec::new()
            },
            gw_priority: request.gw_priority,
            links: if user_defined {
                super::links::endpoint_links(daemon, &request.links)
            } else {
                Vec::new()
            },
            link_local,
        })
        .await?;
    let endpoint = EndpointRecord {
        name: c.bare_name().to_string(),
        endpoint_id: new_id(),
        mac: connected.endpoint.mac_string(),
        ip: connected.endpoint.address.addr().to_string(),
        prefix_len: connected.endpoint.address.prefix_len(),
        gateway: connected.gateway.to_string(),
        ipv6: connected
            .ip6
            .map(|a| a.addr().to_string())
            .unwrap_or_default(),
        ipv6_prefix_len: connected.ip6.map_or(0, |a| a.prefix_len()),
        ipv6_gateway: connected
            .gateway6
            .map(|g| g.to_string())
            .unwrap_or_default(),
        aliases: request.aliases.clone(),
        dns_names: if user_defined { names } else { Vec::new() },
    };
    daemon.networks.update_endpoints(&network.id, |endpoints| {
        endpoints.insert(c.id.clone(), endpoint.clone());
    })?;
    Ok(endpoint)
}

/// Whether any network the container is on has the embedded DNS (user-defined ones).
pub(super) fn has_embedded_dns(daemon: &Daemon, state: &ContainerNetwork) -> bool {
    state.requests.iter().any(|r| {
        daemon
            .networks
            .find(&r.network_id)
            .is_ok_and(|n| n.name != "bridge")
    })
}

/// A run's network sandbox as `setup` leaves it: the namespace the OCI spec joins
/// (`None`: the host's, for `--network host`) and, for a namespace of its own, what is
/// still to be made in it.
pub struct Sandbox {
    pub netns: Option<PathBuf>,
    pub connect: Option<Connect>,
}

/// The endpoints, published ports, embedded DNS, /etc/hosts and resolv.conf of a
/// namespace `setup` made, and the connect events: the part of the sandbox that can be
/// made while the runtime creates the container (which joins the namespace and waits),
/// as dockerd's libnetwork does from the runtime's prestart hook. It must be done before
/// the container's process starts.
pub struct Connect {
    c: Container,
    ns: NetnsPath,
    state: ContainerNetwork,
    link_hosts: Vec<String>,
}

impl Connect {
    /// Makes it all; on failure everything of the sandbox is released again.
    pub async fn run(self, daemon: &Daemon) -> Result<()> {
        let Connect {
            c,
            ns,
            state,
            link_hosts,
        } = self;
        match connect_all(daemon, &c, &ns, &state, &link_hosts).await {
            Ok(()) => {
                announce(daemon, &c);
                Ok(())
            }
            Err(e) => {
                release(daemon, &c).await;
                Err(e)
            }
        }
    }
}

/// At start: the network namespace (or the one joined), /etc/hosts and resolv.conf as
/// at create, the links checked; what remains to make in the namespace is returned as
/// `Sandbox::connect`. On failure everything made is released again.
pub async fn setup(daemon: &Daemon, c: &Container) -> Result<Sandbox> {
    let sandbox = setup_namespace(daemon, c).await?;
    if sandbox.connect.is_none() {
        announce(daemon, c);
    }
    Ok(sandbox)
}

/// Records the networks the container is now on and sends their connect events (none
/// for `container:<x>`, whose networks are the other container's).
fn announce(daemon: &Daemon, c: &Container) {
    let mut state = daemon.networks.container_state_to_change(&c.dir);
    let ids = networks_joined(daemon, c, &state);
    if ids.is_empty() {
        return;
    }
    events::publish_all(daemon, events::CONNECT, &ids, &c.id);
    state.connected = ids;
    // Nothing is written when the namespace's record said so already (`--network none`).
    if let Err(e) = daemon.networks.save_container_run_state(&c.dir, &state) {
        tracing::warn!(container = %c.id, "{e}");
    }
}

/// The networks a started container is on: its mode's (`host`, `none`) or the ones it
/// has endpoint requests for; none for `container:<x>`, whose networks are the other's.
fn networks_joined(daemon: &Daemon, c: &Container, state: &ContainerNetwork) -> Vec<String> {
    match Mode::of(c) {
        Mode::Container(_) => Vec::new(),
        Mode::None if state.left_none => state
            .requests
            .iter()
            .map(|r| r.network_id.clone())
            .collect(),
        Mode::Host | Mode::None => {
            let name = if Mode::of(c) == Mode::Host {
                "host"
            } else {
                "none"
            };
            daemon
                .networks
                .find(name)
                .map(|n| vec![n.id])
                .unwrap_or_default()
        }
        Mode::Network(_) => state
            .requests
            .iter()
            .map(|r| r.network_id.clone())
            .collect(),
    }
}

async fn setup_namespace(daemon: &Daemon, c: &Container) -> Result<Sandbox> {
    let joined = |netns| Sandbox {
        netns,
        connect: None,
    };
    match Mode::of(c) {
        Mode::Host => Ok(joined(None)),
        Mode::Container(other) => {
            let other = daemon
                .containers
                .lookup(&other)
                .map_err(|e| NetworkError::Missing(e.to_string()))?;
            if !other.state.status.is_running() {
                return Err(NetworkError::Conflict(format!(
                    "cannot join network namespace of a non running container: container {} is exited",
                    other.id
                )));
            }
            for (from, to) in [
                (other.hosts_path(), c.hosts_path()),
                (other.resolv_conf_path(), c.resolv_conf_path()),
            ] {
                if let Err(e) = std::fs::copy(&from, &to) {
                    tracing::debug!(from = %from.display(), "copying: {e}");
                }
            }
            if Mode::of(&other) == Mode::Host {
                return Ok(joined(None));
            }
            let theirs = ContainerNetwork::load(&other.dir).netns;
            Ok(joined(Some(theirs.unwrap_or_else(|| {
                PathBuf::from(format!("/proc/{}/ns/net", other.state.pid))
            }))))
        }
        Mode::None | Mode::Network(_) => {
            let netd = daemon.networks.netd()?;
            // A namespace left by a crash is released first.
            release(daemon, c).await;
            // /etc/hosts and resolv.conf as at create (a restart gets a new address).
            crate::containers::etc_files::write_etc_files(
                c,
                &daemon
                    .networks
                    .host_gateway_ips(&daemon.config.host_gateway_ips),
            )
            .map_err(|e| NetworkError::Internal(e.to_string()))?;
            // The linked containers must run (dockerd checks before making anything).
            let linked = super::links::at_start(daemon, c)?;
            let ns = netd.create_netns(&c.id)?;
            let mut state = daemon.networks.container_state_to_change(&c.dir);
            state.netns = Some(ns.path().to_path_buf());
            state.sandbox_id = new_id();
            state.link_env = linked.env.clone();
            if state.requests.is_empty() {
                // `--network none`: no endpoint to make, only the namespace's loopback.
                // The network it is on goes in the same write (`announce` then writes
                // nothing): each write is a new file.
                state.connected = networks_joined(daemon, c, &state);
            }
            if let Err(e) = daemon.networks.save_container_run_state(&c.dir, &state) {
                release(daemon, c).await;
                return Err(e);
            }
            Ok(Sandbox {
                netns: Some(ns.path().to_path_buf()),
                connect: Some(Connect {
                    c: c.clone(),
                    ns,
                    state,
                    link_hosts: linked.hosts,
                }),
            })
        }
    }
}

async fn connect_all(
    daemon: &Daemon,
    c: &Container,
    ns: &NetnsPath,
    state: &ContainerNetwork,
    link_hosts: &[String],
) -> Result<()> {
    let netd = daemon.networks.netd()?;
    if state.requests.is_empty() {
        loopback_up(ns)?;
        return Ok(());
    }
    let mut first = None;
    for (index, request) in state.requests.iter().enumerate() {
        let ep = attach(daemon, c, ns, request, &format!("eth{index}")).await?;
        if index == 0 {
            first = Some(ep);
        }
    }
    let specs = ports::specs_of(c)?;
    if let (false, Some(ep)) = (specs.is_empty(), &first) {
        // dockerd's wording around the port mapper's error (a 500, as there).
        netd.publish(&c.id, &state.requests[0].network_id, &specs)
            .map_err(|e| match e {
                netd::Error::PortAllocated(_) => NetworkError::Internal(format!(
                    "driver failed programming external connectivity on endpoint {} ({}): {e}",
                    ep.name, ep.endpoint_id
                )),
                other => other.into(),
            })?;
    }
    let first_ip = first.map(|ep| (ep.ip, ep.ipv6));
    let embedded = has_embedded_dns(daemon, state);
    if embedded {
        let dns = dns_settings(c);
        netd.start_dns(&c.id, ns, &dns.servers)?;
        super::hosts_file::write_file(
            &c.resolv_conf_path(),
            &netd.container_resolv_conf(true, &dns),
        )?;
    }
    if let Some((ip, ip6)) = first_ip {
        super::hosts_file::write_hosts(c, &ip, &ip6, link_hosts)?;
    }
    Ok(())
}

/// The container's `--dns`, `--dns-search` and `--dns-option`. On a user-defined network
/// the `--dns` servers become the embedded DNS's upstreams (resolv.conf keeps 127.0.0.11);
/// on the default bridge they are written into resolv.conf at create.
pub(super) fn dns_settings(c: &Container) -> netd::dns::DnsSettings {
    let hc = &c.host_config;
    let servers = hc
        .dns
        .iter()
        .flatten()
        .filter_map(|s| match s.trim().parse::<std::net::IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                tracing::warn!(container = %c.id, server = %s, "--dns: not an IP address");
                None
            }
        })
        .collect();
    netd::dns::DnsSettings {
        servers,
        search: hc.dns_search.clone().unwrap_or_default(),
        options: hc.dns_options.clone().unwrap_or_default(),
    }
}

/// Brings `lo` up inside a namespace with no other interface (`--network none`).
fn loopback_up(ns: &NetnsPath) -> Result<()> {
    netd::netns::run_in(ns, || {
        // SAFETY: plain ioctls on a socket this thread owns, with a zeroed ifreq.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return Err(netd::Error::Io {
                    context: "socket for lo".into(),
                    source: std::io::Error::last_os_error(),
                });
            }
            let mut req: libc::ifreq = std::mem::zeroed();
            for (i, b) in b"lo\0".iter().enumerate() {
                req.ifr_name[i] = *b as libc::c_char;
            }
            let ok = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) == 0 && {
                req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
                libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) == 0
            };
            libc::close(fd);
            if ok {
                Ok(())
            } else {
                Err(netd::Error::Io {
                    context: "bringing lo up".into(),
                    source: std::io::Error::last_os_error(),
                })
            }
        }
    })?;
    Ok(())
}

/// When the container stops or is removed: ports, DNS, endpoints and the namespace go.
/// Failures are logged: nothing here may keep a container from stopping.
pub async fn release(daemon: &Daemon, c: &Container) {
    let mut state = daemon.networks.container_state_to_change(&c.dir);
    if let Ok(netd) = daemon.networks.netd() {
        let ns = state.netns.as_ref().map(NetnsPath::existing);
        if let Err(e) = netd.release_container(&c.id, ns.as_ref()).await {
            tracing::warn!(container = %c.id, "releasing the container's networking: {e}");
        }
    }
    for n in daemon.networks.list() {
        if n.endpoints.contains_key(&c.id) {
            let _ = daemon.networks.update_endpoints(&n.id, |endpoints| {
                endpoints.remove(&c.id);
            });
        }
    }
    let connected = std::mem::take(&mut state.connected);
    events::publish_all(daemon, events::DISCONNECT, &connected, &c.id);
    if state.netns.take().is_some() || !state.sandbox_id.is_empty() || !connected.is_empty() {
        state.sandbox_id.clear();
        if let Err(e) = daemon.networks.save_container_run_state(&c.dir, &state) {
            tracing::warn!(container = %c.id, "{e}");
        }
    }
}

/// After berthd restarts (netd has put bridges, rules and names back): running
/// containers get their embedded DNS again; those that died meanwhile are released, and
/// endpoints whose container is gone altogether (a crash between the two) free their
/// addresses.
pub async fn restore(daemon: &Daemon) {
    release_leftovers_of_gone_containers(daemon).await;
    for c in daemon.containers.list() {
        let state = ContainerNetwork::load(&c.dir);
        if !c.state.status.is_running() {
            if state.netns.is_some() || !state.connected.is_empty() {
                release(daemon, &c).await;
            }
            continue;
        }
        let Some(path) = state.netns.clone() else {
            continue;
        };
        if has_embedded_dns(daemon, &state) {
            if let Ok(netd) = daemon.networks.netd() {
                let servers = dns_settings(&c).servers;
                if let Err(e) = netd.start_dns(&c.id, &NetnsPath::existing(path), &servers) {
                    tracing::warn!(container = %c.id, "embedded DNS: {e}");
                }
            }
        }
    }
}

/// Endpoints of containers that no longer exist: their addresses, ports and names go;
/// then namespace files no running container uses (named by the first 12 digits of the
/// container's ID) are unmounted and removed.
async fn release_leftovers_of_gone_containers(daemon: &Daemon) {
    let netns_dir = daemon.config.exec_root.join("netns");
    let netns_of = |id: &str| netns_dir.join(&id[..12.min(id.len())]);
    for n in daemon.networks.list() {
        let orphans: Vec<String> = n
            .endpoints
            .keys()
            .filter(|id| daemon.containers.get(id).is_none())
            .cloned()
            .collect();
        for id in orphans {
            tracing::info!(network = %n.name, container = %id, "releasing the endpoint of a container that is gone");
            if let Ok(netd) = daemon.networks.netd() {
                let path = netns_of(&id);
                let ns = path.exists().then(|| NetnsPath::existing(path));
                if let Err(e) = netd.release_container(&id, ns.as_ref()).await {
                    tracing::warn!(container = %id, "releasing a gone container's networking: {e}");
                }
            }
            let _ = daemon.networks.update_endpoints(&n.id, |endpoints| {
                endpoints.remove(&id);
            });
        }
    }
    let running: Vec<String> = daemon
        .containers
        .list()
        .into_iter()
        .filter(|c| c.state.status.is_running())
        .map(|c| c.id)
        .collect();
    let Ok(entries) = std::fs::read_dir(&netns_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if running.iter().any(|id| id.starts_with(&name)) {
            continue;
        }
        tracing::info!(netns = %name, "removing a network namespace no container uses");
        if let Err(e) = netd::netns::remove(&NetnsPath::existing(entry.path())) {
            tracing::warn!(netns = %name, "removing a stale network namespace: {e}");
        }
    }
}

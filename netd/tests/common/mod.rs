//! Shared harness for netd's root tests: unique names, namespaces standing in
//! for containers, guards that clean up even when a test fails.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use netd::netns::{self, NetnsPath};

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "netd=debug".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A short name unique to this test process: `<prefix><pid><tag>` (<= 15 chars).
pub fn unique(prefix: &str, tag: &str) -> String {
    let name = format!("{prefix}{}{tag}", std::process::id() % 1_000_000);
    assert!(name.len() <= 15, "{name} too long for a link name");
    name
}

/// Deletes links by name when dropped (a bridge, or a host veth end).
pub struct LinkGuard(pub Vec<String>);

impl Drop for LinkGuard {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("ip")
                .args(["link", "del", name])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// A namespace file removed when dropped.
pub struct NsGuard(pub NetnsPath);

impl NsGuard {
    pub fn new(dir: &Path, name: &str) -> Self {
        NsGuard(netns::create(dir, name).expect("create netns"))
    }
}

impl Drop for NsGuard {
    fn drop(&mut self) {
        let _ = netns::remove(&self.0);
    }
}

/// Spawns a thread that enters `ns` and runs `work`.
pub fn spawn_in<T: Send + 'static>(
    ns: &NetnsPath,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let file = ns.open().expect("open netns");
    std::thread::spawn(move || {
        nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        work()
    })
}

/// A TCP echo server bound inside `ns` on `port`, serving `count` connections.
pub fn echo_server_in(ns: &NetnsPath, port: u16, count: usize) -> std::thread::JoinHandle<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = spawn_in(ns, move || {
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).expect("bind echo");
        ready_tx.send(()).expect("ready");
        for _ in 0..count {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut buf = [0u8; 64];
            if let Ok(n) = s.read(&mut buf) {
                let _ = s.write_all(&buf[..n]);
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("echo server ready");
    handle
}

/// Sends a line to `addr` and returns what came back (None if unreachable).
pub fn echo(addr: SocketAddr, msg: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(1500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(msg.as_bytes()).ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// `echo` from inside a namespace.
pub fn echo_from(ns: &NetnsPath, addr: SocketAddr, msg: &str) -> Option<String> {
    let msg = msg.to_string();
    spawn_in(ns, move || echo(addr, &msg))
        .join()
        .expect("client thread")
}

/// Output of a command, as text.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect("run command");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Links whose name contains `needle` in the host's namespace.
pub fn count_links(needle: &str) -> usize {
    run("ip", &["-o", "link", "show"])
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

/// A bridge with namespaces attached, all removed when dropped.
pub struct TestNet {
    pub bridge: String,
    pub gateway: Ipv4Addr,
    pub subnet: ipnet::Ipv4Net,
    pub namespaces: Vec<NsGuard>,
    pub endpoints: Vec<netd::network::Endpoint>,
    _links: LinkGuard,
}

impl TestNet {
    /// Bridge `name` on `10.213.<third>.0/24`, with `count` namespaces at .2, .3, …
    pub async fn new(dir: &Path, name: &str, third: u8, count: u8) -> TestNet {
        let host = netd::netns::netlink_here().expect("netlink");
        let gateway = Ipv4Addr::new(10, 213, third, 1);
        let subnet: ipnet::Ipv4Net = format!("10.213.{third}.0/24").parse().unwrap();
        let mut links = LinkGuard(vec![name.to_string()]);
        netd::network::create_bridge(
            &host,
            &netd::network::BridgeConfig {
                owner: format!("/tmp/netd-test-{}", std::process::id()),
                network_id: format!("test-{name}"),
                name: name.to_string(),
                gateway: ipnet::Ipv4Net::new(gateway, 24).unwrap(),
                gateway6: None,
                mtu: None,
            },
        )
        .await
        .expect("bridge");
        let mut namespaces = Vec::new();
        let mut endpoints = Vec::new();
        for i in 0..count {
            let ns = NsGuard::new(dir, &format!("{name}-{i}"));
            let ep = netd::network::attach(
                &host,
                &netd::network::EndpointConfig {
                    netns: ns.0.clone(),
                    bridge: name.to_string(),
                    ifname: "eth0".into(),
                    address: ipnet::Ipv4Net::new(Ipv4Addr::new(10, 213, third, 2 + i), 24).unwrap(),
                    gateway: Some(gateway),
                    mtu: None,
                    mac: None,
                    extra_addresses: Vec::new(),
                    address6: None,
                    gateway6: None,
                },
            )
            .await
            .expect("attach");
            links.0.push(ep.host_ifname.clone());
            namespaces.push(ns);
            endpoints.push(ep);
        }
        TestNet {
            bridge: name.to_string(),
            gateway,
            subnet,
            namespaces,
            endpoints,
            _links: links,
        }
    }

    pub fn ip(&self, i: usize) -> Ipv4Addr {
        self.endpoints[i].address.addr()
    }

    pub fn ns(&self, i: usize) -> &NetnsPath {
        &self.namespaces[i].0
    }

    pub fn rules(&self, internal: bool) -> netd::firewall::NetworkRules {
        netd::firewall::NetworkRules {
            network_id: format!("test-{}", self.bridge),
            bridge: self.bridge.clone(),
            subnet: self.subnet,
            subnet6: None,
            internal,
            options: Default::default(),
        }
    }
}

/// Resolves `name` (A) through 127.0.0.11 from inside `ns`; empty on failure.
pub fn resolve_in(ns: &NetnsPath, name: &str) -> Vec<Ipv4Addr> {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RData, RecordType};
    let mut q = Message::new();
    q.set_id(rand::random()).set_recursion_desired(true);
    let Ok(qname) = Name::from_ascii(name) else {
        return vec![];
    };
    q.add_query(Query::query(qname, RecordType::A));
    let Ok(bytes) = q.to_vec() else {
        return vec![];
    };
    let reply = spawn_in(ns, move || -> Option<Vec<u8>> {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.send_to(&bytes, "127.0.0.11:53").ok()?;
        let mut buf = vec![0u8; 4096];
        let n = s.recv(&mut buf).ok()?;
        buf.truncate(n);
        Some(buf)
    })
    .join()
    .expect("resolver thread");
    let Some(m) = reply.and_then(|r| Message::from_vec(&r).ok()) else {
        return vec![];
    };
    m.answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// Deletes a test's nftables tables, and its chains in the host's filter tables, when
/// dropped (even on failure).
pub struct NftTableGuard(pub String);

impl Drop for NftTableGuard {
    fn drop(&mut self) {
        use netd::firewall::FirewallBackend;
        let _ = netd::firewall::nft::NftBackend::with_table(self.0.clone()).clear();
    }
}

/// Removes a test's iptables chains (and the jumps to them) when dropped.
pub struct IptablesGuard(pub netd::firewall::iptables::Chains);

impl Drop for IptablesGuard {
    fn drop(&mut self) {
        use netd::firewall::FirewallBackend;
        let _ = netd::firewall::iptables::IptablesBackend::with_chains(self.0.clone()).clear();
    }
}

/// Output of a shell line; it must succeed.
pub fn sh(script: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", script])
        .output()
        .expect("sh");
    assert!(out.status.success(), "{script}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `work` on a thread that unshared its network namespace (lo up, then `setup`, a
/// shell line, run there), on a runtime of that thread: everything it makes, its
/// commands and the sysctls and policies it sets stay in that namespace, which goes
/// with the thread.
pub fn in_private_netns<F, Fut>(setup: &'static str, work: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
        sh("ip link set lo up");
        sh(setup);
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(work());
    })
    .join()
    .expect("test thread");
}

//! Published ports: parsing `-p [ip:][hostPort[-end]:]containerPort[-end][/proto]`
//! and reserving host ports. A reservation is a socket bound on the host port
//! (listening for TCP): it keeps other programs and other containers off the
//! port while DNAT sends the traffic to the container before it reaches it, or
//! the userland proxy serves it where DNAT cannot (`crate::proxy`).
//! IPv6 ones are bound IPv6-only, so `0.0.0.0:p` and `[::]:p` are two reservations.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One container port to publish, after ranges are expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    /// `None`: every host address of both families (`0.0.0.0` and, for a container with
    /// IPv6, `::`); `Some(0.0.0.0)` or `Some(::)`: every address of one family.
    pub host_ip: Option<IpAddr>,
    /// `None`: an ephemeral port; `Some((a, b))`: one port of a..=b (a == b: that one).
    pub host_ports: Option<(u16, u16)>,
    pub container_port: u16,
    pub protocol: Protocol,
}

fn parse_range(s: &str, whole: &str) -> Result<(u16, u16)> {
    let bad = || Error::InvalidPortSpec(whole.to_string());
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
        None => {
            let p = s.parse().map_err(|_| bad())?;
            (p, p)
        }
    };
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok((a, b))
}

/// Parses one `-p` value into one spec per container port.
pub fn parse_port_specs(spec: &str) -> Result<Vec<PortSpec>> {
    let bad = || Error::InvalidPortSpec(spec.to_string());
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, "tcp")) => (r, Protocol::Tcp),
        Some((r, "udp")) => (r, Protocol::Udp),
        Some(_) => return Err(bad()),
        None => (spec, Protocol::Tcp),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => (None, "", *c),
        [h, c] => (None, *h, *c),
        [ip, h, c] => (Some(*ip), *h, *c),
        _ => return Err(bad()),
    };
    let host_ip = match ip {
        None | Some("") | Some("0.0.0.0") => None,
        Some(ip) => Some(IpAddr::V4(ip.parse::<Ipv4Addr>().map_err(|_| bad())?)),
    };
    let (c_start, c_end) = parse_range(container, spec)?;
    let host = if host.is_empty() {
        None
    } else {
        Some(parse_range(host, spec)?)
    };
    let count = c_end - c_start;
    let mut out = Vec::new();
    for i in 0..=count {
        let host_ports = match host {
            None => None,
            // Equal-length ranges map port to port.
            Some((h_start, h_end)) if h_end - h_start == count && count > 0 => {
                Some((h_start + i, h_start + i))
            }
            Some((h_start, h_end)) if count == 0 => Some((h_start, h_end)),
            Some(_) => return Err(bad()),
        };
        out.push(PortSpec {
            host_ip,
            host_ports,
            container_port: c_start + i,
            protocol,
        });
    }
    Ok(out)
}

/// A host port held for a published port; dropping it frees the port (and stops its
/// userland proxy, if it has one).
#[derive(Debug)]
pub struct PortReservation {
    /// Where it is bound (`0.0.0.0` or `::` for every address).
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub protocol: Protocol,
    socket: Held,
    proxy: Option<crate::proxy::Proxy>,
}

#[derive(Debug)]
enum Held {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

impl PortReservation {
    /// Serves the port with the userland proxy towards `to` (see `crate::proxy`), for
    /// as long as the reservation lives.
    pub fn start_proxy(&mut self, to: SocketAddr) -> Result<()> {
        let started = match &self.socket {
            Held::Tcp(l) => l.try_clone().and_then(|l| crate::proxy::tcp(l, to)),
            Held::Udp(s) => s.try_clone().and_then(|s| crate::proxy::udp(s, to)),
        };
        self.proxy = Some(started.map_err(|e| Error::io("starting the userland proxy", e))?);
        Ok(())
    }
}

/// Hands out host ports: the asked one, one of a range, or an ephemeral one
/// from the kernel's ip_local_port_range (as dockerd does).
#[derive(Debug, Clone)]
pub struct PortAllocator {
    ephemeral: (u16, u16),
}

impl Default for PortAllocator {
    fn default() -> Self {
        let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|s| {
                let mut it = s.split_whitespace().map(|p| p.parse::<u16>().ok());
                Some((it.next()??, it.next()??))
            })
            .unwrap_or((32768, 60999));
        PortAllocator { ephemeral }
    }
}

impl PortAllocator {
    fn try_bind(ip: IpAddr, port: u16, protocol: Protocol) -> Option<Held> {
        let addr = SocketAddr::from((ip, port));
        if ip.is_ipv4() {
            return match protocol {
                Protocol::Tcp => TcpListener::bind(addr).ok().map(Held::Tcp),
                Protocol::Udp => UdpSocket::bind(addr).ok().map(Held::Udp),
            };
        }
        // IPv6 only: `[::]:p` must not take `0.0.0.0:p` as well.
        use socket2::{Domain, Socket, Type};
        let kind = match protocol {
            Protocol::Tcp => Type::STREAM,
            Protocol::Udp => Type::DGRAM,
        };
        let socket = Socket::new(Domain::IPV6, kind, None).ok()?;
        socket.set_only_v6(true).ok()?;
        if protocol == Protocol::Tcp {
            // As std's TcpListener (and docker-proxy): the connections a proxy on this
            // port closed (TIME_WAIT) do not keep it from being bound again.
            socket.set_reuse_address(true).ok()?;
        }
        socket.bind(&addr.into()).ok()?;
        match protocol {
            Protocol::Tcp => {
                socket.listen(128).ok()?;
                Some(Held::Tcp(socket.into()))
            }
            Protocol::Udp => Some(Held::Udp(socket.into())),
        }
    }

    /// Whether this host can listen on IPv6 (`[::]`): not where IPv6 is disabled or
    /// absent. Asked once per process.
    pub fn ipv6_available() -> bool {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            Self::try_bind(
                IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                0,
                Protocol::Tcp,
            )
            .is_some()
        })
    }

    /// Reserves exactly `ip:port` (the IPv6 side of a port published on both families).
    pub fn reserve_at(&self, ip: IpAddr, port: u16, protocol: Protocol) -> Result<PortReservation> {
        match Self::try_bind(ip, port, protocol) {
            Some(socket) => Ok(PortReservation {
                host_ip: ip,
                host_port: port,
                protocol,
                socket,
                proxy: None,
            }),
            None => Err(Error::PortAllocated(
                SocketAddr::from((ip, port)).to_string(),
            )),
        }
    }

    /// Reserves a host port for `spec` (on `0.0.0.0` when it names no address).
    pub fn reserve(&self, spec: &PortSpec) -> Result<PortReservation> {
        let host_ip = spec.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let (start, end) = spec.host_ports.unwrap_or(self.ephemeral);
        let span = u32::from(end - start) + 1;
        // Ephemeral ports start at a random place, so two allocators rarely collide.
        let offset = if spec.host_ports.is_none() {
            rand::random::<u32>() % span
        } else {
            0
        };
        for i in 0..span {
            let port = start + ((offset + i) % span) as u16;
            if let Some(socket) = Self::try_bind(host_ip, port, spec.protocol) {
                return Ok(PortReservation {
                    host_ip,
                    host_port: port,
                    protocol: spec.protocol,
                    socket,
                    proxy: None,
                });
            }
        }
        let at = |port: u16| SocketAddr::from((host_ip, port)).to_string();
        Err(Error::PortAllocated(if start == end {
            at(start)
        } else {
            format!("{}-{end}", at(start))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn one(s: &str) -> PortSpec {
        let v = parse_port_specs(s).unwrap();
        assert_eq!(v.len(), 1, "{s}");
        v[0]
    }

    #[test]
    fn parses_docker_forms() {
        let p = one("80");
        assert_eq!(
            (p.host_ip, p.host_ports, p.container_port),
            (None, None, 80)
        );
        let p = one("8080:80");
        assert_eq!(p.host_ports, Some((8080, 8080)));
        let p = one("127.0.0.1:8080:80/udp");
        assert_eq!(p.host_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(p.protocol, Protocol::Udp);
        let p = one("127.0.0.1::80");
        assert_eq!((p.host_ports, p.container_port), (None, 80));
        let p = one("8000-8010:80");
        assert_eq!(p.host_ports, Some((8000, 8010)));
        let v = parse_port_specs("8000-8002:80-82/tcp").unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[2].host_ports, Some((8002, 8002)));
        assert_eq!(v[2].container_port, 82);
        for bad in [
            "",
            "x:80",
            "80/sctp",
            "8000-8001:80-82",
            "1:2:3:4",
            "0",
            "90-80",
        ] {
            assert!(parse_port_specs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reserves_free_ports_and_refuses_taken_ones() {
        let alloc = PortAllocator::default();
        let spec = PortSpec {
            host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            host_ports: None,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let r = alloc.reserve(&spec).unwrap();
        let fixed = PortSpec {
            host_ports: Some((r.host_port, r.host_port)),
            ..spec
        };
        let err = alloc.reserve(&fixed).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Bind for 127.0.0.1:{} failed: port is already allocated",
                r.host_port
            )
        );
        let range = PortSpec {
            host_ports: Some((r.host_port, r.host_port.saturating_add(20))),
            ..spec
        };
        let other = alloc.reserve(&range).unwrap();
        assert_ne!(other.host_port, r.host_port);
        // The same port on ::1 is another reservation (IPv6 only).
        let v6 = alloc
            .reserve_at(IpAddr::V6(Ipv6Addr::LOCALHOST), r.host_port, Protocol::Tcp)
            .unwrap();
        assert!(alloc
            .reserve_at(IpAddr::V6(Ipv6Addr::LOCALHOST), r.host_port, Protocol::Tcp)
            .is_err());
        drop(v6);
        drop(r);
        assert!(alloc.reserve(&fixed).is_ok());
    }
}

//! Link-level work over rtnetlink: bridges, veth pairs born with one end in a
//! container's namespace, addresses and routes. No `ip` command is run.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use futures::TryStreamExt;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo as LinkInfoAttribute, LinkMessage,
};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

use crate::error::{Error, Result};
use crate::netns::NetnsPath;

/// Alias (IFLA_IFALIAS) written on every bridge netd creates, so that stale ones
/// can be recognised after a crash without touching anyone else's bridges.
pub const BRIDGE_ALIAS_PREFIX: &str = "berth:";

/// A link as netd sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    pub alias: Option<String>,
    pub controller: Option<u32>,
    /// A bridge (IFLA_INFO_KIND "bridge"), not a veth, dummy or physical link.
    pub is_bridge: bool,
}

fn info_of(msg: &LinkMessage) -> LinkInfo {
    let mut info = LinkInfo {
        index: msg.header.index,
        name: String::new(),
        alias: None,
        controller: None,
        is_bridge: false,
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => info.name = n.clone(),
            LinkAttribute::IfAlias(a) => info.alias = Some(a.clone()),
            LinkAttribute::Controller(c) => info.controller = Some(*c),
            LinkAttribute::LinkInfo(infos) => {
                info.is_bridge = infos
                    .iter()
                    .any(|i| matches!(i, LinkInfoAttribute::Kind(InfoKind::Bridge)));
            }
            _ => {}
        }
    }
    info
}

fn is_not_found(e: &rtnetlink::Error) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m)
        if m.raw_code() == -libc::ENODEV || m.raw_code() == -libc::ENOENT)
}

/// Every link in the handle's namespace.
pub async fn list(handle: &Handle) -> Result<Vec<LinkInfo>> {
    let mut out = Vec::new();
    let mut links = handle.link().get().execute();
    while let Some(msg) = links
        .try_next()
        .await
        .map_err(|e| Error::netlink("list links", e))?
    {
        out.push(info_of(&msg));
    }
    Ok(out)
}

/// The link called `name`, if there is one.
pub async fn find(handle: &Handle, name: &str) -> Result<Option<LinkInfo>> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(msg)) => Ok(Some(info_of(&msg))),
        Ok(None) => Ok(None),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(Error::netlink(format!("get link {name}"), e)),
    }
}

/// Creates a bridge with `gateway` as its address, up, and `alias` (IFLA_IFALIAS) as
/// the mark that netd made it; or uses the bridge already there, as dockerd's
/// `BridgeIfaceCreator`: one carrying `alias` is netd's own (after a restart), any other
/// bridge is the user's and keeps its alias; a link that is not a bridge is refused.
pub async fn ensure_bridge(
    handle: &Handle,
    name: &str,
    mtu: Option<u32>,
    gateway: Ipv4Net,
    alias: &str,
) -> Result<u32> {
    let (index, ours) = match find(handle, name).await? {
        Some(link) if !link.is_bridge => return Err(Error::NotABridge(name.to_string())),
        Some(link) => (link.index, link.alias.as_deref() == Some(alias)),
        None => {
            let mut msg = LinkBridge::new(name);
            if let Some(mtu) = mtu {
                msg = msg.mtu(mtu);
            }
            handle
                .link()
                .add(msg.build())
                .execute()
                .await
                .map_err(|e| Error::netlink(format!("create bridge {name}"), e))?;
            let index = find(handle, name)
                .await?
                .ok_or_else(|| Error::NoSuchLink(name.to_string()))?
                .index;
            (index, true)
        }
    };
    let mut set = LinkUnspec::new_with_index(index);
    if ours {
        set = set.append_extra_attribute(LinkAttribute::IfAlias(alias.to_string()));
    }
    handle
        .link()
        .set(set.up().build())
        .execute()
        .await
        .map_err(|e| Error::netlink(format!("set up bridge {name}"), e))?;
    handle
        .address()
        .add(index, gateway.addr().into(), gateway.prefix_len())
        .replace()
        .execute()
        .await
        .map_err(|e| Error::netlink(format!("address {gateway} on {name}"), e))?;
    Ok(index)
}

/// An IPv6 address on a link, without duplicate address detection (it is usable at
/// once, as dockerd's); one already there is kept.
pub async fn add_address6(handle: &Handle, index: u32, addr: Ipv6Net) -> Result<()> {
    let mut req = handle
        .address()
        .add(index, IpAddr::V6(addr.addr()), addr.prefix_len())
        .replace();
    req.message_mut()
        .attributes
        .push(AddressAttribute::Flags(AddressFlags::Nodad));
    req.execute()
        .await
        .map_err(|e| Error::netlink(format!("address {addr}"), e))
}

/// Deletes a link by name; a missing link is not an error.
pub async fn delete(handle: &Handle, name: &str) -> Result<()> {
    let Some(link) = find(handle, name).await? else {
        return Ok(());
    };
    match handle.link().del(link.index).execute().await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(Error::netlink(format!("delete link {name}"), e)),
    }
}

/// What the container end of a veth pair gets.
#[derive(Debug, Clone)]
pub struct VethSpec<'a> {
    pub host_name: &'a str,
    pub bridge_index: u32,
    pub container_name: &'a str,
    pub mtu: Option<u32>,
    pub mac: [u8; 6],
}

/// Creates a veth pair whose container end is born inside `ns` (IFLA_NET_NS_FD
/// on the peer), and whose host end is enslaved to the bridge and up, in one
/// RTM_NEWLINK: no link is moved between namespaces.
pub async fn add_veth_into(handle: &Handle, spec: &VethSpec<'_>, ns: &NetnsPath) -> Result<()> {
    let ns_file = ns.open()?;
    let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
        .name(spec.container_name.to_string())
        .address(spec.mac.to_vec())
        .setns_by_fd(ns_file.as_raw_fd());
    if let Some(mtu) = spec.mtu {
        peer = peer.mtu(mtu);
    }
    let mut host = LinkVeth::new(spec.host_name, spec.container_name)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())))
        .controller(spec.bridge_index)
        .up();
    if let Some(mtu) = spec.mtu {
        host = host.mtu(mtu);
    }
    handle
        .link()
        .add(host.build())
        .execute()
        .await
        .map_err(|e| Error::netlink(format!("create veth {}", spec.host_name), e))?;
    drop(ns_file);
    Ok(())
}

/// Inside a container's namespace: lo and `ifname` up, `addresses` on it and, when
/// given, the default routes via `gateway` and `gateway6`.
pub async fn configure_inside(
    handle: &Handle,
    ifname: &str,
    addresses: &[IpNet],
    gateway: Option<Ipv4Addr>,
    gateway6: Option<Ipv6Addr>,
) -> Result<()> {
    for name in ["lo", ifname] {
        let link = find(handle, name)
            .await?
            .ok_or_else(|| Error::NoSuchLink(name.to_string()))?;
        if name == ifname {
            for addr in addresses {
                if let IpNet::V6(v6) = addr {
                    add_address6(handle, link.index, *v6).await?;
                    continue;
                }
                handle
                    .address()
                    .add(link.index, addr.addr(), addr.prefix_len())
                    .replace()
                    .execute()
                    .await
                    .map_err(|e| Error::netlink(format!("address {addr} on {ifname}"), e))?;
            }
        }
        let msg = LinkUnspec::new_with_index(link.index).up();
        handle
            .link()
            .set(msg.build())
            .execute()
            .await
            .map_err(|e| Error::netlink(format!("set {name} up"), e))?;
    }
    if let Some(gw) = gateway {
        add_default_route(handle, gw).await?;
    }
    if let Some(gw) = gateway6 {
        add_default_route6(handle, gw).await?;
    }
    Ok(())
}

/// The IPv6 default route via `gw`; one already there is kept.
pub async fn add_default_route6(handle: &Handle, gw: Ipv6Addr) -> Result<()> {
    let route = RouteMessageBuilder::<Ipv6Addr>::new().gateway(gw).build();
    match handle.route().add(route).execute().await {
        Ok(()) => Ok(()),
        Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code() == -libc::EEXIST => Ok(()),
        Err(e) => Err(Error::netlink(format!("IPv6 default route via {gw}"), e)),
    }
}

/// The default route via `gw`; one already there is kept (a second network's endpoint:
/// the first one owns the default route).
pub async fn add_default_route(handle: &Handle, gw: Ipv4Addr) -> Result<()> {
    let route = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gw).build();
    match handle.route().add(route).execute().await {
        Ok(()) => Ok(()),
        Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code() == -libc::EEXIST => Ok(()),
        Err(e) => Err(Error::netlink(format!("default route via {gw}"), e)),
    }
}

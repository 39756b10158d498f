//! Bridges and endpoints over rtnetlink.

pub mod bridge;
pub mod endpoint;
pub mod link;

pub use bridge::{bridge_alias, cleanup_stale_bridges, create_bridge, delete_bridge, BridgeConfig};
pub use endpoint::{attach, detach, mac_from_ip, parse_mac, Endpoint, EndpointConfig};

use futures::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::{Handle, RouteMessageBuilder};

use crate::error::{Error, Result};

/// The host's IPv4 routes in the main table, the default route left out: the
/// ranges a new network's subnet must not overlap.
pub async fn host_routes(handle: &Handle) -> Result<Vec<Ipv4Net>> {
    let query = RouteMessageBuilder::<std::net::Ipv4Addr>::new().build();
    let mut routes = handle.route().get(query).execute();
    let mut out = Vec::new();
    while let Some(route) = routes
        .try_next()
        .await
        .map_err(|e| Error::netlink("list routes", e))?
    {
        if route.header.table != 254 || route.header.destination_prefix_length == 0 {
            continue;
        }
        for attr in &route.attributes {
            if let RouteAttribute::Destination(RouteAddress::Inet(dst)) = attr {
                if let Ok(net) = Ipv4Net::new(*dst, route.header.destination_prefix_length) {
                    out.push(net);
                }
            }
        }
    }
    Ok(out)
}

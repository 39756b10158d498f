//! Bridges and endpoints over rtnetlink.

pub mod bridge;
pub mod endpoint;
pub mod link;

pub use bridge::{bridge_alias, cleanup_stale_bridges, create_bridge, delete_bridge, BridgeConfig};
pub use endpoint::{attach, detach, mac_from_ip, parse_mac, Endpoint, EndpointConfig};

use futures::TryStreamExt;
use ipnet::{Ipv4Net, Ipv6Net};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::{Handle, RouteMessageBuilder};

use crate::error::{Error, Result};

/// Destinations of the main table's routes (default routes left out), as queried.
async fn main_table_destinations(
    handle: &Handle,
    query: rtnetlink::packet_route::route::RouteMessage,
) -> Result<Vec<(RouteAddress, u8)>> {
    let mut routes = handle.route().get(query).execute();
    let mut out = Vec::new();
    while let Some(route) = routes
        .try_next()
        .await
        .map_err(|e| Error::netlink("list routes", e))?
    {
        let len = route.header.destination_prefix_length;
        if route.header.table != 254 || len == 0 {
            continue;
        }
        for attr in route.attributes {
            if let RouteAttribute::Destination(dst) = attr {
                out.push((dst, len));
            }
        }
    }
    Ok(out)
}

/// The host's IPv4 routes in the main table, the default route left out: the
/// ranges a new network's subnet must not overlap.
pub async fn host_routes(handle: &Handle) -> Result<Vec<Ipv4Net>> {
    let query = RouteMessageBuilder::<std::net::Ipv4Addr>::new().build();
    let routes = main_table_destinations(handle, query).await?;
    Ok(routes
        .into_iter()
        .filter_map(|(dst, len)| match dst {
            RouteAddress::Inet(ip) => Ipv4Net::new(ip, len).ok(),
            _ => None,
        })
        .collect())
}

/// The host's IPv6 routes in the main table, default and link-local (fe80::/10) ones
/// left out.
pub async fn host_routes6(handle: &Handle) -> Result<Vec<Ipv6Net>> {
    let query = RouteMessageBuilder::<std::net::Ipv6Addr>::new().build();
    let routes = main_table_destinations(handle, query).await?;
    Ok(routes
        .into_iter()
        .filter_map(|(dst, len)| match dst {
            RouteAddress::Inet6(ip) if (ip.segments()[0] & 0xffc0) != 0xfe80 => {
                Ipv6Net::new(ip, len).ok()
            }
            _ => None,
        })
        .collect())
}

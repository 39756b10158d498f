//! Which of a container's endpoints gives its default routes, as dockerd's sandbox
//! chooses its gateway endpoint (libnetwork's `Endpoint.Less`, API 1.48 `GwPriority`):
//! the endpoints sorted by GwPriority, highest first; then those on internal networks
//! last; then dual-stack ones before single-stack ones; then by network name. The IPv4
//! default route goes through the first one on a network that reaches out, the IPv6
//! one through the first such with IPv6. Chosen again after every connect and
//! disconnect, the routes moved when the choice changed (dockerd's `updateGateway`).

use std::cmp::Reverse;
use std::path::Path;

use super::*;

/// One endpoint of the container, as the choice sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Candidate {
    pub network_id: String,
    pub network_name: String,
    pub internal: bool,
    pub priority: i64,
    pub has_v6: bool,
}

impl Candidate {
    /// How many default gateways it could give (dockerd prefers dual-stack).
    fn gateways(&self) -> u8 {
        if self.internal {
            0
        } else {
            1 + u8::from(self.has_v6)
        }
    }
}

/// The networks of the (IPv4, IPv6) gateway endpoints.
pub(super) fn choose(mut candidates: Vec<Candidate>) -> (Option<String>, Option<String>) {
    candidates.sort_by(|a, b| {
        Reverse(a.priority)
            .cmp(&Reverse(b.priority))
            .then(a.internal.cmp(&b.internal))
            .then(Reverse(a.gateways()).cmp(&Reverse(b.gateways())))
            .then(a.network_name.cmp(&b.network_name))
    });
    let first = |v6: bool| {
        candidates
            .iter()
            .find(|c| !c.internal && (!v6 || c.has_v6))
            .map(|c| c.network_id.clone())
    };
    (first(false), first(true))
}

impl Netd {
    /// Points the container's default routes (in `netns`) at the endpoints [`choose`]
    /// picks, replacing or removing the routes whose choice changed.
    pub(super) async fn update_gateways(&self, container_id: &str, netns: &Path) -> Result<()> {
        let (candidates, current4, current6) = {
            let inner = self.lock()?;
            let mut candidates = Vec::new();
            let (mut current4, mut current6) = (None, None);
            for net in inner.state.networks.values() {
                let Some(ep) = net.endpoints.get(container_id) else {
                    continue;
                };
                if ep.default_route {
                    current4 = Some(net.id.clone());
                }
                if ep.default_route6 {
                    current6 = Some(net.id.clone());
                }
                candidates.push(Candidate {
                    network_id: net.id.clone(),
                    network_name: net.name.clone(),
                    internal: net.internal,
                    priority: ep.gw_priority,
                    has_v6: ep.ip6.is_some(),
                });
            }
            (candidates, current4, current6)
        };
        let (want4, want6) = choose(candidates);
        if want4 == current4 && want6 == current6 {
            return Ok(());
        }
        let (gateway4, gateway6) = {
            let inner = self.lock()?;
            let pool = |id: &Option<String>| id.as_ref().and_then(|id| inner.ipam.network(id));
            (
                pool(&want4).map(|p| p.gateway),
                pool(&want6).and_then(|p| Some(p.v6.as_ref()?.gateway)),
            )
        };
        let ns = NetnsPath::existing(netns);
        let inside = netns::netlink_in(&ns, &tokio::runtime::Handle::current())?;
        if want4 != current4 {
            match gateway4 {
                Some(gw) => network::link::replace_default_route(&inside, gw.into()).await?,
                None => network::link::delete_default_route(&inside, false).await?,
            }
        }
        if want6 != current6 {
            match gateway6 {
                Some(gw) => network::link::replace_default_route(&inside, gw.into()).await?,
                None => network::link::delete_default_route(&inside, true).await?,
            }
        }
        let mut inner = self.lock()?;
        for net in inner.state.networks.values_mut() {
            if let Some(ep) = net.endpoints.get_mut(container_id) {
                ep.default_route = want4.as_deref() == Some(net.id.as_str());
                ep.default_route6 = want6.as_deref() == Some(net.id.as_str());
            }
        }
        self.save_endpoints(&inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(name: &str, priority: i64, internal: bool, has_v6: bool) -> Candidate {
        Candidate {
            network_id: format!("id-{name}"),
            network_name: name.into(),
            internal,
            priority,
            has_v6,
        }
    }

    #[test]
    fn the_highest_priority_then_dual_stack_then_the_name_wins() {
        // Equal priorities: the network name sorts (dockerd's documented tie-break).
        let (v4, v6) = choose(vec![
            candidate("zeta", 0, false, false),
            candidate("alpha", 0, false, false),
        ]);
        assert_eq!(v4.as_deref(), Some("id-alpha"));
        assert_eq!(v6, None);
        // A higher priority beats the name.
        let (v4, _) = choose(vec![
            candidate("alpha", 0, false, false),
            candidate("zeta", 10, false, false),
        ]);
        assert_eq!(v4.as_deref(), Some("id-zeta"));
        // Negative priorities sort last.
        let (v4, _) = choose(vec![
            candidate("alpha", -1, false, false),
            candidate("zeta", 0, false, false),
        ]);
        assert_eq!(v4.as_deref(), Some("id-zeta"));
        // Dual-stack first at equal priority; IPv6 from the first with IPv6.
        let (v4, v6) = choose(vec![
            candidate("alpha", 0, false, false),
            candidate("beta", 0, false, true),
        ]);
        assert_eq!(v4.as_deref(), Some("id-beta"));
        assert_eq!(v6.as_deref(), Some("id-beta"));
        let (v4, v6) = choose(vec![
            candidate("alpha", 5, false, false),
            candidate("beta", 0, false, true),
        ]);
        assert_eq!(v4.as_deref(), Some("id-alpha"));
        assert_eq!(v6.as_deref(), Some("id-beta"));
    }

    #[test]
    fn internal_networks_never_give_a_default_route() {
        let (v4, v6) = choose(vec![
            candidate("alpha", 100, true, true),
            candidate("zeta", 0, false, false),
        ]);
        assert_eq!(v4.as_deref(), Some("id-zeta"));
        assert_eq!(v6, None);
        assert_eq!(choose(vec![candidate("a", 0, true, false)]), (None, None));
        assert_eq!(choose(Vec::new()), (None, None));
    }
}

//! Tests of `store`.
use super::*;
use crate::ipam::pools::default_pools;

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

#[test]
fn leases_in_order_skipping_gateway_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut ipam = Ipam::open(dir.path(), default_pools(), Vec::new()).unwrap();
    let pool = ipam
        .add_network("n1", &PoolRequest::default(), &[net("172.17.0.0/16")], &[])
        .unwrap();
    assert_eq!(pool.subnet, net("172.18.0.0/16"));
    assert_eq!(pool.gateway, Ipv4Addr::new(172, 18, 0, 1));
    assert_eq!(
        ipam.lease("n1", "a", None).unwrap(),
        Ipv4Addr::new(172, 18, 0, 2)
    );
    assert_eq!(
        ipam.lease("n1", "b", None).unwrap(),
        Ipv4Addr::new(172, 18, 0, 3)
    );
    assert_eq!(
        ipam.lease("n1", "a", None).unwrap(),
        Ipv4Addr::new(172, 18, 0, 2)
    );
    drop(ipam);
    let mut ipam = Ipam::open(dir.path(), default_pools(), Vec::new()).unwrap();
    assert_eq!(ipam.network("n1").unwrap().leases.len(), 2);
    assert_eq!(
        ipam.lease("n1", "c", None).unwrap(),
        Ipv4Addr::new(172, 18, 0, 4)
    );
    ipam.release("n1", "a").unwrap();
    assert_eq!(
        ipam.lease("n1", "d", None).unwrap(),
        Ipv4Addr::new(172, 18, 0, 2)
    );
}

#[test]
fn explicit_subnet_range_gateway_and_static_ip() {
    let dir = tempfile::tempdir().unwrap();
    let mut ipam = Ipam::open(dir.path(), default_pools(), Vec::new()).unwrap();
    let req = PoolRequest {
        subnet: Some(net("10.50.0.0/16")),
        gateway: Some(Ipv4Addr::new(10, 50, 0, 254)),
        ip_range: Some(net("10.50.7.0/24")),
        aux: vec![("router".into(), Ipv4Addr::new(10, 50, 7, 2))],
        ..Default::default()
    };
    ipam.add_network("n", &req, &[], &[]).unwrap();
    // The range's first address is a host of the /16: libnetwork gives it first.
    assert_eq!(
        ipam.lease("n", "a", None).unwrap(),
        Ipv4Addr::new(10, 50, 7, 0)
    );
    assert_eq!(
        ipam.lease("n", "a1", None).unwrap(),
        Ipv4Addr::new(10, 50, 7, 1)
    );
    // .2 is an auxiliary address: skipped, and refused as a static one.
    assert_eq!(
        ipam.lease("n", "aa", None).unwrap(),
        Ipv4Addr::new(10, 50, 7, 3)
    );
    assert!(matches!(
        ipam.lease("n", "ab", Some(Ipv4Addr::new(10, 50, 7, 2))),
        Err(Error::AddressInUse(_))
    ));
    let outside = PoolRequest {
        subnet: Some(net("10.70.0.0/24")),
        aux: vec![("r".into(), Ipv4Addr::new(10, 71, 0, 1))],
        ..Default::default()
    };
    assert_eq!(
        ipam.add_network("o", &outside, &[], &[])
            .unwrap_err()
            .to_string(),
        "auxiliary address: (r:10.71.0.1) must belong to the master pool: 10.70.0.0/24"
    );
    let on_gateway = PoolRequest {
        subnet: Some(net("10.70.0.0/24")),
        aux: vec![("r".into(), Ipv4Addr::new(10, 70, 0, 1))],
        ..Default::default()
    };
    assert!(matches!(
        ipam.add_network("o", &on_gateway, &[], &[]),
        Err(Error::AuxInUse { .. })
    ));
    let fixed = Ipv4Addr::new(10, 50, 0, 9);
    assert_eq!(ipam.lease("n", "b", Some(fixed)).unwrap(), fixed);
    assert!(matches!(
        ipam.lease("n", "c", Some(fixed)),
        Err(Error::AddressInUse(_))
    ));
    assert!(matches!(
        ipam.lease("n", "c", Some(Ipv4Addr::new(10, 50, 0, 254))),
        Err(Error::AddressInUse(_))
    ));
    assert!(matches!(
        ipam.lease("n", "c", Some(Ipv4Addr::new(10, 51, 0, 1))),
        Err(Error::AddressOutOfRange(_))
    ));
    let overlap = PoolRequest {
        subnet: Some(net("10.50.3.0/24")),
        ..Default::default()
    };
    let err = ipam.add_network("m", &overlap, &[], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Pool overlaps with other one on this address space"
    );
}

#[test]
fn small_subnet_runs_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut ipam = Ipam::open(dir.path(), default_pools(), Vec::new()).unwrap();
    let req = PoolRequest {
        subnet: Some(net("10.60.0.0/30")),
        ..Default::default()
    };
    ipam.add_network("n", &req, &[], &[]).unwrap();
    assert_eq!(
        ipam.lease("n", "a", None).unwrap(),
        Ipv4Addr::new(10, 60, 0, 2)
    );
    assert!(matches!(
        ipam.lease("n", "b", None),
        Err(Error::PoolExhausted(_))
    ));
}

#[test]
fn a_container_gives_back_its_addresses_on_every_network() {
    let dir = tempfile::tempdir().unwrap();
    let mut ipam = Ipam::open(dir.path(), default_pools(), Vec::new()).unwrap();
    for n in ["n1", "n2"] {
        ipam.add_network(n, &PoolRequest::default(), &[], &[])
            .unwrap();
    }
    let v6 = PoolRequest {
        ipv6: true,
        subnet6: Some("fd42:3::/64".parse().unwrap()),
        ..Default::default()
    };
    ipam.add_network("n3", &v6, &[], &[]).unwrap();
    ipam.lease("n1", "a", None).unwrap();
    ipam.lease("n2", "a", None).unwrap();
    ipam.lease("n2", "b", None).unwrap();
    ipam.lease6("n3", "c", None).unwrap();
    assert_eq!(
        ipam.holders().into_iter().collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    ipam.release_everywhere("a").unwrap();
    ipam.release_everywhere("c").unwrap();
    drop(ipam);
    let ipam = Ipam::open(dir.path(), default_pools(), Vec::new()).unwrap();
    assert_eq!(ipam.holders().into_iter().collect::<Vec<_>>(), ["b"]);
}

#[test]
fn subnets_without_room_for_a_container_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut ipam = Ipam::open(dir.path(), default_pools(), Vec::new()).unwrap();
    for (subnet, gateway, text) in [
        (
            "10.61.0.0/31",
            None,
            "failed to allocate gateway (): No available addresses on this pool",
        ),
        (
            "10.61.1.0/32",
            None,
            "failed to allocate gateway (): No available addresses on this pool",
        ),
        (
            "10.61.2.0/31",
            Some(Ipv4Addr::new(10, 61, 2, 1)),
            "failed to allocate gateway (10.61.2.1): No available addresses on this pool",
        ),
    ] {
        let req = PoolRequest {
            subnet: Some(net(subnet)),
            gateway,
            ..Default::default()
        };
        let err = ipam.add_network(subnet, &req, &[], &[]).unwrap_err();
        assert_eq!(err.to_string(), text);
        assert!(ipam.network(subnet).is_none());
    }
}

#[test]
fn a_range_inside_the_subnet_gives_its_own_first_and_last_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let mut ipam = Ipam::open(dir.path(), default_pools(), Vec::new()).unwrap();
    let request = PoolRequest {
        subnet: Some(net("10.99.0.0/24")),
        ip_range: Some(net("10.99.0.254/31")),
        ..Default::default()
    };
    ipam.add_network("r", &request, &[], &[]).unwrap();
    // .254 is a host of the /24 (libnetwork gives it); .255 is the subnet's broadcast.
    assert_eq!(
        ipam.lease("r", "a", None).unwrap(),
        Ipv4Addr::new(10, 99, 0, 254)
    );
    assert!(ipam.lease("r", "b", None).is_err());
    let request = PoolRequest {
        subnet: Some(net("10.98.0.0/24")),
        ip_range: Some(net("10.98.0.128/25")),
        ..Default::default()
    };
    ipam.add_network("s", &request, &[], &[]).unwrap();
    assert_eq!(
        ipam.lease("s", "a", None).unwrap(),
        Ipv4Addr::new(10, 98, 0, 128)
    );
    assert_eq!(
        ipam.lease("s", "b", None).unwrap(),
        Ipv4Addr::new(10, 98, 0, 129)
    );
}

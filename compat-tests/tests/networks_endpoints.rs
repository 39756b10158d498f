//! What a client gives in `EndpointSettings` is kept and shown in inspect (IPAMConfig with
//! IPv4Address, IPv6Address and LinkLocalIPs, DriverOpts, Aliases, MacAddress, the
//! container-level `Config.MacAddress` of API < 1.44 on the first network), and network
//! inspect shows `IPAM.Options` and `AuxiliaryAddresses` as dockerd does.
mod common;

use common::api;
use common::network::cleanup_network;
use common::{Daemon, Fixtures};
use serde_json::{json, Value};

fn networks(d: &Daemon, container: &str) -> Value {
    let out = d.docker_ok(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks}}",
        container,
    ]);
    serde_json::from_str(&out).expect("json")
}

#[test]
fn endpoint_settings_are_kept_and_applied() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let bb = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["network", "create", "--subnet", "10.219.20.0/24", "epnet"]);
    d.docker_ok(&["network", "create", "--subnet", "10.219.21.0/24", "other"]);
    d.docker_ok(&[
        "create",
        "--name",
        "epc",
        "--network",
        "epnet",
        "--ip",
        "10.219.20.9",
        "--link-local-ip",
        "169.254.7.7",
        &bb,
        "sleep",
        "300",
    ]);
    d.docker_ok(&[
        "network",
        "connect",
        "--driver-opt",
        "com.example=1",
        "--ip",
        "10.219.21.50",
        "--alias",
        "x",
        "other",
        "epc",
    ]);
    // Before start, as given.
    let n = networks(&d, "epc");
    assert_eq!(
        n["epnet"]["IPAMConfig"],
        json!({"IPv4Address": "10.219.20.9", "LinkLocalIPs": ["169.254.7.7"]})
    );
    assert_eq!(n["epnet"]["DriverOpts"], Value::Null);
    assert_eq!(
        n["other"]["IPAMConfig"],
        json!({"IPv4Address": "10.219.21.50"})
    );
    assert_eq!(n["other"]["DriverOpts"], json!({"com.example": "1"}));
    assert_eq!(n["other"]["Aliases"][0], "x");
    // After start, still, and applied: the link-local address is on the interface.
    d.docker_ok(&["start", "epc"]);
    let n = networks(&d, "epc");
    assert_eq!(n["epnet"]["IPAddress"], "10.219.20.9");
    assert_eq!(
        n["epnet"]["IPAMConfig"]["LinkLocalIPs"],
        json!(["169.254.7.7"])
    );
    assert_eq!(n["other"]["DriverOpts"], json!({"com.example": "1"}));
    let addrs = d.docker_ok(&["exec", "epc", "ip", "-o", "-4", "addr"]);
    assert!(addrs.contains("inet 169.254.7.7/16"), "{addrs}");

    // API 1.43: Config.MacAddress is the first network's MAC.
    let body = format!(
        r#"{{"Image":"{bb}","Cmd":["sleep","300"],"MacAddress":"02:42:0a:db:14:63",
            "HostConfig":{{"NetworkMode":"epnet"}}}}"#
    );
    let (status, v) = api(
        &d,
        "POST",
        "/v1.43/containers/create?name=oldmac",
        Some(&body),
    );
    assert_eq!(status, 201, "{v}");
    d.docker_ok(&["start", "oldmac"]);
    let n = networks(&d, "oldmac");
    assert_eq!(n["epnet"]["MacAddress"], "02:42:0a:db:14:63");
    let link = d.docker_ok(&["exec", "oldmac", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(link.trim(), "02:42:0a:db:14:63");
    // API 1.44+: the field is deprecated but still moved to the mode's endpoint, with
    // dockerd's warning (docker-py's test_create_with_mac_address); a different MAC on that
    // endpoint is a 400.
    let body = format!(
        r#"{{"Image":"{bb}","Cmd":["sleep","300"],"MacAddress":"02:42:0a:db:14:64",
            "HostConfig":{{"NetworkMode":"epnet"}}}}"#
    );
    let (status, v) = api(
        &d,
        "POST",
        "/v1.53/containers/create?name=newmac",
        Some(&body),
    );
    assert_eq!(status, 201, "{v}");
    assert!(
        v["Warnings"][0]
            .as_str()
            .unwrap_or("")
            .contains("MacAddress field is now deprecated"),
        "{v}"
    );
    d.docker_ok(&["start", "newmac"]);
    assert_eq!(
        networks(&d, "newmac")["epnet"]["MacAddress"],
        "02:42:0a:db:14:64"
    );
    let body = format!(
        r#"{{"Image":"{bb}","Cmd":["true"],"MacAddress":"02:42:0a:db:14:65",
            "HostConfig":{{"NetworkMode":"epnet"}},
            "NetworkingConfig":{{"EndpointsConfig":{{"epnet":{{"MacAddress":"02:42:0a:db:14:66"}}}}}}}}"#
    );
    let (status, v) = api(&d, "POST", "/v1.53/containers/create", Some(&body));
    assert_eq!(status, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap_or("").contains("must match"),
        "{v}"
    );
    // An IPv6Address given on a network without IPv6 is kept as given, too.
    let body = format!(
        r#"{{"Image":"{bb}","Cmd":["true"],"HostConfig":{{"NetworkMode":"other"}},
            "NetworkingConfig":{{"EndpointsConfig":{{"other":{{"IPAMConfig":{{"IPv6Address":"fd00:db8::7"}}}}}}}}}}"#
    );
    let (status, v) = api(&d, "POST", "/containers/create?name=v6given", Some(&body));
    assert_eq!(status, 201, "{v}");
    let n = networks(&d, "v6given");
    assert_eq!(
        n["other"]["IPAMConfig"],
        json!({"IPv6Address": "fd00:db8::7"})
    );

    d.docker_ok(&["rm", "-f", "epc", "oldmac", "newmac", "v6given"]);
    d.docker_ok(&["network", "rm", "epnet", "other"]);
    d.stop();
    cleanup_network(d.dir.path());
}

/// A container that never started shows its networks as the client gave them: no
/// NetworkID (dockerd fills it in when it connects the endpoint); a network given by
/// `network connect` is named at once (DNSNames; the short ID among the Aliases of API
/// < 1.45), one given at create from the first start, as dockerd's `updateNetworkConfig`.
#[test]
fn a_never_started_container_shows_its_networks_as_given() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let bb = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["network", "create", "--subnet", "10.219.22.0/24", "given"]);
    d.docker_ok(&["network", "create", "--subnet", "10.219.23.0/24", "joined"]);
    let id = d
        .docker_ok(&[
            "create",
            "--name",
            "fresh",
            "--network",
            "given",
            "--network-alias",
            "g",
            &bb,
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    let short = &id[..12];
    d.docker_ok(&["network", "connect", "--alias", "j", "joined", "fresh"]);
    let n = networks(&d, "fresh");
    assert_eq!(n["given"]["NetworkID"], "", "{n}");
    assert_eq!(n["joined"]["NetworkID"], "", "{n}");
    assert_eq!(n["given"]["DNSNames"], Value::Null, "{n}");
    assert_eq!(n["joined"]["DNSNames"], json!(["fresh", "j", short]), "{n}");
    let old = |d: &Daemon| {
        let (status, v) = api(d, "GET", "/v1.44/containers/fresh/json", None);
        assert_eq!(status, 200, "{v}");
        v["NetworkSettings"]["Networks"].clone()
    };
    let n = old(&d);
    assert_eq!(n["given"]["Aliases"], json!(["g"]), "{n}");
    assert_eq!(n["joined"]["Aliases"], json!(["j", short]), "{n}");
    // The default bridge of a created container: no NetworkID either.
    d.docker_ok(&["create", "--name", "plain", &bb, "true"]);
    assert_eq!(networks(&d, "plain")["bridge"]["NetworkID"], "");

    // Started: every network has its ID and its names.
    d.docker_ok(&["start", "fresh"]);
    let ids = |name: &str| d.docker_ok(&["network", "inspect", "-f", "{{.Id}}", name]);
    let n = networks(&d, "fresh");
    assert_eq!(n["given"]["NetworkID"], ids("given").trim(), "{n}");
    assert_eq!(n["joined"]["NetworkID"], ids("joined").trim(), "{n}");
    assert_eq!(n["given"]["DNSNames"], json!(["fresh", "g", short]), "{n}");
    let n = old(&d);
    assert_eq!(n["given"]["Aliases"], json!(["g", short]), "{n}");
    // Stopped: the endpoint is gone, its names stay (dockerd's cleanOperationalData).
    d.docker_ok(&["stop", "-t", "0", "fresh"]);
    let n = networks(&d, "fresh");
    assert_eq!(n["given"]["DNSNames"], json!(["fresh", "g", short]), "{n}");
    assert_eq!(n["given"]["IPAddress"], "", "{n}");

    d.docker_ok(&["rm", "-f", "fresh", "plain"]);
    d.docker_ok(&["network", "rm", "given", "joined"]);
    d.stop();
    cleanup_network(d.dir.path());
}

#[test]
fn network_inspect_shows_ipam_options_and_auxiliary_addresses() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let bb = d.pull_fixture(&f, "busybox");
    let ipam = |name: &str| -> Value {
        let out = d.docker_ok(&["network", "inspect", "-f", "{{json .IPAM}}", name]);
        serde_json::from_str(&out).expect("json")
    };
    // No IPAM in the request: Options null; the CLI sends empty ones: {}.
    let (status, v) = api(&d, "POST", "/networks/create", Some(r#"{"Name":"raw"}"#));
    assert_eq!(status, 201, "{v}");
    assert_eq!(ipam("raw")["Options"], Value::Null);
    d.docker_ok(&["network", "create", "plain"]);
    assert_eq!(ipam("plain")["Options"], json!({}));
    assert_eq!(ipam("bridge")["Options"], Value::Null);

    d.docker_ok(&[
        "network",
        "create",
        "--subnet",
        "10.219.14.0/24",
        "--aux-address",
        "r1=10.219.14.2",
        "--aux-address",
        "r2=10.219.14.3",
        "--ipam-opt",
        "foo=bar",
        "auxnet",
    ]);
    let shown = ipam("auxnet");
    assert_eq!(shown["Options"], json!({"foo": "bar"}));
    assert_eq!(
        shown["Config"][0]["AuxiliaryAddresses"],
        json!({"r1": "10.219.14.2", "r2": "10.219.14.3"})
    );
    // Reserved: the first container gets .4; asking for one is refused.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "auxnet",
        &bb,
        "ip",
        "-o",
        "-4",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(out.contains("inet 10.219.14.4/24"), "{out}");
    let err = d.docker_err(&[
        "run",
        "--rm",
        "--network",
        "auxnet",
        "--ip",
        "10.219.14.2",
        &bb,
        "true",
    ]);
    assert!(err.contains("Address already in use"), "{err}");

    // dockerd's refusals: outside the subnet, and the gateway's address.
    for (aux, status, message) in [
        (
            "10.219.16.1",
            403,
            "auxiliary address: (r1:10.219.16.1) must belong to the master pool: 10.219.15.0/24",
        ),
        (
            "10.219.15.1",
            500,
            "failed to allocate secondary ip address (r1:10.219.15.1): Address already in use",
        ),
    ] {
        let body = format!(
            r#"{{"Name":"refused","IPAM":{{"Config":[{{"Subnet":"10.219.15.0/24","AuxiliaryAddresses":{{"r1":"{aux}"}}}}]}}}}"#
        );
        let (got, v) = api(&d, "POST", "/networks/create", Some(&body));
        assert_eq!((got, v["message"].as_str()), (status, Some(message)), "{v}");
    }
    // Nothing was left of the refused ones: the subnet is free again.
    d.docker_ok(&["network", "create", "--subnet", "10.219.15.0/24", "after"]);

    d.docker_ok(&["network", "rm", "raw", "plain", "auxnet", "after"]);
    d.stop();
    let (links, _) = cleanup_network(d.dir.path());
    assert_eq!(links.len(), 1, "only the default bridge: {links:?}");
}

//! Legacy links (`--link name:alias`) as dockerd keeps them: on the default bridge the
//! `ALIAS_*` variables, the /etc/hosts lines, `HostConfig.Links` as `/child:/parent/alias`,
//! `docker rm --link` and dockerd's errors; on a user-defined network an alias only the
//! linking container resolves, kept in the endpoint's `Links`.
mod common;

use std::net::Ipv4Addr;

use common::api;
use common::dns::TinyDns;
use common::network::{cleanup_network, ip_on};
use common::{Daemon, Fixtures};

const PAGE: &str = "Berth httpd fixture";
/// netclient's exit code for a name it cannot resolve (compat-tests/fixtures/netclient.c).
const CANNOT_RESOLVE: i32 = 3;

#[test]
fn links_on_the_default_bridge_give_variables_hosts_and_a_name() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let httpd = d.pull_fixture(&f, "httpd");
    let nc = d.pull_fixture(&f, "netclient");
    d.docker_ok(&[
        "run", "-d", "--name", "web", "-e", "FOO=bar", "--expose", "81", &httpd,
    ]);
    let web = ip_on(&d, "web", "bridge");

    // The linked container must exist (dockerd's 400 at create) and run (at start).
    let err = d.docker_err(&["create", "--link", "nosuch:x", &nc, "true"]);
    assert!(
        err.contains("could not get container for nosuch: No such container: nosuch"),
        "{err}"
    );
    d.docker_ok(&["create", "--name", "stopped", &httpd]);
    d.docker_ok(&[
        "create",
        "--name",
        "early",
        "--link",
        "stopped:s",
        &nc,
        "true",
    ]);
    let err = d.docker_err(&["start", "early"]);
    assert!(
        err.contains("Cannot link to a non running container: /stopped AS /early/s"),
        "{err}"
    );

    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--link",
        "web:webalias",
        &nc,
        "sleep",
        "300",
    ]);
    let env = d.docker_ok(&["exec", "client", "env"]);
    for want in [
        "WEBALIAS_NAME=/client/webalias".to_string(),
        format!("WEBALIAS_PORT=tcp://{web}:80"),
        format!("WEBALIAS_PORT_80_TCP_ADDR={web}"),
        "WEBALIAS_PORT_81_TCP_PORT=81".to_string(),
        format!("WEBALIAS_PORT_80_TCP_END=tcp://{web}:81"),
        "WEBALIAS_ENV_FOO=bar".to_string(),
    ] {
        assert!(env.lines().any(|l| l == want), "{want} in\n{env}");
    }
    assert!(!env.contains("WEBALIAS_ENV_PATH"), "{env}");
    let hosts = d.docker_ok(&["exec", "client", "cat", "/etc/hosts"]);
    let short = &d.docker_ok(&["inspect", "-f", "{{.Id}}", "web"])[..12];
    assert!(
        hosts.contains(&format!("{web}\twebalias {short} web\n")),
        "{hosts}"
    );
    // The alias reaches web over TCP (through /etc/hosts: the default bridge has no DNS).
    let out = d.docker_ok(&["exec", "client", "netclient", "webalias", "80"]);
    assert!(out.contains(PAGE), "{out}");
    let links = d.docker_ok(&["inspect", "-f", "{{json .HostConfig.Links}}", "client"]);
    assert_eq!(links.trim(), r#"["/web:/client/webalias"]"#);

    // docker rm --link: only a link name (parent/alias) is one; then it is gone.
    let err = d.docker_err(&["rm", "--link", "client"]);
    assert!(
        err.contains("Conflict, cannot remove the default link name of the container"),
        "{err}"
    );
    let err = d.docker_err(&["rm", "--link", "/client/nope"]);
    assert!(err.contains("No such container: client/nope"), "{err}");
    let out = d.docker_ok(&["rm", "--link", "/client/webalias"]);
    assert_eq!(out.trim(), "/client/webalias");
    let links = d.docker_ok(&["inspect", "-f", "{{json .HostConfig.Links}}", "client"]);
    assert_eq!(links.trim(), "null");
    assert!(
        d.docker_ok(&["ps", "-q", "--filter", "name=client"])
            .trim()
            .len()
            == 12
    );

    d.docker_ok(&["rm", "-f", "web", "client", "stopped", "early"]);
    d.stop();
    cleanup_network(d.dir.path());
}

#[test]
fn a_link_on_a_user_network_is_a_name_only_the_linking_container_resolves() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let httpd = d.pull_fixture(&f, "httpd");
    let nc = d.pull_fixture(&f, "netclient");
    let upstream = TinyDns::start("nothing.berth.test", Ipv4Addr::new(198, 51, 100, 1));
    let upstream = upstream.addr.to_string();
    d.docker_ok(&["network", "create", "un"]);
    d.docker_ok(&["run", "-d", "--name", "web2", "--network", "un", &httpd]);
    let run = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "un",
            "--dns",
            &upstream,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[&nc, "sleep", "300"]);
        d.docker_ok(&args);
    };
    run("linker", &["--link", "web2:w2"]);
    run("bystander", &[]);
    let resolve = |who: &str| {
        let out = d.docker(&["exec", who, "netclient", "-r", "w2"]);
        (out.status.code().unwrap_or(-1), common::stdout(&out))
    };
    let (code, out) = resolve("linker");
    assert_eq!((code, out.trim()), (0, ip_on(&d, "web2", "un").as_str()));
    let out = d.docker_ok(&["exec", "linker", "netclient", "w2", "80"]);
    assert!(out.contains(PAGE), "{out}");
    assert_eq!(resolve("bystander").0, CANNOT_RESOLVE);
    // Kept on the endpoint; HostConfig.Links stays empty, as dockerd shows it.
    let shown = d.docker_ok(&[
        "inspect",
        "-f",
        "{{json .HostConfig.Links}} {{json (index .NetworkSettings.Networks \"un\").Links}}",
        "linker",
    ]);
    assert_eq!(shown.trim(), r#"null ["web2:w2"]"#);
    // Through the API: EndpointsConfig.Links given directly.
    let body = format!(
        r#"{{"Image":"{nc}","Cmd":["sleep","300"],"HostConfig":{{"NetworkMode":"un","Dns":["{upstream}"]}},
            "NetworkingConfig":{{"EndpointsConfig":{{"un":{{"Links":["web2:api"]}}}}}}}}"#
    );
    let (status, created) = api(&d, "POST", "/containers/create?name=viaapi", Some(&body));
    assert_eq!(status, 201, "{created}");
    d.docker_ok(&["start", "viaapi"]);
    let out = d.docker_ok(&["exec", "viaapi", "netclient", "-r", "api"]);
    assert_eq!(out.trim(), ip_on(&d, "web2", "un"));

    d.docker_ok(&["rm", "-f", "web2", "linker", "bystander", "viaapi"]);
    d.docker_ok(&["network", "rm", "un"]);
    d.stop();
    let (links, _) = cleanup_network(d.dir.path());
    assert_eq!(links.len(), 1, "only the default bridge: {links:?}");
}

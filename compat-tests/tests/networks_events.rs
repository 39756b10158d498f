//! Network `connect` and `disconnect` events as dockerd 20.10 sends them (compared on
//! dockerd with `--network none` and `host`): Type network, Actor ID the network's id,
//! attributes container, name and type; at start (before the container's `start`) and
//! at exit (after its `die`), for `none` and `host` too; none for a container that never
//! started; `docker network connect` of a stopped container waits for its start, while a
//! disconnect is announced at once.
mod common;

use common::unix_now;

use serde_json::Value;

use common::network::cleanup_network;
use common::{Daemon, Fixtures};

/// The network events between `since` and now, as (action, network name, container id).
fn network_events(d: &Daemon, since: &str) -> Vec<(String, String, String)> {
    // The window ends a little after now, so the last event's second is in it.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let until = unix_now();
    let out = d.docker_ok(&[
        "events",
        "--since",
        since,
        "--until",
        &until,
        "--filter",
        "type=network",
        "--format",
        "{{json .}}",
    ]);
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert_eq!(e["Type"], "network", "{l}");
            let attrs = &e["Actor"]["Attributes"];
            let name = attrs["name"].as_str().unwrap_or("").to_string();
            let id = d.docker_ok(&["network", "inspect", "--format", "{{.ID}}", &name]);
            assert_eq!(e["Actor"]["ID"].as_str(), Some(id.trim()), "{l}");
            let driver = d.docker_ok(&["network", "inspect", "--format", "{{.Driver}}", &name]);
            assert_eq!(attrs["type"].as_str(), Some(driver.trim()), "{l}");
            assert_eq!(attrs.as_object().map(|o| o.len()), Some(3), "{l}");
            (
                e["Action"].as_str().unwrap_or("").to_string(),
                name,
                attrs["container"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn ev(action: &str, network: &str, container: &str) -> (String, String, String) {
    (action.into(), network.into(), container.into())
}

fn id_of(d: &Daemon, container: &str) -> String {
    d.docker_ok(&["inspect", "--format", "{{.Id}}", container])
        .trim()
        .to_string()
}

#[test]
fn connect_and_disconnect_events_at_start_exit_and_on_demand() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let busybox = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["network", "create", "evnet"]);
    d.docker_ok(&["network", "create", "evnet2"]);

    // run: connect at start, disconnect at exit, on every kind of network.
    for network in ["evnet", "bridge", "none", "host"] {
        let name = format!("ev-{network}");
        let since = unix_now();
        d.docker_ok(&[
            "run",
            "--name",
            &name,
            "--network",
            network,
            &busybox,
            "true",
        ]);
        let id = id_of(&d, &name);
        assert_eq!(
            network_events(&d, &since),
            vec![ev("connect", network, &id), ev("disconnect", network, &id)],
            "{network}"
        );
        // The container's own events bracket them: connect before start.
        let out = d.docker_ok(&[
            "events",
            "--since",
            &since,
            "--until",
            &unix_now(),
            "--format",
            "{{.Type}} {{.Action}}",
        ]);
        let order: Vec<&str> = out.lines().collect();
        let pos = |what: &str| order.iter().position(|l| *l == what);
        assert!(
            pos("network connect") < pos("container start"),
            "{network}: {order:?}"
        );
        d.docker_ok(&["rm", &name]);
    }

    // Created, never started, removed: no network event at all.
    let since = unix_now();
    d.docker_ok(&["create", "--name", "never", "--network", "evnet", &busybox]);
    d.docker_ok(&["rm", "never"]);
    assert_eq!(network_events(&d, &since), vec![]);

    // A stopped container: connect waits for its start; disconnect is announced at once.
    d.docker_ok(&[
        "create",
        "--name",
        "later",
        "--network",
        "evnet",
        &busybox,
        "sleep",
        "300",
    ]);
    let id = id_of(&d, "later");
    let since = unix_now();
    d.docker_ok(&["network", "connect", "evnet2", "later"]);
    assert_eq!(network_events(&d, &since), vec![]);
    d.docker_ok(&["start", "later"]);
    let mut seen = network_events(&d, &since);
    seen.sort();
    assert_eq!(
        seen,
        vec![ev("connect", "evnet", &id), ev("connect", "evnet2", &id)]
    );

    // Running: both at once; and the stop announces only what it is still on.
    let since = unix_now();
    d.docker_ok(&["network", "disconnect", "evnet2", "later"]);
    d.docker_ok(&["network", "connect", "bridge", "later"]);
    d.docker_ok(&["rm", "-f", "later"]);
    let events = network_events(&d, &since);
    assert_eq!(
        events[..2],
        [
            ev("disconnect", "evnet2", &id),
            ev("connect", "bridge", &id)
        ]
    );
    let mut rest = events[2..].to_vec();
    rest.sort();
    assert_eq!(
        rest,
        vec![
            ev("disconnect", "bridge", &id),
            ev("disconnect", "evnet", &id)
        ]
    );

    // A stopped container's disconnect is announced too.
    d.docker_ok(&["create", "--name", "idle", "--network", "evnet", &busybox]);
    let id = id_of(&d, "idle");
    let since = unix_now();
    d.docker_ok(&["network", "disconnect", "evnet", "idle"]);
    assert_eq!(
        network_events(&d, &since),
        vec![ev("disconnect", "evnet", &id)]
    );
    d.docker_ok(&["rm", "idle"]);

    d.docker_ok(&["network", "rm", "evnet", "evnet2"]);
    d.stop();
    cleanup_network(d.dir.path());
}

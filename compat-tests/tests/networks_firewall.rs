//! A host whose filter tables drop forwarded traffic, as dockerd leaves them
//! (`iptables -P FORWARD DROP`) and with br_netfilter passing bridged frames through
//! them: two containers of a user network and two of the default bridge still talk over
//! TCP, a container of another network still cannot, a published port still answers,
//! `iptables` still reads the tables, a `docker build --network` step reaches the
//! network's containers, and Berth's rules leave with its networks. Once
//! with each firewall backend (`--firewall-backend`, dockerd 29's flag).
//!
//! The `DROP` policy is global to a network namespace, and this machine runs other
//! tests at the same time: so berthd runs in a network namespace of its own (`unshare
//! --net`), where the policy is set before it starts, for iptables-nft and for the legacy
//! tables alike; the namespace, its bridges and its rules go when the daemon's processes
//! end. The host's own policy is never changed. berthd there cannot reach the test
//! registries on the host's loopback, so the image is built from the host's static
//! busybox (`COPY`, no `RUN`).
mod common;

use std::process::Command;

use common::network::ip_on;
use common::{eventually, Daemon};

const PAGE: &str = "berth behind a DROP policy";

/// berthd in a fresh network namespace whose filter tables drop forwarded packets.
fn daemon_behind_drop(backend: &str) -> Daemon {
    let setup = "ip link set lo up \
        && echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables \
        && iptables -w -P FORWARD DROP \
        && iptables-legacy -w -P FORWARD DROP \
        && exec \"$@\"";
    Daemon::start_wrapped(
        &["unshare", "--net", "--", "sh", "-c", setup, "sh"],
        &["--firewall-backend", backend],
    )
}

/// Runs a shell line inside the daemon's network namespace; (success, stdout).
fn in_daemon_netns(d: &Daemon, script: &str) -> (bool, String) {
    let pid = d.pid().expect("berthd runs").to_string();
    let out = Command::new("nsenter")
        .args(["-t", &pid, "-n", "sh", "-c", script])
        .output()
        .expect("nsenter");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// An image with the host's busybox and a page, built by the daemon.
fn build_image(d: &Daemon) -> String {
    let ctx = tempfile::tempdir().expect("context");
    std::fs::copy("/bin/busybox", ctx.path().join("busybox")).expect("copy busybox");
    std::fs::create_dir(ctx.path().join("www")).expect("www");
    std::fs::write(ctx.path().join("www/index.html"), format!("{PAGE}\n")).expect("page");
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\n",
    )
    .expect("Dockerfile");
    let tag = "berth-test/drop-policy:1";
    d.docker_ok(&["build", "-q", "-t", tag, &ctx.path().display().to_string()]);
    tag.to_string()
}

fn serve(d: &Daemon, image: &str, name: &str, network: &str, extra: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name, "--network", network];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        image,
        "/bin/busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    d.docker_ok(&args);
}

/// `GET /` from a new container on `network` (busybox `nc`: its static `wget` needs more
/// of a root than this image has): the page, or None.
fn fetch_from(d: &Daemon, image: &str, network: &str, ip: &str) -> Option<String> {
    let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 3 {ip} 80");
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        network,
        image,
        "/bin/busybox",
        "sh",
        "-c",
        &script,
    ]);
    let page = common::stdout(&out);
    (out.status.success() && page.contains(PAGE)).then_some(page)
}

fn containers_talk_behind_drop(backend: &str) {
    let mut d = daemon_behind_drop(backend);
    let image = build_image(&d);
    d.docker_ok(&["network", "create", "front"]);
    d.docker_ok(&["network", "create", "other"]);
    serve(&d, &image, "web", "front", &["-p", "127.0.0.1:8080:80"]);
    serve(&d, &image, "web0", "bridge", &[]);
    let web = ip_on(&d, "web", "front");
    let web0 = ip_on(&d, "web0", "bridge");

    // Same user network, same default bridge: TCP goes through.
    eventually("a container on front fetches web's page", || {
        fetch_from(&d, &image, "front", &web).is_some()
    });
    eventually(
        "a container on the default bridge fetches web0's page",
        || fetch_from(&d, &image, "bridge", &web0).is_some(),
    );
    // A build step on the network, as `docker build --network front`.
    let ctx = tempfile::tempdir().expect("context");
    let step =
        format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 3 {web} 80 > /page");
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM {image}\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"{step}\"]\n"),
    )
    .expect("Dockerfile");
    let ctx_path = ctx.path().display().to_string();
    d.docker_ok(&[
        "build",
        "-q",
        "--network",
        "front",
        "-t",
        "fetched",
        &ctx_path,
    ]);
    let page = d.docker_ok(&["run", "--rm", "fetched", "/bin/busybox", "cat", "/page"]);
    assert!(page.contains(PAGE), "the build step's fetch: {page}");
    // Another network: still isolated.
    assert_eq!(
        fetch_from(&d, &image, "other", &web),
        None,
        "reached {web} on front from other"
    );
    // The published port answers on the namespace's loopback.
    let (ok, page) = in_daemon_netns(
        &d,
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 127.0.0.1 8080",
    );
    assert!(ok && page.contains(PAGE), "published port: {page}");

    // The policy is the host's as it was, and both tools still read their tables.
    for tool in ["iptables", "iptables-legacy"] {
        let (ok, rules) = in_daemon_netns(&d, &format!("{tool} -w -S"));
        assert!(ok, "{tool} -S failed: {rules}");
        assert!(rules.contains("-P FORWARD DROP"), "{tool}: {rules}");
    }
    let front = format!(
        "br-{}",
        &d.docker_ok(&["network", "inspect", "-f", "{{.Id}}", "front"])[..12]
    );
    let (_, rules) = in_daemon_netns(&d, "iptables -w -S");
    assert!(rules.contains(&front), "accepts for {front}: {rules}");

    // Berth's rules leave with its networks.
    d.docker_ok(&["rm", "-f", "web"]);
    d.docker_ok(&["network", "rm", "front", "other"]);
    for tool in ["iptables", "iptables-legacy"] {
        let (_, rules) = in_daemon_netns(&d, &format!("{tool} -w -S"));
        assert!(!rules.contains(&front), "{tool} keeps {front}: {rules}");
    }
    if backend == "nftables" {
        let (_, tables) = in_daemon_netns(&d, "nft list ruleset");
        assert!(!tables.contains(&front), "nft keeps {front}: {tables}");
    }
    d.docker_ok(&["rm", "-f", "web0"]);
    d.stop();
}

#[test]
fn nftables_backend_keeps_containers_talking_behind_a_drop_policy() {
    containers_talk_behind_drop("nftables");
}

#[test]
fn iptables_backend_keeps_containers_talking_behind_a_drop_policy() {
    containers_talk_behind_drop("iptables");
}

//! Requests that would hurt the host or that dockerd refuses, sent as the user (or a
//! careless client) would: a network option naming someone else's link, settings out of
//! range, bodies that are no tar, a build pointed outside its context; and defaults as
//! dockerd's (no_new_privs only when asked, so setuid programs work).
mod common;

use std::process::{Command, Stdio};

use common::{unique, Daemon, Fixtures};

/// A raw request on the daemon's socket: (status, body).
fn request(d: &Daemon, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut child = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(&d.socket)
        .args(["-X", method, "-H", &format!("Content-Type: {content_type}")])
        .args(["--data-binary", "@-"])
        .arg(format!("http://localhost{path}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(body)
            .expect("body");
    }
    let out = child.wait_with_output().expect("curl output");
    let text = common::stdout(&out);
    let (body, status) = text.rsplit_once('\n').expect("status line");
    (status.trim().parse().expect("status"), body.to_string())
}

/// The `message` of an error body.
fn message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no message in {body}"))
}

/// Links made for a test, deleted when dropped.
struct Links(Vec<String>);

impl Drop for Links {
    fn drop(&mut self) {
        for l in &self.0 {
            let _ = Command::new("ip")
                .args(["link", "del", l])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("ip");
    common::stdout(&out)
}

#[test]
fn a_network_never_takes_over_a_link_it_did_not_make() {
    let d = Daemon::start();
    let tag = std::process::id() % 100_000;
    let (veth, peer, users) = (
        format!("bh{tag}v"),
        format!("bh{tag}p"),
        format!("bh{tag}u"),
    );
    let _links = Links(vec![veth.clone(), users.clone()]);
    ip(&["link", "add", &veth, "type", "veth", "peer", "name", &peer]);
    ip(&["link", "add", &users, "type", "bridge"]);
    ip(&["link", "set", &users, "alias", "the user's bridge"]);
    // A veth is not a bridge: refused, and left as it was.
    let err = d.docker_err(&[
        "network",
        "create",
        "-o",
        &format!("com.docker.network.bridge.name={veth}"),
        &unique("net-veth"),
    ]);
    assert!(
        err.contains(&format!("existing interface {veth} is not a bridge")),
        "{err}"
    );
    let shown = ip(&["-o", "addr", "show", &veth]);
    assert!(
        !shown.contains("inet "),
        "an address was added to {veth}: {shown}"
    );
    assert!(ip(&["-o", "link", "show", &veth]).contains(&veth));
    // The user's bridge serves the network, keeps its alias and outlives it.
    let net = unique("net-users-bridge");
    d.docker_ok(&[
        "network",
        "create",
        "--subnet",
        "10.231.7.0/24",
        "-o",
        &format!("com.docker.network.bridge.name={users}"),
        &net,
    ]);
    assert!(ip(&["-o", "link", "show", &users]).contains("alias the user's bridge"));
    d.docker_ok(&["network", "rm", &net]);
    assert!(
        ip(&["-o", "link", "show", &users]).contains(&users),
        "the user's bridge was deleted"
    );
    // A bridge the network made goes with it.
    let made = format!("bh{tag}m");
    let net = unique("net-made");
    d.docker_ok(&[
        "network",
        "create",
        "-o",
        &format!("com.docker.network.bridge.name={made}"),
        &net,
    ]);
    assert!(ip(&["-o", "link", "show", &made]).contains(&made));
    d.docker_ok(&["network", "rm", &net]);
    assert!(!ip(&["-o", "link", "show"]).contains(&format!(" {made}:")));
}

#[test]
fn subnets_without_an_address_for_a_container_are_refused() {
    let d = Daemon::start();
    for subnet in ["10.232.0.0/31", "10.232.1.0/32"] {
        let body = format!(
            r#"{{"Name":"{}","IPAM":{{"Config":[{{"Subnet":"{subnet}"}}]}}}}"#,
            unique("tiny")
        );
        let (status, answer) = request(
            &d,
            "POST",
            "/networks/create",
            "application/json",
            body.as_bytes(),
        );
        assert_eq!(status, 400, "{subnet}: {answer}");
        assert_eq!(
            message(&answer),
            "failed to allocate gateway (): No available addresses on this pool"
        );
    }
    assert!(!d.docker_ok(&["network", "ls"]).contains("tiny-"));
}

#[test]
fn out_of_range_settings_are_refused_at_create_with_dockerds_texts() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let cpus = std::fs::read_to_string("/sys/fs/cgroup/cpuset/cpuset.cpus")
        .or_else(|_| std::fs::read_to_string("/sys/fs/cgroup/cpuset.cpus.effective"))
        .expect("the host's cpuset");
    // dockerd checks a blkio weight's range only where the kernel can apply one; elsewhere
    // it drops the weight with a warning (checked below).
    let weight_supported = ["blkio.weight", "blkio.bfq.weight"].iter().any(|f| {
        std::path::Path::new("/sys/fs/cgroup/blkio")
            .join(f)
            .exists()
    }) || std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .is_ok_and(|c| c.split_whitespace().any(|c| c == "io"));
    let mut cases = vec![
        (
            r#""HostConfig":{"CpuShares":-1}"#,
            "invalid CPU shares (-1): value must be a positive integer".to_string(),
        ),
        (
            r#""HostConfig":{"OomScoreAdj":1001}"#,
            "Invalid value 1001, range for oom score adj is [-1000, 1000]".into(),
        ),
        (
            r#""HostConfig":{"OomScoreAdj":-1001}"#,
            "Invalid value -1001, range for oom score adj is [-1000, 1000]".into(),
        ),
        (
            r#""HostConfig":{"ShmSize":-1}"#,
            "SHM size can not be less than 0".into(),
        ),
        (
            r#""HostConfig":{"CpusetCpus":"0-511"}"#,
            format!(
                "Requested CPUs are not available - requested 0-511, available: {}",
                cpus.trim()
            ),
        ),
        (
            r#""HostConfig":{"CpusetCpus":"a"}"#,
            "Invalid value a for cpuset cpus: invalid format: a".into(),
        ),
        (
            r#""WorkingDir":"rel/dir""#,
            "the working directory 'rel/dir' is invalid, it needs to be an absolute path".into(),
        ),
    ];
    // A create of the fixture with these fields, through the raw API.
    let create = |fields: &str| {
        let body = format!(r#"{{"Image":"{image}","Cmd":["true"],{fields}}}"#);
        request(
            &d,
            "POST",
            "/containers/create",
            "application/json",
            body.as_bytes(),
        )
    };
    for weight in [
        r#""HostConfig":{"BlkioWeight":5}"#,
        r#""HostConfig":{"BlkioWeight":1001}"#,
    ] {
        if weight_supported {
            cases.push((weight, "Range of blkio weight is from 10 to 1000".into()));
        } else {
            let (status, answer) = create(weight);
            assert_eq!(status, 201, "{answer}");
            assert!(answer.contains("Weight discarded."), "{answer}");
            let id = serde_json::from_str::<serde_json::Value>(&answer).expect("json")["Id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            d.docker_ok(&["rm", &id]);
        }
    }
    for (fields, text) in cases {
        let (status, answer) = create(fields);
        assert_eq!((status, message(&answer)), (400, text), "{fields}");
    }
    assert_eq!(
        d.docker_ok(&["ps", "-aq"]).trim(),
        "",
        "a refused container was created"
    );
}

#[test]
fn bodies_that_are_no_tar_and_builds_outside_their_context_are_400s() {
    let d = Daemon::start();
    let (status, answer) = request(
        &d,
        "POST",
        "/images/create?fromSrc=-&repo=notatar",
        "application/x-tar",
        b"not a tar at all",
    );
    assert_eq!(
        (status, message(&answer).as_str()),
        (
            400,
            "Error processing tar file(exit status 1): unexpected EOF"
        )
    );
    let garbage: Vec<u8> = (0..2048u32).map(|i| (i * 7 + 3) as u8).collect();
    let (status, answer) = request(
        &d,
        "POST",
        "/images/create?fromSrc=-&repo=notatar",
        "application/x-tar",
        &garbage,
    );
    assert_eq!(
        (status, message(&answer).as_str()),
        (
            400,
            "Error processing tar file(exit status 1): archive/tar: invalid tar header"
        )
    );
    assert_eq!(
        d.docker_ok(&["images", "-q"]).trim(),
        "",
        "an image was made of it"
    );
    let (status, answer) = request(
        &d,
        "POST",
        "/build",
        "application/x-tar",
        b"not a tar at all",
    );
    assert_eq!((status, message(&answer).as_str()), (400, "unexpected EOF"));
    let (status, answer) = request(
        &d,
        "POST",
        "/build?remote=file:///etc/passwd",
        "application/x-tar",
        b"",
    );
    assert_eq!(
        (status, message(&answer).as_str()),
        (
            400,
            "remoteURL (file:///etc/passwd) could not be recognized as URL"
        )
    );
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(15);
    h.set_mode(0o644);
    b.append_data(&mut h, "Dockerfile", &b"FROM scratch\n\n\n"[..])
        .expect("Dockerfile");
    let context = b.into_inner().expect("tar");
    let (status, answer) = request(
        &d,
        "POST",
        "/build?dockerfile=../../etc/passwd",
        "application/x-tar",
        &context,
    );
    assert_eq!(
        (status, message(&answer).as_str()),
        (
            400,
            "forbidden path outside the build context: ../../etc/passwd ()"
        )
    );
}

#[test]
fn no_new_privileges_only_when_asked_and_setuid_programs_work() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = d.pull_fixture(&f, "busybox");
    let euid = common::static_program(d.dir.path(), "euid.c");
    let nnp = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("NoNewPrivs:"))
            .map(|l| l.split_whitespace().last().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no NoNewPrivs in {out}"))
    };
    let out = d.docker_ok(&["run", "--rm", &image, "cat", "/proc/self/status"]);
    assert_eq!(nnp(&out), "0");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        &image,
        "cat",
        "/proc/self/status",
    ]);
    assert_eq!(nnp(&out), "1");
    for (name, options, want_euid, want_nnp) in [
        (unique("berth-suid"), vec![], "0", "0"),
        (
            unique("berth-suid-nnp"),
            vec!["--security-opt", "no-new-privileges:true"],
            "1000",
            "1",
        ),
    ] {
        let mut args = vec!["create", "--name", name.as_str()];
        args.extend(options);
        args.extend([image.as_str(), "sleep", "300"]);
        d.docker_ok(&args);
        d.docker_ok(&["cp", &euid.display().to_string(), &format!("{name}:/euid")]);
        d.docker_ok(&["start", &name]);
        d.docker_ok(&["exec", &name, "chmod", "4755", "/euid"]);
        let out = d.docker_ok(&["exec", "--user", "1000", &name, "/euid"]);
        assert_eq!(out.trim(), want_euid, "{name}: the setuid program's euid");
        let out = d.docker_ok(&["exec", "--user", "1000", &name, "cat", "/proc/self/status"]);
        assert_eq!(nnp(&out), want_nnp, "{name}");
        d.docker_ok(&["rm", "-f", &name]);
    }
}

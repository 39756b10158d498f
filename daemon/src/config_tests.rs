//! Tests of `config`.
use super::*;
use clap::Parser;

fn cfg(args: &[&str]) -> Result<Config, ConfigError> {
    let mut argv = vec!["berthd", "--config-file", "/nonexistent-berth-test"];
    argv.extend_from_slice(args);
    let flags = Flags::try_parse_from(argv).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    resolve(&flags, None)
}

#[test]
fn defaults_listen_on_docker_sock() {
    let c = cfg(&[]).expect("config");
    assert_eq!(c.hosts, vec!["unix:///var/run/docker.sock"]);
    assert_eq!(c.pidfile, PathBuf::from("/run/berth/berthd.pid"));
    assert_eq!(c.default_runtime, "runc");
    assert_eq!(c.runtimes["runc"].path, "berth-runc");
    assert_eq!(c.runtimes["berth-runc"].path, "berth-runc");
    assert!(c.iptables);
}

#[test]
fn pidfile_follows_exec_root() {
    let c = cfg(&["--exec-root", "/tmp/x"]).expect("config");
    assert_eq!(c.pidfile, PathBuf::from("/tmp/x/berthd.pid"));
}

#[test]
fn tls_flags_as_dockerd() {
    let c = cfg(&["--tlsverify"]).expect("config");
    assert_eq!((c.tls, c.tls_verify), (Some(true), true));
    let c = cfg(&["--tls"]).expect("config");
    assert_eq!((c.tls, c.tls_verify), (Some(true), true));
    let c = cfg(&["--tls", "--tlsverify=false"]).expect("config");
    assert_eq!((c.tls, c.tls_verify), (Some(true), false));
    let c = cfg(&["--tls=false"]).expect("config");
    assert_eq!((c.tls, c.tls_verify), (Some(false), false));
}

#[test]
fn runtimes_and_pools() {
    let c = cfg(&[
        "--add-runtime",
        "crun=/usr/bin/crun",
        "--default-runtime",
        "crun",
    ])
    .expect("config");
    assert_eq!(c.runtimes["crun"].path, "/usr/bin/crun");
    assert!(cfg(&["--default-runtime", "nope"]).is_err());
    let p = parse_address_pool("base=10.10.0.0/16,size=24").expect("pool");
    assert_eq!(
        p,
        AddressPool {
            base: "10.10.0.0/16".into(),
            size: 24
        }
    );
    assert!(parse_address_pool("10.0.0.0/8").is_err());
}

#[test]
fn bad_log_level_is_refused() {
    assert!(cfg(&["--log-level", "loud"]).is_err());
}

#[test]
fn init_flags_and_daemon_json_keys() {
    let c = cfg(&[]).expect("config");
    assert!(!c.init);
    assert_eq!(c.init_path, None);
    let c = cfg(&["--init", "--init-path", "/opt/tini"]).expect("config");
    assert!(c.init);
    assert_eq!(c.init_binary(), Ok(PathBuf::from("/opt/tini")));
    let none = Flags::try_parse_from(["berthd"]).expect("flags");
    let f = file::parse(r#"{"init": true, "init-path": "/opt/init"}"#, &none).expect("file");
    let c = resolve(&none, Some(&f)).expect("config");
    assert!(c.init);
    assert_eq!(c.init_path, Some(PathBuf::from("/opt/init")));
    let given = Flags::try_parse_from(["berthd", "--init-path", "/x"]).expect("flags");
    let e = file::parse(r#"{"init-path": "/opt/init"}"#, &given).unwrap_err();
    assert!(
        e.contains("init-path: (from flag: /x, from file: /opt/init)"),
        "{e}"
    );
}

#[test]
fn firewall_backend_as_dockerd_29() {
    assert_eq!(cfg(&[]).expect("config").firewall_backend, None);
    let c = cfg(&["--firewall-backend", "iptables"]).expect("config");
    assert_eq!(c.firewall_backend.as_deref(), Some("iptables"));
    let err = cfg(&["--firewall-backend", "pf"]).expect_err("refused");
    assert!(
        err.to_string().contains("invalid firewall-backend"),
        "{err}"
    );
}

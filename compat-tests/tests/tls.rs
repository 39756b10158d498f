//! TCP listeners: TLS with client certificates (`--tlsverify`), and the plain-TCP policy
//! (refused on every address, loopback included, unless `--tls=false` is given).
mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::network::{free_port, wait_for_port};
use compat_tests::http;

/// CA, server (127.0.0.1, localhost) and client certificates in `dir`, as the CLI expects
/// them in DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem); the server's as server-*.pem.
fn write_certs(dir: &Path, ca_name: &str) {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        KeyUsagePurpose,
    };
    std::fs::create_dir_all(dir).expect("cert dir");
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca_params, &ca_key);

    let leaf = |sans: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(sans).expect("params");
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &issuer).expect("sign");
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(
        vec!["127.0.0.1".into(), "localhost".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = leaf(Vec::new(), ExtendedKeyUsagePurpose::ClientAuth);
    for (name, pem) in [
        ("ca.pem", ca_cert.pem()),
        ("server-cert.pem", server_cert),
        ("server-key.pem", server_key),
        ("cert.pem", client_cert),
        ("key.pem", client_key),
    ] {
        std::fs::write(dir.join(name), pem).expect("write pem");
    }
}

fn docker_tcp(
    d: &common::Daemon,
    port: u16,
    cert_dir: &Path,
    args: &[&str],
) -> std::process::Output {
    Command::new("docker")
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", cert_dir)
        .env("DOCKER_CONFIG", &d.docker_config)
        .env_remove("DOCKER_CONTEXT")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docker")
}

#[test]
fn tcp_with_tlsverify_requires_client_certificates() {
    let certs = tempfile::tempdir().expect("tempdir");
    let good = certs.path().join("good");
    let other = certs.path().join("other");
    write_certs(&good, "berth test CA");
    write_certs(&other, "some other CA");
    let port = free_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let (ca, cert, key) = (
        good.join("ca.pem"),
        good.join("server-cert.pem"),
        good.join("server-key.pem"),
    );
    let d = common::Daemon::start_with(&[
        "-H",
        &tcp,
        "--tlsverify",
        "--tlscacert",
        ca.to_str().expect("path"),
        "--tlscert",
        cert.to_str().expect("path"),
        "--tlskey",
        key.to_str().expect("path"),
    ]);
    wait_for_port(port);

    let out = docker_tcp(
        &d,
        port,
        &good,
        &["version", "--format", "{{.Server.APIVersion}}"],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        common::stderr(&out),
        common::tail(&d.log(), 20)
    );
    assert_eq!(common::stdout(&out).trim(), "1.53");
    let out = docker_tcp(&d, port, &good, &["info", "--format", "{{.Driver}}"]);
    assert!(out.status.success(), "{}", common::stderr(&out));

    // A client certificate from another CA is refused by the server.
    let mixed = certs.path().join("mixed");
    std::fs::create_dir_all(&mixed).expect("dir");
    std::fs::copy(good.join("ca.pem"), mixed.join("ca.pem")).expect("copy");
    std::fs::copy(other.join("cert.pem"), mixed.join("cert.pem")).expect("copy");
    std::fs::copy(other.join("key.pem"), mixed.join("key.pem")).expect("copy");
    let out = docker_tcp(&d, port, &mixed, &["version"]);
    assert!(
        !out.status.success(),
        "a foreign client certificate was accepted"
    );

    // The CLI with only ca.pem sends no certificate: the server asks for one.
    let only_ca = certs.path().join("only-ca");
    std::fs::create_dir_all(&only_ca).expect("dir");
    std::fs::copy(good.join("ca.pem"), only_ca.join("ca.pem")).expect("copy");
    let out = docker_tcp(&d, port, &only_ca, &["version"]);
    assert!(
        !out.status.success(),
        "a client without certificate was accepted"
    );
    assert!(
        common::stderr(&out).contains("certificate required"),
        "{}",
        common::stderr(&out)
    );

    // No client certificate at all: the handshake fails (curl trusts the CA, sends no cert).
    let curl = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(good.join("ca.pem"))
        .arg(format!("https://127.0.0.1:{port}/_ping"))
        .output();
    if let Ok(curl) = curl {
        assert!(
            !curl.status.success(),
            "a client without certificate got: {}",
            common::stdout(&curl)
        );
        let curl_ok = Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert"])
            .arg(good.join("ca.pem"))
            .arg("--cert")
            .arg(good.join("cert.pem"))
            .arg("--key")
            .arg(good.join("key.pem"))
            .arg(format!("https://127.0.0.1:{port}/_ping"))
            .output()
            .expect("curl");
        assert_eq!(
            common::stdout(&curl_ok),
            "OK",
            "{}",
            common::stderr(&curl_ok)
        );
    }
}

#[test]
fn plain_tcp_on_all_interfaces_needs_tls_false() {
    let port = free_port();
    let tcp = format!("tcp://0.0.0.0:{port}");
    let err = common::berthd_refuses(&["-H", &tcp]);
    assert!(err.contains("--tls=false"), "{err}");

    let d = common::Daemon::start_with(&["-H", &tcp, "--tls=false"]);
    wait_for_port(port);
    let r = http::get(&format!("127.0.0.1:{port}"), "/_ping", None, None).expect("GET /_ping");
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    let warnings = d.docker_ok(&["info", "--format", "{{json .Warnings}}"]);
    assert!(warnings.contains("without encryption"), "{warnings}");
}

/// A web page in the user's browser reaches loopback too: plain TCP there is refused
/// unless asked for explicitly (DESIGN.md, Security), and works once it is.
#[test]
fn plain_tcp_on_loopback_needs_tls_false_too() {
    for host in ["127.0.0.1", "localhost"] {
        let port = free_port();
        let tcp = format!("tcp://{host}:{port}");
        let err = common::berthd_refuses(&["-H", &tcp]);
        assert!(
            err.contains("refusing to listen") && err.contains("--tls=false"),
            "{err}"
        );
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "a refused start left {tcp} listening"
        );
    }
    let port = free_port();
    let d = common::Daemon::start_with(&["-H", &format!("tcp://127.0.0.1:{port}"), "--tls=false"]);
    wait_for_port(port);
    let r = http::get(&format!("127.0.0.1:{port}"), "/v1.41/version", None, None)
        .expect("GET /version");
    assert_eq!(r.status, 200);
    drop(d);
}

//! Tests of `reference`.
use super::*;

const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn normalises_docker_hub_names() {
    let r = Reference::parse_with_default_tag("busybox").unwrap();
    assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
    assert_eq!(r.familiar(), "busybox:latest");
    let r = Reference::parse("index.docker.io/user/app:1.0").unwrap();
    assert_eq!(r.to_string(), "docker.io/user/app:1.0");
    assert_eq!(r.familiar(), "user/app:1.0");
    assert_eq!(
        Reference::parse("docker.io/library/busybox")
            .unwrap()
            .familiar(),
        "busybox"
    );
}

#[test]
fn keeps_registry_hosts_and_ports() {
    let r = Reference::parse("127.0.0.1:5000/berth/busybox:v1").unwrap();
    assert_eq!(r.domain, "127.0.0.1:5000");
    assert_eq!(r.path, "berth/busybox");
    assert_eq!(r.tag.as_deref(), Some("v1"));
    assert_eq!(r.familiar(), "127.0.0.1:5000/berth/busybox:v1");
    let r = Reference::parse("localhost/foo").unwrap();
    assert_eq!(r.domain, "localhost");
    let r = Reference::parse("localhost:5000/foo").unwrap();
    assert_eq!(
        (r.domain.as_str(), r.tag.as_deref()),
        ("localhost:5000", None)
    );
}

#[test]
fn parses_digests() {
    let r = Reference::parse(&format!("busybox@{D}")).unwrap();
    assert_eq!(r.digest.as_deref(), Some(D));
    assert_eq!(r.tag, None);
    assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));
    let r = Reference::parse_with_default_tag(&format!("busybox@{D}")).unwrap();
    assert_eq!(r.tag, None);
    assert!(Reference::parse("busybox@sha256:abc").is_err());
}

#[test]
fn rejects_bad_names() {
    for bad in [
        "",
        ":tag",
        "Busybox",
        "a//b",
        "a/",
        "-a",
        "a:b:c",
        "busybox:",
        "busybox:-x",
        "a..b",
        "host:port/x",
    ] {
        assert!(Reference::parse(bad).is_err(), "{bad} should be refused");
    }
    // An uppercase first component is taken as a domain, so the path is what is refused.
    assert_eq!(
        Reference::parse("Foo/Bar").unwrap_err(),
        ReferenceError::Uppercase("Bar".into())
    );
    assert!(matches!(
        Reference::parse("library/Busybox"),
        Err(ReferenceError::Uppercase(_))
    ));
}

#[test]
fn accepts_separators() {
    for good in ["a_b", "a__b", "a---b", "a.b", "my-org/my_app.v2"] {
        assert!(Reference::parse(good).is_ok(), "{good} should be accepted");
    }
}

#[test]
fn refuses_hex_names_for_tagging() {
    let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert!(matches!(
        Reference::parse_for_tagging(hex),
        Err(ReferenceError::HexName(_))
    ));
    assert!(Reference::parse_for_tagging(&format!("user/{hex}")).is_ok());
}

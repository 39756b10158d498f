//! Tests of the fixtures themselves: the registries started by scripts/registries.sh serve
//! what fixtures.json says, with the media types, platforms and credentials the other compat
//! tests rely on. Run through scripts/test.sh (it sets BERTH_FIXTURES).

mod common;

use std::io::Read;

use common::{FixtureImage, Fixtures};
use compat_tests::http;
use serde_json::Value;
use sha2::{Digest, Sha256};

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

const ALL: &[&str] = &[
    "busybox",
    "hello",
    "httpd",
    "big",
    "busybox-oci",
    "hello-zstd",
    "multi",
    "whiteout",
];

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Where an image can be pulled from: (registry, credentials).
fn registries<'a>(
    f: &'a Fixtures,
    img: &FixtureImage,
) -> Vec<(&'a str, Option<(&'a str, &'a str)>)> {
    let mut out = vec![(f.registry.as_str(), None)];
    if img.in_auth_registry {
        out.push((
            f.auth_registry.as_str(),
            Some((f.username.as_str(), f.password.as_str())),
        ));
    }
    out
}

fn get_ok(
    addr: &str,
    path: &str,
    accept: Option<&str>,
    auth: Option<(&str, &str)>,
) -> http::Response {
    let r = http::get(addr, path, accept, auth)
        .unwrap_or_else(|e| panic!("GET http://{addr}{path}: {e}"));
    assert_eq!(
        r.status,
        200,
        "GET http://{addr}{path}: {} {}",
        r.status,
        r.text()
    );
    r
}

/// The manifest (or index) by reference, checked against its digest.
fn manifest(
    addr: &str,
    auth: Option<(&str, &str)>,
    repo: &str,
    reference: &str,
    media_type: &str,
) -> (Value, String) {
    let r = get_ok(
        addr,
        &format!("/v2/{repo}/manifests/{reference}"),
        Some(media_type),
        auth,
    );
    assert_eq!(
        r.header("Content-Type"),
        Some(media_type),
        "{addr}/{repo}:{reference}"
    );
    let digest = sha256(&r.body);
    assert_eq!(
        r.header("Docker-Content-Digest"),
        Some(digest.as_str()),
        "{addr}/{repo}:{reference}"
    );
    (
        serde_json::from_slice(&r.body).expect("manifest JSON"),
        digest,
    )
}

fn blob(addr: &str, auth: Option<(&str, &str)>, repo: &str, digest: &str) -> Vec<u8> {
    let r = get_ok(addr, &format!("/v2/{repo}/blobs/{digest}"), None, auth);
    assert_eq!(sha256(&r.body), digest, "blob {digest} in {addr}/{repo}");
    r.body
}

/// Paths (as in the tar) of a gzip or zstd layer.
fn layer_paths(data: &[u8], media_type: &str) -> Vec<String> {
    let reader: Box<dyn Read> = if media_type.ends_with("zstd") {
        Box::new(zstd::stream::read::Decoder::new(data).expect("zstd"))
    } else {
        Box::new(flate2::read::GzDecoder::new(data))
    };
    let mut ar = tar::Archive::new(reader);
    ar.entries()
        .expect("tar")
        .map(|e| {
            e.expect("tar entry")
                .path()
                .expect("path")
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string()
        })
        .collect()
}

#[test]
fn fixtures_json_lists_every_image() {
    let f = Fixtures::load();
    for name in ALL {
        let img = f.image(name);
        assert_eq!(img.repository, format!("berth/{name}"));
        assert_eq!(img.tag, "latest");
        assert!(
            img.digest.starts_with("sha256:") && img.digest.len() == 71,
            "{name}: {}",
            img.digest
        );
        assert!(
            img.id.starts_with("sha256:") && img.id.len() == 71,
            "{name}: {}",
            img.id
        );
        assert_eq!(img.in_auth_registry, *name != "big", "{name}");
    }
    let expect = [
        ("busybox", DOCKER_MANIFEST, 2),
        ("hello", DOCKER_MANIFEST, 1),
        ("httpd", DOCKER_MANIFEST, 3),
        ("busybox-oci", OCI_MANIFEST, 2),
        ("hello-zstd", OCI_MANIFEST, 1),
        ("multi", OCI_INDEX, 2),
        ("whiteout", DOCKER_MANIFEST, 5),
    ];
    for (name, media_type, layers) in expect {
        assert_eq!(f.image(name).media_type, media_type, "{name}");
        assert_eq!(f.image(name).layers, layers, "{name}");
    }
    assert!(f.image("big").layers >= 5);
    assert_eq!(
        f.image("multi").id,
        f.image("busybox-oci").id,
        "multi's amd64 image is busybox in OCI form"
    );
    assert!(f.registry.starts_with("127.0.0.1:") && f.auth_registry.starts_with("127.0.0.1:"));
    assert_ne!(f.registry, f.auth_registry);
}

#[test]
fn registries_serve_each_manifest_with_its_media_type_and_digest() {
    let f = Fixtures::load();
    for name in ALL {
        let img = f.image(name);
        for (addr, auth) in registries(&f, img) {
            for reference in [img.tag.as_str(), img.digest.as_str()] {
                let (m, digest) = manifest(addr, auth, &img.repository, reference, &img.media_type);
                assert_eq!(digest, img.digest, "{name} in {addr}");
                assert_eq!(m["mediaType"], img.media_type.as_str(), "{name} in {addr}");
                assert_eq!(m["schemaVersion"], 2);
            }
            let h = http::head(
                addr,
                &format!("/v2/{}/manifests/{}", img.repository, img.tag),
                Some(&img.media_type),
                auth,
            )
            .expect("HEAD manifest");
            assert_eq!(h.status, 200, "{name} in {addr}");
            assert_eq!(
                h.header("Docker-Content-Digest"),
                Some(img.digest.as_str()),
                "{name} in {addr}"
            );
        }
    }
}

#[test]
fn images_configs_and_layers_match_the_json() {
    let f = Fixtures::load();
    for name in ALL.iter().filter(|n| **n != "multi") {
        let img = f.image(name);
        let (m, _) = manifest(
            &f.registry,
            None,
            &img.repository,
            &img.tag,
            &img.media_type,
        );
        let oci = img.media_type == OCI_MANIFEST;
        assert_eq!(
            m["config"]["mediaType"],
            if oci { OCI_CONFIG } else { DOCKER_CONFIG },
            "{name}"
        );
        assert_eq!(m["config"]["digest"], img.id.as_str(), "{name}");
        let config: Value =
            serde_json::from_slice(&blob(&f.registry, None, &img.repository, &img.id))
                .expect("config");
        assert_eq!(config["architecture"], "amd64", "{name}");
        assert_eq!(config["os"], "linux", "{name}");
        let diff_ids = config["rootfs"]["diff_ids"].as_array().expect("diff_ids");
        let layers = m["layers"].as_array().expect("layers");
        assert_eq!(layers.len(), img.layers, "{name}");
        assert_eq!(diff_ids.len(), img.layers, "{name}");
        let with_layer = config["history"]
            .as_array()
            .expect("history")
            .iter()
            .filter(|h| h["empty_layer"] != true);
        assert_eq!(
            with_layer.count(),
            img.layers,
            "{name}: one history entry per layer"
        );
        assert!(
            config["config"]["Cmd"]
                .as_array()
                .is_some_and(|c| !c.is_empty()),
            "{name}: Cmd"
        );
        assert!(
            config["config"]["Env"][0]
                .as_str()
                .is_some_and(|e| e.starts_with("PATH=")),
            "{name}: Env"
        );
        for l in layers {
            let mt = l["mediaType"].as_str().expect("layer media type");
            let want = match (name, oci) {
                (&"hello-zstd", _) => OCI_LAYER_ZSTD,
                (_, true) => OCI_LAYER_GZIP,
                (_, false) => DOCKER_LAYER,
            };
            assert_eq!(mt, want, "{name}");
            let digest = l["digest"].as_str().expect("layer digest");
            let h = http::head(
                &f.registry,
                &format!("/v2/{}/blobs/{digest}", img.repository),
                None,
                None,
            )
            .expect("HEAD blob");
            assert_eq!(h.status, 200, "{name}: blob {digest}");
            assert_eq!(
                h.header("Content-Length")
                    .and_then(|v| v.parse::<u64>().ok()),
                l["size"].as_u64(),
                "{name}"
            );
        }
    }
    let httpd: Value = serde_json::from_slice(&blob(
        &f.registry,
        None,
        "berth/httpd",
        &f.image("httpd").id,
    ))
    .expect("config");
    assert_eq!(
        httpd["config"]["ExposedPorts"]["80/tcp"],
        serde_json::json!({})
    );
    assert_eq!(
        httpd["config"]["Cmd"],
        serde_json::json!(["httpd", "-f", "-v", "-p", "80", "-h", "/www"])
    );
}

#[test]
fn auth_registry_needs_credentials() {
    let f = Fixtures::load();
    let creds = Some((f.username.as_str(), f.password.as_str()));
    let anon = http::get(&f.registry, "/v2/", None, None).expect("GET /v2/");
    assert_eq!(anon.status, 200);
    let r = http::get(&f.auth_registry, "/v2/", None, None).expect("GET /v2/");
    assert_eq!(r.status, 401);
    let challenge = r.header("WWW-Authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Basic "), "challenge: {challenge}");
    assert_eq!(
        http::get(&f.auth_registry, "/v2/", None, creds)
            .expect("GET /v2/")
            .status,
        200
    );
    assert_eq!(
        http::get(&f.auth_registry, "/v2/", None, Some((&f.username, "wrong")))
            .expect("GET")
            .status,
        401
    );
    let img = f.image("busybox");
    let path = format!("/v2/{}/manifests/{}", img.repository, img.tag);
    assert_eq!(
        http::get(&f.auth_registry, &path, Some(&img.media_type), None)
            .expect("GET")
            .status,
        401
    );
    assert_eq!(
        http::get(&f.auth_registry, &path, Some(&img.media_type), creds)
            .expect("GET")
            .status,
        200
    );
    // big is only in the anonymous registry.
    let big = f.image("big");
    let path = format!("/v2/{}/manifests/{}", big.repository, big.tag);
    assert_eq!(
        http::get(&f.auth_registry, &path, Some(&big.media_type), creds)
            .expect("GET")
            .status,
        404
    );
}

#[test]
fn multi_is_an_index_of_two_platforms() {
    let f = Fixtures::load();
    let img = f.image("multi");
    for (addr, auth) in registries(&f, img) {
        let (index, _) = manifest(addr, auth, &img.repository, &img.tag, OCI_INDEX);
        let entries = index["manifests"].as_array().expect("manifests");
        assert_eq!(entries.len(), 2);
        let mut platforms = Vec::new();
        for e in entries {
            let p = &e["platform"];
            let arch = p["architecture"]
                .as_str()
                .expect("architecture")
                .to_string();
            assert_eq!(p["os"], "linux");
            let digest = e["digest"].as_str().expect("digest");
            let mt = e["mediaType"].as_str().expect("mediaType");
            assert_eq!(mt, OCI_MANIFEST);
            let (m, d) = manifest(addr, auth, &img.repository, digest, mt);
            assert_eq!(d, digest);
            let raw = get_ok(
                addr,
                &format!("/v2/{}/manifests/{digest}", img.repository),
                Some(mt),
                auth,
            );
            assert_eq!(
                e["size"].as_u64(),
                Some(raw.body.len() as u64),
                "descriptor size of {digest}"
            );
            let config_digest = m["config"]["digest"].as_str().expect("config digest");
            let config: Value =
                serde_json::from_slice(&blob(addr, auth, &img.repository, config_digest))
                    .expect("config");
            assert_eq!(config["architecture"].as_str(), Some(arch.as_str()));
            if arch == "amd64" {
                assert_eq!(
                    config_digest, img.id,
                    "the fixture id is the amd64 config digest"
                );
                assert_eq!(m["layers"].as_array().map(Vec::len), Some(img.layers));
            }
            platforms.push(arch);
        }
        platforms.sort();
        assert_eq!(platforms, ["amd64", "arm64"]);
    }
}

#[test]
fn hello_zstd_has_zstd_layers() {
    let f = Fixtures::load();
    let img = f.image("hello-zstd");
    let (m, _) = manifest(&f.registry, None, &img.repository, &img.tag, OCI_MANIFEST);
    let layer = &m["layers"][0];
    assert_eq!(layer["mediaType"], OCI_LAYER_ZSTD);
    let data = blob(
        &f.registry,
        None,
        &img.repository,
        layer["digest"].as_str().expect("digest"),
    );
    assert_eq!(&data[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
    assert_eq!(layer_paths(&data, OCI_LAYER_ZSTD), ["hello"]);
    // Same content as the gzip hello: same diff_id, so the same image ID.
    assert_eq!(img.id, f.image("hello").id);
}

#[test]
fn layers_hold_the_expected_files() {
    let f = Fixtures::load();
    let paths_of = |name: &str| -> Vec<Vec<String>> {
        let img = f.image(name);
        let (m, _) = manifest(
            &f.registry,
            None,
            &img.repository,
            &img.tag,
            &img.media_type,
        );
        m["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .map(|l| {
                let data = blob(
                    &f.registry,
                    None,
                    &img.repository,
                    l["digest"].as_str().expect("digest"),
                );
                layer_paths(&data, l["mediaType"].as_str().expect("media type"))
            })
            .collect()
    };
    let bb = paths_of("busybox");
    for p in ["bin/busybox", "bin/sh", "usr/bin/env", "sbin/ifconfig"] {
        assert!(bb[0].iter().any(|x| x == p), "busybox layer 1 lacks {p}");
    }
    for p in ["etc/passwd", "etc/group", "tmp", "root", "home/app"] {
        assert!(bb[1].iter().any(|x| x == p), "busybox layer 2 lacks {p}");
    }
    assert_eq!(paths_of("hello")[0], ["hello"]);
    assert!(paths_of("httpd")[2].iter().any(|p| p == "www/index.html"));
    let wh = paths_of("whiteout");
    for p in ["data/keep", "data/gone", "opq/old", "dir/sub/file"] {
        assert!(wh[2].iter().any(|x| x == p), "whiteout layer 1 lacks {p}");
    }
    for p in ["data/.wh.gone", "opq/.wh..wh..opq", "opq/new", ".wh.dir"] {
        assert!(wh[3].iter().any(|x| x == p), "whiteout layer 2 lacks {p}");
    }
    assert!(wh[4].iter().any(|p| p == "data/added"));
}

/// Building again from an empty cache gives the same digests (everything but `big`, which is
/// slow to build in debug and keyed by its recipe).
#[test]
fn builds_are_deterministic() {
    let f = Fixtures::load();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth-fixtures"))
        .arg("--no-push")
        .arg("--dir")
        .arg(dir.path())
        .arg("--only")
        .arg("busybox,hello,httpd,busybox-oci,hello-zstd,multi,whiteout")
        .output()
        .expect("running berth-fixtures");
    assert!(
        out.status.success(),
        "berth-fixtures: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("fixtures.json")).expect("fixtures.json");
    let again: Value = serde_json::from_str(&text).expect("JSON");
    for name in ALL.iter().filter(|n| **n != "big") {
        assert_eq!(
            again["images"][name]["digest"],
            f.image(name).digest.as_str(),
            "{name}"
        );
        assert_eq!(
            again["images"][name]["id"],
            f.image(name).id.as_str(),
            "{name}"
        );
    }
}

//! `docker save` and `docker load` with the stock CLI and bollard: the archive's layout
//! (OCI layout + manifest.json, as Docker 25+ writes it), save → rmi → load → run, stdin
//! pipes, several images in one archive, archives of dockerd 20.10's layout, compressed
//! archives, bad archives refused without leftovers, and a push of a loaded image.
//! Images come from the fixture registry (run through scripts/test.sh).
mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{unique_repo, Daemon, Fixtures};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const HELLO: &str = "Hello from Berth!";

/// The files of a tar archive, by path (symlinks as "-> target").
fn files_of(data: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = tar::Archive::new(data);
    let mut files = BTreeMap::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("tar content");
        files.insert(path, content);
    }
    files
}

fn json_of(files: &BTreeMap<String, Vec<u8>>, path: &str) -> Value {
    let data = files
        .get(path)
        .unwrap_or_else(|| panic!("no {path} in {:?}", files.keys()));
    serde_json::from_slice(data).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A shell pipeline with the CLI pointed at `d`.
fn sh(d: &Daemon, script: &str) -> std::process::Output {
    Command::new("sh")
        .args(["-c", script])
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", &d.docker_config)
        .stdin(Stdio::null())
        .output()
        .expect("sh")
}

/// `docker load -i FILE`; its output (stdout and stderr) and whether it succeeded.
fn load_file(d: &Daemon, path: &Path) -> (bool, String) {
    let out = d.docker(&["load", "-i", &path.to_string_lossy()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Number of entries of a folder of the data root (0 when absent).
fn count(d: &Daemon, sub: &str) -> usize {
    std::fs::read_dir(d.data_root().join(sub))
        .map(|r| r.count())
        .unwrap_or(0)
}

#[test]
fn save_rmi_load_then_run() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let hello = f.image("hello");
    let reference = d.pull_fixture(&f, "hello");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hello.tar");
    let since = common::unix_now();
    d.docker_ok(&["save", "-o", &file.to_string_lossy(), &reference]);

    let files = files_of(&std::fs::read(&file).expect("archive"));
    assert_eq!(
        files["oci-layout"],
        br#"{"imageLayoutVersion": "1.0.0"}"#.to_vec()
    );
    let manifest = json_of(&files, "manifest.json");
    let item = &manifest[0];
    assert_eq!(item["RepoTags"], json!([reference]));
    let config_hex = hello.id.trim_start_matches("sha256:");
    assert_eq!(item["Config"], json!(format!("blobs/sha256/{config_hex}")));
    let layers = item["Layers"].as_array().expect("layers");
    assert_eq!(layers.len(), hello.layers);
    for layer in layers {
        let path = layer.as_str().expect("layer path");
        let digest = format!("sha256:{}", path.trim_start_matches("blobs/sha256/"));
        assert_eq!(
            sha256(&files[path]),
            digest,
            "{path} is its uncompressed tar"
        );
    }
    let index = json_of(&files, "index.json");
    let tagged = &index["manifests"][0];
    assert_eq!(
        tagged["annotations"]["io.containerd.image.name"],
        json!(reference)
    );
    assert_eq!(
        tagged["annotations"]["org.opencontainers.image.ref.name"],
        json!("latest")
    );
    let manifest_path = format!(
        "blobs/sha256/{}",
        tagged["digest"]
            .as_str()
            .expect("digest")
            .trim_start_matches("sha256:")
    );
    assert_eq!(
        json_of(&files, &manifest_path)["config"]["digest"],
        json!(hello.id)
    );
    let repositories = json_of(&files, "repositories");
    assert!(
        repositories[format!("{}/{}", f.registry, hello.repository)]["latest"].is_string(),
        "{repositories}"
    );

    d.docker_ok(&["rmi", &reference]);
    let (ok, out) = load_file(&d, &file);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), format!("Loaded image: {reference}"));
    assert_eq!(
        d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", &reference])
            .trim(),
        hello.id
    );
    let run = d.docker_ok(&["run", "--rm", &reference]);
    assert!(run.contains(HELLO), "{run}");

    let until = common::unix_now();
    let events = d.docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=image",
    ]);
    for action in ["save", "load"] {
        assert!(
            events
                .lines()
                .any(|l| l.contains(&format!(" image {action} {} (name={}", hello.id, hello.id))),
            "{action} event in {events}"
        );
    }
}

#[test]
fn save_piped_into_load_and_several_images_in_one_archive() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = f.image("busybox");
    let hello = f.image("hello");
    let bb = d.pull_fixture(&f, "busybox");
    let hello_ref = d.pull_fixture(&f, "hello");
    let extra = format!("{}:extra", unique_repo("saved"));
    d.docker_ok(&["tag", &bb, &extra]);

    // Through stdin and stdout.
    let out = sh(&d, &format!("docker save {bb} | docker load"));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("Loaded image: {bb}")
    );

    // By tag and by ID: the image saved by ID has no tag in the archive.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("two.tar");
    d.docker_ok(&[
        "save",
        "-o",
        &file.to_string_lossy(),
        &bb,
        &extra,
        &hello.id,
    ]);
    let files = files_of(&std::fs::read(&file).expect("archive"));
    let manifest = json_of(&files, "manifest.json");
    let items = manifest.as_array().expect("list");
    assert_eq!(items.len(), 2, "{manifest}");
    assert_eq!(items[0]["RepoTags"], json!([bb, extra]));
    assert_eq!(items[1]["RepoTags"], Value::Null);

    d.docker_ok(&["rmi", &bb, &extra, &hello_ref]);
    assert_eq!(d.docker_ok(&["images", "-q"]).trim(), "");
    let (ok, out) = load_file(&d, &file);
    assert!(ok, "{out}");
    assert_eq!(
        common::lines(&out),
        vec![
            format!("Loaded image: {bb}"),
            format!("Loaded image: {extra}"),
            format!("Loaded image ID: {}", busybox.id),
            format!("Loaded image ID: {}", hello.id),
        ]
    );
    let ids = d.docker_ok(&["images", "-q", "--no-trunc"]);
    assert!(
        ids.contains(&busybox.id) && ids.contains(&hello.id),
        "{ids}"
    );
    let run = d.docker_ok(&["run", "--rm", &hello.id]);
    assert!(run.contains(HELLO), "{run}");

    // `--platform`: the image's own works, another is refused (save) or skipped (load).
    let one = dir.path().join("one.tar");
    let one_path = one.to_string_lossy().into_owned();
    d.docker_ok(&["save", "--platform", "linux/amd64", "-o", &one_path, &bb]);
    let err = d.docker_err(&["save", "--platform", "linux/arm64", "-o", &one_path, &bb]);
    assert!(
        err.contains("no suitable export target found for platform linux/arm64"),
        "{err}"
    );
    let skipped = d.docker_ok(&["load", "--platform", "linux/arm64", "-i", &one_path]);
    assert_eq!(skipped.trim(), "");

    // Not here: dockerd's messages.
    let err = d.docker_err(&["save", "-o", &file.to_string_lossy(), "nosuch:1"]);
    assert!(err.contains("reference does not exist"), "{err}");
    let err = d.docker_err(&["save", "-o", &file.to_string_lossy(), "nosuch"]);
    assert!(err.contains("No such image: nosuch"), "{err}");
}

/// Rewrites a current archive in the layout of dockerd 1.10–24 (`docker save` of 20.10):
/// `<id>/layer.tar`, `<id>/json`, `<id>/VERSION`, `<config-hex>.json`, manifest.json
/// pointing there, `repositories`; the last layer through a symlink, as 20.10 links
/// layers it already wrote.
fn legacy_archive(current: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let manifest = json_of(current, "manifest.json");
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        builder.append_data(&mut h, path, data).expect("append");
    };
    let mut items = Vec::new();
    let mut repositories = json!({});
    let mut links = Vec::new();
    for item in manifest.as_array().expect("list") {
        let config_path = item["Config"].as_str().expect("config");
        let config_hex = config_path.trim_start_matches("blobs/sha256/");
        add(&format!("{config_hex}.json"), &current[config_path]);
        let mut layers = Vec::new();
        let count = item["Layers"].as_array().expect("layers").len();
        for (i, layer) in item["Layers"]
            .as_array()
            .expect("layers")
            .iter()
            .enumerate()
        {
            let v1 = hex::encode(Sha256::digest(format!("{config_hex}-{i}")));
            add(&format!("{v1}/VERSION"), b"1.0");
            add(
                &format!("{v1}/json"),
                json!({ "id": v1 }).to_string().as_bytes(),
            );
            add(
                &format!("{v1}/layer.tar"),
                &current[layer.as_str().expect("path")],
            );
            if i + 1 == count {
                let linked = hex::encode(Sha256::digest(format!("{config_hex}-link")));
                links.push((format!("{linked}/layer.tar"), format!("../{v1}/layer.tar")));
                layers.push(format!("{linked}/layer.tar"));
            } else {
                layers.push(format!("{v1}/layer.tar"));
            }
        }
        for tag in item["RepoTags"].as_array().into_iter().flatten() {
            let tag = tag.as_str().expect("tag");
            let (name, t) = tag.rsplit_once(':').expect("name:tag");
            repositories[name] = json!({ t: layers.last() });
        }
        items.push(json!({ "Config": format!("{config_hex}.json"), "RepoTags": item["RepoTags"], "Layers": layers }));
    }
    add("manifest.json", json!(items).to_string().as_bytes());
    add("repositories", repositories.to_string().as_bytes());
    for (path, target) in links {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        builder
            .append_link(&mut h, &path, &target)
            .expect("symlink");
    }
    builder.into_inner().expect("legacy tar")
}

#[test]
fn legacy_and_compressed_archives_load() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = f.image("busybox");
    let hello = f.image("hello");
    let bb = d.pull_fixture(&f, "busybox");
    let hello_ref = d.pull_fixture(&f, "hello");
    let dir = tempfile::tempdir().expect("tempdir");
    let current = dir.path().join("bb.tar");
    d.docker_ok(&["save", "-o", &current.to_string_lossy(), &bb]);
    let files = files_of(&std::fs::read(&current).expect("archive"));
    let legacy = dir.path().join("legacy.tar");
    std::fs::write(&legacy, legacy_archive(&files)).expect("legacy archive");
    let gzipped = dir.path().join("bb.tar.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&std::fs::read(&current).expect("archive"))
        .expect("gzip");
    std::fs::write(&gzipped, gz.finish().expect("gzip")).expect("gzip file");

    d.docker_ok(&["rmi", &bb]);
    let (ok, out) = load_file(&d, &legacy);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), format!("Loaded image: {bb}"));
    assert_eq!(
        d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", &bb])
            .trim(),
        busybox.id
    );
    let echo = d.docker_ok(&["run", "--rm", &bb, "echo", "legacy loaded"]);
    assert_eq!(echo.trim(), "legacy loaded");

    // The tag moves from another image: dockerd's notice.
    d.docker_ok(&["rmi", &bb]);
    d.docker_ok(&["tag", &hello_ref, &bb]);
    let (ok, out) = load_file(&d, &gzipped);
    assert!(ok, "{out}");
    assert_eq!(
        common::lines(&out),
        vec![
            format!(
                "The image {bb} already exists, renaming the old one with ID {} to empty string",
                hello.id
            ),
            format!("Loaded image: {bb}"),
        ]
    );
    assert_eq!(
        d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", &bb])
            .trim(),
        busybox.id
    );
}

/// A change to an archive's file: its new content, or `None` to leave it out.
type Change<'a> = dyn Fn(&str, &[u8]) -> Option<Vec<u8>> + 'a;

#[test]
fn bad_archives_are_refused_without_leftovers() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let hello = d.pull_fixture(&f, "hello");
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("hello.tar");
    d.docker_ok(&["save", "-o", &good.to_string_lossy(), &hello]);
    d.docker_ok(&["rmi", &hello]);
    let files = files_of(&std::fs::read(&good).expect("archive"));
    let manifest = json_of(&files, "manifest.json");
    let layer = manifest[0]["Layers"][0]
        .as_str()
        .expect("layer")
        .to_string();
    let (layers_before, blobs_before) = (count(&d, "layers"), count(&d, "content/blobs/sha256"));

    let rebuild = |change: &Change<'_>, extra: Option<&str>| {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in &files {
            if let Some(data) = change(path, data) {
                let mut h = tar::Header::new_ustar();
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                builder
                    .append_data(&mut h, path, &data[..])
                    .expect("append");
            }
        }
        if let Some(name) = extra {
            let mut h = tar::Header::new_ustar();
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_size(0);
            h.set_mode(0o644);
            h.set_cksum();
            builder.append(&h, &[][..]).expect("raw entry");
        }
        builder.into_inner().expect("tar")
    };
    let tampered = rebuild(
        &|path, data| {
            let mut data = data.to_vec();
            if path == layer {
                let at = data.len() / 3;
                data[at] ^= 0xff;
            }
            Some(data)
        },
        None,
    );
    let no_manifest = rebuild(&|p, d| (p != "manifest.json").then(|| d.to_vec()), None);
    let escaping = rebuild(&|_, d| Some(d.to_vec()), Some("../escaped"));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("garbage", vec![0x41; 5000], "Error processing tar file"),
        (
            "no manifest",
            no_manifest,
            "invalid archive: does not contain a manifest.json",
        ),
        ("tampered layer", tampered, "invalid diffID for layer 0"),
        ("path escape", escaping, "is outside of"),
    ];
    for (what, data, expected) in cases {
        let path = dir.path().join("bad.tar");
        std::fs::write(&path, data).expect("bad archive");
        let (ok, out) = load_file(&d, &path);
        assert!(!ok, "{what}: loaded: {out}");
        assert!(out.contains(expected), "{what}: {out}");
        assert_eq!(d.docker_ok(&["images", "-q"]).trim(), "", "{what}");
        assert_eq!(count(&d, "layers"), layers_before, "{what}: layers left");
        assert_eq!(
            count(&d, "content/blobs/sha256"),
            blobs_before,
            "{what}: blobs left"
        );
        assert_eq!(count(&d, "content/ingest"), 0, "{what}: scratch left");
    }
    // The good archive still loads after all that.
    let (ok, out) = load_file(&d, &good);
    assert!(ok, "{out}");
}

#[test]
fn a_loaded_image_can_be_pushed() {
    let f = Fixtures::load();
    let source = Daemon::start();
    let hello = source.pull_fixture(&f, "hello");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hello.tar");
    source.docker_ok(&["save", "-o", &file.to_string_lossy(), &hello]);
    drop(source);

    let d = Daemon::start();
    let (ok, out) = load_file(&d, &file);
    assert!(ok, "{out}");
    let target = format!("{}/{}:loaded", f.registry, unique_repo("loaded"));
    d.docker_ok(&["tag", &hello, &target]);
    let pushed = d.docker_ok(&["push", &target]);
    assert!(pushed.contains("digest: sha256:"), "{pushed}");
    d.docker_ok(&["rmi", &hello, &target]);
    d.docker_ok(&["pull", "-q", &target]);
    let run = d.docker_ok(&["run", "--rm", &target]);
    assert!(run.contains(HELLO), "{run}");
}

#[tokio::test]
async fn bollard_export_and_import() {
    use bollard::query_parameters::{ImportImageOptionsBuilder, RemoveImageOptionsBuilder};
    use futures::StreamExt;

    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = f.image("busybox");
    let hello = f.image("hello");
    let bb = d.pull_fixture(&f, "busybox");
    let hello_ref = d.pull_fixture(&f, "hello");
    let docker = d.bollard();

    let mut archive = Vec::new();
    let mut stream = docker.export_image(&bb);
    while let Some(chunk) = stream.next().await {
        archive.extend_from_slice(&chunk.expect("export chunk"));
    }
    let files = files_of(&archive);
    assert_eq!(json_of(&files, "manifest.json")[0]["RepoTags"], json!([bb]));

    let mut both = Vec::new();
    let mut stream = docker.export_images(&[&bb, &hello_ref]);
    while let Some(chunk) = stream.next().await {
        both.extend_from_slice(&chunk.expect("export chunk"));
    }
    assert_eq!(
        json_of(&files_of(&both), "manifest.json")
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let force = RemoveImageOptionsBuilder::default().force(true).build();
    for name in [&bb, &hello_ref] {
        docker
            .remove_image(name, Some(force.clone()), None)
            .await
            .expect("remove");
    }
    let options = ImportImageOptionsBuilder::default().quiet(true).build();
    let body = bollard::body_full(archive.into());
    let mut stream = docker.import_image(options, body, None);
    let mut said = String::new();
    while let Some(info) = stream.next().await {
        said.push_str(&info.expect("import").stream.unwrap_or_default());
    }
    assert_eq!(said, format!("Loaded image: {bb}\n"));
    let inspected = docker.inspect_image(&bb).await.expect("inspect");
    assert_eq!(inspected.id.as_deref(), Some(busybox.id.as_str()));

    let options = ImportImageOptionsBuilder::default().quiet(false).build();
    let chunks = both
        .chunks(10_000)
        .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)));
    let mut stream = docker.import_image_stream(
        options,
        futures::stream::iter(chunks.collect::<Vec<_>>()),
        None,
    );
    let mut loading = 0;
    let mut said = String::new();
    while let Some(info) = stream.next().await {
        let info = info.expect("import stream");
        if info.status.as_deref() == Some("Loading layer") {
            loading += 1;
        }
        said.push_str(&info.stream.unwrap_or_default());
    }
    assert!(loading > 0, "no progress for the hello layer");
    assert!(
        said.contains(&format!("Loaded image: {hello_ref}")),
        "{said}"
    );
    let inspected = docker.inspect_image(&hello_ref).await.expect("inspect");
    assert_eq!(inspected.id.as_deref(), Some(hello.id.as_str()));
}

#[test]
fn zstd_layers_are_saved_uncompressed() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let reference = d.pull_fixture(&f, "hello-zstd");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("zstd.tar");
    d.docker_ok(&["save", "-o", &file.to_string_lossy(), &reference]);
    let files = files_of(&std::fs::read(&file).expect("archive"));
    let manifest = json_of(&files, "manifest.json");
    for layer in manifest[0]["Layers"].as_array().expect("layers") {
        let path = layer.as_str().expect("path");
        assert_eq!(
            sha256(&files[path]),
            format!("sha256:{}", path.trim_start_matches("blobs/sha256/"))
        );
    }
    d.docker_ok(&["rmi", &reference]);
    let (ok, out) = load_file(&d, &file);
    assert!(ok, "{out}");
    let run = d.docker_ok(&["run", "--rm", &reference]);
    assert!(run.contains(HELLO), "{run}");
}

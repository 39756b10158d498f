//! Pull and push with the stock docker CLI against the fixture registries: every fixture
//! by tag and by digest, platform selection from an index, zstd layers, Docker's error
//! messages, push to a new repository and back, and a SIGKILL in the middle of a pull.
//! Run through scripts/test.sh (it starts the registries and pushes the fixtures).
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{unique_repo, Daemon, Fixtures};

/// A repository name no other test run uses.
fn image_id(d: &Daemon, reference: &str) -> String {
    d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", reference])
        .trim()
        .to_string()
}

/// The fixtures JSON as a value, for fields the harness does not model (platforms).
fn fixtures_json() -> serde_json::Value {
    let path =
        std::env::var("BERTH_FIXTURES").expect("BERTH_FIXTURES (run through scripts/test.sh)");
    let text = std::fs::read_to_string(&path).expect("fixtures file");
    serde_json::from_str(&text).expect("fixtures JSON")
}

#[test]
fn pull_every_fixture_by_tag_then_by_digest() {
    let f = Fixtures::load();
    let d = Daemon::start();
    for (name, image) in &f.images {
        if name == "big" {
            continue; // pulled by the SIGKILL test
        }
        let reference = f.anon_ref(name);
        let out = d.docker_ok(&["pull", &reference]);
        assert!(
            out.contains(&format!("{}: Pulling from {}", image.tag, image.repository)),
            "{name}: {out}"
        );
        assert!(
            out.contains(&format!("Digest: {}", image.digest)),
            "{name}: {out}"
        );
        assert!(
            out.contains(&format!("Status: Downloaded newer image for {reference}"))
                || out.contains(&format!("Status: Image is up to date for {reference}")),
            "{name}: {out}"
        );
        assert_eq!(
            out.lines().last().map(str::trim),
            Some(reference.as_str()),
            "{name}: the CLI prints the reference last"
        );
        assert_eq!(
            image_id(&d, &reference),
            image.id,
            "{name}: image ID is the config digest"
        );

        let by_digest = format!("{}/{}@{}", f.registry, image.repository, image.digest);
        let out = d.docker_ok(&["pull", &by_digest]);
        assert!(
            out.contains(&format!("Digest: {}", image.digest)),
            "{name}: {out}"
        );
        assert_eq!(
            image_id(&d, &by_digest),
            image.id,
            "{name}: pulled by digest"
        );
        let digests = d.docker_ok(&[
            "image",
            "inspect",
            "--format",
            "{{json .RepoDigests}}",
            &reference,
        ]);
        assert!(
            digests.contains(&by_digest),
            "{name}: RepoDigests {digests} lacks {by_digest}"
        );
    }
}

#[test]
fn second_pull_is_up_to_date_and_layers_are_reported() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let raw = fixtures_json();
    let reference = f.anon_ref("busybox");
    let out = d.docker_ok(&["pull", &reference]);
    let layer_digests = raw["images"]["busybox"]["layer_digests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!layer_digests.is_empty(), "fixture lists its layer digests");
    for digest in layer_digests {
        let short = &digest.as_str().unwrap_or_default()["sha256:".len()..][..12];
        assert!(
            out.contains(&format!("{short}: Pull complete")),
            "{short}: {out}"
        );
    }
    let again = d.docker_ok(&["pull", &reference]);
    assert!(
        again.contains(&format!("Status: Image is up to date for {reference}")),
        "{again}"
    );
    assert!(
        !again.contains("Pull complete"),
        "nothing is downloaded again: {again}"
    );

    // An image sharing the bottom layers: those are "Already exists".
    let oci = d.docker_ok(&["pull", &f.anon_ref("httpd")]);
    assert!(
        oci.contains("Already exists") || oci.contains("Pull complete"),
        "{oci}"
    );
}

#[test]
fn pull_all_tags() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let image = f.image("busybox");
    let repo = format!("{}/{}", f.registry, image.repository);
    let out = d.docker_ok(&["pull", "--all-tags", &repo]);
    for tag in ["latest", "v1"] {
        assert!(
            out.contains(&format!("{tag}: Pulling from {}", image.repository)),
            "{out}"
        );
        assert_eq!(image_id(&d, &format!("{repo}:{tag}")), image.id);
    }
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {repo}\n")),
        "{out}"
    );
}

#[test]
fn pull_selects_the_platform_from_an_index() {
    let f = Fixtures::load();
    let raw = fixtures_json();
    let platforms = raw["images"]["multi"]["platforms"]
        .as_array()
        .cloned()
        .expect("multi lists its platforms");
    let id_of = |arch: &str| {
        platforms
            .iter()
            .find(|p| p["architecture"] == arch)
            .and_then(|p| p["id"].as_str())
            .unwrap_or_else(|| panic!("multi has no {arch} entry"))
            .to_string()
    };
    let reference = f.anon_ref("multi");
    let index_digest = &f.image("multi").digest;

    let d = Daemon::start();
    let out = d.docker_ok(&["pull", "--platform", "linux/arm64", &reference]);
    assert!(
        out.contains(&format!("Digest: {index_digest}")),
        "the index digest is reported: {out}"
    );
    assert_eq!(image_id(&d, &reference), id_of("arm64"));
    let arch = d.docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Architecture}}",
        &reference,
    ]);
    assert_eq!(arch.trim(), "arm64");

    let d = Daemon::start();
    d.docker_ok(&["pull", &reference]);
    assert_eq!(
        image_id(&d, &reference),
        id_of("amd64"),
        "the host platform by default"
    );
    let digests = d.docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        &reference,
    ]);
    assert!(
        digests.contains(&format!("{}/berth/multi@{index_digest}", f.registry)),
        "RepoDigests records the index: {digests}"
    );

    let err = d.docker_err(&["pull", "--platform", "linux/s390x", &reference]);
    assert!(
        err.contains("no matching manifest for linux/s390x in the manifest list entries"),
        "{err}"
    );

    // A single-platform image of another platform is pulled, with dockerd's warning.
    let hello = f.anon_ref("hello");
    let out = d.docker_ok(&["pull", "--platform", "linux/arm64", &hello]);
    let name = format!("{}/{}", f.registry, f.image("hello").repository);
    assert!(
        out.contains(&format!(
            "WARNING: image with reference {name} was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64"
        )),
        "{out}"
    );
}

#[test]
fn pull_of_a_missing_tag_says_manifest_unknown() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let missing = format!("{}/berth/busybox:nope", f.registry);
    let err = d.docker_err(&["pull", &missing]);
    assert!(
        err.contains(&format!("Error response from daemon: manifest for {missing} not found: manifest unknown: manifest unknown")),
        "{err}"
    );
    let err = d.docker_err(&["pull", &format!("{}/berth/no-such-repo", f.registry)]);
    assert!(err.contains("not found: manifest unknown"), "{err}");
}

#[test]
fn pull_of_zstd_layers() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let reference = f.anon_ref("hello-zstd");
    d.docker_ok(&["pull", &reference]);
    assert_eq!(image_id(&d, &reference), f.image("hello-zstd").id);
}

#[test]
fn pull_from_an_unreachable_registry() {
    let d = Daemon::start();
    let err = d.docker_err(&["pull", "127.0.0.1:1/berth/busybox"]);
    assert!(
        err.contains(
            "Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused"
        ),
        "{err}"
    );
}

#[test]
fn push_to_a_new_repository_then_pull_it_back() {
    let f = Fixtures::load();
    let busybox = f.image("busybox");
    let d = Daemon::start();
    d.docker_ok(&["pull", &f.anon_ref("busybox")]);
    let repo = format!("{}/{}", f.registry, unique_repo("pushed"));
    let target = format!("{repo}:v1");
    d.docker_ok(&["tag", &f.anon_ref("busybox"), &target]);

    let out = d.docker_ok(&["push", &target]);
    assert!(
        out.contains(&format!("The push refers to repository [{repo}]")),
        "{out}"
    );
    assert!(out.contains("Preparing"), "{out}");
    // The stored manifest is pushed unchanged: same digest as in the fixture registry.
    assert!(
        out.contains(&format!("v1: digest: {} size: ", busybox.digest)),
        "{out}"
    );
    let again = d.docker_ok(&["push", &target]);
    assert!(again.contains("Layer already exists"), "{again}");
    let digests = d.docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        &target,
    ]);
    assert!(
        digests.contains(&format!("{repo}@{}", busybox.digest)),
        "push records the repo digest: {digests}"
    );

    // Back again, into a daemon that never had it.
    let other = Daemon::start();
    let out = other.docker_ok(&["pull", &target]);
    assert!(
        out.contains(&format!("Digest: {}", busybox.digest)),
        "{out}"
    );
    assert_eq!(image_id(&other, &target), busybox.id);

    // And after `docker rmi` in the first daemon.
    d.docker_ok(&["rmi", &target]);
    d.docker_ok(&["pull", &target]);
    assert_eq!(image_id(&d, &target), busybox.id);
}

/// A layer that "Already exists" when an image is pulled is not downloaded, so its
/// compressed blob can be missing from the content store (here: removed by hand). A push
/// fetches it again from where the image came from and pushes the manifest unchanged.
#[test]
fn push_of_an_image_whose_layer_blob_is_not_here() {
    let f = Fixtures::load();
    let hello = f.image("hello");
    let raw = fixtures_json();
    let blob = raw["images"]["hello"]["layer_digests"][0]
        .as_str()
        .expect("hello's layer digest")
        .to_string();
    let d = Daemon::start();
    d.docker_ok(&["pull", &f.anon_ref("hello")]);
    let path = d
        .data_root()
        .join("content/blobs/sha256")
        .join(blob.trim_start_matches("sha256:"));
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));

    let repo = format!("{}/{}", f.registry, unique_repo("refetch"));
    d.docker_ok(&["tag", &f.anon_ref("hello"), &format!("{repo}:r")]);
    let out = d.docker_ok(&["push", &format!("{repo}:r")]);
    assert!(
        out.contains(&format!("r: digest: {} size:", hello.digest)),
        "{out}"
    );
    assert!(path.exists(), "the blob was fetched again");
}

#[test]
fn push_without_tag_pushes_every_tag() {
    let f = Fixtures::load();
    let d = Daemon::start();
    d.docker_ok(&["pull", &f.anon_ref("hello")]);
    let repo = format!("{}/{}", f.registry, unique_repo("alltags"));
    d.docker_ok(&["tag", &f.anon_ref("hello"), &format!("{repo}:a")]);
    d.docker_ok(&["tag", &f.anon_ref("hello"), &format!("{repo}:b")]);
    let out = d.docker_ok(&["push", "--all-tags", &repo]);
    assert!(
        out.contains("a: digest: sha256:") && out.contains("b: digest: sha256:"),
        "{out}"
    );
}

#[test]
fn push_of_an_image_that_is_not_here() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let name = format!("{}/berth-test/nothere", f.registry);
    let err = d.docker_err(&["push", &format!("{name}:v1")]);
    assert!(
        err.contains(&format!(
            "An image does not exist locally with the tag: {name}"
        )),
        "{err}"
    );
}

#[test]
fn import_a_root_filesystem_tarball() {
    let d = Daemon::start();
    let root = d.dir.path().join("rootfs");
    std::fs::create_dir_all(root.join("etc")).expect("rootfs");
    std::fs::write(root.join("etc/hello.txt"), "hello from an import\n").expect("file");
    let tarball = d.dir.path().join("rootfs.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&root)
        .arg(".")
        .status()
        .expect("tar");
    assert!(status.success());
    let tarball = tarball.to_string_lossy().into_owned();
    let out = d.docker_ok(&[
        "import",
        "-c",
        "CMD [\"/bin/sh\"]",
        "-c",
        "ENV A=1",
        "-m",
        "made here",
        &tarball,
        "berth-test/imported:v1",
    ]);
    let id = out.trim().to_string();
    assert!(id.starts_with("sha256:"), "{out}");
    assert_eq!(image_id(&d, "berth-test/imported:v1"), id);
    let shown = d.docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Cmd}} {{json .Config.Env}} {{.Comment}} {{len .RootFS.Layers}}",
        "berth-test/imported:v1",
    ]);
    assert_eq!(shown.trim(), "[\"/bin/sh\"] [\"A=1\"] made here 1");

    let err = d.docker_err(&["import", "-c", "RUN true", &tarball]);
    assert!(err.contains("run is not a valid change command"), "{err}");

    // An imported image has its layer blob: a manifest is written for the push.
    let f = Fixtures::load();
    let target = format!("{}/{}:v1", f.registry, unique_repo("imported"));
    d.docker_ok(&["tag", "berth-test/imported:v1", &target]);
    let out = d.docker_ok(&["push", &target]);
    assert!(out.contains("v1: digest: sha256:"), "{out}");
    let other = Daemon::start();
    other.docker_ok(&["pull", &target]);
    assert_eq!(image_id(&other, &target), id, "the same image comes back");
}

/// Files in a directory (0 when it does not exist).
fn count_entries(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| entries.count())
        .unwrap_or(0)
}

#[test]
fn sigkill_in_the_middle_of_a_pull_leaves_a_usable_store() {
    let f = Fixtures::load();
    let big = f.image("big");
    let reference = f.anon_ref("big");
    let mut d = Daemon::start();

    let mut pull = d.docker_cmd();
    pull.args(["pull", &reference])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = pull.spawn().expect("docker pull");

    // Wait until the download is under way: a partial blob in the ingest folder, or
    // some layers already unpacked.
    let ingest = d.data_root().join("content").join("ingest");
    let blobs = d.data_root().join("content").join("blobs").join("sha256");
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_entries(&ingest) == 0 && count_entries(&blobs) < 3 {
        assert!(
            Instant::now() < deadline,
            "the pull never started writing; log:\n{}",
            common::tail(&d.log(), 30)
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "docker pull ended before the kill ({status}); the image is too small to interrupt"
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    d.kill9();
    let _ = child.kill();
    let _ = child.wait();

    d.restart_with(&[]);
    assert_eq!(
        count_entries(&ingest),
        0,
        "unfinished ingests are removed at start"
    );
    // Absent or complete, never half there.
    let inspect = d.docker(&["image", "inspect", "--format", "{{.Id}}", &reference]);
    if inspect.status.success() {
        assert_eq!(common::stdout(&inspect).trim(), big.id);
    } else {
        assert!(
            common::stderr(&inspect).contains("No such image"),
            "{}",
            common::stderr(&inspect)
        );
    }
    d.docker_ok(&["images"]);

    let out = d.docker_ok(&["pull", &reference]);
    assert!(out.contains(&format!("Digest: {}", big.digest)), "{out}");
    assert_eq!(image_id(&d, &reference), big.id);
    let layers = d.docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        &reference,
    ]);
    assert_eq!(layers.trim(), big.layers.to_string());
}

/// `docker pull` of a name whose registry is Docker Hub: unreachable here, and the
/// error is the network's, as from dockerd.
#[test]
fn pull_from_docker_hub_reports_the_network_error() {
    let d = Daemon::start();
    let out = Command::new("docker")
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", &d.docker_config)
        .args(["pull", "berth-no-such-image-on-hub"])
        .stdin(Stdio::null())
        .output()
        .expect("docker pull");
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(
        err.contains("Error response from daemon: Get \"https://registry-1.docker.io/v2/\""),
        "{err}"
    );
}

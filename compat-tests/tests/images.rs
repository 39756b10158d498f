//! Local image endpoints with the stock docker CLI: `docker images` (formats, filters,
//! digests), `docker image inspect`, `docker history`, `docker tag`, `docker rmi`,
//! `docker image prune`. Images come from the fixture registry (run through scripts/test.sh).
mod common;

use common::{Daemon, Fixtures};
use serde_json::Value;

/// Pulls fixture `name` from the anonymous registry; returns its reference.
fn short(id: &str) -> &str {
    &id.trim_start_matches("sha256:")[..12]
}

fn lines(out: &str) -> Vec<String> {
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// `docker images -q` prints one line per tag: the distinct IDs, in first-seen order.
fn distinct(mut ids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    ids
}

fn inspect(d: &Daemon, name: &str) -> Value {
    common::inspect_json(d, &["image", "inspect"], name)
}

#[test]
fn images_lists_pulled_image_in_every_format() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = f.image("busybox");
    let reference = d.pull_fixture(&f, "busybox");
    let repo = format!("{}/{}", f.registry, busybox.repository);

    let table = d.docker_ok(&["images"]);
    let header = table.lines().next().unwrap_or_default();
    for column in ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"] {
        assert!(header.contains(column), "header {header:?} lacks {column}");
    }
    assert!(
        table.contains(&repo) && table.contains(short(&busybox.id)),
        "{table}"
    );

    let formatted = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert_eq!(
        lines(&formatted),
        vec![format!("{reference} {}", short(&busybox.id))]
    );

    let digests = d.docker_ok(&[
        "images",
        "--digests",
        "--format",
        "{{.Repository}} {{.Digest}}",
    ]);
    assert_eq!(lines(&digests), vec![format!("{repo} {}", busybox.digest)]);

    assert_eq!(
        lines(&d.docker_ok(&["images", "-q"])),
        vec![short(&busybox.id).to_string()]
    );
    assert_eq!(
        distinct(lines(&d.docker_ok(&["images", "-q", "--no-trunc"]))),
        vec![busybox.id.clone()]
    );
    assert_eq!(
        lines(&d.docker_ok(&["images", "-a", "-q"])),
        vec![short(&busybox.id).to_string()]
    );

    let json_line = d.docker_ok(&["images", "--format", "{{json .}}"]);
    let row: Value = serde_json::from_str(lines(&json_line)[0].as_str()).expect("json row");
    assert_eq!(row["Repository"], repo);
    assert_eq!(row["Tag"], busybox.tag);
}

#[test]
fn images_filters_by_reference_and_dangling() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = f.image("busybox");
    let hello = f.image("hello");
    d.pull_fixture(&f, "busybox");
    let hello_ref = d.pull_fixture(&f, "hello");
    d.docker_ok(&["tag", &hello_ref, "mine/hello:x"]);

    let q = |args: &[&str]| {
        let mut all = vec!["images", "-q"];
        all.extend_from_slice(args);
        distinct(lines(&d.docker_ok(&all)))
    };
    let busy_pattern = format!("reference={}/berth/busy*", f.registry);
    assert_eq!(
        q(&["--filter", &busy_pattern]),
        vec![short(&busybox.id).to_string()]
    );
    assert_eq!(
        q(&["--filter", "reference=mine/*"]),
        vec![short(&hello.id).to_string()]
    );
    assert!(q(&["--filter", "reference=nothing*"]).is_empty());
    assert!(q(&["--filter", "dangling=true"]).is_empty());
    assert_eq!(q(&["--filter", "dangling=false"]).len(), 2);

    // Move both of hello's tags to busybox: hello keeps only its digest and is dangling
    // (listed as "<none>" tag of its repository).
    d.docker_ok(&["tag", &f.anon_ref("busybox"), "mine/hello:x"]);
    d.docker_ok(&["tag", &f.anon_ref("busybox"), &hello_ref]);
    assert_eq!(
        q(&["--filter", "dangling=true"]),
        vec![short(&hello.id).to_string()]
    );
    let table = d.docker_ok(&["images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}"]);
    let hello_repo = format!("{}/{}", f.registry, hello.repository);
    assert!(
        table.contains(&format!("{hello_repo} <none> {}", short(&hello.id))),
        "{table}"
    );

    // Untagging the last tag of a repository deletes an image nothing else names.
    d.docker_ok(&["tag", &f.anon_ref("busybox"), "solo:1"]);
    d.docker_ok(&["rmi", &f.anon_ref("busybox")]);
    d.docker_ok(&["rmi", "mine/hello:x", &hello_ref]);
    let out = d.docker_ok(&["rmi", "solo:1"]);
    assert!(out.contains(&format!("Deleted: {}", busybox.id)), "{out}");

    let err = d.docker_err(&["images", "--filter", "bogus=1"]);
    assert!(err.contains("invalid filter 'bogus'"), "{err}");
}

#[test]
fn image_inspect_shows_dockerd_fields() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = f.image("busybox");
    let reference = d.pull_fixture(&f, "busybox");
    let img = inspect(&d, &reference);

    assert_eq!(img["Id"], busybox.id);
    assert_eq!(img["RepoTags"], serde_json::json!([reference]));
    assert_eq!(
        img["RepoDigests"],
        serde_json::json!([format!(
            "{}/{}@{}",
            f.registry, busybox.repository, busybox.digest
        )])
    );
    assert_eq!(img["Parent"], "");
    assert_eq!(img["Os"], "linux");
    assert_eq!(img["Architecture"], "amd64");
    assert!(
        img["Size"].as_i64().is_some_and(|s| s > 0),
        "{}",
        img["Size"]
    );
    assert_eq!(img["RootFS"]["Type"], "layers");
    let layers: Vec<String> =
        serde_json::from_value(img["RootFS"]["Layers"].clone()).expect("layers");
    assert_eq!(layers.len(), busybox.layers);
    assert_eq!(img["GraphDriver"]["Name"], "overlay2");
    let data = &img["GraphDriver"]["Data"];
    let upper = data["UpperDir"].as_str().expect("UpperDir");
    assert!(
        std::path::Path::new(upper).is_dir(),
        "UpperDir {upper} is not a directory"
    );
    let lower = data["LowerDir"]
        .as_str()
        .expect("LowerDir for a 2-layer image");
    assert_eq!(lower.split(':').count(), busybox.layers - 1);
    assert!(data["MergedDir"].is_string() && data["WorkDir"].is_string());
    let created = img["Created"].as_str().expect("Created");
    assert!(
        created.contains('T') && (created.ends_with('Z') || created.contains('+')),
        "{created}"
    );
    assert!(img["Metadata"]["LastTagTime"].is_string());
    assert!(img["Config"].is_object());
    for gone in ["Container", "ContainerConfig", "VirtualSize"] {
        assert!(
            img.get(gone).is_none(),
            "{gone} should not be in a 1.50+ inspect"
        );
    }

    assert_eq!(
        d.docker_ok(&["image", "inspect", "--format", "{{.Id}}", &reference])
            .trim(),
        busybox.id
    );
    let by_short_id = d.docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        short(&busybox.id),
    ]);
    assert_eq!(by_short_id.trim(), busybox.id);
    let layers_json = d.docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        &reference,
    ]);
    let parsed: Vec<String> = serde_json::from_str(layers_json.trim()).expect("layers json");
    assert_eq!(parsed, layers);
}

#[test]
fn inspect_and_rmi_of_a_missing_image_fail() {
    let d = Daemon::start();
    let out = d.docker(&["image", "inspect", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("No such image"),
        "{}",
        common::stderr(&out)
    );
    let out = d.docker(&["rmi", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("No such image: nope:latest"),
        "{}",
        common::stderr(&out)
    );
}

#[test]
fn history_lists_layers_newest_first() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = f.image("busybox");
    let reference = d.pull_fixture(&f, "busybox");
    let out = d.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}}|{{.CreatedBy}}|{{.Size}}",
        &reference,
    ]);
    let rows = lines(&out);
    assert!(rows.len() >= busybox.layers, "{out}");
    assert!(rows[0].starts_with(&format!("{}|", busybox.id)), "{out}");
    assert!(
        rows[1..].iter().all(|r| r.starts_with("<missing>|")),
        "{out}"
    );
    let table = d.docker_ok(&["history", &reference]);
    let header = table.lines().next().unwrap_or_default();
    for column in ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"] {
        assert!(header.contains(column), "{header}");
    }
    let err = d.docker_err(&["history", "nope"]);
    assert!(err.contains("No such image"), "{err}");
}

#[test]
fn tag_adds_a_name_and_images_shows_both() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = f.image("busybox");
    let reference = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["tag", &reference, "mine/busybox:v2"]);
    d.docker_ok(&["tag", short(&busybox.id), "mine/busybox"]);
    let names = lines(&d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]));
    for expected in [reference.as_str(), "mine/busybox:v2", "mine/busybox:latest"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    let img = inspect(&d, "mine/busybox:v2");
    assert_eq!(img["Id"], busybox.id);
    assert_eq!(img["RepoTags"].as_array().map(Vec::len), Some(3));

    let err = d.docker_err(&["tag", &reference, "Bad/Name"]);
    assert!(err.contains("invalid reference format"), "{err}");
    let err = d.docker_err(&["tag", "nope", "mine/x"]);
    assert!(err.contains("No such image"), "{err}");
}

#[test]
fn rmi_untags_until_the_last_reference_then_deletes() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = f.image("busybox");
    let reference = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["tag", &reference, "mine:1"]);

    let out = d.docker_ok(&["rmi", "mine:1"]);
    assert_eq!(lines(&out), vec!["Untagged: mine:1".to_string()]);

    // By ID with tags in two repositories: refused unless forced.
    d.docker_ok(&["tag", &reference, "mine:2"]);
    let err = d.docker_err(&["rmi", short(&busybox.id)]);
    assert!(
        err.contains("must be forced") && err.contains("referenced in multiple repositories"),
        "{err}"
    );
    d.docker_ok(&["rmi", "mine:2"]);

    let out = d.docker_ok(&["rmi", &reference]);
    let digest_ref = format!("{}/{}@{}", f.registry, busybox.repository, busybox.digest);
    let rows = lines(&out);
    assert_eq!(rows[0], format!("Untagged: {reference}"), "{out}");
    assert_eq!(rows[1], format!("Untagged: {digest_ref}"), "{out}");
    assert_eq!(rows[2], format!("Deleted: {}", busybox.id), "{out}");
    assert!(lines(&d.docker_ok(&["images", "-q"])).is_empty());

    // Forced delete by ID of an image with several repositories.
    let reference = d.pull_fixture(&f, "busybox");
    d.docker_ok(&["tag", &reference, "mine:3"]);
    let out = d.docker_ok(&["rmi", "-f", short(&busybox.id)]);
    assert!(out.contains(&format!("Deleted: {}", busybox.id)), "{out}");
    assert!(lines(&d.docker_ok(&["images", "-q"])).is_empty());
}

#[test]
fn image_prune_removes_dangling_then_all() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = f.image("busybox");
    let hello = f.image("hello");
    d.pull_fixture(&f, "busybox");
    let hello_ref = d.pull_fixture(&f, "hello");

    let out = d.docker_ok(&["image", "prune", "-f"]);
    assert!(out.contains("Total reclaimed space: 0B"), "{out}");

    // Move hello's only tag to busybox: hello keeps just its digest and is dangling.
    d.docker_ok(&["tag", &f.anon_ref("busybox"), &hello_ref]);
    let out = d.docker_ok(&["image", "prune", "-f"]);
    assert!(out.contains(&format!("deleted: {}", hello.id)), "{out}");
    assert!(out.contains("untagged:"), "{out}");
    assert_eq!(
        distinct(lines(&d.docker_ok(&["images", "-q", "--no-trunc"]))),
        vec![busybox.id.clone()]
    );

    let out = d.docker_ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains(&format!("deleted: {}", busybox.id)), "{out}");
    assert!(lines(&d.docker_ok(&["images", "-q"])).is_empty());
}

#[test]
fn restart_drops_images_whose_layers_are_gone() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let busybox = f.image("busybox");
    let hello = f.image("hello");
    let busybox_ref = d.pull_fixture(&f, "busybox");
    d.pull_fixture(&f, "hello");
    let upper = inspect(&d, &busybox_ref)["GraphDriver"]["Data"]["UpperDir"]
        .as_str()
        .expect("UpperDir")
        .to_string();
    let layer_dir = std::path::Path::new(&upper)
        .parent()
        .expect("layer directory")
        .to_path_buf();
    assert!(
        layer_dir.starts_with(d.data_root()),
        "{} is outside the data root",
        layer_dir.display()
    );

    d.stop();
    std::fs::remove_dir_all(&layer_dir).expect("remove the top layer of busybox");
    d.restart_with(&[]);

    // The broken image and its references are gone; the intact one stays.
    assert_eq!(
        distinct(lines(&d.docker_ok(&["images", "-q", "--no-trunc"]))),
        vec![hello.id.clone()]
    );
    let err = d.docker_err(&["image", "inspect", &busybox_ref]);
    assert!(err.contains("No such image"), "{err}");
    assert!(!d
        .docker_ok(&["images", "-a", "-q", "--no-trunc"])
        .contains(&busybox.id));
    // It can be pulled again.
    d.pull_fixture(&f, "busybox");
    assert_eq!(inspect(&d, &busybox_ref)["Id"], busybox.id);
}

/// The unpacked layers under the daemon's data root (one folder per chain ID).
fn layer_dirs(d: &Daemon) -> Vec<String> {
    std::fs::read_dir(d.data_root().join("layers"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().join("layer.json").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `rmi -f` of an image a stopped container uses deletes the image but not the layers
/// the container runs on (dockerd's RW layer holds its parents): the container still
/// starts, and its removal then frees them.
#[test]
fn a_force_deleted_image_leaves_its_containers_able_to_start() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = f.image("busybox");
    let reference = d.pull_fixture(&f, "busybox");
    let layers = layer_dirs(&d);
    assert!(!layers.is_empty());
    d.docker_ok(&[
        "create",
        "--name",
        "keeper",
        &reference,
        "echo",
        "still here",
    ]);
    let err = d.docker_err(&["rmi", &reference]);
    assert!(err.contains("must force"), "{err}");
    let out = d.docker_ok(&["rmi", "-f", &reference]);
    let deleted: Vec<String> = lines(&out)
        .into_iter()
        .filter(|l| l.starts_with("Deleted: "))
        .collect();
    assert_eq!(deleted, vec![format!("Deleted: {}", busybox.id)], "{out}");
    assert_eq!(
        layer_dirs(&d).len(),
        layers.len(),
        "the container's layers stay"
    );
    // The list shows the image's ID once its name no longer leads to it, as dockerd.
    let shown = d.docker_ok(&[
        "ps",
        "-a",
        "--filter",
        "name=keeper",
        "--format",
        "{{.Image}}",
    ]);
    assert_eq!(shown.trim(), short(&busybox.id));
    assert_eq!(d.docker_ok(&["start", "-a", "keeper"]).trim(), "still here");
    d.docker_ok(&["rm", "keeper"]);
    assert!(layer_dirs(&d).is_empty(), "{:?}", layer_dirs(&d));
}

use super::*;
use crate::images::testutil::{ImageSpec, TestStores};

fn inspect_json(s: &TestStores, record: &ImageRecord, api_version: u32) -> Value {
    let config = ImageConfigFile::load(&s.content, &record.id).unwrap();
    let refs = ImageRefs::of(&s.images, &record.id);
    let data = Some(BTreeMap::from([(
        "UpperDir".to_string(),
        "/x/diff".to_string(),
    )]));
    serde_json::to_value(build_inspect(
        record,
        &config,
        &refs,
        data,
        &s.content,
        api_version,
    ))
    .unwrap()
}

#[test]
fn current_api_shape() {
    let s = TestStores::new();
    let mut spec = ImageSpec::new("a", "2024-01-01T00:00:00.100Z")
        .refs(&["busybox:latest"])
        .layers(&[("l1", 3), ("l2", 4)]);
    spec.config = serde_json::json!({"Cmd": ["sh"], "Env": ["PATH=/bin"], "Labels": null, "WorkingDir": "", "Image": "sha256:old"});
    let img = s.add(spec);
    let j = inspect_json(&s, &img, 53);
    assert_eq!(j["Id"], img.id);
    assert_eq!(j["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(j["RepoDigests"], serde_json::json!([]));
    assert_eq!(j["Parent"], "");
    assert_eq!(j["Comment"], "");
    assert_eq!(j["Created"], "2024-01-01T00:00:00.1Z");
    assert_eq!(
        j["Config"],
        serde_json::json!({"Env": ["PATH=/bin"], "Cmd": ["sh"]})
    );
    assert_eq!(j["Architecture"], "amd64");
    assert_eq!(j["Os"], "linux");
    assert_eq!(j["Size"], 7);
    assert_eq!(j["GraphDriver"]["Name"], "overlay2");
    assert_eq!(j["RootFS"]["Type"], "layers");
    assert_eq!(j["RootFS"]["Layers"].as_array().map(Vec::len), Some(2));
    // References set as a pull sets them leave LastTagTime at Go's zero time, as dockerd.
    assert_eq!(j["Metadata"]["LastTagTime"], "0001-01-01T00:00:00Z");
    for absent in [
        "Container",
        "ContainerConfig",
        "VirtualSize",
        "Variant",
        "OsVersion",
        "Descriptor",
    ] {
        assert!(j.get(absent).is_none(), "{absent} should be absent");
    }
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    assert!(keys.contains(&"DockerVersion") && keys.contains(&"Author"));
}

#[test]
fn old_api_versions_get_legacy_fields() {
    let s = TestStores::new();
    let img = s.add(ImageSpec::new("a", "2024-01-01T00:00:00Z"));
    let j = inspect_json(&s, &img, 43);
    assert_eq!(j["VirtualSize"], 100);
    assert_eq!(j["ContainerConfig"]["Hostname"], "");
    assert_eq!(j["ContainerConfig"]["Env"], Value::Null);
    // API < 1.50: Config is a full container config, keeping only image keys.
    assert_eq!(j["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(j["Config"]["Image"], "");
    assert_eq!(j["Config"]["AttachStdin"], false);
    assert_eq!(j["Config"]["Labels"], Value::Null);
    assert!(j["Config"].get("ExposedPorts").is_none());
    assert_eq!(j["Metadata"]["LastTagTime"], ZERO_TIME);
}

#[test]
fn config_without_created_is_zero_time_for_old_versions_only() {
    let s = TestStores::new();
    let data = br#"{"architecture":"arm64","variant":"v8","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let id = s.content.write_bytes(data).unwrap();
    let record = ImageRecord {
        id: id.clone(),
        manifest_digest: None,
        manifest_media_type: None,
        layers: vec![],
        parent: String::new(),
        created_at: chrono::Utc::now(),
        last_tag_time: None,
    };
    s.images.insert(record.clone()).unwrap();
    let j = inspect_json(&s, &record, 53);
    assert!(j.get("Created").is_none());
    assert_eq!(j["Variant"], "v8");
    assert_eq!(j["Config"], serde_json::json!({}));
    assert!(j["RootFS"].get("Layers").is_none());
    assert_eq!(inspect_json(&s, &record, 43)["Created"], ZERO_TIME);
}

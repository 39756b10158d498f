use super::*;

fn id(n: u8) -> String {
    format!("sha256:{}", hex::encode([n; 32]))
}

fn id_with_prefix(prefix: &str, fill: char) -> String {
    format!(
        "sha256:{prefix}{}",
        fill.to_string().repeat(64 - prefix.len())
    )
}

fn record(id: &str) -> ImageRecord {
    ImageRecord {
        id: id.to_string(),
        manifest_digest: Some(format!("sha256:{}", "c".repeat(64))),
        manifest_media_type: Some("application/vnd.oci.image.manifest.v1+json".into()),
        layers: vec![LayerRecord {
            diff_id: format!("sha256:{}", "d".repeat(64)),
            chain_id: format!("sha256:{}", "d".repeat(64)),
            blob_digest: Some(format!("sha256:{}", "e".repeat(64))),
            media_type: Some("application/vnd.oci.image.layer.v1.tar+gzip".into()),
            blob_size: 10,
            size: 20,
        }],
        parent: String::new(),
        created_at: chrono::Utc::now(),
        last_tag_time: None,
    }
}

#[test]
fn records_and_refs_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = ImageStore::open(dir.path()).unwrap();
        store.insert(record(&id(1))).unwrap();
        store.insert(record(&id(2))).unwrap();
        assert_eq!(
            store
                .set_ref("docker.io/library/busybox:latest", &id(1))
                .unwrap(),
            None
        );
        store
            .set_ref("docker.io/library/busybox:1.36", &id(1))
            .unwrap();
    }
    let store = ImageStore::open(dir.path()).unwrap();
    assert_eq!(store.list().len(), 2);
    assert_eq!(
        store.get(&id(2)).unwrap(),
        record_without_times(&store, &id(2))
    );
    assert_eq!(
        store.lookup_ref("docker.io/library/busybox:latest"),
        Some(id(1))
    );
    assert_eq!(
        store.refs_of(&id(1)),
        vec![
            "docker.io/library/busybox:1.36".to_string(),
            "docker.io/library/busybox:latest".to_string()
        ]
    );
    // Setting references (a pull) leaves LastTagTime alone; an explicit tag sets it.
    assert!(store.get(&id(1)).unwrap().last_tag_time.is_none());
    store.touch_tag_time(&id(1)).unwrap();
    assert!(store.get(&id(1)).unwrap().last_tag_time.is_some());
    assert!(store.get(&id(2)).unwrap().last_tag_time.is_none());
}

fn record_without_times(store: &ImageStore, id: &str) -> ImageRecord {
    let mut expected = record(id);
    expected.created_at = store.get(id).unwrap().created_at;
    expected
}

#[test]
fn set_ref_moves_a_tag_and_returns_the_previous_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    store.insert(record(&id(1))).unwrap();
    store.insert(record(&id(2))).unwrap();
    store.set_ref("x:latest", &id(1)).unwrap();
    assert_eq!(store.set_ref("x:latest", &id(2)).unwrap(), Some(id(1)));
    assert!(store.refs_of(&id(1)).is_empty());
    assert_eq!(store.refs_of(&id(2)), vec!["x:latest".to_string()]);
    assert_eq!(store.remove_ref("x:latest").unwrap(), Some(id(2)));
    assert_eq!(store.remove_ref("x:latest").unwrap(), None);
    assert_eq!(store.lookup_ref("x:latest"), None);
}

#[test]
fn set_ref_to_unknown_image_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    assert!(matches!(
        store.set_ref("x:latest", &id(9)),
        Err(StoreError::ImageNotFound(_))
    ));
    assert_eq!(store.lookup_ref("x:latest"), None);
}

#[test]
fn remove_drops_record_and_its_refs() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = ImageStore::open(dir.path()).unwrap();
        store.insert(record(&id(1))).unwrap();
        store.insert(record(&id(2))).unwrap();
        store.set_ref("a:1", &id(1)).unwrap();
        store.set_ref("a:2", &id(1)).unwrap();
        store.set_ref("b:1", &id(2)).unwrap();
        assert_eq!(store.remove(&id(1)).unwrap().map(|r| r.id), Some(id(1)));
        assert_eq!(store.remove(&id(1)).unwrap(), None);
        assert_eq!(store.get(&id(1)), None);
        assert_eq!(store.lookup_ref("a:1"), None);
    }
    let store = ImageStore::open(dir.path()).unwrap();
    assert_eq!(store.list().len(), 1);
    assert_eq!(store.references(), vec![("b:1".to_string(), id(2))]);
}

#[test]
fn id_prefixes_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let first = id_with_prefix("abc1", '0');
    let second = id_with_prefix("abc2", '0');
    store.insert(record(&first)).unwrap();
    store.insert(record(&second)).unwrap();
    assert_eq!(
        store.resolve_id_prefix("abc1").unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.resolve_id_prefix("sha256:abc2").unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        store.resolve_id_prefix(&first).unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store
            .resolve_id_prefix(first.trim_start_matches("sha256:"))
            .unwrap(),
        Some(first)
    );
    assert_eq!(store.resolve_id_prefix("abd").unwrap(), None);
    assert_eq!(store.resolve_id_prefix("").unwrap(), None);
    assert_eq!(store.resolve_id_prefix("sha256:").unwrap(), None);
    assert_eq!(store.resolve_id_prefix("busybox").unwrap(), None);
    assert_eq!(store.resolve_id_prefix("ABC1").unwrap(), None);
    assert_eq!(store.resolve_id_prefix(&"a".repeat(65)).unwrap(), None);
}

#[test]
fn ambiguous_prefix_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    store.insert(record(&id_with_prefix("abc1", '0'))).unwrap();
    store.insert(record(&id_with_prefix("abc2", '0'))).unwrap();
    match store.resolve_id_prefix("abc") {
        Err(StoreError::Conflict(message)) => assert!(message.contains("abc"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        store.resolve_id_prefix("a"),
        Err(StoreError::Conflict(_))
    ));
}

#[test]
fn corrupt_records_are_skipped_and_dangling_refs_dropped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = ImageStore::open(dir.path()).unwrap();
        store.insert(record(&id(1))).unwrap();
        store.insert(record(&id(2))).unwrap();
        store.set_ref("good:1", &id(1)).unwrap();
        store.set_ref("bad:1", &id(2)).unwrap();
    }
    let bad_path = dir.path().join(format!("{}.json", hex::encode([2u8; 32])));
    std::fs::write(&bad_path, b"{ truncated").unwrap();
    // A record whose content does not match its name is corrupt too.
    let mut misnamed = record(&id(4));
    misnamed.id = id(5);
    std::fs::write(
        dir.path().join(format!("{}.json", hex::encode([4u8; 32]))),
        serde_json::to_vec(&misnamed).unwrap(),
    )
    .unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    assert_eq!(
        store
            .list()
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        vec![id(1)]
    );
    assert_eq!(store.lookup_ref("bad:1"), None);
    assert_eq!(store.lookup_ref("good:1"), Some(id(1)));
    // The dropped reference is gone on disk too.
    let table: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(dir.path().join(REFERENCES_FILE)).unwrap()).unwrap();
    assert_eq!(table.len(), 1);
}

#[test]
fn corrupt_reference_table_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = ImageStore::open(dir.path()).unwrap();
        store.insert(record(&id(1))).unwrap();
        store.set_ref("a:1", &id(1)).unwrap();
    }
    std::fs::write(dir.path().join(REFERENCES_FILE), b"[not a map").unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    assert!(store.references().is_empty());
    assert_eq!(store.list().len(), 1);
    store.set_ref("a:1", &id(1)).unwrap();
}

#[test]
fn concurrent_tagging_keeps_every_ref() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    store.insert(record(&id(1))).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = &store;
            s.spawn(move || {
                for i in 0..10 {
                    store.set_ref(&format!("r{t}:{i}"), &id(1)).unwrap();
                }
            });
        }
    });
    drop(store);
    let store = ImageStore::open(dir.path()).unwrap();
    assert_eq!(store.refs_of(&id(1)).len(), 40);
}

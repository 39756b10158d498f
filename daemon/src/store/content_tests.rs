use super::*;

fn store() -> (tempfile::TempDir, ContentStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    (dir, store)
}

fn ingest_is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("ingest"))
        .unwrap()
        .next()
        .is_none()
}

#[test]
fn write_bytes_then_read_verifies() {
    let (_dir, store) = store();
    let digest = store.write_bytes(b"{\"config\":true}").unwrap();
    assert_eq!(digest, sha256_of(b"{\"config\":true}"));
    assert!(store.exists(&digest));
    assert_eq!(store.size(&digest).unwrap(), 15);
    assert_eq!(store.read(&digest).unwrap(), b"{\"config\":true}");
    let mut streamed = Vec::new();
    store
        .open_blob(&digest)
        .unwrap()
        .read_to_end(&mut streamed)
        .unwrap();
    assert_eq!(streamed, b"{\"config\":true}");
    // Idempotent.
    assert_eq!(store.write_bytes(b"{\"config\":true}").unwrap(), digest);
    assert_eq!(store.list().unwrap(), vec![digest]);
}

#[test]
fn writer_streams_and_commits() {
    let (dir, store) = store();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let digest = sha256_of(&data);
    let mut writer = store.writer(&digest).unwrap();
    for chunk in data.chunks(7777) {
        writer.write(chunk).unwrap();
    }
    assert_eq!(writer.written(), data.len() as u64);
    assert!(!store.exists(&digest), "visible before commit");
    assert_eq!(writer.commit().unwrap(), data.len() as u64);
    assert_eq!(store.read(&digest).unwrap(), data);
    assert!(ingest_is_empty(dir.path()));
}

#[test]
fn commit_with_wrong_digest_fails_and_cleans_up() {
    let (dir, store) = store();
    let claimed = sha256_of(b"what the manifest said");
    let mut writer = store.writer(&claimed).unwrap();
    writer.write(b"what the registry sent").unwrap();
    match writer.commit() {
        Err(StoreError::DigestMismatch { expected, actual }) => {
            assert_eq!(expected, claimed);
            assert_eq!(actual, sha256_of(b"what the registry sent"));
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert!(!store.exists(&claimed));
    assert!(ingest_is_empty(dir.path()));
}

#[test]
fn dropped_writer_leaves_nothing() {
    let (dir, store) = store();
    let digest = sha256_of(b"abc");
    let mut writer = store.writer(&digest).unwrap();
    writer.write(b"ab").unwrap();
    drop(writer);
    assert!(ingest_is_empty(dir.path()));
    assert!(!store.exists(&digest));
}

#[test]
fn read_detects_corruption() {
    let (_dir, store) = store();
    let digest = store.write_bytes(b"original").unwrap();
    std::fs::write(store.blob_path(&digest).unwrap(), b"tampered").unwrap();
    assert!(matches!(
        store.read(&digest),
        Err(StoreError::DigestMismatch { .. })
    ));
}

#[test]
fn invalid_digests_are_refused_everywhere() {
    let (dir, store) = store();
    std::fs::write(dir.path().join("secret"), b"x").unwrap();
    for bad in [
        "sha256:../../secret",
        "sha256:",
        "md5:abc",
        "../secret",
        &format!("sha256:{}", "A".repeat(64)),
    ] {
        assert!(
            matches!(store.blob_path(bad), Err(StoreError::InvalidDigest(_))),
            "{bad}"
        );
        assert!(
            matches!(store.read(bad), Err(StoreError::InvalidDigest(_))),
            "{bad}"
        );
        assert!(
            matches!(store.open_blob(bad), Err(StoreError::InvalidDigest(_))),
            "{bad}"
        );
        assert!(
            matches!(store.writer(bad), Err(StoreError::InvalidDigest(_))),
            "{bad}"
        );
        assert!(
            matches!(store.delete(bad), Err(StoreError::InvalidDigest(_))),
            "{bad}"
        );
        assert!(
            matches!(store.size(bad), Err(StoreError::InvalidDigest(_))),
            "{bad}"
        );
        assert!(!store.exists(bad));
    }
    assert!(dir.path().join("secret").exists());
}

#[test]
fn missing_blob_is_not_found() {
    let (_dir, store) = store();
    let digest = sha256_of(b"never stored");
    assert!(matches!(
        store.read(&digest),
        Err(StoreError::BlobNotFound(_))
    ));
    assert!(matches!(
        store.open_blob(&digest),
        Err(StoreError::BlobNotFound(_))
    ));
    assert!(matches!(
        store.size(&digest),
        Err(StoreError::BlobNotFound(_))
    ));
    store.delete(&digest).unwrap();
}

#[test]
fn delete_removes_blob() {
    let (_dir, store) = store();
    let digest = store.write_bytes(b"bye").unwrap();
    store.delete(&digest).unwrap();
    assert!(!store.exists(&digest));
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn open_removes_ingest_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = ContentStore::open(dir.path()).unwrap();
        let writer = store.writer(&sha256_of(b"x")).unwrap();
        // Simulate a crash: the writer's Drop never runs.
        std::mem::forget(writer);
    }
    std::fs::create_dir(dir.path().join("ingest/leftover-dir")).unwrap();
    assert!(!ingest_is_empty(dir.path()));
    ContentStore::open(dir.path()).unwrap();
    assert!(ingest_is_empty(dir.path()));
}

#[test]
fn concurrent_ingests_of_the_same_blob() {
    let (_dir, store) = store();
    let data: Vec<u8> = (0..500_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let digest = sha256_of(&data);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mut writer = store.writer(&digest).unwrap();
                for chunk in data.chunks(4096) {
                    writer.write(chunk).unwrap();
                }
                writer.commit().unwrap();
            });
        }
    });
    assert_eq!(store.read(&digest).unwrap(), data);
    assert_eq!(store.list().unwrap(), vec![digest]);
}

#[test]
fn write_from_reader() {
    let (_dir, store) = store();
    let data = vec![42u8; 100_000];
    let mut writer = store.writer(&sha256_of(&data)).unwrap();
    assert_eq!(writer.write_from(&data[..]).unwrap(), 100_000);
    writer.commit().unwrap();
}

use std::io::Write;

use super::*;
use crate::in_root::unpack::tests::LayerTar;

fn layer_tar(file: &str, content: &[u8]) -> Vec<u8> {
    LayerTar::new()
        .dir("etc/", 0o755)
        .file(&format!("etc/{file}"), content)
        .bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

fn store() -> (tempfile::TempDir, LayerStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LayerStore::open(dir.path()).unwrap();
    (dir, store)
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn chain_ids_follow_the_oci_spec() {
    let a = sha256_of(b"a");
    let b = sha256_of(b"b");
    assert_eq!(LayerStore::chain_id(None, &a), a);
    let ab = LayerStore::chain_id(Some(&a), &b);
    assert_eq!(ab, sha256_of(format!("{a} {b}").as_bytes()));
    assert_eq!(LayerStore::chain_ids(&[a.clone(), b.clone()]), vec![a, ab]);
}

#[test]
fn unpacks_plain_gzip_and_zstd_layers() {
    let (_dir, store) = store();
    let base = layer_tar("base", b"base");
    let base_info = store.unpack(None, &sha256_of(&base), &base[..]).unwrap();
    assert_eq!(base_info.chain_id, sha256_of(&base));
    assert_eq!(base_info.size, 4);
    let gz = layer_tar("gz", b"gzip layer");
    let gz_info = store
        .unpack(Some(&base_info.chain_id), &sha256_of(&gz), &gzip(&gz)[..])
        .unwrap();
    let zst = layer_tar("zst", b"zstd layer");
    let zst_info = store
        .unpack(Some(&gz_info.chain_id), &sha256_of(&zst), &zstd(&zst)[..])
        .unwrap();
    assert_eq!(zst_info.parent.as_deref(), Some(gz_info.chain_id.as_str()));
    assert_eq!(
        zst_info.chain_id,
        LayerStore::chain_ids(&[sha256_of(&base), sha256_of(&gz), sha256_of(&zst)])[2]
    );
    let lowers = store.lower_dirs(&zst_info.chain_id).unwrap();
    assert_eq!(lowers.len(), 3);
    assert_eq!(
        std::fs::read(lowers[0].join("etc/zst")).unwrap(),
        b"zstd layer"
    );
    assert_eq!(
        std::fs::read(lowers[1].join("etc/gz")).unwrap(),
        b"gzip layer"
    );
    assert_eq!(std::fs::read(lowers[2].join("etc/base")).unwrap(), b"base");
    assert_eq!(store.diff_dir(&base_info.chain_id).unwrap(), lowers[2]);
    assert_eq!(store.get(&gz_info.chain_id).unwrap(), Some(gz_info.clone()));
    assert_eq!(store.list().unwrap().len(), 3);
}

#[test]
fn diff_id_covers_bytes_after_the_end_of_archive() {
    let (_dir, store) = store();
    let mut tar = layer_tar("f", b"x");
    tar.extend_from_slice(&[0u8; 4096]);
    store
        .unpack(None, &sha256_of(&tar), &gzip(&tar)[..])
        .unwrap();
}

#[test]
fn diff_id_mismatch_leaves_nothing() {
    let (dir, store) = store();
    let tar = layer_tar("f", b"x");
    let wrong = sha256_of(b"something else");
    match store.unpack(None, &wrong, &tar[..]) {
        Err(StoreError::DigestMismatch { expected, actual }) => {
            assert_eq!(expected, wrong);
            assert_eq!(actual, sha256_of(&tar));
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert!(names_in(dir.path()).is_empty());
    assert_eq!(store.get(&wrong).unwrap(), None);
}

#[test]
fn unsafe_layer_leaves_nothing() {
    let (dir, store) = store();
    let tar = LayerTar::new().symlink("s", "/").file("s/x", b"x").bytes();
    assert!(matches!(
        store.unpack(None, &sha256_of(&tar), &tar[..]),
        Err(StoreError::UnsafePath(_))
    ));
    assert!(names_in(dir.path()).is_empty());
}

#[test]
fn unpack_is_idempotent() {
    let (_dir, store) = store();
    let tar = layer_tar("f", b"x");
    let first = store.unpack(None, &sha256_of(&tar), &tar[..]).unwrap();
    // The second blob is never read: garbage would fail if it were.
    let second = store
        .unpack(None, &sha256_of(&tar), &b"not a tar at all"[..])
        .unwrap();
    assert_eq!(first, second);
}

#[test]
fn missing_parent_and_bad_digests_are_refused() {
    let (_dir, store) = store();
    let tar = layer_tar("f", b"x");
    let parent = sha256_of(b"absent");
    assert!(matches!(
        store.unpack(Some(&parent), &sha256_of(&tar), &tar[..]),
        Err(StoreError::LayerNotFound(_))
    ));
    assert!(matches!(
        store.unpack(None, "sha256:../../x", &tar[..]),
        Err(StoreError::InvalidDigest(_))
    ));
    assert!(matches!(
        store.get("../x"),
        Err(StoreError::InvalidDigest(_))
    ));
    assert!(matches!(
        store.diff_dir(&parent),
        Err(StoreError::LayerNotFound(_))
    ));
    assert!(matches!(
        store.lower_dirs(&parent),
        Err(StoreError::LayerNotFound(_))
    ));
}

#[test]
fn concurrent_unpacks_of_the_same_chain() {
    let (dir, store) = store();
    let tar = LayerTar::new()
        .file("big", &vec![7u8; 4 << 20])
        .file("small", b"s")
        .bytes();
    let diff_id = sha256_of(&tar);
    let compressed = gzip(&tar);
    let results: Vec<LayerInfo> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| store.unpack(None, &diff_id, &compressed[..]).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.iter().all(|info| info == &results[0]));
    assert_eq!(
        names_in(dir.path()),
        vec![diff_id.trim_start_matches("sha256:").to_string()]
    );
    assert_eq!(
        std::fs::read(store.diff_dir(&diff_id).unwrap().join("small")).unwrap(),
        b"s"
    );
}

#[test]
fn remove_deletes_one_layer() {
    let (dir, store) = store();
    let base = layer_tar("a", b"a");
    let top = layer_tar("b", b"b");
    let base_info = store.unpack(None, &sha256_of(&base), &base[..]).unwrap();
    let top_info = store
        .unpack(Some(&base_info.chain_id), &sha256_of(&top), &top[..])
        .unwrap();
    store.remove(&top_info.chain_id).unwrap();
    store.remove(&top_info.chain_id).unwrap();
    assert_eq!(store.get(&top_info.chain_id).unwrap(), None);
    assert_eq!(store.list().unwrap(), vec![base_info]);
    assert_eq!(names_in(dir.path()).len(), 1);
}

#[test]
fn open_removes_unfinished_work() {
    let dir = tempfile::tempdir().unwrap();
    let tar = layer_tar("f", b"x");
    let kept = {
        let store = LayerStore::open(dir.path()).unwrap();
        store.unpack(None, &sha256_of(&tar), &tar[..]).unwrap()
    };
    // What a kill -9 mid-unpack or mid-remove leaves.
    std::fs::create_dir_all(dir.path().join("tmp-0123/diff/etc")).unwrap();
    std::fs::write(dir.path().join("tmp-0123/diff/etc/half"), b"half").unwrap();
    std::fs::create_dir_all(dir.path().join(format!("tmp-rm-{}-1", "a".repeat(64)))).unwrap();
    let store = LayerStore::open(dir.path()).unwrap();
    assert_eq!(
        names_in(dir.path()),
        vec![kept.chain_id.trim_start_matches("sha256:").to_string()]
    );
    assert_eq!(store.list().unwrap(), vec![kept]);
}

#[test]
fn corrupt_layer_metadata_is_reported() {
    let (dir, store) = store();
    let tar = layer_tar("f", b"x");
    let info = store.unpack(None, &sha256_of(&tar), &tar[..]).unwrap();
    let hex = info.chain_id.trim_start_matches("sha256:");
    std::fs::write(dir.path().join(hex).join("layer.json"), b"{").unwrap();
    assert!(matches!(
        store.get(&info.chain_id),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(store.list().unwrap().is_empty());
}

//! A `kill -9` in the middle of a blob download or a layer unpack must leave nothing
//! that looks valid, and the next open must clean up. The test binary re-runs itself
//! as the child that gets killed (`STORE_CRASH_CHILD` names its store directory).
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use berthd::store::content::ContentStore;
use berthd::store::digest::sha256_of;
use berthd::store::layers::LayerStore;

const CHILD_ENV: &str = "STORE_CRASH_CHILD";

/// A tar of a few files, large enough that half of it holds complete entries.
fn layer_tar() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for i in 0..8 {
        let data = vec![b'a' + i as u8; 64 * 1024];
        let mut header = tar::Header::new_gnu();
        header.set_path(format!("file{i}")).unwrap();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        builder.append(&header, &data[..]).unwrap();
    }
    builder.into_inner().unwrap()
}

/// Hands out the first half of `data`, then hangs until killed.
struct HalfThenHang {
    data: Vec<u8>,
    position: usize,
}

impl Read for HalfThenHang {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let half = self.data.len() / 2;
        if self.position >= half {
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        let n = buf.len().min(half - self.position);
        buf[..n].copy_from_slice(&self.data[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

fn spawn_child(test_name: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

#[test]
fn kill_during_layer_unpack() {
    let tar = layer_tar();
    let diff_id = sha256_of(&tar);
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        let store = LayerStore::open(Path::new(&dir)).unwrap();
        let _ = store.unpack(
            None,
            &diff_id,
            HalfThenHang {
                data: tar,
                position: 0,
            },
        );
        unreachable!("the reader hangs until the process is killed");
    }
    let root = tempfile::tempdir().unwrap();
    let mut child = spawn_child("kill_during_layer_unpack", root.path());
    // Wait until the child has written files into its temporary directory.
    wait_for("a partial unpack", || {
        entries(root.path())
            .iter()
            .any(|p| entries(&p.join("diff")).len() >= 2)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !entries(root.path()).is_empty(),
        "the killed unpack left its temporary directory"
    );

    let store = LayerStore::open(root.path()).unwrap();
    assert!(
        entries(root.path()).is_empty(),
        "open did not clean up: {:?}",
        entries(root.path())
    );
    assert_eq!(store.get(&diff_id).unwrap(), None);
    assert!(store.list().unwrap().is_empty());
    let info = store.unpack(None, &diff_id, &tar[..]).unwrap();
    assert_eq!(info.size, 8 * 64 * 1024);
}

#[test]
fn kill_during_blob_ingest() {
    let blob = layer_tar();
    let digest = sha256_of(&blob);
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        let store = ContentStore::open(Path::new(&dir)).unwrap();
        let mut writer = store.writer(&digest).unwrap();
        let _ = writer.write_from(HalfThenHang {
            data: blob,
            position: 0,
        });
        unreachable!("the reader hangs until the process is killed");
    }
    let root = tempfile::tempdir().unwrap();
    let mut child = spawn_child("kill_during_blob_ingest", root.path());
    let ingest = root.path().join("ingest");
    wait_for("a partial ingest", || {
        entries(&ingest)
            .iter()
            .any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() >= blob.len() as u64 / 2))
    });
    child.kill().unwrap();
    child.wait().unwrap();

    let store = ContentStore::open(root.path()).unwrap();
    assert!(!store.exists(&digest));
    assert!(entries(&ingest).is_empty());
    assert!(store.list().unwrap().is_empty());
    assert_eq!(store.write_bytes(&blob).unwrap(), digest);
}

//! Images held by pods' containers: each mounted root of a CRI container or sandbox holds
//! its image, so that `docker rmi` (which counts holders as containers using the image)
//! and the garbage collector leave its layers alone while the root is mounted.
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct ImageHolds {
    holds: Mutex<HashMap<String, BTreeSet<PathBuf>>>,
}

impl ImageHolds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeSet<PathBuf>>> {
        self.holds.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn hold(&self, image_id: &str, root: PathBuf) {
        self.lock()
            .entry(image_id.to_string())
            .or_default()
            .insert(root);
    }

    pub fn release(&self, image_id: &str, root: &std::path::Path) {
        let mut holds = self.lock();
        if let Some(set) = holds.get_mut(image_id) {
            set.remove(root);
            if set.is_empty() {
                holds.remove(image_id);
            }
        }
    }

    /// The roots holding `image_id` (their folders' names are the CRI object IDs).
    pub fn holders(&self, image_id: &str) -> Vec<String> {
        self.lock()
            .get(image_id)
            .map(|set| {
                set.iter()
                    .map(|p| {
                        p.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_are_per_root() {
        let h = ImageHolds::default();
        h.hold("sha256:a", "/x/c1".into());
        h.hold("sha256:a", "/x/c2".into());
        assert_eq!(h.holders("sha256:a"), vec!["c1", "c2"]);
        h.release("sha256:a", std::path::Path::new("/x/c1"));
        h.release("sha256:a", std::path::Path::new("/x/c2"));
        assert!(h.holders("sha256:a").is_empty());
    }
}

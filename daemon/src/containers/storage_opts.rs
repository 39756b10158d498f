//! `HostConfig.StorageOpt` (`--storage-opt`), as dockerd's overlay2 driver reads it when it
//! creates a container's layer (`CreateReadWrite`, `parseStorageOpt`).
//!
//! overlay2 knows one option, `size`, which it enforces with XFS project quotas. Berth's
//! storage has no quota support, so a size is refused with the message (and 500) dockerd
//! gives where the backing filesystem cannot enforce one — never accepted and ignored.
//! Any other key is dockerd's "Unknown option KEY".
use std::collections::HashMap;

use super::{ContainerError, Result};

/// Refuses the options Berth's storage cannot honour.
pub fn check(opts: Option<&HashMap<String, String>>) -> Result<()> {
    let Some(opts) = opts.filter(|o| !o.is_empty()) else {
        return Ok(());
    };
    if opts.keys().any(|k| k.eq_ignore_ascii_case("size")) {
        return Err(ContainerError::Internal(
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"
                .into(),
        ));
    }
    let mut keys: Vec<String> = opts.keys().map(|k| k.to_lowercase()).collect();
    keys.sort();
    match keys.first() {
        Some(key) => Err(ContainerError::Internal(format!("Unknown option {key}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_size_is_refused_and_unknown_keys_named() {
        assert!(check(None).is_ok());
        assert!(check(Some(&opts(&[]))).is_ok());
        assert_eq!(
            check(Some(&opts(&[("size", "10M")])))
                .unwrap_err()
                .to_string(),
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"
        );
        assert_eq!(
            check(Some(&opts(&[("Foo", "bar")])))
                .unwrap_err()
                .to_string(),
            "Unknown option foo"
        );
    }
}

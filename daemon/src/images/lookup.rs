//! Resolving what a user typed — "busybox", "busybox:1", "127.0.0.1:5000/x@sha256:…",
//! a full or short image ID — to an image record, the way dockerd does
//! (moby `daemon/images/image.go`, `getImage`):
//!
//! 1. `sha256:<64 hex>` or a bare 64-hex string is an ID: that record or "not found".
//! 2. Anything else must parse as a reference (else 400 "invalid reference format").
//!    Its normalised form — `latest` added when it has neither tag nor digest; only the
//!    digest kept when it has both — is looked up in the reference table.
//! 3. Failing that, the text is tried as an ID prefix ("2f4c", "sha256:2f4c").
//!    An ambiguous prefix is "not found", as in dockerd.
//!
//! "Not found" names the reference as dockerd prints it: familiar, with `:latest` added
//! when no tag or digest was given ("No such image: foo:latest").
use crate::reference::{is_full_hex_id, Reference};
use crate::state::Daemon;
use crate::store::images::{ImageRecord, ImageStore};

use super::ImageError;

/// What a name the user typed is, before any store lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedName {
    /// A full image ID, always "sha256:<hex>".
    Id(String),
    /// A reference, normalised for lookup (tag defaulted; digest preferred over tag).
    Reference(Reference),
}

/// Classifies `name` as dockerd's `reference.ParseAnyReference` does.
pub fn parse_name(name: &str) -> Result<ParsedName, ImageError> {
    if is_full_hex_id(name) {
        return Ok(ParsedName::Id(format!("sha256:{name}")));
    }
    if let Some(hex) = name.strip_prefix("sha256:") {
        if is_full_hex_id(hex) {
            return Ok(ParsedName::Id(name.to_string()));
        }
    }
    let mut reference = Reference::parse_with_default_tag(name)?;
    if reference.digest.is_some() {
        reference.tag = None;
    }
    Ok(ParsedName::Reference(reference))
}

/// The text of dockerd's "No such image: …" for `name`.
pub fn not_found_name(name: &str) -> String {
    match parse_name(name) {
        Ok(ParsedName::Id(id)) => id,
        Ok(ParsedName::Reference(_)) => match Reference::parse_with_default_tag(name) {
            Ok(r) => r.familiar(),
            Err(_) => name.to_string(),
        },
        Err(_) => name.to_string(),
    }
}

/// Finds the image `name` refers to: a reference (tag or digest, normalised, `latest`
/// added when neither is given), else a full ID ("sha256:<hex>" or "<hex>"), else an
/// unambiguous ID prefix. Unknown → `ImageError::NotFound` with dockerd's wording;
/// a name that is neither an ID nor a valid reference → `ImageError::Reference` (400).
pub fn resolve_image(daemon: &Daemon, name: &str) -> Result<ImageRecord, ImageError> {
    resolve_in(&daemon.images, name)
}

/// `resolve_image` on an image store alone (what the tests use).
pub fn resolve_in(images: &ImageStore, name: &str) -> Result<ImageRecord, ImageError> {
    let not_found = || ImageError::NotFound(not_found_name(name));
    match parse_name(name)? {
        ParsedName::Id(id) => images.get(&id).ok_or_else(not_found),
        ParsedName::Reference(reference) => {
            if let Some(record) = images
                .lookup_ref(&reference.to_string())
                .and_then(|id| images.get(&id))
            {
                return Ok(record);
            }
            match images.resolve_id_prefix(name) {
                Ok(Some(id)) => images.get(&id).ok_or_else(not_found),
                Ok(None) => Err(not_found()),
                Err(e) => {
                    tracing::debug!(name, error = %e, "image ID prefix did not resolve");
                    Err(not_found())
                }
            }
        }
    }
}

/// The ID `name` resolves to now, as [`resolve_in`] finds it but without copying the
/// record; None when it resolves to nothing (or does not parse).
pub fn resolve_id(images: &ImageStore, name: &str) -> Option<String> {
    match parse_name(name).ok()? {
        ParsedName::Id(id) => images.contains(&id).then_some(id),
        ParsedName::Reference(reference) => images
            .lookup_ref(&reference.to_string())
            .filter(|id| images.contains(id))
            .or_else(|| images.resolve_id_prefix(name).ok().flatten()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::testutil::{ImageSpec, TestStores};

    const T: &str = "2024-01-01T00:00:00Z";

    #[test]
    fn resolves_tags_with_default_latest_and_normalisation() {
        let s = TestStores::new();
        let img = s.add(
            ImageSpec::new("a", T).refs(&["busybox:latest", "127.0.0.1:5000/berth/busybox:v1"]),
        );
        for name in [
            "busybox",
            "busybox:latest",
            "docker.io/library/busybox",
            "library/busybox:latest",
            "127.0.0.1:5000/berth/busybox:v1",
        ] {
            assert_eq!(resolve_in(&s.images, name).unwrap().id, img.id, "{name}");
        }
        assert_eq!(
            resolve_in(&s.images, "busybox:1").unwrap_err().to_string(),
            "No such image: busybox:1"
        );
        assert_eq!(
            resolve_in(&s.images, "127.0.0.1:5000/berth/busybox")
                .unwrap_err()
                .to_string(),
            "No such image: 127.0.0.1:5000/berth/busybox:latest"
        );
        assert!(matches!(
            resolve_in(&s.images, "Bad:Name"),
            Err(ImageError::Reference(_))
        ));
    }

    #[test]
    fn resolves_digest_references() {
        let s = TestStores::new();
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let img =
            s.add(ImageSpec::new("a", T).refs(&[&format!("127.0.0.1:5000/berth/busybox@{d}")]));
        assert_eq!(
            resolve_in(&s.images, &format!("127.0.0.1:5000/berth/busybox@{d}"))
                .unwrap()
                .id,
            img.id
        );
        // Tag and digest: only the digest counts.
        assert_eq!(
            resolve_in(
                &s.images,
                &format!("127.0.0.1:5000/berth/busybox:whatever@{d}")
            )
            .unwrap()
            .id,
            img.id
        );
        assert!(resolve_in(&s.images, &format!("other@{d}")).is_err());
    }

    #[test]
    fn resolves_full_and_short_ids() {
        let s = TestStores::new();
        let img = s.add(ImageSpec::new("a", T));
        let hex = &img.id[7..];
        assert_eq!(resolve_in(&s.images, &img.id).unwrap().id, img.id);
        assert_eq!(resolve_in(&s.images, hex).unwrap().id, img.id);
        assert_eq!(resolve_in(&s.images, &hex[..12]).unwrap().id, img.id);
        assert_eq!(
            resolve_in(&s.images, &format!("sha256:{}", &hex[..12]))
                .unwrap()
                .id,
            img.id
        );
        let missing = format!("sha256:{}", "f".repeat(64));
        if missing != img.id {
            assert_eq!(
                resolve_in(&s.images, &missing).unwrap_err().to_string(),
                format!("No such image: {missing}")
            );
        }
    }

    #[test]
    fn a_tag_wins_over_an_id_prefix_and_ambiguous_prefixes_are_not_found() {
        let s = TestStores::new();
        let mut imgs = Vec::new();
        for i in 0..40 {
            imgs.push(s.add(ImageSpec::new(&format!("seed{i}"), T)));
        }
        // Two IDs sharing a first hex digit: that digit alone is ambiguous.
        let (a, b) = imgs
            .iter()
            .flat_map(|a| imgs.iter().map(move |b| (a, b)))
            .find(|(a, b)| a.id != b.id && a.id[7..8] == b.id[7..8])
            .expect("40 random IDs share a first digit");
        let prefix = &a.id[7..8];
        assert_eq!(
            resolve_in(&s.images, prefix).unwrap_err().to_string(),
            format!("No such image: {prefix}:latest")
        );
        // A tag named like the prefix resolves to the tagged image.
        s.images
            .set_ref(
                &Reference::parse_with_default_tag(prefix)
                    .unwrap()
                    .to_string(),
                &b.id,
            )
            .unwrap();
        assert_eq!(resolve_in(&s.images, prefix).unwrap().id, b.id);
    }
}

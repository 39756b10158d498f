//! `POST /images/{name}/tag?repo=…&tag=…` (moby API router `postImagesTag`,
//! `httputils.RepoTagReference`, `daemon/images/image_tag.go`). Moving a tag from
//! another image leaves that image without it (dangling when it was its last).
use crate::reference::{is_full_hex_id, Reference, ReferenceError, DEFAULT_TAG};
use crate::store::images::ImageStore;

use super::lookup::resolve_in;
use super::RequestError;

/// What a tag request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagOutcome {
    /// The reference now points at the image.
    Tagged {
        image_id: String,
        reference: Reference,
    },
    /// `repo` was empty: dockerd does nothing and answers 200 with no body.
    NothingToDo,
}

/// The reference `repo` + `tag` make, as dockerd's `RepoTagReference`; `None` when `repo` is empty.
pub fn tag_reference(repo: &str, tag: &str) -> Result<Option<Reference>, RequestError> {
    if repo.is_empty() {
        return Ok(None);
    }
    if is_full_hex_id(repo) {
        return Err(ReferenceError::HexName(repo.to_string()).into());
    }
    let parsed = Reference::parse(repo)?;
    if parsed.digest.is_some() {
        return Err(RequestError::InvalidParameter(
            "cannot import digest reference".into(),
        ));
    }
    let reference = if !tag.is_empty() {
        if !is_valid_tag(tag) {
            return Err(RequestError::InvalidParameter("invalid tag format".into()));
        }
        parsed.with_tag(tag)
    } else if parsed.tag.is_some() {
        parsed
    } else {
        parsed.with_tag(DEFAULT_TAG)
    };
    if reference.familiar_name() == "sha256" {
        return Err(RequestError::InvalidParameter(
            "refusing to create an ambiguous tag using digest algorithm as name".into(),
        ));
    }
    Ok(Some(reference))
}

/// Tags the image `name` as `repo:tag`.
pub fn tag_image(
    images: &ImageStore,
    name: &str,
    repo: &str,
    tag: &str,
) -> Result<TagOutcome, RequestError> {
    let Some(reference) = tag_reference(repo, tag)? else {
        return Ok(TagOutcome::NothingToDo);
    };
    // dockerd answers 404 for any failure to find the source, with the error's own text.
    let record = resolve_in(images, name).map_err(|e| RequestError::NotFound(e.to_string()))?;
    let previous = images.set_ref(&reference.to_string(), &record.id)?;
    images.touch_tag_time(&record.id)?;
    if let Some(previous) = previous.filter(|p| *p != record.id) {
        tracing::info!(reference = %reference.familiar(), from = %previous, to = %record.id, "tag moved to another image");
    }
    Ok(TagOutcome::Tagged {
        image_id: record.id,
        reference,
    })
}

/// `[\w][\w.-]{0,127}`
fn is_valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::testutil::{ImageSpec, TestStores};

    #[test]
    fn builds_references_like_dockerd() {
        let r = |repo: &str, tag: &str| tag_reference(repo, tag).map(|o| o.map(|r| r.to_string()));
        assert_eq!(
            r("busybox", "").unwrap().as_deref(),
            Some("docker.io/library/busybox:latest")
        );
        assert_eq!(
            r("busybox:1", "").unwrap().as_deref(),
            Some("docker.io/library/busybox:1")
        );
        assert_eq!(
            r("busybox:1", "2").unwrap().as_deref(),
            Some("docker.io/library/busybox:2")
        );
        assert_eq!(r("", "x").unwrap(), None);
        assert_eq!(
            r("Busybox", "").unwrap_err().to_string(),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert_eq!(
            r("busybox", "-bad").unwrap_err().to_string(),
            "invalid tag format"
        );
        assert_eq!(
            r("sha256", "x").unwrap_err().to_string(),
            "refusing to create an ambiguous tag using digest algorithm as name"
        );
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            r(&format!("busybox@{d}"), "").unwrap_err().to_string(),
            "cannot import digest reference"
        );
    }

    #[test]
    fn moving_a_tag_leaves_the_old_image_untagged() {
        let s = TestStores::new();
        let a = s.add(ImageSpec::new("a", "2024-01-01T00:00:00Z").refs(&["app:1"]));
        let b = s.add(ImageSpec::new("b", "2024-01-02T00:00:00Z").refs(&["other:1"]));
        tag_image(&s.images, "other:1", "app", "1").unwrap();
        assert_eq!(s.id_of("app:1"), Some(b.id.clone()));
        assert!(s.images.refs_of(&a.id).is_empty());
        assert!(s.images.get(&b.id).unwrap().last_tag_time.is_some());
        let err = tag_image(&s.images, "nope", "app", "2").unwrap_err();
        assert!(matches!(err, RequestError::NotFound(ref m) if m == "No such image: nope:latest"));
    }
}

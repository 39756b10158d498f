//! An image's references (stored normalised) as dockerd shows them: tags and digests,
//! in familiar form ("busybox:latest", "127.0.0.1:5000/x@sha256:…"), in the order of
//! the reference table (sorted by the normalised string, like dockerd's `lexicalRefs`).
use crate::reference::Reference;
use crate::store::images::ImageStore;

/// The parsed references of one image.
#[derive(Debug, Clone, Default)]
pub struct ImageRefs {
    /// Every reference, parsed, in table order.
    pub all: Vec<Reference>,
}

impl ImageRefs {
    /// Loads the references pointing at `id`; unparsable entries are skipped with a warning.
    pub fn of(images: &ImageStore, id: &str) -> ImageRefs {
        let all = images
            .refs_of(id)
            .into_iter()
            .filter_map(|r| match Reference::parse(&r) {
                Ok(parsed) => Some(parsed),
                Err(e) => {
                    tracing::warn!(reference = %r, error = %e, "skipping unparsable stored reference");
                    None
                }
            })
            .collect();
        ImageRefs { all }
    }

    /// Familiar tag references ("busybox:latest"): those with a tag.
    pub fn tags(&self) -> Vec<String> {
        self.all
            .iter()
            .filter(|r| is_tagged(r))
            .map(Reference::familiar)
            .collect()
    }

    /// Familiar digest references ("busybox@sha256:…").
    pub fn digests(&self) -> Vec<String> {
        self.all
            .iter()
            .filter(|r| r.digest.is_some())
            .map(Reference::familiar)
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    pub fn has_tag(&self) -> bool {
        self.all.iter().any(is_tagged)
    }
}

/// dockerd's `NamedTagged`: a tag and no digest (a reference with both counts as a digest).
pub fn is_tagged(r: &Reference) -> bool {
    r.tag.is_some() && r.digest.is_none()
}

/// dockerd's `isSingleReference`: all references are from one repository and there is
/// at most one tag. False for none.
pub fn is_single_reference(refs: &[Reference]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let mut single: Option<&Reference> = None;
    let mut canonical_names = std::collections::BTreeSet::new();
    for r in refs {
        if r.digest.is_some() {
            canonical_names.insert(r.name());
        } else if single.is_none() {
            single = Some(r);
        } else {
            return false;
        }
    }
    let single = single.unwrap_or(&refs[0]);
    canonical_names.len() == 1 && canonical_names.contains(&single.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Reference {
        Reference::parse(s).expect("valid reference")
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn single_reference_rules() {
        assert!(!is_single_reference(&[]));
        assert!(is_single_reference(&[r("busybox:latest")]));
        assert!(is_single_reference(&[
            r("busybox:latest"),
            r(&format!("busybox@{D}"))
        ]));
        assert!(!is_single_reference(&[r("busybox:latest"), r("busybox:1")]));
        assert!(!is_single_reference(&[
            r("busybox:latest"),
            r(&format!("other@{D}"))
        ]));
    }
}

//! Which images, and under which tags, a list of names given to `docker save` means —
//! moby's `tarexporter.parseNames`:
//!
//! - an ID (`sha256:<hex>`, 64 hex, or a prefix) saves the image without a tag;
//! - a name with a tag saves that tag ("reference does not exist" when unknown);
//! - a name with a digest saves the image without a tag;
//! - a bare name saves every tag of that repository, or else is tried as an ID prefix.
use crate::images::lookup::{parse_name, ParsedName};
use crate::reference::Reference;
use crate::store::images::ImageStore;

use super::{ArchiveError, ArchiveResult};

/// An image to save, with the tags it is saved under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub id: String,
    pub tags: Vec<Reference>,
}

/// The images `names` mean, each once, in the order they were first named.
pub fn select(images: &ImageStore, names: &[String]) -> ArchiveResult<Vec<Selected>> {
    let mut selected: Vec<Selected> = Vec::new();
    let mut add = |id: String, tag: Option<Reference>| {
        let index = match selected.iter().position(|s| s.id == id) {
            Some(i) => i,
            None => {
                selected.push(Selected {
                    id,
                    tags: Vec::new(),
                });
                selected.len() - 1
            }
        };
        if let Some(tag) = tag {
            if !selected[index].tags.contains(&tag) {
                selected[index].tags.push(tag);
            }
        }
    };
    for name in names {
        let no_such = || ArchiveError::NotFound(format!("No such image: {name}"));
        let by_prefix = || -> ArchiveResult<String> {
            match images.resolve_id_prefix(name) {
                Ok(Some(id)) => Ok(id),
                _ => Err(no_such()),
            }
        };
        if let ParsedName::Id(id) =
            parse_name(name).map_err(|e| ArchiveError::InvalidParameter(e.to_string()))?
        {
            images.get(&id).ok_or_else(no_such)?;
            add(id, None);
            continue;
        }
        let reference =
            Reference::parse(name).map_err(|e| ArchiveError::InvalidParameter(e.to_string()))?;
        if reference.familiar_name() == "sha256" {
            add(by_prefix()?, None);
            continue;
        }
        if reference.tag.is_none() && reference.digest.is_none() {
            let repository = reference.name();
            let mut found = false;
            for (stored, id) in images.references() {
                let Ok(stored) = Reference::parse(&stored) else {
                    continue;
                };
                if stored.name() != repository {
                    continue;
                }
                found = true;
                let tag = stored
                    .tag
                    .is_some()
                    .then_some(stored)
                    .filter(|s| s.digest.is_none());
                add(id, tag);
            }
            if !found {
                add(by_prefix()?, None);
            }
            continue;
        }
        let id = images
            .lookup_ref(&reference.to_string())
            .ok_or_else(|| ArchiveError::NotFound("reference does not exist".to_string()))?;
        let tag = reference.digest.is_none().then_some(reference);
        add(id, tag);
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::testutil::{ImageSpec, TestStores};

    const T: &str = "2024-01-01T00:00:00Z";

    fn tags(s: &Selected) -> Vec<String> {
        s.tags.iter().map(Reference::familiar).collect()
    }

    #[test]
    fn names_select_images_as_dockerd_does() {
        let s = TestStores::new();
        let a = s.add(ImageSpec::new("a", T).refs(&["busybox:latest", "busybox:v1"]));
        let b = s.add(ImageSpec::new("b", T).refs(&["other:1"]));
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();

        let all = select(&s.images, &names(&["busybox"])).expect("bare name");
        assert_eq!(all.len(), 1);
        assert_eq!(tags(&all[0]), vec!["busybox:latest", "busybox:v1"]);

        let two = select(&s.images, &names(&["busybox:v1", "other:1", &b.id])).expect("two");
        assert_eq!(two.len(), 2);
        assert_eq!(
            (two[0].id.as_str(), tags(&two[0])),
            (a.id.as_str(), vec!["busybox:v1".to_string()])
        );
        assert_eq!(tags(&two[1]), vec!["other:1"]);

        let by_id = select(&s.images, &names(&[&a.id])).expect("id");
        assert!(by_id[0].tags.is_empty());
        let short = &a.id["sha256:".len().."sha256:".len() + 12];
        assert_eq!(
            select(&s.images, &names(&[short])).expect("prefix")[0].id,
            a.id
        );

        let err = select(&s.images, &names(&["busybox:nope"])).expect_err("unknown tag");
        assert_eq!(err.to_string(), "reference does not exist");
        let err = select(&s.images, &names(&["nosuch"])).expect_err("unknown name");
        assert_eq!(err.to_string(), "No such image: nosuch");
        let err = select(&s.images, &names(&["Bad_Name"])).expect_err("bad name");
        assert!(matches!(err, ArchiveError::InvalidParameter(_)), "{err}");
        assert!(select(&s.images, &[]).expect("none").is_empty());
    }
}

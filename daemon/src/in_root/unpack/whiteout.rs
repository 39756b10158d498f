//! AUFS-style whiteouts in layer tars, converted to overlayfs's format:
//! - `.wh.NAME` (NAME deleted)         → a 0/0 character device named NAME;
//! - `DIR/.wh..wh..opq` (DIR opaque)   → xattr `trusted.overlay.opaque=y` on DIR;
//! - other `.wh..wh.*` (AUFS metadata) → ignored.
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

pub(super) const WHITEOUT_PREFIX: &[u8] = b".wh.";
const META_PREFIX: &[u8] = b".wh..wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
pub(super) const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What a whiteout-named entry means.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Whiteout<'a> {
    /// Not a whiteout: an ordinary entry.
    None,
    /// The directory holding the marker hides everything below it in lower layers.
    Opaque,
    /// This name (in the same directory) is deleted.
    Deleted(&'a OsStr),
    /// AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): nothing to do.
    Ignored,
}

pub(super) fn classify(name: &OsStr) -> Whiteout<'_> {
    let bytes = name.as_bytes();
    if bytes == OPAQUE_MARKER {
        Whiteout::Opaque
    } else if bytes.starts_with(META_PREFIX) {
        Whiteout::Ignored
    } else if let Some(deleted) = bytes.strip_prefix(WHITEOUT_PREFIX) {
        if deleted.is_empty() || deleted == b"." || deleted == b".." {
            Whiteout::Ignored
        } else {
            Whiteout::Deleted(OsStr::from_bytes(deleted))
        }
    } else {
        Whiteout::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified() {
        assert_eq!(classify(OsStr::new("file")), Whiteout::None);
        assert_eq!(classify(OsStr::new(".whatever")), Whiteout::None);
        assert_eq!(
            classify(OsStr::new(".wh.file")),
            Whiteout::Deleted(OsStr::new("file"))
        );
        assert_eq!(classify(OsStr::new(".wh..wh..opq")), Whiteout::Opaque);
        assert_eq!(classify(OsStr::new(".wh..wh.plnk")), Whiteout::Ignored);
        assert_eq!(classify(OsStr::new(".wh...")), Whiteout::Ignored);
        assert_eq!(classify(OsStr::new(".wh.")), Whiteout::Ignored);
    }
}

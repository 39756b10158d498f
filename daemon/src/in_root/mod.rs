//! Everything Berth reads or writes inside a root it does not trust — a container's
//! filesystem, an image layer, a build context — goes through this module, by handle,
//! never by a path string the container could have changed (DESIGN.md, Security;
//! CVE-2018-15664 and its kin):
//! - [`resolve`]: a path resolved as the container sees it (moby's
//!   `FollowSymlinkInScope`), folders created on the way (WORKDIR, `docker cp` into a
//!   container, the builder's COPY), with a container's mounts mapped in;
//! - [`walk`]: a folder listed through its descriptor, each entry opened relative to it
//!   with `O_NOFOLLOW`, pseudo-filesystems never entered;
//! - [`tar_out`]: a folder written as a tar from those handles (`docker cp` out,
//!   `docker export`, the layer of `docker commit`);
//! - [`unpack`]: a layer tar written into a folder, no entry leaving it;
//! - [`copy`]: a folder copied into another (a new volume's copy-up);
//! - [`file`]: one regular file of a root opened for reading (`/etc/passwd`).
//!
//! Reopening a handle as a readable file goes through libpathrs (`pathrs`), which does
//! it through a private procfs handle; the runtime uses the same crate to make mount
//! points. The walkers here are our own: they carry a container's mounts (volumes,
//! binds) and dockerd's `MkdirAll`-through-a-dangling-symlink semantics, which
//! libpathrs's `Root` does not express.
pub mod copy;
pub mod file;
pub mod resolve;
pub mod tar_out;
pub mod unpack;
pub mod walk;

pub use resolve::{components, fd_path, is_dir, is_symlink, InRoot, Resolved, ResolvedParent};

/// A libpathrs error as an `io::Error` with its errno where it has one.
pub(crate) fn io_error(e: pathrs::error::Error) -> std::io::Error {
    match e.kind() {
        pathrs::error::ErrorKind::OsError(Some(errno)) => std::io::Error::from_raw_os_error(errno),
        _ => std::io::Error::other(e.to_string()),
    }
}

/// A tar reading error as Go's `archive/tar` words it, for dockerd's messages: a body
/// cut short (or no tar at all, shorter than a header) is "unexpected EOF", a block that
/// is no header "archive/tar: invalid tar header".
pub fn go_tar_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    if e.kind() == std::io::ErrorKind::UnexpectedEof
        || text.contains("failed to read entire block")
        || text.contains("unexpected EOF")
    {
        "unexpected EOF".into()
    } else if text.contains("checksum") || text.contains("numeric field") {
        "archive/tar: invalid tar header".into()
    } else {
        text
    }
}

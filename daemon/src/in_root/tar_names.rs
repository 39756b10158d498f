//! Tar entries whose names are written byte for byte as given. `tar::Builder` makes every
//! name relative and drops "." components and a folder's trailing "/"; dockerd's `docker
//! cp` names are not so: "/" and "/bin/" for `C:/`, "./group" for `C:/etc/.`, "d/" for a
//! folder (Go's `archive.TarWithOptions` with its rebase, `canonicalTarName`). A name or
//! link target longer than the header's 100 bytes is preceded by a GNU `././@LongLink`
//! entry, as GNU tar and Go's writer do.
use std::io::{self, Read, Write};

use tar::{EntryType, Header};

/// The header's name field (and link field) holds `value`, cut to 100 bytes.
fn fill(field: &mut [u8; 100], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
    field[n..].fill(0);
}

/// The GNU extension entry carrying a long name or link target.
fn long_link<W: Write>(b: &mut tar::Builder<W>, kind: EntryType, value: &[u8]) -> io::Result<()> {
    let mut h = Header::new_gnu();
    fill(&mut h.as_old_mut().name, b"././@LongLink");
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(value.len() as u64 + 1);
    h.set_entry_type(kind);
    h.set_cksum();
    b.append(&h, value.chain(&[0u8][..]))
}

/// Appends `header` (its other fields set) named `name`, linking to `link` when given.
pub fn append<W: Write>(
    b: &mut tar::Builder<W>,
    header: &mut Header,
    name: &[u8],
    link: Option<&[u8]>,
    data: impl Read,
) -> io::Result<()> {
    if name.len() > 100 {
        long_link(b, EntryType::GNULongName, name)?;
    }
    if let Some(l) = link.filter(|l| l.len() > 100) {
        long_link(b, EntryType::GNULongLink, l)?;
    }
    fill(&mut header.as_old_mut().name, name);
    fill(&mut header.as_old_mut().linkname, link.unwrap_or_default());
    header.set_cksum();
    b.append(header, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(bytes: &[u8]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let mut archive = tar::Archive::new(bytes);
        archive
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                let link = e.link_name_bytes().map(|l| l.into_owned());
                (e.path_bytes().into_owned(), link)
            })
            .collect()
    }

    #[test]
    fn names_stay_as_given_long_ones_too() {
        let mut b = tar::Builder::new(Vec::new());
        let long = format!("/{}/file", "d".repeat(150));
        let mut dir = Header::new_gnu();
        dir.set_entry_type(EntryType::Directory);
        dir.set_size(0);
        append(&mut b, &mut dir, b"/", None, io::empty()).expect("root");
        let mut file = Header::new_gnu();
        file.set_size(2);
        append(&mut b, &mut file, b"./group", None, &b"x\n"[..]).expect("file");
        let mut link = Header::new_gnu();
        link.set_entry_type(EntryType::Link);
        link.set_size(0);
        append(
            &mut b,
            &mut link,
            long.as_bytes(),
            Some(long.as_bytes()),
            io::empty(),
        )
        .expect("long");
        let bytes = b.into_inner().expect("tar");
        let seen = names(&bytes);
        assert_eq!(seen[0], (b"/".to_vec(), None));
        assert_eq!(seen[1], (b"./group".to_vec(), None));
        assert_eq!(
            seen[2],
            (long.as_bytes().to_vec(), Some(long.as_bytes().to_vec()))
        );
    }
}

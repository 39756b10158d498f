//! `--chown=user[:group]` as dockerd 20.10's `parseChownFlag`: numbers are taken as they
//! are (Go's `strconv.Atoi`), names are looked up in the destination root's /etc/passwd
//! and /etc/group (symlinks resolved inside that root); a missing group is the user's
//! text. Errors are dockerd's texts.
use std::io::Read;

use nix::errno::Errno;

use crate::in_root::{fd_path, InRoot};

/// The prefix dockerd puts before every --chown error.
const PREFIX: &str = "unable to convert uid/gid chown string to host mapping";

/// The uid and gid `chown` names in the root `fs`.
pub fn resolve(fs: &InRoot, chown: &str) -> Result<(u32, u32), String> {
    let parts: Vec<&str> = chown.split(':').collect();
    let (user, group) = match parts.as_slice() {
        [user] => (*user, *user),
        [user, group] => (*user, *group),
        _ => return Err(format!("{PREFIX}: invalid chown string format: {chown}")),
    };
    let uid = lookup(fs, "/etc/passwd", user)
        .map_err(|e| format!("{PREFIX}: can't find uid for user {user}: {e}"))?;
    let gid = lookup(fs, "/etc/group", group)
        .map_err(|e| format!("{PREFIX}: can't find gid for group {group}: {e}"))?;
    Ok((uid, gid))
}

/// The id of `name` (a number, or a name in `file`: 3rd field of its line).
fn lookup(fs: &InRoot, file: &str, name: &str) -> Result<u32, String> {
    if let Some(id) = go_atoi(name) {
        // Go passes the int to lchown, which takes the low 32 bits (-1: unchanged).
        return Ok(id as u32);
    }
    let text = read(fs, file)?;
    let kind = if file.ends_with("passwd") {
        "user"
    } else {
        "group"
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || (kind == "group" && line.starts_with('#')) {
            continue;
        }
        let fields: Vec<&str> = line.split(':').collect();
        if fields.first() == Some(&name) {
            return Ok(fields
                .get(2)
                .and_then(|id| go_atoi(id))
                .map(|id| id as u32)
                .unwrap_or(0));
        }
    }
    Err(format!("no such {kind}: {name}"))
}

fn read(fs: &InRoot, file: &str) -> Result<String, String> {
    let resolved = fs.resolve(file, true).map_err(|e| match e {
        Errno::ENOENT => format!("open {file}: no such file or directory"),
        other => format!("open {file}: {}", std::io::Error::from(other)),
    })?;
    let mut bytes = Vec::new();
    std::fs::File::open(fd_path(&resolved.fd))
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| format!("read {file}: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Go's `strconv.Atoi` on 64 bits: an optional sign and decimal digits.
fn go_atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, InRoot) {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("etc")).expect("etc");
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .expect("passwd");
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\n# staff:x:1:\nusers:x:100:app\napp:x:1000:\n",
        )
        .expect("group");
        let fs = InRoot::from_dir(dir.path(), &[]).expect("fs");
        (dir, fs)
    }

    #[test]
    fn names_and_numbers() {
        let (_dir, fs) = root();
        assert_eq!(resolve(&fs, "app"), Ok((1000, 1000)));
        assert_eq!(resolve(&fs, "app:users"), Ok((1000, 100)));
        assert_eq!(resolve(&fs, "1000:100"), Ok((1000, 100)));
        assert_eq!(resolve(&fs, "5"), Ok((5, 5)));
        assert_eq!(resolve(&fs, "+7:root"), Ok((7, 0)));
        assert_eq!(resolve(&fs, "-1"), Ok((u32::MAX, u32::MAX)));
    }

    #[test]
    fn dockerd_messages() {
        let (_dir, fs) = root();
        let prefix = "unable to convert uid/gid chown string to host mapping";
        assert_eq!(
            resolve(&fs, "nouser"),
            Err(format!(
                "{prefix}: can't find uid for user nouser: no such user: nouser"
            ))
        );
        assert_eq!(
            resolve(&fs, "0:zzgroup"),
            Err(format!(
                "{prefix}: can't find gid for group zzgroup: no such group: zzgroup"
            ))
        );
        assert_eq!(
            resolve(&fs, "0:staff"),
            Err(format!(
                "{prefix}: can't find gid for group staff: no such group: staff"
            )),
            "comments are not groups"
        );
        assert_eq!(
            resolve(&fs, "a:b:c"),
            Err(format!("{prefix}: invalid chown string format: a:b:c"))
        );
        assert_eq!(
            resolve(&fs, ":5"),
            Err(format!(
                "{prefix}: can't find uid for user : no such user: "
            ))
        );
    }

    #[test]
    fn files_resolve_inside_the_root() {
        let (dir, fs) = root();
        let host = tempfile::tempdir().expect("host");
        std::fs::write(host.path().join("passwd"), "evil:x:666:666::/:/bin/sh\n").expect("w");
        std::fs::remove_file(dir.path().join("etc/passwd")).expect("rm");
        std::os::unix::fs::symlink(host.path().join("passwd"), dir.path().join("etc/passwd"))
            .expect("ln");
        let err = resolve(&fs, "evil").expect_err("outside");
        assert!(err.ends_with("no such file or directory"), "{err}");
        let empty = tempfile::tempdir().expect("empty");
        let fs = InRoot::from_dir(empty.path(), &[]).expect("fs");
        assert_eq!(resolve(&fs, "0:0"), Ok((0, 0)));
        assert!(resolve(&fs, "app").is_err());
    }
}

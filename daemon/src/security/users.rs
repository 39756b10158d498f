//! Resolving Config.User and HostConfig.GroupAdd against the image's
//! /etc/passwd and /etc/group, as Docker does when a container starts
//! (moby/sys/user's GetExecUser and GetAdditionalGroups, called from
//! dockerd's getUser), and the HOME runc gives a process whose environment
//! has none.

use std::io::Read;
use std::path::Path;

use super::SecurityError;

/// The identity a container's process runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// What goes in the OCI spec's `process.user.additionalGids`, as dockerd
    /// builds it: the primary gid first, then the user's groups from
    /// /etc/group, then GroupAdd (without repeats).
    pub additional_gids: Vec<u32>,
    /// HOME for a process whose environment has none, as runc sets it: the
    /// home of the uid's /etc/passwd entry, or "/" when there is none.
    /// Always `Some`.
    pub home: Option<String>,
}

/// The largest uid or gid Docker accepts (for 32-bit systems' sake).
const MAX_ID: i64 = (1 << 31) - 1;
/// User database files larger than this are refused, as moby/sys/user does.
const MAX_USER_FILE_BYTES: u64 = 10 << 20;

/// One /etc/passwd line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PasswdEntry {
    name: String,
    uid: i64,
    gid: i64,
    home: String,
}

/// One /etc/group line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct GroupEntry {
    name: String,
    gid: i64,
    members: Vec<String>,
}

/// Resolves `user` ("", "name", "uid", "name:group", "uid:gid", "name:gid",
/// "uid:group") and the extra groups `group_add` (names or numbers) inside
/// the container root `rootfs`. Symlinks in the image resolve inside
/// `rootfs`. A missing or unreadable /etc/passwd or /etc/group counts as an
/// empty one, as in Docker.
pub fn resolve(
    rootfs: &Path,
    user: &str,
    group_add: &[String],
) -> Result<ResolvedUser, SecurityError> {
    let passwd = read_user_file(rootfs, "/etc/passwd")?.map(|t| parse_passwd(&t));
    let group = read_user_file(rootfs, "/etc/group")?.map(|t| parse_group(&t));
    resolve_with(passwd.as_deref(), group.as_deref(), user, group_add)
}

/// The content of a user database file, `None` when it is missing or not a
/// regular file.
fn read_user_file(rootfs: &Path, path: &str) -> Result<Option<String>, SecurityError> {
    let file = match crate::in_root::file::open_regular(rootfs, path) {
        Ok(Some(file)) => file,
        Ok(None) => return Ok(None),
        Err(e) => return Err(SecurityError::Io(format!("open {path}"), e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_USER_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| SecurityError::Io(format!("read {path}"), e))?;
    if bytes.len() as u64 > MAX_USER_FILE_BYTES {
        return Err(SecurityError::Failed(format!(
            "read {path}: file exceeds {MAX_USER_FILE_BYTES} bytes"
        )));
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let field = |i: usize| f.get(i).copied().unwrap_or("");
            PasswdEntry {
                name: field(0).to_string(),
                uid: go_atoi(field(2)),
                gid: go_atoi(field(3)),
                home: field(5).to_string(),
            }
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let field = |i: usize| f.get(i).copied().unwrap_or("");
            GroupEntry {
                name: field(0).to_string(),
                gid: go_atoi(field(2)),
                members: match field(3) {
                    "" => Vec::new(),
                    list => list.split(',').map(str::to_string).collect(),
                },
            }
        })
        .collect()
}

/// A number field of the user files; like Go's parseLine, junk reads as 0.
fn go_atoi(s: &str) -> i64 {
    s.parse().unwrap_or(0)
}

/// A user or group argument: `Some(id)` when it is a number.
fn parse_numeric(arg: &str) -> Result<Option<i64>, SecurityError> {
    if arg.is_empty() {
        return Ok(None);
    }
    match arg.parse::<i64>() {
        Ok(id) if (0..=MAX_ID).contains(&id) => Ok(Some(id)),
        Ok(_) => Err(range_error()),
        Err(e) => match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                Err(range_error())
            }
            _ => Ok(None),
        },
    }
}

fn range_error() -> SecurityError {
    SecurityError::Failed(format!("uids and gids must be in range 0-{MAX_ID}"))
}

fn no_user(name: &str) -> SecurityError {
    SecurityError::UnknownUser(format!(
        "unable to find user {name}: no matching entries in passwd file"
    ))
}

fn no_group(name: &str) -> SecurityError {
    SecurityError::UnknownUser(format!(
        "unable to find group {name}: no matching entries in group file"
    ))
}

fn resolve_with(
    passwd: Option<&[PasswdEntry]>,
    group: Option<&[GroupEntry]>,
    spec: &str,
    group_add: &[String],
) -> Result<ResolvedUser, SecurityError> {
    let mut parts = spec.split(':');
    let user_arg = parts.next().unwrap_or("");
    let group_arg = parts.next().unwrap_or("");
    let uid_arg = parse_numeric(user_arg)?;
    let gid_arg = parse_numeric(group_arg)?;

    let passwd = passwd.unwrap_or(&[]);
    let group = group.unwrap_or(&[]);
    let matched = passwd.iter().find(|u| match (user_arg, uid_arg) {
        ("", _) => u.uid == 0,
        (_, Some(uid)) => u.uid == uid,
        (name, None) => u.name == name,
    });
    let (mut uid, mut gid, matched_name) = match (matched, uid_arg) {
        (Some(u), _) => (u.uid, u.gid, Some(u.name.as_str())),
        (None, Some(uid)) => (uid, 0, None),
        (None, None) if user_arg.is_empty() => (0, 0, None),
        (None, None) => return Err(no_user(user_arg)),
    };

    let mut supplementary: Vec<i64> = Vec::new();
    if !group_arg.is_empty() {
        let found = group.iter().find(|g| match gid_arg {
            Some(id) => g.gid == id,
            None => g.name == group_arg,
        });
        gid = match (found, gid_arg) {
            (Some(g), _) => g.gid,
            (None, Some(id)) => id,
            (None, None) => return Err(no_group(group_arg)),
        };
    } else if let Some(name) = matched_name {
        supplementary = group
            .iter()
            .filter(|g| g.members.iter().any(|m| m == name))
            .map(|g| g.gid)
            .collect();
    }

    let mut added = Vec::new();
    for wanted in group_add {
        let id = parse_numeric(wanted)?;
        let found = group.iter().find(|g| match id {
            Some(id) => g.gid == id,
            None => &g.name == wanted,
        });
        added.push(match (found, id) {
            (Some(g), _) if !(0..=MAX_ID).contains(&g.gid) => return Err(range_error()),
            (Some(g), _) => g.gid,
            (None, Some(id)) => id,
            (None, None) => return Err(no_group(wanted)),
        });
    }

    // The OCI spec has 32-bit ids; entries of the image outside that range
    // wrap as dockerd's uint32 conversion does.
    uid = uid as u32 as i64;
    gid = gid as u32 as i64;
    let mut additional_gids: Vec<u32> = Vec::new();
    for g in std::iter::once(gid).chain(supplementary).chain(added) {
        let g = g as u32;
        if !additional_gids.contains(&g) {
            additional_gids.push(g);
        }
    }
    let home = passwd
        .iter()
        .find(|u| u.uid == uid)
        .map(|u| u.home.clone())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".to_string());
    Ok(ResolvedUser {
        uid: uid as u32,
        gid: gid as u32,
        additional_gids,
        home: Some(home),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        alice:x:1000:1000:Alice:/home/alice:/bin/sh\n\
        bob:x:1001:1001::/home/bob:/bin/sh\n\
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    const GROUP: &str = "root:x:0:\n\
        # a comment\n\
        wheel:x:10:root,alice\n\
        alice:x:1000:\n\
        bob:x:1001:\n\
        staff:x:50:alice,bob\n\
        nogroup:x:65534:\n";

    fn image() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("etc")).expect("mkdir");
        std::fs::write(dir.path().join("etc/passwd"), PASSWD).expect("passwd");
        std::fs::write(dir.path().join("etc/group"), GROUP).expect("group");
        dir
    }

    fn r(user: &str, add: &[&str]) -> Result<ResolvedUser, SecurityError> {
        let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
        resolve(image().path(), user, &add)
    }

    fn ok(user: &str, add: &[&str]) -> (u32, u32, Vec<u32>, String) {
        let u = r(user, add).expect(user);
        (u.uid, u.gid, u.additional_gids, u.home.unwrap_or_default())
    }

    // The expectations below are what dockerd 20.10 + runc printed with
    // `id` and `echo $HOME` for the same files.
    #[test]
    fn default_user_is_root_with_its_groups() {
        assert_eq!(ok("", &[]), (0, 0, vec![0, 10], "/root".into()));
        assert_eq!(ok("root", &[]), (0, 0, vec![0, 10], "/root".into()));
    }

    #[test]
    fn name_and_uid() {
        let alice = (1000, 1000, vec![1000, 10, 50], "/home/alice".to_string());
        assert_eq!(ok("alice", &[]), alice);
        assert_eq!(ok("1000", &[]), alice);
    }

    #[test]
    fn unknown_uid_is_allowed() {
        assert_eq!(ok("1234", &[]), (1234, 0, vec![0], "/".into()));
        assert_eq!(ok("1234:77", &[]), (1234, 77, vec![77], "/".into()));
    }

    #[test]
    fn explicit_group_drops_supplementary_groups() {
        assert_eq!(
            ok("alice:bob", &[]),
            (1000, 1001, vec![1001], "/home/alice".into())
        );
        assert_eq!(ok("alice:50", &[]).1, 50);
        assert_eq!(ok("1001:staff", &[]).1, 50);
        assert_eq!(ok("alice:4242", &[]).1, 4242);
    }

    #[test]
    fn group_add() {
        let (_, _, gids, _) = ok("bob", &["staff", "777", "wheel"]);
        assert_eq!(gids, vec![1001, 50, 777, 10]);
        let e = r("", &["nope"]).expect_err("nope");
        assert_eq!(
            e.to_string(),
            "unable to find group nope: no matching entries in group file"
        );
    }

    #[test]
    fn dockerd_errors() {
        let e = r("carol", &[]).expect_err("carol");
        assert_eq!(
            e.to_string(),
            "unable to find user carol: no matching entries in passwd file"
        );
        let e = r("alice:nogrp", &[]).expect_err("nogrp");
        assert_eq!(
            e.to_string(),
            "unable to find group nogrp: no matching entries in group file"
        );
        for bad in ["2147483648", "-1", "99999999999999999999", "0:2147483648"] {
            let e = r(bad, &[]).expect_err(bad);
            assert_eq!(e.to_string(), "uids and gids must be in range 0-2147483647");
        }
        assert!(r("", &["-5"]).is_err());
        assert_eq!(ok("2147483647", &[]).0, 2147483647);
    }

    #[test]
    fn missing_files() {
        let empty = tempfile::tempdir().expect("tmp");
        let u = resolve(empty.path(), "", &[]).expect("root");
        assert_eq!((u.uid, u.gid, u.home.as_deref()), (0, 0, Some("/")));
        let u = resolve(empty.path(), "5:6", &["7".into()]).expect("numeric");
        assert_eq!((u.uid, u.gid, u.additional_gids), (5, 6, vec![6, 7]));
        assert!(resolve(empty.path(), "alice", &[]).is_err());
    }

    #[test]
    fn passwd_symlinked_out_of_the_root_is_not_read() {
        let host = tempfile::tempdir().expect("tmp");
        std::fs::write(host.path().join("passwd"), "evil:x:0:0::/evil:/bin/sh\n").expect("w");
        let img = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(img.path().join("etc")).expect("mkdir");
        std::os::unix::fs::symlink(host.path().join("passwd"), img.path().join("etc/passwd"))
            .expect("ln");
        assert!(resolve(img.path(), "evil", &[]).is_err());
    }

    #[test]
    fn odd_lines() {
        let p = parse_passwd("  \n#c:x:5:5::/c:\nshort:x\n");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "#c");
        assert_eq!(p[1].uid, 0);
        let g = parse_group("g:x:9\n");
        assert_eq!((g[0].gid, g[0].members.len()), (9, 0));
    }
}

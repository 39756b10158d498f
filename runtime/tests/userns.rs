//! User namespaces: uid/gid maps, ownership of files made inside, what the
//! container's root cannot do on the host, exec and joining by path.
mod common;
use common::*;
use serde_json::json;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;

const HOST_ID: u32 = 100_000;

/// A bundle whose container root is host uid/gid 100000 (65536 ids mapped).
/// The rootfs stays owned by host root, as with runc; the bundle directory
/// must be searchable by the mapped root.
fn userns_bundle(args: &[&str]) -> Bundle {
    let mut b = Bundle::new(args);
    std::fs::set_permissions(b.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod bundle");
    b.edit(|c| {
        let map = json!([{"containerID": 0, "hostID": HOST_ID, "size": 65536}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(json!({"type": "user"}));
    });
    b
}

fn mkdir(p: &std::path::Path, mode: u32, owner: u32) {
    std::fs::create_dir_all(p).expect("mkdir");
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    std::os::unix::fs::chown(p, Some(owner), Some(owner)).expect("chown");
}

#[test]
fn root_inside_is_100000_outside() {
    for_each_runtime("userns", |rt, id| {
        let mut b = userns_bundle(&[
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; stat -c %u /bin/busybox; \
             touch /shared/made-inside && echo made; \
             echo x >> /hostonly/root-file 2>/dev/null && echo wrote-root-file; \
             touch /hostonly/new 2>/dev/null && echo created-in-root-dir; \
             chown 0 /hostonly/root-file 2>/dev/null && echo chowned; \
             mount -t tmpfs none /hostonly/private/sub 2>/dev/null && echo mounted-private; \
             mknod /dev/shm/null c 1 3 2>/dev/null && echo mknod-ok; \
             echo hi > /dev/null && head -c 3 /dev/zero | wc -c; echo end",
        ]);
        let host = b.dir.path().to_path_buf();
        mkdir(&host.join("shared"), 0o755, HOST_ID);
        mkdir(&host.join("hostonly/private/sub"), 0o755, 0);
        std::fs::set_permissions(
            host.join("hostonly/private"),
            std::fs::Permissions::from_mode(0o700),
        )
        .expect("chmod private");
        std::fs::write(host.join("hostonly/root-file"), "host\n").expect("root-file");
        for d in ["shared", "hostonly"] {
            std::fs::create_dir_all(host.join("rootfs").join(d)).expect("mount point");
        }
        b.edit(|c| {
            let m = c["mounts"].as_array_mut().expect("mounts");
            for d in ["shared", "hostonly"] {
                m.push(json!({"destination": format!("/{d}"), "type": "bind",
                    "source": host.join(d), "options": ["rbind", "rw"]}));
            }
            // Capabilities of the user namespace do not reach host-owned objects.
            let caps = json!([
                "CAP_SYS_ADMIN",
                "CAP_DAC_OVERRIDE",
                "CAP_FOWNER",
                "CAP_CHOWN",
                "CAP_MKNOD"
            ]);
            for set in ["bounding", "effective", "permitted"] {
                c["process"]["capabilities"][set] = caps.clone();
            }
        });
        let (code, out, err) = rt.run(&b, id);
        assert_eq!(code, 0, "{}: {err}", rt.name);
        let words: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(
            words[..6],
            ["0", "100000", "65536", "0", "100000", "65536"],
            "{}: {out}",
            rt.name
        );
        let rest: Vec<&str> = out.lines().skip(2).collect();
        // The host-root-owned rootfs shows up as the overflow id (nobody).
        assert_eq!(
            rest,
            ["0", "0", "65534", "made", "3", "end"],
            "{}: {out}",
            rt.name
        );
        let md = std::fs::metadata(host.join("shared/made-inside")).expect("made-inside");
        assert_eq!((md.uid(), md.gid()), (HOST_ID, HOST_ID), "{}", rt.name);
        assert_eq!(
            std::fs::read_to_string(host.join("hostonly/root-file")).expect("read"),
            "host\n"
        );
        assert!(!host.join("hostonly/new").exists());
    });
}

#[test]
fn exec_and_join_by_path() {
    for_each_runtime("usernsjoin", |rt, id| {
        let mut b = userns_bundle(&["sleep", "30"]);
        // A read-only root: a bind remount in the user namespace.
        b.edit(|c| c["root"]["readonly"] = json!(true));
        let pid = rt.create(&b, id, &[]);
        rt.ok(&["start", id]);
        let o = rt
            .cmd(&[
                "exec",
                id,
                "sh",
                "-c",
                "id -u; cat /proc/self/uid_map; touch /x 2>/dev/null && echo wrote-root; true",
            ])
            .stdin(Stdio::null())
            .output()
            .expect("exec");
        let (code, out, err) = out3(o);
        assert_eq!(code, 0, "{}: {err}", rt.name);
        let w: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(w, ["0", "0", "100000", "65536"], "{}: {out}", rt.name);
        // A second container joins the first one's user namespace by path.
        let id2 = format!("{id}-2");
        let mut b2 = userns_bundle(&["sh", "-c", "readlink /proc/self/ns/user; id -u"]);
        b2.edit(|c| {
            for ns in c["linux"]["namespaces"].as_array_mut().expect("ns") {
                if ns["type"] == "user" {
                    ns["path"] = json!(format!("/proc/{pid}/ns/user"));
                }
            }
        });
        let (code, out, err) = rt.run(&b2, &id2);
        assert_eq!(code, 0, "{}: {err}", rt.name);
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/user")).expect("ns");
        assert_eq!(
            out,
            format!("{}\n0\n", theirs.display()),
            "{}: {out}",
            rt.name
        );
        rt.ok(&["kill", id, "KILL"]);
        assert_eq!(reap(pid), 137);
        rt.ok(&["delete", id]);
    });
}

#[test]
fn maps_without_user_namespace_are_refused() {
    let rt = runtimes()
        .into_iter()
        .find(|r| r.name == "berth-runc")
        .expect("berth-runc");
    let mut b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": HOST_ID, "size": 1}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": HOST_ID, "size": 1}]);
    });
    let (code, _, err) = rt.run(&b, &format!("usernsbad-{}", std::process::id()));
    assert_ne!(code, 0);
    assert!(err.contains("no user namespace"), "{err}");
}

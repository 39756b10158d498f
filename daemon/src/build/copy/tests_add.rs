//! ADD: local archives unpacked, URLs downloaded (from a tiny HTTP server on loopback).
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use super::tests::{stat, Roots};
use super::*;

fn add() -> CopyOptions {
    CopyOptions {
        unpack_archives: true,
        allow_urls: true,
        ..CopyOptions::default()
    }
}

/// A tar of "inner/x" owned 1234:99, modified in 2018, compressed with `program`.
fn archive(program: Option<&str>) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_uid(1234);
    header.set_gid(99);
    header.set_mtime(1_514_764_800);
    header.set_size(0);
    builder
        .append_data(&mut header, "inner/", &b""[..])
        .expect("dir");
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(3);
    builder
        .append_data(&mut header, "inner/x", &b"in\n"[..])
        .expect("x");
    let plain = builder.into_inner().expect("tar");
    let Some(program) = program else {
        return plain;
    };
    crate::store::decompress::compressed_by(program, &plain)
}

#[test]
fn add_unpacks_local_archives_with_their_owners() {
    let r = Roots::new();
    for (name, program) in [
        ("arc.tar", None),
        ("arc.tgz", Some("gzip")),
        ("arc.tbz", Some("bzip2")),
        ("arc.txz", Some("xz")),
        ("arc.tzst", Some("zstd")),
    ] {
        std::fs::write(r.src(name), archive(program)).expect("archive");
        let dest = format!("/{name}-out");
        let sum = r
            .run(
                &[name],
                &dest,
                "/",
                &CopyOptions {
                    chown: Some("5:5".into()),
                    ..add()
                },
            )
            .expect(name);
        assert!(sum.starts_with("file:"));
        let (mode, uid, gid, mtime) = stat(&r.dest(&format!("{dest}/inner/x")));
        assert_eq!(
            (mode, uid, gid, mtime),
            (0o644, 1234, 99, 1_514_764_800),
            "{name}"
        );
        assert_eq!(
            stat(&r.dest(&dest)).1,
            0,
            "the folder made for it is root's"
        );
    }
}

#[test]
fn add_copies_what_is_not_an_archive_and_copy_never_unpacks() {
    let r = Roots::new();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"not a tar").expect("gz");
    std::fs::write(r.src("plain.gz"), gz.finish().expect("gz")).expect("write");
    std::fs::write(r.src("arc.tar"), archive(None)).expect("tar");
    std::fs::write(r.src("empty"), b"").expect("empty");
    r.run(&["plain.gz", "empty"], "/p/", "/", &add())
        .expect("add");
    assert!(r.dest("p/plain.gz").is_file());
    assert!(r.dest("p/empty").is_file());
    r.copy(&["arc.tar"], "/c/", "/").expect("copy");
    assert!(r.dest("c/arc.tar").is_file());
}

/// Serves `routes` (path → status line, extra headers, body) on 127.0.0.1 until the
/// test ends; returns the base URL.
fn serve(routes: Vec<(&'static str, &'static str, &'static str, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let (status, headers, body) = routes
                .iter()
                .find(|(p, ..)| *p == path)
                .map(|(_, s, h, b)| (*s, *h, b.clone()))
                .unwrap_or(("404 Not Found", "", b"nope\n".to_vec()));
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    base
}

#[test]
fn add_downloads_urls() {
    let base = serve(vec![
        (
            "/page.txt",
            "200 OK",
            "Last-Modified: Thu, 06 May 2021 07:08:09 GMT\r\n",
            b"web\n".to_vec(),
        ),
        ("/sub/", "200 OK", "", b"index\n".to_vec()),
        (
            "/cd/",
            "200 OK",
            "Content-Disposition: attachment; filename=\"report.txt\"\r\n",
            b"report\n".to_vec(),
        ),
        ("/arc.tar", "200 OK", "", archive(None)),
    ]);
    let r = Roots::new();
    let url = format!("{base}/page.txt");
    let sum = r.run(&[&url], "/dl/", "/", &add()).expect("add");
    assert_eq!(sum.len(), 64, "a download's sum is bare: {sum}");
    assert_eq!(
        std::fs::read_to_string(r.dest("dl/page.txt")).expect("dl"),
        "web\n"
    );
    assert_eq!(stat(&r.dest("dl/page.txt")), (0o600, 0, 0, 1_620_284_889));
    assert_eq!(r.run(&[&url], "/dl2", "/", &add()).expect("again"), sum);
    assert!(r.dest("dl2").is_file());

    let unnamed = format!("{base}/sub/");
    assert_eq!(
        r.run(&[&unnamed], "/dl/", "/", &add())
            .expect_err("no name")
            .to_string(),
        format!("ADD failed: cannot determine filename for source {unnamed}")
    );
    r.run(&[&unnamed], "/unnamed", "/", &add())
        .expect("named by dest");
    assert_eq!(stat(&r.dest("unnamed")).3, 0, "no Last-Modified: the epoch");
    r.run(&[&unnamed], "/etc", "/", &add())
        .expect("into a folder");
    assert!(r.dest("etc/__unnamed__").is_file());

    r.run(&[&format!("{base}/cd/")], "/cd/", "/", &add())
        .expect("disposition");
    assert!(r.dest("cd/report.txt").is_file());
    r.run(&[&format!("{base}/arc.tar")], "/t/", "/", &add())
        .expect("tar");
    assert!(r.dest("t/arc.tar").is_file(), "downloads are not unpacked");
    r.run(
        &[&url],
        "/own/",
        "/",
        &CopyOptions {
            chown: Some("7:8".into()),
            ..add()
        },
    )
    .expect("chown");
    let (_, uid, gid, _) = stat(&r.dest("own/page.txt"));
    assert_eq!((uid, gid), (7, 8));

    let missing = format!("{base}/missing");
    assert_eq!(
        r.run(&[&missing], "/", "/", &add())
            .expect_err("404")
            .to_string(),
        format!("ADD failed: failed to GET {missing} with status 404 Not Found: nope")
    );
}

#[test]
fn an_unreachable_url_is_reported() {
    let r = Roots::new();
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/x", closed.local_addr().expect("addr"));
    drop(closed);
    let err = r
        .run(&[&url], "/", "/", &add())
        .expect_err("refused")
        .to_string();
    assert!(
        err.starts_with(&format!("ADD failed: Get \"{url}\": ")),
        "{err}"
    );
}

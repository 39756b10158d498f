//! Possibly compressed tar streams, as dockerd's `archive.DecompressStream`: the format
//! is told by the first bytes (gzip, bzip2, xz, and zstd as later dockerd versions
//! accept), anything else is read as it is. gzip and zstd are decoded here; bzip2 and
//! xz by the system's `bzip2` and `xz` (dockerd runs `xz` too), fed from this thread
//! while the consumer reads on another.
use std::io::{self, Cursor, Read, Write};
use std::process::{Command, Stdio};

/// What a stream starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

/// The compression announced by `head` (the stream's first bytes).
pub fn detect(head: &[u8]) -> Compression {
    if head.starts_with(&[0x42, 0x5A, 0x68]) {
        Compression::Bzip2
    } else if head.starts_with(&[0x1F, 0x8B, 0x08]) {
        Compression::Gzip
    } else if head.starts_with(&[0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) {
        Compression::Xz
    } else if head.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Reads the first bytes of `input` (fewer at its end), to be put back in front of it.
fn peek(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; 10];
    let mut filled = 0;
    while filled < head.len() {
        match input.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(filled);
    Ok(head)
}

/// Runs `consume` on the decompressed content of `input`. The outer error is about
/// reading `input` or decompressing it; the inner result is the consumer's.
pub fn with_decompressed<R, T, E, F>(mut input: R, consume: F) -> io::Result<Result<T, E>>
where
    R: Read,
    T: Send,
    E: Send,
    F: FnOnce(&mut dyn Read) -> Result<T, E> + Send,
{
    let head = peek(&mut input)?;
    let compression = detect(&head);
    let mut stream = Cursor::new(head).chain(input);
    match compression {
        Compression::None => Ok(consume(&mut stream)),
        Compression::Gzip => {
            let mut decoder = flate2::read::MultiGzDecoder::new(stream);
            Ok(consume(&mut decoder))
        }
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(stream)?;
            Ok(consume(&mut decoder))
        }
        Compression::Bzip2 => through_command("bzip2", stream, consume),
        Compression::Xz => through_command("xz", stream, consume),
    }
}

/// Decompresses with `program -d -c -q`: this thread feeds it, `consume` reads its
/// output on a scoped thread (and whatever it leaves is drained, so the program never
/// dies of a closed pipe after a successful read).
fn through_command<R, T, E, F>(program: &str, mut input: R, consume: F) -> io::Result<Result<T, E>>
where
    R: Read,
    T: Send,
    E: Send,
    F: FnOnce(&mut dyn Read) -> Result<T, E> + Send,
{
    let mut child = Command::new(program)
        .args(["-d", "-c", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("running {program}: {e}")))?;
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(io::Error::other(format!("{program}: no pipes")));
    };
    let (fed, consumed, complaint) = std::thread::scope(|scope| {
        let consumer = scope.spawn(move || {
            let result = consume(&mut stdout);
            if result.is_ok() {
                let _ = io::copy(&mut stdout, &mut io::sink());
            }
            result
        });
        let complaints = scope.spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let fed = feed(&mut input, &mut stdin);
        drop(stdin);
        let consumed = consumer.join();
        let complaint = complaints.join().unwrap_or_default();
        (fed, consumed, complaint)
    });
    let status = child.wait()?;
    fed?;
    let consumed =
        consumed.map_err(|_| io::Error::other(format!("reading the {program} stream failed")))?;
    if consumed.is_ok() && !status.success() {
        let why = complaint.trim();
        return Err(io::Error::other(format!(
            "{program} -d: {status}{}{why}",
            if why.is_empty() { "" } else { ": " }
        )));
    }
    Ok(consumed)
}

/// Copies `input` to the program; its early exit (a closed pipe) is not our error.
fn feed(input: &mut impl Read, stdin: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        match stdin.write_all(&buf[..n]) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compress(program: &str, data: &[u8]) -> Vec<u8> {
        let mut child = Command::new(program)
            .arg("-c")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect(program);
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(data)
            .expect("write");
        child.wait_with_output().expect("output").stdout
    }

    fn read_all(input: &[u8]) -> io::Result<Vec<u8>> {
        with_decompressed(input, |r| {
            let mut out = Vec::new();
            r.read_to_end(&mut out).map(|_| out)
        })?
    }

    #[test]
    fn every_format_is_recognised_and_decoded() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).expect("gz");
        let gz = gz.finish().expect("gz");
        let zst = zstd::encode_all(&data[..], 1).expect("zstd");
        let bz = compress("bzip2", &data);
        let xz = compress("xz", &data);
        assert_eq!(detect(&gz), Compression::Gzip);
        assert_eq!(detect(&zst), Compression::Zstd);
        assert_eq!(detect(&bz), Compression::Bzip2);
        assert_eq!(detect(&xz), Compression::Xz);
        assert_eq!(detect(&data), Compression::None);
        for input in [&data, &gz, &zst, &bz, &xz] {
            assert_eq!(read_all(input).expect("decoded"), data);
        }
        assert_eq!(read_all(b"").expect("empty"), b"");
        assert_eq!(read_all(b"BZ").expect("short"), b"BZ");
    }

    #[test]
    fn a_corrupt_stream_is_an_error() {
        let mut xz = compress("xz", b"some text that is long enough to be cut");
        let cut = xz.len() / 2;
        xz.truncate(cut);
        assert!(read_all(&xz).is_err());
        let bad_bz = b"BZh9 definitely not bzip2 data".to_vec();
        assert!(read_all(&bad_bz).is_err());
    }

    #[test]
    fn a_consumer_stopping_early_is_not_a_program_failure() {
        let data = vec![7u8; 1 << 20];
        let xz = compress("xz", &data);
        let got = with_decompressed(&xz[..], |r| {
            let mut first = [0u8; 16];
            r.read_exact(&mut first).map(|_| first)
        })
        .expect("stream")
        .expect("consumer");
        assert_eq!(got, [7u8; 16]);
        let failed: io::Result<Result<(), String>> =
            with_decompressed(&xz[..], |_| Err("consumer gave up".to_string()));
        assert_eq!(failed.expect("stream"), Err("consumer gave up".to_string()));
    }
}

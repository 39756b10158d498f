//! Possibly compressed tar streams, as dockerd's `archive.DecompressStream`: the format
//! is told by the first bytes (gzip, bzip2, xz, and zstd as later dockerd versions
//! accept), anything else is read as it is. gzip and zstd are decoded here; bzip2 and
//! xz by the system's `bzip2` and `xz` (dockerd runs `xz` too). Two shapes:
//! `with_decompressed` hands a borrowed reader to a consumer (the program is fed from
//! this thread while the consumer reads on another); `decompress` returns a reader of its
//! own, the program fed by a thread of its own.
use std::io::{self, Cursor, Read, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

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

/// The uncompressed stream of `input`, whatever its compression, as a reader of its own
/// (bzip2 and xz fed from a thread): for readers that outlive the call (`docker load`).
pub fn decompress(mut input: impl Read + Send + 'static) -> std::io::Result<Box<dyn Read + Send>> {
    let mut head = [0u8; 6];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let kind = detect(&head[..got]);
    let whole = Cursor::new(head[..got].to_vec()).chain(input);
    Ok(match kind {
        Compression::None => Box::new(whole),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(whole)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(whole)?),
        Compression::Bzip2 => Box::new(ChildFilter::spawn("bzip2", &["-d", "-c"], whole)?),
        Compression::Xz => Box::new(ChildFilter::spawn("xz", &["-d", "-c", "-q"], whole)?),
    })
}

/// A program decompressing from its stdin (fed by a thread) to its stdout (read here).
/// The end of its output is only an end once the program exited with success.
struct ChildFilter {
    program: &'static str,
    child: Child,
    stdout: ChildStdout,
    feeder: Option<JoinHandle<std::io::Result<u64>>>,
    finished: bool,
}

impl ChildFilter {
    fn spawn(
        program: &'static str,
        args: &[&str],
        mut input: impl Read + Send + 'static,
    ) -> std::io::Result<ChildFilter> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| std::io::Error::other(format!("running {program}: {e}")))?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other(format!("no pipes to {program}")));
        };
        let feeder = std::thread::spawn(move || std::io::copy(&mut input, &mut stdin));
        Ok(ChildFilter {
            program,
            child,
            stdout,
            feeder: Some(feeder),
            finished: false,
        })
    }

    /// At the end of the output: the program's exit status and the feeder's result.
    fn finish(&mut self) -> std::io::Result<()> {
        self.finished = true;
        let status = self.child.wait()?;
        let fed = self.feeder.take().map(|f| f.join());
        if !status.success() {
            let mut message = String::new();
            if let Some(mut stderr) = self.child.stderr.take() {
                let _ = stderr.read_to_string(&mut message);
            }
            return Err(std::io::Error::other(format!(
                "{} failed ({status}): {}",
                self.program,
                message.trim()
            )));
        }
        match fed {
            Some(Ok(Err(e))) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        }
    }
}

impl Read for ChildFilter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.finished {
            return Ok(0);
        }
        let n = self.stdout.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.finish()?;
        }
        Ok(n)
    }
}

impl Drop for ChildFilter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// For tests: `data` compressed by the `program` (bzip2, xz, gzip, zstd) with `-c`.
#[cfg(test)]
pub(crate) fn compressed_by(program: &str, data: &[u8]) -> Vec<u8> {
    let mut child = Command::new(program)
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect(program);
    let mut stdin = child.stdin.take().expect("stdin");
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("output").stdout;
    writer.join().expect("writer").expect("write");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compress(program: &str, data: &[u8]) -> Vec<u8> {
        compressed_by(program, data)
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

    fn roundtrip(compressed: Vec<u8>) -> Vec<u8> {
        let mut out = Vec::new();
        decompress(Cursor::new(compressed))
            .expect("decompress")
            .read_to_end(&mut out)
            .expect("read");
        out
    }

    #[test]
    fn gzip_zstd_and_plain_are_detected() {
        let data = b"hello archive".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&data).expect("gzip");
        assert_eq!(roundtrip(gz.finish().expect("gzip")), data);
        let zst = zstd::stream::encode_all(&data[..], 0).expect("zstd");
        assert_eq!(roundtrip(zst), data);
        assert_eq!(roundtrip(data.clone()), data);
        assert_eq!(roundtrip(b"ab".to_vec()), b"ab");
    }

    #[test]
    fn external_programs_decode_bzip2_and_xz() {
        let data = b"legacy archive".repeat(50);
        for (program, args) in [("bzip2", ["-c", "-z"]), ("xz", ["-c", "-z"])] {
            let Ok(mut child) = Command::new(program)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
            else {
                eprintln!("{program} not installed: skipped");
                continue;
            };
            let mut stdin = child.stdin.take().expect("stdin");
            let input = data.clone();
            let writer = std::thread::spawn(move || stdin.write_all(&input));
            let compressed = child.wait_with_output().expect("compress").stdout;
            writer.join().expect("join").expect("write");
            assert_eq!(roundtrip(compressed), data, "{program}");
        }
        // A corrupt bzip2 stream is an error, not a short read.
        let mut out = Vec::new();
        let corrupt = b"BZh91AY&SYgarbage".to_vec();
        if let Ok(mut reader) = decompress(Cursor::new(corrupt)) {
            assert!(reader.read_to_end(&mut out).is_err());
        }
    }
}

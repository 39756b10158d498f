//! Compressed input told apart by its magic bytes, as moby's `DecompressStream`: plain,
//! gzip, bzip2, xz or zstd. gzip and zstd are decoded here; bzip2 and xz by the `bzip2`
//! and `xz` programs, as dockerd runs `xz` (its bzip2 is Go's own).
use std::io::{Cursor, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

/// What the first bytes say the stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Compression {
    /// moby's `compression.Detect`.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b, 0x08]) {
            Compression::Gzip
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// The uncompressed stream of `input`, whatever its compression.
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
    let kind = Compression::detect(&head[..got]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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

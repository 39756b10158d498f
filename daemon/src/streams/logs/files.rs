//! The files of a json-file log: FILE and its rotated copies FILE.1 … FILE.(N-1)
//! (oldest last), and finding where the last N lines start.
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};

use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Size of the blocks read when scanning a file.
pub(super) const BLOCK: usize = 64 * 1024;

/// `FILE.n`.
pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(format!(".{n}"));
    PathBuf::from(p)
}

/// An open log file and the byte range of it to read.
#[derive(Debug)]
pub(super) struct Segment {
    pub path: PathBuf,
    pub file: File,
    pub start: u64,
    pub end: u64,
}

/// Opens the rotated copies that exist, oldest first (FILE.k … FILE.1).
pub(super) async fn open_rotated(path: &Path) -> io::Result<Vec<Segment>> {
    let mut out = Vec::new();
    for n in 1.. {
        let p = rotated_path(path, n);
        let file = match File::open(&p).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            Err(e) => return Err(e),
        };
        let end = file.metadata().await?.len();
        out.push(Segment {
            path: p,
            file,
            start: 0,
            end,
        });
    }
    out.reverse();
    Ok(out)
}

/// Offset just past the last "\n" in `[0, end)` of `file` (0 if there is none):
/// what lies after it is a line still being written.
pub(super) async fn last_line_end(file: &mut File, end: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; BLOCK];
    let mut hi = end;
    while hi > 0 {
        let lo = hi.saturating_sub(BLOCK as u64);
        let chunk = read_range(file, lo, hi, &mut buf).await?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(lo + i as u64 + 1);
        }
        hi = lo;
    }
    Ok(0)
}

/// Where the last `n` complete lines of `[0, end)` start, and how many were found
/// (fewer than `n` when the range holds fewer: it then starts at 0). `end` must be
/// at a line boundary.
pub(super) async fn tail_start(file: &mut File, end: u64, n: usize) -> io::Result<(u64, usize)> {
    if n == 0 {
        return Ok((end, 0));
    }
    let mut buf = vec![0u8; BLOCK];
    let mut found = 0usize;
    let mut hi = end;
    // The "\n" ending the last line does not start a line: skip it.
    let mut skip_last = true;
    while hi > 0 {
        let lo = hi.saturating_sub(BLOCK as u64);
        let chunk = read_range(file, lo, hi, &mut buf).await?;
        for i in (0..chunk.len()).rev() {
            if chunk[i] != b'\n' {
                continue;
            }
            if skip_last && lo + i as u64 + 1 == end {
                skip_last = false;
                continue;
            }
            found += 1;
            if found == n {
                return Ok((lo + i as u64 + 1, found));
            }
        }
        hi = lo;
    }
    // Reached the start: the first line counts too.
    let lines = if end > 0 { found + 1 } else { 0 };
    Ok((0, lines.min(n)))
}

/// Reads `[lo, hi)` of `file` into `buf`.
async fn read_range<'a>(
    file: &mut File,
    lo: u64,
    hi: u64,
    buf: &'a mut [u8],
) -> io::Result<&'a [u8]> {
    let len = (hi - lo) as usize;
    file.seek(SeekFrom::Start(lo)).await?;
    file.read_exact(&mut buf[..len]).await?;
    Ok(&buf[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn file_with(content: &[u8]) -> (tempfile::TempDir, File) {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("f");
        std::fs::write(&p, content).expect("write");
        let f = File::open(&p).await.expect("open");
        (d, f)
    }

    #[tokio::test]
    async fn tail_counts_from_the_end() {
        let (_d, mut f) = file_with(b"a\nbb\nccc\n").await;
        assert_eq!(tail_start(&mut f, 9, 1).await.expect("io"), (5, 1));
        assert_eq!(tail_start(&mut f, 9, 2).await.expect("io"), (2, 2));
        assert_eq!(tail_start(&mut f, 9, 3).await.expect("io"), (0, 3));
        assert_eq!(tail_start(&mut f, 9, 10).await.expect("io"), (0, 3));
        assert_eq!(tail_start(&mut f, 9, 0).await.expect("io"), (9, 0));
        assert_eq!(tail_start(&mut f, 0, 4).await.expect("io"), (0, 0));
    }

    #[tokio::test]
    async fn tail_across_blocks() {
        let mut content = Vec::new();
        for i in 0..20_000 {
            content.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let (_d, mut f) = file_with(&content).await;
        let end = content.len() as u64;
        let (start, n) = tail_start(&mut f, end, 15_000).await.expect("io");
        assert_eq!(n, 15_000);
        let rest = &content[start as usize..];
        assert!(rest.starts_with(b"line 5000\n"));
    }

    #[tokio::test]
    async fn a_line_being_written_is_left_out() {
        let (_d, mut f) = file_with(b"a\nbb\n{\"log\":").await;
        assert_eq!(last_line_end(&mut f, 12).await.expect("io"), 5);
        let (_d2, mut g) = file_with(b"no newline").await;
        assert_eq!(last_line_end(&mut g, 10).await.expect("io"), 0);
    }

    #[tokio::test]
    async fn rotated_files_oldest_first() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("c.log");
        std::fs::write(rotated_path(&p, 1), b"newer\n").expect("write");
        std::fs::write(rotated_path(&p, 2), b"older!\n").expect("write");
        let segs = open_rotated(&p).await.expect("open");
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].path, rotated_path(&p, 2));
        assert_eq!(segs[0].end, 7);
        assert_eq!(segs[1].path, rotated_path(&p, 1));
    }
}

//! A container's log file, in one of two formats: Docker's json-file (one JSON object per
//! line of output, rotated by size) or the CRI's (`<RFC 3339 time> <stream> <F|P> <text>`,
//! one line per line of output, `P` for a piece of a line longer than 16 KiB, as
//! containerd's CRI plugin writes; the kubelet rotates it, renaming the file and asking
//! for a reopen).
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::{LogConfig, LogFormat};

/// Lines longer than this are written as partial entries (as dockerd does at 16 KiB).
const MAX_LINE: usize = 16 * 1024;

#[derive(serde::Serialize)]
struct Entry<'a> {
    log: &'a str,
    stream: &'a str,
    time: &'a str,
}

pub struct ContainerLog {
    path: PathBuf,
    format: LogFormat,
    file: File,
    size: u64,
    max_size: u64,
    max_file: u32,
    /// Unterminated output per stream (0 = stdout, 1 = stderr).
    partial: [Vec<u8>; 2],
}

fn stream_name(s: usize) -> &'static str {
    if s == 0 {
        "stdout"
    } else {
        "stderr"
    }
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(format!(".{n}"));
    PathBuf::from(p)
}

impl ContainerLog {
    pub fn open(cfg: &LogConfig) -> io::Result<ContainerLog> {
        if let Some(dir) = cfg.path.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cfg.path)?;
        let size = file.metadata()?.len();
        Ok(ContainerLog {
            path: cfg.path.clone(),
            format: cfg.format,
            file,
            size,
            max_size: cfg.max_size,
            max_file: cfg.max_file.max(1),
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Records a chunk of output of `stream` (1 = stdout, 2 = stderr) read at `time`.
    pub fn write(&mut self, stream: u8, data: &[u8], time: &str) -> io::Result<()> {
        let s = usize::from(stream == 2);
        let mut buf = std::mem::take(&mut self.partial[s]);
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
            self.emit(s, &buf[start..start + nl + 1], time)?;
            start += nl + 1;
        }
        while buf.len() - start >= MAX_LINE {
            self.emit(s, &buf[start..start + MAX_LINE], time)?;
            start += MAX_LINE;
        }
        buf.drain(..start);
        self.partial[s] = buf;
        Ok(())
    }

    /// Writes out whatever is left unterminated on `stream` (at the end of output).
    pub fn flush(&mut self, stream: u8, time: &str) -> io::Result<()> {
        let s = usize::from(stream == 2);
        let rest = std::mem::take(&mut self.partial[s]);
        if !rest.is_empty() {
            self.emit(s, &rest, time)?;
        }
        Ok(())
    }

    /// Opens the file at the log's path again (the kubelet renamed the old one away).
    pub fn reopen(&mut self) -> io::Result<()> {
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = self.file.metadata()?.len();
        Ok(())
    }

    fn emit(&mut self, s: usize, line: &[u8], time: &str) -> io::Result<()> {
        let out = match self.format {
            LogFormat::JsonFile => {
                let text = String::from_utf8_lossy(line);
                let mut out = serde_json::to_vec(&Entry {
                    log: &text,
                    stream: stream_name(s),
                    time,
                })
                .map_err(io::Error::other)?;
                out.push(b'\n');
                out
            }
            LogFormat::Cri => cri_line(s, line, time),
        };
        if self.max_size > 0 && self.size > 0 && self.size + out.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(&out)?;
        self.size += out.len() as u64;
        Ok(())
    }

    /// FILE.(N-2) → FILE.(N-1) … FILE → FILE.1, so at most `max_file` files exist.
    fn rotate(&mut self) -> io::Result<()> {
        if self.max_file <= 1 {
            self.file.set_len(0)?;
        } else {
            for i in (1..self.max_file - 1).rev() {
                let from = rotated(&self.path, i);
                if from.exists() {
                    fs::rename(&from, rotated(&self.path, i + 1))?;
                }
            }
            fs::rename(&self.path, rotated(&self.path, 1))?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

/// One CRI log line: a whole line of output is tagged `F` (full), a piece of a longer one
/// `P` (partial); output that ends without a newline is completed as a full line.
fn cri_line(s: usize, line: &[u8], time: &str) -> Vec<u8> {
    let (text, tag) = match line.strip_suffix(b"\n") {
        Some(text) => (text, "F"),
        None if line.len() >= MAX_LINE => (line, "P"),
        None => (line, "F"),
    };
    let mut out = Vec::with_capacity(text.len() + time.len() + 12);
    out.extend_from_slice(time.as_bytes());
    out.push(b' ');
    out.extend_from_slice(stream_name(s).as_bytes());
    out.push(b' ');
    out.extend_from_slice(tag.as_bytes());
    out.push(b' ');
    out.extend_from_slice(text);
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(p: &Path) -> Vec<serde_json::Value> {
        fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn splits_lines_and_streams() {
        let d = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            path: d.path().join("c.log"),
            max_size: 0,
            max_file: 1,
            format: LogFormat::JsonFile,
        };
        let mut l = ContainerLog::open(&cfg).unwrap();
        l.write(1, b"a\nb", "T1").unwrap();
        l.write(2, b"err\n", "T2").unwrap();
        l.write(1, b"c\n", "T3").unwrap();
        l.flush(1, "T4").unwrap();
        let v = lines(&cfg.path);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0]["log"], "a\n");
        assert_eq!(v[1]["stream"], "stderr");
        assert_eq!(v[2]["log"], "bc\n");
        assert_eq!(v[2]["time"], "T3");
    }

    #[test]
    fn rotates_by_size() {
        let d = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            path: d.path().join("c.log"),
            max_size: 200,
            max_file: 3,
            format: LogFormat::JsonFile,
        };
        let mut l = ContainerLog::open(&cfg).unwrap();
        for i in 0..40 {
            l.write(
                1,
                format!("line {i}\n").as_bytes(),
                "2026-01-01T00:00:00.000000000Z",
            )
            .unwrap();
        }
        assert!(fs::metadata(&cfg.path).unwrap().len() <= 200);
        assert!(rotated(&cfg.path, 1).exists());
        assert!(rotated(&cfg.path, 2).exists());
        assert!(!rotated(&cfg.path, 3).exists());
        let last = lines(&cfg.path);
        assert_eq!(last.last().unwrap()["log"], "line 39\n");
    }

    #[test]
    fn cri_format_tags_full_and_partial_lines_and_reopens() {
        let d = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            path: d.path().join("c.log"),
            max_size: 0,
            max_file: 1,
            format: LogFormat::Cri,
        };
        let mut l = ContainerLog::open(&cfg).unwrap();
        l.write(1, b"hello\nwor", "T1").unwrap();
        l.write(2, b"oops\n", "T2").unwrap();
        l.write(1, &vec![b'x'; MAX_LINE + 3], "T3").unwrap();
        l.flush(1, "T4").unwrap();
        let text = fs::read_to_string(&cfg.path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "T1 stdout F hello");
        assert_eq!(lines[1], "T2 stderr F oops");
        assert!(lines[2].starts_with("T3 stdout P worxxx"));
        assert_eq!(lines[3], "T4 stdout F xxxxxx");
        assert_eq!(lines.len(), 4);
        fs::rename(&cfg.path, d.path().join("c.log.1")).unwrap();
        l.reopen().unwrap();
        l.write(1, b"after\n", "T5").unwrap();
        assert_eq!(
            fs::read_to_string(&cfg.path).unwrap(),
            "T5 stdout F after\n"
        );
    }
}

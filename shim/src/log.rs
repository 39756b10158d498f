//! Docker's json-file log: one JSON object per line of output, rotated by size.
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::LogConfig;

/// Lines longer than this are written as partial entries (as dockerd does at 16 KiB).
const MAX_LINE: usize = 16 * 1024;

#[derive(serde::Serialize)]
struct Entry<'a> {
    log: &'a str,
    stream: &'a str,
    time: &'a str,
}

pub struct JsonLog {
    path: PathBuf,
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

impl JsonLog {
    pub fn open(cfg: &LogConfig) -> io::Result<JsonLog> {
        if let Some(dir) = cfg.path.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cfg.path)?;
        let size = file.metadata()?.len();
        Ok(JsonLog {
            path: cfg.path.clone(),
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

    fn emit(&mut self, s: usize, line: &[u8], time: &str) -> io::Result<()> {
        let text = String::from_utf8_lossy(line);
        let mut out = serde_json::to_vec(&Entry {
            log: &text,
            stream: stream_name(s),
            time,
        })
        .map_err(io::Error::other)?;
        out.push(b'\n');
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
        };
        let mut l = JsonLog::open(&cfg).unwrap();
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
        };
        let mut l = JsonLog::open(&cfg).unwrap();
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
}

//! ADD's URLs, as dockerd's `downloadSource`: fetched into a temporary folder, the file
//! named after the URL's path (else the `Content-Disposition` filename, else
//! "__unnamed__"), mode 0600, modified at `Last-Modified` (else the epoch). Its sum is
//! the bare sum of that file, as dockerd writes it in the history.
use std::fs::FileTimes;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use super::hash;

/// The name dockerd gives a download it cannot name.
pub const UNNAMED: &str = "__unnamed__";

/// A downloaded file.
#[derive(Debug)]
pub struct Download {
    pub dir: tempfile::TempDir,
    /// The file's name in `dir`.
    pub file_name: String,
    pub sum: String,
}

/// What the response said besides its body.
struct Fetched {
    last_modified: Option<String>,
    content_disposition: Option<String>,
}

/// Downloads `url` for a COPY/ADD to `dest`; errors are dockerd's texts.
pub fn download(url: &str, dest: &str) -> Result<Download, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("parse {url:?}: {e}"))?;
    let dir = tempfile::Builder::new()
        .prefix("docker-remote")
        .tempdir()
        .map_err(|e| format!("creating a download folder: {e}"))?;
    let partial = dir.path().join(".download");
    let fetched = fetch(url, &partial)?;
    let mut file_name = name_from_path(parsed.path());
    if file_name.is_empty() {
        file_name = fetched
            .content_disposition
            .as_deref()
            .map(name_from_disposition)
            .unwrap_or_default();
    }
    if file_name.is_empty() {
        if dest.ends_with('/') {
            return Err(format!("cannot determine filename for source {url}"));
        }
        file_name = UNNAMED.to_string();
    }
    let path = dir.path().join(&file_name);
    std::fs::rename(&partial, &path).map_err(|e| format!("saving {file_name}: {e}"))?;
    let mtime = fetched
        .last_modified
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc2822(t).ok())
        .map(|t| t.timestamp().max(0))
        .unwrap_or(0);
    let when = std::time::UNIX_EPOCH + Duration::from_secs(mtime.unsigned_abs());
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_times(FileTimes::new().set_accessed(when).set_modified(when)))
        .map_err(|e| format!("setting the time of {file_name}: {e}"))?;
    let sum =
        hash::entry_sum(&path, &file_name).map_err(|e| format!("hashing {file_name}: {e}"))?;
    Ok(Download {
        dir,
        file_name,
        sum,
    })
}

/// Go's `filepath.Base` of a URL path that names a file; "" for none ("", ".../").
fn name_from_path(path: &str) -> String {
    if path.is_empty() || path.ends_with('/') {
        return String::new();
    }
    let base = path.rsplit('/').next().unwrap_or_default();
    percent_decode(base)
}

/// The `filename` parameter of a `Content-Disposition` header, its last component.
fn name_from_disposition(header: &str) -> String {
    for param in header.split(';').skip(1) {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("filename") {
            continue;
        }
        let value = value.trim().trim_matches('"');
        if value.is_empty() || value.ends_with('/') {
            return String::new();
        }
        let base = value.rsplit('/').next().unwrap_or_default();
        if base == "." || base == ".." {
            return String::new();
        }
        return base.to_string();
    }
    String::new()
}

/// "%20" and friends, as Go's URL path is decoded.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// GETs `url` into `path` (created 0600) on a thread of its own with its own runtime,
/// so that this works from any thread, async or not.
fn fetch(url: &str, path: &Path) -> Result<Fetched, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("starting a download: {e}"))?;
                runtime.block_on(fetch_async(url, path))
            })
            .join()
            .unwrap_or_else(|_| Err(format!("Get {url:?}: the download failed")))
    })
}

async fn fetch_async(url: &str, path: &Path) -> Result<Fetched, String> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("Get {url:?}: {e}"))?;
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("Get {url:?}: {}", error_chain(&e)))?;
    let status = response.status();
    if status.as_u16() >= 400 {
        let reason = status.canonical_reason().unwrap_or("");
        let body = response.text().await.unwrap_or_default();
        return Err(format!(
            "failed to GET {url} with status {} {reason}: {}",
            status.as_u16(),
            body.trim()
        ));
    }
    let header = |name: reqwest::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let fetched = Fetched {
        last_modified: header(reqwest::header::LAST_MODIFIED),
        content_disposition: header(reqwest::header::CONTENT_DISPOSITION),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("creating the download: {e}"))?;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("Get {url:?}: {}", error_chain(&e)))?
    {
        file.write_all(&chunk)
            .map_err(|e| format!("writing the download: {e}"))?;
    }
    Ok(fetched)
}

/// An error with its causes ("error sending request: …: Connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_path_then_the_disposition() {
        assert_eq!(name_from_path("/files/app.tar.gz"), "app.tar.gz");
        assert_eq!(name_from_path("/a%20b"), "a b");
        assert_eq!(name_from_path("/dir/"), "");
        assert_eq!(name_from_path(""), "");
        assert_eq!(
            name_from_disposition("attachment; filename=\"report.txt\""),
            "report.txt"
        );
        assert_eq!(
            name_from_disposition("attachment; filename=a/b/c.txt"),
            "c.txt"
        );
        assert_eq!(name_from_disposition("attachment; filename=\"dir/\""), "");
        assert_eq!(name_from_disposition("inline"), "");
    }
}

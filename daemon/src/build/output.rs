//! The build's answer: JSON lines as dockerd's `streamformatter` writes them
//! (`{"stream":…}`, `{"aux":{"ID":…}}`, pull progress, a last `errorDetail` line),
//! marshalled as Go does (`<`, `>`, `&` escaped) and ended with "\r\n". With `q=1` the
//! lines are kept back: only the image ID goes out, or everything when the build fails.
use std::sync::Mutex;

use bytes::Bytes;
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::BuildError;

/// Lines buffered between the build and the HTTP body.
pub const CAPACITY: usize = 256;

/// Where a build writes. Cheap to share by reference; the stream ends when it is dropped.
pub struct Output {
    tx: mpsc::Sender<Bytes>,
    quiet: bool,
    held: Mutex<Vec<Bytes>>,
    written: std::sync::atomic::AtomicBool,
}

/// One value as a line of the stream, marshalled as Go's `encoding/json` does.
pub fn go_line(value: &impl Serialize) -> Bytes {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    let mut out = go_escape(&text);
    out.push_str("\r\n");
    Bytes::from(out)
}

/// Go's HTML-safe escaping of marshalled JSON (the characters only occur in strings).
fn go_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The last line of a failed build (`streamformatter.FormatError`).
pub fn error_line(e: &BuildError) -> Bytes {
    #[derive(Serialize)]
    struct Detail<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<i64>,
        message: &'a str,
    }
    #[derive(Serialize)]
    struct Line<'a> {
        #[serde(rename = "errorDetail")]
        detail: Detail<'a>,
        error: &'a str,
    }
    let message = e.to_string();
    let code = match e {
        BuildError::Step { code, .. } if *code != 0 => Some(*code),
        _ => None,
    };
    go_line(&Line {
        detail: Detail {
            code,
            message: &message,
        },
        error: &message,
    })
}

impl Output {
    pub fn new(tx: mpsc::Sender<Bytes>, quiet: bool) -> Output {
        Output {
            tx,
            quiet,
            held: Mutex::new(Vec::new()),
            written: Default::default(),
        }
    }

    /// Whether anything was written (or held back): an error then goes in the stream,
    /// else it is the HTTP answer.
    pub fn started(&self) -> bool {
        self.written.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn emit(&self, line: Bytes) {
        self.written
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if self.quiet {
            self.held
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(line);
        } else if self.tx.send(line).await.is_err() {
            tracing::trace!("build client gone; the build goes on");
        }
    }

    async fn send_now(&self, line: Bytes) {
        let _ = self.tx.send(line).await;
    }

    /// Resolves when the client has gone away (dockerd then cancels the build).
    pub async fn client_gone(&self) {
        self.tx.closed().await
    }

    pub fn is_client_gone(&self) -> bool {
        self.tx.is_closed()
    }

    /// `{"stream": text}`: what the builder prints.
    pub async fn stream(&self, text: impl Into<String>) {
        self.emit(go_line(&json!({ "stream": text.into() }))).await;
    }

    /// A RUN's standard output.
    pub async fn stdout(&self, data: &[u8]) {
        self.stream(String::from_utf8_lossy(data)).await;
    }

    /// A RUN's standard error, in red as dockerd's `NewStderrWriter` writes it.
    pub async fn stderr(&self, data: &[u8]) {
        self.stream(format!(
            "\u{1b}[91m{}\u{1b}[0m",
            String::from_utf8_lossy(data)
        ))
        .await;
    }

    /// `{"aux":{"ID":…}}`: a stage's result.
    pub async fn aux_id(&self, id: &str) {
        self.emit(go_line(&json!({"aux": {"ID": id}}))).await;
    }

    /// A line already formatted (pull progress), escaped as Go marshals it.
    pub async fn raw(&self, line: Bytes) {
        let text = String::from_utf8_lossy(&line);
        self.emit(Bytes::from(go_escape(&text))).await;
    }

    /// The end of a successful quiet build: the image ID alone.
    pub async fn quiet_result(&self, id: &str) {
        if self.quiet {
            self.send_now(go_line(&json!({ "stream": format!("{id}\n") })))
                .await;
        }
    }

    /// The end of a failed build: in quiet mode what was held back goes out first.
    pub async fn fail(&self, e: &BuildError) {
        let held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()));
        for line in held {
            self.send_now(line).await;
        }
        self.send_now(error_line(e)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_marshalled_as_go_does() {
        let line = go_line(&json!({"stream": " ---> abc & <x>\n"}));
        assert_eq!(
            &line[..],
            b"{\"stream\":\" ---\\u003e abc \\u0026 \\u003cx\\u003e\\n\"}\r\n"
        );
        let e = BuildError::Step {
            message: "The command '/bin/sh -c exit 3' returned a non-zero code: 3".into(),
            code: 3,
        };
        assert_eq!(
            &error_line(&e)[..],
            "{\"errorDetail\":{\"code\":3,\"message\":\"The command '/bin/sh -c exit 3' returned a non-zero code: 3\"},\"error\":\"The command '/bin/sh -c exit 3' returned a non-zero code: 3\"}\r\n".as_bytes()
        );
    }

    #[tokio::test]
    async fn quiet_output_holds_lines_back_until_a_failure() {
        let (tx, mut rx) = mpsc::channel(16);
        let out = Output::new(tx, true);
        out.stream("Step 1/1 : FROM x\n").await;
        assert!(rx.try_recv().is_err());
        out.fail(&BuildError::Internal("boom".into())).await;
        let first = rx.try_recv().unwrap();
        assert!(String::from_utf8_lossy(&first).contains("Step 1/1"));
        let last = rx.try_recv().unwrap();
        assert!(String::from_utf8_lossy(&last).contains("\"error\":\"boom\""));
    }
}

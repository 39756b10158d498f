//! One healthcheck probe: an exec in the container (as dockerd's `cmdProbe`), with
//! the exec's events, its stdout and stderr collected up to 4096 bytes, and its exit code.
use std::time::Duration;

use bollard_stubs::models::ExecConfig;
use tokio::io::AsyncReadExt;

use super::attach_gate::SignalOnRead;
use super::exec;
use super::record::Container;
use crate::state::SharedDaemon;
use crate::streams::{self, AttachOptions, FrameDecoder};

/// The longest probe output kept (dockerd's `maxOutputLen`).
pub const MAX_OUTPUT: usize = 4096;

/// Probe output up to [`MAX_OUTPUT`] bytes; "..." marks what was dropped.
#[derive(Debug, Default)]
pub struct LimitedBuffer {
    buf: Vec<u8>,
    truncated: bool,
}

impl LimitedBuffer {
    pub fn write(&mut self, data: &[u8]) {
        let keep = MAX_OUTPUT.saturating_sub(self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..keep]);
        if keep < data.len() {
            self.truncated = true;
        }
    }

    /// The text (invalid UTF-8 replaced, as Go's JSON encoder does).
    pub fn text(&self) -> String {
        let mut out = String::from_utf8_lossy(&self.buf).into_owned();
        if self.truncated {
            out.push_str("...");
        }
        out
    }
}

/// Records the exec of a probe (publishing `exec_create`); its ID.
pub fn create(daemon: &SharedDaemon, c: &Container, cmd: &[String]) -> Result<String, String> {
    let config = ExecConfig {
        cmd: Some(cmd.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        attach_stdin: Some(false),
        tty: Some(false),
        privileged: Some(false),
        user: c.config.user.clone(),
        working_dir: c.config.working_dir.clone(),
        ..Default::default()
    };
    exec::create(daemon, &c.id, config).map_err(|e| e.to_string())
}

/// Runs the exec `exec_id` to its end: its exit code and output. An error is what
/// dockerd records as the output of a probe that could not run (exit code -1).
pub async fn run(daemon: &SharedDaemon, exec_id: &str) -> Result<(i64, String), String> {
    let (e, c) = exec::begin(daemon, exec_id).map_err(|e| e.to_string())?;
    exec::prepare(daemon, &e, &c)
        .await
        .map_err(|e| e.to_string())?;
    let task = daemon
        .engine
        .get(c.task_id())
        .await
        .map_err(|e| e.to_string())?;
    let socket = std::path::PathBuf::from(task.attach_socket);
    let opts = AttachOptions {
        exec_id: Some(e.id.clone()),
        stdin: false,
        stdout: true,
        stderr: true,
        tty: false,
        stdin_once: true,
        detach_keys: Vec::new(),
        logs: None,
        stream: true,
    };
    // Our end of the "client" connection receives the multiplexed output.
    let (client, mut ours) = tokio::io::duplex(64 * 1024);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let client = SignalOnRead::new(client, Some(ready_tx));
    let attached = async move {
        if let Err(err) = streams::attach(client, &socket, opts, async {}).await {
            tracing::debug!(exec = %exec_id, "healthcheck output: {err}");
        }
    };
    let collected = async move {
        let mut out = LimitedBuffer::default();
        let mut frames = FrameDecoder::new();
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = ours.read(&mut buf).await {
            if n == 0 {
                break;
            }
            frames.feed(&buf[..n]);
            while let Ok(Some(frame)) = frames.next_frame() {
                out.write(&frame.payload);
            }
        }
        out
    };
    let output = async {
        let ((), out) = tokio::join!(attached, collected);
        Ok::<_, String>(out)
    };
    let started = async {
        // The process starts once the attach is connected, so no output is lost.
        let _ = tokio::time::timeout(Duration::from_secs(2), ready_rx).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        exec::run(daemon, &e, &c)
            .await
            .map_err(|err| format!("OCI runtime exec failed: {err}"))
    };
    let ((), out) = tokio::try_join!(started, output)?;
    // The exit code arrives with the exec's waiter (which also publishes `exec_die`).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match daemon.execs.get(&e.id).ok().and_then(|x| x.exit_code) {
            Some(code) => return Ok((code, out.text())),
            None if tokio::time::Instant::now() >= deadline => {
                return Err(format!(
                    "healthcheck for container {} has no exit code",
                    c.id
                ))
            }
            None => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_cut_at_4096_bytes() {
        let mut b = LimitedBuffer::default();
        b.write(b"hello ");
        assert_eq!(b.text(), "hello ");
        b.write(&[b'x'; 5000]);
        let text = b.text();
        assert_eq!(text.len(), MAX_OUTPUT + 3);
        assert!(text.ends_with("xxx..."));
    }
}

//! One healthcheck probe: an exec in the container (as dockerd's `cmdProbe`), with
//! the exec's events, its stdout and stderr collected up to 4096 bytes, and its exit code.
use bollard_stubs::models::ExecConfig;
use tokio::io::AsyncReadExt;

use super::exec;
use super::record::Container;
use crate::state::SharedDaemon;
use crate::streams::FrameDecoder;

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
    let request = exec::StartRequest {
        detach: false,
        tty: Some(false),
    };
    let session = match exec::start(daemon, exec_id, request).await {
        Ok(exec::Started::Attached(session)) => session,
        Ok(exec::Started::Detached) => return Err("the probe ran detached".into()),
        Err(e) => return Err(e.to_string()),
    };
    // Our end of the "client" connection receives the multiplexed output.
    let (client, mut ours) = tokio::io::duplex(64 * 1024);
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
    // The session ends once the exit code is recorded.
    let (ran, out) = tokio::join!(session.run(client), collected);
    if let Err(e) = ran {
        return Err(format!("OCI runtime exec failed: {e}"));
    }
    match daemon.execs.get(exec_id).ok().and_then(|x| x.exit_code) {
        Some(code) => Ok((code, out.text())),
        None => Err(format!("healthcheck exec {exec_id} has no exit code")),
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

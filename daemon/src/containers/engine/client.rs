//! The berth-containerd client: JSON over HTTP/1.1 on a unix socket, one connection
//! per call (calls are few and the socket is local).
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, BodyStream, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::EngineError;

/// How long an ordinary call (not `/wait` or `/events`) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(150);

/// `GET /tasks/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskView {
    pub id: String,
    #[serde(default)]
    pub pid: u32,
    pub status: String,
    #[serde(default)]
    pub exit_status: Option<u32>,
    #[serde(default)]
    pub exited_at: Option<String>,
    #[serde(default)]
    pub attach_socket: String,
}

/// An exit as the engine reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct ExitInfo {
    pub exit_status: u32,
    #[serde(default)]
    pub exited_at: String,
    #[serde(default)]
    pub oom_killed: bool,
}

/// One line of `GET /events`.
#[derive(Debug, Clone, Deserialize)]
pub struct EngineEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default)]
    pub exec_id: Option<String>,
    #[serde(default)]
    pub exit_status: Option<u32>,
}

/// `POST /tasks`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateTask {
    pub id: String,
    pub bundle: String,
    pub runtime: Option<String>,
    pub terminal: bool,
    pub stdin: bool,
    pub log: Option<LogSpec>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogSpec {
    pub path: String,
    pub max_size: Option<u64>,
    pub max_file: Option<u32>,
    /// "cri" for the kubelet's log format; absent means json-file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EngineClient {
    socket: PathBuf,
}

#[derive(Deserialize)]
struct Pid {
    pid: u32,
}

impl EngineClient {
    pub fn new(socket: impl Into<PathBuf>) -> EngineClient {
        EngineClient {
            socket: socket.into(),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Whether berth-containerd answers.
    pub async fn ping(&self) -> bool {
        self.list().await.is_ok()
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, EngineError> {
        let unavailable = |e: &dyn std::fmt::Display| {
            EngineError::Unavailable(format!("{}: {e}", self.socket.display()))
        };
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|e| unavailable(&e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unavailable(&e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "berth-containerd connection ended");
            }
        });
        let data = match body {
            Some(v) => Bytes::from(
                serde_json::to_vec(&v).map_err(|e| EngineError::BadAnswer(e.to_string()))?,
            ),
            None => Bytes::new(),
        };
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "containerd")
            .header("content-type", "application/json")
            .body(Full::new(data))
            .map_err(|e| EngineError::BadAnswer(e.to_string()))?;
        sender.send_request(req).await.map_err(|e| unavailable(&e))
    }

    async fn call_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Bytes, EngineError> {
        let resp = self.send(method, path, body).await?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| EngineError::Unavailable(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            return Err(EngineError::Status {
                status: status.as_u16(),
                message,
            });
        }
        Ok(bytes)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, EngineError> {
        let bytes = tokio::time::timeout(CALL_TIMEOUT, self.call_raw(method, path, body))
            .await
            .map_err(|_| EngineError::Unavailable(format!("call {path} timed out")))??;
        parse(&bytes)
    }

    pub async fn create(&self, req: &CreateTask) -> Result<u32, EngineError> {
        let body = serde_json::to_value(req).map_err(|e| EngineError::BadAnswer(e.to_string()))?;
        let pid: Pid = self.call(Method::POST, "/tasks", Some(body)).await?;
        Ok(pid.pid)
    }

    pub async fn list(&self) -> Result<Vec<TaskView>, EngineError> {
        self.call(Method::GET, "/tasks", None).await
    }

    pub async fn get(&self, id: &str) -> Result<TaskView, EngineError> {
        self.call(Method::GET, &format!("/tasks/{id}"), None).await
    }

    pub async fn start(&self, id: &str) -> Result<u32, EngineError> {
        let pid: Pid = self
            .call(Method::POST, &format!("/tasks/{id}/start"), None)
            .await?;
        Ok(pid.pid)
    }

    pub async fn kill(
        &self,
        id: &str,
        signal: i32,
        exec_id: Option<&str>,
    ) -> Result<(), EngineError> {
        let body = json!({ "signal": signal, "all": false, "exec_id": exec_id });
        let _: Value = self
            .call(Method::POST, &format!("/tasks/{id}/kill"), Some(body))
            .await?;
        Ok(())
    }

    /// `kill` with `all` (every process of the container, as `runc kill --all`).
    pub async fn kill_with(
        &self,
        id: &str,
        signal: i32,
        all: bool,
        exec_id: Option<&str>,
    ) -> Result<(), EngineError> {
        let body = json!({ "signal": signal, "all": all, "exec_id": exec_id });
        let _: Value = self
            .call(Method::POST, &format!("/tasks/{id}/kill"), Some(body))
            .await?;
        Ok(())
    }

    pub async fn pause(&self, id: &str) -> Result<(), EngineError> {
        let _: Value = self
            .call(Method::POST, &format!("/tasks/{id}/pause"), None)
            .await?;
        Ok(())
    }

    /// New resource limits (OCI `linux.resources`) for a live task.
    pub async fn update(&self, id: &str, resources: Value) -> Result<(), EngineError> {
        let body = json!({ "resources": resources });
        let _: Value = self
            .call(Method::POST, &format!("/tasks/{id}/update"), Some(body))
            .await?;
        Ok(())
    }

    /// Reopens the task's log file at its path (CRI `ReopenContainerLog`).
    pub async fn reopen_log(&self, id: &str) -> Result<(), EngineError> {
        let _: Value = self
            .call(Method::POST, &format!("/tasks/{id}/reopen-log"), None)
            .await?;
        Ok(())
    }

    pub async fn resume(&self, id: &str) -> Result<(), EngineError> {
        let _: Value = self
            .call(Method::POST, &format!("/tasks/{id}/resume"), None)
            .await?;
        Ok(())
    }

    pub async fn resize(
        &self,
        id: &str,
        exec_id: Option<&str>,
        width: u32,
        height: u32,
    ) -> Result<(), EngineError> {
        let body = json!({ "width": width, "height": height, "exec_id": exec_id });
        let _: Value = self
            .call(Method::POST, &format!("/tasks/{id}/resize"), Some(body))
            .await?;
        Ok(())
    }

    pub async fn close_stdin(&self, id: &str, exec_id: Option<&str>) -> Result<(), EngineError> {
        let body = json!({ "exec_id": exec_id });
        let _: Value = self
            .call(
                Method::POST,
                &format!("/tasks/{id}/close-stdin"),
                Some(body),
            )
            .await?;
        Ok(())
    }

    pub async fn exec(
        &self,
        id: &str,
        exec_id: &str,
        process: Value,
        terminal: bool,
        stdin: bool,
    ) -> Result<(), EngineError> {
        let body =
            json!({ "exec_id": exec_id, "process": process, "terminal": terminal, "stdin": stdin });
        let _: Value = self
            .call(Method::POST, &format!("/tasks/{id}/exec"), Some(body))
            .await?;
        Ok(())
    }

    pub async fn exec_start(&self, id: &str, exec_id: &str) -> Result<u32, EngineError> {
        let pid: Pid = self
            .call(
                Method::POST,
                &format!("/tasks/{id}/exec/{exec_id}/start"),
                None,
            )
            .await?;
        Ok(pid.pid)
    }

    /// `GET /tasks/{id}/exec/{exec_id}`: `{"exec_id","pid","status","exit_status","exited_at"}`.
    pub async fn exec_state(&self, id: &str, exec_id: &str) -> Result<Value, EngineError> {
        self.call(Method::GET, &format!("/tasks/{id}/exec/{exec_id}"), None)
            .await
    }

    /// Blocks until the task (or one of its execs) exits.
    pub async fn wait(&self, id: &str, exec_id: Option<&str>) -> Result<ExitInfo, EngineError> {
        let body = json!({ "exec_id": exec_id });
        let bytes = self
            .call_raw(Method::POST, &format!("/tasks/{id}/wait"), Some(body))
            .await?;
        parse(&bytes)
    }

    pub async fn delete(&self, id: &str) -> Result<ExitInfo, EngineError> {
        self.call(Method::DELETE, &format!("/tasks/{id}"), None)
            .await
    }

    /// Follows `GET /events`, calling `on_event` for each; returns when the stream ends.
    pub async fn follow_events(
        &self,
        mut on_event: impl FnMut(EngineEvent),
    ) -> Result<(), EngineError> {
        let resp = self.send(Method::GET, "/events", None).await?;
        if !resp.status().is_success() {
            return Err(EngineError::Status {
                status: resp.status().as_u16(),
                message: "events".into(),
            });
        }
        let mut body = BodyStream::new(resp.into_body());
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.next().await {
            let frame = frame.map_err(|e| EngineError::Unavailable(e.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                match serde_json::from_slice::<EngineEvent>(&line) {
                    Ok(ev) => on_event(ev),
                    Err(e) if line.iter().all(u8::is_ascii_whitespace) => {
                        let _ = e;
                    }
                    Err(e) => tracing::debug!(error = %e, "unreadable engine event"),
                }
            }
        }
        Ok(())
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, EngineError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| EngineError::BadAnswer(e.to_string()))
}

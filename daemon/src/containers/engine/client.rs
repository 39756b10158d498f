//! The berth-containerd client: JSON over HTTP/1.1 on a unix socket, one connection
//! per call (calls are few and the socket is local).
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_proto::{
    CreateTaskRequest, CreateTaskResponse, Empty, ErrorBody, Event, ExecRequest, ExecState,
    ExitInfo, KillRequest, PidResponse, ProcessRef, ResizeRequest, TaskView, UpdateRequest,
};
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, BodyStream, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::EngineError;

/// How long an ordinary call (not `/wait` or `/events`) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(150);

/// No request body.
const NONE: Option<&Empty> = None;

#[derive(Debug, Clone)]
pub struct EngineClient {
    socket: PathBuf,
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

    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
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
                serde_json::to_vec(v).map_err(|e| EngineError::BadAnswer(e.to_string()))?,
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

    async fn call_raw<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
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
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            return Err(EngineError::Status {
                status: status.as_u16(),
                message,
            });
        }
        Ok(bytes)
    }

    async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, EngineError> {
        let bytes = tokio::time::timeout(CALL_TIMEOUT, self.call_raw(method, path, body))
            .await
            .map_err(|_| EngineError::Unavailable(format!("call {path} timed out")))??;
        parse(&bytes)
    }

    /// A call whose answer is `{}`.
    async fn post_unit<B: Serialize>(
        &self,
        path: &str,
        body: Option<&B>,
    ) -> Result<(), EngineError> {
        let _: Empty = self.call(Method::POST, path, body).await?;
        Ok(())
    }

    pub async fn create(&self, req: &CreateTaskRequest) -> Result<CreateTaskResponse, EngineError> {
        self.call(Method::POST, "/tasks", Some(req)).await
    }

    pub async fn list(&self) -> Result<Vec<TaskView>, EngineError> {
        self.call(Method::GET, "/tasks", NONE).await
    }

    pub async fn get(&self, id: &str) -> Result<TaskView, EngineError> {
        self.call(Method::GET, &format!("/tasks/{id}"), NONE).await
    }

    pub async fn start(&self, id: &str) -> Result<u32, EngineError> {
        let pid: PidResponse = self
            .call(Method::POST, &format!("/tasks/{id}/start"), NONE)
            .await?;
        Ok(pid.pid)
    }

    pub async fn kill(
        &self,
        id: &str,
        signal: i32,
        exec_id: Option<&str>,
    ) -> Result<(), EngineError> {
        let req = KillRequest {
            signal,
            all: false,
            exec_id: exec_id.map(str::to_string),
        };
        self.post_unit(&format!("/tasks/{id}/kill"), Some(&req))
            .await
    }

    /// `kill` with `all` (every process of the container, as `runc kill --all`).
    pub async fn kill_with(&self, id: &str, req: &KillRequest) -> Result<(), EngineError> {
        self.post_unit(&format!("/tasks/{id}/kill"), Some(req))
            .await
    }

    /// Reopens the task's log file at its path (CRI `ReopenContainerLog`).
    pub async fn reopen_log(&self, id: &str) -> Result<(), EngineError> {
        self.post_unit(&format!("/tasks/{id}/reopen-log"), NONE)
            .await
    }

    pub async fn pause(&self, id: &str) -> Result<(), EngineError> {
        self.post_unit(&format!("/tasks/{id}/pause"), NONE).await
    }

    /// New resource limits (OCI `linux.resources`) for a live task.
    pub async fn update(&self, id: &str, req: &UpdateRequest) -> Result<(), EngineError> {
        self.post_unit(&format!("/tasks/{id}/update"), Some(req))
            .await
    }

    pub async fn resume(&self, id: &str) -> Result<(), EngineError> {
        self.post_unit(&format!("/tasks/{id}/resume"), NONE).await
    }

    pub async fn resize(&self, id: &str, req: &ResizeRequest) -> Result<(), EngineError> {
        self.post_unit(&format!("/tasks/{id}/resize"), Some(req))
            .await
    }

    pub async fn close_stdin(&self, id: &str, exec_id: Option<&str>) -> Result<(), EngineError> {
        let req = ProcessRef {
            exec_id: exec_id.map(str::to_string),
        };
        self.post_unit(&format!("/tasks/{id}/close-stdin"), Some(&req))
            .await
    }

    pub async fn exec(&self, id: &str, req: &ExecRequest) -> Result<(), EngineError> {
        self.post_unit(&format!("/tasks/{id}/exec"), Some(req))
            .await
    }

    pub async fn exec_start(&self, id: &str, exec_id: &str) -> Result<u32, EngineError> {
        let pid: PidResponse = self
            .call(
                Method::POST,
                &format!("/tasks/{id}/exec/{exec_id}/start"),
                NONE,
            )
            .await?;
        Ok(pid.pid)
    }

    pub async fn exec_state(&self, id: &str, exec_id: &str) -> Result<ExecState, EngineError> {
        self.call(Method::GET, &format!("/tasks/{id}/exec/{exec_id}"), NONE)
            .await
    }

    /// Blocks until the task (or one of its execs) exits.
    pub async fn wait(&self, id: &str, exec_id: Option<&str>) -> Result<ExitInfo, EngineError> {
        let req = ProcessRef {
            exec_id: exec_id.map(str::to_string),
        };
        let bytes = self
            .call_raw(Method::POST, &format!("/tasks/{id}/wait"), Some(&req))
            .await?;
        parse(&bytes)
    }

    pub async fn delete(&self, id: &str) -> Result<ExitInfo, EngineError> {
        self.call(Method::DELETE, &format!("/tasks/{id}"), NONE)
            .await
    }

    /// Follows `GET /events`, calling `on_event` for each; returns when the stream ends.
    pub async fn follow_events(&self, mut on_event: impl FnMut(Event)) -> Result<(), EngineError> {
        let resp = self.send(Method::GET, "/events", NONE).await?;
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
                match serde_json::from_slice::<Event>(&line) {
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
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| EngineError::BadAnswer(e.to_string()))
}

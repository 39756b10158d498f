//! The berth-containerd client: JSON over HTTP/1.1 on a unix socket, one connection
//! per call (calls are few and the socket is local). When berth-containerd is gone,
//! `ensure_running` starts it again (see `launcher`).
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

use super::{EngineError, EngineFuture, EventStream, TaskEngine};
use crate::config::Config;

/// How long an ordinary call (not `/wait` or `/events`) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(150);

/// No request body.
const NONE: Option<&Empty> = None;

#[derive(Debug, Clone)]
pub struct EngineClient {
    socket: PathBuf,
    /// How to start berth-containerd again (None: never started from here).
    launch: Option<Box<Config>>,
}

impl EngineClient {
    pub fn new(socket: impl Into<PathBuf>) -> EngineClient {
        EngineClient {
            socket: socket.into(),
            launch: None,
        }
    }

    /// The client of the berth-containerd this daemon's `config` runs, which
    /// `ensure_running` starts when it does not answer.
    pub fn for_daemon(config: &Config) -> EngineClient {
        EngineClient {
            socket: super::launcher::socket_path(config),
            launch: Some(Box::new(config.clone())),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The protocol version of the berth-containerd that answers (see
    /// `berth_proto::version`): 1 from a build before versioning (no `GET /version`).
    pub async fn protocol(&self) -> Result<u32, EngineError> {
        Ok(self.version().await?.protocol)
    }

    /// Its `GET /version` (a build before versioning: version 1, nothing else known).
    pub async fn version(&self) -> Result<berth_proto::VersionView, EngineError> {
        match self
            .call::<berth_proto::VersionView, _>(Method::GET, "/version", NONE)
            .await
        {
            Ok(v) => Ok(v),
            Err(e) if e.is_not_found() => Ok(berth_proto::VersionView {
                protocol: berth_proto::version::unversioned(),
                version: String::new(),
                pid: 0,
                args: Vec::new(),
            }),
            Err(e) => Err(e),
        }
    }

    /// The pid of the process listening on the socket (its peer credentials).
    pub async fn server_pid(&self) -> Option<i32> {
        let stream = tokio::net::UnixStream::connect(&self.socket).await.ok()?;
        stream.peer_cred().ok()?.pid()
    }

    /// Whether berth-containerd answers.
    pub async fn ping(&self) -> bool {
        self.call::<Vec<TaskView>, _>(Method::GET, "/tasks", NONE)
            .await
            .is_ok()
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

    async fn post_pid(&self, path: &str) -> Result<u32, EngineError> {
        let pid: PidResponse = self.call(Method::POST, path, NONE).await?;
        Ok(pid.pid)
    }

    /// `GET /events`, once its answer has begun (berth-containerd subscribed then).
    async fn subscribe(&self) -> Result<EventStream, EngineError> {
        let resp = self.send(Method::GET, "/events", NONE).await?;
        if !resp.status().is_success() {
            return Err(EngineError::Status {
                status: resp.status().as_u16(),
                message: "events".into(),
            });
        }
        let body = BodyStream::new(resp.into_body());
        let lines =
            futures::stream::unfold((body, Vec::<u8>::new()), |(mut body, mut buf)| async move {
                loop {
                    if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = buf.drain(..=pos).collect();
                        if line.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                        match serde_json::from_slice::<Event>(&line) {
                            Ok(ev) => return Some((ev, (body, buf))),
                            Err(e) => {
                                tracing::debug!(error = %e, "unreadable engine event");
                                continue;
                            }
                        }
                    }
                    match body.next().await {
                        Some(Ok(frame)) => {
                            if let Ok(data) = frame.into_data() {
                                buf.extend_from_slice(&data);
                            }
                        }
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "berth-containerd's event stream broke");
                            return None;
                        }
                        None => return None,
                    }
                }
            });
        Ok(Box::pin(lines))
    }
}

fn task_path(id: &str, rest: &str) -> String {
    format!("/tasks/{id}{rest}")
}

impl TaskEngine for EngineClient {
    fn create<'a>(&'a self, req: &'a CreateTaskRequest) -> EngineFuture<'a, CreateTaskResponse> {
        Box::pin(self.call(Method::POST, "/tasks", Some(req)))
    }
    fn start<'a>(&'a self, id: &'a str) -> EngineFuture<'a, u32> {
        Box::pin(async move { self.post_pid(&task_path(id, "/start")).await })
    }
    fn kill<'a>(
        &'a self,
        id: &'a str,
        signal: i32,
        exec_id: Option<&'a str>,
    ) -> EngineFuture<'a, ()> {
        Box::pin(async move {
            let req = KillRequest {
                signal,
                all: false,
                exec_id: exec_id.map(str::to_string),
            };
            self.post_unit(&task_path(id, "/kill"), Some(&req)).await
        })
    }
    fn kill_all<'a>(&'a self, id: &'a str, signal: i32) -> EngineFuture<'a, ()> {
        Box::pin(async move {
            let req = KillRequest {
                signal,
                all: true,
                exec_id: None,
            };
            self.post_unit(&task_path(id, "/kill"), Some(&req)).await
        })
    }
    fn pause<'a>(&'a self, id: &'a str) -> EngineFuture<'a, ()> {
        Box::pin(async move { self.post_unit(&task_path(id, "/pause"), NONE).await })
    }
    fn resume<'a>(&'a self, id: &'a str) -> EngineFuture<'a, ()> {
        Box::pin(async move { self.post_unit(&task_path(id, "/resume"), NONE).await })
    }
    fn update<'a>(&'a self, id: &'a str, req: &'a UpdateRequest) -> EngineFuture<'a, ()> {
        Box::pin(async move { self.post_unit(&task_path(id, "/update"), Some(req)).await })
    }
    fn resize<'a>(&'a self, id: &'a str, req: &'a ResizeRequest) -> EngineFuture<'a, ()> {
        Box::pin(async move { self.post_unit(&task_path(id, "/resize"), Some(req)).await })
    }
    fn reopen_log<'a>(&'a self, id: &'a str) -> EngineFuture<'a, ()> {
        Box::pin(async move { self.post_unit(&task_path(id, "/reopen-log"), NONE).await })
    }
    fn close_stdin<'a>(&'a self, id: &'a str, exec_id: Option<&'a str>) -> EngineFuture<'a, ()> {
        Box::pin(async move {
            let req = ProcessRef {
                exec_id: exec_id.map(str::to_string),
            };
            self.post_unit(&task_path(id, "/close-stdin"), Some(&req))
                .await
        })
    }
    fn exec<'a>(&'a self, id: &'a str, req: &'a ExecRequest) -> EngineFuture<'a, ()> {
        Box::pin(async move { self.post_unit(&task_path(id, "/exec"), Some(req)).await })
    }
    fn exec_start<'a>(&'a self, id: &'a str, exec_id: &'a str) -> EngineFuture<'a, u32> {
        Box::pin(async move {
            self.post_pid(&task_path(id, &format!("/exec/{exec_id}/start")))
                .await
        })
    }
    fn exec_state<'a>(&'a self, id: &'a str, exec_id: &'a str) -> EngineFuture<'a, ExecState> {
        Box::pin(async move {
            let path = task_path(id, &format!("/exec/{exec_id}"));
            self.call(Method::GET, &path, NONE).await
        })
    }
    fn wait<'a>(&'a self, id: &'a str, exec_id: Option<&'a str>) -> EngineFuture<'a, ExitInfo> {
        Box::pin(async move {
            let req = ProcessRef {
                exec_id: exec_id.map(str::to_string),
            };
            // No time limit: it answers when the process exits.
            let bytes = self
                .call_raw(Method::POST, &task_path(id, "/wait"), Some(&req))
                .await?;
            parse(&bytes)
        })
    }
    fn delete<'a>(&'a self, id: &'a str) -> EngineFuture<'a, ExitInfo> {
        Box::pin(async move { self.call(Method::DELETE, &task_path(id, ""), NONE).await })
    }
    fn get<'a>(&'a self, id: &'a str) -> EngineFuture<'a, TaskView> {
        Box::pin(async move { self.call(Method::GET, &task_path(id, ""), NONE).await })
    }
    fn list(&self) -> EngineFuture<'_, Vec<TaskView>> {
        Box::pin(self.call(Method::GET, "/tasks", NONE))
    }
    fn events(&self) -> EngineFuture<'_, EventStream> {
        Box::pin(self.subscribe())
    }
    fn ensure_running(&self) -> EngineFuture<'_, ()> {
        Box::pin(async move {
            match &self.launch {
                Some(config) => super::launcher::connect_or_launch(config).await.map(|_| ()),
                None if self.ping().await => Ok(()),
                None => Err(EngineError::Unavailable(format!(
                    "nothing answers on {}",
                    self.socket.display()
                ))),
            }
        })
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

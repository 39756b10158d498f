//! Calls to a shim's control API (`shim.sock`): the `ShimClient` trait and its
//! HTTP/1.1-over-unix-socket implementation.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::{ExecRequest, ExitInfo, KillRequest, PidResponse, ResizeRequest, ShimState};

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The shim's control API, one method per call of docs/engine-protocol.md.
pub trait ShimClient: Send + Sync {
    fn state(&self) -> BoxFut<'_, ShimState>;
    fn start(&self) -> BoxFut<'_, u32>;
    fn kill(&self, req: KillRequest) -> BoxFut<'_, ()>;
    fn pause(&self) -> BoxFut<'_, ()>;
    fn resume(&self) -> BoxFut<'_, ()>;
    fn resize(&self, req: ResizeRequest) -> BoxFut<'_, ()>;
    fn close_stdin(&self, exec_id: Option<String>) -> BoxFut<'_, ()>;
    fn exec(&self, req: ExecRequest) -> BoxFut<'_, ()>;
    fn exec_start(&self, exec_id: String) -> BoxFut<'_, u32>;
    fn exec_state(&self, exec_id: String) -> BoxFut<'_, Value>;
    /// Blocks until the process exits.
    fn wait(&self, exec_id: Option<String>) -> BoxFut<'_, ExitInfo>;
    fn delete(&self) -> BoxFut<'_, ExitInfo>;
    /// New resource limits (`{"resources": <OCI LinuxResources>}`); shims without it refuse.
    fn update(&self, resources: Value) -> BoxFut<'_, ()> {
        let _ = resources;
        Box::pin(async { Err(Error::BadRequest("update is not supported".into())) })
    }
    /// Reopens the log file at its path (after the kubelet renamed it); shims without it refuse.
    fn reopen_log(&self) -> BoxFut<'_, ()> {
        Box::pin(async {
            Err(Error::BadRequest(
                "reopening the log is not supported".into(),
            ))
        })
    }
}

/// How long an ordinary call (not `/wait`) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

pub struct HttpShimClient {
    socket: PathBuf,
}

impl HttpShimClient {
    pub fn new(socket: impl Into<PathBuf>) -> HttpShimClient {
        HttpShimClient {
            socket: socket.into(),
        }
    }

    async fn call_raw(&self, method: Method, path: &str, body: Option<Value>) -> Result<Vec<u8>> {
        let unavailable = |e: &dyn std::fmt::Display| {
            Error::ShimUnavailable(format!("{}: {e}", self.socket.display()))
        };
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|e| unavailable(&e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unavailable(&e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "shim connection ended");
            }
        });
        let body = match body {
            Some(v) => Body::from(serde_json::to_vec(&v)?),
            None => Body::empty(),
        };
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "shim")
            .header("content-type", "application/json")
            .body(body)
            .map_err(|e| Error::Shim(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| unavailable(&e))?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(Body::new(resp.into_body()), 16 << 20)
            .await
            .map_err(|e| unavailable(&e))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            return Err(Error::from_status(status.as_u16(), message));
        }
        Ok(bytes.to_vec())
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T> {
        let bytes =
            match tokio::time::timeout(CALL_TIMEOUT, self.call_raw(method, path, body)).await {
                Ok(r) => r?,
                Err(_) => return Err(Error::Shim(format!("shim call {path} timed out"))),
            };
        parse(&bytes)
    }

    async fn call_unit(&self, path: &str, body: Option<Value>) -> Result<()> {
        let _: Value = self.call(Method::POST, path, body).await?;
        Ok(())
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| Error::Shim(format!("bad answer from shim: {e}")))
}

impl ShimClient for HttpShimClient {
    fn state(&self) -> BoxFut<'_, ShimState> {
        Box::pin(self.call(Method::GET, "/state", None))
    }
    fn start(&self) -> BoxFut<'_, u32> {
        Box::pin(async move {
            Ok(self
                .call::<PidResponse>(Method::POST, "/start", None)
                .await?
                .pid)
        })
    }
    fn kill(&self, req: KillRequest) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.call_unit("/kill", Some(serde_json::to_value(req)?))
                .await
        })
    }
    fn pause(&self) -> BoxFut<'_, ()> {
        Box::pin(self.call_unit("/pause", None))
    }
    fn resume(&self) -> BoxFut<'_, ()> {
        Box::pin(self.call_unit("/resume", None))
    }
    fn resize(&self, req: ResizeRequest) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.call_unit("/resize", Some(serde_json::to_value(req)?))
                .await
        })
    }
    fn close_stdin(&self, exec_id: Option<String>) -> BoxFut<'_, ()> {
        Box::pin(self.call_unit("/close-stdin", Some(json!({ "exec_id": exec_id }))))
    }
    fn exec(&self, req: ExecRequest) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.call_unit("/exec", Some(serde_json::to_value(req)?))
                .await
        })
    }
    fn exec_start(&self, exec_id: String) -> BoxFut<'_, u32> {
        Box::pin(async move {
            let path = format!("/exec/{exec_id}/start");
            Ok(self
                .call::<PidResponse>(Method::POST, &path, None)
                .await?
                .pid)
        })
    }
    fn exec_state(&self, exec_id: String) -> BoxFut<'_, Value> {
        Box::pin(async move {
            self.call(Method::GET, &format!("/exec/{exec_id}"), None)
                .await
        })
    }
    fn wait(&self, exec_id: Option<String>) -> BoxFut<'_, ExitInfo> {
        Box::pin(async move {
            let bytes = self
                .call_raw(Method::POST, "/wait", Some(json!({ "exec_id": exec_id })))
                .await?;
            parse(&bytes)
        })
    }
    fn delete(&self) -> BoxFut<'_, ExitInfo> {
        Box::pin(self.call(Method::POST, "/delete", None))
    }
    fn update(&self, resources: Value) -> BoxFut<'_, ()> {
        Box::pin(self.call_unit("/update", Some(json!({ "resources": resources }))))
    }
    fn reopen_log(&self) -> BoxFut<'_, ()> {
        Box::pin(self.call_unit("/reopen-log", None))
    }
}

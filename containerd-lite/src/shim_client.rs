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
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{
    Empty, ErrorBody, ExecRequest, ExecState, ExitInfo, KillRequest, PidResponse, ProcessRef,
    ResizeRequest, ShimState, UpdateRequest,
};

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
    fn exec_state(&self, exec_id: String) -> BoxFut<'_, ExecState>;
    /// Blocks until the process exits.
    fn wait(&self, exec_id: Option<String>) -> BoxFut<'_, ExitInfo>;
    fn delete(&self) -> BoxFut<'_, ExitInfo>;
    /// New resource limits; shims without it refuse.
    fn update(&self, req: UpdateRequest) -> BoxFut<'_, ()> {
        let _ = req;
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

    async fn call_raw<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Vec<u8>> {
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
            Some(v) => Body::from(serde_json::to_vec(v)?),
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
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            return Err(Error::from_status(status.as_u16(), message));
        }
        Ok(bytes.to_vec())
    }

    async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        let bytes =
            match tokio::time::timeout(CALL_TIMEOUT, self.call_raw(method, path, body)).await {
                Ok(r) => r?,
                Err(_) => return Err(Error::Shim(format!("shim call {path} timed out"))),
            };
        parse(&bytes)
    }

    async fn call_unit<B: Serialize>(&self, path: &str, body: Option<&B>) -> Result<()> {
        let _: Empty = self.call(Method::POST, path, body).await?;
        Ok(())
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| Error::Shim(format!("bad answer from shim: {e}")))
}

/// No request body.
const NONE: Option<&Empty> = None;

impl ShimClient for HttpShimClient {
    fn state(&self) -> BoxFut<'_, ShimState> {
        Box::pin(self.call(Method::GET, "/state", NONE))
    }
    fn start(&self) -> BoxFut<'_, u32> {
        Box::pin(async move {
            Ok(self
                .call::<PidResponse, _>(Method::POST, "/start", NONE)
                .await?
                .pid)
        })
    }
    fn kill(&self, req: KillRequest) -> BoxFut<'_, ()> {
        Box::pin(async move { self.call_unit("/kill", Some(&req)).await })
    }
    fn pause(&self) -> BoxFut<'_, ()> {
        Box::pin(self.call_unit("/pause", NONE))
    }
    fn resume(&self) -> BoxFut<'_, ()> {
        Box::pin(self.call_unit("/resume", NONE))
    }
    fn resize(&self, req: ResizeRequest) -> BoxFut<'_, ()> {
        Box::pin(async move { self.call_unit("/resize", Some(&req)).await })
    }
    fn close_stdin(&self, exec_id: Option<String>) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.call_unit("/close-stdin", Some(&ProcessRef { exec_id }))
                .await
        })
    }
    fn exec(&self, req: ExecRequest) -> BoxFut<'_, ()> {
        Box::pin(async move { self.call_unit("/exec", Some(&req)).await })
    }
    fn exec_start(&self, exec_id: String) -> BoxFut<'_, u32> {
        Box::pin(async move {
            let path = format!("/exec/{exec_id}/start");
            Ok(self
                .call::<PidResponse, _>(Method::POST, &path, NONE)
                .await?
                .pid)
        })
    }
    fn exec_state(&self, exec_id: String) -> BoxFut<'_, ExecState> {
        Box::pin(async move {
            self.call(Method::GET, &format!("/exec/{exec_id}"), NONE)
                .await
        })
    }
    fn wait(&self, exec_id: Option<String>) -> BoxFut<'_, ExitInfo> {
        Box::pin(async move {
            let bytes = self
                .call_raw(Method::POST, "/wait", Some(&ProcessRef { exec_id }))
                .await?;
            parse(&bytes)
        })
    }
    fn delete(&self) -> BoxFut<'_, ExitInfo> {
        Box::pin(self.call(Method::POST, "/delete", NONE))
    }
    fn update(&self, req: UpdateRequest) -> BoxFut<'_, ()> {
        Box::pin(async move { self.call_unit("/update", Some(&req)).await })
    }
    fn reopen_log(&self) -> BoxFut<'_, ()> {
        Box::pin(self.call_unit("/reopen-log", NONE))
    }
}

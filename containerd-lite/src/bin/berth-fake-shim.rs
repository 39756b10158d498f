//! A fake berth-shim for berth-containerd's tests: it speaks the shim's control API
//! (docs/engine-protocol.md) on `STATE/shim.sock` but runs no container. The "container"
//! is simulated; `BUNDLE/fake.json` shapes it:
//! `{"fail_create": bool, "exit_after_ms": N, "exit_code": N, "oom": bool}` (exit by
//! itself after start, OOM-killed if `oom`).
//! A kill with signal S makes it exit with 128+S. Exec processes exit at once with 0.
//! `start` prints the socket once the shim proper says (a line on a pipe) it listens.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_containerd::model::{
    Empty, ErrorBody, ExecRequest, ExecState, ExitInfo, KillRequest, PidResponse, ProcessRef,
    ShimState,
};
use berth_containerd::persist::write_json_atomic;
use berth_proto::TaskStatus as Status;
use serde_json::{json, Value};
use tokio::sync::watch;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(cmd), Some(state)) = (args.first(), arg(&args, "--state-dir")) else {
        eprintln!("usage: berth-fake-shim start|serve --id ID --bundle DIR --state-dir DIR …");
        std::process::exit(2);
    };
    let bundle = PathBuf::from(arg(&args, "--bundle").unwrap_or_default());
    let cfg: Value = std::fs::read(bundle.join("fake.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(json!({}));
    let state = PathBuf::from(state);
    match cmd.as_str() {
        "start" => launch(&args, &state, &cfg),
        "serve" => serve(&state, cfg),
        _ => std::process::exit(2),
    }
}

/// Fork the shim proper, detached, and print its socket once it says it listens.
fn launch(args: &[String], state: &Path, cfg: &Value) {
    if cfg["fail_create"].as_bool() == Some(true) {
        eprintln!("fake runtime: create failed");
        std::process::exit(1);
    }
    let _ = std::fs::create_dir_all(state);
    let sock = state.join("shim.sock");
    let mut serve_args = args.to_vec();
    serve_args[0] = "serve".into();
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("berth-fake-shim"));
    let spawned = std::process::Command::new(exe)
        .args(&serve_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot fork the shim: {e}");
            std::process::exit(1);
        }
    };
    // The shim proper writes one line once its socket listens, then closes its stdout.
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    if line.trim() == "ready" {
        println!("{}", sock.display());
        std::process::exit(0);
    }
    eprintln!("the shim did not come up");
    std::process::exit(1);
}

struct Fake {
    state_dir: PathBuf,
    cfg: Value,
    status: Mutex<Status>,
    exit: watch::Sender<Option<ExitInfo>>,
    execs: Mutex<HashMap<String, watch::Sender<Option<ExitInfo>>>>,
    /// Notified by `/delete`: the process ends.
    done: Arc<tokio::sync::Notify>,
}

type S = State<Arc<Fake>>;

impl Fake {
    fn exit_with(&self, code: u32) {
        self.exit_info(ExitInfo::now(code))
    }

    fn exit_info(&self, info: ExitInfo) {
        if self.exit.borrow().is_some() {
            return;
        }
        let _ = write_json_atomic(&self.state_dir.join("exit.json"), &info);
        if let Ok(mut s) = self.status.lock() {
            *s = Status::Stopped;
        }
        self.exit.send_replace(Some(info));
    }
}

#[tokio::main(flavor = "current_thread")]
async fn serve(state: &Path, cfg: Value) {
    let pid = std::process::id();
    let _ = std::fs::write(state.join("shim.pid"), pid.to_string());
    let _ = std::fs::write(state.join("init.pid"), pid.to_string());
    let fake = Arc::new(Fake {
        state_dir: state.to_path_buf(),
        cfg,
        status: Mutex::new(Status::Created),
        exit: watch::channel(None).0,
        execs: Mutex::new(HashMap::new()),
        done: Arc::new(tokio::sync::Notify::new()),
    });
    let app = Router::new()
        .route("/state", get(state_h))
        .route("/start", post(start))
        .route("/kill", post(kill))
        .route(
            "/pause",
            post(|s: S| async move { set(&s, Status::Running, Status::Paused) }),
        )
        .route(
            "/resume",
            post(|s: S| async move { set(&s, Status::Paused, Status::Running) }),
        )
        .route("/resize", post(|| async { Json(Empty {}) }))
        .route("/close-stdin", post(|| async { Json(Empty {}) }))
        .route("/exec", post(exec))
        .route("/exec/{eid}/start", post(exec_start))
        .route("/exec/{eid}", get(exec_state))
        .route("/wait", post(wait))
        .route("/delete", post(delete))
        .with_state(fake.clone());
    // Bind under a temporary name and rename once listening: `start` sees the socket
    // only when it accepts connections.
    let sock = state.join("shim.sock");
    let tmp = state.join("shim.sock.tmp");
    let _ = std::fs::remove_file(&tmp);
    let Ok(listener) = tokio::net::UnixListener::bind(&tmp) else {
        std::process::exit(1)
    };
    if std::fs::rename(&tmp, &sock).is_err() {
        std::process::exit(1);
    }
    say_ready();
    // `/delete` ends the process once its answer is out (the wait connections of
    // execs that never ended are cut after a while).
    let shutdown = fake.done.clone();
    let serving =
        axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.notified().await });
    let _ = tokio::time::timeout(Duration::from_secs(5), serving).await;
    let _ = std::fs::remove_file(sock);
    std::process::exit(0);
}

/// "ready" on stdout (the launcher's pipe; nothing else is ever written there).
fn say_ready() {
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "ready");
    let _ = out.flush();
}

type Failure = (StatusCode, Json<ErrorBody>);
type R<T = Empty> = Result<Json<T>, Failure>;

fn err(code: StatusCode, msg: &str) -> Failure {
    (
        code,
        Json(ErrorBody {
            message: msg.to_string(),
        }),
    )
}

fn set(s: &Fake, from: Status, to: Status) -> R {
    let mut st = s
        .status
        .lock()
        .map_err(|_| err(StatusCode::INTERNAL_SERVER_ERROR, "lock"))?;
    if *st != from {
        return Err(err(StatusCode::CONFLICT, &format!("container is {}", *st)));
    }
    *st = to;
    Ok(Json(Empty {}))
}

async fn state_h(State(s): S) -> Json<ShimState> {
    let exit = s.exit.borrow().clone();
    let status = *s.status.lock().unwrap_or_else(|p| p.into_inner());
    Json(ShimState {
        id: String::new(),
        pid: std::process::id(),
        status,
        terminal: false,
        exit_status: exit.as_ref().map(|e| e.exit_status),
        exited_at: exit.as_ref().map(|e| e.exited_at.clone()),
        oom_killed: exit.as_ref().is_some_and(|e| e.oom_killed),
    })
}

async fn start(State(s): S) -> R<PidResponse> {
    let _ = set(&s, Status::Created, Status::Running)?;
    if let Some(ms) = s.cfg["exit_after_ms"].as_u64() {
        let code = s.cfg["exit_code"].as_u64().unwrap_or(0) as u32;
        let oom = s.cfg["oom"].as_bool().unwrap_or(false);
        let f = s.clone();
        tokio::spawn(async move {
            // The simulated container runs for `exit_after_ms`, then exits by itself.
            tokio::time::sleep(Duration::from_millis(ms)).await;
            f.exit_info(ExitInfo {
                oom_killed: oom,
                ..ExitInfo::now(code)
            });
        });
    }
    Ok(Json(PidResponse {
        pid: std::process::id(),
    }))
}

async fn kill(State(s): S, b: Bytes) -> R {
    let req: KillRequest =
        serde_json::from_slice(&b).map_err(|e| err(StatusCode::BAD_REQUEST, &e.to_string()))?;
    if let Some(eid) = req.exec_id {
        return match s.execs.lock().map(|m| m.contains_key(&eid)) {
            Ok(true) => Ok(Json(Empty {})),
            _ => Err(err(StatusCode::NOT_FOUND, "no such exec")),
        };
    }
    if s.exit.borrow().is_some() {
        return Err(err(StatusCode::CONFLICT, "process already finished"));
    }
    s.exit_with(128 + req.signal.unsigned_abs());
    Ok(Json(Empty {}))
}

async fn exec(State(s): S, b: Bytes) -> R {
    let req: ExecRequest =
        serde_json::from_slice(&b).map_err(|e| err(StatusCode::BAD_REQUEST, &e.to_string()))?;
    let eid = req.exec_id;
    let mut m = s
        .execs
        .lock()
        .map_err(|_| err(StatusCode::INTERNAL_SERVER_ERROR, "lock"))?;
    if m.contains_key(&eid) {
        return Err(err(StatusCode::CONFLICT, "exec exists"));
    }
    m.insert(eid, watch::channel(None).0);
    Ok(Json(Empty {}))
}

async fn exec_start(State(s): S, UrlPath(eid): UrlPath<String>) -> R<PidResponse> {
    let m = s
        .execs
        .lock()
        .map_err(|_| err(StatusCode::INTERNAL_SERVER_ERROR, "lock"))?;
    let tx = m
        .get(&eid)
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "no such exec"))?
        .clone();
    // The simulated exec exits at once, with 0.
    let info = ExitInfo::now(0);
    let _ = write_json_atomic(
        &s.state_dir.join(berth_proto::files::exec_exit_file(&eid)),
        &info,
    );
    tx.send_replace(Some(info));
    Ok(Json(PidResponse {
        pid: std::process::id() + 1,
    }))
}

async fn exec_state(State(s): S, UrlPath(eid): UrlPath<String>) -> R<ExecState> {
    let m = s
        .execs
        .lock()
        .map_err(|_| err(StatusCode::INTERNAL_SERVER_ERROR, "lock"))?;
    let tx = m
        .get(&eid)
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "no such exec"))?;
    let exit = tx.borrow().clone();
    Ok(Json(ExecState {
        status: if exit.is_some() {
            Status::Stopped
        } else {
            Status::Running
        },
        exec_id: eid,
        pid: std::process::id() + 1,
        exit_status: exit.as_ref().map(|e| e.exit_status),
        exited_at: exit.as_ref().map(|e| e.exited_at.clone()),
    }))
}

async fn wait(State(s): S, b: Bytes) -> R<ExitInfo> {
    let req: ProcessRef = berth_proto::body_or_default(&b)
        .map_err(|e| err(StatusCode::BAD_REQUEST, &e.to_string()))?;
    let mut rx = match req.exec_id {
        Some(eid) => s
            .execs
            .lock()
            .ok()
            .and_then(|m| m.get(&eid).map(|t| t.subscribe()))
            .ok_or_else(|| err(StatusCode::NOT_FOUND, "no such exec"))?,
        None => s.exit.subscribe(),
    };
    let exit = rx
        .wait_for(Option::is_some)
        .await
        .map(|v| v.clone())
        .ok()
        .flatten();
    let exit = exit.ok_or_else(|| err(StatusCode::INTERNAL_SERVER_ERROR, "gone"))?;
    Ok(Json(exit))
}

async fn delete(State(s): S) -> R<ExitInfo> {
    let st = *s.status.lock().unwrap_or_else(|p| p.into_inner());
    match st {
        Status::Created => s.exit_with(137),
        Status::Stopped => {}
        _ => return Err(err(StatusCode::CONFLICT, "container is running")),
    }
    let exit = s
        .exit
        .borrow()
        .clone()
        .unwrap_or_else(|| ExitInfo::now(255));
    s.done.notify_one();
    Ok(Json(exit))
}

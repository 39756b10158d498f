//! The wire types of both APIs this process speaks (the shim's, which it calls, and its
//! own): all of them live in `berth-proto`, shared with berthd and berth-shim.

pub use berth_proto::{
    body_or_default, now_rfc3339, CreateTaskRequest, CreateTaskResponse, Empty, ErrorBody,
    ExecRequest, ExecState, ExitInfo, KillRequest, LogConfig, LogFormat, PidResponse, ProcessRef,
    ResizeRequest, ShimState, TaskView, UpdateRequest,
};

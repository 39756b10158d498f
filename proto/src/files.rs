//! The files of a task's state folder (`<containerd state>/tasks/<id>/`), which the shim
//! writes and berth-containerd reads after a restart.

/// The shim's control API socket.
pub const SHIM_SOCKET: &str = "shim.sock";
/// The shim's attach socket (container stdio).
pub const ATTACH_SOCKET: &str = "attach.sock";
/// The shim's own pid.
pub const SHIM_PID: &str = "shim.pid";
/// The container's init pid, written by the runtime.
pub const INIT_PID: &str = "init.pid";
/// The init's [`crate::ExitInfo`], written the moment it is reaped: the truth after
/// any restart.
pub const EXIT_FILE: &str = "exit.json";
/// berth-containerd's record of the task (written before the shim starts).
pub const TASK_FILE: &str = "task.json";

/// An exec process's [`crate::ExitInfo`] file.
pub fn exec_exit_file(exec_id: &str) -> String {
    format!("exec-{exec_id}.exit.json")
}

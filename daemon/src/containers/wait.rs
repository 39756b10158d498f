//! `POST /containers/{id}/wait?condition=not-running|next-exit|removed`.
use super::{ContainerError, Result};
use crate::state::SharedDaemon;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    NotRunning,
    NextExit,
    Removed,
}

impl Condition {
    pub fn parse(s: Option<&str>) -> Result<Condition> {
        match s.unwrap_or("") {
            "" | "not-running" => Ok(Condition::NotRunning),
            "next-exit" => Ok(Condition::NextExit),
            "removed" => Ok(Condition::Removed),
            other => Err(ContainerError::Invalid(format!(
                "invalid condition: \"{other}\""
            ))),
        }
    }
}

/// Looks the container up now (404 before any wait), and returns a future of its exit code.
pub fn wait(
    daemon: &SharedDaemon,
    reference: &str,
    condition: Condition,
) -> Result<impl std::future::Future<Output = i64> + Send + 'static> {
    let c = daemon.containers.lookup(reference)?;
    let mut rx = daemon
        .containers
        .watch(&c.id)
        .ok_or_else(|| ContainerError::NotFound(reference.to_string()))?;
    let daemon = daemon.clone();
    let start = *rx.borrow_and_update();
    Ok(async move {
        loop {
            let now = *rx.borrow_and_update();
            let current = daemon.containers.get(&c.id);
            let code = current
                .as_ref()
                .map(|x| x.state.exit_code)
                .unwrap_or(now.exit_code);
            match condition {
                // As dockerd: the next exit ends the wait even when the restart
                // policy brings the container back (its `SetRestarting` wakes them).
                Condition::NotRunning => match &current {
                    None => return code,
                    _ if now.exits > start.exits => return now.exit_code,
                    Some(x)
                        if !x.state.status.is_running()
                            && x.state.status != super::Status::Restarting =>
                    {
                        return code
                    }
                    _ => {}
                },
                Condition::NextExit => {
                    if now.exits > start.exits || now.removed {
                        return now.exit_code;
                    }
                }
                Condition::Removed => {
                    if now.removed {
                        return now.exit_code;
                    }
                }
            }
            if rx.changed().await.is_err() {
                return code;
            }
        }
    })
}

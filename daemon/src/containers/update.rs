//! `POST /containers/{id}/update`: new resources (and restart policy) for a container,
//! recorded and, while it runs, applied through the runtime's `update`. The answer's
//! warnings name what the host cannot apply (discarded, as dockerd does).
use bollard_stubs::models::{ContainerUpdateBody, HostConfig, RestartPolicyNameEnum};
use serde_json::Value;

use super::{resources, ContainerError, Result};
use crate::state::SharedDaemon;

/// Whether a JSON value is what dockerd treats as "not given" (zero, empty, null).
fn unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(b) => !b,
    }
}

/// HostConfig with the update's given fields written over it, as dockerd's
/// `updateHostConfig` does (only non-zero fields; RestartPolicy when it names one).
pub fn merged(hc: &HostConfig, update: &ContainerUpdateBody) -> Result<HostConfig> {
    let mut base = serde_json::to_value(hc).map_err(|e| ContainerError::Internal(e.to_string()))?;
    let changes =
        serde_json::to_value(update).map_err(|e| ContainerError::Invalid(e.to_string()))?;
    if let (Some(b), Some(c)) = (base.as_object_mut(), changes.as_object()) {
        for (k, v) in c {
            if k == "RestartPolicy" {
                if v.get("Name").is_some_and(|n| !unset(n)) {
                    b.insert(k.clone(), v.clone());
                }
            } else if !unset(v) {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    serde_json::from_value(base).map_err(|e| ContainerError::Invalid(e.to_string()))
}

pub async fn update(
    daemon: &SharedDaemon,
    reference: &str,
    body: ContainerUpdateBody,
) -> Result<Vec<String>> {
    let c = daemon.containers.lookup(reference)?;
    let mut next = merged(&c.host_config, &body)?;
    let warnings =
        super::block_io::discard_unsupported(&mut next, super::block_io::Support::of_host());
    let memory_given = body.memory.unwrap_or(0) != 0;
    let swap_given = body.memory_swap.unwrap_or(0) != 0;
    let old_swap = c.host_config.memory_swap.unwrap_or(0);
    if memory_given && !swap_given && old_swap > 0 && next.memory.unwrap_or(0) > old_swap {
        return Err(ContainerError::Invalid(
            "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time".into(),
        ));
    }
    resources::validate(&next, crate::api::host::ncpu())?;
    super::cpu_rt::validate(&next, super::cpu_rt::kernel_supports)?;
    if let Some(p) = &next.restart_policy {
        super::create_checks::validate_restart_policy(p)?;
    }
    let named = !matches!(
        next.restart_policy.as_ref().and_then(|p| p.name),
        None | Some(RestartPolicyNameEnum::EMPTY) | Some(RestartPolicyNameEnum::NO)
    );
    if named && next.auto_remove == Some(true) {
        return Err(ContainerError::Invalid(
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
                .into(),
        ));
    }
    if c.state.status.is_running() {
        let mut oci = resources::oci_resources(&next);
        if let Some(io) = super::block_io::oci_block_io(&next)? {
            oci["blockIO"] = io;
        }
        daemon
            .engine
            .update(c.task_id(), &berth_proto::UpdateRequest { resources: oci })
            .await
            .map_err(|e| {
                ContainerError::Internal(format!("Cannot update container {}: {e}", c.id))
            })?;
    }
    daemon.containers.update(&c.id, |r| {
        r.host_config = next.clone();
        Ok(())
    })?;
    daemon
        .events
        .publish("container", "update", &c.id, c.event_attributes());
    Ok(warnings)
}

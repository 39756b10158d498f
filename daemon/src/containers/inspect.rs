//! `GET /containers/{id}/json`: dockerd's shape, field for field (null versus empty
//! included), from the record.
use serde_json::{json, Value};

use super::record::{Container, Status};
use super::{format_time, rootfs, ZERO_TIME};
use crate::state::Daemon;

fn time_or_zero(t: &Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.as_ref()
        .map(format_time)
        .unwrap_or_else(|| ZERO_TIME.into())
}

/// `State`.
pub fn state_json(c: &Container) -> Value {
    let s = &c.state;
    let mut state = json!({
        "Status": s.status.as_str(),
        "Running": s.status.is_running(),
        "Paused": s.status == Status::Paused,
        "Restarting": s.status == Status::Restarting,
        "OOMKilled": s.oom_killed,
        "Dead": s.status == Status::Dead,
        "Pid": if s.status.is_running() { s.pid } else { 0 },
        "ExitCode": s.exit_code,
        "Error": s.error,
        "StartedAt": time_or_zero(&s.started_at),
        "FinishedAt": time_or_zero(&s.finished_at),
    });
    if let Some(h) = &c.health {
        state["Health"] = health_json(h);
    }
    state
}

/// `State.Health`: present once a container with a healthcheck has started.
fn health_json(h: &super::record::Health) -> Value {
    let log: Vec<Value> = h
        .log
        .iter()
        .map(|r| {
            json!({
                "Start": time_or_zero(&r.start),
                "End": time_or_zero(&r.end),
                "ExitCode": r.exit_code,
                "Output": r.output,
            })
        })
        .collect();
    json!({ "Status": h.status, "FailingStreak": h.failing_streak, "Log": log })
}

/// Overlays `given` (only the fields that were set) on `defaults`.
fn overlay(mut defaults: Value, given: Value) -> Value {
    if let (Some(d), Value::Object(g)) = (defaults.as_object_mut(), given) {
        for (k, v) in g {
            d.insert(k, v);
        }
    }
    defaults
}

/// `HostConfig` with the fields dockerd always shows.
pub fn host_config_json(c: &Container, default_runtime: &str) -> Value {
    let privileged = c.host_config.privileged == Some(true);
    let (masked, readonly) = if privileged {
        (Value::Null, Value::Null)
    } else {
        (
            json!(crate::security::paths::masked_paths()),
            json!(crate::security::paths::readonly_paths()),
        )
    };
    let defaults = json!({
        "Binds": null, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "default", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null, "ConsoleSize": [0, 0],
        "CapAdd": null, "CapDrop": null, "CgroupnsMode": "host", "Dns": [], "DnsOptions": [],
        "DnsSearch": [], "ExtraHosts": null, "GroupAdd": null, "IpcMode": "private", "Cgroup": "",
        "Links": null, "OomScoreAdj": 0, "PidMode": "", "Privileged": false, "PublishAllPorts": false,
        "ReadonlyRootfs": false, "SecurityOpt": null, "UTSMode": "", "UsernsMode": "",
        "ShmSize": super::spec::DEFAULT_SHM_SIZE, "Runtime": default_runtime, "Isolation": "",
        "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
        "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0,
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
        "Devices": [], "DeviceCgroupRules": null, "DeviceRequests": null, "MemoryReservation": 0,
        "MemorySwap": 0, "MemorySwappiness": null, "OomKillDisable": null, "PidsLimit": null,
        "Ulimits": [], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "MaskedPaths": masked, "ReadonlyPaths": readonly,
    });
    let given = serde_json::to_value(&c.host_config).unwrap_or(Value::Null);
    let mut out = overlay(defaults, given);
    if out["Runtime"] == json!("") {
        out["Runtime"] = json!(default_runtime);
    }
    out
}

/// `Config` with the fields dockerd always shows.
pub fn config_json(c: &Container) -> Value {
    let defaults = json!({
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false, "AttachStdout": false,
        "AttachStderr": false, "Tty": false, "OpenStdin": false, "StdinOnce": false, "Env": null,
        "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "", "Entrypoint": null,
        "OnBuild": null, "Labels": {},
    });
    let given = serde_json::to_value(&c.config).unwrap_or(Value::Null);
    overlay(defaults, given)
}

fn graph_driver(daemon: &Daemon, c: &Container) -> Value {
    // The init layer first, as dockerd's `<id>-init/diff`.
    let lowers = rootfs::container_lowers(c, &daemon.config.data_root.join("layers"))
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    json!({
        "Data": {
            "LowerDir": lowers,
            "MergedDir": c.merged_dir().display().to_string(),
            "UpperDir": c.upper_dir().display().to_string(),
            "WorkDir": c.work_dir().display().to_string(),
        },
        "Name": "overlay2",
    })
}

fn exec_ids(daemon: &Daemon, c: &Container) -> Value {
    let ids = daemon.execs.of_container(&c.id);
    if ids.is_empty() {
        Value::Null
    } else {
        json!(ids)
    }
}

/// The whole inspect document.
pub fn inspect(daemon: &Daemon, c: &Container) -> Value {
    let log_path = if c.log_driver() == "none" {
        String::new()
    } else {
        c.log_path().display().to_string()
    };
    json!({
        "Id": c.id,
        "Created": format_time(&c.created),
        "Path": c.path,
        "Args": c.args,
        "State": state_json(c),
        "Image": c.image_id,
        "ResolvConfPath": c.resolv_conf_path().display().to_string(),
        "HostnamePath": c.hostname_path().display().to_string(),
        "HostsPath": c.hosts_path().display().to_string(),
        "LogPath": log_path,
        "Name": c.name,
        "RestartCount": c.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": exec_ids(daemon, c),
        "HostConfig": host_config_json(c, &daemon.config.default_runtime),
        "GraphDriver": graph_driver(daemon, c),
        "Mounts": super::mounts_spec::mounts_json(c),
        "Config": config_json(c),
        "NetworkSettings": crate::networks::settings::network_settings(daemon, c),
    })
}

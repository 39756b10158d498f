//! The config of a committed image, as dockerd's `CreateImageFromContainer`: the given
//! config (or the container's), the `--change` Dockerfile instructions applied
//! (`BuildFromConfig`), then completed from the container's config (`merge`).
use serde_json::{json, Map, Value};

use super::{ContainerError, Result};

/// Instructions `docker commit --change` accepts (dockerd's `validCommitCommands`).
const VALID: &[&str] = &[
    "cmd",
    "entrypoint",
    "healthcheck",
    "env",
    "expose",
    "label",
    "onbuild",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// Go's `container.Config` as dockerd writes it: the fields without `omitempty` always
/// present, the rest only when set.
pub fn go_config(config: &Value) -> Value {
    let mut out: Map<String, Value> = serde_json::from_value(json!({
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
        "AttachStdout": false, "AttachStderr": false, "Tty": false, "OpenStdin": false,
        "StdinOnce": false, "Env": null, "Cmd": null, "Image": "", "Volumes": null,
        "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": null
    }))
    .unwrap_or_default();
    if let Some(given) = config.as_object() {
        for (k, v) in given {
            let unset = v.is_null() || v.as_str() == Some("");
            if out.contains_key(k) || !unset {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// Applies the `--change` instructions to `config` (a Go-shaped config object).
pub fn apply_changes(config: &mut Value, changes: &[String]) -> Result<()> {
    let mut cmd_set = false;
    for line in changes
        .iter()
        .flat_map(|c| c.lines())
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.starts_with('#'))
    {
        let (instruction, args) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let instruction = instruction.to_ascii_lowercase();
        let args = args.trim();
        if !VALID.contains(&instruction.as_str()) {
            return Err(ContainerError::Invalid(format!(
                "{instruction} is not a valid change command"
            )));
        }
        match instruction.as_str() {
            "cmd" => {
                config["Cmd"] = command_form(args);
                cmd_set = true;
            }
            "entrypoint" => {
                config["Entrypoint"] = command_form(args);
                if !cmd_set {
                    config["Cmd"] = Value::Null;
                }
            }
            "workdir" => {
                let current = config["WorkingDir"].as_str().unwrap_or("").to_string();
                config["WorkingDir"] = json!(if args.starts_with('/') || current.is_empty() {
                    args.to_string()
                } else {
                    format!("{}/{args}", current.trim_end_matches('/'))
                });
            }
            "user" => config["User"] = json!(args),
            "stopsignal" => config["StopSignal"] = json!(args),
            "onbuild" => push(config, "OnBuild", json!(args)),
            "env" => {
                for (k, v) in key_values(args) {
                    set_env(config, &k, &v);
                }
            }
            "label" => {
                for (k, v) in key_values(args) {
                    object(config, "Labels").insert(k, json!(v));
                }
            }
            "expose" => {
                for port in args.split_whitespace() {
                    let port = if port.contains('/') {
                        port.to_string()
                    } else {
                        format!("{port}/tcp")
                    };
                    object(config, "ExposedPorts").insert(port, json!({}));
                }
            }
            "volume" => {
                let paths: Vec<String> = serde_json::from_str(args)
                    .unwrap_or_else(|_| args.split_whitespace().map(str::to_string).collect());
                for path in paths {
                    object(config, "Volumes").insert(path, json!({}));
                }
            }
            "healthcheck" => config["Healthcheck"] = healthcheck(args)?,
            _ => {}
        }
    }
    Ok(())
}

/// dockerd's `merge`: what the new config leaves unset comes from the container's.
pub fn merge(user: &mut Value, container: &Value) {
    let empty = |v: &Value| {
        v.is_null()
            || v.as_str() == Some("")
            || v.as_array().is_some_and(Vec::is_empty)
            || v.as_object().is_some_and(Map::is_empty)
    };
    for key in ["User", "WorkingDir", "StopSignal"] {
        if empty(&user[key]) && !empty(&container[key]) {
            user[key] = container[key].clone();
        }
    }
    if let Some(ports) = container["ExposedPorts"].as_object() {
        let target = object(user, "ExposedPorts");
        for (k, v) in ports {
            target.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if empty(&user["Env"]) {
        user["Env"] = container["Env"].clone();
    } else if let Some(env) = container["Env"].as_array() {
        for item in env.iter().filter_map(Value::as_str) {
            let key = item.split('=').next().unwrap_or("");
            let known = user["Env"].as_array().is_some_and(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .any(|u| u.split('=').next() == Some(key))
            });
            if !known {
                push(user, "Env", json!(item));
            }
        }
    }
    let labels = container["Labels"].as_object().cloned().unwrap_or_default();
    let target = object(user, "Labels");
    for (k, v) in labels {
        target.entry(k).or_insert(v);
    }
    if empty(&user["Entrypoint"]) {
        if empty(&user["Cmd"]) {
            user["Cmd"] = container["Cmd"].clone();
        }
        if user["Entrypoint"].is_null() {
            user["Entrypoint"] = container["Entrypoint"].clone();
        }
    }
    if user["Healthcheck"].is_null() && !container["Healthcheck"].is_null() {
        user["Healthcheck"] = container["Healthcheck"].clone();
    }
    if empty(&user["Volumes"]) {
        user["Volumes"] = container["Volumes"].clone();
    } else if let Some(volumes) = container["Volumes"].as_object() {
        let target = object(user, "Volumes");
        for (k, v) in volumes {
            target.insert(k.clone(), v.clone());
        }
    }
}

fn object<'a>(config: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !config[key].is_object() {
        config[key] = json!({});
    }
    config[key].as_object_mut().expect("just made an object")
}

fn push(config: &mut Value, key: &str, item: Value) {
    if !config[key].is_array() {
        config[key] = json!([]);
    }
    if let Some(list) = config[key].as_array_mut() {
        list.push(item);
    }
}

/// ENV replaces a variable of the same name (as a Dockerfile build does).
fn set_env(config: &mut Value, key: &str, value: &str) {
    let item = json!(format!("{key}={value}"));
    if let Some(list) = config["Env"].as_array_mut() {
        if let Some(slot) = list
            .iter_mut()
            .find(|e| e.as_str().and_then(|s| s.split('=').next()) == Some(key))
        {
            *slot = item;
            return;
        }
    }
    push(config, "Env", item);
}

/// JSON form `["a","b"]` as is; shell form wrapped in `/bin/sh -c`.
fn command_form(args: &str) -> Value {
    match serde_json::from_str::<Vec<String>>(args) {
        Ok(list) => json!(list),
        Err(_) => json!(["/bin/sh", "-c", args]),
    }
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [--interval=D …] CMD …`.
fn healthcheck(args: &str) -> Result<Value> {
    let mut rest = args.trim();
    let mut check = Map::new();
    while let Some(flag) = rest.strip_prefix("--") {
        let (item, after) = flag.split_once(char::is_whitespace).unwrap_or((flag, ""));
        let (name, value) = item.split_once('=').unwrap_or((item, ""));
        let key = match name {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "start-interval" => "StartInterval",
            "retries" => "Retries",
            other => return Err(ContainerError::Invalid(format!("Unknown flag: {other}"))),
        };
        let parsed = if key == "Retries" {
            value.parse::<i64>().ok()
        } else {
            go_duration(value)
        };
        let Some(n) = parsed else {
            return Err(ContainerError::Invalid(format!(
                "invalid value for --{name}: {value:?}"
            )));
        };
        check.insert(key.into(), json!(n));
        rest = after.trim();
    }
    let (kind, command) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let test = match kind.to_ascii_uppercase().as_str() {
        "NONE" => json!(["NONE"]),
        "CMD" => match serde_json::from_str::<Vec<String>>(command.trim()) {
            Ok(list) => {
                let mut t = vec!["CMD".to_string()];
                t.extend(list);
                json!(t)
            }
            Err(_) => json!(["CMD-SHELL", command.trim()]),
        },
        _ => {
            return Err(ContainerError::Invalid(
                "Unknown type in HEALTHCHECK (try CMD or NONE)".into(),
            ))
        }
    };
    check.insert("Test".into(), test);
    Ok(Value::Object(check))
}

/// Go's `time.ParseDuration` for what Dockerfiles use ("30s", "1m30s", "500ms"), in ns.
fn go_duration(text: &str) -> Option<i64> {
    crate::images::filters::parse_go_duration(text).and_then(|d| d.num_nanoseconds())
}

/// `A=1 B="two words"` or the legacy `A value with spaces`.
pub(crate) fn key_values(args: &str) -> Vec<(String, String)> {
    if !args.contains('=') {
        return match args.split_once(char::is_whitespace) {
            Some((k, v)) => vec![(k.to_string(), v.trim().to_string())],
            None => vec![(args.to_string(), String::new())],
        };
    }
    let mut pairs = Vec::new();
    let mut rest = args.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, n)) => (v.to_string(), n),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.split_once(char::is_whitespace) {
                Some((v, n)) => (v.to_string(), n),
                None => (after.to_string(), ""),
            }
        };
        pairs.push((key.trim().to_string(), value));
        rest = next.trim();
    }
    pairs
}

#[cfg(test)]
#[path = "commit_config_tests.rs"]
mod tests;

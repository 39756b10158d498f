//! `update`: new resource limits for a live container, from an OCI
//! LinuxResources document (`--resources FILE|-`) and/or runc's flags. The
//! change is merged into the resources recorded in state.json (so that a later
//! update of one value keeps the others) and written to the cgroup.
use crate::error::{Error, Result};
use crate::state::{State, Status};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};
use std::path::Path;

/// runc's update flags; memory values accept runc's sizes ("64m", "1g", "-1").
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
}

/// A size as runc's update takes it (go-units' RAMInBytes): a number with an
/// optional binary unit k, m, g, t, p (an optional trailing "b"), or -1.
pub fn parse_bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: i64 = match c {
                'k' => 1 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                't' => 1 << 40,
                'p' => 1 << 50,
                _ => return Err(Error::Spec(format!("invalid size {s:?}"))),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| Error::Spec(format!("invalid size {s:?}")))?;
    if n < 0.0 {
        return Err(Error::Spec(format!("invalid size {s:?}")));
    }
    Ok((n * mult as f64) as i64)
}

/// The change asked for, as OCI JSON: the document first, the flags over it.
pub fn change(doc: Option<&str>, f: &Flags) -> Result<Value> {
    let mut v: Value = match doc {
        Some(d) => serde_json::from_str(d).map_err(|e| Error::Json("resources".into(), e))?,
        None => json!({}),
    };
    if !v.is_object() {
        return Err(Error::Spec("resources must be a JSON object".into()));
    }
    let mut set = |section: &str, key: &str, val: Value| {
        let s = v
            .as_object_mut()
            .map(|o| o.entry(section).or_insert_with(|| json!({})));
        if let Some(Value::Object(o)) = s {
            o.insert(key.into(), val);
        }
    };
    for (key, val) in [
        ("limit", &f.memory),
        ("swap", &f.memory_swap),
        ("reservation", &f.memory_reservation),
    ] {
        if let Some(x) = val {
            set("memory", key, json!(parse_bytes(x)?));
        }
    }
    if let Some(x) = f.cpu_shares {
        set("cpu", "shares", json!(x));
    }
    if let Some(x) = f.cpu_quota {
        set("cpu", "quota", json!(x));
    }
    if let Some(x) = f.cpu_period {
        set("cpu", "period", json!(x));
    }
    if let Some(x) = &f.cpuset_cpus {
        set("cpu", "cpus", json!(x));
    }
    if let Some(x) = &f.cpuset_mems {
        set("cpu", "mems", json!(x));
    }
    if let Some(x) = f.pids_limit {
        set("pids", "limit", json!(x));
    }
    // As runc: an unlimited memory limit without a swap value lifts swap too.
    if let Some(m) = v.get_mut("memory").and_then(Value::as_object_mut) {
        if m.get("limit") == Some(&json!(-1)) && !m.contains_key("swap") {
            m.insert("swap".into(), json!(-1));
        }
    }
    Ok(v)
}

/// Recursive overlay of `b` on `a`. Nulls, zeros and empty strings in `b`
/// mean "unchanged" (as the cgroup writers read them) and do not erase.
pub fn merge(a: &mut Value, b: &Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() || v.as_f64() == Some(0.0) || v.as_str() == Some("") {
                    continue;
                }
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b.clone(),
    }
}

/// Values a cgroup file needs together: cpu quota with its period (v2's
/// cpu.max), swap with the memory limit (v2's memory.swap.max = swap - limit).
fn complete(delta: &mut Value, merged: &Value) {
    let pairs = [("cpu", ["quota", "period"]), ("memory", ["swap", "limit"])];
    for (section, keys) in pairs {
        let Some(d) = delta.get_mut(section).and_then(Value::as_object_mut) else {
            continue;
        };
        let unset = |d: &Map<String, Value>, k: &str| {
            d.get(k)
                .is_none_or(|x| x.is_null() || x.as_f64() == Some(0.0))
        };
        let trigger = if section == "cpu" {
            keys.iter().any(|k| !unset(d, k))
        } else {
            !unset(d, "swap")
        };
        if !trigger {
            continue;
        }
        for k in keys {
            if unset(d, k) {
                if let Some(x) = merged.get(section).and_then(|s| s.get(k)) {
                    d.insert(k.into(), x.clone());
                }
            }
        }
    }
}

fn to_resources(v: &Value) -> Result<LinuxResources> {
    serde_json::from_value(v.clone()).map_err(|e| Error::Json("resources".into(), e))
}

/// Applies `delta` (OCI LinuxResources JSON) to the container `id`.
pub fn update(root: &Path, id: &str, mut delta: Value) -> Result<()> {
    let mut st = State::load(root, id)?;
    if st.status(root) == Status::Stopped {
        return Err(Error::State(format!(
            "cannot update stopped container {id}"
        )));
    }
    let cg = st
        .cgroup
        .clone()
        .ok_or_else(|| Error::Cgroup("container has no cgroup".into()))?;
    let mut merged = match &st.resources {
        Some(r) => serde_json::to_value(r).map_err(|e| Error::Json("resources".into(), e))?,
        None => Value::Object(Map::new()),
    };
    merge(&mut merged, &delta);
    complete(&mut delta, &merged);
    let r = to_resources(&delta)?;
    let merged = to_resources(&merged)?;
    cg.update(&r)?;
    st.resources = Some(merged);
    st.save(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_runc() {
        assert_eq!(parse_bytes("1024").expect("n"), 1024);
        assert_eq!(parse_bytes("64m").expect("m"), 64 << 20);
        assert_eq!(parse_bytes("1G").expect("g"), 1 << 30);
        assert_eq!(parse_bytes("2kb").expect("kb"), 2048);
        assert_eq!(parse_bytes("1.5k").expect("1.5k"), 1536);
        assert_eq!(parse_bytes("-1").expect("-1"), -1);
        assert!(parse_bytes("x").is_err());
        assert!(parse_bytes("5q").is_err());
        assert!(parse_bytes("-5").is_err());
    }

    #[test]
    fn flags_over_document() {
        let f = Flags {
            memory: Some("32m".into()),
            cpu_shares: Some(512),
            pids_limit: Some(10),
            ..Default::default()
        };
        let v = change(Some(r#"{"memory":{"limit":1,"reservation":2}}"#), &f).expect("change");
        assert_eq!(v["memory"]["limit"], 32 << 20);
        assert_eq!(v["memory"]["reservation"], 2);
        assert_eq!(v["cpu"]["shares"], 512);
        assert_eq!(v["pids"]["limit"], 10);
        let v = change(
            None,
            &Flags {
                memory: Some("-1".into()),
                ..Default::default()
            },
        )
        .expect("change");
        assert_eq!(v["memory"]["swap"], -1);
        assert!(change(Some("[1]"), &Flags::default()).is_err());
    }

    #[test]
    fn merge_and_complete() {
        let mut merged = json!({"cpu": {"quota": 50000, "period": 200000, "shares": 2}});
        let mut delta =
            json!({"cpu": {"quota": 10000, "period": 0, "shares": 0}, "memory": {"limit": 5}});
        merge(&mut merged, &delta);
        assert_eq!(merged["cpu"]["quota"], 10000);
        assert_eq!(merged["cpu"]["shares"], 2);
        assert_eq!(merged["memory"]["limit"], 5);
        complete(&mut delta, &merged);
        assert_eq!(delta["cpu"]["period"], 200000);
        assert_eq!(delta["cpu"]["shares"], 0);
        assert!(delta["memory"].get("swap").is_none());
        to_resources(&delta).expect("valid resources");
    }
}

//! Read-only commands: state, ps, list.
use crate::container;
use crate::error::{Error, Result};
use crate::state::State;
use std::path::Path;

pub fn state_json(root: &Path, id: &str) -> Result<String> {
    let st = State::load(root, id)?;
    let v = st.to_runc_json(st.status(root));
    serde_json::to_string_pretty(&v).map_err(|e| Error::Json("state".into(), e))
}

pub fn ps(root: &Path, id: &str, format: &str, ps_args: &[String]) -> Result<String> {
    let st = State::load(root, id)?;
    let pids = match &st.cgroup {
        Some(cg) => cg.procs()?,
        None => Vec::new(),
    };
    if format == "json" {
        return serde_json::to_string(&pids).map_err(|e| Error::Json("ps".into(), e));
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::io("run", "ps", e))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|c| c == "PID")
        .ok_or_else(|| Error::State("ps: no PID column".into()))?;
    let mut res = vec![header.to_string()];
    for l in lines {
        if let Some(p) = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
        {
            if pids.contains(&p) {
                res.push(l.to_string());
            }
        }
    }
    Ok(res.join("\n"))
}

pub fn list(root: &Path, format: &str, quiet: bool) -> Result<String> {
    let all = container::all(root);
    if quiet {
        return Ok(all
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>()
            .join("\n"));
    }
    if format == "json" {
        let v: Vec<_> = all.iter().map(|s| s.to_runc_json(s.status(root))).collect();
        return serde_json::to_string(&v).map_err(|e| Error::Json("list".into(), e));
    }
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        .map(String::from)
        .to_vec()];
    for s in &all {
        let status = s.status(root);
        let pid = if status == crate::state::Status::Stopped {
            0
        } else {
            s.pid
        };
        rows.push(vec![
            s.id.clone(),
            pid.to_string(),
            status.as_str().to_string(),
            s.bundle.display().to_string(),
            s.created.clone(),
            if s.owner.is_empty() {
                "root".into()
            } else {
                s.owner.clone()
            },
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0) + 3)
        .collect();
    Ok(rows
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

//! OCI hooks run by the runtime: prestart and createRuntime (after the
//! init has set up its namespaces), poststart (after start), poststop (on
//! delete). Each gets the state JSON on stdin.
use crate::error::{Error, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn run_all(hooks: &[Hook], state_json: &str, what: &str) -> Result<()> {
    for h in hooks {
        run_one(h, state_json)
            .map_err(|e| Error::State(format!("{what} hook {}: {e}", h.path().display())))?;
    }
    Ok(())
}

fn run_one(h: &Hook, state_json: &str) -> std::result::Result<(), String> {
    let args = h.args().clone().unwrap_or_default();
    let mut c = Command::new(h.path());
    if let Some(a0) = args.first() {
        use std::os::unix::process::CommandExt;
        c.arg0(a0);
        c.args(&args[1..]);
    }
    c.env_clear();
    for kv in h.env().clone().unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            c.env(k, v);
        }
    }
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = h
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(st) if st.success() => return Ok(()),
            Some(st) => return Err(format!("exited with {st}")),
            None => {}
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err("timed out".into());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

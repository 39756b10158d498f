//! --log FILE / --log-format text|json / --debug, as runc writes them
//! (containerd's shims read the JSON lines).
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

pub struct LogConfig {
    pub file: Option<PathBuf>,
    pub json: bool,
    pub debug: bool,
}

static CONFIG: OnceLock<LogConfig> = OnceLock::new();

pub fn init(cfg: LogConfig) {
    let _ = CONFIG.set(cfg);
}

pub fn line(level: &str, msg: &str, json: bool) -> String {
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    if json {
        serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
    } else {
        format!("time={time:?} level={level} msg={msg:?}")
    }
}

fn write(level: &str, msg: &str) {
    let Some(cfg) = CONFIG.get() else { return };
    if let Some(path) = &cfg.file {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{}", line(level, msg, cfg.json));
        }
    }
}

pub fn error(msg: &str) {
    write("error", msg);
}

pub fn warn(msg: &str) {
    write("warning", msg);
}

pub fn debug(msg: &str) {
    if CONFIG.get().is_some_and(|c| c.debug) {
        write("debug", msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_shape() {
        let l = line("error", "boom \"x\"", true);
        let v: serde_json::Value = serde_json::from_str(&l).expect("json");
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(line("error", "m", false).starts_with("time="));
    }
}

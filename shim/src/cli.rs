//! Command line of `berth-shim start` (see docs/engine-protocol.md).
use std::path::PathBuf;

/// How the log file is written (`--log-format`).
pub use berth_proto::LogFormat;

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub path: PathBuf,
    pub max_size: u64,
    pub max_file: u32,
    pub format: LogFormat,
}

#[derive(Debug, Clone)]
pub struct StartArgs {
    pub id: String,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
    pub runtime: PathBuf,
    pub runtime_root: Option<PathBuf>,
    pub terminal: bool,
    pub stdin: bool,
    pub log: Option<LogConfig>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub const USAGE: &str = "usage: berth-shim start --id ID --bundle DIR --state-dir DIR --runtime BIN \
[--runtime-root DIR] [--terminal] [--stdin] [--log-path FILE --log-max-size BYTES --log-max-file N --log-format json-file|cri] [--no-log]";

impl StartArgs {
    /// Parses the arguments after `start`. Accepts `--flag value` and `--flag=value`.
    pub fn parse(args: &[String]) -> Result<StartArgs, UsageError> {
        let (mut id, mut bundle, mut state, mut runtime, mut root) = (None, None, None, None, None);
        let (mut terminal, mut stdin, mut no_log) = (false, false, false);
        let (mut log_path, mut max_size, mut max_file) = (None, 0u64, 1u32);
        let mut format = LogFormat::JsonFile;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let (flag, inline) = match a.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (a.as_str(), None),
            };
            let mut value = |name: &str| -> Result<String, UsageError> {
                match inline.clone() {
                    Some(v) => Ok(v),
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| UsageError(format!("{name} needs a value"))),
                }
            };
            match flag {
                "--id" => id = Some(value(flag)?),
                "--bundle" => bundle = Some(PathBuf::from(value(flag)?)),
                "--state-dir" => state = Some(PathBuf::from(value(flag)?)),
                "--runtime" => runtime = Some(PathBuf::from(value(flag)?)),
                "--runtime-root" => root = Some(PathBuf::from(value(flag)?)),
                "--terminal" => terminal = true,
                "--stdin" => stdin = true,
                "--no-log" => no_log = true,
                "--log-path" => log_path = Some(PathBuf::from(value(flag)?)),
                "--log-max-size" => {
                    max_size = value(flag)?
                        .parse()
                        .map_err(|_| UsageError("bad --log-max-size".into()))?
                }
                "--log-format" => {
                    let name = value(flag)?;
                    format = LogFormat::parse(&name)
                        .ok_or_else(|| UsageError(format!("bad --log-format {name}")))?;
                }
                "--log-max-file" => {
                    max_file = value(flag)?
                        .parse()
                        .map_err(|_| UsageError("bad --log-max-file".into()))?
                }
                other => return Err(UsageError(format!("unknown argument {other}\n{USAGE}"))),
            }
        }
        let log = match (no_log, log_path) {
            (false, Some(path)) => Some(LogConfig {
                path,
                max_size,
                max_file: max_file.max(1),
                format,
            }),
            _ => None,
        };
        Ok(StartArgs {
            id: need(id, "--id")?,
            bundle: need(bundle, "--bundle")?,
            state_dir: need(state, "--state-dir")?,
            runtime: need(runtime, "--runtime")?,
            runtime_root: root,
            terminal,
            stdin,
            log,
        })
    }
}

fn need<T>(v: Option<T>, n: &str) -> Result<T, UsageError> {
    v.ok_or_else(|| UsageError(format!("missing {n}\n{USAGE}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_all_flags() {
        let a = StartArgs::parse(&s(&[
            "--id",
            "c1",
            "--bundle=/b",
            "--state-dir",
            "/s",
            "--runtime",
            "runc",
            "--terminal",
            "--log-path",
            "/l",
            "--log-max-size",
            "100",
            "--log-max-file",
            "3",
            "--log-format=cri",
        ]))
        .unwrap();
        assert_eq!(a.id, "c1");
        assert!(a.terminal && !a.stdin);
        let l = a.log.unwrap();
        assert_eq!((l.max_size, l.max_file), (100, 3));
        assert_eq!(l.format, LogFormat::Cri);
    }

    #[test]
    fn missing_and_no_log() {
        assert!(StartArgs::parse(&s(&["--id", "x"])).is_err());
        let a = StartArgs::parse(&s(&[
            "--id",
            "c",
            "--bundle",
            "/b",
            "--state-dir",
            "/s",
            "--runtime",
            "r",
            "--log-path",
            "/l",
            "--no-log",
        ]))
        .unwrap();
        assert!(a.log.is_none());
    }
}

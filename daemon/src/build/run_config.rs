//! The config a build step starts from and commits: Go's `container.Config`, in its
//! field order and with its `omitempty` rules, so that images read as dockerd's.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunConfig {
    #[serde(rename = "Hostname")]
    pub hostname: String,
    #[serde(rename = "Domainname")]
    pub domainname: String,
    #[serde(rename = "User")]
    pub user: String,
    #[serde(rename = "AttachStdin")]
    pub attach_stdin: bool,
    #[serde(rename = "AttachStdout")]
    pub attach_stdout: bool,
    #[serde(rename = "AttachStderr")]
    pub attach_stderr: bool,
    #[serde(rename = "ExposedPorts", skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(rename = "Tty")]
    pub tty: bool,
    #[serde(rename = "OpenStdin")]
    pub open_stdin: bool,
    #[serde(rename = "StdinOnce")]
    pub stdin_once: bool,
    #[serde(rename = "Env")]
    pub env: Option<Vec<String>>,
    #[serde(rename = "Cmd")]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Healthcheck", skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    #[serde(rename = "ArgsEscaped", skip_serializing_if = "is_false")]
    pub args_escaped: bool,
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "Volumes")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(rename = "WorkingDir")]
    pub working_dir: String,
    #[serde(rename = "Entrypoint")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "OnBuild")]
    pub on_build: Option<Vec<String>>,
    #[serde(rename = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "StopSignal", skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    #[serde(rename = "StopTimeout", skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(rename = "Shell", skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

/// The default PATH dockerd adds to a stage without one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl RunConfig {
    /// The `config` of an image config blob (null fields read as unset).
    pub fn from_image(config: Option<&Value>) -> RunConfig {
        let Some(Value::Object(map)) = config else {
            return RunConfig::default();
        };
        let cleaned: serde_json::Map<String, Value> = map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::from_value(Value::Object(cleaned)).unwrap_or_default()
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The shell of shell-form commands: `SHELL`, else `/bin/sh -c`.
    pub fn shell_or_default(&self) -> Vec<String> {
        match &self.shell {
            Some(s) if !s.is_empty() => s.clone(),
            _ => vec!["/bin/sh".into(), "-c".into()],
        }
    }

    /// dockerd's `withCmdComment`: the step's history, `#(nop) ` then the instruction
    /// as a separate word.
    pub fn with_nop_comment(&self, comment: &str) -> RunConfig {
        let mut c = self.clone();
        let mut cmd = self.shell_or_default();
        cmd.push("#(nop) ".into());
        cmd.push(comment.into());
        c.cmd = Some(cmd);
        c
    }

    /// dockerd's `withCmdCommentString` (WORKDIR, COPY, ADD): one word.
    pub fn with_nop_string(&self, comment: &str) -> RunConfig {
        let mut c = self.clone();
        let mut cmd = self.shell_or_default();
        cmd.push(format!("#(nop) {comment}"));
        c.cmd = Some(cmd);
        c
    }

    /// Adds `PATH` when the environment has none.
    pub fn set_default_path(&mut self) {
        let env = self.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.split('=').next() == Some("PATH")) {
            env.push(format!("PATH={DEFAULT_PATH}"));
        }
    }

    /// Sets (or replaces) an environment variable.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let entry = format!("{key}={value}");
        let env = self.env.get_or_insert_with(Vec::new);
        match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
            Some(existing) => *existing = entry,
            None => env.push(entry),
        }
    }

    /// An environment variable's value.
    pub fn env_value(&self, key: &str) -> Option<String> {
        self.env.as_ref()?.iter().find_map(|e| {
            let (k, v) = e.split_once('=').unwrap_or((e.as_str(), ""));
            (k == key).then(|| v.to_string())
        })
    }

    /// dockerd's image cache comparison (`image/cache/compare.go`).
    pub fn same_for_cache(&self, other: &RunConfig) -> bool {
        if self.open_stdin || other.open_stdin {
            return false;
        }
        let keys = |m: &Option<BTreeMap<String, Value>>| -> Vec<String> {
            m.as_ref()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        let list = |v: &Option<Vec<String>>| v.clone().unwrap_or_default();
        self.attach_stdout == other.attach_stdout
            && self.attach_stderr == other.attach_stderr
            && self.user == other.user
            && self.tty == other.tty
            && list(&self.cmd) == list(&other.cmd)
            && list(&self.env) == list(&other.env)
            && self.labels.clone().unwrap_or_default() == other.labels.clone().unwrap_or_default()
            && keys(&self.exposed_ports) == keys(&other.exposed_ports)
            && list(&self.entrypoint) == list(&other.entrypoint)
            && keys(&self.volumes) == keys(&other.volumes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_writes_go_shaped_configs() {
        let image = json!({"Env": ["A=1"], "Cmd": ["sh"], "Image": "", "Labels": null,
                           "ArgsEscaped": true, "Unknown": 1});
        let c = RunConfig::from_image(Some(&image));
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        let v = c.to_value();
        assert_eq!(v["Hostname"], "");
        assert_eq!(v["Labels"], Value::Null);
        assert_eq!(v["ArgsEscaped"], true);
        assert!(v.get("ExposedPorts").is_none() && v.get("Shell").is_none());
    }

    #[test]
    fn nop_comments_follow_dockerd() {
        let c = RunConfig::default();
        assert_eq!(
            c.with_nop_comment("ENV A=1").cmd.unwrap().join(" "),
            "/bin/sh -c #(nop)  ENV A=1"
        );
        assert_eq!(
            c.with_nop_string("WORKDIR /app").cmd.unwrap().join(" "),
            "/bin/sh -c #(nop) WORKDIR /app"
        );
    }

    #[test]
    fn env_and_cache_comparison() {
        let mut a = RunConfig::default();
        a.set_default_path();
        a.set_env("A", "1");
        a.set_env("A", "2");
        assert_eq!(a.env_value("A").as_deref(), Some("2"));
        assert_eq!(a.env.as_ref().unwrap().len(), 2);
        let mut b = a.clone();
        b.image = "other".into();
        assert!(a.same_for_cache(&b));
        b.set_env("B", "1");
        assert!(!a.same_for_cache(&b));
    }
}

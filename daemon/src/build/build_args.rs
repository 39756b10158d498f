//! Build arguments as dockerd's `BuildArgs`: the values the client gave, the `ARG`s in
//! scope (allowed), those declared before the first `FROM` (meta), those referenced.
use std::collections::{BTreeMap, BTreeSet};

/// Proxy variables every build may use without declaring them; not kept in history.
pub const BUILTIN: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

#[derive(Debug, Clone, Default)]
pub struct BuildArgs {
    allowed: BTreeMap<String, Option<String>>,
    meta: BTreeMap<String, Option<String>>,
    referenced: BTreeSet<String>,
    from_options: BTreeMap<String, Option<String>>,
}

impl BuildArgs {
    pub fn new(from_options: BTreeMap<String, Option<String>>) -> BuildArgs {
        BuildArgs {
            from_options,
            ..Default::default()
        }
    }

    /// A copy for a new stage: meta args and references kept, no `ARG` in scope.
    pub fn for_stage(&self) -> BuildArgs {
        BuildArgs {
            allowed: BTreeMap::new(),
            ..self.clone()
        }
    }

    pub fn merge_referenced(&mut self, other: &BuildArgs) {
        self.referenced.extend(other.referenced.iter().cloned());
    }

    /// dockerd's warning for client values no `ARG` used.
    pub fn unused_warning(&self) -> Option<String> {
        let left: Vec<&str> = self
            .from_options
            .keys()
            .filter(|k| !self.referenced.contains(*k) && !BUILTIN.contains(&k.as_str()))
            .map(String::as_str)
            .collect();
        (!left.is_empty()).then(|| {
            format!(
                "[Warning] One or more build-args [{}] were not consumed\n",
                left.join(" ")
            )
        })
    }

    pub fn add_meta_arg(&mut self, key: &str, value: Option<String>) {
        self.meta.insert(key.to_string(), value);
    }

    pub fn add_arg(&mut self, key: &str, value: Option<String>) {
        self.allowed.insert(key.to_string(), value);
        self.referenced.insert(key.to_string());
    }

    fn is_builtin(key: &str) -> bool {
        BUILTIN.contains(&key)
    }

    /// Whether a value belongs in the RUN's history: not a proxy variable, unless declared.
    pub fn is_referenced_or_not_builtin(&self, key: &str) -> bool {
        self.allowed.contains_key(key) || !Self::is_builtin(key)
    }

    fn value(&self, key: &str, mapping: &BTreeMap<String, Option<String>>) -> Option<String> {
        if let Some(Some(v)) = self.from_options.get(key) {
            return Some(v.clone());
        }
        match mapping.get(key) {
            Some(Some(default)) => Some(default.clone()),
            _ => self.meta.get(key).cloned().flatten(),
        }
    }

    fn all_from(&self, mapping: &BTreeMap<String, Option<String>>) -> BTreeMap<String, String> {
        mapping
            .keys()
            .map(String::as_str)
            .chain(BUILTIN.iter().copied())
            .filter_map(|k| self.value(k, mapping).map(|v| (k.to_string(), v)))
            .collect()
    }

    /// The `ARG`s in scope with a value (and proxy variables the client gave).
    pub fn all_allowed(&self) -> BTreeMap<String, String> {
        self.all_from(&self.allowed)
    }

    /// The meta args with a value: what `FROM` lines may use.
    pub fn all_meta(&self) -> BTreeMap<String, String> {
        self.all_from(&self.meta)
    }

    /// `KEY=value` for each allowed arg not set in `env` (a RUN's extra environment).
    pub fn filter_allowed(&self, env: &[String]) -> Vec<String> {
        let keys: BTreeSet<&str> = env
            .iter()
            .map(|e| e.split_once('=').map(|(k, _)| k).unwrap_or(e.as_str()))
            .collect();
        self.all_allowed()
            .into_iter()
            .filter(|(k, _)| !keys.contains(k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(list: &[(&str, Option<&str>)]) -> BuildArgs {
        BuildArgs::new(
            list.iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
        )
    }

    #[test]
    fn client_values_override_defaults_and_unused_ones_are_reported() {
        let mut args = given(&[
            ("A", Some("client")),
            ("UNUSED", Some("x")),
            ("http_proxy", Some("p")),
        ]);
        args.add_arg("A", Some("default".into()));
        args.add_arg("B", Some("b".into()));
        args.add_arg("C", None);
        let all = args.all_allowed();
        assert_eq!(all["A"], "client");
        assert_eq!(all["B"], "b");
        assert!(!all.contains_key("C"));
        assert_eq!(all["http_proxy"], "p");
        assert_eq!(
            args.unused_warning().as_deref(),
            Some("[Warning] One or more build-args [UNUSED] were not consumed\n")
        );
        assert_eq!(
            args.filter_allowed(&["B=env".to_string()]),
            ["A=client", "http_proxy=p"]
        );
        assert!(!args.is_referenced_or_not_builtin("http_proxy"));
    }

    #[test]
    fn meta_args_give_defaults_to_stages() {
        let mut args = given(&[]);
        args.add_meta_arg("V", Some("1".into()));
        args.add_arg("V", Some("1".into()));
        let mut stage = args.for_stage();
        assert!(stage.all_allowed().is_empty());
        assert_eq!(stage.all_meta()["V"], "1");
        stage.add_arg("V", None);
        assert_eq!(stage.all_allowed()["V"], "1");
    }
}

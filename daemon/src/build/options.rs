//! The query of `POST /build`, read as dockerd's `newImageBuildOptions` reads it, with
//! its texts and statuses for what does not parse.
use std::collections::BTreeMap;

use super::BuildError;
use crate::reference::Reference;

/// What the client asked for.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Dockerfile's path in the context ("Dockerfile" when empty).
    pub dockerfile: String,
    /// `t`: the names to tag the result with (checked, deduplicated, `latest` added).
    pub tags: Vec<Reference>,
    pub quiet: bool,
    pub no_cache: bool,
    pub pull: bool,
    /// Remove intermediate containers after a successful step (`rm`, default true).
    pub remove: bool,
    /// Remove them always (`forcerm`).
    pub force_remove: bool,
    /// `buildargs`: a value of `None` is `--build-arg X` without a value in the CLI's env.
    pub build_args: BTreeMap<String, Option<String>>,
    /// `labels`: added to the last stage.
    pub labels: BTreeMap<String, String>,
    pub target: String,
    pub network_mode: String,
    pub extra_hosts: Vec<String>,
    pub platform: String,
    pub shm_size: i64,
    pub memory: i64,
    pub memory_swap: i64,
    pub cpu_shares: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cgroup_parent: String,
    pub cache_from: Vec<String>,
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn all<'a>(pairs: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Go's `httputils.BoolValue`: anything but "", "0", "no", "false", "none" is true.
fn bool_value(pairs: &[(String, String)], key: &str) -> bool {
    let v = param(pairs, key).trim().to_ascii_lowercase();
    !matches!(v.as_str(), "" | "0" | "no" | "false" | "none")
}

/// `Int64ValueOrZero`: what does not parse is 0.
fn int_or_zero(pairs: &[(String, String)], key: &str) -> i64 {
    param(pairs, key).parse().unwrap_or(0)
}

/// The Go JSON decoder's complaint about text that is not JSON, roughly as Go words it.
fn json_error(text: &str, e: &serde_json::Error) -> String {
    match text.trim_start().chars().next() {
        Some(c) if !"{[\"-0123456789tfn".contains(c) => {
            format!("invalid character '{c}' looking for beginning of value")
        }
        _ => e.to_string(),
    }
}

impl BuildOptions {
    /// Reads the query. Errors carry dockerd's status: 400 for bad JSON in `buildargs`
    /// and `labels`, 500 for the rest, as dockerd answers them.
    pub fn parse(pairs: &[(String, String)]) -> Result<BuildOptions, BuildError> {
        if !all(pairs, "securityopt").is_empty() {
            return Err(BuildError::Invalid(
                "The daemon on this platform does not support setting security options on build"
                    .into(),
            ));
        }
        let force_remove = bool_value(pairs, "forcerm");
        let remove = force_remove || param(pairs, "rm").is_empty() || bool_value(pairs, "rm");
        let mut options = BuildOptions {
            dockerfile: param(pairs, "dockerfile").to_string(),
            quiet: bool_value(pairs, "q"),
            no_cache: bool_value(pairs, "nocache"),
            pull: bool_value(pairs, "pull"),
            remove,
            force_remove,
            target: param(pairs, "target").to_string(),
            network_mode: param(pairs, "networkmode").to_string(),
            extra_hosts: all(pairs, "extrahosts")
                .into_iter()
                .map(str::to_string)
                .collect(),
            platform: param(pairs, "platform").to_string(),
            memory: int_or_zero(pairs, "memory"),
            memory_swap: int_or_zero(pairs, "memswap"),
            cpu_shares: int_or_zero(pairs, "cpushares"),
            cpuset_cpus: param(pairs, "cpusetcpus").to_string(),
            cpuset_mems: param(pairs, "cpusetmems").to_string(),
            cpu_period: int_or_zero(pairs, "cpuperiod"),
            cpu_quota: int_or_zero(pairs, "cpuquota"),
            cgroup_parent: param(pairs, "cgroupparent").to_string(),
            ..Default::default()
        };
        if !options.platform.is_empty() {
            crate::registry::platform::Platform::parse(&options.platform)
                .map_err(|e| BuildError::Internal(e.to_string()))?;
        }
        let shm = param(pairs, "shmsize");
        if !shm.is_empty() {
            options.shm_size = shm.parse().map_err(|_| {
                BuildError::Internal(format!(
                    "strconv.ParseInt: parsing \"{shm}\": invalid syntax"
                ))
            })?;
        }
        let args = param(pairs, "buildargs");
        if !args.is_empty() {
            options.build_args = crate::gojson::from_str(args).map_err(|e| {
                BuildError::Invalid(format!(
                    "error reading build args: {}",
                    json_error(args, &e)
                ))
            })?;
        }
        let labels = param(pairs, "labels");
        if !labels.is_empty() {
            options.labels = crate::gojson::from_str(labels).map_err(|e| {
                BuildError::Invalid(format!("error reading labels: {}", json_error(labels, &e)))
            })?;
        }
        let cache_from = param(pairs, "cachefrom");
        if !cache_from.is_empty() {
            options.cache_from = crate::gojson::from_str(cache_from)
                .map_err(|e| BuildError::Internal(json_error(cache_from, &e)))?;
        }
        match param(pairs, "version") {
            "" | "1" => {}
            "2" => {
                return Err(BuildError::Invalid(
                    "BuildKit is not supported by this daemon: build with the classic builder (DOCKER_BUILDKIT=0)".into(),
                ))
            }
            other => return Err(BuildError::Internal(format!("invalid version \"{other}\""))),
        }
        // dockerd checks `squash` before the tags, and the tags before the context.
        if bool_value(pairs, "squash") {
            return Err(BuildError::Invalid(
                "squash is only supported with experimental mode".into(),
            ));
        }
        options.tags = tags(&all(pairs, "t"))?;
        let remote = param(pairs, "remote");
        if !remote.is_empty() {
            // dockerd's `Detect`: only http(s) and git URLs are remote contexts.
            let url = remote.starts_with("https://") || remote.starts_with("http://");
            let git = url
                || ["git://", "git@", "github.com/"]
                    .iter()
                    .any(|p| remote.starts_with(p));
            if !git {
                return Err(BuildError::Invalid(format!(
                    "remoteURL ({remote}) could not be recognized as URL"
                )));
            }
            return Err(BuildError::Internal(format!(
                "error downloading remote context {remote}: remote build contexts are not supported by this daemon"
            )));
        }
        Ok(options)
    }
}

/// dockerd's `sanitizeRepoAndTags`: each name parsed and normalised, no digests,
/// `latest` added, duplicates dropped.
fn tags(names: &[&str]) -> Result<Vec<Reference>, BuildError> {
    let mut out: Vec<Reference> = Vec::new();
    for name in names.iter().filter(|n| !n.is_empty()) {
        let parsed = Reference::parse(name).map_err(|e| BuildError::Internal(e.to_string()))?;
        if parsed.digest.is_some() {
            return Err(BuildError::Internal(
                "build tag cannot contain a digest".into(),
            ));
        }
        let tagged = if parsed.tag.is_some() {
            parsed
        } else {
            parsed.with_tag(crate::reference::DEFAULT_TAG)
        };
        if !out.iter().any(|t| t.to_string() == tagged.to_string()) {
            out.push(tagged);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_follow_dockerd() {
        let o = BuildOptions::parse(&[]).unwrap();
        assert!(o.remove && !o.force_remove && !o.quiet && !o.no_cache);
        let o = BuildOptions::parse(&pairs(&[("rm", "0")])).unwrap();
        assert!(!o.remove);
        let o = BuildOptions::parse(&pairs(&[("rm", "0"), ("forcerm", "1")])).unwrap();
        assert!(o.remove && o.force_remove);
    }

    #[test]
    fn tags_are_checked_and_completed() {
        let o =
            BuildOptions::parse(&pairs(&[("t", "a"), ("t", "a:latest"), ("t", "b:v1")])).unwrap();
        let names: Vec<String> = o.tags.iter().map(|t| t.familiar()).collect();
        assert_eq!(names, ["a:latest", "b:v1"]);
        let e = BuildOptions::parse(&pairs(&[("t", "BAD")])).unwrap_err();
        assert!(e.to_string().contains("must be lowercase"), "{e}");
        let digest = format!("a@sha256:{}", "a".repeat(64));
        let e = BuildOptions::parse(&pairs(&[("t", &digest)])).unwrap_err();
        assert_eq!(e.to_string(), "build tag cannot contain a digest");
    }

    #[test]
    fn json_parameters_are_read() {
        let o = BuildOptions::parse(&pairs(&[
            ("buildargs", r#"{"A":"1","B":null}"#),
            ("labels", r#"{"l":"v"}"#),
        ]))
        .unwrap();
        assert_eq!(o.build_args["A"].as_deref(), Some("1"));
        assert_eq!(o.build_args["B"], None);
        assert_eq!(o.labels["l"], "v");
        let e = BuildOptions::parse(&pairs(&[("buildargs", "xx")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "error reading build args: invalid character 'x' looking for beginning of value"
        );
        assert!(matches!(e, BuildError::Invalid(_)));
    }

    #[test]
    fn unsupported_requests_are_refused() {
        for (k, v) in [("squash", "1"), ("version", "2"), ("remote", "http://x/y")] {
            assert!(BuildOptions::parse(&pairs(&[(k, v)])).is_err(), "{k}");
        }
        let e = BuildOptions::parse(&pairs(&[("version", "3")])).unwrap_err();
        assert_eq!(e.to_string(), "invalid version \"3\"");
        assert!(BuildOptions::parse(&pairs(&[("platform", "no/such/thing/x")])).is_err());
        let e = BuildOptions::parse(&pairs(&[("shmsize", "abc")])).unwrap_err();
        assert!(e.to_string().contains("invalid syntax"));
    }
}

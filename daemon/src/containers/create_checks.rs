//! The checks dockerd makes of a create request (moby `verifyContainerSettings`,
//! `validateContainerConfig`, `validateHostConfig`, `GetImage` with a platform), each
//! refusal a 400 (a 404 for another platform's image) before anything is made.
use std::collections::HashMap;

use bollard_stubs::models::{ContainerConfig, HostConfig, RestartPolicy, RestartPolicyNameEnum};

use super::{resources, ContainerError, Result};
use crate::images::config::ImageConfigFile;

/// dockerd's checks of `--log-opt` for the json-file driver (the only one with a reader).
fn validate_log_opts(driver: &str, opts: Option<&HashMap<String, String>>) -> Result<()> {
    const JSON_FILE: &[&str] = &[
        "max-file",
        "max-size",
        "compress",
        "labels",
        "labels-regex",
        "env",
        "env-regex",
        "tag",
    ];
    let Some(opts) = opts.filter(|o| !o.is_empty()) else {
        return Ok(());
    };
    if driver == "none" {
        return Err(ContainerError::Invalid(
            "invalid logging opts for driver none".into(),
        ));
    }
    if driver == "local" {
        return Ok(());
    }
    let mut keys: Vec<&String> = opts.keys().collect();
    keys.sort();
    if let Some(k) = keys.iter().find(|k| !JSON_FILE.contains(&k.as_str())) {
        return Err(ContainerError::Invalid(format!(
            "unknown log opt '{k}' for json-file log driver"
        )));
    }
    let failed = |why: String| {
        ContainerError::Invalid(format!("failed to initialize logging driver: {why}"))
    };
    if let Some(size) = opts.get("max-size") {
        match super::lifecycle::parse_size(size) {
            None => return Err(failed(format!("invalid size: '{size}'"))),
            Some(0) => return Err(failed("max-size must be a positive number".into())),
            Some(_) => {}
        }
    }
    if let Some(files) = opts.get("max-file") {
        match files.parse::<i64>() {
            Err(_) => {
                return Err(failed(format!(
                    "strconv.Atoi: parsing \"{files}\": invalid syntax"
                )))
            }
            Ok(n) if n < 1 => return Err(failed("max-file cannot be less than 1".into())),
            Ok(_) => {}
        }
    }
    Ok(())
}

/// dockerd's `GetImage` with a platform: an image of another platform is not found (the
/// CLI then pulls the one asked for).
pub(super) fn check_platform(
    reference: &str,
    wanted: &crate::registry::platform::Platform,
    image: &ImageConfigFile,
) -> Result<()> {
    // An image whose config names no platform (old imports) is taken as the host's.
    let host = crate::registry::platform::Platform::host();
    let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    let actual = crate::registry::platform::Platform {
        os: given(&image.os).unwrap_or(host.os),
        architecture: given(&image.architecture).unwrap_or(host.architecture),
        variant: given(&image.variant),
        ..Default::default()
    };
    if wanted.matches(&actual) {
        return Ok(());
    }
    Err(ContainerError::Missing(format!(
        "image with reference {reference} was found but does not match the specified platform: wanted {}, actual: {}",
        wanted.display(),
        actual.display()
    )))
}

/// dockerd's `validateContainerConfig`, before the image is looked up: the working
/// directory (`translateWorkingDir`: absolute, kept cleaned), the stop signal, and no
/// environment entry that is empty or has no name.
pub(super) fn validate_container_config(config: &mut ContainerConfig) -> Result<()> {
    if let Some(wd) = config.working_dir.as_deref().filter(|w| !w.is_empty()) {
        if !wd.starts_with('/') {
            return Err(ContainerError::Invalid(format!(
                "the working directory '{wd}' is invalid, it needs to be an absolute path"
            )));
        }
        config.working_dir = Some(crate::build::copy::gopath::clean(wd));
    }
    if let Some(signal) = config.stop_signal.as_deref().filter(|s| !s.is_empty()) {
        super::signals::parse(signal)?;
    }
    if let Some(bad) = config
        .env
        .iter()
        .flatten()
        .find(|e| e.is_empty() || e.starts_with('='))
    {
        return Err(ContainerError::Invalid(format!(
            "invalid environment variable: {bad}"
        )));
    }
    Ok(())
}

/// dockerd's `validateRestartPolicy`: a retry count only with `on-failure`, never negative.
/// Create and update both check it.
pub(super) fn validate_restart_policy(p: &RestartPolicy) -> Result<()> {
    let count = p.maximum_retry_count.unwrap_or(0);
    if count < 0 {
        return Err(ContainerError::Invalid(
            "maximum retry count cannot be negative".into(),
        ));
    }
    if count > 0 && p.name != Some(RestartPolicyNameEnum::ON_FAILURE) {
        return Err(ContainerError::Invalid(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'".into(),
        ));
    }
    Ok(())
}

pub(super) fn validate_host_config(hc: &HostConfig, ncpu: usize) -> Result<()> {
    resources::validate(hc, ncpu)?;
    if let Some(p) = &hc.restart_policy {
        validate_restart_policy(p)?;
        let named = !matches!(
            p.name,
            None | Some(RestartPolicyNameEnum::EMPTY) | Some(RestartPolicyNameEnum::NO)
        );
        if named && hc.auto_remove == Some(true) {
            return Err(ContainerError::Invalid(
                "can't create 'AutoRemove' container with restart policy".into(),
            ));
        }
    }
    if let Some(log) = &hc.log_config {
        let t = log.typ.as_deref().unwrap_or("");
        if !["", "json-file", "none", "local"].contains(&t) {
            return Err(ContainerError::Invalid(format!(
                "logger: no log driver named '{t}' is registered"
            )));
        }
        validate_log_opts(t, log.config.as_ref())?;
    }
    for extra in hc.extra_hosts.iter().flatten() {
        validate_extra_host(extra)?;
    }
    Ok(())
}

/// dockerd's `ValidateExtraHost`: `name:ip` (split at the first colon, so that an IPv6
/// address needs no brackets), where ip is an address or the special `host-gateway`.
fn validate_extra_host(extra: &str) -> Result<()> {
    match extra.split_once(':') {
        Some((name, ip)) if !name.is_empty() => {
            if ip == super::etc_files::HOST_GATEWAY || ip.trim().parse::<std::net::IpAddr>().is_ok()
            {
                Ok(())
            } else {
                Err(ContainerError::Invalid(format!(
                    "invalid IP address in add-host: {ip:?}"
                )))
            }
        }
        _ => Err(ContainerError::Invalid(format!(
            "bad format for add-host: {extra:?}"
        ))),
    }
}

#[cfg(test)]
mod extra_host_tests {
    use super::validate_extra_host;

    #[test]
    fn extra_hosts_are_checked_as_dockerd_checks_them() {
        for ok in ["a:1.2.3.4", "a:::1", "host.docker.internal:host-gateway"] {
            assert!(validate_extra_host(ok).is_ok(), "{ok}");
        }
        for (bad, message) in [
            ("a:notanip", "invalid IP address in add-host: \"notanip\""),
            ("c:[::1]", "invalid IP address in add-host: \"[::1]\""),
            ("b=1.2.3.4", "bad format for add-host: \"b=1.2.3.4\""),
            (":1.2.3.4", "bad format for add-host: \":1.2.3.4\""),
        ] {
            let err = validate_extra_host(bad).expect_err(bad).to_string();
            assert!(err.contains(message), "{bad}: {err}");
        }
    }
}

//! Config.Healthcheck as dockerd reads it: merged with the image's at create, checked
//! (moby `verifyContainerSettings`), and resolved with the defaults into a [`Probe`].
use std::time::Duration;

use bollard_stubs::models::{ContainerConfig, HealthConfig};
use serde_json::{Map, Value};

use super::record::Container;
use super::{ContainerError, Result};

/// Time between probes (and before the first one) when Interval is 0.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// How long a probe may run when Timeout is 0.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Time between probes during the start period when StartInterval is 0.
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
/// Consecutive failures that make a container unhealthy when Retries is 0.
pub const DEFAULT_RETRIES: u64 = 3;
/// The shortest non-zero duration dockerd accepts (`container.MinimumDuration`).
const MINIMUM_DURATION_NS: i64 = 1_000_000;

/// A container's healthcheck, resolved: what to run and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The command run as an exec (the shell prepended for CMD-SHELL).
    pub cmd: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: u64,
}

fn duration_or(ns: Option<i64>, default: Duration) -> Duration {
    match ns {
        Some(n) if n > 0 => Duration::from_nanos(n as u64),
        _ => default,
    }
}

/// The probe of a container, if it has a healthcheck (none for `NONE`, an empty or an
/// unknown test, as dockerd's `getProbe`).
pub fn probe_of(c: &Container) -> Option<Probe> {
    let h = c.config.healthcheck.as_ref()?;
    let test = h.test.as_ref()?;
    let cmd = match test.first().map(String::as_str) {
        Some("CMD") => test[1..].to_vec(),
        Some("CMD-SHELL") => {
            let mut cmd = c
                .config
                .shell
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
            cmd.extend(test[1..].iter().cloned());
            cmd
        }
        _ => return None,
    };
    if cmd.is_empty() {
        return None;
    }
    Some(Probe {
        cmd,
        interval: duration_or(h.interval, DEFAULT_INTERVAL),
        timeout: duration_or(h.timeout, DEFAULT_TIMEOUT),
        start_period: duration_or(h.start_period, Duration::ZERO),
        start_interval: duration_or(h.start_interval, DEFAULT_START_INTERVAL),
        retries: h
            .retries
            .filter(|r| *r > 0)
            .map_or(DEFAULT_RETRIES, |r| r as u64),
    })
}

/// dockerd's `merge`: an image healthcheck fills what the user's leaves at zero.
pub fn merge_image(user: &mut ContainerConfig, image: &Map<String, Value>) {
    let Some(image_hc) = image
        .get("Healthcheck")
        .filter(|v| v.is_object())
        .and_then(|v| serde_json::from_value::<HealthConfig>(v.clone()).ok())
    else {
        return;
    };
    let Some(hc) = user.healthcheck.as_mut() else {
        user.healthcheck = Some(image_hc);
        return;
    };
    if hc.test.as_ref().is_none_or(Vec::is_empty) {
        hc.test = image_hc.test;
    }
    let zero = |v: Option<i64>| v.unwrap_or(0) == 0;
    if zero(hc.interval) {
        hc.interval = image_hc.interval;
    }
    if zero(hc.timeout) {
        hc.timeout = image_hc.timeout;
    }
    if zero(hc.start_period) {
        hc.start_period = image_hc.start_period;
    }
    if zero(hc.start_interval) {
        hc.start_interval = image_hc.start_interval;
    }
    if zero(hc.retries) {
        hc.retries = image_hc.retries;
    }
}

/// dockerd's checks of Config.Healthcheck at create.
pub fn validate(config: &ContainerConfig) -> Result<()> {
    let Some(h) = config.healthcheck.as_ref() else {
        return Ok(());
    };
    let durations = [
        ("Interval", h.interval),
        ("Timeout", h.timeout),
        ("StartPeriod", h.start_period),
        ("StartInterval", h.start_interval),
    ];
    for (name, value) in durations {
        if value.is_some_and(|v| v != 0 && v < MINIMUM_DURATION_NS) {
            return Err(ContainerError::Invalid(format!(
                "{name} in Healthcheck cannot be less than 1ms"
            )));
        }
    }
    if h.retries.is_some_and(|r| r < 0) {
        return Err(ContainerError::Invalid(
            "Retries in Healthcheck cannot be negative".into(),
        ));
    }
    Ok(())
}

/// A duration as Go's `time.Duration.String()` prints it: "30s", "1.5s", "500ms", "1m30s".
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000_000_000 {
        let (unit, div) = if ns < 1_000 {
            ("ns", 1u128)
        } else if ns < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", fraction(ns, div));
    }
    let hours = ns / 3_600_000_000_000;
    let minutes = (ns / 60_000_000_000) % 60;
    let seconds = fraction(ns % 60_000_000_000, 1_000_000_000);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// `value / div` with the fractional digits Go keeps (trailing zeros dropped).
fn fraction(value: u128, div: u128) -> String {
    let whole = value / div;
    let rest = value % div;
    if rest == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
    }

    #[test]
    fn the_image_healthcheck_fills_zero_fields() {
        let image = json!({"Healthcheck": {"Test": ["CMD", "true"], "Interval": 5, "Retries": 7}});
        let mut user = ContainerConfig::default();
        merge_image(&mut user, image.as_object().unwrap());
        assert_eq!(user.healthcheck.as_ref().unwrap().retries, Some(7));
        let mut user = ContainerConfig {
            healthcheck: Some(HealthConfig {
                interval: Some(9),
                ..Default::default()
            }),
            ..Default::default()
        };
        merge_image(&mut user, image.as_object().unwrap());
        let hc = user.healthcheck.unwrap();
        assert_eq!(hc.test, Some(vec!["CMD".into(), "true".into()]));
        assert_eq!((hc.interval, hc.retries), (Some(9), Some(7)));
    }

    #[test]
    fn bad_durations_and_retries_are_refused() {
        let config = |h: HealthConfig| ContainerConfig {
            healthcheck: Some(h),
            ..Default::default()
        };
        let e = validate(&config(HealthConfig {
            interval: Some(10),
            ..Default::default()
        }))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Interval in Healthcheck cannot be less than 1ms"
        );
        let e = validate(&config(HealthConfig {
            retries: Some(-1),
            ..Default::default()
        }))
        .unwrap_err();
        assert_eq!(e.to_string(), "Retries in Healthcheck cannot be negative");
        assert!(validate(&config(HealthConfig::default())).is_ok());
    }
}

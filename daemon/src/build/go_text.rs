//! Texts dockerd writes with Go's `fmt` into a step's history (`%q` of lists, the
//! HEALTHCHECK config), and EXPOSE's port specs as `nat.ParsePortSpecs` reads them.
use super::dockerfile::HealthcheckSpec;
use super::BuildError;
use crate::gotext::go_quote;

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub fn go_quote_list(list: &[String]) -> String {
    let items: Vec<String> = list.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", items.join(" "))
}

fn go_quote_rune(n: i64) -> String {
    match u8::try_from(n) {
        Ok(b) if (0x20..0x7f).contains(&b) && b != b'\'' && b != b'\\' => {
            format!("'{}'", b as char)
        }
        Ok(b) if b < 0x80 => format!("'\\x{b:02x}'"),
        _ => format!("'\\u{n:04x}'"),
    }
}

fn duration(ns: Option<i64>) -> String {
    let ns = ns.unwrap_or(0).max(0) as u64;
    crate::containers::health_config::go_duration(std::time::Duration::from_nanos(ns))
}

/// The history text of a HEALTHCHECK: Go's `%q` of dockerd 20.10's `*HealthConfig`.
pub fn healthcheck_text(h: &HealthcheckSpec) -> String {
    format!(
        "&{{{} \"{}\" \"{}\" \"{}\" {}}}",
        go_quote_list(&h.test),
        duration(h.interval),
        duration(h.timeout),
        duration(h.start_period),
        go_quote_rune(h.retries.unwrap_or(0))
    )
}

/// The image config's `Healthcheck` (zero fields left out, as Go's `omitempty`).
pub fn healthcheck_value(h: &HealthcheckSpec) -> serde_json::Value {
    let mut v = serde_json::json!({ "Test": h.test });
    let fields = [
        ("Interval", h.interval),
        ("Timeout", h.timeout),
        ("StartPeriod", h.start_period),
        ("StartInterval", h.start_interval),
        ("Retries", h.retries),
    ];
    for (key, value) in fields {
        if let Some(n) = value.filter(|n| *n != 0) {
            v[key] = serde_json::json!(n);
        }
    }
    v
}

/// `nat.ParsePortSpecs` for EXPOSE: "80", "80/udp", "8000-8002/tcp" → "port/proto" keys.
pub fn port_specs(spec: &str) -> Result<Vec<String>, BuildError> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let invalid = || BuildError::Internal(format!("invalid containerPort: {ports}"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(BuildError::Internal(format!("invalid proto: {proto}")));
    }
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (a.parse::<u16>(), b.parse::<u16>()),
        None => (ports.parse::<u16>(), ports.parse::<u16>()),
    };
    let (lo, hi) = (lo.map_err(|_| invalid())?, hi.map_err(|_| invalid())?);
    if hi < lo {
        return Err(invalid());
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_texts_follow_go() {
        assert_eq!(
            go_quote_list(&["cat".into(), "f \"x\"".into()]),
            r#"["cat" "f \"x\""]"#
        );
        let h = HealthcheckSpec {
            test: vec!["CMD-SHELL".into(), "true".into()],
            interval: Some(5_000_000_000),
            retries: Some(3),
            ..Default::default()
        };
        assert_eq!(
            healthcheck_text(&h),
            r#"&{["CMD-SHELL" "true"] "5s" "0s" "0s" '\x03'}"#
        );
        assert_eq!(
            healthcheck_value(&h),
            serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000i64, "Retries": 3})
        );
    }

    #[test]
    fn exposed_ports() {
        assert_eq!(port_specs("80").unwrap(), ["80/tcp"]);
        assert_eq!(port_specs("53/udp").unwrap(), ["53/udp"]);
        assert_eq!(port_specs("8000-8001").unwrap(), ["8000/tcp", "8001/tcp"]);
        assert!(port_specs("x").is_err());
    }
}

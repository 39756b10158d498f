//! Device cgroup rules (re-exported by [`super::devices`]): Docker's defaults, the allow-all rule of a
//! privileged container, and `--device-cgroup-rule` strings (moby's
//! AppendDevicePermissionsFromCgroupRules).

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::SecurityError;

pub(crate) fn rule(
    allow: bool,
    typ: Option<LinuxDeviceType>,
    major: Option<i64>,
    minor: Option<i64>,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow);
    r.set_typ(typ);
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some("rwm".into()));
    r
}

/// Docker's device cgroup rules for a container that is not privileged:
/// deny everything, allow null, zero, full, random, urandom, tty, console,
/// and deny fuse (10:229) explicitly.
pub fn default_cgroup_rules() -> Vec<LinuxDeviceCgroup> {
    let c = Some(LinuxDeviceType::C);
    let mut rules = vec![rule(false, None, None, None)];
    for (major, minor) in [(1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1)] {
        rules.push(rule(true, c, Some(major), Some(minor)));
    }
    rules.push(rule(false, c, Some(10), Some(229)));
    rules
}

/// The single rule of a privileged container: every device, rwm.
pub fn allow_all_rule() -> LinuxDeviceCgroup {
    rule(true, None, None, None)
}

/// One `--device-cgroup-rule` ("c 1:3 rwm", "a *:* rwm", "b 8:* r").
pub fn parse_cgroup_rule(text: &str) -> Result<LinuxDeviceCgroup, SecurityError> {
    let bad = || SecurityError::Failed(format!("invalid device cgroup rule format: '{text}'"));
    let mut parts = text.split(' ');
    let (Some(typ), Some(numbers), Some(access), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let typ = match typ {
        "a" => LinuxDeviceType::A,
        "b" => LinuxDeviceType::B,
        "c" => LinuxDeviceType::C,
        _ => return Err(bad()),
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str, which: &str| -> Result<i64, SecurityError> {
        if n == "*" {
            return Ok(-1);
        }
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        n.parse().map_err(|_| {
            SecurityError::Failed(format!(
                "invalid {which} value in device cgroup rule format: '{text}'"
            ))
        })
    };
    let (major, minor) = (number(major, "major")?, number(minor, "minor")?);
    if access.is_empty() || access.len() > 3 || !access.bytes().all(|b| b"rwm".contains(&b)) {
        return Err(bad());
    }
    let mut r = rule(true, Some(typ), Some(major), Some(minor));
    r.set_access(Some(access.to_string()));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_rules() {
        let r = parse_cgroup_rule("c 1:3 rwm").expect("rule");
        assert_eq!(
            (r.typ(), r.major(), r.minor()),
            (Some(LinuxDeviceType::C), Some(1), Some(3))
        );
        let r = parse_cgroup_rule("a *:* r").expect("rule");
        assert_eq!(
            (r.major(), r.minor(), r.access().as_deref()),
            (Some(-1), Some(-1), Some("r"))
        );
        for bad in [
            "x 1:3 rwm",
            "c 1:3",
            "c 1:3 rwx",
            "c 1:3  rwm",
            "c a:3 rw",
            "c 1:3 rwmr",
            "c 1 rw",
        ] {
            let e = parse_cgroup_rule(bad).expect_err(bad);
            assert_eq!(
                e.to_string(),
                format!("invalid device cgroup rule format: '{bad}'")
            );
        }
        let e = parse_cgroup_rule("c 99999999999999999999:1 rw").expect_err("big");
        assert!(e.to_string().starts_with("invalid major value"));
    }
}

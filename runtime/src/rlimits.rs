//! rlimits: never above the inherited hard limit without CAP_SYS_RESOURCE.
use crate::error::{Error, Result};
use oci_spec::runtime::PosixRlimit;

pub fn resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    })
}

pub fn apply(limits: &[PosixRlimit]) -> Result<()> {
    for l in limits {
        let name = l.typ().to_string();
        let res = resource(&name).ok_or_else(|| Error::Spec(format!("unknown rlimit {name}")))?;
        let new = libc::rlimit {
            rlim_cur: l.soft(),
            rlim_max: l.hard(),
        };
        // SAFETY: valid rlimit struct.
        if unsafe { libc::setrlimit(res, &new) } != 0 {
            let err = nix::Error::last();
            let mut cur = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: valid out pointer.
            unsafe { libc::getrlimit(res, &mut cur) };
            if err == nix::Error::EPERM && l.hard() > cur.rlim_max {
                return Err(Error::Spec(format!(
                    "rlimit {name}: hard limit {} is above the current hard limit {} and raising it needs CAP_SYS_RESOURCE",
                    l.hard(),
                    cur.rlim_max
                )));
            }
            return Err(Error::sys(
                format!("setrlimit {name} soft={} hard={}", l.soft(), l.hard()),
                err,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map() {
        assert_eq!(resource("RLIMIT_NOFILE"), Some(libc::RLIMIT_NOFILE));
        assert_eq!(resource("RLIMIT_BOGUS"), None);
        assert_eq!(
            oci_spec::runtime::PosixRlimitType::RlimitNofile.to_string(),
            "RLIMIT_NOFILE"
        );
    }
}

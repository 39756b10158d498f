//! The words of a create or update body that Go reads as plain strings and dockerd checks
//! afterwards, with its own messages: the restart policy's name, the cgroup namespace
//! mode, the isolation, a mount's type and bind propagation.
//!
//! Berth's request types hold them as enums, which would refuse an unknown word while
//! decoding, as "invalid JSON: unknown variant …". So they are read first as strings
//! (through `gojson`, keys matched as Go matches them) and an unknown one gets dockerd's
//! 400 — or, for the isolation, dockerd's 500 — before the body is decoded whole.
use std::str::FromStr;

use bollard_stubs::models::{
    HostConfigCgroupnsModeEnum, MountBindOptionsPropagationEnum, MountType, RestartPolicyNameEnum,
};
use serde::Deserialize;

use super::{ApiError, ApiResult};

#[derive(Debug, Default, Deserialize)]
struct Body {
    #[serde(rename = "HostConfig")]
    host_config: Option<Words>,
    /// An update body has the HostConfig fields at the top.
    #[serde(rename = "RestartPolicy")]
    restart_policy: Option<Policy>,
}

#[derive(Debug, Default, Deserialize)]
struct Words {
    #[serde(rename = "RestartPolicy")]
    restart_policy: Option<Policy>,
    #[serde(rename = "CgroupnsMode")]
    cgroupns_mode: Option<String>,
    #[serde(rename = "Isolation")]
    isolation: Option<String>,
    #[serde(rename = "Mounts")]
    mounts: Option<Vec<Mount>>,
}

#[derive(Debug, Default, Deserialize)]
struct Policy {
    #[serde(rename = "Name")]
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Mount {
    #[serde(rename = "Type")]
    typ: Option<String>,
    #[serde(rename = "BindOptions")]
    bind_options: Option<BindOptions>,
}

#[derive(Debug, Default, Deserialize)]
struct BindOptions {
    #[serde(rename = "Propagation")]
    propagation: Option<String>,
}

/// Checks the words of a create (or update) body; a body that does not decode at all is
/// left for the full decoding to refuse.
pub fn check(body: &[u8]) -> ApiResult<()> {
    let Ok(body) = crate::gojson::from_slice::<Body>(body) else {
        return Ok(());
    };
    let policy = |p: &Option<Policy>| p.as_ref().and_then(|p| p.name.clone());
    let host = body.host_config.unwrap_or_default();
    for name in [policy(&body.restart_policy), policy(&host.restart_policy)]
        .into_iter()
        .flatten()
    {
        if RestartPolicyNameEnum::from_str(&name).is_err() {
            return Err(ApiError::bad_request(format!(
                "invalid restart policy '{name}'"
            )));
        }
    }
    if let Some(mode) = host.cgroupns_mode {
        if HostConfigCgroupnsModeEnum::from_str(&mode).is_err() {
            return Err(ApiError::bad_request(format!(
                "invalid cgroup namespace mode: {mode}"
            )));
        }
    }
    if let Some(isolation) = host
        .isolation
        .filter(|i| !matches!(i.as_str(), "" | "default"))
    {
        return Err(ApiError::internal(format!(
            "Invalid isolation: \"{isolation}\" - linux only supports 'default'"
        )));
    }
    for mount in host.mounts.unwrap_or_default() {
        let typ = mount.typ.unwrap_or_default();
        if MountType::from_str(&typ).is_err() {
            return Err(ApiError::bad_request(format!(
                "invalid mount config for type \"{typ}\": mount type unknown"
            )));
        }
        let propagation = mount.bind_options.and_then(|b| b.propagation);
        if let Some(p) = propagation {
            if MountBindOptionsPropagationEnum::from_str(&p).is_err() {
                return Err(ApiError::bad_request(format!(
                    "invalid mount config for type \"{typ}\": invalid propagation mode: {p}"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> Option<String> {
        check(body.as_bytes()).err().map(|e| e.message)
    }

    #[test]
    fn unknown_words_get_dockerd_messages() {
        assert_eq!(
            message(r#"{"HostConfig":{"RestartPolicy":{"Name":"bogus"}}}"#).as_deref(),
            Some("invalid restart policy 'bogus'")
        );
        assert_eq!(
            message(r#"{"restartpolicy":{"name":"sometimes"}}"#).as_deref(),
            Some("invalid restart policy 'sometimes'")
        );
        assert_eq!(
            message(r#"{"hostconfig":{"cgroupnsmode":"bogus"}}"#).as_deref(),
            Some("invalid cgroup namespace mode: bogus")
        );
        assert_eq!(
            message(r#"{"HostConfig":{"Isolation":"hyperv"}}"#).as_deref(),
            Some("Invalid isolation: \"hyperv\" - linux only supports 'default'")
        );
        assert_eq!(
            message(r#"{"HostConfig":{"Mounts":[{"Type":"bogus","Target":"/x"}]}}"#).as_deref(),
            Some("invalid mount config for type \"bogus\": mount type unknown")
        );
        assert_eq!(
            message(
                r#"{"HostConfig":{"Mounts":[{"Type":"bind","Target":"/x","BindOptions":{"Propagation":"up"}}]}}"#
            )
            .as_deref(),
            Some("invalid mount config for type \"bind\": invalid propagation mode: up")
        );
    }

    #[test]
    fn known_words_pass() {
        for body in [
            r#"{"HostConfig":{"RestartPolicy":{"Name":""},"CgroupnsMode":"private","Isolation":"default",
                "Mounts":[{"Type":"bind","Source":"/a","Target":"/x","BindOptions":{"Propagation":"rslave"}}]}}"#,
            r#"{"Image":"x"}"#,
            "not json",
        ] {
            assert_eq!(message(body), None, "{body}");
        }
    }
}

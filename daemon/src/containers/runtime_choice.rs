//! Which OCI runtime a container runs with (`HostConfig.Runtime`), as dockerd decides it.
//!
//! At create the name the client gave is kept; none means the daemon's
//! `--default-runtime`, written into the record then (dockerd's
//! `verifyPlatformContainerSettings`), so a later change of the default does not move
//! existing containers. A name that is not registered (`--add-runtime`, daemon.json
//! `runtimes`, the stock names `config::stock_runtimes` lists) is refused with dockerd's 400 "Unknown
//! runtime specified NAME", at create and again at start (the daemon may have been
//! restarted without it).
use bollard_stubs::models::HostConfig;

use super::{ContainerError, Result};
use crate::config::Config;

/// Fills in the default runtime and checks the name is registered.
pub fn assign(hc: &mut HostConfig, config: &Config) -> Result<()> {
    if hc.runtime.as_deref().unwrap_or("").is_empty() {
        hc.runtime = Some(config.default_runtime.clone());
    }
    registered(hc, config).map(|_| ())
}

/// The runtime name to start the container with.
pub fn registered(hc: &HostConfig, config: &Config) -> Result<String> {
    let name = hc
        .runtime
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or(&config.default_runtime);
    if !config.runtimes.contains_key(name) {
        return Err(ContainerError::Invalid(format!(
            "Unknown runtime specified {name}"
        )));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_written_and_unknown_names_are_refused() {
        let config = Config::default();
        let mut hc = HostConfig::default();
        assign(&mut hc, &config).unwrap();
        assert_eq!(hc.runtime.as_deref(), Some(config.default_runtime.as_str()));
        let mut hc = HostConfig {
            runtime: Some("runc".into()),
            ..Default::default()
        };
        assign(&mut hc, &config).unwrap();
        assert_eq!(registered(&hc, &config).unwrap(), "runc");
        let mut hc = HostConfig {
            runtime: Some("asdf".into()),
            ..Default::default()
        };
        assert_eq!(
            assign(&mut hc, &config).unwrap_err().to_string(),
            "Unknown runtime specified asdf"
        );
        // A record from before the default was written starts with the default.
        assert_eq!(
            registered(&HostConfig::default(), &config).unwrap(),
            config.default_runtime
        );
    }
}

//! `POST /containers/create`: the request merged with the image's config as dockerd
//! does (moby `daemon/create.go`, `merge`), validated, and written as a new record.
use std::collections::HashMap;

use bollard_stubs::models::{
    ContainerConfig, ContainerCreateBody, HostConfig, HostConfigLogConfig, RestartPolicy,
    RestartPolicyNameEnum,
};
use serde_json::{Map, Value};

use super::record::{Container, RunState};
use super::{create_checks, names, ContainerError, Result};
use crate::images::config::ImageConfigFile;
use crate::state::Daemon;

/// Splits the request body into Config and HostConfig.
pub fn split_body(body: ContainerCreateBody) -> Result<(ContainerConfig, HostConfig)> {
    let host_config = body.host_config.clone().unwrap_or_default();
    let mut value = serde_json::to_value(&body)
        .map_err(|e| ContainerError::Invalid(format!("invalid container config: {e}")))?;
    if let Some(obj) = value.as_object_mut() {
        obj.remove("HostConfig");
        obj.remove("NetworkingConfig");
    }
    let config: ContainerConfig = serde_json::from_value(value)
        .map_err(|e| ContainerError::Invalid(format!("invalid container config: {e}")))?;
    Ok((config, host_config))
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v?.as_array().map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    })
}

fn keys(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// dockerd's `merge`: what the user left empty comes from the image.
pub fn merge_image_config(user: &mut ContainerConfig, image: &Map<String, Value>) {
    if user.user.as_deref().unwrap_or("").is_empty() {
        user.user = text(image.get("User")).or(user.user.take());
    }
    let mut ports = user.exposed_ports.take().unwrap_or_default();
    for p in keys(image.get("ExposedPorts")) {
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    user.exposed_ports = (!ports.is_empty()).then_some(ports);
    let image_env = strings(image.get("Env")).unwrap_or_default();
    match user.env.as_mut() {
        Some(env) if !env.is_empty() => {
            for ie in image_env {
                let key = ie.split('=').next().unwrap_or("").to_string();
                if !env
                    .iter()
                    .any(|e| e.split('=').next() == Some(key.as_str()))
                {
                    env.push(ie);
                }
            }
        }
        _ => user.env = Some(image_env).filter(|e| !e.is_empty()),
    }
    let mut labels: HashMap<String, String> = image
        .get("Labels")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    labels.extend(user.labels.take().unwrap_or_default());
    user.labels = Some(labels);
    if user.entrypoint.as_ref().is_none_or(Vec::is_empty) {
        if user.cmd.as_ref().is_none_or(Vec::is_empty) {
            user.cmd = strings(image.get("Cmd"));
        }
        if user.entrypoint.is_none() {
            user.entrypoint = strings(image.get("Entrypoint"));
        }
    }
    if user.working_dir.as_deref().unwrap_or("").is_empty() {
        user.working_dir = text(image.get("WorkingDir")).or(user.working_dir.take());
    }
    let mut volumes = user.volumes.take().unwrap_or_default();
    for v in keys(image.get("Volumes")) {
        if !volumes.contains(&v) {
            volumes.push(v);
        }
    }
    user.volumes = (!volumes.is_empty()).then_some(volumes);
    if user.stop_signal.as_deref().unwrap_or("").is_empty() {
        user.stop_signal = text(image.get("StopSignal"));
    }
    if user.on_build.is_none() {
        user.on_build = strings(image.get("OnBuild"));
    }
    if user.shell.is_none() {
        user.shell = strings(image.get("Shell"));
    }
    super::health_config::merge_image(user, image);
    // dockerd's mergeAndVerifyConfig: `--entrypoint ""` (sent as `[""]`) kept the image's
    // Cmd out above and now clears the entrypoint.
    if user
        .entrypoint
        .as_deref()
        .is_some_and(|e| e.len() == 1 && e[0].is_empty())
    {
        user.entrypoint = None;
    }
}

/// The defaults dockerd fills in a HostConfig at create.
pub fn fill_host_defaults(hc: &mut HostConfig, cgroup_v2: bool) {
    // dockerd shows "unset" for these as null.
    if hc.memory_swappiness == Some(-1) {
        hc.memory_swappiness = None;
    }
    if hc.pids_limit.is_some_and(|p| p <= 0) {
        hc.pids_limit = None;
    }
    if hc.network_mode.as_deref().unwrap_or("").is_empty() {
        hc.network_mode = Some("default".into());
    }
    if hc.shm_size.unwrap_or(0) == 0 {
        hc.shm_size = Some(super::spec::DEFAULT_SHM_SIZE);
    }
    let log = hc
        .log_config
        .get_or_insert_with(HostConfigLogConfig::default);
    if log.typ.as_deref().unwrap_or("").is_empty() {
        log.typ = Some("json-file".into());
    }
    log.config.get_or_insert_with(HashMap::new);
    let restart = hc.restart_policy.get_or_insert_with(RestartPolicy::default);
    if matches!(restart.name, None | Some(RestartPolicyNameEnum::EMPTY)) {
        restart.name = Some(RestartPolicyNameEnum::NO);
    }
    restart.maximum_retry_count.get_or_insert(0);
    if hc.ipc_mode.as_deref().unwrap_or("").is_empty() {
        hc.ipc_mode = Some("private".into());
    }
    if hc.cgroupns_mode.is_none_or(|m| m.as_ref().is_empty()) {
        use bollard_stubs::models::HostConfigCgroupnsModeEnum as M;
        hc.cgroupns_mode = Some(if cgroup_v2 { M::PRIVATE } else { M::HOST });
    }
}

/// What the security module checks and stores at create: capability names,
/// SecurityOpt (with "label=disable" where dockerd adds it), masked and read-only paths.
fn fill_security_defaults(hc: &mut HostConfig) -> Result<()> {
    use crate::security::{container, opts, paths};
    container::validate_at_create(hc)?;
    let privileged = hc.privileged == Some(true);
    let adapted = opts::adapt_security_opt(
        hc.security_opt.as_deref().unwrap_or(&[]),
        privileged,
        hc.ipc_mode.as_deref() == Some("host"),
        hc.pid_mode.as_deref() == Some("host"),
    );
    hc.security_opt = (!adapted.is_empty()).then_some(adapted);
    let (masked, readonly) = paths::host_config_defaults(
        hc.masked_paths.as_deref(),
        hc.readonly_paths.as_deref(),
        privileged,
    );
    hc.masked_paths = masked;
    hc.readonly_paths = readonly;
    Ok(())
}

/// How a request's API version changes what a create means (dockerd's
/// `ContainerCreateConfig` flags).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Read-only binds are read-only only at their top (clients before API 1.44).
    pub default_read_only_non_recursive: bool,
    /// The `platform` the client asked for (`docker run --platform`): the image must be
    /// of it, or the create is a 404 that makes the CLI pull that platform's image.
    pub platform: Option<crate::registry::platform::Platform>,
}

/// Creates a container named `name` (or a generated name) from the request.
pub async fn create(
    daemon: &Daemon,
    name: Option<&str>,
    body: ContainerCreateBody,
) -> Result<Container> {
    create_with(daemon, name, body, CreateOptions::default()).await
}

/// [`create`] for a request whose API version asks for `options`.
pub async fn create_with(
    daemon: &Daemon,
    name: Option<&str>,
    body: ContainerCreateBody,
    options: CreateOptions,
) -> Result<Container> {
    let networking = body
        .networking_config
        .as_ref()
        .and_then(|n| serde_json::to_value(n).ok());
    let (mut config, mut host_config) = split_body(body)?;
    let image_name = config.image.clone().unwrap_or_default();
    if image_name.is_empty() {
        return Err(ContainerError::Invalid(
            "config cannot be empty in order to create a container".into(),
        ));
    }
    let name = match name.filter(|n| !n.is_empty()) {
        Some(n) => Some(names::validate(n)?),
        None => None,
    };
    let cgroup_v2 = crate::api::host::cgroup_version() == "2";
    create_checks::validate_container_config(&mut config)?;
    create_checks::validate_host_config(&host_config, crate::api::host::ncpu())?;
    super::shared_namespaces::check_at_create(
        daemon,
        host_config.ipc_mode.as_deref(),
        host_config.pid_mode.as_deref(),
    )?;
    super::cpu_rt::validate(&host_config, super::cpu_rt::kernel_supports)?;
    if host_config.uts_mode.as_deref() == Some("host")
        && !config.hostname.as_deref().unwrap_or("").is_empty()
    {
        return Err(ContainerError::Invalid(
            "conflicting options: hostname and the UTS mode".into(),
        ));
    }
    let image = crate::images::lookup::resolve_image(daemon, &image_name)?;
    let image_config = ImageConfigFile::load(&daemon.content, &image.id)?;
    if let Some(wanted) = &options.platform {
        create_checks::check_platform(&image_name, wanted, &image_config)?;
    }
    merge_image_config(
        &mut config,
        &image_config.config.clone().unwrap_or_default(),
    );
    let mut command = config.entrypoint.clone().unwrap_or_default();
    command.extend(config.cmd.clone().unwrap_or_default());
    if command.is_empty() {
        return Err(ContainerError::Invalid("No command specified".into()));
    }
    super::health_config::validate(&config)?;
    fill_host_defaults(&mut host_config, cgroup_v2);
    super::runtime_choice::assign(&mut host_config, &daemon.config)?;
    fill_security_defaults(&mut host_config)?;
    super::storage_opts::check(host_config.storage_opt.as_ref())?;
    let id = daemon.containers.new_id();
    if config.hostname.as_deref().unwrap_or("").is_empty() {
        // As dockerd's newContainer: the host's name on the host's network, else the
        // short ID.
        let host_name = (host_config.network_mode.as_deref() == Some("host"))
            .then(|| nix::unistd::gethostname().ok())
            .flatten()
            .map(|n| n.to_string_lossy().into_owned());
        config.hostname = Some(host_name.unwrap_or_else(|| id[..12].to_string()));
    }
    config.domainname.get_or_insert_with(String::new);
    config.user.get_or_insert_with(String::new);
    config.working_dir.get_or_insert_with(String::new);
    let generated = name.is_none();
    let name = name.unwrap_or_else(|| generated_name(daemon));
    let moved_links = crate::networks::links::at_create(daemon, &name, &mut host_config)?;
    let mount_points = super::mounts::resolve(
        daemon,
        &id,
        &config,
        &host_config,
        options.default_read_only_non_recursive,
    )?;
    let record = Container {
        id: id.clone(),
        name,
        created: chrono::Utc::now(),
        path: command[0].clone(),
        args: command[1..].to_vec(),
        config,
        host_config,
        image_id: image.id.clone(),
        layers: image.layers.iter().map(|l| l.chain_id.clone()).collect(),
        state: RunState::default(),
        restart_count: 0,
        mount_points,
        health: None,
        dir: Default::default(),
    };
    let inserted = crate::networks::endpoints::plan(
        &daemon.networks,
        &record,
        networking.as_ref(),
        moved_links,
    )
    .map_err(ContainerError::from)
    .and_then(|plan| {
        let mut rename = || generated_name(daemon);
        let rename = generated.then_some(&mut rename as &mut dyn FnMut() -> String);
        Ok((plan, insert(&daemon.containers, record.clone(), rename)?))
    });
    let (plan, record) = match inserted {
        Ok(x) => x,
        Err(e) => {
            super::mounts::discard_anonymous(daemon, &record.mount_points);
            return Err(e);
        }
    };
    let layers_root = daemon.config.data_root.join("layers");
    if let Err(e) = super::rootfs::prepare(&record)
        // dockerd makes the init layer at create: `docker cp` finds its files before a start.
        .and_then(|_| super::init_layer::ensure(&record, &layers_root))
        .and_then(|_| {
            super::etc_files::write_etc_files(
                &record,
                &daemon
                    .networks
                    .host_gateway_ips(&daemon.config.host_gateway_ips),
            )
        })
        .and_then(|_| {
            daemon
                .networks
                .save_container_state(&record.dir, &plan)
                .map_err(ContainerError::from)
        })
        .and_then(|_| super::mounts::setup::populate(daemon, &record))
    {
        let _ = daemon.containers.remove(&record.id, true);
        super::mounts::discard_anonymous(daemon, &record.mount_points);
        return Err(e);
    }
    daemon
        .events
        .publish("container", "create", &record.id, record.event_attributes());
    Ok(record)
}

/// Records the new container. A generated name (`rename` gives another) that another
/// create took meanwhile, both having seen it free, is replaced, as dockerd's reservation
/// of generated names does: the caller chose no name, so it gets no name conflict.
fn insert(
    store: &super::store::ContainerStore,
    mut record: Container,
    mut rename: Option<&mut dyn FnMut() -> String>,
) -> Result<Container> {
    let mut retries = 10;
    loop {
        match (store.insert(record.clone()), rename.as_mut()) {
            (Err(ContainerError::Conflict(_)), Some(rename)) if retries > 0 => {
                retries -= 1;
                let (old, new) = (record.name.clone(), rename());
                // Legacy links name their parent: `child:/parent/alias`.
                for link in record.host_config.links.iter_mut().flatten() {
                    *link = link.replace(&format!(":{old}/"), &format!(":{new}/"));
                }
                record.name = new;
            }
            (result, _) => return result,
        }
    }
}

fn generated_name(daemon: &Daemon) -> String {
    for attempt in 0..10 {
        let n = format!("/{}", names::generate(attempt));
        if daemon.containers.name_owner(&n).is_none() {
            return n;
        }
    }
    format!("/{}", names::generate(99))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_generated_name_taken_meanwhile_is_replaced_and_a_chosen_one_conflicts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = super::super::store::ContainerStore::open(dir.path()).expect("store");
        let named = |name: &str| Container {
            name: name.to_string(),
            ..Container::for_tests(&store.new_id(), Default::default())
        };
        insert(&store, named("/golden_kepler"), None).expect("first");

        let mut second = named("/golden_kepler");
        second.host_config.links = Some(vec!["/db:/golden_kepler/db".into()]);
        let mut names = ["/golden_kepler", "/brave_curie"].into_iter();
        let mut rename = || names.next().expect("asked too often").to_string();
        let got = insert(&store, second, Some(&mut rename)).expect("renamed");
        assert_eq!(got.name, "/brave_curie");
        assert_eq!(
            got.host_config.links,
            Some(vec!["/db:/brave_curie/db".to_string()])
        );
        assert_eq!(store.name_owner("/brave_curie"), Some(got.id.clone()));

        let err = insert(&store, named("/golden_kepler"), None).expect_err("chosen name");
        assert!(matches!(err, ContainerError::Conflict(_)), "{err:?}");
        assert_eq!(store.list().len(), 2);
    }

    #[test]
    fn image_config_fills_what_the_user_left_empty() {
        let image = json!({
            "Cmd": ["sh"], "Env": ["PATH=/bin", "A=image"], "WorkingDir": "/w",
            "Labels": {"l": "image", "m": "image"}, "ExposedPorts": {"80/tcp": {}},
        });
        let mut user = ContainerConfig {
            env: Some(vec!["A=user".into()]),
            labels: Some([("m".to_string(), "user".to_string())].into()),
            ..Default::default()
        };
        merge_image_config(&mut user, image.as_object().unwrap());
        assert_eq!(user.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(user.env, Some(vec!["A=user".into(), "PATH=/bin".into()]));
        assert_eq!(user.working_dir.as_deref(), Some("/w"));
        let labels = user.labels.unwrap();
        assert_eq!(labels["l"], "image");
        assert_eq!(labels["m"], "user");
        assert_eq!(user.exposed_ports, Some(vec!["80/tcp".to_string()]));
    }

    #[test]
    fn an_empty_entrypoint_clears_the_image_one() {
        let image = json!({"Cmd": ["sh"], "Entrypoint": ["/init"]});
        let mut user = ContainerConfig {
            entrypoint: Some(vec![String::new()]),
            cmd: Some(vec!["echo".into(), "hi".into()]),
            ..Default::default()
        };
        merge_image_config(&mut user, image.as_object().unwrap());
        assert_eq!(user.entrypoint, None);
        assert_eq!(user.cmd, Some(vec!["echo".to_string(), "hi".to_string()]));
        // Without a command, nothing is left to run (dockerd: "No command specified").
        let mut user = ContainerConfig {
            entrypoint: Some(vec![String::new()]),
            ..Default::default()
        };
        merge_image_config(&mut user, image.as_object().unwrap());
        assert_eq!((user.entrypoint, user.cmd), (None, None));
    }

    #[test]
    fn a_user_entrypoint_drops_the_image_cmd() {
        let image = json!({"Cmd": ["sh"], "Entrypoint": ["/init"]});
        let mut user = ContainerConfig {
            entrypoint: Some(vec!["/bin/echo".into()]),
            ..Default::default()
        };
        merge_image_config(&mut user, image.as_object().unwrap());
        assert_eq!(user.cmd, None);
        assert_eq!(user.entrypoint, Some(vec!["/bin/echo".to_string()]));
    }
}

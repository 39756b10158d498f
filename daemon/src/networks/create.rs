//! `POST /networks/create`: the request, dockerd's checks and messages, the netd
//! network behind a bridge record; also the predefined networks' records.
use std::collections::BTreeMap;

use serde::Deserialize;

use super::record::{is_predefined, new_id, NetworkRecord};
use super::{NetworkError, Networks, Result};

/// `com.docker.network.bridge.name`.
pub const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
/// `com.docker.network.driver.mtu`.
pub const OPT_MTU: &str = "com.docker.network.driver.mtu";
/// `com.docker.network.bridge.enable_icc`.
pub const OPT_ICC: &str = "com.docker.network.bridge.enable_icc";
/// `com.docker.network.bridge.enable_ip_masquerade`.
pub const OPT_MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";

/// The body of `POST /networks/create` (the fields Berth reads).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRequest {
    #[serde(default)]
    pub name: String,
    pub driver: Option<String>,
    pub internal: Option<bool>,
    pub attachable: Option<bool>,
    pub ingress: Option<bool>,
    #[serde(rename = "IPAM")]
    pub ipam: Option<IpamRequest>,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: Option<bool>,
    #[serde(rename = "EnableIPv4")]
    pub enable_ipv4: Option<bool>,
    pub config_only: Option<bool>,
    pub options: Option<BTreeMap<String, String>>,
    pub labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamRequest {
    pub driver: Option<String>,
    pub config: Option<Vec<IpamPoolRequest>>,
    pub options: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct IpamPoolRequest {
    #[serde(rename = "Subnet")]
    pub subnet: Option<String>,
    #[serde(rename = "IPRange")]
    pub ip_range: Option<String>,
    #[serde(rename = "Gateway")]
    pub gateway: Option<String>,
    #[serde(rename = "AuxiliaryAddresses")]
    pub aux_addresses: Option<BTreeMap<String, String>>,
}

/// A record for `host` or `none` (no netd network behind them).
pub fn predefined(name: &str, driver: &str) -> NetworkRecord {
    NetworkRecord {
        id: new_id(),
        name: name.to_string(),
        driver: driver.to_string(),
        created: chrono::Utc::now(),
        internal: false,
        attachable: false,
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        ipam_options: None,
        enable_ipv6: false,
        ipam: Vec::new(),
        endpoints: BTreeMap::new(),
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn mtu_of(options: &BTreeMap<String, String>) -> Result<Option<u32>> {
    match options.get(OPT_MTU) {
        None => Ok(None),
        Some(v) => v.trim().parse::<u32>().map(Some).map_err(|_| {
            NetworkError::Invalid(format!(
                "invalid value for {OPT_MTU}: strconv.Atoi: parsing {v:?}: invalid syntax"
            ))
        }),
    }
}

/// Go's strconv.ParseBool, which dockerd's bridge driver uses for its options.
fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(NetworkError::Invalid(format!(
            "failed to parse {key} value: {value} (strconv.ParseBool: parsing {value:?}: invalid syntax)"
        ))),
    }
}

/// enable_icc and enable_ip_masquerade (both on unless an option says otherwise).
fn bridge_options_of(options: &BTreeMap<String, String>) -> Result<netd::firewall::BridgeOptions> {
    let mut out = netd::firewall::BridgeOptions::default();
    if let Some(v) = options.get(OPT_ICC) {
        out.icc = parse_bool(OPT_ICC, v)?;
    }
    if let Some(v) = options.get(OPT_MASQUERADE) {
        out.masquerade = parse_bool(OPT_MASQUERADE, v)?;
    }
    Ok(out)
}

fn bridge_name_of(options: &BTreeMap<String, String>) -> Result<Option<String>> {
    match options.get(OPT_BRIDGE_NAME).map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(name) if name.len() > 15 || name.contains(['/', ' ', ':']) => Err(
            NetworkError::Invalid(format!("invalid bridge name {name:?}")),
        ),
        Some(name) => Ok(Some(name.to_string())),
    }
}

/// dockerd's checks on a create request, in its order.
fn check(networks: &Networks, req: &CreateRequest) -> Result<()> {
    if req.name.trim().is_empty() {
        return Err(NetworkError::Invalid(format!("invalid name: {}", req.name)));
    }
    if is_predefined(&req.name) {
        return Err(NetworkError::Forbidden(format!(
            "operation is not permitted on predefined {} network ",
            req.name
        )));
    }
    if networks.list().iter().any(|n| n.name == req.name) {
        return Err(NetworkError::Conflict(format!(
            "network with name {} already exists",
            req.name
        )));
    }
    match req.driver.as_deref().unwrap_or("") {
        "" | "bridge" => {}
        d @ ("host" | "null") => {
            return Err(NetworkError::Forbidden(format!(
                "only one instance of \"{d}\" network is allowed"
            )))
        }
        // A swarm-scoped driver: dockerd asks for a swarm first.
        "overlay" => {
            return Err(NetworkError::Unavailable(
                crate::api::swarm::NOT_A_MANAGER.into(),
            ))
        }
        d => return Err(NetworkError::Missing(format!("plugin \"{d}\" not found"))),
    }
    if req.enable_ipv4 == Some(false) {
        return Err(NetworkError::Invalid(
            "IPv4 cannot be disabled on Berth's bridge networks".into(),
        ));
    }
    if req.config_only == Some(true) || req.ingress == Some(true) {
        return Err(NetworkError::Invalid(
            "config-only and ingress networks are not supported by Berth".into(),
        ));
    }
    if let Some(d) = req.ipam.as_ref().and_then(|i| non_empty(&i.driver)) {
        if d != "default" {
            return Err(NetworkError::Missing(format!("plugin \"{d}\" not found")));
        }
    }
    Ok(())
}

/// Creates a user-defined bridge network: checked, its bridge and rules made by netd,
/// its record saved.
pub async fn create(networks: &Networks, req: CreateRequest) -> Result<NetworkRecord> {
    let _one_at_a_time = networks.changes.lock().await;
    check(networks, &req)?;
    let options = req.options.clone().unwrap_or_default();
    // IPAM.Options as given: null when none were (dockerd), `{}` when empty ones were.
    let ipam_options = req.ipam.as_ref().and_then(|i| i.options.clone());
    let ipam_req = req.ipam.unwrap_or_default();
    let pool = super::ipam::pool_request(
        ipam_req.config.as_deref().unwrap_or(&[]),
        req.enable_ipv6.unwrap_or(false),
    )?;
    let id = new_id();
    let spec = netd::NetworkSpec {
        id: id.clone(),
        name: req.name.clone(),
        bridge: bridge_name_of(&options)?,
        internal: req.internal.unwrap_or(false),
        ipam: pool.clone(),
        mtu: mtu_of(&options)?,
        dns: true,
        options: bridge_options_of(&options)?,
    };
    let info = {
        let _host_wide = super::host::SubnetLock::acquire().await;
        networks.netd()?.create_network(&spec).await?
    };
    let record = NetworkRecord {
        id,
        name: req.name,
        driver: "bridge".into(),
        created: chrono::Utc::now(),
        internal: spec.internal,
        attachable: req.attachable.unwrap_or(false),
        labels: req.labels.unwrap_or_default(),
        options,
        ipam_options,
        enable_ipv6: info.v6.is_some(),
        ipam: super::ipam::configs_of(&info, &pool),
        endpoints: BTreeMap::new(),
    };
    if let Err(e) = networks.put(record.clone()) {
        let _ = networks.netd()?.remove_network(&record.id).await;
        return Err(e);
    }
    Ok(record)
}

/// Makes sure the default `bridge` network exists, on its bridge device, with the subnet
/// from `--bip` or the first free default pool (kept across restarts by netd's IPAM), and
/// with `--ipv6` an IPv6 subnet: `--fixed-cidr-v6`'s or one from the IPv6 pools
/// (`ipv6`: `Some(fixed_cidr_v6)`).
pub async fn ensure_default_bridge(
    networks: &Networks,
    bridge: &str,
    bip: Option<&str>,
    ipv6: Option<Option<&str>>,
) -> Result<()> {
    let existing = networks.list().into_iter().find(|n| n.name == "bridge");
    let id = existing
        .as_ref()
        .map(|r| r.id.clone())
        .unwrap_or_else(new_id);
    let mut spec = netd::NetworkSpec::default_bridge(&id, bip, None)?;
    if let Some(fixed_cidr_v6) = ipv6 {
        spec = spec.with_ipv6(fixed_cidr_v6)?;
    }
    spec.bridge = Some(bridge.to_string());
    let info = {
        let _host_wide = super::host::SubnetLock::acquire().await;
        networks.netd()?.create_network(&spec).await?
    };
    let mut record = existing.unwrap_or_else(|| predefined("bridge", "bridge"));
    record.id = id;
    record.ipam = super::ipam::configs_of(&info, &spec.ipam);
    record.enable_ipv6 = info.v6.is_some();
    record.options = default_bridge_options(bridge);
    networks.put(record)
}

fn default_bridge_options(bridge: &str) -> BTreeMap<String, String> {
    [
        ("com.docker.network.bridge.default_bridge", "true"),
        ("com.docker.network.bridge.enable_icc", "true"),
        ("com.docker.network.bridge.enable_ip_masquerade", "true"),
        ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
        (OPT_BRIDGE_NAME, bridge),
        (OPT_MTU, "1500"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Puts back the netd networks of user-defined records netd no longer knows (its state
/// lost), with the subnet and gateway they had.
pub async fn restore_user_networks(networks: &Networks) -> Result<()> {
    for record in networks.list() {
        if record.is_predefined() || !record.is_bridge() {
            continue;
        }
        let pool = super::ipam::request_of(&record.ipam, record.enable_ipv6);
        let spec = netd::NetworkSpec {
            id: record.id.clone(),
            name: record.name.clone(),
            bridge: bridge_name_of(&record.options).ok().flatten(),
            internal: record.internal,
            ipam: pool,
            mtu: mtu_of(&record.options).ok().flatten(),
            dns: true,
            options: bridge_options_of(&record.options).unwrap_or_default(),
        };
        if let Err(e) = networks.netd()?.create_network(&spec).await {
            tracing::warn!(network = %record.name, "could not restore the network: {e}");
        }
    }
    Ok(())
}

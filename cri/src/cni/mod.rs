//! Pod networking through CNI, as a node's operator configures it: the first network list
//! in the conf dir (`--cni-conf-dir`, e.g. /etc/cni/net.d), plugins from the bin dirs
//! (`--cni-bin-dir`, e.g. /opt/cni/bin and Debian's /usr/lib/cni). ADD runs each plugin in
//! order on the pod's network namespace, chaining results (`prevResult`); the portmap
//! plugin gets the pod's host ports in `runtimeConfig.portMappings`. DEL runs them in
//! reverse with the ADD result, and tolerates what is already gone (CNI DEL is idempotent).
//! Pods do not go through netd's Docker networks.
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

pub mod config;
pub mod plugin;

pub use config::NetworkList;

#[derive(Debug, thiserror::Error)]
pub enum CniError {
    #[error("cni config: {0}")]
    Config(String),
    #[error("cni plugin not initialized: no network config found in {0}")]
    NotReady(String),
    #[error("{0}")]
    Plugin(String),
}

/// A pod's host port (CRI `PortMapping` with a host port).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PortMapping {
    #[serde(rename = "hostPort")]
    pub host_port: i32,
    #[serde(rename = "containerPort")]
    pub container_port: i32,
    pub protocol: String,
    #[serde(rename = "hostIP", skip_serializing_if = "String::is_empty", default)]
    pub host_ip: String,
}

/// Who the pod is, for `CNI_ARGS` (as the kubelet's network plugins expect).
#[derive(Debug, Clone, Default)]
pub struct PodIdentity {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub sandbox_id: String,
}

impl PodIdentity {
    fn cni_args(&self) -> String {
        format!(
            "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={};K8S_POD_UID={}",
            self.namespace, self.name, self.sandbox_id, self.uid
        )
    }
}

/// What ADD gave the pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attachment {
    /// The first address of the pod's interface, without its prefix length.
    pub ip: String,
    pub additional_ips: Vec<String>,
    /// The final result, kept for DEL's `prevResult`.
    pub result: Value,
}

/// The node's CNI set-up.
pub struct Cni {
    conf_dir: PathBuf,
    bin_dirs: Vec<PathBuf>,
}

/// The interface CNI creates in the pod.
const IFNAME: &str = "eth0";

impl Cni {
    pub fn new(conf_dir: PathBuf, bin_dirs: Vec<PathBuf>) -> Cni {
        Cni { conf_dir, bin_dirs }
    }

    /// The network list in use now (re-read on each call: operators drop configs in at any
    /// time, as containerd watches its conf dir).
    pub fn network(&self) -> Result<NetworkList, CniError> {
        config::load_first(&self.conf_dir)?
            .ok_or_else(|| CniError::NotReady(self.conf_dir.display().to_string()))
    }

    /// Attaches the pod's namespace `netns` to the network.
    pub async fn setup(
        &self,
        pod: &PodIdentity,
        netns: &Path,
        ports: &[PortMapping],
    ) -> Result<Attachment, CniError> {
        let net = self.network()?;
        let args = pod.cni_args();
        let inv = plugin::Invocation {
            command: "ADD",
            container_id: &pod.sandbox_id,
            netns,
            ifname: IFNAME,
            args: &args,
            bin_dirs: &self.bin_dirs,
        };
        let mut prev: Option<Value> = None;
        for (i, p) in net.plugins.iter().enumerate() {
            if idle(p, ports) {
                continue;
            }
            let conf = plugin_config(&net, p, prev.as_ref(), ports);
            match plugin::run(&inv, &conf).await {
                Ok(result) => prev = Some(result),
                Err(e) => {
                    // Undo the plugins that did their part (DEL is idempotent).
                    let done = &net.plugins[..=i];
                    let _ = self.del(&net, done, &inv, prev.as_ref(), ports).await;
                    return Err(e);
                }
            }
        }
        let result = prev.unwrap_or(Value::Null);
        let (ip, additional_ips) = pod_ips(&result);
        Ok(Attachment {
            ip,
            additional_ips,
            result,
        })
    }

    /// Detaches the pod; `result` is what ADD answered (`Null` when unknown).
    pub async fn teardown(
        &self,
        pod: &PodIdentity,
        netns: &Path,
        ports: &[PortMapping],
        result: &Value,
    ) -> Result<(), CniError> {
        let net = self.network()?;
        let args = pod.cni_args();
        let inv = plugin::Invocation {
            command: "DEL",
            container_id: &pod.sandbox_id,
            netns,
            ifname: IFNAME,
            args: &args,
            bin_dirs: &self.bin_dirs,
        };
        let prev = (!result.is_null()).then_some(result);
        self.del(&net, &net.plugins, &inv, prev, ports).await
    }

    async fn del(
        &self,
        net: &NetworkList,
        plugins: &[Value],
        inv: &plugin::Invocation<'_>,
        prev: Option<&Value>,
        ports: &[PortMapping],
    ) -> Result<(), CniError> {
        let inv = plugin::Invocation {
            command: "DEL",
            ..inv.clone()
        };
        let mut first_error = None;
        for p in plugins.iter().rev().filter(|p| !idle(p, ports)) {
            let conf = plugin_config(net, p, prev, ports);
            if let Err(e) = plugin::run(&inv, &conf).await {
                tracing::warn!(error = %e, "CNI DEL");
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Whether running the plugin would do nothing: portmap without host ports (it then only
/// passes the previous result on, at ADD and at DEL).
fn idle(plugin: &Value, ports: &[PortMapping]) -> bool {
    ports.is_empty() && plugin.get("type").and_then(Value::as_str) == Some("portmap")
}

/// One plugin's stdin: its own object, with the list's name and version, the previous
/// result, and the runtime configuration for the capabilities it declares.
fn plugin_config(
    net: &NetworkList,
    plugin: &Value,
    prev: Option<&Value>,
    ports: &[PortMapping],
) -> Value {
    let mut conf: Map<String, Value> = plugin.as_object().cloned().unwrap_or_default();
    conf.insert("name".into(), json!(net.name));
    conf.insert("cniVersion".into(), json!(net.cni_version));
    if let Some(prev) = prev {
        if !prev.is_null() {
            conf.insert("prevResult".into(), prev.clone());
        }
    }
    let wants = |cap: &str| {
        plugin
            .get("capabilities")
            .and_then(|c| c.get(cap))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    if wants("portMappings") && !ports.is_empty() {
        let mut rc = conf
            .remove("runtimeConfig")
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        rc.insert("portMappings".into(), json!(ports));
        conf.insert("runtimeConfig".into(), Value::Object(rc));
    }
    Value::Object(conf)
}

/// The pod's addresses in a CNI result: those of the pod-side interface (or with no
/// interface index), IPv4 first, without prefix lengths.
fn pod_ips(result: &Value) -> (String, Vec<String>) {
    let interfaces = result.get("interfaces").and_then(Value::as_array);
    let in_pod = |idx: Option<u64>| -> bool {
        match (idx, interfaces) {
            (Some(i), Some(list)) => list
                .get(i as usize)
                .and_then(|iface| iface.get("sandbox"))
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty()),
            _ => true,
        }
    };
    let mut ips: Vec<String> = result
        .get("ips")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|ip| in_pod(ip.get("interface").and_then(Value::as_u64)))
        .filter_map(|ip| ip.get("address").and_then(Value::as_str))
        .map(|a| a.split('/').next().unwrap_or(a).to_string())
        .collect();
    ips.sort_by_key(|ip| ip.contains(':'));
    let mut it = ips.into_iter();
    let first = it.next().unwrap_or_default();
    (first, it.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_ips_come_from_the_pod_interface_ipv4_first() {
        let result = json!({
            "cniVersion": "1.0.0",
            "interfaces": [{"name": "cni0"}, {"name": "veth1"}, {"name": "eth0", "sandbox": "/run/netns/x"}],
            "ips": [
                {"interface": 2, "address": "fd00::5/64"},
                {"interface": 2, "address": "10.88.0.5/16", "gateway": "10.88.0.1"},
                {"interface": 0, "address": "10.88.0.1/16"}
            ]
        });
        let (ip, more) = pod_ips(&result);
        assert_eq!(ip, "10.88.0.5");
        assert_eq!(more, vec!["fd00::5".to_string()]);
    }

    #[test]
    fn portmap_without_ports_is_idle() {
        let portmap = json!({"type": "portmap", "capabilities": {"portMappings": true}});
        assert!(idle(&portmap, &[]));
        let port = PortMapping {
            host_port: 1,
            container_port: 2,
            protocol: "tcp".into(),
            host_ip: String::new(),
        };
        assert!(!idle(&portmap, &[port]));
        assert!(!idle(&json!({"type": "bridge"}), &[]));
    }

    #[test]
    fn plugin_config_chains_and_passes_port_mappings_to_capable_plugins() {
        let net = NetworkList {
            name: "pods".into(),
            cni_version: "1.0.0".into(),
            plugins: vec![],
            source: PathBuf::new(),
        };
        let ports = vec![PortMapping {
            host_port: 12000,
            container_port: 80,
            protocol: "tcp".into(),
            host_ip: String::new(),
        }];
        let portmap = json!({"type": "portmap", "capabilities": {"portMappings": true}});
        let c = plugin_config(&net, &portmap, Some(&json!({"ips": []})), &ports);
        assert_eq!(c["name"], "pods");
        assert_eq!(c["prevResult"], json!({"ips": []}));
        assert_eq!(c["runtimeConfig"]["portMappings"][0]["hostPort"], 12000);
        assert!(c["runtimeConfig"]["portMappings"][0]
            .get("hostIP")
            .is_none());
        let bridge = json!({"type": "bridge"});
        assert!(plugin_config(&net, &bridge, None, &ports)
            .get("runtimeConfig")
            .is_none());
    }
}

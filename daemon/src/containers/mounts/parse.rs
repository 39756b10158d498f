//! Parsing what a container asks to mount, with dockerd's rules and messages (moby
//! `volume/mounts/linux_parser.go`): `-v` strings (HostConfig.Binds), `--mount` objects
//! (HostConfig.Mounts) and `--volumes-from` references.
use std::collections::BTreeMap;

use bollard_stubs::models::{HostConfig, Mount, MountType};

use crate::containers::record::{BindRecursion, MountKind};

/// One mount asked for, before its volume (if any) is looked up or created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    pub kind: MountKind,
    /// A bind's host path; a volume's name (empty: a new anonymous volume); empty for tmpfs.
    pub source: String,
    /// Cleaned, absolute.
    pub destination: String,
    pub rw: bool,
    pub mode: String,
    pub propagation: String,
    /// Copy the image's content into the volume when it is new and empty.
    pub copy_data: bool,
    /// Create a missing bind source (`-v` only).
    pub create_source: bool,
    /// Volume driver, options and labels (`--mount type=volume,volume-driver=…,volume-opt=…`).
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// tmpfs mount options (`size=…`, `mode=…`, `ro`).
    pub tmpfs_options: Vec<String>,
    /// The volume's subfolder to mount (`VolumeOptions.Subpath`), relative and local.
    pub subpath: Option<String>,
    /// A bind's `BindOptions` about the mounts below its source.
    pub recursion: BindRecursion,
}

impl Requested {
    fn new(kind: MountKind, source: &str, destination: String) -> Requested {
        Requested {
            kind,
            source: source.to_string(),
            destination,
            rw: true,
            mode: String::new(),
            propagation: String::new(),
            copy_data: kind == MountKind::Volume,
            create_source: false,
            driver: String::new(),
            driver_opts: BTreeMap::new(),
            labels: BTreeMap::new(),
            tmpfs_options: Vec::new(),
            subpath: None,
            recursion: BindRecursion::default(),
        }
    }
}

const PROPAGATIONS: &[&str] = &[
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
];
const DEFAULT_PROPAGATION: &str = "rprivate";

/// Go's `path.Clean` for absolute paths.
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    if p.starts_with('/') {
        format!("/{}", parts.join("/"))
    } else if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// Go's `filepath.IsLocal`: relative, not empty, and not climbing above where it starts
/// once cleaned ("a/../b" is local, "a/../../b" is not).
pub fn is_local(p: &str) -> bool {
    if p.is_empty() || p.starts_with('/') {
        return false;
    }
    let mut depth = 0usize;
    for segment in p.split('/') {
        match segment {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ => depth += 1,
        }
    }
    true
}

/// dockerd's `ValidMountMode`: at most one of each kind of option.
pub fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut counts = [0u8; 5];
    for o in mode.split(',') {
        let kind = match o {
            "rw" | "ro" => 0,
            "z" | "Z" => 1,
            p if PROPAGATIONS.contains(&p) => 2,
            "nocopy" => 3,
            "consistent" | "cached" | "delegated" => 4,
            _ => return false,
        };
        counts[kind] += 1;
    }
    counts.iter().all(|c| *c <= 1)
}

fn mode_has(mode: &str, opt: &str) -> bool {
    mode.split(',').any(|o| o == opt)
}

fn mount_config_error(kind: &str, message: &str) -> String {
    format!("invalid mount config for type \"{kind}\": {message}")
}

/// The checks every mount type shares: a target, absolute, not `/`.
fn check_target(kind: &str, target: &str) -> Result<(), String> {
    if target.is_empty() {
        return Err(mount_config_error(kind, "field Target must not be empty"));
    }
    if clean_path(target) == "/" {
        return Err(mount_config_error(
            kind,
            "invalid specification: destination can't be '/'",
        ));
    }
    if !target.starts_with('/') {
        return Err(mount_config_error(
            kind,
            &format!("invalid mount path: '{target}' mount path must be absolute"),
        ));
    }
    Ok(())
}

/// One `-v` string: `dest`, `src:dest` or `src:dest:mode`, where an absolute `src` is a
/// host path and any other a volume name.
pub fn parse_bind(raw: &str) -> Result<Requested, String> {
    let invalid_spec = || format!("invalid volume specification: '{raw}'");
    let parts: Vec<&str> = raw.split(':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(invalid_spec());
    }
    let (source, target, mode) = match parts.as_slice() {
        [target] => ("", *target, ""),
        [source, target] => {
            if valid_mode(target) {
                return Err(invalid_spec());
            }
            (*source, *target, "")
        }
        [source, target, mode] => (*source, *target, *mode),
        _ => return Err(invalid_spec()),
    };
    if !valid_mode(mode) {
        return Err(format!("invalid mode: {mode}"));
    }
    let kind = if source.starts_with('/') {
        MountKind::Bind
    } else {
        MountKind::Volume
    };
    let kind_name = if kind == MountKind::Bind {
        "bind"
    } else {
        "volume"
    };
    check_target(kind_name, target).map_err(|e| format!("{}: {e}", invalid_spec()))?;
    let mut r = Requested::new(kind, source, clean_path(target));
    r.rw = !mode_has(mode, "ro");
    r.mode = mode.to_string();
    match kind {
        MountKind::Bind => {
            r.source = clean_path(source);
            r.create_source = true;
            r.propagation = mode
                .split(',')
                .find(|o| PROPAGATIONS.contains(o))
                .unwrap_or(DEFAULT_PROPAGATION)
                .to_string();
        }
        _ => r.copy_data = !mode_has(mode, "nocopy"),
    }
    Ok(r)
}

/// dockerd's tmpfs options: `ro`, `mode=<octal>`, `size=<n>[kmg]` (the largest unit that
/// divides the size), then any extra options.
fn tmpfs_options(m: &Mount) -> Vec<String> {
    let mut opts = Vec::new();
    if m.read_only == Some(true) {
        opts.push("ro".to_string());
    }
    let Some(t) = &m.tmpfs_options else {
        return opts;
    };
    if let Some(mode) = t.mode.filter(|m| *m != 0) {
        opts.push(format!("mode={:o}", mode & 0o7777));
    }
    if let Some(size) = t.size_bytes.filter(|s| *s != 0) {
        let (n, suffix) = [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)]
            .iter()
            .find(|(_, d)| size % d == 0)
            .map(|(s, d)| (size / d, *s))
            .unwrap_or((size, ""));
        opts.push(format!("size={n}{suffix}"));
    }
    for o in t.options.iter().flatten() {
        match o.as_slice() {
            [k] => opts.push(k.clone()),
            [k, v] => opts.push(format!("{k}={v}")),
            _ => {}
        }
    }
    opts
}

/// One `--mount` object. `exists` tells whether a host path exists (bind sources must).
pub fn parse_mount(m: &Mount, exists: impl Fn(&str) -> bool) -> Result<Requested, String> {
    let typ = m.typ.unwrap_or(MountType::VOLUME);
    let kind_name = typ.to_string();
    let err = |msg: &str| mount_config_error(&kind_name, msg);
    let target = m.target.clone().unwrap_or_default();
    let source = m.source.clone().unwrap_or_default();
    check_target(&kind_name, &target)?;
    let rw = m.read_only != Some(true);
    let destination = clean_path(&target);
    match typ {
        MountType::BIND => {
            if source.is_empty() {
                return Err(err("field Source must not be empty"));
            }
            if m.volume_options.is_some() {
                return Err(err("field VolumeOptions must not be specified"));
            }
            if m.tmpfs_options.is_some() {
                return Err(err("field TmpfsOptions must not be specified"));
            }
            if !source.starts_with('/') {
                return Err(err(&format!(
                    "invalid mount path: '{source}' mount path must be absolute"
                )));
            }
            let bind = m.bind_options.clone().unwrap_or_default();
            let create = bind.create_mountpoint == Some(true);
            if !create && !exists(&source) {
                return Err(err(&format!("bind source path does not exist: {source}")));
            }
            let mut r = Requested::new(MountKind::Bind, &clean_path(&source), destination);
            r.rw = rw;
            r.create_source = create;
            r.recursion = BindRecursion {
                non_recursive: bind.non_recursive == Some(true),
                read_only_non_recursive: bind.read_only_non_recursive == Some(true),
                read_only_force_recursive: bind.read_only_force_recursive == Some(true),
            };
            r.propagation = bind
                .propagation
                .map(|p| p.to_string())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| DEFAULT_PROPAGATION.into());
            Ok(r)
        }
        MountType::VOLUME => {
            if m.bind_options.is_some() {
                return Err(err("field BindOptions must not be specified"));
            }
            if m.tmpfs_options.is_some() {
                return Err(err("field TmpfsOptions must not be specified"));
            }
            let subpath = m
                .volume_options
                .as_ref()
                .and_then(|v| v.subpath.clone())
                .filter(|s| !s.is_empty());
            if let Some(subpath) = &subpath {
                if source.is_empty() {
                    return Err(err("must not set Subpath when using anonymous volumes"));
                }
                if !is_local(subpath) {
                    return Err(err("subpath must be a relative path within the volume"));
                }
            }
            if source.is_empty() && !rw {
                return Err(err(
                    "must not set ReadOnly mode when using anonymous volumes",
                ));
            }
            let mut r = Requested::new(MountKind::Volume, &source, destination);
            r.rw = rw;
            r.subpath = subpath;
            if let Some(v) = &m.volume_options {
                r.copy_data = v.no_copy != Some(true);
                r.labels = v.labels.clone().unwrap_or_default().into_iter().collect();
                if let Some(d) = &v.driver_config {
                    r.driver = d.name.clone().unwrap_or_default();
                    r.driver_opts = d.options.clone().unwrap_or_default().into_iter().collect();
                }
            }
            Ok(r)
        }
        MountType::TMPFS => {
            if m.bind_options.is_some() {
                return Err(err("field BindOptions must not be specified"));
            }
            if m.volume_options.is_some() {
                return Err(err("field VolumeOptions must not be specified"));
            }
            if !source.is_empty() {
                return Err(err("field Source must not be specified"));
            }
            let mut r = Requested::new(MountKind::Tmpfs, "", destination);
            r.rw = rw;
            r.tmpfs_options = tmpfs_options(m);
            Ok(r)
        }
        MountType::IMAGE => {
            if source.is_empty() {
                return Err(err("field Source must not be empty"));
            }
            for (given, field) in [
                (m.bind_options.is_some(), "BindOptions"),
                (m.volume_options.is_some(), "VolumeOptions"),
                (m.tmpfs_options.is_some(), "TmpfsOptions"),
            ] {
                if given {
                    return Err(err(&format!("field {field} must not be specified")));
                }
            }
            let subpath = m
                .image_options
                .as_ref()
                .and_then(|o| o.subpath.clone())
                .filter(|s| !s.is_empty());
            if subpath.as_deref().is_some_and(|s| !is_local(s)) {
                return Err(err("subpath must be a relative path within the volume"));
            }
            // Always read-only, whatever was asked (dockerd's registerMountPoints).
            let mut r = Requested::new(MountKind::Image, &source, destination);
            r.rw = false;
            r.subpath = subpath;
            r.propagation = DEFAULT_PROPAGATION.into();
            Ok(r)
        }
        _ => Err(err("mount type unknown")),
    }
}

/// A create request's mounts as dockerd's router reads them for API 1.`minor`: bind
/// options older clients did not know are ignored (`NonRecursive` before 1.40,
/// `CreateMountpoint` before 1.42), those they cannot have meant are refused
/// (`ReadOnlyForceRecursive` before 1.44, `VolumeOptions.Subpath` before 1.45, image
/// mounts before 1.48). Whether
/// read-only binds stay non-recursively read-only, as every one was before 1.44.
pub fn for_api_version(hc: &mut HostConfig, minor: u32) -> Result<bool, String> {
    for m in hc.mounts.iter_mut().flatten() {
        if let Some(bind) = m.bind_options.as_mut() {
            if minor < 40 {
                bind.non_recursive = None;
            }
            if minor < 42 {
                bind.create_mountpoint = None;
            }
            if minor < 44
                && m.typ == Some(MountType::BIND)
                && bind.read_only_force_recursive == Some(true)
            {
                return Err("BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer".into());
            }
        }
        if minor < 48 && m.typ == Some(MountType::IMAGE) {
            return Err(r#"Mount type "Image" needs API v1.48 or newer"#.into());
        }
        let subpath = m.volume_options.as_ref().and_then(|v| v.subpath.as_deref());
        if minor < 45 && subpath.is_some_and(|s| !s.is_empty()) {
            return Err("VolumeOptions.Subpath needs API v1.45 or newer".into());
        }
    }
    Ok(minor < 44)
}

/// One `--volumes-from` value: `container[:ro|rw]`; returns the container and whether
/// its mounts stay writable.
pub fn parse_volumes_from(spec: &str) -> Result<(String, bool), String> {
    if spec.is_empty() {
        return Err("volumes-from specification cannot be an empty string".into());
    }
    let (id, mode) = spec.split_once(':').unwrap_or((spec, "rw"));
    if !valid_mode(mode) {
        return Err(format!("invalid mode: {mode}"));
    }
    if mode.split(',').any(|o| PROPAGATIONS.contains(&o)) {
        return Err(format!(
            "Invalid argument: Can not specify propagation mode for volume-from, {spec}"
        ));
    }
    Ok((id.to_string(), !mode_has(mode, "ro")))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;

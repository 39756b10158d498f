//! `GET /containers/json`: `docker ps` rows, filters, and dockerd's status strings.
//!
//! A listing reads no file and copies no record: rows are serialized straight from the
//! records as the store holds them (under its read lock, with no await), from the network
//! records and from each container's networking state kept in memory
//! (`networks::state_cache`). Only `size=1` walks folders, outside the lock.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::record::{Container, Status};
use super::{ContainerError, Result};
use crate::images::filters::Filters;
use crate::state::Daemon;

const ACCEPTED: &[&str] = &[
    "ancestor",
    "before",
    "expose",
    "exited",
    "health",
    "id",
    "isolation",
    "is-task",
    "label",
    "name",
    "network",
    "publish",
    "since",
    "status",
    "volume",
];

/// go-units' HumanDuration.
pub fn human_duration(d: chrono::Duration) -> String {
    let seconds = d.num_seconds();
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = d.num_minutes();
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (d.num_seconds() as f64 / 3600.0 + 0.5) as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", d.num_hours() / 24 / 365)
}

/// dockerd's `State.String()`: "Up 3 seconds", "Exited (0) 5 seconds ago", "Created", …
pub fn status_string(c: &Container, now: DateTime<Utc>) -> String {
    let s = &c.state;
    let since = |t: Option<DateTime<Utc>>| human_duration(now - t.unwrap_or(now));
    match s.status {
        Status::Running => match &c.health {
            Some(h) if h.status == super::health::STARTING => {
                format!("Up {} (health: starting)", since(s.started_at))
            }
            Some(h) => format!("Up {} ({})", since(s.started_at), h.status),
            None => format!("Up {}", since(s.started_at)),
        },
        Status::Paused => format!("Up {} (Paused)", since(s.started_at)),
        Status::Restarting => format!("Restarting ({}) {} ago", s.exit_code, since(s.finished_at)),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        Status::Created => "Created".into(),
        Status::Exited => match (s.started_at, s.finished_at) {
            (None, _) => "Created".into(),
            (_, None) => String::new(),
            (_, Some(f)) => format!("Exited ({}) {} ago", s.exit_code, human_duration(now - f)),
        },
    }
}

/// Path and Args as one shell-quoted line, as dockerd shows them ("sh -c 'exit 3'").
fn command(c: &Container) -> String {
    std::iter::once(&c.path)
        .chain(c.args.iter())
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_./:=,+@%".contains(ch));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\"'\"'"))
    }
}

fn invalid(e: crate::images::RequestError) -> ContainerError {
    ContainerError::Invalid(e.to_string())
}

/// The options of `GET /containers/json`.
#[derive(Debug, Default)]
pub struct ListOptions {
    pub all: bool,
    pub limit: Option<usize>,
    pub size: bool,
    pub filters: String,
}

fn labels(c: &Container) -> BTreeMap<String, String> {
    c.config
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// Whether `c` passes the filters (their values were checked by `check_values`).
fn matches(daemon: &Daemon, c: &Container, f: &Filters, all: bool, ctx: &Bounds) -> Result<bool> {
    let status = c.state.status.as_str();
    if f.contains("status") {
        if !f.get("status").contains(&status) {
            return Ok(false);
        }
    } else if !all
        && !f.contains("exited")
        && !c.state.status.is_running()
        && c.state.status != Status::Restarting
    {
        return Ok(false);
    }
    if f.contains("exited") {
        if c.state.status != Status::Exited {
            return Ok(false);
        }
        let wanted = f
            .get("exited")
            .into_iter()
            .filter_map(|e| e.parse::<i64>().ok());
        if !wanted.into_iter().any(|code| code == c.state.exit_code) {
            return Ok(false);
        }
    }
    if f.contains("health") {
        use super::health;
        if !f
            .get("health")
            .contains(&health::status_of(c.health.as_ref()))
        {
            return Ok(false);
        }
    }
    if f.contains("id") && !f.get("id").iter().any(|p| c.id.starts_with(p)) {
        return Ok(false);
    }
    if f.contains("name") {
        let mut ok = false;
        for p in f.get("name") {
            ok |= regex_lite_match(p, c.bare_name()) || regex_lite_match(p, &c.name);
        }
        if !ok {
            return Ok(false);
        }
    }
    if f.contains("label") && !f.match_kv_list("label", &labels(c)) {
        return Ok(false);
    }
    if f.contains("volume")
        && !f
            .get("volume")
            .iter()
            .any(|v| super::mounts::spec::uses_volume(c, v))
    {
        return Ok(false);
    }
    if f.contains("ancestor") {
        let mut ok = false;
        for a in f.get("ancestor") {
            ok |= c.image_name() == a
                || crate::images::lookup::resolve_image(daemon, a)
                    .is_ok_and(|i| i.id == c.image_id);
        }
        if !ok {
            return Ok(false);
        }
    }
    if let Some(before) = &ctx.before {
        if c.created >= *before {
            return Ok(false);
        }
    }
    if let Some(since) = &ctx.since {
        if c.created <= *since {
            return Ok(false);
        }
    }
    Ok(true)
}

/// dockerd matches names with a regexp search; Berth supports the usual forms:
/// a substring, with `^` and `$` anchors.
fn regex_lite_match(pattern: &str, name: &str) -> bool {
    let (anchored_start, p) = match pattern.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pattern),
    };
    let (anchored_end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    match (anchored_start, anchored_end) {
        (true, true) => name == p,
        (true, false) => name.starts_with(p),
        (false, true) => name.ends_with(p),
        (false, false) => name.contains(p),
    }
}

struct Bounds {
    before: Option<DateTime<Utc>>,
    since: Option<DateTime<Utc>>,
}

fn bound(daemon: &Daemon, f: &Filters, key: &str) -> Result<Option<DateTime<Utc>>> {
    match f.get(key).first() {
        None => Ok(None),
        Some(r) => Ok(Some(daemon.containers.lookup(r)?.created)),
    }
}

/// One `docker ps` row, in dockerd's field order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row<'a> {
    id: &'a str,
    names: [&'a str; 1],
    image: &'a str,
    #[serde(rename = "ImageID")]
    image_id: &'a str,
    command: String,
    created: i64,
    ports: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_rw: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_root_fs: Option<u64>,
    labels: BTreeMap<&'a str, &'a str>,
    state: &'a str,
    status: String,
    host_config: HostConfigRow<'a>,
    network_settings: NetworkSettingsRow<'a>,
    mounts: Value,
    health: HealthRow<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct HostConfigRow<'a> {
    network_mode: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkSettingsRow<'a> {
    networks: crate::networks::settings::NetworksView<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct HealthRow<'a> {
    status: &'a str,
    failing_streak: u64,
}

/// The rows of `docker ps`, newest first, as a JSON array.
pub fn list_json(daemon: &Daemon, opts: &ListOptions) -> Result<Vec<u8>> {
    let f = Filters::from_json(&opts.filters).map_err(invalid)?;
    f.validate(ACCEPTED).map_err(invalid)?;
    check_values(&f)?;
    let ctx = Bounds {
        before: bound(daemon, &f, "before")?,
        since: bound(daemon, &f, "since")?,
    };
    // Sizes are folder walks: done first, without holding the store.
    let sizes: Option<HashMap<String, (u64, u64)>> = if opts.size {
        let dirs = daemon.containers.with_all(|all| {
            select(daemon, all, opts, &f, &ctx).map(|rows| {
                rows.iter()
                    .map(|c| (c.id.clone(), c.upper_dir(), c.image_id.clone()))
                    .collect::<Vec<_>>()
            })
        })?;
        Some(
            dirs.into_iter()
                .map(|(id, dir, image)| {
                    let rw = dir_size(&dir);
                    (id, (rw, rw + image_size(daemon, &image)))
                })
                .collect(),
        )
    } else {
        None
    };
    let now = Utc::now();
    daemon.containers.with_all(|all| {
        let chosen = select(daemon, all, opts, &f, &ctx)?;
        let states: Vec<Option<Arc<crate::networks::endpoints::ContainerNetwork>>> = chosen
            .iter()
            .map(|c| daemon.networks.container_state(&c.dir))
            .collect();
        let records = daemon.networks.read();
        // Each image name resolved once per listing (most containers share a few).
        let mut resolved: HashMap<&str, Option<String>> = HashMap::new();
        let rows: Vec<Row> = chosen
            .iter()
            .zip(&states)
            .map(|(c, state)| {
                let size = sizes
                    .as_ref()
                    .map(|s| s.get(&c.id).copied().unwrap_or((0, 0)));
                Row {
                    id: &c.id,
                    names: [&c.name],
                    image: shown_image(daemon, c, &mut resolved),
                    image_id: &c.image_id,
                    command: command(c),
                    created: c.created.timestamp(),
                    ports: crate::networks::settings::list_ports(daemon, c),
                    size_rw: size.map(|(rw, _)| rw),
                    size_root_fs: size.map(|(_, root)| root),
                    labels: c
                        .config
                        .labels
                        .iter()
                        .flatten()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect(),
                    state: c.state.status.as_str(),
                    status: status_string(c, now),
                    host_config: HostConfigRow {
                        network_mode: c.host_config.network_mode.as_deref().unwrap_or("default"),
                    },
                    network_settings: NetworkSettingsRow {
                        networks: crate::networks::settings::NetworksView::new(
                            &records,
                            state.as_deref(),
                            c,
                        ),
                    },
                    mounts: super::mounts::spec::mounts_json(c),
                    health: HealthRow {
                        status: if c.state.status.is_running() {
                            super::health::status_of(c.health.as_ref())
                        } else {
                            super::health::NONE
                        },
                        failing_streak: c.health.as_ref().map_or(0, |h| h.failing_streak),
                    },
                }
            })
            .collect();
        serde_json::to_vec(&rows)
            .map_err(|e| ContainerError::Internal(format!("encoding the list: {e}")))
    })
}

/// The filter values dockerd refuses before it looks at any container (so that a bad
/// one is a 400 even when there is no container to test it on).
fn check_values(f: &Filters) -> Result<()> {
    const STATUSES: [&str; 7] = [
        "created",
        "restarting",
        "running",
        "removing",
        "paused",
        "exited",
        "dead",
    ];
    if let Some(s) = f.get("status").into_iter().find(|s| !STATUSES.contains(s)) {
        return Err(ContainerError::Invalid(format!(
            "invalid filter 'status={s}'"
        )));
    }
    if let Some(e) = f
        .get("exited")
        .into_iter()
        .find(|e| e.parse::<i64>().is_err())
    {
        return Err(ContainerError::Invalid(format!(
            "invalid filter 'exited={e}'"
        )));
    }
    use super::health;
    let valid = [
        health::STARTING,
        health::HEALTHY,
        health::UNHEALTHY,
        health::NONE,
    ];
    if let Some(v) = f.get("health").into_iter().find(|v| !valid.contains(v)) {
        return Err(ContainerError::Invalid(format!(
            "Unrecognised filter value for health: {v}"
        )));
    }
    Ok(())
}

/// The list's `Image`: the name the container was created from while it still names its
/// image, else the image's ID (the name was deleted or now means another image), as
/// dockerd's `refreshImage`.
fn shown_image<'a>(
    daemon: &Daemon,
    c: &'a Container,
    resolved: &mut HashMap<&'a str, Option<String>>,
) -> &'a str {
    let name = c.config.image.as_deref().unwrap_or("");
    if name == c.image_id {
        return name;
    }
    let now = resolved
        .entry(name)
        .or_insert_with(|| crate::images::lookup::resolve_id(&daemon.images, name));
    if now.as_deref() == Some(c.image_id.as_str()) {
        name
    } else {
        &c.image_id
    }
}

/// The containers `opts` and `f` choose, newest first.
fn select<'a>(
    daemon: &Daemon,
    mut all: Vec<&'a Container>,
    opts: &ListOptions,
    f: &Filters,
    ctx: &Bounds,
) -> Result<Vec<&'a Container>> {
    let all_flag = opts.all || opts.limit.is_some_and(|l| l > 0);
    all.sort_by_key(|c| std::cmp::Reverse(c.created));
    let mut chosen = Vec::new();
    for c in all {
        if opts.limit.is_some_and(|l| l > 0 && chosen.len() >= l) {
            break;
        }
        if matches(daemon, c, f, all_flag, ctx)? {
            chosen.push(c);
        }
    }
    Ok(chosen)
}

/// The rows as JSON values (`GET /system/df`).
pub fn list(daemon: &Daemon, opts: &ListOptions) -> Result<Vec<Value>> {
    let bytes = list_json(daemon, opts)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ContainerError::Internal(format!("decoding the list: {e}")))
}

/// The size of a container's image (its layers), the part of `SizeRootFs` that is not
/// its own changes (dockerd's `getSize`); 0 when the image is gone.
pub fn image_size(daemon: &Daemon, image_id: &str) -> u64 {
    daemon
        .images
        .get(image_id)
        .map(|r| crate::images::image_size(&r))
        .unwrap_or(0)
}

/// Bytes of regular files under `dir`.
pub fn dir_size(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration as D;

    #[test]
    fn human_durations_read_as_dockers() {
        assert_eq!(human_duration(D::milliseconds(300)), "Less than a second");
        assert_eq!(human_duration(D::seconds(1)), "1 second");
        assert_eq!(human_duration(D::seconds(3)), "3 seconds");
        assert_eq!(human_duration(D::seconds(70)), "About a minute");
        assert_eq!(human_duration(D::minutes(5)), "5 minutes");
        assert_eq!(human_duration(D::minutes(61)), "About an hour");
        assert_eq!(human_duration(D::hours(5)), "5 hours");
        assert_eq!(human_duration(D::days(3)), "3 days");
    }

    #[test]
    fn status_strings() {
        use crate::containers::record::RunState;
        let now = Utc::now();
        let mut c = Container {
            id: "a".repeat(64),
            name: "/x".into(),
            created: now,
            path: "sh".into(),
            args: vec!["-c".into(), "exit 3".into()],
            config: Default::default(),
            host_config: Default::default(),
            image_id: String::new(),
            layers: vec![],
            state: RunState::default(),
            restart_count: 0,
            mount_points: Vec::new(),
            health: None,
            dir: Default::default(),
        };
        assert_eq!(status_string(&c, now), "Created");
        assert_eq!(command(&c), "sh -c 'exit 3'");
        c.state
            .started(7, (String::new(), 2), now - D::seconds(3))
            .expect("start");
        assert_eq!(status_string(&c, now), "Up 3 seconds");
        c.state.paused().expect("pause");
        assert_eq!(status_string(&c, now), "Up 3 seconds (Paused)");
        let exit = crate::containers::engine::ExitInfo::now(3);
        assert!(c.state.exited(7, &exit, now - D::seconds(5)));
        assert_eq!(status_string(&c, now), "Exited (3) 5 seconds ago");
    }

    #[test]
    fn bad_filter_values_are_refused_before_any_container_is_looked_at() {
        let check = |json: &str| {
            check_values(&Filters::from_json(json).expect("filters"))
                .err()
                .map(|e| e.to_string())
        };
        assert_eq!(
            check(r#"{"status":["bogus"]}"#).as_deref(),
            Some("invalid filter 'status=bogus'")
        );
        assert_eq!(
            check(r#"{"exited":["x"]}"#).as_deref(),
            Some("invalid filter 'exited=x'")
        );
        assert_eq!(
            check(r#"{"health":["sick"]}"#).as_deref(),
            Some("Unrecognised filter value for health: sick")
        );
        assert_eq!(
            check(r#"{"status":["running"],"exited":["0"],"health":["none"]}"#),
            None
        );
    }

    #[test]
    fn name_patterns() {
        assert!(regex_lite_match("web", "my-web-1"));
        assert!(regex_lite_match("^web$", "web"));
        assert!(!regex_lite_match("^web$", "web2"));
    }
}

//! `GET /events` with the stock CLI (`docker events --since/--until/--filter/--format`)
//! and bollard's `events()`: image events after a pull, tag and rmi; past-only windows
//! that end by themselves; a future `until` that ends the stream on time; dockerd's
//! errors; the legacy fields of old API versions. Run through scripts/test.sh.
mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bollard::query_parameters::EventsOptionsBuilder;
use futures::StreamExt;
use serde_json::Value;

use common::{unix_now, Daemon, Fixtures};

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The container events between two `unix_now()` times, as `docker events` prints them.
fn container_events(d: &Daemon, since: &str, until: &str) -> (String, Vec<Value>) {
    let out = d.docker_ok(&[
        "events",
        "--since",
        since,
        "--until",
        until,
        "--filter",
        "type=container",
        "--format",
        "{{json .}}",
    ]);
    let events = json_lines(&out);
    (out, events)
}

/// The events' `(Action, Actor.ID, Actor.Attributes.name)`.
fn summary(events: &[Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["Action"].as_str().unwrap_or("").to_string(),
                e["Actor"]["ID"].as_str().unwrap_or("").to_string(),
                e["Actor"]["Attributes"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

/// Pulls busybox, tags it, removes the tag; returns (pulled reference, repository,
/// image ID, the new tag).
fn pull_tag_untag(d: &Daemon, f: &Fixtures) -> (String, String, String, String) {
    let reference = d.pull_fixture(f, "busybox");
    let busybox = f.image("busybox");
    let repository = format!("{}/{}", f.registry, busybox.repository);
    let tagged = format!("{}:events", common::unique_repo("events"));
    d.docker_ok(&["tag", &reference, &tagged]);
    d.docker_ok(&["rmi", &tagged]);
    (reference, repository, busybox.id.clone(), tagged)
}

#[test]
fn cli_lists_past_image_events_and_stops() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let since = unix_now();
    let (reference, repository, id, tagged) = pull_tag_untag(&d, &f);
    let until = unix_now();

    let started = Instant::now();
    let out = d.docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=image",
        "--format",
        "{{json .}}",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a past window ends by itself"
    );
    let events = json_lines(&out);
    assert_eq!(
        summary(&events),
        vec![
            ("pull".to_string(), reference.clone(), repository.clone()),
            ("tag".to_string(), id.clone(), tagged.clone()),
            ("untag".to_string(), id.clone(), id.clone()),
        ],
        "{out}"
    );
    for e in &events {
        assert_eq!(e["Type"], "image");
        assert_eq!(e["scope"], "local");
        let nanos = e["timeNano"].as_i64().expect("timeNano");
        assert_eq!(e["time"].as_i64(), Some(nanos / 1_000_000_000));
    }

    // The CLI's other time forms (it converts them before sending, durations to whole
    // seconds: wait for the events' second to be over) and other filters.
    std::thread::sleep(Duration::from_millis(1100));
    let out = d.docker_ok(&[
        "events",
        "--since",
        "10m",
        "--until",
        "0s",
        "--filter",
        "event=tag",
        "--format",
        "{{.Action}} {{.Actor.ID}}",
    ]);
    assert_eq!(
        out.trim(),
        format!("tag {id}"),
        "{}",
        common::tail(&d.log(), 5)
    );
    let out = d.docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &format!("image={repository}"),
        "--format",
        "{{.Action}}",
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["pull"],
        "{out}"
    );
    let out = d.docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=container",
    ]);
    assert_eq!(out.trim(), "", "no container events");

    // The default format: "TIME image ACTION ID (name=…)".
    let out = d.docker_ok(&["events", "--since", &since, "--until", &until]);
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.contains(&format!(" image pull {reference} (name={repository}")),
        "{out}"
    );
}

#[test]
fn cli_follows_live_events_until_a_future_time() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let reference = d.pull_fixture(&f, "busybox");
    let tagged = format!("{}:live", common::unique_repo("events"));

    // A duration would mean "4s ago" to the CLI: the future needs a timestamp.
    let until = (SystemTime::now() + Duration::from_secs(4))
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .to_string();
    let watcher = d
        .docker_cmd()
        .args([
            "events",
            "--until",
            &until,
            "--filter",
            "event=tag",
            "--format",
            "{{json .}}",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("docker events");
    std::thread::sleep(Duration::from_millis(1500));
    d.docker_ok(&["tag", &reference, &tagged]);
    let started = Instant::now();
    let out = watcher.wait_with_output().expect("docker events output");
    assert!(out.status.success(), "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "ends at `until`"
    );
    let events = json_lines(&String::from_utf8_lossy(&out.stdout));
    let log: Vec<String> = d
        .log()
        .lines()
        .filter(|l| l.contains("events"))
        .map(String::from)
        .collect();
    assert_eq!(events.len(), 1, "{out:?}\n{log:?}");
    assert_eq!(events[0]["Actor"]["Attributes"]["name"], tagged.as_str());
}

#[test]
fn cli_shows_dockerds_errors() {
    let d = Daemon::start();
    let err = d.docker_err(&["events", "--filter", "foo=bar", "--until", "0s"]);
    assert!(err.contains("invalid filter 'foo'"), "{err}");
    let err = d.docker_err(&["events", "--since", "1000", "--until", "10"]);
    assert!(err.contains("cannot be after `until` time"), "{err}");
}

/// GET `path` over the daemon's socket with HTTP/1.0 (no chunking); (status line, body).
fn raw_get(d: &Daemon, path: &str) -> (String, String) {
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: berth\r\n\r\n").expect("request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn legacy_fields_follow_the_api_version() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let since = unix_now();
    let (_, _, id, _) = pull_tag_untag(&d, &f);
    let until = unix_now();
    let query =
        format!("events?since={since}&until={until}&filters=%7B%22event%22%3A%5B%22tag%22%5D%7D");

    let (status, body) = raw_get(&d, &format!("/v1.41/{query}"));
    assert!(status.contains("200"), "{status} {body}");
    let old = json_lines(&body);
    assert_eq!(old.len(), 1, "{body}");
    assert_eq!(old[0]["status"], "tag");
    assert_eq!(old[0]["id"], id.as_str());
    assert!(old[0].get("from").is_none(), "image events have no `from`");

    let (_, body) = raw_get(&d, &format!("/v1.53/{query}"));
    let new = json_lines(&body);
    assert_eq!(new.len(), 1, "{body}");
    assert!(new[0].get("status").is_none() && new[0].get("id").is_none());
    assert_eq!(new[0]["Actor"]["ID"], id.as_str());

    let (status, body) = raw_get(&d, "/events?until=1&filters=notjson");
    assert!(status.contains("400"), "{status} {body}");
    let (status, body) = raw_get(&d, "/events?since=yesterday-ish");
    assert!(status.contains("400"), "{status} {body}");
}

#[test]
fn bollard_reads_past_and_live_events() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let since = unix_now();
    let (reference, repository, id, tagged) = pull_tag_untag(&d, &f);
    let until = unix_now();
    let docker = d.bollard();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let filters = HashMap::from([("type", vec!["image"])]);
        let options = EventsOptionsBuilder::default()
            .since(&since)
            .until(&until)
            .filters(&filters)
            .build();
        let events: Vec<_> = docker.events(Some(options)).collect().await;
        let got: Vec<(String, String, String)> = events
            .into_iter()
            .map(|e| {
                let e = e.expect("event");
                let actor = e.actor.expect("actor");
                let attributes = actor.attributes.unwrap_or_default();
                (
                    e.action.unwrap_or_default(),
                    actor.id.unwrap_or_default(),
                    attributes.get("name").cloned().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("pull".to_string(), reference.clone(), repository),
                ("tag".to_string(), id.clone(), tagged),
                ("untag".to_string(), id.clone(), id.clone()),
            ]
        );

        // Live: subscribe, then tag; the event arrives while the stream is open.
        let filters = HashMap::from([("event", vec!["tag"])]);
        let options = EventsOptionsBuilder::default().filters(&filters).build();
        let mut live = Box::pin(docker.events(Some(options)));
        let again = format!("{}:bollard", common::unique_repo("events"));
        let tagger = {
            let docker = docker.clone();
            let (reference, again) = (reference.clone(), again.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let (repo, tag) = again.rsplit_once(':').expect("tag");
                let options = bollard::query_parameters::TagImageOptionsBuilder::default()
                    .repo(repo)
                    .tag(tag)
                    .build();
                docker.tag_image(&reference, Some(options)).await
            })
        };
        let next = tokio::time::timeout(Duration::from_secs(20), live.next())
            .await
            .expect("a live event in time")
            .expect("stream open")
            .expect("event");
        tagger.await.expect("join").expect("tag");
        assert_eq!(next.action.as_deref(), Some("tag"));
        let name = next
            .actor
            .and_then(|a| a.attributes)
            .and_then(|a| a.get("name").cloned());
        assert_eq!(name.as_deref(), Some(again.as_str()));
    });
}

#[test]
fn shutdown_ends_an_open_events_stream() {
    let f = Fixtures::load();
    let mut d = Daemon::start();
    let reference = d.pull_fixture(&f, "busybox");
    let tagged = format!("{}:shutdown", common::unique_repo("events"));
    let mut watcher = d
        .docker_cmd()
        .args(["events", "--filter", "event=tag", "--format", "{{.Action}}"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("docker events");
    let mut stdout = watcher.stdout.take().expect("piped stdout");
    // Tag until the watcher prints the event: then its stream is surely open.
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let n = stdout.read(&mut buf).unwrap_or(0);
        let _ = seen_tx.send(String::from_utf8_lossy(&buf[..n]).to_string());
        let mut rest = Vec::new();
        let _ = stdout.read_to_end(&mut rest);
    });
    let mut seen = None;
    for _ in 0..20 {
        d.docker_ok(&["tag", &reference, &tagged]);
        if let Ok(s) = seen_rx.recv_timeout(Duration::from_millis(500)) {
            seen = Some(s);
            break;
        }
    }
    assert_eq!(seen.as_deref().map(str::trim), Some("tag"));

    let status = d.stop().expect("berthd exit status");
    assert!(status.success(), "{status:?}\n{}", d.log());
    assert!(
        !d.log().contains("still running after"),
        "the events stream held the shutdown:\n{}",
        d.log()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while watcher.try_wait().expect("try_wait").is_none() {
        assert!(Instant::now() < deadline, "docker events still running");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `docker stop` sends `kill` events as dockerd's `killWithSignal` does: the stop signal,
/// then SIGKILL when the timeout passes (busybox `sleep` as PID 1 ignores SIGTERM), then
/// `die` and `stop`; `docker rm -f` sends SIGKILL's `kill` before `die` and `destroy`.
#[test]
fn stop_and_rm_force_send_kill_events() {
    let d = Daemon::start();
    let f = Fixtures::load();
    let image = d.pull_fixture(&f, "busybox");
    let since = unix_now();
    d.docker_ok(&["run", "-d", "--name", "ev-stop", &image, "sleep", "60"]);
    d.docker_ok(&["stop", "-t", "1", "ev-stop"]);
    d.docker_ok(&["start", "ev-stop"]);
    d.docker_ok(&["rm", "-f", "ev-stop"]);
    let until = unix_now();
    let (out, events) = container_events(&d, &since, &until);
    let actions: Vec<String> = events
        .iter()
        .map(|e| {
            let action = e["Action"].as_str().unwrap_or("").to_string();
            match e["Actor"]["Attributes"]["signal"].as_str() {
                Some(signal) => format!("{action}:{signal}"),
                None => action,
            }
        })
        .collect();
    assert_eq!(
        actions,
        [
            "create", "start", "kill:15", "kill:9", "die", "stop", "start", "kill:9", "die",
            "destroy"
        ],
        "{out}"
    );
}

/// The events of exec, export and rename read as dockerd's: an exec's action joins the
/// entrypoint and its arguments with one space even when there are none, and a finished
/// `docker export` is an `export` event.
#[test]
fn exec_export_and_rename_events_read_as_dockerds() {
    let d = Daemon::start();
    let f = Fixtures::load();
    let image = d.pull_fixture(&f, "busybox");
    let since = unix_now();
    d.docker_ok(&["run", "-d", "--name", "ev-x", &image, "sleep", "60"]);
    d.docker_ok(&["exec", "ev-x", "true"]);
    d.docker_ok(&["exec", "ev-x", "sh", "-c", "exit 0"]);
    let tar = d.docker(&["export", "ev-x"]);
    assert!(tar.status.success() && !tar.stdout.is_empty());
    d.docker_ok(&["rename", "ev-x", "ev-y"]);
    d.docker_ok(&["rm", "-f", "ev-y"]);
    let until = unix_now();
    let (out, events) = container_events(&d, &since, &until);
    let actions: Vec<String> = events
        .iter()
        .map(|e| e["Action"].as_str().unwrap_or("").to_string())
        .filter(|a| a != "kill" && a != "die")
        .collect();
    assert_eq!(
        actions,
        [
            "create",
            "start",
            "exec_create: true ",
            "exec_start: true ",
            "exec_die",
            "exec_create: sh -c exit 0",
            "exec_start: sh -c exit 0",
            "exec_die",
            "export",
            "rename",
            "destroy"
        ],
        "{out}"
    );
}

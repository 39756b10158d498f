//! Samples from fake cgroup v1 and v2 directories and a fake /proc.
use std::path::Path;

use futures::StreamExt;
use serde_json::Value;

use super::*;
use crate::stats::sampler::{stats_stream, StatsOptions, Target};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join(name), text).expect("write");
}

fn fake_host(root: &Path) -> Host {
    let proc_root = root.join("proc");
    write(
        &proc_root,
        "stat",
        "cpu  1003653 0 213442 946651 8899 0 1940 594 0 0\n",
    );
    write(&proc_root, "meminfo", "MemTotal:       24684084 kB\n");
    write(
        &proc_root.join("77").join("net"),
        "dev",
        "h1\nh2\n    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n  eth0: 1877 73 0 0 0 0 0 0 455 42 0 0 0 0 0 0\n",
    );
    Host {
        proc_root,
        clock_ticks: 100,
        online_cpus: 2,
    }
}

fn fake_v1(root: &Path) -> CgroupPaths {
    let dir = |c: &str| root.join(c).join("berth").join("abc");
    write(&dir("cpuacct"), "cpuacct.usage", "3028716289\n");
    write(
        &dir("cpuacct"),
        "cpuacct.usage_percpu",
        "1309427224 1719289065 \n",
    );
    write(&dir("cpuacct"), "cpuacct.stat", "user 129\nsystem 172\n");
    write(
        &dir("cpu"),
        "cpu.stat",
        "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n",
    );
    write(&dir("memory"), "memory.usage_in_bytes", "634880\n");
    write(&dir("memory"), "memory.max_usage_in_bytes", "3821568\n");
    write(&dir("memory"), "memory.failcnt", "0\n");
    write(
        &dir("memory"),
        "memory.limit_in_bytes",
        "9223372036854771712\n",
    );
    write(
        &dir("memory"),
        "memory.stat",
        "cache 0\nrss 57344\nshmem 0\ninactive_file 0\nhierarchical_memory_limit 9223372036854771712\ntotal_rss 57344\ntotal_inactive_file 0\n",
    );
    write(&dir("pids"), "pids.current", "1\n");
    write(&dir("pids"), "pids.max", "max\n");
    write(
        &dir("blkio"),
        "blkio.throttle.io_serviced_recursive",
        "Total 0\n",
    );
    write(
        &dir("blkio"),
        "blkio.throttle.io_serviced",
        "8:0 Read 3\n8:0 Write 4\nTotal 7\n",
    );
    write(
        &dir("blkio"),
        "blkio.throttle.io_service_bytes",
        "8:0 Read 4096\n8:0 Write 8192\nTotal 12288\n",
    );
    CgroupPaths::v1(
        ["cpu", "cpuacct", "memory", "pids", "blkio"]
            .iter()
            .map(|c| (c.to_string(), dir(c))),
    )
}

fn fake_v2(root: &Path) -> CgroupPaths {
    let dir = root.join("unified").join("berth").join("abc");
    write(
        &dir,
        "cpu.stat",
        "usage_usec 3028716\nuser_usec 1290000\nsystem_usec 1720000\nnr_periods 10\nnr_throttled 2\nthrottled_usec 5\n",
    );
    write(&dir, "memory.current", "634880\n");
    write(&dir, "memory.max", "max\n");
    write(
        &dir,
        "memory.stat",
        "anon 57344\nfile 0\ninactive_file 4096\nzswap 3\n",
    );
    write(
        &dir,
        "memory.events",
        "low 0\nhigh 0\nmax 0\noom 2\noom_kill 1\n",
    );
    write(&dir, "pids.current", "3\n");
    write(&dir, "pids.max", "100\n");
    write(
        &dir,
        "io.stat",
        "8:0 rbytes=4096 wbytes=8192 rios=3 wios=4 dbytes=0 dios=0\n",
    );
    CgroupPaths::V2(dir)
}

fn json(s: &StatsJson) -> Value {
    serde_json::to_value(s).expect("json")
}

#[test]
fn v1_sample_has_dockerd_20_10_shape() {
    let root = tempfile::tempdir().expect("tempdir");
    let host = fake_host(root.path());
    let s = json(&sample(&fake_v1(root.path()), 77, &host).expect("sample"));
    let cpu = &s["cpu_stats"];
    assert_eq!(cpu["cpu_usage"]["total_usage"], 3028716289u64);
    assert_eq!(
        cpu["cpu_usage"]["percpu_usage"],
        serde_json::json!([1309427224u64, 1719289065u64])
    );
    assert_eq!(cpu["cpu_usage"]["usage_in_kernelmode"], 1720000000u64);
    assert_eq!(cpu["cpu_usage"]["usage_in_usermode"], 1290000000u64);
    assert_eq!(cpu["system_cpu_usage"], 21745850000000u64);
    assert_eq!(cpu["online_cpus"], 2);
    assert_eq!(
        cpu["throttling_data"],
        serde_json::json!({"periods": 10, "throttled_periods": 2, "throttled_time": 5000})
    );
    let mem = &s["memory_stats"];
    assert_eq!(mem["usage"], 634880);
    assert_eq!(mem["max_usage"], 3821568);
    assert_eq!(
        mem["limit"], 25276502016u64,
        "unlimited shows the host's memory"
    );
    assert!(mem.get("failcnt").is_none(), "omitted when 0");
    let stats = mem["stats"].as_object().expect("stats");
    assert_eq!(stats.len(), 32, "dockerd's fixed v1 keys");
    assert_eq!(stats["rss"], 57344);
    assert_eq!(stats["total_rss"], 57344);
    assert_eq!(stats["hierarchical_memsw_limit"], 0);
    assert!(stats.get("shmem").is_none());
    assert_eq!(s["pids_stats"], serde_json::json!({"current": 1}));
    let blkio = &s["blkio_stats"];
    assert_eq!(
        blkio["io_service_bytes_recursive"],
        serde_json::json!([
            {"major": 8, "minor": 0, "op": "Read", "value": 4096},
            {"major": 8, "minor": 0, "op": "Write", "value": 8192}
        ])
    );
    assert_eq!(blkio["io_serviced_recursive"][1]["value"], 4);
    assert_eq!(blkio["sectors_recursive"], serde_json::json!([]));
    assert_eq!(s["networks"]["eth0"]["rx_bytes"], 1877);
    assert!(s["networks"].get("lo").is_none());
    assert_eq!(s["num_procs"], 0);
    assert_eq!(s["storage_stats"], serde_json::json!({}));
}

#[test]
fn v1_without_block_io_counters_shows_empty_lists() {
    let root = tempfile::tempdir().expect("tempdir");
    let host = fake_host(root.path());
    let paths = CgroupPaths::v1([("blkio", root.path().join("nothing"))]);
    let s = json(&sample(&paths, 78, &host).expect("sample"));
    for list in s["blkio_stats"].as_object().expect("blkio").values() {
        assert_eq!(list, &serde_json::json!([]));
    }
    assert!(s.get("networks").is_none(), "no interfaces: omitted");
}

#[test]
fn v2_sample_has_dockerds_v2_shape() {
    let root = tempfile::tempdir().expect("tempdir");
    let host = fake_host(root.path());
    let s = json(&sample(&fake_v2(root.path()), 77, &host).expect("sample"));
    let cpu = &s["cpu_stats"];
    assert_eq!(cpu["cpu_usage"]["total_usage"], 3028716000u64);
    assert!(cpu["cpu_usage"].get("percpu_usage").is_none());
    assert_eq!(cpu["cpu_usage"]["usage_in_kernelmode"], 1720000000u64);
    assert_eq!(cpu["throttling_data"]["throttled_time"], 5000);
    let mem = &s["memory_stats"];
    assert_eq!(mem["usage"], 634880);
    assert!(mem.get("max_usage").is_none());
    assert_eq!(mem["limit"], 25276502016u64);
    assert_eq!(mem["failcnt"], 2, "OOM events");
    let stats = mem["stats"].as_object().expect("stats");
    assert_eq!(stats.len(), 31);
    assert_eq!(stats["inactive_file"], 4096);
    assert!(stats.get("zswap").is_none());
    assert_eq!(
        s["pids_stats"],
        serde_json::json!({"current": 3, "limit": 100})
    );
    let blkio = &s["blkio_stats"];
    assert_eq!(
        blkio["io_service_bytes_recursive"],
        serde_json::json!([
            {"major": 8, "minor": 0, "op": "read", "value": 4096},
            {"major": 8, "minor": 0, "op": "write", "value": 8192}
        ])
    );
    assert_eq!(blkio["io_serviced_recursive"], Value::Null);
}

fn opts(stream: bool, one_shot: bool) -> StatsOptions {
    StatsOptions {
        id: "abc".into(),
        name: "/web".into(),
        stream,
        one_shot,
        api_version: 41,
    }
}

async fn lines(
    stream: impl futures::Stream<Item = Result<bytes::Bytes, std::convert::Infallible>>,
    n: usize,
) -> Vec<Value> {
    let items: Vec<_> = stream.take(n).collect().await;
    items
        .into_iter()
        .map(|b| {
            let b = b.expect("bytes");
            assert!(b.ends_with(b"\n"));
            serde_json::from_slice(&b).expect("json line")
        })
        .collect()
}

#[tokio::test]
async fn one_shot_has_no_precpu_and_no_stream_has_one() {
    let root = tempfile::tempdir().expect("tempdir");
    let host = fake_host(root.path());
    let cgroup = fake_v1(root.path());
    let locate = move || Target::Running {
        cgroup: cgroup.clone(),
        pid: 77,
    };
    let got = lines(
        stats_stream(opts(false, true), host.clone(), locate.clone()),
        5,
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["preread"], "0001-01-01T00:00:00Z");
    assert_eq!(got[0]["precpu_stats"]["cpu_usage"]["total_usage"], 0);
    assert_eq!(got[0]["name"], "/web");
    assert_eq!(got[0]["id"], "abc");

    let got = lines(
        stats_stream(opts(false, false), host.clone(), locate.clone()),
        5,
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_ne!(got[0]["preread"], "0001-01-01T00:00:00Z");
    assert_eq!(
        got[0]["precpu_stats"]["cpu_usage"]["total_usage"],
        3028716289u64
    );

    let got = lines(stats_stream(opts(true, false), host, locate), 3).await;
    assert_eq!(got.len(), 3);
    assert_eq!(got[0]["preread"], "0001-01-01T00:00:00Z");
    assert_eq!(got[1]["preread"], got[0]["read"]);
    assert_eq!(got[2]["precpu_stats"]["online_cpus"], 2);
}

#[tokio::test]
async fn stopped_containers_get_the_zeroed_sample() {
    let root = tempfile::tempdir().expect("tempdir");
    let host = fake_host(root.path());
    let got = lines(
        stats_stream(opts(false, false), host.clone(), || Target::Stopped),
        5,
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["read"], "0001-01-01T00:00:00Z");
    assert_eq!(got[0]["memory_stats"], serde_json::json!({}));
    let mut modern = opts(true, false);
    modern.api_version = 53;
    let got = lines(stats_stream(modern, host, || Target::Stopped), 2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1]["os_type"], "linux");
}

//! Attach (several clients, stdin), a tty with resize, exec.
mod common;
use common::*;
use serde_json::{json, Value};
use std::io::Write;

#[test]
fn attach_two_clients_and_stdin() {
    for_each_runtime(
        "attach_two_clients_and_stdin",
        attach_two_clients_and_stdin_on,
    );
}

fn attach_two_clients_and_stdin_on(rt: &Runtime) {
    let t = bundle(rt, "attach", &["cat"], false);
    t.launch(&["--stdin"]);
    let mut a = t.attach(json!({ "exec_id": null, "stdin": true, "stdout": true, "stderr": true }));
    let mut b = t.attach(json!({ "stdout": true, "stderr": true }));
    t.ok("POST", "/start", Value::Null);
    // Both are acknowledged, so both are registered: no pause before the output.
    a.write_all(b"hello\n").unwrap();
    assert_eq!(read_frame(&mut a), Some((1, b"hello\n".to_vec())));
    assert_eq!(read_frame(&mut b), Some((1, b"hello\n".to_vec())));
    // A client's half-close does not close the container's stdin.
    a.shutdown(std::net::Shutdown::Write).unwrap();
    b.write_all(b"ignored: b did not ask for stdin\n").unwrap();
    let mut c = t.attach(json!({ "stdin": true, "stdout": true }));
    c.write_all(b"again\n").unwrap();
    assert_eq!(read_frame(&mut c), Some((1, b"again\n".to_vec())));
    assert_eq!(read_frame(&mut a), Some((1, b"again\n".to_vec())));
    assert_eq!(read_frame(&mut b), Some((1, b"again\n".to_vec())));
    // Clients that hang up (one mid-header, one after it) do not make the shim spin.
    drop(t.attach(json!({ "stdout": true })));
    {
        use std::io::Write;
        let mut half =
            std::os::unix::net::UnixStream::connect(t.state.join("attach.sock")).unwrap();
        half.write_all(b"{\"stdout\":").unwrap();
    }
    let before = cpu_ticks(t.shim_pid());
    std::thread::sleep(std::time::Duration::from_millis(500));
    let spent = cpu_ticks(t.shim_pid()) - before;
    assert!(spent < 10, "shim used {spent} ticks while idle");
    t.ok("POST", "/close-stdin", json!({ "exec_id": null }));
    assert_eq!(t.ok("POST", "/wait", json!({}))["exit_status"], 0);
    // The stream ends when the output does.
    assert_eq!(read_frame(&mut a), None);
    assert_eq!(read_frame(&mut b), None);
    let lines = log_lines(&t.log);
    let logged: Vec<&str> = lines.iter().map(|l| l["log"].as_str().unwrap()).collect();
    assert_eq!(logged, ["hello\n", "again\n"]);
    t.ok("POST", "/delete", Value::Null);
}

#[test]
fn tty_raw_output_and_resize() {
    for_each_runtime("tty_raw_output_and_resize", tty_raw_output_and_resize_on);
}

fn tty_raw_output_and_resize_on(rt: &Runtime) {
    let t = bundle(
        rt,
        "tty",
        &["sh", "-c", "read x; stty size; read y; echo bye"],
        true,
    );
    t.launch(&["--terminal", "--stdin"]);
    assert_eq!(t.ok("GET", "/state", Value::Null)["terminal"], true);
    let mut a = t.attach(json!({ "stdin": true, "stdout": true }));
    t.ok("POST", "/start", Value::Null);
    t.ok(
        "POST",
        "/resize",
        json!({ "width": 123, "height": 45, "exec_id": null }),
    );
    a.write_all(b"go\n").unwrap();
    let out = read_until(&mut a, "45 123");
    assert!(out.contains("45 123"), "raw tty output: {out:?}");
    a.write_all(b"q\n").unwrap();
    let out = read_until(&mut a, "bye");
    assert!(out.contains("bye"), "{out:?}");
    assert_eq!(t.ok("POST", "/wait", json!({}))["exit_status"], 0);
    // With a tty everything is logged as stdout, with the tty's \r\n.
    let lines = log_lines(&t.log);
    assert!(lines.iter().all(|l| l["stream"] == "stdout"));
    assert!(lines.iter().any(|l| l["log"] == "45 123\r\n"), "{lines:?}");
    t.ok("POST", "/delete", Value::Null);
}

fn process(args: &[&str]) -> Value {
    json!({
        "args": args,
        "cwd": "/",
        "env": ["PATH=/bin"],
        "user": { "uid": 0, "gid": 0 },
    })
}

#[test]
fn exec_with_own_exit_code_and_rss() {
    for_each_runtime(
        "exec_with_own_exit_code_and_rss",
        exec_with_own_exit_code_and_rss_on,
    );
}

fn exec_with_own_exit_code_and_rss_on(rt: &Runtime) {
    let t = bundle(rt, "exec", &["sleep", "100"], false);
    t.launch(&[]);
    // No exec before the container runs.
    let (st, _) = t.call(
        "POST",
        "/exec",
        json!({ "exec_id": "e0", "process": process(&["true"]) }),
    );
    assert_eq!(st, 409);
    t.ok("POST", "/start", Value::Null);
    let rss = vm_rss_kib(t.shim_pid());
    eprintln!("berth-shim VmRSS with a running container: {rss} KiB");

    t.ok("POST", "/exec", json!({ "exec_id": "e1", "process": process(&["sh", "-c", "echo hi; echo oops >&2; exit 5"]), "terminal": false, "stdin": false }));
    assert_eq!(
        t.call(
            "POST",
            "/exec",
            json!({ "exec_id": "e1", "process": process(&["true"]) })
        )
        .0,
        409
    );
    assert_eq!(t.ok("GET", "/exec/e1", Value::Null)["status"], "created");
    let mut a = t.attach(json!({ "exec_id": "e1", "stdout": true, "stderr": true }));
    let pid = t.ok("POST", "/exec/e1/start", Value::Null)["pid"]
        .as_i64()
        .unwrap();
    assert!(pid > 0);
    let mut frames = Vec::new();
    while let Some(f) = read_frame(&mut a) {
        frames.push(f);
    }
    assert!(frames.contains(&(1, b"hi\n".to_vec())), "{frames:?}");
    assert!(frames.contains(&(2, b"oops\n".to_vec())), "{frames:?}");
    let w = t.ok("POST", "/wait", json!({ "exec_id": "e1" }));
    assert_eq!(w["exit_status"], 5);
    let e = t.ok("GET", "/exec/e1", Value::Null);
    assert_eq!(e["status"], "stopped");
    assert_eq!(e["exit_status"], 5);
    assert!(t.state.join("exec-e1.exit.json").exists());
    // Exec output is not the container's log.
    assert!(log_lines(&t.log).is_empty());
    assert_eq!(t.call("GET", "/exec/nope", Value::Null).0, 404);
    // Attaching to an exec that does not exist: an error in the acknowledgement, then
    // the end of the stream.
    let mut n = std::os::unix::net::UnixStream::connect(t.state.join("attach.sock")).unwrap();
    n.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    n.write_all(b"{\"exec_id\":\"nope\",\"stdout\":true}\n")
        .unwrap();
    let ack = read_ack(&mut n);
    assert!(
        ack["error"].as_str().is_some_and(|e| e.contains("nope")),
        "{ack}"
    );
    assert_eq!(read_frame(&mut n), None);

    // An exec with a tty, and one killed by a signal.
    t.ok("POST", "/exec", json!({ "exec_id": "e2", "process": process(&["sh", "-c", "tty; stty size"]), "terminal": true }));
    let mut b = t.attach(json!({ "exec_id": "e2", "stdout": true }));
    t.ok("POST", "/exec/e2/start", Value::Null);
    let out = read_until(&mut b, "/dev/pts");
    assert!(out.contains("/dev/pts/"), "{out:?}");
    assert_eq!(
        t.ok("POST", "/wait", json!({ "exec_id": "e2" }))["exit_status"],
        0
    );

    t.ok(
        "POST",
        "/exec",
        json!({ "exec_id": "e3", "process": process(&["sleep", "50"]) }),
    );
    t.ok("POST", "/exec/e3/start", Value::Null);
    t.ok("POST", "/kill", json!({ "signal": 9, "exec_id": "e3" }));
    assert_eq!(
        t.ok("POST", "/wait", json!({ "exec_id": "e3" }))["exit_status"],
        137
    );

    // An exec the runtime cannot start: an error, and the exec ends with 127.
    t.ok(
        "POST",
        "/exec",
        json!({ "exec_id": "e4", "process": process(&["/nosuch"]) }),
    );
    let mut d = t.attach(json!({ "exec_id": "e4", "stdout": true, "stderr": true }));
    let (st, v) = t.call("POST", "/exec/e4/start", Value::Null);
    assert_eq!(st, 500, "{v}");
    eprintln!("exec failure: {v}");
    assert!(v["message"].as_str().unwrap().contains("nosuch"), "{v}");
    // 127: both runtimes say the file is not found ("no such file or directory").
    let code = t.ok("POST", "/wait", json!({ "exec_id": "e4" }))["exit_status"]
        .as_i64()
        .unwrap();
    assert_eq!(code, 127, "{}: {v}", rt.name);
    assert_eq!(read_frame(&mut d), None);

    let rss = vm_rss_kib(t.shim_pid());
    eprintln!("berth-shim VmRSS after four execs and attaches: {rss} KiB");

    // pause / resume
    t.ok("POST", "/pause", Value::Null);
    assert_eq!(t.ok("GET", "/state", Value::Null)["status"], "paused");
    t.ok("POST", "/resume", Value::Null);
    assert_eq!(t.ok("GET", "/state", Value::Null)["status"], "running");

    t.ok("POST", "/kill", json!({ "signal": 9 }));
    assert_eq!(t.ok("POST", "/wait", json!({}))["exit_status"], 137);
    t.ok("POST", "/delete", Value::Null);
}

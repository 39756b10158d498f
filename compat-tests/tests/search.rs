//! `docker search` (`GET /images/search`): the index named by the term is asked for
//! `/v1/search?q=…&n=…`; here a tiny v1 search index on loopback, and the fixture
//! registry, which (like every distribution registry) has no search API.
mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{Daemon, Fixtures};

/// Serves one canned search answer to each request; records the request lines.
fn search_index(answer: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader
                .read_line(&mut header)
                .map(|n| n > 2)
                .unwrap_or(false)
            {
                header.clear();
            }
            record.lock().expect("lock").push(line.trim().to_string());
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (port, seen)
}

const ANSWER: &str = r#"{"num_results":3,"query":"tools","results":[
{"name":"berth/tools","description":"Small tools","star_count":12,"is_official":false,"is_automated":true},
{"name":"tools","description":"The official tools","star_count":340,"is_official":true,"is_automated":false},
{"name":"someone/tools","description":"Few stars","star_count":1,"is_official":false,"is_automated":false}]}"#;

#[test]
fn search_asks_the_terms_index_and_filters_the_answer() {
    let d = Daemon::start();
    let (port, seen) = search_index(ANSWER);
    let term = format!("127.0.0.1:{port}/tools");
    let out = d.docker_ok(&[
        "search",
        "--format",
        "{{.Name}}|{{.StarCount}}|{{.IsOfficial}}|{{.Description}}",
        &term,
    ]);
    assert_eq!(
        common::lines(&out),
        [
            "berth/tools|12||Small tools",
            "tools|340|[OK]|The official tools",
            "someone/tools|1||Few stars"
        ],
        "{out}"
    );
    assert_eq!(
        seen.lock().expect("lock").first().map(String::as_str),
        Some("GET /v1/search?q=tools&n=25 HTTP/1.1")
    );
    let out = d.docker_ok(&[
        "search",
        "--filter",
        "stars=10",
        "--limit",
        "5",
        "--format",
        "{{.Name}}",
        &term,
    ]);
    assert_eq!(common::lines(&out), ["berth/tools", "tools"], "{out}");
    assert!(seen
        .lock()
        .expect("lock")
        .iter()
        .any(|l| l.contains("&n=5 ")));
    let out = d.docker_ok(&[
        "search",
        "--filter",
        "is-official=true",
        "--format",
        "{{.Name}}",
        &term,
    ]);
    assert_eq!(common::lines(&out), ["tools"], "{out}");

    let err = d.docker_err(&["search", "--limit", "101", &term]);
    assert!(
        err.contains("limit 101 is outside the range of [1, 100]"),
        "{err}"
    );
    let err = d.docker_err(&["search", "--filter", "color=blue", &term]);
    assert!(err.contains("invalid filter 'color'"), "{err}");
}

#[test]
fn a_registry_without_a_search_api_is_dockerds_unexpected_status() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let err = d.docker_err(&["search", &format!("{}/berth", f.registry)]);
    assert!(err.contains("Unexpected status code 404"), "{err}");
}

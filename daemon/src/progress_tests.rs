//! Tests of `progress`: dockerd's byte-exact lines, bars and sizes, the stream/error split, throttling.
use super::*;

#[test]
fn sizes_like_go_units() {
    assert_eq!(human_size(527), "527B");
    assert_eq!(human_size(36445), "36.45kB");
    assert_eq!(human_size(1064459), "1.064MB");
    assert_eq!(human_size(1640448), "1.64MB");
    assert_eq!(human_size(1000), "1kB");
    assert_eq!(human_size(0), "0B");
}

#[test]
fn bars_like_dockerd() {
    assert_eq!(
        progress_bar(36445, 1064459),
        "[=>                                                 ]  36.45kB/1.064MB"
    );
    assert_eq!(
        progress_bar(1064459, 1064459),
        "[==================================================>]  1.064MB/1.064MB"
    );
    assert_eq!(
        progress_bar(1986560, 1982270),
        "[==================================================>]  1.987MB"
    );
}

#[test]
fn messages_serialise_in_dockerd_order() {
    let m = JsonMessage::bytes("059afcd5045b", "Downloading", 36445, 1064459);
    assert_eq!(
        String::from_utf8_lossy(&m.to_line()),
        "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":36445,\"total\":1064459},\"progress\":\"[=>                                                 ]  36.45kB/1.064MB\",\"id\":\"059afcd5045b\"}\r\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&JsonMessage::action("abc", "Pull complete").to_line()),
        "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"abc\"}\r\n"
    );
    assert_eq!(
        String::from_utf8_lossy(
            &JsonMessage::status(Some("latest"), "Pulling from t/bb").to_line()
        ),
        "{\"status\":\"Pulling from t/bb\",\"id\":\"latest\"}\r\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&JsonMessage::error("boom").to_line()),
        "{\"errorDetail\":{\"message\":\"boom\"},\"error\":\"boom\"}\r\n"
    );
    let aux = JsonMessage::aux(Aux::PushResult {
        tag: "latest".into(),
        digest: "sha256:x".into(),
        size: 527,
    });
    assert_eq!(
        String::from_utf8_lossy(&aux.to_line()),
        "{\"progressDetail\":{},\"aux\":{\"Tag\":\"latest\",\"Digest\":\"sha256:x\",\"Size\":527}}\r\n"
    );
}

#[derive(Debug)]
struct Failure(String);
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl From<tokio::task::JoinError> for Failure {
    fn from(e: tokio::task::JoinError) -> Self {
        Failure(e.to_string())
    }
}

async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn an_error_before_the_first_line_is_a_plain_error() {
    let (sink, rx) = ProgressSink::channel();
    let task = tokio::spawn(async move {
        drop(sink);
        Err::<(), _>(Failure("manifest unknown".into()))
    });
    match respond(rx, task).await {
        Err(Failure(m)) => assert_eq!(m, "manifest unknown"),
        Ok(_) => panic!("expected the error itself"),
    }
}

#[tokio::test]
async fn an_error_after_the_first_line_ends_the_stream() {
    let (sink, rx) = ProgressSink::channel();
    let task = tokio::spawn(async move {
        sink.status(Some("latest"), "Pulling from x").await;
        Err::<(), _>(Failure("boom".into()))
    });
    let response = match respond(rx, task).await {
        Ok(r) => r,
        Err(e) => panic!("expected a stream, got {e}"),
    };
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(
        body_text(response).await,
        "{\"status\":\"Pulling from x\",\"id\":\"latest\"}\r\n{\"errorDetail\":{\"message\":\"boom\"},\"error\":\"boom\"}\r\n"
    );
}

#[tokio::test]
async fn progress_updates_are_throttled_but_the_last_goes_out() {
    let (sink, mut rx) = ProgressSink::channel();
    for current in 1..=100u64 {
        sink.bytes("abc", "Downloading", current, 100).await;
    }
    drop(sink);
    let mut seen = Vec::new();
    while let Some(m) = rx.recv().await {
        seen.push(m.progress_detail.and_then(|d| d.current).unwrap_or(0));
    }
    assert!(seen.len() < 10, "throttled: {seen:?}");
    assert_eq!(seen.last(), Some(&100));
}

#[test]
fn short_ids() {
    assert_eq!(short_id("sha256:059afcd5045b0123456789"), "059afcd5045b");
}

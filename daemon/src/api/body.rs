//! Request bodies a handler refuses before reading them.
//!
//! A client still uploading (a tarball for `docker import`, say) sees a broken pipe
//! instead of the error if the connection closes under it. Like Go's HTTP server does
//! for dockerd, the rest of a refused body is read and thrown away first — within a
//! bound, so a huge upload is not read to its end just to be refused.
use std::time::Duration;

use axum::body::Body;
use futures::StreamExt;

/// At most this much of a refused body is read.
const DISCARD_LIMIT: usize = 64 << 20;
/// And for at most this long.
const DISCARD_TIME: Duration = Duration::from_secs(10);

/// Reads and drops what is left of `body`, up to the limits above.
pub async fn discard(body: Body) {
    let mut stream = body.into_data_stream();
    let drain = async {
        let mut read = 0usize;
        while let Some(Ok(chunk)) = stream.next().await {
            read += chunk.len();
            if read >= DISCARD_LIMIT {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_TIME, drain).await;
}

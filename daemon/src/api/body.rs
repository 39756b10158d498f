//! Request bodies: JSON decoded as dockerd decodes it, and bodies a handler refuses
//! before reading them.
//!
//! Every JSON body goes through `json` (or `json_or_default`), which reads it with
//! `crate::gojson`: keys match field names as Go's `encoding/json` matches them (exact,
//! then case-insensitive), on every endpoint and in every nested struct.
//!
//! A client still uploading (a tarball for `docker import`, say) sees a broken pipe
//! instead of the error if the connection closes under it. Like Go's HTTP server does
//! for dockerd, the rest of a refused body is read and thrown away first — within a
//! bound, so a huge upload is not read to its end just to be refused.
use std::time::Duration;

use axum::body::Body;
use futures::StreamExt;
use serde::de::DeserializeOwned;

use super::{ApiError, ApiResult};

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

/// A JSON body decoded as dockerd's Go decoder reads it; a body that does not decode is a
/// 400 "invalid JSON: …".
pub fn json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    crate::gojson::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

/// The fields of dockerd's container `Config` and `HostConfig` typed `strslice.StrSlice`,
/// which take a lone string as a list of one (`"Cmd": "date"`).
const CONTAINER_STR_SLICES: crate::gojson::Rules = crate::gojson::Rules {
    str_slices: &["Cmd", "Entrypoint", "Shell", "CapAdd", "CapDrop"],
};

/// `json` for a body holding a container config (create, commit).
pub fn container_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    crate::gojson::from_slice_with(body, CONTAINER_STR_SLICES)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

/// `json`, with an empty (or blank) body meaning `T::default()`.
pub fn json_or_default<T: DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    json(body)
}

//! JSON answers as dockerd writes them (`httputils.WriteJSON`: Go's json.Encoder, HTML
//! characters not escaped): the document, then a newline. Handlers answer with this
//! `Json` where axum's would leave the newline out.
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;

/// A JSON document answered with dockerd's trailing newline.
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(256);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => {
                body.push(b'\n');
                ([(CONTENT_TYPE, "application/json")], body).into_response()
            }
            Err(e) => ApiError::internal(format!("encoding the answer: {e}")).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_document_then_a_newline() {
        let answer = Json(serde_json::json!({"Id": "a<b>&"})).into_response();
        assert_eq!(answer.headers()[CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(answer.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(&body[..], b"{\"Id\":\"a<b>&\"}\n");
    }
}

//! Errors: the server's own ([`ServerError`]) and the JSON error answers of the API
//! ([`ApiError`], always `{"error": "...", "code": "..."}`).

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    /// The TLS certificate or key cannot be used (names the `server.tls` field and file).
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
    #[error("spool entry {seq}: cannot be read back: {reason}")]
    SpoolEntry { seq: u64, reason: String },
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
    #[error("the pipeline failed while draining: {0}")]
    Drain(String),
}

/// An API answer other than success.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<Duration>,
    /// Extra fields of the JSON body (reject counts of a body with no valid record).
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            details: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unsupported_media(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    pub fn payload_too_large(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({"error": self.message, "code": self.code});
        if let (Some(serde_json::Value::Object(extra)), Some(obj)) =
            (self.details, body.as_object_mut())
        {
            obj.extend(extra);
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up: a client that waits this long gets through.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

//! The HTTP push endpoint: a force's system POSTs NDJSON batches in the national schema.
//!
//! `POST /v1/records` answers only after the broker acknowledged every message of the batch,
//! and lists per-line problems, so the force can retry a whole batch safely (re-sent records
//! are byte-identical and stored once). Bodies over the limit get 413, a missing or wrong
//! bearer token 401, an empty or non-UTF-8 body 400, a broker failure 503 (retry later).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use crate::dialect::{self, Item, Row};
use crate::publish::Publishing;

/// Shared state of the push server.
#[derive(Debug)]
pub struct PushState {
    /// Turns rows into signed messages.
    pub publishing: Arc<Publishing>,
    /// The bearer token pushes must present; `None` accepts any caller (loopback development).
    pub token: Option<String>,
}

/// The reply to a push.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PushReply {
    /// Lines read (blank lines excluded).
    pub received: u64,
    /// Messages the broker acknowledged (records and malformed markers).
    pub published: u64,
    /// Lines that could not be read, with the reason; they were published as content-free
    /// markers and will appear in the national dead-letter topic.
    pub errors: Vec<LineError>,
}

/// One problem line.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the body.
    pub line: u64,
    /// Why.
    pub error: String,
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(ErrorBody {
            error: message.into(),
        }),
    )
        .into_response()
}

/// The router: `POST /v1/records`, `GET /healthz`, plus `extra` routes (e.g. `/metrics`).
pub fn router(state: Arc<PushState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/v1/records", post(push))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

fn authorised(state: &PushState, headers: &HeaderMap) -> bool {
    let Some(expected) = &state.token else {
        return true;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Constant-time comparison: do not leak the token's prefix through timing.
    presented.len() == expected.len()
        && presented
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn push(State(state): State<Arc<PushState>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorised(&state, &headers) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return error(
            StatusCode::BAD_REQUEST,
            "empty body: send NDJSON, one record per line",
        );
    }
    if std::str::from_utf8(&body).is_err() {
        return error(StatusCode::BAD_REQUEST, "body is not UTF-8");
    }
    let publishing = &state.publishing;
    let mut rows: Vec<Row> = Vec::new();
    let read = dialect::read(publishing.context(), &body[..], &mut |row| {
        rows.push(row);
        true
    });
    if let Err(problem) = read {
        return error(StatusCode::BAD_REQUEST, problem.to_string());
    }
    let batch = format!("push-{}", hex_digest(&body));
    let mut reply = PushReply {
        received: rows.len() as u64,
        published: 0,
        errors: Vec::new(),
    };
    let mut pending = Vec::with_capacity(rows.len());
    for row in rows {
        if let Item::Malformed(reason) = &row.item {
            reply.errors.push(LineError {
                line: row.line,
                error: reason.clone(),
            });
        }
        let Some((key, payload, signature)) = publishing.message(&batch, row) else {
            continue;
        };
        match publishing.send(&key, &payload, &signature).await {
            Ok(delivery) => pending.push(delivery),
            Err(problem) => return error(StatusCode::SERVICE_UNAVAILABLE, problem.to_string()),
        }
    }
    for delivery in pending {
        if let Err(problem) = bus::Publisher::acknowledged(delivery).await {
            tracing::warn!(error = %problem, "push batch not acknowledged");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("broker did not acknowledge the batch ({problem}); retry it"),
            );
        }
        reply.published += 1;
    }
    tracing::info!(%batch, received = reply.received, published = reply.published, "push batch acknowledged");
    (StatusCode::OK, axum::Json(reply)).into_response()
}

/// A short content digest naming the batch (the same body always gets the same name, so a
/// retried batch produces byte-identical messages).
fn hex_digest(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(body)[..8])
}

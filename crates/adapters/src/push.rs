//! The HTTP push endpoint: a force's system POSTs NDJSON batches in the national schema.
//!
//! `POST /v1/records` answers only after the broker acknowledged every message of the batch,
//! and lists per-line problems, so the force can retry a whole batch safely (re-sent records
//! are byte-identical and stored once). A missing or wrong bearer token gets 401 before a byte
//! of the body is read; a body over the limit 413 (at once when its declared length is over);
//! a body that does not arrive within [`BODY_TIMEOUT`] 408; an empty or non-UTF-8 body 400; a
//! broker failure 503 (retry later).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde::Serialize;

use crate::dialect::{self, Item, Row};
use crate::publish::Publishing;

/// Time a client has to deliver a push's body once its headers arrived (16 MiB in a minute
/// needs about 2.2 Mbit/s).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Shared state of the push server.
#[derive(Debug)]
pub struct PushState {
    /// Turns rows into signed messages.
    pub publishing: Arc<Publishing>,
    /// The bearer token pushes must present; `None` accepts any caller (loopback development).
    /// An empty token accepts nobody.
    pub token: Option<String>,
    /// Largest accepted body, in bytes.
    pub max_body_bytes: usize,
    /// Time the body has to arrive ([`BODY_TIMEOUT`]).
    pub body_timeout: Duration,
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

/// The router: `POST /v1/records` and `GET /healthz`.
pub fn router(state: Arc<PushState>) -> Router {
    Router::new()
        .route("/v1/records", post(push))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

fn authorised(state: &PushState, headers: &HeaderMap) -> bool {
    let Some(expected) = &state.token else {
        return true;
    };
    // Start-up refuses an empty token; should one arrive here, it opens nothing.
    if expected.is_empty() {
        return false;
    }
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

/// Why a body was not read.
enum BodyError {
    TooLarge,
    TimedOut,
    Broken(String),
}

impl BodyError {
    fn response(self, state: &PushState) -> Response {
        match self {
            Self::TooLarge => error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body over {} bytes: split the batch", state.max_body_bytes),
            ),
            Self::TimedOut => error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {} s of the headers",
                    state.body_timeout.as_secs()
                ),
            ),
            Self::Broken(reason) => error(
                StatusCode::BAD_REQUEST,
                format!("reading the body: {reason}"),
            ),
        }
    }
}

/// Reads a body of at most `max` bytes. A declared length over `max` is refused before
/// anything is read.
async fn read_body(headers: &HeaderMap, mut body: Body, max: usize) -> Result<Vec<u8>, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut bytes = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            let inner = error.into_inner();
            // The server's own request deadline (crates/cyberflag/src/http.rs) ends a body
            // with a timed-out I/O error.
            match inner.downcast_ref::<std::io::Error>() {
                Some(io) if io.kind() == std::io::ErrorKind::TimedOut => BodyError::TimedOut,
                _ => BodyError::Broken(inner.to_string()),
            }
        })?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > max {
                return Err(BodyError::TooLarge);
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

async fn push(State(state): State<Arc<PushState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // Authentication first: an unauthenticated caller cannot make the server read (or wait
    // for) a single byte of its body.
    if !authorised(&state, &parts.headers) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let body = match tokio::time::timeout(
        state.body_timeout,
        read_body(&parts.headers, body, state.max_body_bytes),
    )
    .await
    {
        Ok(Ok(body)) => body,
        Ok(Err(problem)) => return problem.response(&state),
        Err(_) => return BodyError::TimedOut.response(&state),
    };
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll};

    use super::*;

    /// A body that never delivers a byte, and remembers whether anyone asked for one.
    struct Tripwire(Arc<AtomicBool>);

    impl http_body::Body for Tripwire {
        type Data = axum::body::Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
            self.0.store(true, Ordering::SeqCst);
            Poll::Pending
        }
    }

    fn state(token: Option<&str>) -> Arc<PushState> {
        let settings = bus::ClientSettings {
            // Nothing listens there: these requests never reach the broker.
            brokers: "127.0.0.1:9".into(),
            security_protocol: "plaintext".into(),
            ssl_ca_location: None,
            ssl_certificate_location: None,
            ssl_key_location: None,
            ssl_key_password: None,
            sasl: None,
        };
        let publisher = bus::Publisher::new(&settings, "unused", Duration::from_secs(1)).unwrap();
        let key = wire::Secret::from_hex(&"5a".repeat(32)).unwrap();
        Arc::new(PushState {
            publishing: Arc::new(Publishing {
                publisher,
                signer: wire::Signer::new("metropolitan-test", key.clone()),
                pseudonymiser: wire::Pseudonymiser::new("metropolitan", key),
                force: model::ForceId::from_id("metropolitan").unwrap(),
                dialect: wire::Dialect::NationalNdjson,
                mapping: None,
                adapter: "met-test".into(),
            }),
            token: token.map(str::to_owned),
            max_body_bytes: 1024,
            body_timeout: Duration::from_millis(200),
        })
    }

    async fn send(state: Arc<PushState>, headers: &[(&str, &str)]) -> (StatusCode, bool, Duration) {
        let read = Arc::new(AtomicBool::new(false));
        let mut request = Request::builder().method("POST").uri("/v1/records");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Body::new(Tripwire(Arc::clone(&read))))
            .unwrap();
        let started = std::time::Instant::now();
        let response = push(State(state), request).await;
        (
            response.status(),
            read.load(Ordering::SeqCst),
            started.elapsed(),
        )
    }

    /// An attacker without the token cannot make the endpoint wait for a body: 401 at once,
    /// the body never read.
    #[tokio::test]
    async fn authentication_comes_before_the_body() {
        let state = state(Some("the-token"));
        for headers in [
            vec![("content-length", "1000000")],
            vec![
                ("authorization", "Bearer wrong"),
                ("content-length", "1000000"),
            ],
            vec![("authorization", "Bearer the-token-but-longer")],
        ] {
            let (status, read, took) = send(Arc::clone(&state), &headers).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
            assert!(!read, "the body was read for {headers:?}");
            assert!(took < Duration::from_millis(100), "{took:?}");
        }
    }

    /// An empty token (set but empty) opens nothing, not even to an empty bearer.
    #[tokio::test]
    async fn an_empty_token_accepts_nobody() {
        for headers in [vec![], vec![("authorization", "Bearer ")]] {
            let (status, read, _) = send(state(Some("")), &headers).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
            assert!(!read);
        }
    }

    /// An authenticated body that never arrives is answered 408 at the deadline; one declared
    /// over the limit 413 before it is read.
    #[tokio::test]
    async fn the_body_has_a_deadline_and_a_size_limit() {
        let auth = ("authorization", "Bearer the-token");
        let (status, read, took) = send(state(Some("the-token")), &[auth]).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert!(read);
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
        let (status, read, _) = send(
            state(Some("the-token")),
            &[auth, ("content-length", "1025")],
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(!read);
    }
}

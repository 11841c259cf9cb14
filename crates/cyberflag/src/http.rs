//! Serving HTTP (the API, the push endpoint, every role's `/metrics` and `/healthz`) with
//! limits a hostile client cannot outwait.
//!
//! A server is exhausted by connections that never finish: ones that send nothing, half a
//! request head (slow loris), an HTTP/2 preface, a body that trickles, or that never read the
//! response. So every connection lives by [`Limits`], enforced by timers of its own, whatever
//! hyper does or the client speaks:
//!
//! - **HTTP/1.1 only.** An HTTP/2 preface (or half of one) is not a request hyper's HTTP/1
//!   parser accepts, and TLS offers only `http/1.1` by ALPN: one set of rules covers every
//!   connection, and HTTP/2's streams, pings and windows need no limits of their own.
//! - From the moment a connection is accepted, and again after each response, it must send a
//!   first byte within [`Limits::first_byte`] (before the first request only) and a complete
//!   request head, TLS handshake included, within [`Limits::request_head`]. Then the body must
//!   arrive within [`Limits::request_body`] of the head, and the client must take the
//!   response within [`Limits::response`] of it being ready. Otherwise the connection is closed.
//! - At most [`Limits::max_connections`] at once (fewer if the process may not open that many
//!   files). When all are taken, a new connection **evicts** the oldest connection that is
//!   waiting for a request (never one being served), so connections held open by an attacker
//!   cannot lock an honest client out for even a moment; when every connection is being served
//!   the new one is closed at once. Failures to accept (no file descriptor left) evict too, and
//!   never stop the server.
//!
//! With a certificate and key configured, connections are TLS (rustls, TLS 1.2 and 1.3); a
//! client that does not speak TLS is dropped after its first bytes.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use hyper::body::Incoming;
use hyper::service::Service as HyperService;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Time a client has to send a request's head (TLS handshake included).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a new connection has to send its first byte.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a request's body has to arrive once its head did.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// Time a client has to take a response once it is ready.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 1024;
/// File descriptors kept for everything else a process opens (brokers, ClickHouse, files).
const RESERVED_FILES: u64 = 128;

/// The limits every connection of a server lives by (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections at once.
    pub max_connections: usize,
    /// A new connection's first byte.
    pub first_byte: Duration,
    /// A complete request head, from the connection's start or the previous response.
    pub request_head: Duration,
    /// A request's body, from its head.
    pub request_body: Duration,
    /// A response, from being ready to being taken.
    pub response: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: MAX_CONNECTIONS,
            first_byte: FIRST_BYTE_TIMEOUT,
            request_head: HEADER_TIMEOUT,
            request_body: BODY_TIMEOUT,
            response: RESPONSE_TIMEOUT,
        }
    }
}

/// Why a TLS certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM item of the expected kind.
    #[error("cannot read the TLS {what} from {path}: {reason}")]
    Read {
        /// `certificate chain` or `private key`.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the pair (for example, the key does not match the certificate).
    #[error("the TLS certificate in {cert} and key in {key} cannot be used: {source}")]
    Config {
        /// Certificate file.
        cert: String,
        /// Key file.
        key: String,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
}

/// TLS from PEM files: `cert` holds the server certificate then its chain, `key` its private
/// key (PKCS#8, PKCS#1 or SEC1).
pub fn tls_acceptor(cert: &str, key: &str) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let read_error = |what, path: &str, reason: String| TlsError::Read {
        what,
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|items| items.collect::<Result<Vec<_>, _>>())
        .map_err(|e| read_error("certificate chain", cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(read_error(
            "certificate chain",
            cert,
            "no CERTIFICATE block".into(),
        ));
    }
    let private_key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| read_error("private key", key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .with_no_client_auth()
                .with_single_cert(chain, private_key)
        })
        .map_err(|source| TlsError::Config {
            cert: cert.to_owned(),
            key: key.to_owned(),
            source,
        })?;
    // HTTP/1.1 only (see the module documentation).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The acceptor for an optional certificate and key pair: both set means TLS, neither plain
/// HTTP (configuration validation rejects one without the other).
pub fn optional_tls(cert: &str, key: &str) -> Result<Option<tokio_rustls::TlsAcceptor>, TlsError> {
    if cert.is_empty() && key.is_empty() {
        return Ok(None);
    }
    tls_acceptor(cert, key).map(Some)
}

/// Serves `router` on `listener` with the default [`Limits`] until `shutdown` resolves, over
/// TLS when `tls` is given.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(listener, router, tls, shutdown, Limits::default()).await
}

/// [`serve`] with chosen limits.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
) -> std::io::Result<()> {
    let capacity = capacity(limits.max_connections, open_file_limit());
    if capacity < limits.max_connections {
        tracing::warn!(
            capacity,
            wanted = limits.max_connections,
            "the open-file limit allows fewer connections; raise it (ulimit -n)"
        );
    }
    let registry = Arc::new(Mutex::new(Registry::default()));
    let mut last_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => return Ok(()),
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                if out_of_files(&error) {
                    // The connection stays in the backlog: free a descriptor for it.
                    evict_one(&registry);
                    if last_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                        tracing::warn!(%error, "cannot accept connections: out of file descriptors");
                        last_warning = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                } else {
                    tracing::debug!(%error, "accept failed");
                }
                continue;
            }
        };
        let Some(slot) = admit(&registry, capacity) else {
            metrics::counter!("cyberflag_http_connections_dropped_total", "reason" => "refused")
                .increment(1);
            drop(stream);
            continue;
        };
        tokio::spawn(connection(
            stream,
            tls.clone(),
            router.clone(),
            slot,
            limits,
        ));
    }
}

/// Connections a server takes at once: `wanted`, or fewer when the process may not open that
/// many files (`open_files`, `None` when unlimited) with some to spare.
fn capacity(wanted: usize, open_files: Option<u64>) -> usize {
    match open_files {
        None => wanted,
        Some(limit) => {
            let spare = limit.saturating_sub(RESERVED_FILES).max(16);
            wanted.min(usize::try_from(spare).unwrap_or(usize::MAX))
        }
    }
}

/// The process's open-file limit, raised once to its hard limit (as Go's runtime does):
/// a server holding a thousand connections needs more than the usual soft limit of 1,024.
fn open_file_limit() -> Option<u64> {
    static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
            && current < maximum
        {
            let raised = Rlimit {
                current: Some(maximum),
                maximum: Some(maximum),
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                tracing::debug!(from = current, to = maximum, "open-file limit raised");
                return Some(maximum);
            }
        }
        limit.current
    })
}

fn out_of_files(error: &std::io::Error) -> bool {
    use rustix::io::Errno;
    [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM]
        .iter()
        .any(|errno| error.raw_os_error() == Some(errno.raw_os_error()))
}

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request since `since`: the first after the connection was accepted (TLS
    /// handshake included), or the next after a response.
    Waiting { since: Instant },
    /// A request's head arrived; it is being handled (its body read within its own deadline).
    Handling,
    /// A response has been ready since `since` and is being written.
    Responding { since: Instant },
}

/// One connection's state, shared by its task, its service and the accept loop.
#[derive(Debug)]
struct Tracker {
    phase: Mutex<Phase>,
    /// The phase changed.
    changed: Notify,
    /// The accept loop needs this connection's slot.
    evicted: Notify,
    /// The client sent at least one byte.
    received: AtomicBool,
}

impl Tracker {
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::Waiting {
                since: Instant::now(),
            }),
            changed: Notify::new(),
            evicted: Notify::new(),
            received: AtomicBool::new(false),
        }
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = phase;
        self.changed.notify_one();
    }

    fn waiting(&self) -> bool {
        matches!(self.phase(), Phase::Waiting { .. })
    }

    /// When the connection is closed unless its phase changes first, and why.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, &'static str)> {
        deadline(self.phase(), self.received.load(Ordering::Relaxed), limits)
    }
}

/// The pure rule behind [`Tracker::deadline`].
fn deadline(phase: Phase, received: bool, limits: &Limits) -> Option<(Instant, &'static str)> {
    match phase {
        Phase::Waiting { since } if !received && limits.first_byte < limits.request_head => {
            Some((since + limits.first_byte, "no-first-byte"))
        }
        Phase::Waiting { since } => Some((since + limits.request_head, "no-request")),
        Phase::Handling => None,
        Phase::Responding { since } => Some((since + limits.response, "response-not-taken")),
    }
}

/// Resolves when the connection has outlived its deadline, with the reason.
async fn watchdog(tracker: &Tracker, limits: &Limits) -> &'static str {
    loop {
        let changed = tracker.changed.notified();
        tokio::pin!(changed);
        // Registered before the phase is read, so no change is missed.
        changed.as_mut().enable();
        match tracker.deadline(limits) {
            None => changed.await,
            Some((at, reason)) => {
                if Instant::now() >= at {
                    return reason;
                }
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = changed => {}
                }
            }
        }
    }
}

/// The live connections of one server, oldest first.
#[derive(Debug, Default)]
struct Registry {
    next: u64,
    live: BTreeMap<u64, Arc<Tracker>>,
}

/// A connection's place in the registry, given back when its task ends.
#[derive(Debug)]
struct Slot {
    registry: Arc<Mutex<Registry>>,
    id: u64,
    tracker: Arc<Tracker>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .live
            .remove(&self.id);
    }
}

/// The connection to evict for a new one: the oldest waiting for a request.
fn victim(live: &BTreeMap<u64, Arc<Tracker>>) -> Option<u64> {
    live.iter()
        .find(|(_, tracker)| tracker.waiting())
        .map(|(id, _)| *id)
}

/// Closes the oldest connection waiting for a request, if there is one.
fn evict_one(registry: &Mutex<Registry>) -> bool {
    let mut registry = registry.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(id) = victim(&registry.live) else {
        return false;
    };
    if let Some(tracker) = registry.live.remove(&id) {
        tracker.evicted.notify_one();
        metrics::counter!("cyberflag_http_connections_dropped_total", "reason" => "evicted")
            .increment(1);
    }
    true
}

/// A slot for a new connection, evicting one waiting connection when the server is full;
/// `None` when every connection is being served.
fn admit(registry: &Arc<Mutex<Registry>>, capacity: usize) -> Option<Slot> {
    let full = registry
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .live
        .len()
        >= capacity;
    if full && !evict_one(registry) {
        return None;
    }
    let mut live = registry.lock().unwrap_or_else(PoisonError::into_inner);
    let id = live.next;
    live.next += 1;
    let tracker = Arc::new(Tracker::new());
    live.live.insert(id, Arc::clone(&tracker));
    Some(Slot {
        registry: Arc::clone(registry),
        id,
        tracker,
    })
}

/// Serves one connection until it ends, outlives a deadline or is evicted.
async fn connection(
    stream: tokio::net::TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: axum::Router,
    slot: Slot,
    limits: Limits,
) {
    let tracker = Arc::clone(&slot.tracker);
    let io = Watched {
        inner: stream,
        tracker: Arc::clone(&tracker),
    };
    let service = Tracked {
        inner: TowerToHyperService::new(router),
        tracker: Arc::clone(&tracker),
        limits,
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.request_head)
        .keep_alive(true);
    let served = async {
        match tls {
            None => builder
                .serve_connection(TokioIo::new(io), service)
                .await
                .map_err(|e| e.to_string()),
            Some(acceptor) => {
                let stream = acceptor.accept(io).await.map_err(|e| e.to_string())?;
                builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    };
    tokio::select! {
        served = served => {
            if let Err(error) = served {
                tracing::debug!(%error, "connection closed");
            }
        }
        reason = watchdog(&tracker, &limits) => {
            tracing::debug!(reason, "connection closed at its deadline");
            metrics::counter!("cyberflag_http_connections_dropped_total", "reason" => reason)
                .increment(1);
        }
        () = tracker.evicted.notified() => {
            tracing::debug!("connection evicted for a new one");
        }
    }
    drop(slot);
}

/// The client's stream, noting when its first byte arrives.
struct Watched<S> {
    inner: S,
    tracker: Arc<Tracker>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.tracker.received.store(true, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The router as hyper's service, moving the connection through its phases.
struct Tracked {
    inner: TowerToHyperService<axum::Router>,
    tracker: Arc<Tracker>,
    limits: Limits,
}

type Reply = hyper::Response<ResponseBody>;

impl HyperService<hyper::Request<Incoming>> for Tracked {
    type Response = Reply;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Reply, Self::Error>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.tracker.set(Phase::Handling);
        let limit = self.limits.request_body;
        let request = request.map(|body| {
            Body::new(DeadlineBody {
                inner: body,
                deadline: Box::pin(tokio::time::sleep(limit)),
                limit,
            })
        });
        let handled = self.inner.call(request);
        let tracker = Arc::clone(&self.tracker);
        Box::pin(async move {
            let response = handled.await?;
            tracker.set(Phase::Responding {
                since: Instant::now(),
            });
            Ok(response.map(|body| ResponseBody {
                inner: body,
                tracker: Some(tracker),
            }))
        })
    }
}

/// A request body that fails once its deadline passes (a timed-out I/O error, which handlers
/// can tell from a broken connection).
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            let late = std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the request body did not arrive within {} s",
                    this.limit.as_secs()
                ),
            );
            return Poll::Ready(Some(Err(late.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that puts its connection back to waiting once it is written (or dropped).
struct ResponseBody {
    inner: Body,
    tracker: Option<Arc<Tracker>>,
}

impl ResponseBody {
    fn finish(&mut self) {
        if let Some(tracker) = self.tracker.take() {
            tracker.set(Phase::Waiting {
                since: Instant::now(),
            });
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.finish();
    }
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::routing::{get, post};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    fn short() -> Limits {
        Limits {
            max_connections: 64,
            first_byte: Duration::from_millis(300),
            request_head: Duration::from_millis(700),
            request_body: Duration::from_millis(700),
            response: Duration::from_millis(700),
        }
    }

    async fn server(limits: Limits) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = axum::Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/echo",
                post(|body: Bytes| async move { body.len().to_string() }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(3_000)).await;
                    "slow"
                }),
            )
            .route("/big", get(|| async { vec![b'x'; 64 << 20] }));
        tokio::spawn(serve_with(
            listener,
            router,
            None,
            std::future::pending(),
            limits,
        ));
        address
    }

    /// Reads until the server closes the connection (or `limit` passes): what arrived, and
    /// when the connection ended (`None`: still open at `limit`).
    async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Duration>) {
        let started = Instant::now();
        let mut received = Vec::new();
        let mut buffer = [0u8; 65536];
        loop {
            let left = limit.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, stream.read(&mut buffer)).await {
                Err(_) => return (received, None),
                Ok(Ok(0) | Err(_)) => return (received, Some(started.elapsed())),
                Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            }
        }
    }

    async fn get_healthz(address: SocketAddr) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let (reply, _) = until_closed(&mut stream, Duration::from_secs(5)).await;
        String::from_utf8_lossy(&reply).into_owned()
    }

    #[test]
    fn deadlines_by_phase() {
        let limits = short();
        let since = Instant::now();
        let waiting = Phase::Waiting { since };
        assert_eq!(
            deadline(waiting, false, &limits),
            Some((since + limits.first_byte, "no-first-byte"))
        );
        assert_eq!(
            deadline(waiting, true, &limits),
            Some((since + limits.request_head, "no-request"))
        );
        assert_eq!(deadline(Phase::Handling, true, &limits), None);
        assert_eq!(
            deadline(Phase::Responding { since }, true, &limits),
            Some((since + limits.response, "response-not-taken"))
        );
    }

    #[test]
    fn capacity_follows_the_open_file_limit() {
        assert_eq!(capacity(1024, None), 1024);
        assert_eq!(capacity(1024, Some(1_048_576)), 1024);
        assert_eq!(capacity(1024, Some(1024)), 896);
        assert_eq!(capacity(1024, Some(10)), 16);
    }

    /// Silent connections, an HTTP/2 preface, half a preface, half a request head and a head
    /// sent a byte at a time: each is closed by its deadline, none lives on.
    #[tokio::test]
    async fn connections_that_never_finish_are_closed() {
        let limits = short();
        let address = server(limits).await;
        let mut cases: Vec<(&str, TcpStream, Duration)> = Vec::new();
        for (name, opening) in [
            ("silent", &b""[..]),
            ("HTTP/2 preface", PREFACE),
            ("half a preface", &PREFACE[..12]),
            ("half a head", &b"GET /healthz HTTP/1.1\r\nHost: x\r\n"[..]),
        ] {
            let mut stream = TcpStream::connect(address).await.unwrap();
            stream.write_all(opening).await.unwrap();
            let at_most = if opening.is_empty() {
                limits.first_byte
            } else {
                limits.request_head
            };
            cases.push((name, stream, at_most));
        }
        // A byte every 100 ms keeps a byte-idle timer happy, never the head deadline.
        let mut trickle = TcpStream::connect(address).await.unwrap();
        let trickled = tokio::spawn(async move {
            let started = Instant::now();
            for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
                if trickle.write_all(&[*byte]).await.is_err() {
                    return Some(started.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            None
        });
        for (name, mut stream, at_most) in cases {
            let (_, closed) = until_closed(&mut stream, Duration::from_secs(5)).await;
            let closed = closed.unwrap_or_else(|| panic!("{name}: still open after 5 s"));
            assert!(
                closed < at_most + Duration::from_millis(1_500),
                "{name}: closed after {closed:?}"
            );
        }
        let cut = trickled
            .await
            .unwrap()
            .expect("the trickled head was cut off");
        assert!(
            cut < limits.request_head + Duration::from_millis(1_500),
            "{cut:?}"
        );
    }

    /// A full server: a new connection evicts the oldest one waiting for a request, so an
    /// honest request is answered at once though every slot was held by a silent client.
    #[tokio::test]
    async fn a_full_server_evicts_a_waiting_connection_for_a_new_one() {
        let limits = Limits {
            max_connections: 8,
            first_byte: Duration::from_secs(60),
            request_head: Duration::from_secs(60),
            ..short()
        };
        let address = server(limits).await;
        let mut silent = Vec::new();
        for _ in 0..8 {
            silent.push(TcpStream::connect(address).await.unwrap());
        }
        // Let the server accept all eight.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        assert!(get_healthz(address).await.ends_with("ok"));
        assert!(started.elapsed() < Duration::from_secs(2));
        let (_, closed) = until_closed(&mut silent[0], Duration::from_secs(2)).await;
        assert!(closed.is_some(), "the oldest silent connection was evicted");
        let (_, still) = until_closed(&mut silent[7], Duration::from_millis(200)).await;
        assert!(still.is_none(), "only one was evicted");
    }

    /// Connections being served are never evicted: when all are, a new one is refused at once.
    #[tokio::test]
    async fn connections_being_served_are_not_evicted() {
        let limits = Limits {
            max_connections: 2,
            ..short()
        };
        let address = server(limits).await;
        let mut busy = Vec::new();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(address).await.unwrap();
            stream
                .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            busy.push(stream);
        }
        // Both heads parsed, both requests being handled (a generous pause on a busy machine).
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let mut refused = TcpStream::connect(address).await.unwrap();
        let (_, closed) = until_closed(&mut refused, Duration::from_secs(1)).await;
        assert!(closed.is_some(), "refused at once");
        for mut stream in busy {
            let (reply, _) = until_closed(&mut stream, Duration::from_secs(5)).await;
            assert!(String::from_utf8_lossy(&reply).ends_with("slow"));
        }
        // Slots are free again.
        assert!(get_healthz(address).await.ends_with("ok"));
    }

    /// A body that stops arriving fails at its deadline: the handler answers and the
    /// connection is not held.
    #[tokio::test]
    async fn a_body_that_stops_arriving_is_cut_at_its_deadline() {
        let limits = short();
        let address = server(limits).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
            .await
            .unwrap();
        let started = Instant::now();
        let (reply, closed) = until_closed(&mut stream, Duration::from_secs(5)).await;
        let reply = String::from_utf8_lossy(&reply);
        assert!(!reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(closed.is_some());
        let took = started.elapsed();
        assert!(
            took >= limits.request_body - Duration::from_millis(100)
                && took < limits.request_body + Duration::from_millis(1_500),
            "{took:?}"
        );
        // A body that arrives in time is served.
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\nabcd")
            .await
            .unwrap();
        let (reply, _) = until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(String::from_utf8_lossy(&reply).ends_with("\r\n\r\n4"));
    }

    /// After a response, a kept-alive connection must send its next request in time; and a
    /// client that does not read a large response loses the connection.
    #[tokio::test]
    async fn idle_keep_alive_and_unread_responses_end() {
        let limits = short();
        let address = server(limits).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (reply, closed) = until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(String::from_utf8_lossy(&reply).ends_with("ok"));
        let closed = closed.expect("the idle connection was closed");
        assert!(
            closed < limits.request_head + Duration::from_millis(1_500),
            "{closed:?}"
        );

        let mut reader = TcpStream::connect(address).await.unwrap();
        reader
            .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(limits.response + Duration::from_millis(1_000)).await;
        let (received, closed) = until_closed(&mut reader, Duration::from_secs(10)).await;
        assert!(closed.is_some());
        assert!(
            received.len() < 64 << 20,
            "the whole response was kept for the client"
        );
    }
}

//! Network fixtures for fault and TLS tests: a TCP forwarder that can stall, a test certificate
//! authority, a TLS-terminating forwarder, and a private broker.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Forwards loopback TCP connections to `target`; while stalled it moves no byte in either
/// direction and sends no reset, as a network path that silently drops packets would.
pub struct StallingProxy {
    /// The port clients connect to.
    pub port: u16,
    stalled: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl StallingProxy {
    /// Starts forwarding to `target` (`host:port`).
    pub fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stalled = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let target = target.to_owned();
        let (stalled_in, stop_in) = (Arc::clone(&stalled), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop_in.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let (stalled, stop) = (Arc::clone(&stalled_in), Arc::clone(&stop_in));
                    std::thread::spawn(move || pump(from, to, &stalled, &stop));
                }
            }
        });
        Self {
            port,
            stalled,
            stop,
        }
    }

    /// The address clients use.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops (`true`) or restarts (`false`) moving bytes.
    pub fn stall(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }
}

impl Drop for StallingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, stalled: &AtomicBool, stop: &AtomicBool) {
    from.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buffer = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        if stalled.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A certificate authority made for one test, and a server certificate it signed for
/// `localhost` and `127.0.0.1`, written as PEM files in `dir`.
pub struct TestCa {
    /// The CA certificate (what clients trust).
    pub ca_pem: PathBuf,
    /// The server's certificate.
    pub cert_pem: PathBuf,
    /// The server's private key.
    pub key_pem: PathBuf,
    /// The rustls client configuration trusting only this CA.
    pub client: Arc<rustls::ClientConfig>,
}

impl TestCa {
    /// Creates the CA and the server certificate in `dir`.
    pub fn new(dir: &Path) -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "cyberflag test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server_params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        let server = server_params.signed_by(&server_key, &ca, &ca_key).unwrap();

        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        Self {
            ca_pem: write("ca.pem", ca.pem()),
            cert_pem: write("server.pem", server.pem()),
            key_pem: write("server.key", server_key.serialize_pem()),
            client: Arc::new(client),
        }
    }

    /// An HTTPS GET to `127.0.0.1:port` trusting only this CA: status and body.
    pub fn https(&self, port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        self.https_request(port, "GET", path, headers, b"")
    }

    /// An HTTPS request to `127.0.0.1:port` trusting only this CA: status and body.
    pub fn https_request(
        &self,
        port: u16,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let connection = rustls::ClientConnection::new(Arc::clone(&self.client), name).unwrap();
        let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut stream = rustls::StreamOwned::new(connection, socket);
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\
             Content-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut response = Vec::new();
        // A peer closing without close_notify is still a complete HTTP/1.1 "Connection: close"
        // response once the body is read.
        let _ = stream.read_to_end(&mut response);
        crate::support::parse_http_response(&response)
    }
}

/// Terminates TLS on a loopback port of its own with the test CA's server certificate and
/// forwards the plaintext to `target`: a TLS listener in front of a broker that has none.
pub struct TlsTerminator {
    /// The TLS port.
    pub port: u16,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TlsTerminator {
    /// Starts listening (on a port the system picks) and forwarding to `target`.
    pub fn start(ca: &TestCa, target: &str) -> Self {
        use rustls::pki_types::pem::PemObject;
        let chain = rustls::pki_types::CertificateDer::pem_file_iter(&ca.cert_pem)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&ca.key_pem).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = target.to_owned();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, target) = (acceptor.clone(), target.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Self {
            port,
            runtime: Some(runtime),
        }
    }
}

impl Drop for TlsTerminator {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A broker of this test's own (Tansu), killed on drop.
pub struct PrivateBroker {
    child: std::process::Child,
    log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl PrivateBroker {
    /// Starts Tansu in memory on `127.0.0.1:port`, telling clients to connect to `advertised`
    /// (`host:port`), and waits until it listens.
    pub fn start(port: u16, advertised: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut broker = Self::spawn(port, advertised, "memory://tansu/", dir.path());
        broker._dir = Some(dir);
        broker.wait_until_listening(port);
        broker
    }

    /// Starts Tansu on `127.0.0.1:port` storing in SQLite in `dir`: a broker restarted on the
    /// same `dir` has everything it acknowledged before.
    pub fn durable(port: u16, dir: &Path) -> Self {
        // Tansu resolves the path against its working directory.
        let mut broker = Self::spawn(port, &format!("127.0.0.1:{port}"), "sqlite://tansu.db", dir);
        broker.wait_until_listening(port);
        broker
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the broker: its connections stay open, but it
    /// answers nothing while frozen.
    pub fn freeze(&self, frozen: bool) {
        let signal = if frozen { "-STOP" } else { "-CONT" };
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} the private broker");
    }

    /// SIGKILLs the broker: no shutdown, no flush.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn spawn(port: u16, advertised: &str, storage: &str, dir: &Path) -> Self {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let tansu = cache.join("cyberflag/tansu-0.6.0/bin/tansu");
        assert!(
            tansu.is_file(),
            "{} is missing: `cargo xtask stack up` builds it",
            tansu.display()
        );
        let log = dir.join(format!("tansu-{port}.log"));
        let child = std::process::Command::new(tansu)
            .args([
                "broker",
                "--listener-url",
                &format!("tcp://127.0.0.1:{port}"),
                "--advertised-listener-url",
                &format!("tcp://{advertised}"),
                "--storage-engine",
                storage,
            ])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self {
            child,
            log,
            _dir: None,
        }
    }

    /// Waits until the broker accepts connections; fails with its log if it exits first or
    /// takes longer than 30 s (and, dropped on the way out, is killed).
    fn wait_until_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let log = || std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the private broker exited ({status}):\n{}", log());
            }
            assert!(
                Instant::now() < deadline,
                "the private broker did not listen on {port}:\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! Loopback ports, and waiting for a condition or a listener.

use std::io::{Error, ErrorKind};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A loopback port free at the time of the call.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `N` distinct loopback ports free at the time of the call (held together while chosen, so
/// they differ).
pub fn free_ports<const N: usize>() -> std::io::Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ports = [0u16; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr()?.port();
    }
    Ok(ports)
}

/// Whether something accepts connections on `address` (`host:port`) within half a second.
pub fn port_open(address: &str) -> bool {
    address
        .parse::<SocketAddr>()
        .is_ok_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok())
}

/// Checks `done` every `every` until it holds; `TimedOut`, naming `what`, after `limit`.
pub fn wait_until(
    limit: Duration,
    every: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> std::io::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::new(
                ErrorKind::TimedOut,
                format!("{what} (waited {} s)", limit.as_secs_f64()),
            ));
        }
        std::thread::sleep(every);
    }
}

/// Waits until something listens on `address`, at most `limit`.
pub fn wait_for_port(address: &str, limit: Duration) -> std::io::Result<()> {
    wait_until(
        limit,
        Duration::from_millis(100),
        &format!("nothing listens on {address}"),
        || port_open(address),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_and_distinct_and_waiting_ends() {
        let [a, b, c] = free_ports().unwrap();
        assert!(a != b && b != c && a != c);
        let address = format!("127.0.0.1:{a}");
        assert!(!port_open(&address));
        let error = wait_for_port(&address, Duration::from_millis(300)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TimedOut);
        assert!(error.to_string().contains(&address), "{error}");
        let _listener = TcpListener::bind(&address).unwrap();
        wait_for_port(&address, Duration::from_secs(5)).unwrap();
        let mut calls = 0;
        wait_until(
            Duration::from_secs(5),
            Duration::ZERO,
            "three calls",
            || {
                calls += 1;
                calls == 3
            },
        )
        .unwrap();
        assert_eq!(calls, 3);
        assert!(free_port().unwrap() > 0);
    }
}

//! A minimal HTTP/1.1 client for loopback tests: one request per connection
//! (`Connection: close`), the whole response read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code (0 if the response had no status line).
    pub status: u16,
    /// The headers, as sent (names as the server wrote them).
    pub headers: Vec<(String, String)>,
    /// The body, as sent (not de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// Parses a raw HTTP/1.1 response.
    pub fn parse(raw: &[u8]) -> Self {
        let split = raw
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .unwrap_or(raw.len());
        let head = String::from_utf8_lossy(&raw[..split]);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect();
        let body = raw.get(split + 4..).unwrap_or_default().to_vec();
        Self {
            status,
            headers,
            body,
        }
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first header called `name` (case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Sends one request to `address` (`host:port`) and reads the whole response, waiting at most
/// `timeout` for each read.
pub fn exchange(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(timeout))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    // A server may answer (and close) before reading a body it refuses: still read its answer.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    Ok(Response::parse(&raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_split_into_status_headers_and_body() {
        let response =
            Response::parse(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\n\r\nslow down");
        assert_eq!(response.status, 429);
        assert_eq!(response.header("retry-after"), Some("3"));
        assert_eq!(response.text(), "slow down");
        let empty = Response::parse(b"");
        assert_eq!((empty.status, empty.body.len()), (0, 0));
        let headless = Response::parse(b"HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!((headless.status, headless.text()), (204, String::new()));
    }

    #[test]
    fn an_exchange_with_a_real_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let read = stream.read(&mut request).unwrap();
            let request = String::from_utf8_lossy(&request[..read]).into_owned();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
            request
        });
        let response = exchange(
            &address,
            "POST",
            "/v1/records",
            &[("Authorization", "Bearer t")],
            b"x",
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!((response.status, response.text()), (200, "ok".to_owned()));
        let request = server.join().unwrap();
        assert!(
            request.starts_with("POST /v1/records HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("Authorization: Bearer t\r\n"), "{request}");
        assert!(request.contains("Content-Length: 1\r\n"), "{request}");
    }
}

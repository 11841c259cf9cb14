//! What the integration tests (`tests/it`) and `cargo xtask` share to drive the real binary and
//! servers: a minimal HTTP/1.1 client, free loopback ports, waiting for a condition or a port,
//! and child processes that are stopped when dropped. Standard library only, no async: each
//! call blocks the thread that makes it.
//!
//! Everything returns `std::io::Result` (a wait that runs out is `ErrorKind::TimedOut`), so
//! xtask propagates with `?` and tests unwrap with a message.

pub mod http;
pub mod net;
pub mod process;

pub use http::{Response, exchange};
pub use net::{free_port, free_ports, port_open, wait_for_port, wait_until};
pub use process::{Guarded, Services, terminate};

//! The `cyberflag` binary's library half: configuration, the command-line definition and the
//! checks of operator mistakes with secrets.
//!
//! Everything here is shared by `main.rs`, by `xtask` (which writes a development configuration)
//! and by the integration tests (which check that `docker-compose.yml` and the README only name
//! configuration keys the binary knows).

pub mod cli;
pub mod config;
pub mod secrets;

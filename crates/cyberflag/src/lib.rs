//! The `cyberflag` binary's library half: configuration and the command-line definition.
//!
//! Everything here is shared by `main.rs`, by `xtask` (which writes a development configuration)
//! and by the integration tests (which check that `docker-compose.yml` and the README only name
//! configuration keys the binary knows).

pub mod cli;
pub mod config;

//! Integration tests: one binary, one module per flow, against the real local stack.
//!
//! `cargo xtask test` starts ClickHouse and the broker first; these tests fail (never skip) when
//! they are not there. Each test isolates itself by database and topic names, never by
//! restarting servers, so tests run in parallel against one stack.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a panic there is a failed test"
)]

mod net;
mod support;

mod adapter;
mod alerts;
mod api;
mod cli;
mod cluster;
mod deploy;
mod disclosure;
mod edges;
mod faults;
mod ingest;
mod operations;
mod schema;
mod security;
mod simulation;
mod sql;
mod tidy;
mod topics;

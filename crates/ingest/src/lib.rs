//! The ingest consumer: raw topic in, validated and deduplicated record versions into
//! ClickHouse, every rejected message to the dead-letter topic.
//!
//! - [`normalise`]: pure: signature and force check, field parsing, model validation;
//! - [`dedup`]: pure: the bounded memory of stored versions (duplicates count);
//! - [`service`]: the consumer-group loop with batching, retries, dead-lettering and commits.

pub mod dedup;
pub mod normalise;
pub mod service;

pub use normalise::{Rejection, normalise, verify};

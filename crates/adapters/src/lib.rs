//! Per-force producer adapters: read a force's exports or pushes, keep private data inside the
//! force, and publish each record version to the raw topic exactly once per checkpointed run.
//!
//! - [`profile`]: the per-force TOML profile (force, source, dialect, mapping, keys);
//! - [`dialect`]: streaming readers for police.uk CSV, force CSV/JSON exports and national
//!   NDJSON, turning bytes into rows (pure apart from reading the input);
//! - [`mapping`]: the privacy boundary (pseudonyms, date of birth to age, unmapped fields
//!   never read);
//! - [`checkpoint`]: per-source progress, advanced only over broker-acknowledged records;
//! - [`publish`]: files to the raw topic with ordered acknowledgements and a run summary;
//! - [`push`]: the HTTP push endpoint;
//! - [`spool`]: the watched export directory, opening exactly the files a scan found.

pub mod checkpoint;
pub mod dialect;
pub mod mapping;
pub mod profile;
pub mod publish;
pub mod push;
pub mod spool;
pub mod summary;

//! The raw topic's wire format, shared by the producer side (adapters) and the consumer side
//! (ingest), with no I/O.
//!
//! A message on `cyberflag.raw.v1` is:
//!
//! - **key**: `<force id>/<pseudonymised reference>`, so every version of one crime lands on one
//!   partition in order (a row too malformed to have a reference is keyed by its source
//!   position instead);
//! - **payload**: one [`RawMessage`] as compact JSON. It carries what the force's export said,
//!   mapped to the national field names but not yet interpreted: `ingest` normalises and
//!   validates it, so every rejection happens in one place and goes to the dead-letter topic.
//!   It holds no publication time, so re-sending a file produces byte-identical messages;
//! - **headers**: [`HEADER_SCHEMA`], [`HEADER_KEY_ID`] and [`HEADER_SIGNATURE`], the force's
//!   HMAC-SHA-256 over the payload bytes, so the national side refuses records a force did not
//!   send ([`Keyring::verify`]).
//!
//! Privacy is the adapter's job and is visible in the types: a [`RawRecord`] has no field for a
//! name, an address, free text or a date of birth, and its reference is a [`Pseudonymiser`]
//! digest, never the force's own reference.

mod envelope;
mod keys;

pub use envelope::{Dialect, RawMessage, RawRecord, SCHEMA, SourcePosition};
pub use keys::{
    HEADER_KEY_ID, HEADER_SCHEMA, HEADER_SIGNATURE, KeyError, Keyring, Pseudonymiser, Secret,
    SignatureReject, Signer,
};

//! The national crime-record model of cyberflag: the types every stage of the pipeline agrees on.
//!
//! Police forces of England and Wales send crime records in their own formats. Adapters turn them
//! into one [`CrimeRecord`], the processor checks it with [`validate()`] and deduplicates it by
//! (force, crime reference, version), and the warehouse stores it; its exchange form is one line
//! of the national NDJSON schema (documented in [`record`]). This crate is the single place where that vocabulary lives:
//!
//! - [`force`]: the 43 territorial forces, British Transport Police and PSNI ([`ForceId`]), with
//!   every name they go by;
//! - [`offence`]: the Home Office offence classification ([`OffenceCode`], [`Offence`],
//!   [`OffenceGroup`], [`VictimAgeRule`]);
//! - [`category`]: the data.police.uk crime categories ([`Category`]);
//! - [`outcome`]: police.uk outcome categories and Home Office outcome types ([`Outcome`]);
//! - [`age`]: victim age bands ([`AgeBand`]) and their roll-ups to published bandings;
//! - [`record`]: the canonical record and its JSON shape;
//! - [`decode`]: the one decoder of a record's fields, strict or lenient once per field;
//! - [`validate`]: the checks and the single [`Reject`] enum whose [`Reject::code`] is the
//!   dead-letter reason.
//!
//! The crate is pure: no I/O, no async, no clock (callers pass `today`). Nothing in it panics on
//! input; bad input is a typed error.

#![warn(missing_docs)]

pub mod age;
pub mod category;
pub mod decode;
pub mod force;
pub mod offence;
pub mod outcome;
pub mod record;
pub mod validate;

pub mod text;

#[cfg(test)]
mod police_uk_samples;

pub use age::{AgeBand, Banding, UnknownAgeBand};
pub use category::{Category, UnknownCategory};
pub use force::{Force, ForceId, Jurisdiction, Region, UnknownForce};
pub use offence::{
    Offence, OffenceCode, OffenceCodeError, OffenceGroup, UnknownOffenceGroup, VictimAgeRule,
};
pub use outcome::{HomeOfficeOutcome, Outcome, PoliceUkOutcome, UnknownOutcome};
pub use record::{
    CrimeRecord, CrimeRef, CrimeRefError, DatePrecision, DateRange, Lineage, Lsoa, LsoaError,
    RecordedDate, SourceFormat, Status,
};
pub use validate::{Reject, validate};

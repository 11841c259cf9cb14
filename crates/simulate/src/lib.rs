//! The deterministic force simulator of cyberflag: synthetic crime-record exports of every
//! police force of England and Wales, the adapter profiles to read them, and the exact counts a
//! correct pipeline must report.
//!
//! [`write_simulation`] writes into a directory:
//!
//! ```text
//! exports/<force>/<NNNN>-<yyyy-mm>[-resend].<csv|json|ndjson>   each force's monthly files,
//!                                                              NNNN = delivery order
//! profiles/<force>.toml        adapter profile: dialect, mapping, the files in order, checkpoint
//! state/                       empty: the adapters' checkpoints go here
//! ground-truth.csv             exact current-state counts (header GROUND_TRUTH_HEADER)
//! summary.json                 Summary: options, totals, what was injected
//! ```
//!
//! Each monthly file holds the record versions that changed that month (new crimes,
//! reclassifications, late cyber flags, outcomes, cancellations, transfers), in the force's
//! dialect ([`dialect_of`]): West Mercia writes force-csv, Avon and Somerset force-json, the
//! Metropolitan Police national-ndjson, every other force one of the three by its position in
//! `ForceId::all()` modulo 3. Some months a whole earlier file is re-sent, byte for byte, under
//! a new name; some rows are malformed ([`MalformedKind`]). In all-crime mode
//! ([`Options::all_crime`]) volume crime has a police.uk category and no Home Office code, so
//! force-csv files gain a last column, [`CSV_CATEGORY_COLUMN`], and their profiles map it as
//! `category`; otherwise every mapping is exactly the shipped one.
//!
//! Ground truth follows the Home Office rules (domain research §1.5): the latest version of a
//! crime is its current state; it counts iff that state is recorded; a transferred crime counts
//! only at the receiving force, under the receiver's own new reference; malformed rows never
//! count. Codes, categories, forces, outcomes, age bands and age rules all come from `model`.
//!
//! The same [`Options`] (seed included) give the same bytes on every machine: seeded ChaCha8
//! streams per force and month, `libm` for transcendental functions, ordered maps only, no
//! clock. Memory is bounded: crimes are generated and written month by month and only the
//! future versions of crimes that will still change are kept.

#![warn(missing_docs)]

mod crime;
mod dialect;
mod fake;
mod mix;
mod options;
mod profile;
mod random;
mod rates;
mod sim;
mod summary;
mod truth;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use model::{ForceId, SourceFormat};

pub use dialect::{CSV_CATEGORY_COLUMN, CSV_HEADER};
pub use options::{Options, Rise, YearRate};
pub use summary::{ForceSummary, MalformedKind, Summary, Totals};
pub use truth::GROUND_TRUTH_HEADER;

/// Why a simulation could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The options are unusable (the message says which and why).
    #[error("bad simulation options: {0}")]
    Options(String),
    /// The output directory already holds exports: refusing to mix two simulations.
    #[error("{} already exists: write each simulation into a new directory", .0.display())]
    OutputExists(PathBuf),
    /// A file could not be created, written, copied or removed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A CSV export could not be written.
    #[error("{}: {source}", path.display())]
    Csv {
        /// The export file.
        path: PathBuf,
        /// The underlying error.
        source: csv::Error,
    },
    /// A bug in the simulator (a table entry `model` refuses, an unwritten version).
    #[error("internal simulator error: {0}")]
    Internal(String),
}

/// The dialect a force's simulated exports are written in: West Mercia force-csv, Avon and
/// Somerset force-json, Metropolitan national-ndjson, every other force by its position in
/// `ForceId::all()` modulo 3 (0 force-csv, 1 force-json, 2 national-ndjson).
pub fn dialect_of(force: ForceId) -> SourceFormat {
    match force.as_str() {
        "west-mercia" => SourceFormat::ForceCsv,
        "avon-and-somerset" => SourceFormat::ForceJson,
        "metropolitan" => SourceFormat::NationalNdjson,
        _ => match ForceId::all().position(|other| other == force).unwrap_or(0) % 3 {
            0 => SourceFormat::ForceCsv,
            1 => SourceFormat::ForceJson,
            _ => SourceFormat::NationalNdjson,
        },
    }
}

/// The file extension of a dialect's exports: `csv`, `json` or `ndjson`.
pub fn extension(dialect: SourceFormat) -> &'static str {
    match dialect {
        SourceFormat::ForceCsv | SourceFormat::PoliceUkStreet => "csv",
        SourceFormat::ForceJson => "json",
        SourceFormat::NationalNdjson => "ndjson",
    }
}

/// Writes a whole simulation into `dir` (created if needed; must not already hold `exports/`)
/// and returns its summary, also written as `summary.json`. Paths in the profiles are absolute.
pub fn write_simulation(options: &Options, dir: &Path) -> Result<Summary, Error> {
    sim::run(options, dir)
}

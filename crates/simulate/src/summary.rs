//! What a simulation wrote: [`Summary`] (written as `summary.json`), per force and national.

use std::collections::BTreeMap;

use model::SourceFormat;
use serde::{Deserialize, Serialize};

use crate::options::{Options, Rise};

/// The kinds of malformed rows injected into exports. None of them ever counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MalformedKind {
    /// A date that does not exist, such as `31/02/2019`, as the recorded date.
    ImpossibleDate,
    /// A well-formed offence code outside the Home Office catalogue, such as `99Z`.
    UnknownOffenceCode,
    /// A victim age (or date of birth) that the offence code's age rule excludes, such as a
    /// 14-year-old under `19E` (rape of a child under 13).
    AgeInconsistentWithOffence,
    /// A CSV row one column short, or a JSON object without its recorded date.
    MissingField,
    /// An empty crime reference.
    EmptyReference,
}

impl MalformedKind {
    /// Every kind.
    pub const ALL: [MalformedKind; 5] = [
        MalformedKind::ImpossibleDate,
        MalformedKind::UnknownOffenceCode,
        MalformedKind::AgeInconsistentWithOffence,
        MalformedKind::MissingField,
        MalformedKind::EmptyReference,
    ];

    /// The stable kebab-case id, e.g. `"impossible-date"` (also the serde form).
    pub const fn as_str(self) -> &'static str {
        match self {
            MalformedKind::ImpossibleDate => "impossible-date",
            MalformedKind::UnknownOffenceCode => "unknown-offence-code",
            MalformedKind::AgeInconsistentWithOffence => "age-inconsistent-with-offence",
            MalformedKind::MissingField => "missing-field",
            MalformedKind::EmptyReference => "empty-reference",
        }
    }
}

/// Counted crimes (current state, as in `ground-truth.csv`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Crimes whose current status is recorded.
    pub counted: u64,
    /// Of those, online (cyber-flagged) child sexual offences
    /// (`model::CrimeRecord::is_child_sexual_offence`).
    pub counted_online_child_sexual: u64,
    /// Counted online child sexual offences by financial year of the recorded date
    /// (`"2016/17"`).
    pub online_child_sexual_by_year: BTreeMap<String, u64>,
}

impl Totals {
    /// Adds one counted crime; `online_child_sexual_year` is the financial year of an online
    /// child sexual offence, `None` for any other crime.
    pub(crate) fn add(&mut self, online_child_sexual_year: Option<&str>) {
        self.counted += 1;
        if let Some(year) = online_child_sexual_year {
            self.counted_online_child_sexual += 1;
            *self
                .online_child_sexual_by_year
                .entry(year.to_owned())
                .or_insert(0) += 1;
        }
    }
}

/// One force's part of the simulation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForceSummary {
    /// The dialect of the force's exports.
    pub dialect: SourceFormat,
    /// Export files written, re-sends included.
    pub files: u64,
    /// Data rows written (record versions and malformed rows, re-sends included).
    pub rows: u64,
    /// Record versions written, re-sent duplicates included.
    pub record_versions: u64,
    /// Counted crimes of the force.
    #[serde(flatten)]
    pub totals: Totals,
}

impl ForceSummary {
    /// An empty summary for a force writing `dialect`.
    pub(crate) fn new(dialect: SourceFormat) -> Self {
        ForceSummary {
            dialect,
            files: 0,
            rows: 0,
            record_versions: 0,
            totals: Totals::default(),
        }
    }
}

/// Everything a simulation wrote and injected; `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The options used.
    pub options: Options,
    /// Export files written, re-sends included.
    pub files: u64,
    /// Of those, whole-file re-sends.
    pub resent_files: u64,
    /// Data rows written: record versions and malformed rows, re-sends included.
    pub rows: u64,
    /// Record versions written, re-sent duplicates included.
    pub record_versions: u64,
    /// Of those, the duplicates written by re-sends.
    pub resent_record_versions: u64,
    /// Malformed rows written, by kind (re-sent copies included; every kind listed).
    pub malformed_rows: BTreeMap<MalformedKind, u64>,
    /// Distinct crimes (force, reference) created, receivers of transfers included.
    pub crimes: u64,
    /// Cancellations written.
    pub cancellations: u64,
    /// Transfers written (each also creates a crime at the receiving force, unless it would be
    /// recorded after `to`).
    pub transfers: u64,
    /// Reclassifications written.
    pub reclassifications: u64,
    /// Cyber flags added in a later version.
    pub late_flags: u64,
    /// Outcomes assigned in a later version.
    pub outcomes: u64,
    /// The injected rise, if any.
    pub rise: Option<Rise>,
    /// National totals.
    pub national: Totals,
    /// Per force (police.uk id), in id order.
    pub forces: BTreeMap<String, ForceSummary>,
}

impl Summary {
    /// An empty summary for `options`.
    pub(crate) fn new(options: &Options) -> Self {
        Summary {
            options: options.clone(),
            files: 0,
            resent_files: 0,
            rows: 0,
            record_versions: 0,
            resent_record_versions: 0,
            malformed_rows: MalformedKind::ALL
                .into_iter()
                .map(|kind| (kind, 0))
                .collect(),
            crimes: 0,
            cancellations: 0,
            transfers: 0,
            reclassifications: 0,
            late_flags: 0,
            outcomes: 0,
            rise: options.rise,
            national: Totals::default(),
            forces: BTreeMap::new(),
        }
    }

    /// Total malformed rows written.
    pub fn malformed_total(&self) -> u64 {
        self.malformed_rows.values().sum()
    }
}

//! The canonical crime record and its national NDJSON form.
//!
//! Every adapter turns a force's record into one [`CrimeRecord`]; the processor checks it with
//! [`crate::validate()`]; the warehouse stores every version, and a crime (force, crime
//! reference) counts as its latest [`CrimeRecord::version`].
//!
//! # JSON shape (one line of the national NDJSON schema)
//!
//! A flat object; every key is always written (absent values as `null`) except `transferred_to`,
//! which is present only when `status` is `"transferred"`. This is the form cyberflag writes;
//! what it reads is decided field by field in [`crate::decode`] (the one decoder: a number may
//! come as text, names as forces write them, unknown keys are ignored).
//!
//! ```json
//! {"force":"west-mercia","crime_ref":"3f1c0a9e5b7d4c2a8e6f1b3d5c7a9e0f","version":2,
//!  "status":"transferred","transferred_to":"west-midlands",
//!  "offence_code":"71/17","category":"violent-crime","cyber":true,
//!  "recorded_date":"2019-01-15","recorded_precision":"day",
//!  "offence_from":"2019-01-02","offence_to":"2019-01-14","victim_age":13,
//!  "outcome":"under-investigation","lsoa":"E01014399",
//!  "source_format":"force-csv","adapter":"west-mercia-niche","received_at":"2019-01-16T09:30:00Z"}
//! ```
//! (shown wrapped; on the wire it is one line).
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `force` | string | police.uk force id of the recording force ([`crate::ForceId`]) |
//! | `crime_ref` | string | pseudonymised crime reference ([`CrimeRef`]) |
//! | `version` | integer ≥ 0 | version of this crime's record, increasing with each change |
//! | `status` | `"recorded"` \| `"cancelled"` \| `"transferred"` | see [`Status`] |
//! | `transferred_to` | string | force id of the receiving force; only with `"transferred"` |
//! | `offence_code` | string \| null | Home Office code, canonical (`"71/17"`, `"88A"`) |
//! | `category` | string \| null | police.uk category slug; at least one of the two is given |
//! | `cyber` | bool | the Home Office online crime flag |
//! | `recorded_date` | `YYYY-MM-DD` | date recorded (first of the month at month precision) |
//! | `recorded_precision` | `"day"` \| `"month"` | precision of `recorded_date` |
//! | `offence_from`, `offence_to` | `YYYY-MM-DD` \| null | offence date range, both or neither |
//! | `victim_age` | integer \| null | victim age in whole years at the offence |
//! | `outcome` | string \| null | [`crate::Outcome`] stable string (`"charged"`, `"ho-18"`) |
//! | `lsoa` | string \| null | 2011/2021 LSOA code, `E01…`/`W01…` |
//! | `source_format` | string | [`SourceFormat`] id |
//! | `adapter` | string | name of the adapter that produced the record |
//! | `received_at` | RFC 3339 UTC | when the adapter received the source data |
//!
//! Reading is two-step: [`CrimeRecord::from_json`] (or serde) decodes each value with
//! [`crate::decode`], with a typed [`Reject`] for the first bad value; [`crate::validate()`] then
//! applies the rules that relate values to each other and to today.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::age::AgeBand;
use crate::category::Category;
use crate::decode::NationalLine;
use crate::force::ForceId;
use crate::offence::{Offence, OffenceCode, OffenceGroup};
use crate::outcome::Outcome;
use crate::text::excerpt;
use crate::validate::Reject;

/// A pseudonymised crime reference: the force's crime reference number passed through a keyed
/// HMAC by the adapter and written as its hex digest.
///
/// The national side never sees the force's real reference; the same reference always maps to
/// the same digest for a given key, so updates of one crime share it. Together with the force it
/// is the dedup key. Guaranteed non-empty, at most [`CrimeRef::MAX_LEN`] characters, printable
/// ASCII without whitespace (the digest is not otherwise checked, so test data may use readable
/// references).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CrimeRef(String);

/// Why a string is not a valid [`CrimeRef`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrimeRefError {
    /// The reference is the empty string.
    #[error("crime reference is empty")]
    Empty,
    /// The reference is longer than [`CrimeRef::MAX_LEN`] bytes.
    #[error("crime reference is {length} characters long, more than the maximum of 128")]
    TooLong {
        /// The length of the rejected reference, in bytes.
        length: usize,
    },
    /// The reference contains whitespace, a control character or a non-ASCII character.
    #[error("crime reference {input:?} contains {character:?}, which is not printable ASCII")]
    BadCharacter {
        /// The rejected reference, truncated to 64 characters.
        input: String,
        /// The first offending character.
        character: char,
    },
}

impl CrimeRefError {
    /// The stable dead-letter reason: `empty-crime-ref` or `bad-crime-ref`.
    pub const fn code(&self) -> &'static str {
        match self {
            CrimeRefError::Empty => "empty-crime-ref",
            CrimeRefError::TooLong { .. } | CrimeRefError::BadCharacter { .. } => "bad-crime-ref",
        }
    }
}

impl CrimeRef {
    /// The longest accepted reference, in characters (a SHA-512 hex digest is 128).
    pub const MAX_LEN: usize = 128;

    /// Checks and wraps a reference. No trimming: surrounding whitespace is an error.
    pub fn new(reference: impl Into<String>) -> Result<CrimeRef, CrimeRefError> {
        let reference = reference.into();
        if reference.is_empty() {
            return Err(CrimeRefError::Empty);
        }
        if let Some(character) = reference.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(CrimeRefError::BadCharacter {
                input: excerpt(&reference),
                character,
            });
        }
        if reference.len() > Self::MAX_LEN {
            return Err(CrimeRefError::TooLong {
                length: reference.len(),
            });
        }
        Ok(CrimeRef(reference))
    }

    /// The reference text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The reference text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for CrimeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CrimeRef {
    type Err = CrimeRefError;

    fn from_str(reference: &str) -> Result<Self, Self::Err> {
        CrimeRef::new(reference)
    }
}

impl Serialize for CrimeRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CrimeRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CrimeRef::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// An ONS Lower layer Super Output Area code of England (`E01`) or Wales (`W01`) followed by six
/// digits, e.g. `E01014399`: the small area the (anonymised) crime location falls in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lsoa(String);

/// The input is not an LSOA code. Carries the input (truncated to 64 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad LSOA code {input:?}: expected E01 or W01 followed by six digits")]
pub struct LsoaError {
    /// The rejected input, truncated to 64 characters.
    pub input: String,
}

impl Lsoa {
    /// Checks and wraps an LSOA code, exactly as written (uppercase, no whitespace).
    pub fn new(code: impl Into<String>) -> Result<Lsoa, LsoaError> {
        let code = code.into();
        let bytes = code.as_bytes();
        let valid = bytes.len() == 9
            && (bytes.starts_with(b"E01") || bytes.starts_with(b"W01"))
            && bytes.iter().skip(3).all(u8::is_ascii_digit);
        if valid {
            Ok(Lsoa(code))
        } else {
            Err(LsoaError {
                input: excerpt(&code),
            })
        }
    }

    /// As [`Lsoa::new`] after trimming whitespace and uppercasing: for force-written data.
    pub fn parse(code: &str) -> Result<Lsoa, LsoaError> {
        Lsoa::new(code.trim().to_ascii_uppercase()).map_err(|_| LsoaError {
            input: excerpt(code),
        })
    }

    /// The code text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Lsoa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Lsoa {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Lsoa {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Lsoa::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// Where a crime stands in the force's records (Home Office Crime Recording Rules, section C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// A recorded crime: counts in the statistics of its force.
    Recorded,
    /// Cancelled (formerly "no-crime"): recorded in error, or shown by additional verifiable
    /// information not to have happened. Leaves the statistics.
    Cancelled,
    /// Transferred to another force, which records it under its own reference; leaves this
    /// force's statistics.
    Transferred {
        /// The force the crime was transferred to.
        to: ForceId,
    },
}

impl Status {
    /// The JSON `status` value: `"recorded"`, `"cancelled"` or `"transferred"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Recorded => "recorded",
            Status::Cancelled => "cancelled",
            Status::Transferred { .. } => "transferred",
        }
    }

    /// The receiving force of a transfer.
    pub const fn transferred_to(self) -> Option<ForceId> {
        match self {
            Status::Transferred { to } => Some(to),
            Status::Recorded | Status::Cancelled => None,
        }
    }

    /// True when the crime counts in its force's statistics (status recorded).
    pub const fn is_recorded(self) -> bool {
        matches!(self, Status::Recorded)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Transferred { to } => write!(f, "transferred to {to}"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// How precise a [`RecordedDate`] is. Serialized as `"day"` or `"month"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatePrecision {
    /// The exact day is known (force record systems).
    Day,
    /// Only the month is known (data.police.uk `Month` column); the date is the 1st.
    Month,
}

impl DatePrecision {
    /// `"day"` or `"month"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DatePrecision::Day => "day",
            DatePrecision::Month => "month",
        }
    }
}

/// The date a crime was recorded, and how precise it is.
///
/// Daily statistics are by recorded date. At [`DatePrecision::Month`] the date is the first of
/// the month ([`crate::validate()`] rejects any other day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordedDate {
    /// The recorded date; the 1st of the month at month precision.
    pub date: NaiveDate,
    /// Whether `date` is exact or stands for its whole month.
    pub precision: DatePrecision,
}

impl RecordedDate {
    /// An exact recorded day.
    pub const fn day(date: NaiveDate) -> RecordedDate {
        RecordedDate {
            date,
            precision: DatePrecision::Day,
        }
    }

    /// A recorded month; `None` when `month` is not 1–12 or the year is out of range.
    pub fn month(year: i32, month: u32) -> Option<RecordedDate> {
        NaiveDate::from_ymd_opt(year, month, 1).map(|date| RecordedDate {
            date,
            precision: DatePrecision::Month,
        })
    }

    /// Reads a data.police.uk `Month` value, `YYYY-MM`, as a month-precision date.
    pub fn parse_month(input: &str) -> Result<RecordedDate, Reject> {
        let bad = || Reject::BadDate {
            field: "month",
            value: excerpt(input),
            reason: "expected YYYY-MM",
        };
        let bytes = input.as_bytes();
        let shape = bytes.len() == 7
            && bytes.get(4) == Some(&b'-')
            && bytes
                .iter()
                .enumerate()
                .all(|(index, byte)| index == 4 || byte.is_ascii_digit());
        if !shape {
            return Err(bad());
        }
        let year = input.get(..4).and_then(|year| year.parse().ok());
        let month = input.get(5..).and_then(|month| month.parse().ok());
        match (year, month) {
            (Some(year), Some(month)) => RecordedDate::month(year, month).ok_or_else(bad),
            _ => Err(bad()),
        }
    }

    /// (year, month) of a date, for month-precision comparisons.
    fn month_key(date: NaiveDate) -> (i32, u32) {
        (date.year(), date.month())
    }

    /// True when this recorded date is certainly before `date`: at day precision, an earlier
    /// day; at month precision, an earlier month.
    pub fn is_before(self, date: NaiveDate) -> bool {
        match self.precision {
            DatePrecision::Day => self.date < date,
            DatePrecision::Month => Self::month_key(self.date) < Self::month_key(date),
        }
    }
}

/// An inclusive range of dates on which an offence was committed (a single day when `from ==
/// to`; courses of conduct such as grooming span weeks). `from <= to` is checked by
/// [`crate::validate()`] and [`DateRange::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateRange {
    /// First day of the offence (inclusive).
    pub from: NaiveDate,
    /// Last day of the offence (inclusive).
    pub to: NaiveDate,
}

impl DateRange {
    /// A checked range: [`Reject::OffenceRangeInverted`] when `from > to`.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<DateRange, Reject> {
        if from > to {
            Err(Reject::OffenceRangeInverted { from, to })
        } else {
            Ok(DateRange { from, to })
        }
    }

    /// A one-day range.
    pub const fn single(date: NaiveDate) -> DateRange {
        DateRange {
            from: date,
            to: date,
        }
    }
}

/// The kind of source data a record was built from. Serialized as its kebab-case id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// A data.police.uk street-level CSV row (`police-uk-street`).
    PoliceUkStreet,
    /// A force's own CSV export (`force-csv`).
    ForceCsv,
    /// A force's own JSON feed (`force-json`).
    ForceJson,
    /// A line already in the national NDJSON schema (`national-ndjson`).
    NationalNdjson,
}

impl SourceFormat {
    /// Every source format.
    pub const ALL: [SourceFormat; 4] = [
        SourceFormat::PoliceUkStreet,
        SourceFormat::ForceCsv,
        SourceFormat::ForceJson,
        SourceFormat::NationalNdjson,
    ];

    /// The stable id, e.g. `"police-uk-street"` (also the serde form).
    pub const fn as_str(self) -> &'static str {
        match self {
            SourceFormat::PoliceUkStreet => "police-uk-street",
            SourceFormat::ForceCsv => "force-csv",
            SourceFormat::ForceJson => "force-json",
            SourceFormat::NationalNdjson => "national-ndjson",
        }
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a record came from: set by the adapter, carried unchanged to the warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lineage {
    /// The kind of source data the adapter read.
    pub source_format: SourceFormat,
    /// The name of the adapter that produced the record (its registry name, e.g.
    /// `"police-uk-street"` or `"west-mercia-niche"`).
    pub adapter: String,
    /// When the adapter received the source data (UTC).
    pub received_at: DateTime<Utc>,
}

/// One version of one police-recorded crime, in the national model.
///
/// See the [module documentation](self) for the JSON form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrimeRecord {
    /// The force that recorded the crime (from the source's force field, or the adapter's
    /// configuration for single-force feeds).
    pub force: ForceId,
    /// The pseudonymised crime reference, produced by the adapter from the force's crime
    /// reference number.
    pub crime_ref: CrimeRef,
    /// The version of this crime's record: increases with every change the force makes
    /// (reclassification, outcome, cancellation…). Taken from the force system's revision
    /// number or change timestamp by the adapter; the highest version of a crime wins.
    pub version: u64,
    /// Recorded, cancelled or transferred.
    pub status: Status,
    /// The Home Office offence code, when the source has one (force systems do; police.uk does
    /// not).
    pub offence_code: Option<OffenceCode>,
    /// The police.uk category, when the source gives one (police.uk `Crime type`); otherwise see
    /// [`CrimeRecord::effective_category`].
    pub category: Option<Category>,
    /// The Home Office online crime ("cyber") flag: committed in full or in part through a
    /// computer, computer network or other computer-enabled device. False when the source has no
    /// flag (police.uk).
    pub cyber: bool,
    /// The recorded date and its precision.
    pub recorded: RecordedDate,
    /// When the offence was committed, if the source says (police.uk does not).
    pub offence_dates: Option<DateRange>,
    /// The victim's age in whole years at the offence (the start of the offence range), if
    /// known. 0–120.
    pub victim_age: Option<u8>,
    /// The latest outcome, if any.
    pub outcome: Option<Outcome>,
    /// The LSOA of the (anonymised) location, if known.
    pub lsoa: Option<Lsoa>,
    /// Where the record came from.
    pub lineage: Lineage,
}

impl CrimeRecord {
    /// The catalogue entry of the offence code, if there is a code.
    pub fn offence(&self) -> Option<&'static Offence> {
        self.offence_code.and_then(OffenceCode::offence)
    }

    /// The category: the given one, else the one the offence code is published under.
    pub fn effective_category(&self) -> Option<Category> {
        self.category
            .or_else(|| self.offence().map(|offence| offence.category))
    }

    /// The analysis group of the offence code; `None` without a code.
    pub fn offence_group(&self) -> Option<OffenceGroup> {
        self.offence().map(|offence| offence.group)
    }

    /// The victim's age band ([`AgeBand::Unknown`] without an age).
    pub fn age_band(&self) -> AgeBand {
        AgeBand::from_age(self.victim_age)
    }

    /// True for a child sexual offence: a code defined by a child victim
    /// ([`OffenceGroup::is_child_sexual_offence`]), or any other sexual offence code with a
    /// victim under 18. Indecent images of children are not included (see
    /// [`OffenceGroup::involves_children`]); records without a code are never included.
    pub fn is_child_sexual_offence(&self) -> bool {
        match self.offence_group() {
            Some(group) if group.is_child_sexual_offence() => true,
            Some(group) if group.is_sexual_offence() => self.victim_age.is_some_and(|age| age < 18),
            _ => false,
        }
    }

    /// Decodes one line of the national NDJSON schema, with a typed [`Reject`] for the first
    /// bad value: [`crate::decode::NationalLine::parse`], then [`crate::decode::decode`], the
    /// steps the `national-ndjson` adapter and ingest take. Keys outside the schema are
    /// ignored. Does not apply the cross-field rules of [`crate::validate()`].
    pub fn from_json(line: &str) -> Result<CrimeRecord, Reject> {
        let line = NationalLine::parse(line)?;
        crate::decode::decode(&line.fields(), line.lineage()?)
    }

    /// Encodes the record as one line of the national NDJSON schema (no trailing newline).
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every field is a string, number, bool or null.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The serialized form: borrowed, flat.
#[derive(Serialize)]
struct WireOut<'a> {
    force: ForceId,
    crime_ref: &'a CrimeRef,
    version: u64,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    transferred_to: Option<ForceId>,
    offence_code: Option<OffenceCode>,
    category: Option<Category>,
    cyber: bool,
    recorded_date: NaiveDate,
    recorded_precision: DatePrecision,
    offence_from: Option<NaiveDate>,
    offence_to: Option<NaiveDate>,
    victim_age: Option<u8>,
    outcome: Option<Outcome>,
    lsoa: Option<&'a Lsoa>,
    source_format: SourceFormat,
    adapter: &'a str,
    received_at: String,
}

impl Serialize for CrimeRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireOut {
            force: self.force,
            crime_ref: &self.crime_ref,
            version: self.version,
            status: self.status.as_str(),
            transferred_to: self.status.transferred_to(),
            offence_code: self.offence_code,
            category: self.category,
            cyber: self.cyber,
            recorded_date: self.recorded.date,
            recorded_precision: self.recorded.precision,
            offence_from: self.offence_dates.map(|range| range.from),
            offence_to: self.offence_dates.map(|range| range.to),
            victim_age: self.victim_age,
            outcome: self.outcome,
            lsoa: self.lsoa.as_ref(),
            source_format: self.lineage.source_format,
            adapter: &self.lineage.adapter,
            received_at: self
                .lineage
                .received_at
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CrimeRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let line = NationalLine::from_value(serde_json::Value::deserialize(deserializer)?)
            .map_err(serde::de::Error::custom)?;
        let lineage = line.lineage().map_err(serde::de::Error::custom)?;
        crate::decode::decode(&line.fields(), lineage).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::outcome::{HomeOfficeOutcome, PoliceUkOutcome};

    /// The example line of the module documentation, unwrapped.
    pub(crate) const EXAMPLE_LINE: &str = concat!(
        r#"{"force":"west-mercia","crime_ref":"3f1c0a9e5b7d4c2a8e6f1b3d5c7a9e0f","version":2,"#,
        r#""status":"transferred","transferred_to":"west-midlands","#,
        r#""offence_code":"71/17","category":"violent-crime","cyber":true,"#,
        r#""recorded_date":"2019-01-15","recorded_precision":"day","#,
        r#""offence_from":"2019-01-02","offence_to":"2019-01-14","victim_age":13,"#,
        r#""outcome":"under-investigation","lsoa":"E01014399","#,
        r#""source_format":"force-csv","adapter":"west-mercia-niche","received_at":"2019-01-16T09:30:00Z"}"#
    );

    pub(crate) fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("valid test date")
    }

    pub(crate) fn force(id: &str) -> ForceId {
        ForceId::from_id(id).expect("known test force")
    }

    /// The record of [`EXAMPLE_LINE`]: valid, with every field set.
    pub(crate) fn sample_record() -> CrimeRecord {
        CrimeRecord {
            force: force("west-mercia"),
            crime_ref: CrimeRef::new("3f1c0a9e5b7d4c2a8e6f1b3d5c7a9e0f").expect("ref"),
            version: 2,
            status: Status::Transferred {
                to: force("west-midlands"),
            },
            offence_code: Some(OffenceCode::parse("71/17").expect("code")),
            category: Some(Category::ViolentCrime),
            cyber: true,
            recorded: RecordedDate::day(date(2019, 1, 15)),
            offence_dates: Some(DateRange {
                from: date(2019, 1, 2),
                to: date(2019, 1, 14),
            }),
            victim_age: Some(13),
            outcome: Some(Outcome::PoliceUk(PoliceUkOutcome::UnderInvestigation)),
            lsoa: Some(Lsoa::new("E01014399").expect("lsoa")),
            lineage: Lineage {
                source_format: SourceFormat::ForceCsv,
                adapter: "west-mercia-niche".to_owned(),
                received_at: Utc
                    .with_ymd_and_hms(2019, 1, 16, 9, 30, 0)
                    .single()
                    .expect("timestamp"),
            },
        }
    }

    /// A valid record with every optional field absent.
    pub(crate) fn minimal_record() -> CrimeRecord {
        CrimeRecord {
            force: force("city-of-london"),
            crime_ref: CrimeRef::new("abc123").expect("ref"),
            version: 0,
            status: Status::Recorded,
            offence_code: None,
            category: Some(Category::OtherTheft),
            cyber: false,
            recorded: RecordedDate::month(2018, 1).expect("month"),
            offence_dates: None,
            victim_age: None,
            outcome: None,
            lsoa: None,
            lineage: Lineage {
                source_format: SourceFormat::PoliceUkStreet,
                adapter: "police-uk-street".to_owned(),
                received_at: Utc
                    .with_ymd_and_hms(2018, 3, 1, 0, 0, 0)
                    .single()
                    .expect("timestamp"),
            },
        }
    }

    #[test]
    fn full_record_serializes_to_the_documented_line_and_back() {
        let record = sample_record();
        assert_eq!(record.to_json(), EXAMPLE_LINE);
        assert_eq!(CrimeRecord::from_json(EXAMPLE_LINE), Ok(record.clone()));
        let via_serde: CrimeRecord = serde_json::from_str(EXAMPLE_LINE).expect("serde");
        assert_eq!(via_serde, record);
    }

    #[test]
    fn minimal_record_writes_nulls_and_reads_them_or_their_absence() {
        let record = minimal_record();
        let json = record.to_json();
        assert_eq!(
            json,
            concat!(
                r#"{"force":"city-of-london","crime_ref":"abc123","version":0,"status":"recorded","#,
                r#""offence_code":null,"category":"other-theft","cyber":false,"#,
                r#""recorded_date":"2018-01-01","recorded_precision":"month","#,
                r#""offence_from":null,"offence_to":null,"victim_age":null,"outcome":null,"lsoa":null,"#,
                r#""source_format":"police-uk-street","adapter":"police-uk-street","received_at":"2018-03-01T00:00:00Z"}"#
            )
        );
        assert_eq!(CrimeRecord::from_json(&json), Ok(record.clone()));
        let without_nulls = concat!(
            r#"{"force":"city-of-london","crime_ref":"abc123","version":0,"status":"recorded","#,
            r#""category":"other-theft","cyber":false,"recorded_date":"2018-01-01","#,
            r#""recorded_precision":"month","source_format":"police-uk-street","#,
            r#""adapter":"police-uk-street","received_at":"2018-03-01T00:00:00+00:00"}"#
        );
        assert_eq!(CrimeRecord::from_json(without_nulls), Ok(record));
    }

    #[test]
    fn every_status_round_trips() {
        let statuses = [
            (Status::Recorded, r#""status":"recorded","offence_code""#),
            (Status::Cancelled, r#""status":"cancelled","offence_code""#),
            (
                Status::Transferred { to: force("btp") },
                r#""status":"transferred","transferred_to":"btp","offence_code""#,
            ),
        ];
        for (status, fragment) in statuses {
            let record = CrimeRecord {
                status,
                ..sample_record()
            };
            let json = record.to_json();
            assert!(json.contains(fragment), "{json}");
            assert_eq!(
                json.contains("transferred_to"),
                status.transferred_to().is_some()
            );
            assert_eq!(CrimeRecord::from_json(&json), Ok(record));
        }
    }

    #[test]
    fn every_outcome_and_source_format_round_trips() {
        let outcomes = PoliceUkOutcome::ALL
            .into_iter()
            .map(Outcome::PoliceUk)
            .chain(HomeOfficeOutcome::ALL.into_iter().map(Outcome::HomeOffice));
        for outcome in outcomes {
            let record = CrimeRecord {
                outcome: Some(outcome),
                ..sample_record()
            };
            assert_eq!(CrimeRecord::from_json(&record.to_json()), Ok(record));
        }
        for source_format in SourceFormat::ALL {
            let mut record = sample_record();
            record.lineage.source_format = source_format;
            let json = record.to_json();
            assert!(json.contains(&format!(r#""source_format":"{source_format}""#)));
            assert_eq!(CrimeRecord::from_json(&json), Ok(record));
            let serde_form = serde_json::to_string(&source_format).expect("serialize");
            assert_eq!(serde_form, format!("\"{}\"", source_format.as_str()));
        }
    }

    #[test]
    fn subsecond_timestamps_round_trip() {
        let mut record = sample_record();
        record.lineage.received_at = Utc
            .timestamp_opt(1_547_631_000, 123_456_789)
            .single()
            .expect("timestamp");
        assert_eq!(CrimeRecord::from_json(&record.to_json()), Ok(record));
    }

    #[test]
    fn derived_values() {
        let record = sample_record();
        assert_eq!(record.effective_category(), Some(Category::ViolentCrime));
        assert_eq!(
            record.offence_group(),
            Some(OffenceGroup::SexualCommunicationWithAChild)
        );
        assert_eq!(record.age_band(), AgeBand::From13To15);
        assert!(record.is_child_sexual_offence());
        let images = CrimeRecord {
            offence_code: Some(OffenceCode::parse("86/2").expect("code")),
            category: None,
            ..sample_record()
        };
        assert_eq!(images.effective_category(), Some(Category::OtherCrime));
        assert!(!images.is_child_sexual_offence());
        let adult_code_child_victim = CrimeRecord {
            offence_code: Some(OffenceCode::parse("20A").expect("code")),
            victim_age: Some(14),
            ..sample_record()
        };
        assert!(adult_code_child_victim.is_child_sexual_offence());
        let adult = CrimeRecord {
            victim_age: Some(30),
            ..adult_code_child_victim.clone()
        };
        assert!(!adult.is_child_sexual_offence());
        let unknown_age = CrimeRecord {
            victim_age: None,
            ..adult_code_child_victim
        };
        assert!(!unknown_age.is_child_sexual_offence());
        assert_eq!(unknown_age.age_band(), AgeBand::Unknown);
        let no_code = minimal_record();
        assert_eq!(no_code.offence_group(), None);
        assert_eq!(no_code.effective_category(), Some(Category::OtherTheft));
        assert!(!no_code.is_child_sexual_offence());
    }

    #[test]
    fn crime_refs_are_checked() {
        let valid = ["a", "3f1c", &"f".repeat(128), "ABC-123/45:x", "!~"];
        for reference in valid {
            assert_eq!(
                CrimeRef::new(reference).map(CrimeRef::into_string),
                Ok(reference.to_owned())
            );
        }
        assert_eq!(CrimeRef::new(""), Err(CrimeRefError::Empty));
        assert_eq!(
            CrimeRef::new("f".repeat(129)),
            Err(CrimeRefError::TooLong { length: 129 })
        );
        for (reference, character) in [
            (" abc", ' '),
            ("abc ", ' '),
            ("a b", ' '),
            ("a\tb", '\t'),
            ("a\nb", '\n'),
            ("a\u{0}b", '\u{0}'),
            ("café", 'é'),
            ("a\u{7f}", '\u{7f}'),
        ] {
            let error = CrimeRef::new(reference).expect_err(reference);
            assert_eq!(
                error,
                CrimeRefError::BadCharacter {
                    input: reference.to_owned(),
                    character
                }
            );
            assert_eq!(error.code(), "bad-crime-ref");
        }
        assert_eq!(CrimeRefError::Empty.code(), "empty-crime-ref");
        assert!(serde_json::from_str::<CrimeRef>(r#""""#).is_err());
        assert_eq!(
            serde_json::from_str::<CrimeRef>(r#""abc""#).ok(),
            CrimeRef::new("abc").ok()
        );
    }

    #[test]
    fn lsoa_codes_are_checked() {
        for code in ["E01014399", "W01000001", "E01000000"] {
            assert_eq!(
                Lsoa::new(code).map(|lsoa| lsoa.to_string()),
                Ok(code.to_owned())
            );
        }
        assert_eq!(
            Lsoa::parse(" e01014399 ").map(|l| l.to_string()),
            Ok("E01014399".to_owned())
        );
        let rejected = [
            "",
            "E0101439",
            "E010143990",
            "E02014399",
            "S01000001",
            "E01O14399",
            "e01014399",
            " E01014399",
            "E01-14399",
            "E01０14399",
            "W01",
        ];
        for code in rejected {
            let error = Lsoa::new(code).expect_err(code);
            assert_eq!(error.input, code);
        }
        assert!(Lsoa::parse("E0101439").is_err());
    }

    #[test]
    fn police_uk_months_parse_as_month_precision() {
        assert_eq!(
            RecordedDate::parse_month("2019-01"),
            Ok(RecordedDate::month(2019, 1).expect("month"))
        );
        let month = RecordedDate::parse_month("2021-09").expect("month");
        assert_eq!(
            (month.date, month.precision),
            (date(2021, 9, 1), DatePrecision::Month)
        );
        for bad in [
            "",
            "2019",
            "2019-1",
            "2019-13",
            "2019-00",
            "19-01",
            "2019/01",
            "2019-01-01",
            "２019-01",
            "+201-01",
        ] {
            let error = RecordedDate::parse_month(bad).expect_err(bad);
            assert_eq!(error.code(), "bad-date", "{bad:?}");
        }
    }

    #[test]
    fn month_precision_compares_by_month() {
        let january = RecordedDate::month(2019, 1).expect("month");
        assert!(!january.is_before(date(2019, 1, 20)));
        assert!(january.is_before(date(2019, 2, 1)));
        assert!(!january.is_before(date(2018, 12, 31)));
        let day = RecordedDate::day(date(2019, 1, 15));
        assert!(day.is_before(date(2019, 1, 16)));
        assert!(!day.is_before(date(2019, 1, 15)));
    }

    #[test]
    fn date_ranges_are_checked() {
        assert_eq!(
            DateRange::new(date(2019, 1, 2), date(2019, 1, 1)),
            Err(Reject::OffenceRangeInverted {
                from: date(2019, 1, 2),
                to: date(2019, 1, 1)
            })
        );
        assert_eq!(
            DateRange::new(date(2019, 1, 1), date(2019, 1, 1)),
            Ok(DateRange::single(date(2019, 1, 1)))
        );
    }

    #[test]
    fn status_helpers() {
        let to = force("kent");
        assert_eq!(
            Status::Transferred { to }.to_string(),
            "transferred to kent"
        );
        assert_eq!(Status::Cancelled.to_string(), "cancelled");
        assert!(Status::Recorded.is_recorded());
        assert!(!Status::Cancelled.is_recorded());
        assert_eq!(Status::Recorded.transferred_to(), None);
    }
}

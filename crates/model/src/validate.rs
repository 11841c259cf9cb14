//! Record validation, and [`Reject`]: every reason a record can be refused, parse-time or
//! rule-time, with a stable code for the dead-letter topic.
//!
//! [`validate()`] applies the rules that relate a record's values to each other and to today; the
//! per-value checks happen when the record is decoded ([`crate::CrimeRecord::from_json`]) or its
//! parts are built ([`crate::OffenceCode::parse`], [`crate::ForceId::lookup`], …). Both converge
//! on [`Reject`]; [`Reject::code`] is the reason written in the dead-letter header and
//! [`Reject::CODES`] lists them all.
//!
//! Decisions encoded here:
//! - **Transfers** must go to a force in the Home Office statistics of England and Wales: a
//!   territorial force or British Transport Police. A crime that belongs to Northern Ireland (or
//!   Scotland) leaves these statistics by cancellation, not by transfer, so a transfer to PSNI is
//!   rejected ([`Reject::TransferOutsideEnglandAndWales`]) for a person to look at rather than
//!   silently counted as a move between two forces of one system.
//! - **Dates**: a recorded date before 2000 is rejected (`date-before-2000`). Offence dates may
//!   go back to 1900 (`date-before-1900` otherwise), because historic allegations are recorded
//!   now with their original offence dates, as the Crime Recording Rules require.
//! - **Month precision**: a month-precision recorded date is compared with the offence start by
//!   month, so a crime recorded "in January 2019" may have started on 20 January 2019.
//! - **Ages** must be 0–120 and admitted by the offence code's [`crate::VictimAgeRule`]: a
//!   12-year-old victim under `19D` ("child under 16", whose under-13 counterpart is `19E`) is
//!   an inconsistent record that the force must reclassify.

use chrono::{Datelike, NaiveDate};

use crate::category::{Category, UnknownCategory};
use crate::force::{ForceId, UnknownForce};
use crate::offence::{OffenceCode, OffenceCodeError, VictimAgeRule};
use crate::outcome::UnknownOutcome;
use crate::record::{CrimeRecord, CrimeRefError, DatePrecision, LsoaError};

/// The oldest accepted year for a recorded date: the national series starts long after it, so an
/// earlier recorded date is a data error.
pub const MIN_YEAR: i32 = 2000;

/// The oldest accepted year for an offence date. Historic allegations are recorded today with
/// their original offence dates (Home Office Crime Recording Rules: "record … as if committed
/// today"), so offence dates may lie decades back; before this year they are implausible.
pub const MIN_OFFENCE_YEAR: i32 = 1900;

/// The oldest accepted victim age.
pub const MAX_AGE: u8 = 120;

/// Why a record was refused. [`Reject::code`] is a stable kebab-case reason for the dead-letter
/// topic; `Display` is a lowercase human message naming the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reject {
    /// `malformed-json`: the line is not a JSON object, or a value in it is an array or an
    /// object.
    #[error("malformed json: {message}")]
    MalformedJson {
        /// The decoder's message, truncated to 256 characters.
        message: String,
    },
    /// `missing-field`: a required field (`force`, `crime_ref`, `version`, `status`, `cyber`,
    /// `recorded_date`, or a line's lineage) is absent, null or blank.
    #[error("{field} is missing")]
    MissingField {
        /// The field.
        field: &'static str,
    },
    /// `bad-version`: the version is not a whole number (digits only, within 64 bits).
    #[error("version {value:?} is not a whole number")]
    BadVersion {
        /// The rejected value (truncated).
        value: String,
    },
    /// `bad-flag`: the online crime flag is not `true` or `false`.
    #[error("cyber flag {value:?} is not true or false")]
    BadFlag {
        /// The rejected value (truncated).
        value: String,
    },
    /// `unknown-force`: a force (record force or transfer target) is not known.
    #[error(transparent)]
    UnknownForce(#[from] UnknownForce),
    /// `malformed-offence-code` or `unknown-offence-code`.
    #[error(transparent)]
    OffenceCode(#[from] OffenceCodeError),
    /// `unknown-category`: the category is not a police.uk slug.
    #[error(transparent)]
    UnknownCategory(#[from] UnknownCategory),
    /// `aggregate-category`: the category is `all-crime`, a query pseudo-category.
    #[error("category {category} is an aggregate query category, not the category of a crime")]
    AggregateCategory {
        /// The category given.
        category: Category,
    },
    /// `unknown-outcome`: the outcome is not a known outcome string.
    #[error(transparent)]
    UnknownOutcome(#[from] UnknownOutcome),
    /// `empty-crime-ref` or `bad-crime-ref`.
    #[error(transparent)]
    CrimeRef(#[from] CrimeRefError),
    /// `bad-lsoa`: the LSOA code is not `E01`/`W01` and six digits.
    #[error(transparent)]
    BadLsoa(#[from] LsoaError),
    /// `bad-field`: an enumerated field (status, precision, source format) has a value outside
    /// its set.
    #[error("{field} {value:?} is not valid: expected {expected}")]
    BadField {
        /// The JSON key.
        field: &'static str,
        /// The rejected value, truncated to 64 characters.
        value: String,
        /// The accepted values.
        expected: &'static str,
    },
    /// `bad-date`: a date or timestamp does not parse, or a month-precision recorded date is
    /// not the first of its month.
    #[error("{field} {value:?} is not a valid date: {reason}")]
    BadDate {
        /// The JSON key (or `month` for a police.uk month).
        field: &'static str,
        /// The rejected value, truncated to 64 characters.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `missing-transfer-target`: status `transferred` without `transferred_to`.
    #[error("status is transferred but transferred_to is missing")]
    MissingTransferTarget,
    /// `unexpected-transfer-target`: `transferred_to` given with another status.
    #[error("transferred_to {to} is given but status is {status:?}")]
    UnexpectedTransferTarget {
        /// The status given.
        status: String,
        /// The transfer target given.
        to: ForceId,
    },
    /// `transfer-to-self`: a crime transferred to the force that records it.
    #[error("crime of {force} is transferred to {force} itself")]
    TransferToSelf {
        /// The recording (and target) force.
        force: ForceId,
    },
    /// `transfer-outside-england-and-wales`: a crime transferred to a force outside the Home
    /// Office statistics of England and Wales (PSNI).
    #[error(
        "crime of {from} is transferred to {to}, which is outside England and Wales: such crimes are cancelled, not transferred"
    )]
    TransferOutsideEnglandAndWales {
        /// The recording force.
        from: ForceId,
        /// The target force.
        to: ForceId,
    },
    /// `incomplete-offence-range`: one of `offence_from`/`offence_to` without the other.
    #[error("offence date range has no {missing}: give both ends or neither")]
    IncompleteOffenceRange {
        /// The missing key.
        missing: &'static str,
    },
    /// `offence-range-inverted`: the offence range ends before it starts.
    #[error("offence date range is inverted: from {from} is after to {to}")]
    OffenceRangeInverted {
        /// Start of the range.
        from: NaiveDate,
        /// End of the range.
        to: NaiveDate,
    },
    /// `date-in-future`: a date after today.
    #[error("{field} {date} is in the future (today is {today})")]
    DateInFuture {
        /// The JSON key of the date.
        field: &'static str,
        /// The date.
        date: NaiveDate,
        /// The `today` validation ran with.
        today: NaiveDate,
    },
    /// `date-before-2000`: a date before 1 January 2000.
    #[error("{field} {date} is before 2000-01-01")]
    DateBefore2000 {
        /// The JSON key of the date.
        field: &'static str,
        /// The date.
        date: NaiveDate,
    },
    /// `date-before-1900`: an offence date before 1 January 1900 (a typo, not a historic case).
    #[error("{field} {date} is before 1900-01-01")]
    DateBefore1900 {
        /// The JSON key of the date.
        field: &'static str,
        /// The date.
        date: NaiveDate,
    },
    /// `recorded-before-offence`: the crime was recorded before the offence started.
    #[error("recorded date {recorded} is before the offence started on {offence_from}")]
    RecordedBeforeOffence {
        /// The recorded date.
        recorded: NaiveDate,
        /// The start of the offence range.
        offence_from: NaiveDate,
    },
    /// `age-out-of-range`: a victim age outside 0–120.
    #[error("victim age {age} is outside 0-120")]
    AgeOutOfRange {
        /// The age given.
        age: i64,
    },
    /// `age-inconsistent-with-offence`: the victim age contradicts the offence code's age rule.
    #[error("victim age {age} is inconsistent with offence {code}, whose victim is {rule}")]
    AgeInconsistentWithOffence {
        /// The age given.
        age: u8,
        /// The offence code.
        code: OffenceCode,
        /// The code's victim age rule.
        rule: VictimAgeRule,
    },
    /// `missing-offence`: neither an offence code nor a category.
    #[error("record has neither an offence code nor a category")]
    MissingOffence,
    /// `offence-category-mismatch`: the given category differs from the offence code's.
    #[error(
        "offence {code} is published under category {code_category}, but category {given} was given"
    )]
    OffenceCategoryMismatch {
        /// The offence code.
        code: OffenceCode,
        /// The category the code is published under.
        code_category: Category,
        /// The category given.
        given: Category,
    },
}

impl Reject {
    /// Every code [`Reject::code`] can return.
    pub const CODES: [&'static str; 29] = [
        "malformed-json",
        "missing-field",
        "bad-version",
        "bad-flag",
        "unknown-force",
        "malformed-offence-code",
        "unknown-offence-code",
        "unknown-category",
        "aggregate-category",
        "unknown-outcome",
        "empty-crime-ref",
        "bad-crime-ref",
        "bad-lsoa",
        "bad-field",
        "bad-date",
        "missing-transfer-target",
        "unexpected-transfer-target",
        "transfer-to-self",
        "transfer-outside-england-and-wales",
        "incomplete-offence-range",
        "offence-range-inverted",
        "date-in-future",
        "date-before-2000",
        "date-before-1900",
        "recorded-before-offence",
        "age-out-of-range",
        "age-inconsistent-with-offence",
        "missing-offence",
        "offence-category-mismatch",
    ];

    /// The stable kebab-case reason, used as the dead-letter reason.
    pub const fn code(&self) -> &'static str {
        match self {
            Reject::MalformedJson { .. } => "malformed-json",
            Reject::MissingField { .. } => "missing-field",
            Reject::BadVersion { .. } => "bad-version",
            Reject::BadFlag { .. } => "bad-flag",
            Reject::UnknownForce(_) => "unknown-force",
            Reject::OffenceCode(error) => error.code(),
            Reject::UnknownCategory(_) => "unknown-category",
            Reject::AggregateCategory { .. } => "aggregate-category",
            Reject::UnknownOutcome(_) => "unknown-outcome",
            Reject::CrimeRef(error) => error.code(),
            Reject::BadLsoa(_) => "bad-lsoa",
            Reject::BadField { .. } => "bad-field",
            Reject::BadDate { .. } => "bad-date",
            Reject::MissingTransferTarget => "missing-transfer-target",
            Reject::UnexpectedTransferTarget { .. } => "unexpected-transfer-target",
            Reject::TransferToSelf { .. } => "transfer-to-self",
            Reject::TransferOutsideEnglandAndWales { .. } => "transfer-outside-england-and-wales",
            Reject::IncompleteOffenceRange { .. } => "incomplete-offence-range",
            Reject::OffenceRangeInverted { .. } => "offence-range-inverted",
            Reject::DateInFuture { .. } => "date-in-future",
            Reject::DateBefore2000 { .. } => "date-before-2000",
            Reject::DateBefore1900 { .. } => "date-before-1900",
            Reject::RecordedBeforeOffence { .. } => "recorded-before-offence",
            Reject::AgeOutOfRange { .. } => "age-out-of-range",
            Reject::AgeInconsistentWithOffence { .. } => "age-inconsistent-with-offence",
            Reject::MissingOffence => "missing-offence",
            Reject::OffenceCategoryMismatch { .. } => "offence-category-mismatch",
        }
    }
}

/// Checks the rules of a record against each other and against `today` (the caller's clock, in
/// the UK calendar). Returns the first rule broken, checking in this order: offence and
/// category, status, recorded date, offence dates, victim age.
///
/// Never panics, for any record and any `today`.
pub fn validate(record: &CrimeRecord, today: NaiveDate) -> Result<(), Reject> {
    check_offence(record)?;
    check_status(record)?;
    check_dates(record, today)?;
    check_age(record)
}

/// Offence code and category: present, a record category, and consistent with each other.
fn check_offence(record: &CrimeRecord) -> Result<(), Reject> {
    if let Some(category) = record.category
        && !category.is_record_category()
    {
        return Err(Reject::AggregateCategory { category });
    }
    match (record.offence_code, record.category) {
        (None, None) => Err(Reject::MissingOffence),
        (Some(code), given) => {
            // A code outside the catalogue cannot be built, so `offence()` is always `Some`;
            // without it there is nothing to compare.
            let Some(offence) = code.offence() else {
                return Ok(());
            };
            match given {
                Some(given) if given != offence.category => Err(Reject::OffenceCategoryMismatch {
                    code,
                    code_category: offence.category,
                    given,
                }),
                _ => Ok(()),
            }
        }
        (None, Some(_)) => Ok(()),
    }
}

/// Transfer target: another force, within the Home Office statistics of England and Wales.
fn check_status(record: &CrimeRecord) -> Result<(), Reject> {
    let Some(to) = record.status.transferred_to() else {
        return Ok(());
    };
    if to == record.force {
        return Err(Reject::TransferToSelf { force: to });
    }
    if !to.in_home_office_statistics() {
        return Err(Reject::TransferOutsideEnglandAndWales {
            from: record.force,
            to,
        });
    }
    Ok(())
}

/// Recorded date and offence range: well formed, between 2000 and today, in order.
fn check_dates(record: &CrimeRecord, today: NaiveDate) -> Result<(), Reject> {
    let recorded = record.recorded;
    if recorded.precision == DatePrecision::Month && recorded.date.day() != 1 {
        return Err(Reject::BadDate {
            field: "recorded_date",
            value: recorded.date.to_string(),
            reason: "a month-precision date must be the first of its month",
        });
    }
    check_date_bounds("recorded_date", recorded.date, today, MIN_YEAR)?;
    if let Some(range) = record.offence_dates {
        if range.from > range.to {
            return Err(Reject::OffenceRangeInverted {
                from: range.from,
                to: range.to,
            });
        }
        check_date_bounds("offence_from", range.from, today, MIN_OFFENCE_YEAR)?;
        check_date_bounds("offence_to", range.to, today, MIN_OFFENCE_YEAR)?;
        if recorded.is_before(range.from) {
            return Err(Reject::RecordedBeforeOffence {
                recorded: recorded.date,
                offence_from: range.from,
            });
        }
    }
    Ok(())
}

/// One date: not after `today`, not before `min_year`.
fn check_date_bounds(
    field: &'static str,
    date: NaiveDate,
    today: NaiveDate,
    min_year: i32,
) -> Result<(), Reject> {
    if date > today {
        return Err(Reject::DateInFuture { field, date, today });
    }
    if date.year() < min_year {
        return Err(if min_year == MIN_YEAR {
            Reject::DateBefore2000 { field, date }
        } else {
            Reject::DateBefore1900 { field, date }
        });
    }
    Ok(())
}

/// Victim age: within 0–[`MAX_AGE`] and admitted by the offence code's age rule.
fn check_age(record: &CrimeRecord) -> Result<(), Reject> {
    let Some(age) = record.victim_age else {
        return Ok(());
    };
    if age > MAX_AGE {
        return Err(Reject::AgeOutOfRange {
            age: i64::from(age),
        });
    }
    if let Some(code) = record.offence_code
        && let Some(offence) = code.offence()
        && !offence.victim_age.admits(age)
    {
        return Err(Reject::AgeInconsistentWithOffence {
            age,
            code,
            rule: offence.victim_age,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::record::tests::{EXAMPLE_LINE, date, force, minimal_record, sample_record};
    use crate::record::{DatePrecision, DateRange, RecordedDate, Status};

    const TODAY: fn() -> NaiveDate = || date(2024, 6, 30);

    /// Replaces `from` in the example line by `to` (the fragment must occur).
    fn example_with(from: &str, to: &str) -> String {
        assert!(EXAMPLE_LINE.contains(from), "{from}");
        EXAMPLE_LINE.replacen(from, to, 1)
    }

    /// Lines refused while decoding, with their expected code.
    fn decode_cases() -> Vec<(String, &'static str)> {
        vec![
            ("".to_owned(), "malformed-json"),
            ("{".to_owned(), "malformed-json"),
            ("[]".to_owned(), "malformed-json"),
            ("null".to_owned(), "malformed-json"),
            ("\"west-mercia\"".to_owned(), "malformed-json"),
            (
                example_with(r#""victim_age":13"#, r#""victim_age":[13]"#),
                "malformed-json",
            ),
            (
                example_with(r#""version":2"#, r#""version":-1"#),
                "bad-version",
            ),
            (
                example_with(r#""version":2"#, r#""version":2.5"#),
                "bad-version",
            ),
            (
                example_with(r#""version":2"#, r#""version":"1e400""#),
                "bad-version",
            ),
            (
                example_with(r#""version":2"#, r#""version":"\u0000""#),
                "bad-version",
            ),
            (
                example_with(r#""version":2"#, r#""version":"18446744073709551616""#),
                "bad-version",
            ),
            (
                example_with(r#""cyber":true"#, r#""cyber":"yes""#),
                "bad-flag",
            ),
            (
                example_with(r#""cyber":true"#, r#""cyber":"tr\u0000ue""#),
                "bad-flag",
            ),
            (example_with(r#""cyber":true,"#, ""), "missing-field"),
            (
                example_with(r#""version":2"#, r#""version":null"#),
                "missing-field",
            ),
            (
                example_with(r#""status":"transferred""#, r#""status":"  ""#),
                "missing-field",
            ),
            (
                example_with(r#""adapter":"west-mercia-niche""#, r#""adapter":"""#),
                "missing-field",
            ),
            (
                example_with(r#""victim_age":13"#, r#""victim_age":13.5"#),
                "bad-field",
            ),
            (
                example_with(
                    r#""force":"west-mercia""#,
                    r#""force":"West Mercia Police""#,
                ),
                "unknown-force",
            ),
            (
                example_with(r#""force":"west-mercia""#, r#""force":"""#),
                "missing-field",
            ),
            (
                example_with(
                    r#""transferred_to":"west-midlands""#,
                    r#""transferred_to":"mars""#,
                ),
                "unknown-force",
            ),
            (
                example_with(r#""offence_code":"71/17""#, r#""offence_code":"71//17""#),
                "malformed-offence-code",
            ),
            (
                example_with(
                    r#""offence_code":"71/17""#,
                    r#""offence_code":"=HYPERLINK(\"x\")""#,
                ),
                "malformed-offence-code",
            ),
            (
                example_with(r#""offence_code":"71/17""#, r#""offence_code":"88Z""#),
                "unknown-offence-code",
            ),
            (
                example_with(
                    r#""category":"violent-crime""#,
                    r#""category":"Violence and cyber offences""#,
                ),
                "unknown-category",
            ),
            (
                example_with(
                    r#""outcome":"under-investigation""#,
                    r#""outcome":"Under consideration""#,
                ),
                "unknown-outcome",
            ),
            (
                example_with(
                    r#""crime_ref":"3f1c0a9e5b7d4c2a8e6f1b3d5c7a9e0f""#,
                    r#""crime_ref":"""#,
                ),
                "missing-field",
            ),
            (
                example_with(
                    r#""crime_ref":"3f1c0a9e5b7d4c2a8e6f1b3d5c7a9e0f""#,
                    r#""crime_ref":"3f1c 0a9e""#,
                ),
                "bad-crime-ref",
            ),
            (
                example_with(r#""lsoa":"E01014399""#, r#""lsoa":"E0101439""#),
                "bad-lsoa",
            ),
            (
                example_with(r#""status":"transferred""#, r#""status":"deleted""#),
                "bad-field",
            ),
            (
                example_with(
                    r#""recorded_precision":"day""#,
                    r#""recorded_precision":"year""#,
                ),
                "bad-field",
            ),
            (
                example_with(r#""source_format":"force-csv""#, r#""source_format":"csv""#),
                "bad-field",
            ),
            (
                example_with(
                    r#""recorded_date":"2019-01-15""#,
                    r#""recorded_date":"15/01/2019""#,
                ),
                "bad-date",
            ),
            (
                example_with(
                    r#""recorded_date":"2019-01-15""#,
                    r#""recorded_date":"2019-02-30""#,
                ),
                "bad-date",
            ),
            (
                example_with(
                    r#""offence_from":"2019-01-02""#,
                    r#""offence_from":"2019-1-2""#,
                ),
                "bad-date",
            ),
            (
                example_with(
                    r#""recorded_date":"2019-01-15""#,
                    r#""recorded_date":"2019-1-15""#,
                ),
                "bad-date",
            ),
            (
                example_with(
                    r#""recorded_date":"2019-01-15""#,
                    r#""recorded_date":"2019-13""#,
                ),
                "bad-date",
            ),
            (
                example_with(
                    r#""recorded_date":"2019-01-15","recorded_precision":"day""#,
                    r#""recorded_date":"2019-01","recorded_precision":"day""#,
                ),
                "bad-date",
            ),
            (
                example_with(
                    r#""received_at":"2019-01-16T09:30:00Z""#,
                    r#""received_at":"yesterday""#,
                ),
                "bad-date",
            ),
            (
                example_with(r#","transferred_to":"west-midlands""#, ""),
                "missing-transfer-target",
            ),
            (
                example_with(r#""status":"transferred""#, r#""status":"recorded""#),
                "unexpected-transfer-target",
            ),
            (
                example_with(r#""status":"transferred""#, r#""status":"cancelled""#),
                "unexpected-transfer-target",
            ),
            (
                example_with(r#""offence_to":"2019-01-14""#, r#""offence_to":null"#),
                "incomplete-offence-range",
            ),
            (
                example_with(r#""offence_from":"2019-01-02""#, r#""offence_from":null"#),
                "incomplete-offence-range",
            ),
            (
                example_with(r#""victim_age":13"#, r#""victim_age":-1"#),
                "age-out-of-range",
            ),
            (
                example_with(r#""victim_age":13"#, r#""victim_age":256"#),
                "age-out-of-range",
            ),
        ]
    }

    /// Records refused by the rules, with their expected code.
    fn rule_cases() -> Vec<(CrimeRecord, &'static str)> {
        let sample = sample_record;
        let code = |text: &str| Some(OffenceCode::parse(text).expect("test code"));
        vec![
            (
                CrimeRecord {
                    category: Some(Category::AllCrime),
                    offence_code: None,
                    ..sample()
                },
                "aggregate-category",
            ),
            (
                CrimeRecord {
                    category: None,
                    offence_code: None,
                    ..sample()
                },
                "missing-offence",
            ),
            (
                CrimeRecord {
                    category: Some(Category::PublicOrder),
                    ..sample()
                },
                "offence-category-mismatch",
            ),
            (
                CrimeRecord {
                    category: Some(Category::ViolentCrime),
                    offence_code: code("86/2"),
                    victim_age: None,
                    ..sample()
                },
                "offence-category-mismatch",
            ),
            (
                CrimeRecord {
                    status: Status::Transferred {
                        to: force("west-mercia"),
                    },
                    ..sample()
                },
                "transfer-to-self",
            ),
            (
                CrimeRecord {
                    status: Status::Transferred {
                        to: force("northern-ireland"),
                    },
                    ..sample()
                },
                "transfer-outside-england-and-wales",
            ),
            (
                CrimeRecord {
                    recorded: RecordedDate {
                        date: date(2019, 1, 15),
                        precision: DatePrecision::Month,
                    },
                    ..sample()
                },
                "bad-date",
            ),
            (
                CrimeRecord {
                    recorded: RecordedDate::day(date(2024, 7, 1)),
                    ..sample()
                },
                "date-in-future",
            ),
            (
                CrimeRecord {
                    offence_dates: Some(DateRange {
                        from: date(2019, 1, 2),
                        to: date(2024, 7, 1),
                    }),
                    ..sample()
                },
                "date-in-future",
            ),
            (
                CrimeRecord {
                    recorded: RecordedDate::day(date(1999, 12, 31)),
                    offence_dates: None,
                    ..sample()
                },
                "date-before-2000",
            ),
            (
                CrimeRecord {
                    offence_dates: Some(DateRange {
                        from: date(1899, 12, 31),
                        to: date(2019, 1, 14),
                    }),
                    ..sample()
                },
                "date-before-1900",
            ),
            (
                CrimeRecord {
                    offence_dates: Some(DateRange {
                        from: date(2019, 1, 14),
                        to: date(2019, 1, 2),
                    }),
                    ..sample()
                },
                "offence-range-inverted",
            ),
            (
                CrimeRecord {
                    offence_dates: Some(DateRange {
                        from: date(2019, 1, 16),
                        to: date(2019, 1, 20),
                    }),
                    ..sample()
                },
                "recorded-before-offence",
            ),
            (
                CrimeRecord {
                    recorded: RecordedDate::month(2019, 1).expect("month"),
                    offence_dates: Some(DateRange::single(date(2019, 2, 1))),
                    ..sample()
                },
                "recorded-before-offence",
            ),
            (
                CrimeRecord {
                    victim_age: Some(121),
                    offence_code: code("88C"),
                    ..sample()
                },
                "age-out-of-range",
            ),
            (
                CrimeRecord {
                    victim_age: Some(16),
                    ..sample()
                },
                "age-inconsistent-with-offence",
            ),
            (
                CrimeRecord {
                    victim_age: Some(12),
                    offence_code: code("19D"),
                    ..sample()
                },
                "age-inconsistent-with-offence",
            ),
            (
                CrimeRecord {
                    victim_age: Some(13),
                    offence_code: code("19E"),
                    ..sample()
                },
                "age-inconsistent-with-offence",
            ),
            (
                CrimeRecord {
                    victim_age: Some(15),
                    offence_code: code("19C"),
                    ..sample()
                },
                "age-inconsistent-with-offence",
            ),
            (
                CrimeRecord {
                    victim_age: Some(18),
                    offence_code: code("86/2"),
                    category: None,
                    ..sample()
                },
                "age-inconsistent-with-offence",
            ),
        ]
    }

    #[test]
    fn valid_records_pass() {
        let valid = [
            sample_record(),
            minimal_record(),
            CrimeRecord {
                status: Status::Transferred { to: force("btp") },
                ..sample_record()
            },
            CrimeRecord {
                status: Status::Cancelled,
                ..sample_record()
            },
            CrimeRecord {
                category: None,
                ..sample_record()
            },
            CrimeRecord {
                victim_age: None,
                ..sample_record()
            },
            CrimeRecord {
                victim_age: Some(0),
                ..sample_record()
            },
            CrimeRecord {
                victim_age: Some(120),
                offence_code: None,
                ..sample_record()
            },
            CrimeRecord {
                offence_dates: None,
                ..sample_record()
            },
            CrimeRecord {
                offence_dates: Some(DateRange::single(date(2019, 1, 15))),
                ..sample_record()
            },
            CrimeRecord {
                recorded: RecordedDate::month(2019, 1).expect("month"),
                offence_dates: Some(DateRange::single(date(2019, 1, 31))),
                ..sample_record()
            },
            CrimeRecord {
                recorded: RecordedDate::day(date(2000, 1, 1)),
                offence_dates: Some(DateRange::single(date(2000, 1, 1))),
                ..sample_record()
            },
            CrimeRecord {
                recorded: RecordedDate::day(TODAY()),
                offence_dates: Some(DateRange::single(TODAY())),
                ..sample_record()
            },
            CrimeRecord {
                category: Some(Category::PublicDisorderAndWeapons),
                ..minimal_record()
            },
            CrimeRecord {
                category: Some(Category::AntiSocialBehaviour),
                ..minimal_record()
            },
        ];
        for record in valid {
            assert_eq!(validate(&record, TODAY()), Ok(()), "{record:?}");
        }
    }

    #[test]
    fn decoding_rejects_each_bad_value_with_its_code() {
        for (line, code) in decode_cases() {
            let reject = CrimeRecord::from_json(&line).expect_err(&line);
            assert_eq!(reject.code(), code, "{line}\n{reject}");
            // serde's path reports the same reject as its message.
            let via_serde = serde_json::from_str::<CrimeRecord>(&line).expect_err(&line);
            if code != "malformed-json" {
                assert!(
                    via_serde.to_string().contains(&reject.to_string()),
                    "{via_serde}"
                );
            }
        }
    }

    /// What the one decoder accepts besides the form cyberflag writes: each line decodes to
    /// the example record (decided once per field in `crate::decode`).
    #[test]
    fn accepted_spellings_decode_to_the_written_form() {
        let example = CrimeRecord::from_json(EXAMPLE_LINE).expect("the example decodes");
        let cases = [
            (r#""version":2"#, r#""version":"2""#),
            (r#""cyber":true"#, r#""cyber":"true""#),
            (r#"{"force""#, r#"{"extra":[1],"force""#),
            (
                r#""recorded_precision":"day""#,
                r#""recorded_precision":null"#,
            ),
            (r#""recorded_precision":"day","#, ""),
            (r#""victim_age":13"#, r#""victim_age":"13""#),
            (
                r#""transferred_to":"west-midlands""#,
                r#""transferred_to":"West Midlands Police""#,
            ),
            (r#""offence_code":"71/17""#, r#""offence_code":"071.17""#),
            (
                r#""category":"violent-crime""#,
                r#""category":"Violence and sexual offences""#,
            ),
            (
                r#""outcome":"under-investigation""#,
                r#""outcome":"Under investigation""#,
            ),
            (r#""lsoa":"E01014399""#, r#""lsoa":" e01014399 ""#),
        ];
        for (from, to) in cases {
            let line = example_with(from, to);
            assert_eq!(
                CrimeRecord::from_json(&line).as_ref(),
                Ok(&example),
                "{line}"
            );
        }
        // Blank optional values are absent.
        let blank = example_with(r#""lsoa":"E01014399""#, r#""lsoa":" ""#);
        assert_eq!(CrimeRecord::from_json(&blank).expect("blank").lsoa, None);
    }

    /// A month-precision record dated mid-month keeps its precision, so the month rule refuses
    /// it; the same record at day precision, or on the 1st, passes.
    #[test]
    fn month_precision_is_kept_whatever_the_date_looks_like() {
        let month = |date: &str| {
            example_with(
                r#""recorded_date":"2019-01-15","recorded_precision":"day""#,
                &format!(r#""recorded_date":"{date}","recorded_precision":"month""#),
            )
        };
        let mid = CrimeRecord::from_json(&month("2019-01-15")).expect("decodes");
        assert_eq!(mid.recorded.precision, DatePrecision::Month);
        let reject = validate(&mid, TODAY()).expect_err("mid-month");
        assert_eq!(reject.code(), "bad-date", "{reject}");
        for first in ["2019-01-01", "2019-01"] {
            let record = CrimeRecord::from_json(&month(first)).expect(first);
            assert_eq!(record.recorded, RecordedDate::month(2019, 1).unwrap());
            assert_eq!(validate(&record, TODAY()), Ok(()), "{first}");
        }
        // Without a precision, the shape of the date says.
        let shaped = example_with(
            r#""recorded_date":"2019-01-15","recorded_precision":"day""#,
            r#""recorded_date":"2019-01""#,
        );
        let record = CrimeRecord::from_json(&shaped).expect("month by shape");
        assert_eq!(record.recorded.precision, DatePrecision::Month);
    }

    #[test]
    fn rules_reject_each_broken_record_with_its_code() {
        for (record, code) in rule_cases() {
            let reject = validate(&record, TODAY()).expect_err(code);
            assert_eq!(reject.code(), code, "{record:?}\n{reject}");
        }
    }

    #[test]
    fn every_reject_code_is_reachable_and_listed_once() {
        let listed: BTreeSet<&str> = Reject::CODES.into_iter().collect();
        assert_eq!(listed.len(), Reject::CODES.len(), "duplicate code");
        // An empty reference is absent when decoded (`missing-field`); built directly, it is
        // its own reason.
        let parts = [Reject::from(
            crate::CrimeRef::new("").expect_err("empty reference"),
        )];
        let reached: BTreeSet<&str> = decode_cases()
            .into_iter()
            .map(|(_, code)| code)
            .chain(rule_cases().into_iter().map(|(_, code)| code))
            .chain(parts.iter().map(Reject::code))
            .collect();
        assert_eq!(reached, listed);
        for code in Reject::CODES {
            assert!(
                code.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            );
        }
    }

    #[test]
    fn messages_are_lowercase_fragments_naming_the_value() {
        let decoded = decode_cases()
            .into_iter()
            .filter_map(|(line, _)| CrimeRecord::from_json(&line).err());
        let ruled = rule_cases()
            .into_iter()
            .filter_map(|(record, _)| validate(&record, TODAY()).err());
        for reject in decoded.chain(ruled) {
            let message = reject.to_string();
            assert!(!message.is_empty());
            assert!(!message.ends_with('.'), "{message}");
            let first = message.chars().next().unwrap_or('x');
            assert!(!first.is_uppercase(), "{message}");
        }
        let cases = [
            (
                example_with(r#""offence_code":"71/17""#, r#""offence_code":"88Z""#),
                "88Z",
            ),
            (
                example_with(r#""force":"west-mercia""#, r#""force":"atlantis""#),
                "atlantis",
            ),
            (
                example_with(r#""lsoa":"E01014399""#, r#""lsoa":"X99""#),
                "X99",
            ),
            (
                example_with(r#""victim_age":13"#, r#""victim_age":-7"#),
                "-7",
            ),
        ];
        for (line, value) in cases {
            let message = CrimeRecord::from_json(&line).expect_err(&line).to_string();
            assert!(message.contains(value), "{message}");
        }
        let age = CrimeRecord {
            victim_age: Some(16),
            ..sample_record()
        };
        let message = validate(&age, TODAY()).expect_err("age").to_string();
        assert_eq!(
            message,
            "victim age 16 is inconsistent with offence 71/17, whose victim is under 16"
        );
    }

    #[test]
    fn long_garbage_is_truncated_in_messages() {
        let huge = "x".repeat(100_000);
        let line = example_with(r#""force":"west-mercia""#, &format!(r#""force":"{huge}""#));
        assert!(
            CrimeRecord::from_json(&line)
                .expect_err("force")
                .to_string()
                .len()
                < 200
        );
        let line = format!(r#"{{"{huge}":1}}"#);
        assert!(
            CrimeRecord::from_json(&line)
                .expect_err("key")
                .to_string()
                .len()
                < 400
        );
    }

    /// Property-style: many arbitrary ages, dates, codes and statuses never panic, and every
    /// accepted record satisfies the rules.
    #[test]
    fn validation_never_panics_and_accepts_only_consistent_records() {
        let dates = [
            NaiveDate::MIN,
            date(1, 1, 1),
            date(1999, 12, 31),
            date(2000, 1, 1),
            date(2017, 4, 3),
            date(2019, 1, 1),
            date(2019, 1, 31),
            date(2024, 2, 29),
            date(2024, 6, 30),
            date(2024, 7, 1),
            date(9999, 12, 31),
            NaiveDate::MAX,
        ];
        let codes: Vec<Option<OffenceCode>> = std::iter::once(None)
            .chain(
                crate::offence::Offence::all()
                    .iter()
                    .map(|offence| Some(offence.code)),
            )
            .collect();
        let categories = std::iter::once(None).chain(Category::ALL.into_iter().map(Some));
        let categories: Vec<Option<Category>> = categories.collect();
        let statuses = [
            Status::Recorded,
            Status::Cancelled,
            Status::Transferred {
                to: force("west-mercia"),
            },
            Status::Transferred { to: force("btp") },
            Status::Transferred {
                to: force("northern-ireland"),
            },
        ];
        // A small linear congruential generator: deterministic, no dependency.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |bound: usize| -> usize {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(seed >> 33).unwrap_or(0) % bound
        };
        let mut accepted = 0;
        for iteration in 0..200_000 {
            let pick = |values: &[NaiveDate], index: usize| values[index];
            let age = match iteration % 5 {
                0 => None,
                _ => Some(u8::try_from(next(256)).unwrap_or(0)),
            };
            let recorded_date = pick(&dates, next(dates.len()));
            let precision = if next(2) == 0 {
                DatePrecision::Day
            } else {
                DatePrecision::Month
            };
            let offence_dates = match next(3) {
                0 => None,
                _ => Some(DateRange {
                    from: pick(&dates, next(dates.len())),
                    to: pick(&dates, next(dates.len())),
                }),
            };
            // `today` is the caller's clock: odd values must not panic, but it is never past
            // year 9999 (the last year the JSON date form can write).
            let todays = [
                NaiveDate::MIN,
                date(1999, 12, 31),
                date(2019, 1, 31),
                date(9999, 12, 31),
            ];
            let today = if next(10) == 0 {
                pick(&todays, next(todays.len()))
            } else {
                TODAY()
            };
            let record = CrimeRecord {
                victim_age: age,
                offence_code: codes[next(codes.len())],
                category: categories[next(categories.len())],
                status: statuses[next(statuses.len())],
                recorded: RecordedDate {
                    date: recorded_date,
                    precision,
                },
                offence_dates,
                ..sample_record()
            };
            let result = validate(&record, today);
            if let Err(reject) = &result {
                assert!(Reject::CODES.contains(&reject.code()));
                assert!(!reject.to_string().is_empty());
                continue;
            }
            accepted += 1;
            assert!(record.offence_code.is_some() || record.category.is_some());
            assert!(record.recorded.date <= today && record.recorded.date.year() >= MIN_YEAR);
            if let (Some(age), Some(offence)) = (record.victim_age, record.offence()) {
                assert!(age <= MAX_AGE && offence.victim_age.admits(age));
            }
            if let Some(range) = record.offence_dates {
                assert!(range.from <= range.to && range.to <= today);
                assert!(range.from.year() >= MIN_OFFENCE_YEAR);
            }
            assert_ne!(record.status.transferred_to(), Some(record.force));
            // An accepted record survives the JSON round trip unchanged.
            assert_eq!(
                CrimeRecord::from_json(&record.to_json()).as_ref(),
                Ok(&record)
            );
        }
        assert!(
            accepted > 100,
            "the generator should produce valid records too: {accepted}"
        );
    }

    /// Property-style: decoding arbitrary mutations of a valid line never panics.
    #[test]
    fn decoding_never_panics_on_mangled_lines() {
        let bytes = EXAMPLE_LINE.as_bytes();
        for end in 0..=bytes.len() {
            let prefix = String::from_utf8_lossy(&bytes[..end]);
            let _ = CrimeRecord::from_json(&prefix);
        }
        let replacements = [
            "",
            "\"",
            "\\",
            "{",
            "}",
            "null",
            "-1",
            "9999999999999999999999",
            "é",
            "\u{0}",
            "[",
            "1e400",
        ];
        for position in 0..bytes.len() {
            for replacement in replacements {
                let mut mangled = String::from_utf8_lossy(&bytes[..position]).into_owned();
                mangled.push_str(replacement);
                mangled.push_str(&String::from_utf8_lossy(&bytes[position + 1..]));
                if let Ok(record) = CrimeRecord::from_json(&mangled) {
                    let _ = validate(&record, TODAY());
                }
            }
        }
    }
}

//! The one decoder of the national record: a record's fields as text → [`CrimeRecord`].
//!
//! Every source reaches it: the dialect adapters write each record's fields as text (a force's
//! CSV cells, JSON values, police.uk columns) onto the raw topic, ingest hands them to
//! [`decode`], and [`CrimeRecord::from_json`] reads a line of the national NDJSON schema with
//! the same two steps the `national-ndjson` adapter and ingest take ([`NationalLine::parse`],
//! then [`decode`]). There is no second decoder: a spelling accepted here is accepted
//! everywhere, a reject here is the dead-letter reason.
//!
//! Strict or lenient, decided once per field:
//!
//! | field | accepted |
//! |---|---|
//! | `force` | strict: the police.uk id (`west-mercia`); an adapter writes it, never a force |
//! | `crime_ref` | strict: the adapter's pseudonym ([`CrimeRef`]) |
//! | `version` | a whole number, digits only (a JSON number or a string of digits) |
//! | `status` | strict: `recorded`, `cancelled` or `transferred` |
//! | `transferred_to` | lenient: any id or name the force goes by ([`ForceId::lookup`]) |
//! | `offence_code` | lenient syntax: `071/17`, `71.17`, `88a` ([`OffenceCode::parse`]) |
//! | `category` | lenient: police.uk slug, CSV name or legacy name ([`Category::parse`]) |
//! | `cyber` | strict: `true` or `false` (a JSON boolean or that text) |
//! | `recorded_date` | strict: `YYYY-MM-DD`, or `YYYY-MM` for a month |
//! | `recorded_precision` | `day` or `month`; when absent, the date's shape says. A month-precision date on another day than the 1st is refused by [`crate::validate()`] |
//! | `offence_from`, `offence_to` | strict: `YYYY-MM-DD`, both or neither |
//! | `victim_age` | a whole number of years, 0–120 |
//! | `outcome` | lenient: police.uk code or name, Home Office outcome type ([`Outcome::parse`]) |
//! | `lsoa` | lenient: surrounding whitespace and case ignored ([`Lsoa::parse`]) |
//!
//! Text that is empty or only whitespace is an absent value (spreadsheets and CSV exports have
//! no null); a required field that is absent is `missing-field`. Keys outside the schema are
//! not part of a record: [`NationalLine`] lists them so that the adapter can report them.

use std::cell::RefCell;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::category::{Category, UnknownCategory};
use crate::force::ForceId;
use crate::offence::{OffenceCode, OffenceCodeError};
use crate::outcome::{Outcome, UnknownOutcome};
use crate::record::{
    CrimeRecord, CrimeRef, DatePrecision, DateRange, Lineage, Lsoa, RecordedDate, SourceFormat,
    Status,
};
use crate::text::excerpt;
use crate::validate::{MAX_AGE, Reject};

/// A record's fields as text, borrowed from wherever they were read. `None` is absent; so is
/// text that is empty or only whitespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fields<'a> {
    /// The recording force's police.uk id.
    pub force: Option<&'a str>,
    /// The pseudonymised crime reference.
    pub crime_ref: Option<&'a str>,
    /// The record version.
    pub version: Option<&'a str>,
    /// `recorded`, `cancelled` or `transferred`.
    pub status: Option<&'a str>,
    /// The receiving force of a transfer.
    pub transferred_to: Option<&'a str>,
    /// The Home Office offence code.
    pub offence_code: Option<&'a str>,
    /// The police.uk category.
    pub category: Option<&'a str>,
    /// The online crime flag.
    pub cyber: Option<&'a str>,
    /// The recorded date.
    pub recorded_date: Option<&'a str>,
    /// `day` or `month`.
    pub recorded_precision: Option<&'a str>,
    /// The start of the offence.
    pub offence_from: Option<&'a str>,
    /// The end of the offence.
    pub offence_to: Option<&'a str>,
    /// The victim's age in whole years.
    pub victim_age: Option<&'a str>,
    /// The latest outcome.
    pub outcome: Option<&'a str>,
    /// The LSOA code.
    pub lsoa: Option<&'a str>,
}

/// Decodes one record's fields; `lineage` says where it came from. Applies every per-value
/// check; the rules that relate values to each other and to today are [`crate::validate()`].
pub fn decode(fields: &Fields<'_>, lineage: Lineage) -> Result<CrimeRecord, Reject> {
    let force = ForceId::from_id(required("force", fields.force)?)?;
    let crime_ref = CrimeRef::new(required("crime_ref", fields.crime_ref)?)?;
    let version_text = required("version", fields.version)?;
    let version = whole_number(version_text).ok_or_else(|| Reject::BadVersion {
        value: excerpt(version_text),
    })?;
    let transfer_target = present(fields.transferred_to)
        .map(ForceId::lookup)
        .transpose()?;
    let status_text = required("status", fields.status)?;
    let status = match (status_text, transfer_target) {
        ("recorded", None) => Status::Recorded,
        ("cancelled", None) => Status::Cancelled,
        ("transferred", Some(to)) => Status::Transferred { to },
        ("transferred", None) => return Err(Reject::MissingTransferTarget),
        ("recorded" | "cancelled", Some(to)) => {
            return Err(Reject::UnexpectedTransferTarget {
                status: status_text.to_owned(),
                to,
            });
        }
        (other, _) => {
            return Err(Reject::BadField {
                field: "status",
                value: excerpt(other),
                expected: "recorded, cancelled or transferred",
            });
        }
    };
    let offence_code = present(fields.offence_code)
        .map(|code| memo(&OFFENCE_CODES, code, OffenceCode::parse))
        .transpose()?;
    let category = present(fields.category)
        .map(|category| memo(&CATEGORIES, category, Category::parse))
        .transpose()?;
    let cyber = match required("cyber", fields.cyber)? {
        "true" => true,
        "false" => false,
        other => {
            return Err(Reject::BadFlag {
                value: excerpt(other),
            });
        }
    };
    let recorded = recorded_date(
        required("recorded_date", fields.recorded_date)?,
        present(fields.recorded_precision),
    )?;
    let offence_dates = match (present(fields.offence_from), present(fields.offence_to)) {
        (None, None) => None,
        (Some(from), Some(to)) => Some(DateRange::new(
            date("offence_from", from)?,
            date("offence_to", to)?,
        )?),
        (Some(_), None) => {
            return Err(Reject::IncompleteOffenceRange {
                missing: "offence_to",
            });
        }
        (None, Some(_)) => {
            return Err(Reject::IncompleteOffenceRange {
                missing: "offence_from",
            });
        }
    };
    let victim_age = present(fields.victim_age).map(age).transpose()?;
    let outcome = present(fields.outcome)
        .map(|outcome| memo(&OUTCOMES, outcome, Outcome::parse))
        .transpose()?;
    let lsoa = present(fields.lsoa).map(Lsoa::parse).transpose()?;
    Ok(CrimeRecord {
        force,
        crime_ref,
        version,
        status,
        offence_code,
        category,
        cyber,
        recorded,
        offence_dates,
        victim_age,
        outcome,
        lsoa,
        lineage,
    })
}

/// Text that is empty or only whitespace is absent.
fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|text| !text.is_empty())
}

fn required<'a>(field: &'static str, value: Option<&'a str>) -> Result<&'a str, Reject> {
    present(value).ok_or(Reject::MissingField { field })
}

/// Digits only, within `u64`.
fn whole_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn age(text: &str) -> Result<u8, Reject> {
    let negative = text.strip_prefix('-');
    let digits = negative.unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && digits.len() > 3 {
        // Digits, but more years than anyone lives (and perhaps more than 64 bits hold).
        return Err(Reject::AgeOutOfRange {
            age: digits
                .parse::<i64>()
                .map(|years| if negative.is_some() { -years } else { years })
                .unwrap_or(if negative.is_some() {
                    i64::MIN
                } else {
                    i64::MAX
                }),
        });
    }
    match whole_number(digits) {
        Some(years) if negative.is_none() && years <= u64::from(MAX_AGE) => {
            u8::try_from(years).map_err(|_| Reject::AgeOutOfRange { age: i64::MAX })
        }
        Some(years) => Err(Reject::AgeOutOfRange {
            age: i64::try_from(years)
                .map(|years| if negative.is_some() { -years } else { years })
                .unwrap_or(i64::MAX),
        }),
        None => Err(Reject::BadField {
            field: "victim_age",
            value: excerpt(text),
            expected: "a whole number of years",
        }),
    }
}

fn recorded_date(text: &str, precision: Option<&str>) -> Result<RecordedDate, Reject> {
    let month = text.len() == 7;
    match precision {
        None | Some("month") if month => {
            RecordedDate::parse_month(text).map_err(|_| Reject::BadDate {
                field: "recorded_date",
                value: excerpt(text),
                reason: "expected a real month YYYY-MM",
            })
        }
        None | Some("day") => Ok(RecordedDate::day(date("recorded_date", text)?)),
        Some("month") => Ok(RecordedDate {
            date: date("recorded_date", text)?,
            precision: DatePrecision::Month,
        }),
        Some(other) => Err(Reject::BadField {
            field: "recorded_precision",
            value: excerpt(other),
            expected: "day or month",
        }),
    }
}

/// `YYYY-MM-DD` exactly, as a real date. Hand-written: chrono's `FromStr` goes through its
/// general format machinery, several times slower, and ingest runs this three times a record.
pub(crate) fn date(field: &'static str, value: &str) -> Result<NaiveDate, Reject> {
    iso_date(value).ok_or_else(|| Reject::BadDate {
        field,
        value: excerpt(value),
        reason: "expected a real date YYYY-MM-DD",
    })
}

fn iso_date(value: &str) -> Option<NaiveDate> {
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |digits: &[u8]| -> Option<u32> {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(number(&b[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&b[5..7])?, number(&b[8..10])?)
}

/// Parses of small-vocabulary fields (offence codes, categories, outcomes), remembered per
/// thread: the lenient parsers fold case and spelling variants, which costs more than the rest
/// of a record, and a force sends the same few dozen values again and again. The parsers are
/// pure, so a remembered result is the result; the memory is bounded.
type Memo<T, E> = RefCell<HashMap<Box<str>, Result<T, E>>>;

/// Distinct values remembered per field and thread, at most.
const MEMO_ENTRIES: usize = 512;
/// Longer values are never remembered.
const MEMO_LENGTH: usize = 64;

thread_local! {
    static OFFENCE_CODES: Memo<OffenceCode, OffenceCodeError> = Memo::default();
    static CATEGORIES: Memo<Category, UnknownCategory> = Memo::default();
    static OUTCOMES: Memo<Outcome, UnknownOutcome> = Memo::default();
}

fn memo<T: Copy, E: Clone>(
    cache: &'static std::thread::LocalKey<Memo<T, E>>,
    input: &str,
    parse: fn(&str) -> Result<T, E>,
) -> Result<T, E> {
    if input.len() > MEMO_LENGTH {
        return parse(input);
    }
    cache.with(|cache| {
        if let Some(known) = cache.borrow().get(input) {
            return known.clone();
        }
        let parsed = parse(input);
        let mut cache = cache.borrow_mut();
        if cache.len() < MEMO_ENTRIES {
            cache.insert(input.into(), parsed.clone());
        }
        parsed
    })
}

/// The record fields of the national schema, in its documented order.
pub const RECORD_KEYS: [&str; 15] = [
    "force",
    "crime_ref",
    "version",
    "status",
    "transferred_to",
    "offence_code",
    "category",
    "cyber",
    "recorded_date",
    "recorded_precision",
    "offence_from",
    "offence_to",
    "victim_age",
    "outcome",
    "lsoa",
];

/// The lineage keys of the national schema (written by cyberflag, not by forces).
pub const LINEAGE_KEYS: [&str; 3] = ["source_format", "adapter", "received_at"];

/// Longest JSON-decoder message kept in [`Reject::MalformedJson`].
const MESSAGE_CHARS: usize = 256;

/// One line of the national NDJSON schema, read as text fields: a JSON string is its text, a
/// number or a boolean is written as text, `null` is absent. Owned, so an adapter can keep or
/// change a field (the crime reference is pseudonymised before it travels).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NationalLine {
    values: [Option<String>; RECORD_KEYS.len()],
    lineage: [Option<String>; LINEAGE_KEYS.len()],
    /// Keys outside the schema, in the line's order; not part of the record.
    pub unknown_keys: Vec<String>,
}

impl NationalLine {
    /// Reads one line. Only the JSON itself can be refused here (`malformed-json`: not JSON,
    /// not an object, a value that is an array or an object); values are judged by [`decode`].
    pub fn parse(line: &str) -> Result<NationalLine, Reject> {
        let malformed = |message: String| Reject::MalformedJson {
            message: crate::text::excerpt_with(&message, MESSAGE_CHARS),
        };
        let value: Value =
            serde_json::from_str(line).map_err(|error| malformed(error.to_string()))?;
        NationalLine::from_value(value)
    }

    /// As [`NationalLine::parse`], from a JSON value already read.
    pub fn from_value(value: Value) -> Result<NationalLine, Reject> {
        let malformed = |message: String| Reject::MalformedJson {
            message: crate::text::excerpt_with(&message, MESSAGE_CHARS),
        };
        let Value::Object(object) = value else {
            return Err(malformed("a line is a JSON object".to_owned()));
        };
        let mut parsed = NationalLine::default();
        for (key, value) in object {
            let record = RECORD_KEYS.iter().position(|k| *k == key);
            let lineage = LINEAGE_KEYS.iter().position(|k| *k == key);
            if record.is_none() && lineage.is_none() {
                parsed.unknown_keys.push(key);
                continue;
            }
            let text = match value {
                Value::Null => None,
                Value::String(text) => Some(text),
                Value::Bool(flag) => Some(flag.to_string()),
                Value::Number(number) => Some(number.to_string()),
                Value::Array(_) | Value::Object(_) => {
                    return Err(malformed(format!(
                        "{} is an array or an object, not a value",
                        excerpt(&key)
                    )));
                }
            };
            match (record, lineage) {
                (Some(index), _) => parsed.values[index] = text,
                (None, Some(index)) => parsed.lineage[index] = text,
                (None, None) => {}
            }
        }
        Ok(parsed)
    }

    /// The value of record field `key` (one of [`RECORD_KEYS`]).
    pub fn get(&self, key: &str) -> Option<&str> {
        let index = RECORD_KEYS.iter().position(|k| *k == key)?;
        self.values[index].as_deref()
    }

    /// Replaces the value of record field `key` (one of [`RECORD_KEYS`]; others are ignored).
    pub fn set(&mut self, key: &str, value: Option<String>) {
        if let Some(index) = RECORD_KEYS.iter().position(|k| *k == key) {
            self.values[index] = value;
        }
    }

    /// The record fields, borrowed.
    pub fn fields(&self) -> Fields<'_> {
        let get = |key| self.get(key);
        Fields {
            force: get("force"),
            crime_ref: get("crime_ref"),
            version: get("version"),
            status: get("status"),
            transferred_to: get("transferred_to"),
            offence_code: get("offence_code"),
            category: get("category"),
            cyber: get("cyber"),
            recorded_date: get("recorded_date"),
            recorded_precision: get("recorded_precision"),
            offence_from: get("offence_from"),
            offence_to: get("offence_to"),
            victim_age: get("victim_age"),
            outcome: get("outcome"),
            lsoa: get("lsoa"),
        }
    }

    /// The line's lineage (`source_format`, `adapter`, `received_at`), all required: a line
    /// cyberflag wrote carries them. Feeds from forces have none; their adapter supplies it.
    pub fn lineage(&self) -> Result<Lineage, Reject> {
        let get = |index: usize| {
            present(self.lineage[index].as_deref()).ok_or(Reject::MissingField {
                field: LINEAGE_KEYS[index],
            })
        };
        let format = get(0)?;
        let source_format = SourceFormat::ALL
            .into_iter()
            .find(|known| known.as_str() == format)
            .ok_or_else(|| Reject::BadField {
                field: "source_format",
                value: excerpt(format),
                expected: "police-uk-street, force-csv, force-json or national-ndjson",
            })?;
        let received = get(2)?;
        let received_at = DateTime::parse_from_rfc3339(received)
            .map_err(|_| Reject::BadDate {
                field: "received_at",
                value: excerpt(received),
                reason: "expected an RFC 3339 timestamp",
            })?
            .with_timezone(&Utc);
        Ok(Lineage {
            source_format,
            adapter: get(1)?.to_owned(),
            received_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_parse_exactly_like_chrono_for_the_fixed_format() {
        for text in [
            "2019-05-02",
            "2020-02-29",
            "2019-02-29",
            "2019-13-01",
            "2019-00-10",
            "0000-01-01",
            "9999-12-31",
            "2019-5-02",
            "2019-1-2",
            "2019/05/02",
            "+2019-05-0",
            "2019-05-02 ",
            "２０１９-05-02",
        ] {
            let chrono = text.parse::<NaiveDate>().ok().filter(|_| text.len() == 10);
            assert_eq!(iso_date(text), chrono, "{text}");
        }
    }

    #[test]
    fn ages_and_versions_are_whole_numbers() {
        assert_eq!(age("13"), Ok(13));
        assert_eq!(age("0"), Ok(0));
        assert_eq!(age("120"), Ok(120));
        assert_eq!(age("121").map_err(|r| r.code()), Err("age-out-of-range"));
        assert_eq!(age("-3"), Err(Reject::AgeOutOfRange { age: -3 }));
        for bad in ["13.5", "1e2", "+13", "thirteen", "1 3"] {
            assert_eq!(age(bad).map_err(|r| r.code()), Err("bad-field"), "{bad}");
        }
        assert_eq!(
            age(&"1".repeat(31)).map_err(|r| r.code()),
            Err("age-out-of-range")
        );
        assert_eq!(whole_number("2"), Some(2));
        assert_eq!(whole_number("18446744073709551615"), Some(u64::MAX));
        for bad in ["", "-1", "+1", "1.0", "1e400", "18446744073709551616", "\0"] {
            assert_eq!(whole_number(bad), None, "{bad:?}");
        }
    }
}

//! From a raw-topic message to a validated [`CrimeRecord`], or a [`Rejection`] with a reason.
//!
//! Pure and deterministic given the message, its arrival time and `today`. Every field is
//! parsed with the `model` crate's parsers, so spellings accepted here are exactly those the
//! national model accepts; the first problem found is the reason.

use chrono::{DateTime, NaiveDate, Utc};
use model::{
    Category, CrimeRecord, CrimeRef, DateRange, ForceId, Lineage, Lsoa, OffenceCode, Outcome,
    RecordedDate, Reject, SourceFormat, Status,
};
use wire::{Dialect, Keyring, RawMessage, SCHEMA};

/// Why a message was not stored. `code` is the dead-letter reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Stable kebab-case reason (`bad-signature`, `unknown-offence-code`, …).
    pub code: &'static str,
    /// A human message naming the offending value.
    pub message: String,
}

impl Rejection {
    /// A rejection of our own (not a `model::Reject`).
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Every reason this crate can give besides `model::Reject::CODES`.
    pub const CODES: [&'static str; 8] = [
        "bad-signature",
        "force-mismatch",
        "malformed-envelope",
        "malformed-row",
        "missing-field",
        "bad-version",
        "bad-flag",
        "store-failed",
    ];
}

impl From<Reject> for Rejection {
    fn from(reject: Reject) -> Self {
        Self {
            code: reject.code(),
            message: reject.to_string(),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Parses a payload and checks its signature and that its force owns the signing key.
pub fn verify(
    keyring: &Keyring,
    key_id: Option<&[u8]>,
    signature: Option<&[u8]>,
    payload: &[u8],
) -> Result<RawMessage, Rejection> {
    let message = RawMessage::from_bytes(payload).map_err(|error| {
        Rejection::new(
            "malformed-envelope",
            format!("payload is not a raw message: {error}"),
        )
    })?;
    if message.schema != SCHEMA {
        return Err(Rejection::new(
            "malformed-envelope",
            format!("schema {:?} is not {SCHEMA}", message.schema),
        ));
    }
    keyring
        .verify(key_id, signature, payload, &message.force)
        .map_err(|reject| Rejection::new(reject.code(), reject.to_string()))?;
    Ok(message)
}

fn source_format(dialect: Dialect) -> SourceFormat {
    match dialect {
        Dialect::PoliceUkStreet => SourceFormat::PoliceUkStreet,
        Dialect::ForceCsv => SourceFormat::ForceCsv,
        Dialect::ForceJson => SourceFormat::ForceJson,
        Dialect::NationalNdjson => SourceFormat::NationalNdjson,
    }
}

fn required<'a>(field: &'static str, value: &'a Option<String>) -> Result<&'a str, Rejection> {
    value
        .as_deref()
        .ok_or_else(|| Rejection::new("missing-field", format!("{field} is missing")))
}

fn date(field: &'static str, value: &str) -> Result<NaiveDate, Rejection> {
    // `FromStr` is chrono's fixed ISO parser: several times faster than a format string.
    value.parse::<NaiveDate>().map_err(|_| {
        Rejection::from(Reject::BadDate {
            field,
            value: value.chars().take(64).collect(),
            reason: "expected a real date YYYY-MM-DD",
        })
    })
}

/// Normalises and validates one message.
pub fn normalise(
    message: &RawMessage,
    received_at: DateTime<Utc>,
    today: NaiveDate,
) -> Result<CrimeRecord, Rejection> {
    if let Some(reason) = &message.malformed {
        return Err(Rejection::new("malformed-row", reason.clone()));
    }
    let raw = message
        .record
        .as_ref()
        .ok_or_else(|| Rejection::new("malformed-envelope", "neither a record nor a reason"))?;
    let force = ForceId::from_id(&message.force).map_err(Reject::from)?;
    let crime_ref = CrimeRef::new(required("crime_ref", &raw.crime_ref)?).map_err(Reject::from)?;
    let version_text = required("version", &raw.version)?;
    let version: u64 = version_text.parse().map_err(|_| {
        Rejection::new(
            "bad-version",
            format!("version {version_text:?} is not a whole number"),
        )
    })?;
    let transfer_target = raw
        .transferred_to
        .as_deref()
        .map(|to| ForceId::lookup(to).map_err(Reject::from))
        .transpose()?;
    let status = match required("status", &raw.status)? {
        "recorded" | "cancelled" if transfer_target.is_some() => {
            return Err(Reject::UnexpectedTransferTarget {
                status: raw.status.clone().unwrap_or_default(),
                to: transfer_target.unwrap_or(force),
            }
            .into());
        }
        "recorded" => Status::Recorded,
        "cancelled" => Status::Cancelled,
        "transferred" => match transfer_target {
            Some(to) => Status::Transferred { to },
            None => return Err(Reject::MissingTransferTarget.into()),
        },
        other => {
            return Err(Reject::BadField {
                field: "status",
                value: other.chars().take(64).collect(),
                expected: "recorded, cancelled or transferred",
            }
            .into());
        }
    };
    let offence_code = raw
        .offence_code
        .as_deref()
        .map(OffenceCode::parse)
        .transpose()
        .map_err(Reject::from)?;
    let category = raw
        .category
        .as_deref()
        .map(Category::parse)
        .transpose()
        .map_err(Reject::from)?;
    let cyber = match required("cyber", &raw.cyber)? {
        "true" => true,
        "false" => false,
        other => {
            return Err(Rejection::new(
                "bad-flag",
                format!(
                    "cyber flag {:?} is not true or false",
                    other.chars().take(64).collect::<String>()
                ),
            ));
        }
    };
    let recorded_text = required("recorded_date", &raw.recorded_date)?;
    let recorded = if recorded_text.len() == 7 {
        RecordedDate::parse_month(recorded_text)?
    } else {
        RecordedDate::day(date("recorded_date", recorded_text)?)
    };
    let offence_dates = match (&raw.offence_from, &raw.offence_to) {
        (None, None) => None,
        (Some(from), Some(to)) => Some(DateRange::new(
            date("offence_from", from)?,
            date("offence_to", to)?,
        )?),
        (Some(_), None) => {
            return Err(Reject::IncompleteOffenceRange {
                missing: "offence_to",
            }
            .into());
        }
        (None, Some(_)) => {
            return Err(Reject::IncompleteOffenceRange {
                missing: "offence_from",
            }
            .into());
        }
    };
    let victim_age = match raw.victim_age.as_deref() {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(age) if (0..=i64::from(model::validate::MAX_AGE)).contains(&age) => {
                u8::try_from(age).ok()
            }
            Ok(age) => return Err(Reject::AgeOutOfRange { age }.into()),
            Err(_) => {
                return Err(Reject::BadField {
                    field: "victim_age",
                    value: text.chars().take(64).collect(),
                    expected: "a whole number of years",
                }
                .into());
            }
        },
    };
    let outcome = raw
        .outcome
        .as_deref()
        .map(Outcome::parse)
        .transpose()
        .map_err(Reject::from)?;
    let lsoa = raw
        .lsoa
        .as_deref()
        .map(Lsoa::parse)
        .transpose()
        .map_err(Reject::from)?;
    let record = CrimeRecord {
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
        lineage: Lineage {
            source_format: source_format(message.dialect),
            adapter: message.adapter.clone(),
            received_at,
        },
    };
    model::validate(&record, today)?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(edit: impl FnOnce(&mut wire::RawRecord)) -> RawMessage {
        let mut record = wire::RawRecord {
            crime_ref: Some("a".repeat(64)),
            version: Some("1".into()),
            status: Some("recorded".into()),
            offence_code: Some("88A".into()),
            cyber: Some("true".into()),
            recorded_date: Some("2019-05-02".into()),
            victim_age: Some("13".into()),
            ..wire::RawRecord::default()
        };
        edit(&mut record);
        RawMessage {
            schema: wire::SCHEMA.into(),
            force: "west-mercia".into(),
            dialect: wire::Dialect::NationalNdjson,
            adapter: "test".into(),
            source: wire::SourcePosition {
                name: "t".into(),
                line: 1,
            },
            record: Some(record),
            malformed: None,
        }
    }

    /// One hostile edit of an otherwise valid record.
    type Edit = Box<dyn Fn(&mut wire::RawRecord)>;

    /// The hostile-input corpus at ingest: impossible dates, absurd numbers and control
    /// characters are rejected with a reason (the dead-letter code), never stored, never a panic.
    #[test]
    fn hostile_values_are_rejected_with_a_reason() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let now = Utc::now();
        assert!(
            normalise(&message(|_| {}), now, today).is_ok(),
            "the base record is valid"
        );
        let cases: Vec<(&str, Edit)> = vec![
            (
                "0000-00-00",
                Box::new(|r| r.recorded_date = Some("0000-00-00".into())),
            ),
            (
                "31/02/2019",
                Box::new(|r| r.recorded_date = Some("31/02/2019".into())),
            ),
            (
                "2019-02-31",
                Box::new(|r| r.recorded_date = Some("2019-02-31".into())),
            ),
            (
                "a date in the future",
                Box::new(|r| r.recorded_date = Some("2999-01-01".into())),
            ),
            ("a NUL version", Box::new(|r| r.version = Some("\0".into()))),
            (
                "a negative version",
                Box::new(|r| r.version = Some("-1".into())),
            ),
            (
                "a version of 10^30",
                Box::new(|r| r.version = Some("1".repeat(31))),
            ),
            (
                "a float version",
                Box::new(|r| r.version = Some("1e400".into())),
            ),
            (
                "an age of 10^30",
                Box::new(|r| r.victim_age = Some("1".repeat(31))),
            ),
            (
                "a negative age",
                Box::new(|r| r.victim_age = Some("-3".into())),
            ),
            (
                "a formula as an offence code",
                Box::new(|r| r.offence_code = Some("=HYPERLINK(\"x\")".into())),
            ),
            (
                "a NUL in the flag",
                Box::new(|r| r.cyber = Some("tr\0ue".into())),
            ),
            (
                "a 10 MB reference",
                Box::new(|r| r.crime_ref = Some("x".repeat(10 * 1024 * 1024))),
            ),
        ];
        for (name, edit) in cases {
            let outcome = normalise(&message(|r| edit(r)), now, today);
            let rejection = outcome.expect_err(name);
            assert!(
                !rejection.code.is_empty()
                    && rejection
                        .code
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '-'),
                "{name}: {rejection:?}"
            );
            assert!(
                rejection.message.len() < 300,
                "{name}: a bounded message, not the input"
            );
        }
    }
}

//! Applies a profile's [`Mapping`] to one source record: the privacy boundary.
//!
//! Only the fields the mapping names are read. The crime reference is replaced by its keyed
//! pseudonym, a date of birth becomes an age at the offence date and is dropped, and spellings
//! (dates, flags, status words, versions) are turned into the national forms. Values that are
//! not private but do not parse (an impossible date, an unknown offence code) are forwarded as
//! written so that `ingest` rejects them with a precise reason; a record that cannot be mapped
//! without forwarding private content is malformed, and only the reason travels.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};
use wire::{Pseudonymiser, RawRecord};

use crate::profile::{Mapping, VersionKind};

/// Read access to one source record by field name (CSV column or JSON path).
pub trait Fields {
    /// The field's text, `None` when absent or null. Numbers and booleans are written as text.
    fn get(&self, name: &str) -> Option<Cow<'_, str>>;
}

/// Maps one record. `Err` is the malformed reason (never containing the record's content).
pub fn map_record(
    mapping: &Mapping,
    fields: &impl Fields,
    pseudonymiser: &Pseudonymiser,
) -> Result<RawRecord, String> {
    let text = |name: &Option<String>| -> Option<String> {
        name.as_deref()
            .and_then(|n| fields.get(n))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let reference = fields
        .get(&mapping.crime_ref)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("empty crime reference (field {:?})", mapping.crime_ref))?;

    let version_text = fields
        .get(&mapping.version)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("empty version (field {:?})", mapping.version))?;
    let version = match mapping.version_kind {
        VersionKind::Revision => version_text,
        VersionKind::Timestamp => match parse_timestamp(&version_text, mapping) {
            Some(time) => time.format("%Y%m%d%H%M%S").to_string(),
            None => version_text,
        },
    };

    let recorded_date =
        text(&Some(mapping.recorded_date.clone())).map(|value| normalise_date(&value, mapping));
    let offence_from = text(&mapping.offence_from).map(|value| normalise_date(&value, mapping));
    let offence_to = text(&mapping.offence_to).map(|value| normalise_date(&value, mapping));

    let victim_age = match (&mapping.victim_age, &mapping.victim_date_of_birth) {
        (Some(_), _) => text(&mapping.victim_age),
        (None, Some(_)) => match text(&mapping.victim_date_of_birth) {
            None => None,
            Some(birth) => {
                let birth = parse_date(&birth, mapping).ok_or_else(|| {
                    "victim date of birth is not a date in the configured formats".to_owned()
                })?;
                let at = [&offence_from, &recorded_date]
                    .into_iter()
                    .flatten()
                    .find_map(|iso| NaiveDate::parse_from_str(iso, "%Y-%m-%d").ok())
                    .ok_or_else(|| {
                        "victim date of birth given but no valid offence or recorded date to \
                         compute the age at"
                            .to_owned()
                    })?;
                Some(
                    age_at(birth, at)
                        .ok_or_else(|| "victim date of birth is after the offence date".to_owned())?
                        .to_string(),
                )
            }
        },
        (None, None) => None,
    };

    let cyber = match &mapping.cyber {
        None => None,
        Some(name) => {
            let value = fields
                .get(name)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default();
            Some(spelling(
                &value,
                &[
                    (&mapping.cyber_true, "true"),
                    (&mapping.cyber_false, "false"),
                ],
            ))
        }
    };
    let status = text(&mapping.status).map(|value| {
        spelling(
            &value,
            &[
                (&mapping.status_recorded, "recorded"),
                (&mapping.status_cancelled, "cancelled"),
                (&mapping.status_transferred, "transferred"),
            ],
        )
    });

    Ok(RawRecord {
        crime_ref: Some(pseudonymiser.pseudonym(&reference)),
        version: Some(version),
        status,
        transferred_to: text(&mapping.transferred_to),
        offence_code: text(&mapping.offence_code),
        category: text(&mapping.category),
        cyber,
        recorded_date,
        offence_from,
        offence_to,
        victim_age,
        outcome: text(&mapping.outcome),
        lsoa: text(&mapping.lsoa),
    })
}

/// The national word for `value` if one of the spelling lists contains it (ignoring case),
/// otherwise `value` itself, so `ingest` can reject it naming what the force wrote.
fn spelling(value: &str, lists: &[(&Vec<String>, &str)]) -> String {
    lists
        .iter()
        .find(|(words, _)| {
            words
                .iter()
                .any(|word| word.trim().eq_ignore_ascii_case(value))
        })
        .map(|(_, national)| (*national).to_owned())
        .unwrap_or_else(|| value.to_owned())
}

/// A date or timestamp to ISO `YYYY-MM-DD`; unparseable text is returned unchanged.
fn normalise_date(value: &str, mapping: &Mapping) -> String {
    parse_date(value, mapping)
        .or_else(|| parse_timestamp(value, mapping).map(|t| t.date()))
        .map(|date| date.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| value.to_owned())
}

fn parse_date(value: &str, mapping: &Mapping) -> Option<NaiveDate> {
    mapping
        .date_formats
        .iter()
        .map(String::as_str)
        .chain(["%Y-%m-%d"])
        .find_map(|format| NaiveDate::parse_from_str(value, format).ok())
}

fn parse_timestamp(value: &str, mapping: &Mapping) -> Option<NaiveDateTime> {
    mapping
        .timestamp_formats
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .or_else(|| {
            DateTime::parse_from_rfc3339(value)
                .ok()
                .map(|t| t.naive_utc())
        })
}

/// Whole years from `birth` to `at`; `None` if `at` is before `birth`.
pub fn age_at(birth: NaiveDate, at: NaiveDate) -> Option<u32> {
    if at < birth {
        return None;
    }
    let mut years = at.year() - birth.year();
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::profile::Profile;

    struct Row(HashMap<&'static str, &'static str>);

    impl Fields for Row {
        fn get(&self, name: &str) -> Option<Cow<'_, str>> {
            self.0.get(name).map(|v| Cow::Borrowed(*v))
        }
    }

    fn west_mercia() -> Mapping {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/forces/west-mercia.toml"
        );
        Profile::load(std::path::Path::new(path))
            .unwrap()
            .mapping
            .unwrap()
    }

    fn pseudonymiser() -> Pseudonymiser {
        Pseudonymiser::new("west-mercia", wire::Secret::from_bytes([3; 32]))
    }

    fn row(pairs: &[(&'static str, &'static str)]) -> Row {
        Row(pairs.iter().copied().collect())
    }

    const FULL: &[(&str, &str)] = &[
        ("Crime Reference", "22WM/012345/19"),
        ("Last Modified", "05/03/2019 14:02:09"),
        ("Recorded Date", "04/03/2019"),
        ("Committed From", "01/02/2019"),
        ("Committed To", "01/03/2019"),
        ("HO Code", "071/17"),
        ("Online Flag", "Y"),
        ("Victim DOB", "15/06/2005"),
        ("Victim Name", "Jane Example"),
        ("Victim Address", "1 Example Street, Worcester"),
        ("Status", "No Crime"),
        ("Transferred To", ""),
        ("Outcome", "OC18"),
        ("LSOA", "E01032133"),
        ("Officer Notes", "met online, see statement"),
    ];

    #[test]
    fn a_full_record_is_mapped_to_national_forms() {
        let record = map_record(&west_mercia(), &row(FULL), &pseudonymiser()).unwrap();
        assert_eq!(
            record.crime_ref.as_deref(),
            Some(pseudonymiser().pseudonym("22WM/012345/19").as_str())
        );
        assert_eq!(record.version.as_deref(), Some("20190305140209"));
        assert_eq!(record.recorded_date.as_deref(), Some("2019-03-04"));
        assert_eq!(record.offence_from.as_deref(), Some("2019-02-01"));
        assert_eq!(record.offence_to.as_deref(), Some("2019-03-01"));
        assert_eq!(record.offence_code.as_deref(), Some("071/17"));
        assert_eq!(record.cyber.as_deref(), Some("true"));
        assert_eq!(
            record.victim_age.as_deref(),
            Some("13"),
            "age at the offence start"
        );
        assert_eq!(record.status.as_deref(), Some("cancelled"));
        assert_eq!(record.transferred_to, None);
        assert_eq!(record.outcome.as_deref(), Some("OC18"));
        assert_eq!(record.lsoa.as_deref(), Some("E01032133"));
    }

    #[test]
    fn names_addresses_notes_references_and_birth_dates_never_leave() {
        let record = map_record(&west_mercia(), &row(FULL), &pseudonymiser()).unwrap();
        let json = serde_json::to_string(&record).unwrap();
        for private in [
            "Jane",
            "Example Street",
            "Worcester",
            "statement",
            "012345",
            "2005",
            "15/06",
        ] {
            assert!(!json.contains(private), "{private} leaked: {json}");
        }
    }

    #[test]
    fn spellings_that_do_not_parse_travel_as_written_for_ingest_to_reject() {
        let mut pairs: Vec<_> = FULL.to_vec();
        for (key, value) in pairs.iter_mut() {
            match *key {
                "Recorded Date" => *value = "31/02/2019",
                "Online Flag" => *value = "maybe",
                "Status" => *value = "Pending",
                "HO Code" => *value = "99Z",
                "Victim DOB" => *value = "",
                _ => {}
            }
        }
        let record = map_record(
            &west_mercia(),
            &Row(pairs.into_iter().collect()),
            &pseudonymiser(),
        )
        .unwrap();
        assert_eq!(record.recorded_date.as_deref(), Some("31/02/2019"));
        assert_eq!(record.cyber.as_deref(), Some("maybe"));
        assert_eq!(record.status.as_deref(), Some("Pending"));
        assert_eq!(record.offence_code.as_deref(), Some("99Z"));
        assert_eq!(record.victim_age, None);
    }

    #[test]
    fn records_that_cannot_be_mapped_privately_are_malformed_without_content() {
        let cases: &[(&str, &str, &str)] = &[
            ("Crime Reference", "", "empty crime reference"),
            ("Last Modified", " ", "empty version"),
            ("Victim DOB", "15/13/2005", "date of birth is not a date"),
            ("Victim DOB", "15/06/2025", "after the offence date"),
        ];
        for (field, value, expected) in cases {
            let pairs: HashMap<_, _> = FULL
                .iter()
                .map(|(k, v)| (*k, if k == field { *value } else { *v }))
                .collect();
            let reason = map_record(&west_mercia(), &Row(pairs), &pseudonymiser()).unwrap_err();
            assert!(reason.contains(expected), "{field}={value}: {reason}");
            assert!(
                !reason.contains(value.trim()) || value.trim().is_empty(),
                "{reason}"
            );
        }
    }

    #[test]
    fn ages_count_whole_years() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(age_at(d(2005, 6, 15), d(2019, 6, 14)), Some(13));
        assert_eq!(age_at(d(2005, 6, 15), d(2019, 6, 15)), Some(14));
        assert_eq!(age_at(d(2004, 2, 29), d(2019, 2, 28)), Some(14));
        assert_eq!(age_at(d(2019, 1, 2), d(2019, 1, 1)), None);
    }
}

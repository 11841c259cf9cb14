//! Tests over the real data.police.uk street-level CSVs shipped in `tests/data/police-uk`:
//! every force name, crime type, outcome, month, LSOA and crime id in them must parse, and every
//! crime row must make a valid record.
//!
//! The folder is part of the repository (source and licence in `tests/data/README.md`). If it
//! is missing these tests fail: they never skip.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeZone, Utc};

use crate::{
    Category, CrimeRecord, CrimeRef, ForceId, Lineage, Lsoa, Outcome, RecordedDate, SourceFormat,
    Status, validate,
};

/// The sample folder, relative to this crate: `<repo>/crates/model/../../tests/data/...`.
const DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/police-uk");

/// The exact street CSV header (domain research §4.1).
const HEADER: [&str; 12] = [
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
];

/// Splits one CSV line into fields (RFC 4180 quoting; the files have no quoted newlines).
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, in_quotes) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => in_quotes = !in_quotes,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Every street CSV, with the police.uk force id its folder is named after.
fn sample_files() -> Vec<(String, PathBuf)> {
    let root = Path::new(DATA_DIR);
    let forces = fs::read_dir(root).unwrap_or_else(|error| {
        panic!(
            "the police.uk sample folder {} must exist (it is part of the repository): {error}",
            root.display()
        )
    });
    let mut files = Vec::new();
    for force in forces {
        let force = force.expect("readable folder entry");
        if !force.file_type().expect("file type").is_dir() {
            continue;
        }
        let force_id = force.file_name().to_string_lossy().into_owned();
        for file in fs::read_dir(force.path()).expect("readable force folder") {
            let path = file.expect("readable file entry").path();
            if path.extension().is_some_and(|extension| extension == "csv") {
                files.push((force_id.clone(), path));
            }
        }
    }
    files.sort();
    files
}

/// Rows of one file as header-name → value maps, after checking the header.
fn read_rows(path: &Path) -> Vec<BTreeMap<&'static str, String>> {
    let text = fs::read_to_string(path).expect("readable CSV");
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines();
    let header = split_csv_line(lines.next().expect("a header line"));
    assert_eq!(header, HEADER, "{}", path.display());
    lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields = split_csv_line(line);
            assert_eq!(fields.len(), HEADER.len(), "{}: {line}", path.display());
            HEADER.into_iter().zip(fields).collect()
        })
        .collect()
}

#[test]
fn every_value_in_the_police_uk_samples_parses_and_every_crime_validates() {
    let files = sample_files();
    assert!(
        files.len() >= 47,
        "expected 45 City of London and 2 Avon and Somerset files, found {}",
        files.len()
    );
    let today = NaiveDate::from_ymd_opt(2024, 6, 30).expect("date");
    let received_at = Utc
        .with_ymd_and_hms(2024, 6, 30, 12, 0, 0)
        .single()
        .expect("timestamp");
    let mut failures = Vec::new();
    let mut crime_types = BTreeMap::<String, usize>::new();
    let mut outcomes = BTreeMap::<String, usize>::new();
    let mut rows_read = 0;
    let mut records_validated = 0;
    for (folder_force, path) in &files {
        let folder_force = ForceId::from_id(folder_force).expect("folder named after a force id");
        let file_month = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.get(..7))
            .expect("file named YYYY-MM-…");
        for row in read_rows(path) {
            rows_read += 1;
            let value = |column: &str| row.get(column).map(String::as_str).unwrap_or_default();
            let mut check = |ok: bool, what: &str| {
                if !ok {
                    failures.push(format!("{}: {what}", path.display()));
                }
            };
            for column in ["Reported by", "Falls within"] {
                let force = ForceId::lookup(value(column));
                check(
                    force == Ok(folder_force),
                    &format!("{column} {:?}", value(column)),
                );
            }
            let category = Category::parse(value("Crime type"));
            check(
                category.is_ok(),
                &format!("Crime type {:?}", value("Crime type")),
            );
            *crime_types
                .entry(value("Crime type").to_owned())
                .or_default() += 1;
            let outcome = Outcome::parse_optional(value("Last outcome category"));
            check(
                outcome.is_ok(),
                &format!("Last outcome category {:?}", value("Last outcome category")),
            );
            *outcomes
                .entry(value("Last outcome category").to_owned())
                .or_default() += 1;
            let month = RecordedDate::parse_month(value("Month"));
            check(
                month.is_ok() && value("Month") == file_month,
                &format!("Month {:?}", value("Month")),
            );
            let lsoa = match value("LSOA code") {
                "" => Ok(None),
                code => Lsoa::new(code).map(Some),
            };
            check(lsoa.is_ok(), &format!("LSOA code {:?}", value("LSOA code")));
            let crime_ref = match value("Crime ID") {
                "" => None,
                id => {
                    let crime_ref = CrimeRef::new(id);
                    check(crime_ref.is_ok(), &format!("Crime ID {id:?}"));
                    crime_ref.ok()
                }
            };
            // Build the record a police.uk adapter would build, and validate it.
            if let (Some(crime_ref), Ok(category), Ok(outcome), Ok(recorded), Ok(lsoa)) =
                (crime_ref, category, outcome, month, lsoa)
            {
                let record = CrimeRecord {
                    force: folder_force,
                    crime_ref,
                    version: 0,
                    status: Status::Recorded,
                    offence_code: None,
                    category: Some(category),
                    cyber: false,
                    recorded,
                    offence_dates: None,
                    victim_age: None,
                    outcome,
                    lsoa,
                    lineage: Lineage {
                        source_format: SourceFormat::PoliceUkStreet,
                        adapter: "police-uk-street".to_owned(),
                        received_at,
                    },
                };
                let verdict = validate(&record, today);
                check(verdict.is_ok(), &format!("record rejected: {verdict:?}"));
                let round_trip = CrimeRecord::from_json(&record.to_json());
                check(round_trip.as_ref() == Ok(&record), "JSON round trip");
                records_validated += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures, first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(rows_read > 50_000, "read only {rows_read} rows");
    assert!(
        records_validated > 40_000,
        "validated only {records_validated} records"
    );
    assert_eq!(crime_types.len(), 14, "{crime_types:?}");
    assert!(
        outcomes.contains_key(""),
        "anti-social behaviour rows have no outcome"
    );
    assert!(outcomes.len() >= 25, "{outcomes:?}");
}

#[test]
fn csv_splitter_handles_quotes() {
    assert_eq!(split_csv_line("a,b,,c"), ["a", "b", "", "c"]);
    assert_eq!(
        split_csv_line(r#""On or near ""X"", Road",b"#),
        [r#"On or near "X", Road"#, "b"]
    );
}

//! data.police.uk street-level CSV, exactly as published.
//!
//! `Crime ID` is the reference (pseudonymised like any other), `Month` gives a month-precision
//! recorded date, `Crime type` the category, `Last outcome category` the outcome and `LSOA
//! code` the area. Locations and coordinates are not forwarded. Rows with an empty `Crime ID`
//! (anti-social behaviour, which is not recorded crime) are skipped as `no-crime-id`.
//!
//! police.uk has no online flag, so its records are not flagged (`cyber = false`), and no
//! revision, so the version is `YYYYMM × 10⁶ + line`: when a file repeats a Crime ID on several
//! rows (different locations or outcomes, same crime), the **last row of the latest month's
//! file wins**, and a re-sent file produces the same versions again.

use std::io::Read;

use model::ForceId;
use wire::RawRecord;

use super::{Context, Item, ReadError, ReadReport, Row, open_csv};

/// The exact street-level header.
pub const HEADER: [&str; 12] = [
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

pub(super) fn read(
    context: Context<'_>,
    input: impl Read,
    sink: &mut dyn FnMut(Row) -> bool,
) -> Result<ReadReport, ReadError> {
    let (mut reader, header) = open_csv(context.dialect, input)?;
    let mut record = csv::ByteRecord::new();
    let header_error = |message: String| ReadError::Header {
        dialect: context.dialect,
        message,
    };
    if header != HEADER {
        return Err(header_error(format!(
            "header is {:?}, expected {:?}",
            header, HEADER
        )));
    }
    let report = ReadReport {
        dropped_fields: [
            "Longitude",
            "Latitude",
            "Location",
            "LSOA name",
            "Context",
            "Falls within",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect(),
    };
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(report),
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let item = row(context, &record, line);
                if !sink(Row { line, item }) {
                    return Err(ReadError::Stopped);
                }
            }
            Err(error) => {
                // A CSV syntax error (for example an unterminated quote) poisons the rest of
                // the file: report it as one malformed row at its position and stop.
                let line = error.position().map_or(0, |p| p.line());
                let item = Item::Malformed(format!("CSV syntax error: {}", error.kind_summary()));
                sink(Row { line, item });
                return Ok(report);
            }
        }
    }
}

trait KindSummary {
    fn kind_summary(&self) -> String;
}

impl KindSummary for csv::Error {
    fn kind_summary(&self) -> String {
        match self.kind() {
            csv::ErrorKind::Io(error) => error.to_string(),
            csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".into(),
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!("expected {expected_len} fields, found {len}")
            }
            _ => "unreadable record".into(),
        }
    }
}

fn row(context: Context<'_>, record: &csv::ByteRecord, line: u64) -> Item {
    if record.len() != HEADER.len() {
        return Item::Malformed(format!(
            "expected {} fields, found {}",
            HEADER.len(),
            record.len()
        ));
    }
    let mut cells = Vec::with_capacity(HEADER.len());
    for (index, cell) in record.iter().enumerate() {
        match std::str::from_utf8(cell) {
            Ok(text) => cells.push(text.trim()),
            Err(_) => {
                return Item::Malformed(format!("invalid UTF-8 in column {:?}", HEADER[index]));
            }
        }
    }
    let [
        crime_id,
        month,
        reported_by,
        _,
        _,
        _,
        _,
        lsoa,
        _,
        crime_type,
        outcome,
        _,
    ] = cells[..]
    else {
        return Item::Malformed("unreadable record".into());
    };
    if crime_id.is_empty() {
        return Item::Skipped("no-crime-id");
    }
    match ForceId::lookup(reported_by) {
        Ok(force) if force == context.force => {}
        Ok(force) => {
            return Item::Malformed(format!(
                "row reported by {force}, but this adapter publishes for {}",
                context.force
            ));
        }
        Err(_) => {
            return Item::Malformed("unknown force in \"Reported by\"".into());
        }
    }
    let month_number = month
        .split_once('-')
        .and_then(|(y, m)| Some(y.parse::<u64>().ok()? * 100 + m.parse::<u64>().ok()?))
        .unwrap_or(0);
    let non_empty = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    Item::Record(RawRecord {
        crime_ref: Some(context.pseudonymiser.pseudonym(crime_id)),
        version: Some((month_number * 1_000_000 + line).to_string()),
        status: Some("recorded".into()),
        transferred_to: None,
        offence_code: None,
        category: non_empty(crime_type),
        cyber: Some("false".into()),
        recorded_date: non_empty(month),
        offence_from: None,
        offence_to: None,
        victim_age: None,
        outcome: non_empty(outcome),
        lsoa: non_empty(lsoa),
    })
}

//! NDJSON already in the national schema (the `model::CrimeRecord` JSON shape), one object per
//! line, from files or HTTP push. `crime_ref` is the force's own reference and is
//! pseudonymised here; `force`, when present, must be the adapter's force. Keys outside the
//! national schema are not forwarded (they are listed in the run summary).

use std::io::{BufRead, BufReader, Read};

use model::ForceId;
use serde_json::Value;
use wire::RawRecord;

use super::{Context, Item, ReadError, ReadReport, Row};

/// The longest accepted line; longer lines are malformed (and skipped to the next newline).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Keys of the national schema that are consumed here without being forwarded as fields.
const ENVELOPE_KEYS: [&str; 5] = [
    "force",
    "recorded_precision",
    "source_format",
    "adapter",
    "received_at",
];

pub(super) fn read(
    context: Context<'_>,
    input: impl Read,
    sink: &mut dyn FnMut(Row) -> bool,
) -> Result<ReadReport, ReadError> {
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut report = ReadReport::default();
    let mut buffer = Vec::new();
    let mut line = 0;
    loop {
        buffer.clear();
        let (read, too_long) = read_line_bounded(&mut reader, &mut buffer)?;
        if read == 0 {
            return Ok(report);
        }
        line += 1;
        let item = if too_long {
            Item::Malformed(format!("line longer than {MAX_LINE_BYTES} bytes"))
        } else {
            parse_line(context, &buffer, &mut report)
        };
        // A blank line is not a record (NDJSON writers often end with one).
        if item == Item::Skipped("blank-line") {
            continue;
        }
        if !sink(Row { line, item }) {
            return Err(ReadError::Stopped);
        }
    }
}

/// Reads one line into `buffer` (without the newline), keeping at most `MAX_LINE_BYTES`.
/// Returns the bytes consumed and whether the line was cut.
fn read_line_bounded(
    reader: &mut impl BufRead,
    buffer: &mut Vec<u8>,
) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut too_long = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok((consumed, too_long));
        }
        let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (&available[..end], Some(end + 1)),
            None => (available, None),
        };
        if buffer.len() + chunk.len() > MAX_LINE_BYTES {
            too_long = true;
        } else {
            buffer.extend_from_slice(chunk);
        }
        let used = found.unwrap_or(available.len());
        reader.consume(used);
        consumed += used;
        if found.is_some() {
            return Ok((consumed, too_long));
        }
    }
}

fn parse_line(context: Context<'_>, bytes: &[u8], report: &mut ReadReport) -> Item {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Item::Malformed("invalid UTF-8".into());
    };
    let text = text.trim_end_matches('\r').trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Item::Skipped("blank-line");
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => {
            return Item::Malformed(format!(
                "invalid JSON at column {} ({:?})",
                error.column(),
                error.classify()
            ));
        }
    };
    let Some(object) = value.as_object() else {
        return Item::Malformed("line is not a JSON object".into());
    };
    let field = |name: &str| -> Option<String> {
        match object.get(name)? {
            Value::Null => None,
            Value::String(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
            Value::Bool(flag) => Some(flag.to_string()),
            Value::Number(number) => Some(number.to_string()),
            other => Some(other.to_string()),
        }
    };
    if let Some(claimed) = field("force") {
        match ForceId::lookup(&claimed) {
            Ok(force) if force == context.force => {}
            _ => {
                return Item::Malformed(format!(
                    "record for force {claimed:?} in {}'s feed",
                    context.force
                ));
            }
        }
    }
    let Some(reference) = field("crime_ref") else {
        return Item::Malformed("missing crime_ref".into());
    };
    let mut record = RawRecord {
        crime_ref: Some(context.pseudonymiser.pseudonym(&reference)),
        version: field("version"),
        status: field("status"),
        transferred_to: field("transferred_to"),
        offence_code: field("offence_code"),
        category: field("category"),
        cyber: field("cyber"),
        recorded_date: field("recorded_date"),
        offence_from: field("offence_from"),
        offence_to: field("offence_to"),
        victim_age: field("victim_age"),
        outcome: field("outcome"),
        lsoa: field("lsoa"),
    };
    if field("recorded_precision").as_deref() == Some("month") {
        // Month precision travels as `YYYY-MM`.
        record.recorded_date = record
            .recorded_date
            .map(|date| date.strip_suffix("-01").map(str::to_owned).unwrap_or(date));
    }
    for key in object.keys() {
        if !NATIONAL_KEYS.contains(&key.as_str()) && !ENVELOPE_KEYS.contains(&key.as_str()) {
            report.dropped_fields.insert(key.clone());
        }
    }
    Item::Record(record)
}

/// The national schema's record fields.
const NATIONAL_KEYS: [&str; 13] = [
    "crime_ref",
    "version",
    "status",
    "transferred_to",
    "offence_code",
    "category",
    "cyber",
    "recorded_date",
    "offence_from",
    "offence_to",
    "victim_age",
    "outcome",
    "lsoa",
];

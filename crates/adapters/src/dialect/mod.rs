//! Dialect readers: a force's export bytes in, one [`Row`] per source record out, streaming.
//!
//! Readers never hold more than one record in memory, never panic on input, and account for
//! every record: each becomes a [`Item::Record`], an [`Item::Skipped`] with a reason (rows
//! that are not recorded crime), or an [`Item::Malformed`] with a reason that holds none of
//! the row's content. A file that is not in the dialect at all (wrong header) is an error.

mod force_csv;
mod force_json;
mod ndjson;
mod police_uk;

use std::collections::BTreeSet;
use std::io::Read;

use model::ForceId;
use wire::{Dialect, Pseudonymiser, RawRecord};

use crate::profile::Mapping;

/// One source record's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every row is a record; boxing it would add an allocation per row"
)]
pub enum Item {
    /// Mapped; to be published.
    Record(RawRecord),
    /// Deliberately not published (for example anti-social behaviour, which is not recorded
    /// crime); the reason is a stable kebab-case code counted in the run summary.
    Skipped(&'static str),
    /// Could not be read or mapped; published as a content-free marker so the national side
    /// sees it in the dead-letter topic.
    Malformed(String),
}

/// One source record and its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line (CSV, NDJSON) or array element (JSON) number.
    pub line: u64,
    /// What happened to it.
    pub item: Item,
}

/// What a reader noticed about the file as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Source fields present in the file that the mapping does not name, so were not
    /// forwarded (names, addresses, notes…). Reported so operators see what stayed behind.
    pub dropped_fields: BTreeSet<String>,
}

/// Why a whole file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file's header is not the dialect's.
    #[error("not a {dialect} file: {message}")]
    Header {
        /// The dialect expected.
        dialect: Dialect,
        /// What differs.
        message: String,
    },
    /// Reading the bytes failed.
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
    /// The consumer of rows stopped (the run is shutting down).
    #[error("stopped")]
    Stopped,
}

/// Everything a reader needs besides the bytes.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The adapter's force.
    pub force: ForceId,
    /// The dialect.
    pub dialect: Dialect,
    /// The mapping (force CSV and JSON exports).
    pub mapping: Option<&'a Mapping>,
    /// Pseudonymises crime references.
    pub pseudonymiser: &'a Pseudonymiser,
}

/// Reads `input` in `context.dialect`, handing each row to `sink` in order. `sink` returns
/// `false` to stop early.
pub fn read(
    context: Context<'_>,
    input: impl Read,
    sink: &mut dyn FnMut(Row) -> bool,
) -> Result<ReadReport, ReadError> {
    match (context.dialect, context.mapping) {
        (Dialect::PoliceUkStreet, _) => police_uk::read(context, input, sink),
        (Dialect::NationalNdjson, _) => ndjson::read(context, input, sink),
        (Dialect::ForceCsv, Some(mapping)) => force_csv::read(context, mapping, input, sink),
        (Dialect::ForceJson, Some(mapping)) => force_json::read(context, mapping, input, sink),
        (dialect, None) => Err(ReadError::Header {
            dialect,
            message: "the profile has no [mapping] for this dialect".into(),
        }),
    }
}

/// The source fields a mapping reads.
fn mapped_fields(mapping: &Mapping) -> Vec<&str> {
    [
        Some(&mapping.crime_ref),
        Some(&mapping.version),
        Some(&mapping.recorded_date),
        mapping.offence_from.as_ref(),
        mapping.offence_to.as_ref(),
        mapping.offence_code.as_ref(),
        mapping.category.as_ref(),
        mapping.cyber.as_ref(),
        mapping.victim_age.as_ref(),
        mapping.victim_date_of_birth.as_ref(),
        mapping.status.as_ref(),
        mapping.transferred_to.as_ref(),
        mapping.outcome.as_ref(),
        mapping.lsoa.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .collect()
}

/// Opens a CSV export: a reader that accepts rows of any length (each row is checked against
/// the header, so a short row is a malformed row rather than a fatal error) and the header's
/// cells, trimmed, without a byte-order mark.
fn open_csv<R: Read>(
    dialect: Dialect,
    input: R,
) -> Result<(csv::Reader<R>, Vec<String>), ReadError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(csv_error)? {
        return Err(ReadError::Header {
            dialect,
            message: "the file is empty".into(),
        });
    }
    let header = record
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let text = String::from_utf8_lossy(cell).trim().to_owned();
            if i == 0 {
                strip_bom(&text).to_owned()
            } else {
                text
            }
        })
        .collect();
    Ok((reader, header))
}

/// A CSV error that ends the file (I/O) as a [`ReadError`].
fn csv_error(error: csv::Error) -> ReadError {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => ReadError::Io(error),
        other => ReadError::Io(std::io::Error::other(format!("{other:?}"))),
    }
}

/// Removes a UTF-8 byte-order mark from the first header cell.
fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

#[cfg(test)]
mod hostile;

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::profile::Profile;

    fn pseudonymiser(force: &str) -> Pseudonymiser {
        Pseudonymiser::new(force, wire::Secret::from_bytes([9; 32]))
    }

    fn read_all(context: Context<'_>, bytes: &[u8]) -> Result<(Vec<Row>, ReadReport), ReadError> {
        let mut rows = Vec::new();
        let report = read(context, bytes, &mut |row| {
            rows.push(row);
            true
        })?;
        Ok((rows, report))
    }

    fn police_uk_files() -> Vec<PathBuf> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/police-uk");
        let mut files = Vec::new();
        for force in std::fs::read_dir(root).expect("tests/data/police-uk in the repository") {
            for file in std::fs::read_dir(force.unwrap().path()).unwrap() {
                files.push(file.unwrap().path());
            }
        }
        files.sort();
        files
    }

    /// Every real police.uk file: one record per row with a Crime ID, one `no-crime-id` skip
    /// per row without, nothing malformed, and no location or coordinates forwarded.
    #[test]
    fn the_real_police_uk_files_are_read_completely() {
        let files = police_uk_files();
        assert!(
            files.len() >= 47,
            "expected the 47 shipped files, found {}",
            files.len()
        );
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let force_name = text.lines().nth(1).unwrap().split(',').nth(2).unwrap();
            let force = ForceId::lookup(force_name).unwrap();
            let p = pseudonymiser(force.as_str());
            let context = Context {
                force,
                dialect: Dialect::PoliceUkStreet,
                mapping: None,
                pseudonymiser: &p,
            };
            let (rows, report) = read_all(context, text.as_bytes()).unwrap();
            let data_lines: Vec<&str> = text.lines().skip(1).collect();
            let with_id = data_lines.iter().filter(|l| !l.starts_with(',')).count();
            let records = rows
                .iter()
                .filter(|r| matches!(r.item, Item::Record(_)))
                .count();
            let skipped = rows
                .iter()
                .filter(|r| r.item == Item::Skipped("no-crime-id"))
                .count();
            assert_eq!(records, with_id, "{}", path.display());
            assert_eq!(skipped, data_lines.len() - with_id, "{}", path.display());
            assert_eq!(rows.len(), data_lines.len(), "{}", path.display());
            assert!(report.dropped_fields.contains("Location"));
            for row in &rows {
                if let Item::Record(record) = &row.item {
                    let json = serde_json::to_string(record).unwrap();
                    assert!(!json.contains("On or near"), "location forwarded: {json}");
                    assert_eq!(record.crime_ref.as_ref().unwrap().len(), 64);
                    assert_eq!(record.cyber.as_deref(), Some("false"));
                }
            }
        }
    }

    #[test]
    fn police_uk_versions_make_the_last_repeated_row_win() {
        let header = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n";
        let body = format!(
            "\u{feff}{header}abc,2019-01,City of London Police,City of London Police,,,No Location,,,Theft from the person,Under investigation,\n\
             abc,2019-01,City of London Police,City of London Police,,,No Location,,,Theft from the person,Investigation complete; no suspect identified,\n"
        );
        let force = ForceId::from_id("city-of-london").unwrap();
        let p = pseudonymiser("city-of-london");
        let context = Context {
            force,
            dialect: Dialect::PoliceUkStreet,
            mapping: None,
            pseudonymiser: &p,
        };
        let (rows, _) = read_all(context, body.as_bytes()).unwrap();
        let versions: Vec<u64> = rows
            .iter()
            .map(|r| match &r.item {
                Item::Record(record) => record.version.as_ref().unwrap().parse().unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(versions, vec![201_901_000_002, 201_901_000_003]);
    }

    #[test]
    fn hostile_police_uk_rows_are_malformed_not_fatal() {
        let header = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n";
        let mut body = header.as_bytes().to_vec();
        body.extend_from_slice(b"a,2019-01,City of London Police\n");
        body.extend_from_slice(b"b,2019-01,Kent Police,Kent Police,,,,,,Burglary,,\n");
        body.extend_from_slice(b"c,2019-01,City of London Police,x,,,\xff\xfe,,,Burglary,,\n");
        body.extend_from_slice(b"d,2019-01,City of London Police,x,,,,,,Burglary,,\n");
        let force = ForceId::from_id("city-of-london").unwrap();
        let p = pseudonymiser("city-of-london");
        let context = Context {
            force,
            dialect: Dialect::PoliceUkStreet,
            mapping: None,
            pseudonymiser: &p,
        };
        let (rows, _) = read_all(context, &body).unwrap();
        let reasons: Vec<String> = rows
            .iter()
            .map(|r| match &r.item {
                Item::Malformed(reason) => reason.clone(),
                Item::Record(_) => "record".into(),
                Item::Skipped(reason) => (*reason).into(),
            })
            .collect();
        assert_eq!(reasons[0], "expected 12 fields, found 3");
        assert!(reasons[1].contains("reported by kent"), "{}", reasons[1]);
        assert!(reasons[2].contains("invalid UTF-8"), "{}", reasons[2]);
        assert_eq!(reasons[3], "record");
        let wrong = b"Crime ID,Month\n";
        assert!(matches!(
            read_all(context, wrong),
            Err(ReadError::Header { .. })
        ));
    }

    fn shipped(name: &str) -> Profile {
        let path = format!("{}/../../deploy/forces/{name}", env!("CARGO_MANIFEST_DIR"));
        Profile::load(std::path::Path::new(&path)).unwrap()
    }

    #[test]
    fn a_force_json_export_streams_and_keeps_private_fields_behind() {
        let profile = shipped("avon-and-somerset.toml");
        let force = profile.force_id().unwrap();
        let p = pseudonymiser("avon-and-somerset");
        let context = Context {
            force,
            dialect: Dialect::ForceJson,
            mapping: profile.mapping.as_ref(),
            pseudonymiser: &p,
        };
        let body = r#"[
          {"reference":"AS/19/1","revision":2,"recorded":"2019-03-04T10:22:00Z",
           "offence":{"code":"88a","from":"2019-02-01","to":"2019-03-01"},"flags":{"online":"TRUE"},
           "victim":{"age":13,"name":"Jane Example","address":"1 Example Road"},"status":"RECORDED",
           "transfer":{"force":null},"outcome":null,"location":{"lsoa":"E01014399","street":"Example Road"},
           "notes":"private notes"},
          42,
          {"reference":"AS/19/2","revision":1,"recorded":"2019-03-05T00:00:00Z","status":"CANCELLED","flags":{"online":false}}
        ]"#;
        let (rows, report) = read_all(context, body.as_bytes()).unwrap();
        assert_eq!(rows.len(), 3);
        let Item::Record(first) = &rows[0].item else {
            panic!("{:?}", rows[0])
        };
        assert_eq!(first.recorded_date.as_deref(), Some("2019-03-04"));
        assert_eq!(first.cyber.as_deref(), Some("true"));
        assert_eq!(first.victim_age.as_deref(), Some("13"));
        assert_eq!(first.offence_code.as_deref(), Some("88a"));
        let json = serde_json::to_string(first).unwrap();
        for private in ["Jane", "Example Road", "private notes", "AS/19/1"] {
            assert!(!json.contains(private), "{private} leaked: {json}");
        }
        assert_eq!(
            rows[1].item,
            Item::Malformed("array element is not an object".into())
        );
        let Item::Record(third) = &rows[2].item else {
            panic!()
        };
        assert_eq!(third.status.as_deref(), Some("cancelled"));
        assert_eq!(third.cyber.as_deref(), Some("false"));
        assert!(report.dropped_fields.contains("notes"));

        let truncated = r#"[{"reference":"AS/19/1","revision":2,"recorded":"2019-03-04"}, {"refer"#;
        let (rows, _) = read_all(context, truncated.as_bytes()).unwrap();
        assert!(matches!(rows[0].item, Item::Record(_)));
        assert!(matches!(&rows[1].item, Item::Malformed(r) if r.contains("invalid JSON")));
        assert!(matches!(
            read_all(context, b"{\"not\":\"an array\"}"),
            Err(ReadError::Header { .. })
        ));
    }

    #[test]
    fn national_ndjson_lines_are_pseudonymised_and_checked() {
        let force = ForceId::from_id("metropolitan").unwrap();
        let p = pseudonymiser("metropolitan");
        let context = Context {
            force,
            dialect: Dialect::NationalNdjson,
            mapping: None,
            pseudonymiser: &p,
        };
        let body = concat!(
            r#"{"force":"metropolitan","crime_ref":"MPS-1","version":1,"status":"recorded","offence_code":"71/17","cyber":true,"recorded_date":"2019-01-01","recorded_precision":"month","victim_age":13,"victim_name":"x"}"#,
            "\n\n",
            r#"{"force":"kent","crime_ref":"K-1","version":1}"#,
            "\nnot json\n[1]\n"
        );
        let (rows, report) = read_all(context, body.as_bytes()).unwrap();
        assert_eq!(rows.len(), 4, "the blank line is not a row");
        let Item::Record(record) = &rows[0].item else {
            panic!()
        };
        assert_eq!(
            record.crime_ref.as_deref(),
            Some(p.pseudonym("MPS-1").as_str())
        );
        assert_eq!(record.recorded_date.as_deref(), Some("2019-01"));
        assert_eq!(record.cyber.as_deref(), Some("true"));
        assert_eq!(rows[1].line, 3);
        assert!(matches!(&rows[1].item, Item::Malformed(r) if r.contains("kent")));
        assert!(matches!(&rows[2].item, Item::Malformed(r) if r.contains("invalid JSON")));
        assert!(matches!(&rows[3].item, Item::Malformed(r) if r.contains("not a JSON object")));
        assert!(report.dropped_fields.contains("victim_name"));

        let mut long = vec![b'{'; ndjson::MAX_LINE_BYTES + 10];
        long.extend_from_slice(b"\n{\"crime_ref\":\"a\",\"version\":1}\n");
        let (rows, _) = read_all(context, &long).unwrap();
        assert!(matches!(&rows[0].item, Item::Malformed(r) if r.contains("longer than")));
        assert!(
            matches!(rows[1].item, Item::Record(_)),
            "the record after a huge line survives"
        );
    }
}

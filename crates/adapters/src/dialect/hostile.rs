//! The hostile-input corpus, as tests: every reader meets byte-order marks, CRLF and mixed line
//! endings, quoted newlines, NUL bytes, invalid UTF-8, 10 MB lines, 100,000-column rows,
//! deeply nested JSON, formula injection and absurd numbers. Each case must give a clear
//! per-row outcome (a record, or malformed with a reason), never a panic, and the valid row
//! after it must still be read.

use model::ForceId;
use wire::{Dialect, Pseudonymiser};

use super::{Context, Item, Row, read};
use crate::profile::Profile;

const POLICE_UK_HEADER: &str = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context";
const VALID_POLICE_UK: &str = "ok,2019-01,City of London Police,City of London Police,,,On or near X,,,Burglary,Under investigation,";

fn rows(dialect: Dialect, force: &str, profile: Option<&str>, bytes: &[u8]) -> Vec<Row> {
    let pseudonymiser = Pseudonymiser::new(force, wire::Secret::from_bytes([3; 32]));
    let profile = profile.map(|name| {
        let path = format!("{}/../../deploy/forces/{name}", env!("CARGO_MANIFEST_DIR"));
        Profile::load(std::path::Path::new(&path)).unwrap()
    });
    let context = Context {
        force: ForceId::from_id(force).unwrap(),
        dialect,
        mapping: profile.as_ref().and_then(|p| p.mapping.as_ref()),
        pseudonymiser: &pseudonymiser,
    };
    let mut out = Vec::new();
    let result = read(context, bytes, &mut |row| {
        out.push(row);
        true
    });
    result.unwrap_or_else(|e| panic!("a whole-file error for a row-level problem: {e}"));
    out
}

fn outcome(row: &Row) -> String {
    match &row.item {
        Item::Record(_) => "record".into(),
        Item::Skipped(reason) => format!("skipped {reason}"),
        Item::Malformed(reason) => format!("malformed {reason}"),
    }
}

/// A police.uk file whose first data row is `hostile`, followed by a valid row.
fn police_uk(hostile: &[u8], newline: &[u8]) -> Vec<u8> {
    let mut bytes = POLICE_UK_HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(newline);
    bytes.extend_from_slice(hostile);
    bytes.extend_from_slice(newline);
    bytes.extend_from_slice(VALID_POLICE_UK.as_bytes());
    bytes.extend_from_slice(newline);
    bytes
}

#[test]
fn police_uk_csv_survives_the_corpus() {
    let ten_megabytes = format!(
        "big,2019-01,City of London Police,City of London Police,,,{},,,Burglary,,",
        "x".repeat(10 * 1024 * 1024)
    );
    let wide = format!("wide{}", ",".repeat(100_000));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("byte-order mark and CRLF", {
            let mut b = "\u{feff}".as_bytes().to_vec();
            b.extend(police_uk(VALID_POLICE_UK.as_bytes(), b"\r\n"));
            b
        }, "record"),
        // Found by fuzzing: records separated by a lone CR are all read (they share a line
        // number, since the CSV reader counts line feeds).
        (
            "CR-only line endings",
            police_uk(VALID_POLICE_UK.as_bytes(), b"\r"),
            "record",
        ),
        ("mixed line endings", {
            let mut b = police_uk(VALID_POLICE_UK.as_bytes(), b"\n");
            b.splice(POLICE_UK_HEADER.len()..POLICE_UK_HEADER.len() + 1, b"\r\n".iter().copied());
            b
        }, "record"),
        ("quoted newline in a field", police_uk(
            b"q,2019-01,City of London Police,City of London Police,,,\"On or near\nSomewhere\",,,Burglary,,",
            b"\n",
        ), "record"),
        ("NUL bytes", police_uk(
            b"n\0ul,2019-01,City of London Police,City of London Police,,,\0\0,,,Burglary,,",
            b"\n",
        ), "record"),
        ("invalid UTF-8", police_uk(
            b"u,2019-01,City of London Police,City of London Police,,,\xc3\x28,,,Burglary,,",
            b"\n",
        ), "malformed"),
        ("a 10 MB line", police_uk(ten_megabytes.as_bytes(), b"\n"), "record"),
        ("100,000 columns", police_uk(wide.as_bytes(), b"\n"), "malformed"),
        ("formula injection", police_uk(
            b"=cmd|' /C calc'!A0,2019-01,City of London Police,City of London Police,,,@SUM(1+1),,,Burglary,,",
            b"\n",
        ), "record"),
        ("a month of 0000-00", police_uk(
            b"z,0000-00,City of London Police,City of London Police,,,,,,Burglary,,",
            b"\n",
        ), "record"), // ingest rejects the date: its own test
        ("a huge coordinate", police_uk(
            b"h,2019-01,City of London Police,City of London Police,1e400,-1e400,,,,Burglary,,",
            b"\n",
        ), "record"),
    ];
    for (name, bytes, expected) in cases {
        let rows = rows(Dialect::PoliceUkStreet, "city-of-london", None, &bytes);
        assert_eq!(
            rows.len(),
            2,
            "{name}: {:?}",
            rows.iter().map(outcome).collect::<Vec<_>>()
        );
        assert!(
            outcome(&rows[0]).starts_with(expected),
            "{name}: {}",
            outcome(&rows[0])
        );
        assert_eq!(
            outcome(&rows[1]),
            "record",
            "{name}: the valid row after it"
        );
    }
}

#[test]
fn national_ndjson_survives_the_corpus() {
    let valid = r#"{"crime_ref":"ok","version":1,"status":"recorded","offence_code":"88A","cyber":true,"recorded_date":"2019-01-01","recorded_precision":"day"}"#;
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("deeply nested JSON", nested.into_bytes(), "malformed"),
        (
            "a 10 MB line",
            format!(r#"{{"crime_ref":"{}"}}"#, "x".repeat(10 * 1024 * 1024)).into_bytes(),
            "malformed",
        ),
        (
            "NUL bytes",
            b"{\"crime_ref\":\"a\0b\",\"version\":1}".to_vec(),
            "malformed", // JSON forbids raw control characters
        ),
        (
            "invalid UTF-8",
            b"{\"crime_ref\":\"\xff\"}".to_vec(),
            "malformed",
        ),
        (
            "a version of 10^30",
            br#"{"crime_ref":"a","version":1000000000000000000000000000000}"#.to_vec(),
            "record",
        ),
        (
            "a negative version",
            br#"{"crime_ref":"a","version":-1}"#.to_vec(),
            "record",
        ),
        (
            "a float version",
            br#"{"crime_ref":"a","version":1e400}"#.to_vec(),
            "malformed",
        ),
        (
            "a byte-order mark",
            [&[0xef, 0xbb, 0xbf][..], valid.as_bytes()].concat(),
            "record",
        ),
        (
            "CR line ending",
            format!("{valid}\r").into_bytes(),
            "record",
        ),
        (
            "formula injection",
            br#"{"crime_ref":"=HYPERLINK(\"http://x\")","version":1,"lsoa":"+1"}"#.to_vec(),
            "record",
        ),
    ];
    for (name, hostile, expected) in cases {
        let mut bytes = hostile.clone();
        bytes.push(b'\n');
        bytes.extend_from_slice(valid.as_bytes());
        bytes.push(b'\n');
        let rows = rows(Dialect::NationalNdjson, "metropolitan", None, &bytes);
        assert_eq!(
            rows.len(),
            2,
            "{name}: {:?}",
            rows.iter().map(outcome).collect::<Vec<_>>()
        );
        assert!(
            outcome(&rows[0]).starts_with(expected),
            "{name}: {}",
            outcome(&rows[0])
        );
        assert_eq!(
            outcome(&rows[1]),
            "record",
            "{name}: the valid row after it"
        );
    }
}

#[test]
fn force_json_and_csv_survive_the_corpus() {
    // Avon and Somerset's JSON export with an element nested far deeper than any real one
    // after a valid element: the valid one is read, then the file stops with an error that
    // says where (a JSON array cannot be resynchronised after a broken element).
    let pseudonymiser = Pseudonymiser::new("avon-and-somerset", wire::Secret::from_bytes([3; 32]));
    let path = format!(
        "{}/../../deploy/forces/avon-and-somerset.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let profile = Profile::load(std::path::Path::new(&path)).unwrap();
    let context = Context {
        force: ForceId::from_id("avon-and-somerset").unwrap(),
        dialect: Dialect::ForceJson,
        mapping: profile.mapping.as_ref(),
        pseudonymiser: &pseudonymiser,
    };
    for hostile in [
        format!(
            "[{{\"x\":1}},{}1{}]",
            "[".repeat(10_000),
            "]".repeat(10_000)
        ),
        "[{\"x\":1},{\"CaseRef\":\"A1\",".to_owned(),
    ] {
        let mut seen = Vec::new();
        let result = read(context, hostile.as_bytes(), &mut |row| {
            seen.push(row);
            true
        });
        assert!(
            matches!(
                seen.first().map(|r| &r.item),
                Some(Item::Malformed(_) | Item::Record(_))
            ),
            "the element before the damage is read"
        );
        // Either the file ends with an error saying where, or the damaged element is a
        // malformed row: never a record, never a panic.
        match result {
            Err(error) => assert!(error.to_string().contains("line 1 column"), "{error}"),
            Ok(_) => assert!(
                matches!(seen.last().map(|r| &r.item), Some(Item::Malformed(_))),
                "{:?}",
                seen.iter().map(outcome).collect::<Vec<_>>()
            ),
        }
    }

    // West Mercia's CSV export with a 100,000-column row and NUL bytes.
    let path = format!(
        "{}/../../deploy/forces/west-mercia.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("Crime Reference"));
    let header = "Crime Reference,Last Modified,Recorded Date,Committed From,Committed To,HO Code,Online Flag,Victim DOB,Status,Transferred To,Outcome,LSOA";
    let valid = "WM1,01/02/2019 10:00:00,01/02/2019,01/01/2019,01/01/2019,88A,Y,01/01/2005,Recorded,,,E01000001";
    let wide = format!("WM2{}", ",x".repeat(100_000));
    let bytes = format!("{header}\n{wide}\nW\0M3,\0,,,,,,,,,,\n{valid}\n");
    let rows_csv = rows(
        Dialect::ForceCsv,
        "west-mercia",
        Some("west-mercia.toml"),
        bytes.as_bytes(),
    );
    let outcomes: Vec<String> = rows_csv.iter().map(outcome).collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert!(outcomes[0].starts_with("malformed"), "{outcomes:?}");
    // NUL bytes in values are forwarded as they are; ingest rejects the unreadable version
    // (its own test) and the reference is pseudonymised like any other.
    assert_eq!(outcomes[1], "record", "{outcomes:?}");
    assert_eq!(outcomes[2], "record", "{outcomes:?}");
}

//! The three export dialects, exactly as the shipped adapter profiles map them, and the
//! malformed rows injected into them.
//!
//! - **force-csv** (West Mercia's mapping): one header row, then one row per record version;
//!   dates `dd/mm/yyyy`, `Last Modified` `dd/mm/yyyy HH:MM:SS` (strictly increasing per crime),
//!   offence codes in varied real spellings, private victim fields and officer notes, CRLF line
//!   ends, quoting only where needed. In all-crime mode a 16th column, `Crime Type` (police.uk
//!   slug), carries the category of volume crime, which has no Home Office code.
//! - **force-json** (Avon and Somerset's mapping): one top-level array, one object per line,
//!   nested fields, `revision` strictly increasing per crime, police.uk outcome names.
//! - **national-ndjson** (Metropolitan's): one `model::CrimeRecord` JSON line per version.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::rc::Rc;

use chrono::{Datelike, NaiveDate, TimeDelta};
use model::{
    CrimeRecord, CrimeRef, DateRange, Lineage, Lsoa, Outcome, PoliceUkOutcome, RecordedDate,
    SourceFormat, Status,
};
use serde::Serialize;

use crate::Error;
use crate::crime::{Crime, References, Version, date_of_birth};
use crate::fake::private;
use crate::mix::{Tables, UNKNOWN_CODES, police_uk_outcome};
use crate::options::Options;
use crate::random::{Rng, between, chance, index, mix};
use crate::summary::MalformedKind;

/// The force-csv header (West Mercia's export), without the all-crime `Crime Type` column.
pub const CSV_HEADER: [&str; 15] = [
    "Crime Reference",
    "Last Modified",
    "Recorded Date",
    "Committed From",
    "Committed To",
    "HO Code",
    "Online Flag",
    "Victim DOB",
    "Victim Name",
    "Victim Address",
    "Status",
    "Transferred To",
    "Outcome",
    "LSOA",
    "Officer Notes",
];

/// The extra force-csv column of all-crime mode.
pub const CSV_CATEGORY_COLUMN: &str = "Crime Type";

/// What one file holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileStats {
    /// Record versions.
    pub(crate) versions: u64,
    /// Malformed rows, by kind.
    pub(crate) malformed: Vec<MalformedKind>,
}

/// What writing needs besides the versions.
#[derive(Debug)]
pub(crate) struct WriteContext<'a> {
    pub(crate) options: &'a Options,
    pub(crate) tables: &'a Tables,
    pub(crate) references: &'a mut References,
    pub(crate) rng: Rng,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn internal(error: impl std::fmt::Display) -> Error {
    Error::Internal(error.to_string())
}

/// True when the force's system shows "under investigation" before an outcome (a per-crime
/// habit, so that every version of a crime agrees).
fn shows_under_investigation(version: &Version) -> bool {
    version.outcome.is_none()
        && version.status == Status::Recorded
        && version.crime.private_seed & 1 == 1
}

/// The national-schema record of a version, as the national-ndjson dialect writes it.
pub(crate) fn national_record(version: &Version) -> Result<CrimeRecord, Error> {
    let crime = &version.crime;
    let outcome = match version.outcome {
        Some(outcome) => Some(Outcome::HomeOffice(outcome)),
        None if shows_under_investigation(version) => {
            Some(Outcome::PoliceUk(PoliceUkOutcome::UnderInvestigation))
        }
        None => None,
    };
    let delay = 1 + mix(crime.private_seed ^ u64::from(version.seq)) % 90;
    let received_at = version.at + TimeDelta::minutes(i64::try_from(delay).unwrap_or(1));
    Ok(CrimeRecord {
        force: crime.force,
        crime_ref: CrimeRef::new(crime.reference.clone()).map_err(internal)?,
        version: u64::from(version.seq),
        status: version.status,
        offence_code: version.code,
        category: Some(version.category),
        cyber: version.cyber,
        recorded: RecordedDate::day(crime.recorded()),
        offence_dates: Some(DateRange {
            from: crime.offence_from,
            to: crime.offence_to,
        }),
        victim_age: crime.age,
        outcome,
        lsoa: crime.lsoa_code().and_then(|code| Lsoa::new(code).ok()),
        lineage: Lineage {
            source_format: SourceFormat::NationalNdjson,
            adapter: format!("{}-sim", crime.force),
            received_at: received_at.and_utc(),
        },
    })
}

/// A (day, month) that does not exist in `year`.
fn impossible_day(rng: &mut Rng, year: i32) -> (u32, u32) {
    let mut days = vec![(30, 2), (31, 2), (31, 4), (31, 6), (31, 9), (31, 11)];
    if NaiveDate::from_ymd_opt(year, 2, 29).is_none() {
        days.push((29, 2));
    }
    days.get(index(rng, days.len())).copied().unwrap_or((31, 2))
}

/// A force-written spelling of an offence code: `71/17`, `071/17`, `88a`, ` 86/2 `.
fn code_spelling(rng: &mut Rng, code: &str) -> String {
    let draw = between(rng, 0, 9);
    match draw {
        0 => code.to_lowercase(),
        1 => {
            let digits = code.chars().take_while(char::is_ascii_digit).count();
            format!("{}{code}", "0".repeat(3usize.saturating_sub(digits)))
        }
        2 => format!(" {code} "),
        _ => code.to_owned(),
    }
}

/// The writer of one file in one dialect.
enum Sink {
    Csv {
        writer: Box<csv::Writer<BufWriter<File>>>,
        all_crime: bool,
    },
    Json {
        out: BufWriter<File>,
        first: bool,
    },
    Ndjson {
        out: BufWriter<File>,
    },
}

/// force-json objects, field order as the force's system writes them.
#[derive(Serialize)]
struct JsonRow<'a> {
    reference: &'a str,
    revision: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    recorded: Option<String>,
    offence: JsonOffence,
    flags: JsonFlags,
    victim: JsonVictim,
    status: &'static str,
    transfer: JsonTransfer,
    outcome: Option<&'static str>,
    location: JsonLocation,
    notes: String,
}

#[derive(Serialize)]
struct JsonOffence {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'static str>,
    from: String,
    to: String,
}

#[derive(Serialize)]
struct JsonFlags {
    online: &'static str,
}

#[derive(Serialize)]
struct JsonVictim {
    age: Option<u8>,
    name: String,
    address: String,
}

#[derive(Serialize)]
struct JsonTransfer {
    force: Option<&'static str>,
}

#[derive(Serialize)]
struct JsonLocation {
    lsoa: Option<String>,
    street: String,
}

/// `dd/mm/yyyy`.
fn uk_date(date: NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

/// The force's display name for a transfer target, as forces write it.
fn force_name(rng: &mut Rng, status: Status) -> Option<&'static str> {
    status.transferred_to().map(|to| {
        let info = to.info();
        if chance(rng, 0.2) {
            info.ons_name
        } else {
            info.name
        }
    })
}

fn csv_fields(version: &Version, rng: &mut Rng, all_crime: bool) -> Vec<String> {
    let crime = &version.crime;
    let private = private(crime.private_seed, crime.general);
    let status = match version.status {
        Status::Recorded if chance(rng, 0.2) => "Crime",
        Status::Recorded => "Recorded",
        Status::Cancelled if chance(rng, 0.3) => "No Crime",
        Status::Cancelled => "Cancelled",
        Status::Transferred { .. } => "Transferred",
    };
    let outcome = version.outcome.map_or_else(String::new, |outcome| {
        let code = outcome.code();
        if code.len() == 1 && chance(rng, 0.3) {
            format!("OC0{code}")
        } else {
            format!("OC{code}")
        }
    });
    let mut fields = vec![
        crime.reference.clone(),
        version.at.format("%d/%m/%Y %H:%M:%S").to_string(),
        uk_date(crime.recorded()),
        uk_date(crime.offence_from),
        uk_date(crime.offence_to),
        version
            .code
            .map_or_else(String::new, |code| code_spelling(rng, &code.to_string())),
        if version.cyber { "Y" } else { "N" }.to_owned(),
        crime.dob.map_or_else(String::new, uk_date),
        private.name,
        private.address,
        status.to_owned(),
        force_name(rng, version.status).unwrap_or("").to_owned(),
        outcome,
        crime.lsoa_code().unwrap_or_default(),
        private.notes,
    ];
    if all_crime {
        fields.push(if version.code.is_some() {
            String::new()
        } else {
            version.category.slug().to_owned()
        });
    }
    fields
}

fn json_row<'a>(version: &'a Version, rng: &mut Rng) -> JsonRow<'a> {
    let crime = &version.crime;
    let private = private(crime.private_seed, crime.general);
    let category = if version.code.is_none() || chance(rng, 0.5) {
        Some(version.category.slug())
    } else {
        None
    };
    let outcome = match version.outcome {
        Some(outcome) => Some(police_uk_outcome(outcome).name()),
        None if shows_under_investigation(version) => {
            Some(PoliceUkOutcome::UnderInvestigation.name())
        }
        None => None,
    };
    JsonRow {
        reference: &crime.reference,
        revision: version.seq,
        recorded: Some(crime.recorded_at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        offence: JsonOffence {
            code: version.code.map(|code| code.to_string()),
            category,
            from: crime.offence_from.to_string(),
            to: crime.offence_to.to_string(),
        },
        flags: JsonFlags {
            online: match (version.cyber, chance(rng, 0.3)) {
                (true, true) => "Online",
                (true, false) => "TRUE",
                (false, _) => "FALSE",
            },
        },
        victim: JsonVictim {
            age: crime.age,
            name: private.name,
            address: private.address,
        },
        status: match version.status {
            Status::Recorded => "RECORDED",
            Status::Cancelled => "CANCELLED",
            Status::Transferred { .. } => "TRANSFERRED",
        },
        transfer: JsonTransfer {
            force: force_name(rng, version.status),
        },
        outcome,
        location: JsonLocation {
            lsoa: crime.lsoa_code(),
            street: private.street,
        },
        notes: private.notes,
    }
}

impl Sink {
    fn open(path: &Path, dialect: SourceFormat, all_crime: bool) -> Result<Sink, Error> {
        let file = File::create(path).map_err(io_error(path))?;
        let out = BufWriter::new(file);
        Ok(match dialect {
            SourceFormat::ForceCsv => {
                let mut writer = csv::WriterBuilder::new()
                    .flexible(true)
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(out);
                let mut header: Vec<&str> = CSV_HEADER.to_vec();
                if all_crime {
                    header.push(CSV_CATEGORY_COLUMN);
                }
                writer.write_record(&header).map_err(csv_error(path))?;
                Sink::Csv {
                    writer: Box::new(writer),
                    all_crime,
                }
            }
            SourceFormat::ForceJson => {
                let mut out = out;
                out.write_all(b"[").map_err(io_error(path))?;
                Sink::Json { out, first: true }
            }
            _ => Sink::Ndjson { out },
        })
    }

    fn write_json_line(
        out: &mut BufWriter<File>,
        first: &mut bool,
        line: &str,
    ) -> std::io::Result<()> {
        out.write_all(if *first { b"\n" } else { b",\n" })?;
        *first = false;
        out.write_all(line.as_bytes())
    }

    /// Writes one version, corrupted as `malformed` says.
    fn write(
        &mut self,
        path: &Path,
        version: &Version,
        malformed: Option<MalformedKind>,
        rng: &mut Rng,
    ) -> Result<(), Error> {
        let year = version.crime.recorded().year();
        match self {
            Sink::Csv { writer, all_crime } => {
                let mut fields = csv_fields(version, rng, *all_crime);
                match malformed {
                    Some(MalformedKind::ImpossibleDate) => {
                        let (day, month) = impossible_day(rng, year);
                        fields[2] = format!("{day:02}/{month:02}/{year}");
                    }
                    Some(MalformedKind::UnknownOffenceCode) => {
                        fields[5] = UNKNOWN_CODES[index(rng, UNKNOWN_CODES.len())].to_owned();
                    }
                    Some(MalformedKind::MissingField) => {
                        fields.pop();
                    }
                    Some(MalformedKind::EmptyReference) => fields[0] = String::new(),
                    Some(MalformedKind::AgeInconsistentWithOffence) | None => {}
                }
                writer.write_record(&fields).map_err(csv_error(path))
            }
            Sink::Json { out, first } => {
                let mut row = json_row(version, rng);
                match malformed {
                    Some(MalformedKind::ImpossibleDate) => {
                        let (day, month) = impossible_day(rng, year);
                        row.recorded = Some(format!("{year}-{month:02}-{day:02}T10:00:00Z"));
                    }
                    Some(MalformedKind::UnknownOffenceCode) => {
                        row.offence.code =
                            Some(UNKNOWN_CODES[index(rng, UNKNOWN_CODES.len())].to_owned());
                    }
                    Some(MalformedKind::MissingField) => row.recorded = None,
                    Some(MalformedKind::EmptyReference) => row.reference = "",
                    Some(MalformedKind::AgeInconsistentWithOffence) | None => {}
                }
                let line = serde_json::to_string(&row).map_err(internal)?;
                Sink::write_json_line(out, first, &line).map_err(io_error(path))
            }
            Sink::Ndjson { out } => {
                let record = national_record(version)?;
                let mut line = record.to_json();
                let recorded = format!(r#""recorded_date":"{}","#, record.recorded.date);
                match malformed {
                    Some(MalformedKind::ImpossibleDate) => {
                        let (day, month) = impossible_day(rng, year);
                        let bad = format!(r#""recorded_date":"{year}-{month:02}-{day:02}","#);
                        line = line.replacen(&recorded, &bad, 1);
                    }
                    Some(MalformedKind::UnknownOffenceCode) => {
                        let code = match record.offence_code {
                            Some(code) => format!(r#""offence_code":"{code}""#),
                            None => r#""offence_code":null"#.to_owned(),
                        };
                        let bad = format!(
                            r#""offence_code":"{}""#,
                            UNKNOWN_CODES[index(rng, UNKNOWN_CODES.len())]
                        );
                        line = line.replacen(&code, &bad, 1);
                    }
                    Some(MalformedKind::MissingField) => line = line.replacen(&recorded, "", 1),
                    Some(MalformedKind::EmptyReference) => {
                        let reference = format!(r#""crime_ref":"{}""#, record.crime_ref);
                        line = line.replacen(&reference, r#""crime_ref":"""#, 1);
                    }
                    Some(MalformedKind::AgeInconsistentWithOffence) | None => {}
                }
                line.push('\n');
                out.write_all(line.as_bytes()).map_err(io_error(path))
            }
        }
    }

    fn finish(self, path: &Path) -> Result<(), Error> {
        match self {
            Sink::Csv { mut writer, .. } => writer.flush().map_err(io_error(path)),
            Sink::Json { mut out, first } => out
                .write_all(if first { b"]\n" } else { b"\n]\n" })
                .and_then(|()| out.flush())
                .map_err(io_error(path)),
            Sink::Ndjson { mut out } => out.flush().map_err(io_error(path)),
        }
    }
}

fn csv_error(path: &Path) -> impl FnOnce(csv::Error) -> Error + '_ {
    move |source| Error::Csv {
        path: path.to_path_buf(),
        source,
    }
}

/// A crime that exists only as one malformed row: a copy of `version` under a new reference,
/// with the victim age made inconsistent with the code when that is the kind.
fn malformed_base(
    version: &Version,
    kind: MalformedKind,
    context: &mut WriteContext<'_>,
) -> Version {
    let source = &version.crime;
    let recorded = source.recorded();
    let reference = context
        .references
        .next(source.force, recorded.year(), &mut context.rng);
    let mut crime = Crime {
        force: source.force,
        reference,
        recorded_at: source.recorded_at,
        offence_from: source.offence_from,
        offence_to: source.offence_to,
        age: source.age,
        dob: source.dob,
        lsoa: source.lsoa,
        private_seed: mix(source.private_seed),
        general: source.general,
    };
    let mut code = version.code;
    let mut category = version.category;
    if kind == MalformedKind::AgeInconsistentWithOffence {
        let (bad_code, age) = context.tables.inconsistent_age(&mut context.rng);
        code = Some(bad_code);
        if let Some(offence) = bad_code.offence() {
            category = offence.category;
        }
        crime.age = Some(age);
        crime.dob = date_of_birth(&mut context.rng, age, crime.offence_from, recorded);
    }
    Version {
        crime: Rc::new(crime),
        seq: 1,
        at: version.at + TimeDelta::seconds(1),
        status: Status::Recorded,
        code,
        category,
        cyber: version.cyber,
        outcome: None,
    }
}

/// Writes `versions` (already in order) to `path` in `dialect`, with malformed rows injected
/// at `options.malformed_rate`.
pub(crate) fn write_file(
    path: &Path,
    dialect: SourceFormat,
    versions: &[Version],
    context: &mut WriteContext<'_>,
) -> Result<FileStats, Error> {
    let mut sink = Sink::open(path, dialect, context.options.all_crime)?;
    let mut stats = FileStats::default();
    for version in versions {
        sink.write(path, version, None, &mut context.rng)?;
        stats.versions += 1;
        if chance(&mut context.rng, context.options.malformed_rate) {
            let kind = MalformedKind::ALL[index(&mut context.rng, MalformedKind::ALL.len())];
            let base = malformed_base(version, kind, context);
            sink.write(path, &base, Some(kind), &mut context.rng)?;
            stats.malformed.push(kind);
        }
    }
    sink.finish(path)?;
    Ok(stats)
}

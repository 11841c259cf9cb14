//! A small reference reader of simulated exports, independent of the writer: it follows each
//! profile (dialect, mapping, files in order), decides what is malformed with `model` parsing
//! and `model::validate`, keeps the latest version of each crime and counts current state the
//! way `ground-truth.csv` must.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use model::{
    Category, CrimeRecord, CrimeRef, DateRange, ForceId, Lineage, Lsoa, OffenceCode, Outcome,
    RecordedDate, SourceFormat, Status, validate,
};
use serde_json::Value;

/// One force's profile, as read back.
#[derive(Debug)]
pub(crate) struct Profile {
    pub(crate) force: ForceId,
    pub(crate) name: String,
    pub(crate) dialect: String,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) table: toml::Table,
}

/// What the reader found.
#[derive(Debug, Default)]
pub(crate) struct Reading {
    /// Counted crimes by ground-truth group (the first seven columns, comma-joined).
    pub(crate) counts: BTreeMap<String, u64>,
    /// Rows that did not parse or validate.
    pub(crate) malformed: u64,
    /// Valid record versions read (duplicates included).
    pub(crate) versions: u64,
    /// Valid versions read more than once (re-sends).
    pub(crate) duplicates: u64,
    /// Latest versions whose status is transferred.
    pub(crate) transferred: u64,
    /// Latest versions whose status is cancelled.
    pub(crate) cancelled: u64,
}

/// Reads every profile of a simulation directory.
pub(crate) fn profiles(dir: &Path) -> Vec<Profile> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join("profiles"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let table: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let files = table["source"]["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|file| PathBuf::from(file.as_str().unwrap()))
                .collect();
            Profile {
                force: ForceId::from_id(table["force"].as_str().unwrap()).unwrap(),
                name: table["name"].as_str().unwrap().to_owned(),
                dialect: table["dialect"].as_str().unwrap().to_owned(),
                files,
                table,
            }
        })
        .collect()
}

fn strings(mapping: &toml::Table, key: &str) -> Vec<String> {
    mapping
        .get(key)
        .and_then(toml::Value::as_array)
        .map(|values| {
            values
                .iter()
                .map(|value| value.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn age_on(dob: NaiveDate, date: NaiveDate) -> i64 {
    let before = (date.month(), date.day()) < (dob.month(), dob.day());
    i64::from(date.year() - dob.year()) - i64::from(before)
}

/// Builds a record from a mapped source (`field` returns the raw value of a mapping key's
/// column or path, `None` when absent or null). Any error makes the row malformed.
fn mapped_record(
    force: ForceId,
    mapping: &toml::Table,
    field: &dyn Fn(&str) -> Option<String>,
    today: NaiveDate,
) -> Result<CrimeRecord, String> {
    let date_formats = strings(mapping, "date_formats");
    let timestamp_formats = strings(mapping, "timestamp_formats");
    let parse_date = |text: &str| -> Result<NaiveDate, String> {
        let text = text.trim();
        for format in &date_formats {
            if let Ok(date) = NaiveDate::parse_from_str(text, format) {
                return Ok(date);
            }
        }
        for format in &timestamp_formats {
            if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
                return Ok(time.date());
            }
        }
        Err(format!("bad date {text:?}"))
    };
    let required = |key: &str| field(key).ok_or_else(|| format!("missing {key}"));
    let optional = |key: &str| field(key).filter(|value| !value.trim().is_empty());

    let crime_ref = CrimeRef::new(required("crime_ref")?).map_err(|e| e.to_string())?;
    let version_text = required("version")?;
    let version = match mapping["version_kind"].as_str() {
        Some("timestamp") => timestamp_formats
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(&version_text, format).ok())
            .map(|time| u64::try_from(time.and_utc().timestamp()).unwrap())
            .ok_or("bad version timestamp")?,
        _ => version_text.parse().map_err(|_| "bad revision")?,
    };
    let recorded = parse_date(&required("recorded_date")?)?;
    let offence_dates = match (optional("offence_from"), optional("offence_to")) {
        (Some(from), Some(to)) => {
            Some(DateRange::new(parse_date(&from)?, parse_date(&to)?).map_err(|e| e.to_string())?)
        }
        (None, None) => None,
        _ => return Err("half an offence range".into()),
    };
    let offence_code = optional("offence_code")
        .map(|code| OffenceCode::parse(&code))
        .transpose()
        .map_err(|e| e.to_string())?;
    let category = if mapping.contains_key("category") {
        optional("category")
            .map(|category| Category::parse(&category))
            .transpose()
            .map_err(|e| e.to_string())?
    } else {
        None
    };
    let flag = field("cyber").unwrap_or_default();
    let cyber = if strings(mapping, "cyber_true").contains(&flag) {
        true
    } else if strings(mapping, "cyber_false").contains(&flag) {
        false
    } else {
        return Err(format!("bad flag {flag:?}"));
    };
    let victim_age = if mapping.contains_key("victim_age") {
        optional("victim_age")
            .map(|age| age.parse::<u8>().map_err(|_| "bad age"))
            .transpose()?
    } else if mapping.contains_key("victim_date_of_birth") {
        match optional("victim_date_of_birth") {
            Some(dob) => {
                let dob = parse_date(&dob)?;
                let at = offence_dates.map_or(recorded, |range| range.from);
                Some(u8::try_from(age_on(dob, at)).map_err(|_| "bad age")?)
            }
            None => None,
        }
    } else {
        None
    };
    let status_text = required("status")?;
    let status = if strings(mapping, "status_recorded").contains(&status_text) {
        Status::Recorded
    } else if strings(mapping, "status_cancelled").contains(&status_text) {
        Status::Cancelled
    } else if strings(mapping, "status_transferred").contains(&status_text) {
        let to = optional("transferred_to").ok_or("transfer without target")?;
        Status::Transferred {
            to: ForceId::lookup(&to).map_err(|e| e.to_string())?,
        }
    } else {
        return Err(format!("bad status {status_text:?}"));
    };
    let outcome = Outcome::parse_optional(&field("outcome").unwrap_or_default())
        .map_err(|e| e.to_string())?;
    let lsoa = optional("lsoa")
        .map(|lsoa| Lsoa::parse(&lsoa))
        .transpose()
        .map_err(|e| e.to_string())?;
    let record = CrimeRecord {
        force,
        crime_ref,
        version,
        status,
        offence_code,
        category,
        cyber,
        recorded: RecordedDate::day(recorded),
        offence_dates,
        victim_age,
        outcome,
        lsoa,
        lineage: Lineage {
            source_format: SourceFormat::ForceCsv,
            adapter: "reader".into(),
            received_at: DateTime::<Utc>::UNIX_EPOCH,
        },
    };
    validate(&record, today).map_err(|e| e.to_string())?;
    Ok(record)
}

/// The rows of one file, each a record or an error.
fn read_file(profile: &Profile, path: &Path, today: NaiveDate) -> Vec<Result<CrimeRecord, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mapping = profile.table.get("mapping").and_then(toml::Value::as_table);
    match profile.dialect.as_str() {
        "force-csv" => {
            let mapping = mapping.unwrap();
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(text.as_bytes());
            let header: Vec<String> = reader
                .headers()
                .unwrap()
                .iter()
                .map(str::to_owned)
                .collect();
            reader
                .records()
                .map(|row| {
                    let row = row.unwrap();
                    if row.len() != header.len() {
                        return Err(format!("{} fields, expected {}", row.len(), header.len()));
                    }
                    let field = |key: &str| {
                        let column = mapping.get(key)?.as_str()?;
                        let index = header.iter().position(|name| name == column)?;
                        row.get(index).map(str::to_owned)
                    };
                    mapped_record(profile.force, mapping, &field, today)
                })
                .collect()
        }
        "force-json" => {
            let mapping = mapping.unwrap();
            let rows: Vec<Value> = serde_json::from_str(&text).unwrap();
            rows.iter()
                .map(|row| {
                    let field = |key: &str| {
                        let path = mapping.get(key)?.as_str()?;
                        let mut value = row;
                        for part in path.split('.') {
                            value = value.get(part)?;
                        }
                        match value {
                            Value::Null => None,
                            Value::String(text) => Some(text.clone()),
                            other => Some(other.to_string()),
                        }
                    };
                    mapped_record(profile.force, mapping, &field, today)
                })
                .collect()
        }
        "national-ndjson" => text
            .lines()
            .map(|line| {
                let record = CrimeRecord::from_json(line).map_err(|e| e.to_string())?;
                if record.force != profile.force {
                    return Err("another force's record".into());
                }
                validate(&record, today).map_err(|e| e.to_string())?;
                Ok(record)
            })
            .collect(),
        other => panic!("unknown dialect {other}"),
    }
}

/// Reads a whole simulation directory and counts current state.
pub(crate) fn read(dir: &Path, today: NaiveDate) -> Reading {
    let mut reading = Reading::default();
    let mut latest: BTreeMap<(ForceId, CrimeRef), CrimeRecord> = BTreeMap::new();
    for profile in profiles(dir) {
        for path in &profile.files {
            for row in read_file(&profile, path, today) {
                let Ok(record) = row else {
                    reading.malformed += 1;
                    continue;
                };
                reading.versions += 1;
                let key = (record.force, record.crime_ref.clone());
                match latest.get(&key) {
                    Some(seen) if seen.version > record.version => {}
                    Some(seen) if seen.version == record.version => {
                        assert_eq!(seen, &record, "one version, two contents");
                        reading.duplicates += 1;
                    }
                    _ => {
                        latest.insert(key, record);
                    }
                }
            }
        }
    }
    for record in latest.values() {
        match record.status {
            Status::Recorded => {}
            Status::Cancelled => {
                reading.cancelled += 1;
                continue;
            }
            Status::Transferred { .. } => {
                reading.transferred += 1;
                continue;
            }
        }
        let key = format!(
            "{},{},{},{},{},{},{}",
            record.force,
            record.recorded.date,
            record
                .offence_code
                .map(|code| code.to_string())
                .unwrap_or_default(),
            record.offence_group().map_or("", |group| group.as_str()),
            record
                .effective_category()
                .map_or("", |category| category.slug()),
            record.cyber,
            record.age_band().as_str(),
        );
        *reading.counts.entry(key).or_insert(0) += 1;
    }
    reading
}

/// Reads `ground-truth.csv` into the same shape, checking header, order and counts.
pub(crate) fn ground_truth(dir: &Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(dir.join("ground-truth.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(crate::GROUND_TRUTH_HEADER));
    let mut counts = BTreeMap::new();
    let mut previous: Option<Vec<String>> = None;
    for line in lines {
        let (group, count) = line.rsplit_once(',').unwrap();
        let count: u64 = count.parse().unwrap();
        assert!(count > 0, "{line}");
        let columns: Vec<String> = group.split(',').map(str::to_owned).collect();
        assert_eq!(columns.len(), 7, "{line}");
        if let Some(previous) = &previous {
            assert!(
                previous < &columns,
                "not sorted: {previous:?} then {columns:?}"
            );
        }
        previous = Some(columns);
        assert!(counts.insert(group.to_owned(), count).is_none());
    }
    counts
}

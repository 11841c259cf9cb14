//! Adapter profiles for the simulated forces, in the format of the shipped examples
//! (`deploy/forces/*.toml`): `name`, `force`, `dialect`, a `[source]` listing the export files
//! in delivery order with a checkpoint under the output's `state/`, and the `[mapping]` of the
//! shipped profile of the same dialect. No `watch`/`listen` and no `[keys]`: the adapter then
//! takes its keys from the development keyring.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use model::{ForceId, SourceFormat};

use crate::Error;
use crate::dialect::CSV_CATEGORY_COLUMN;

/// The `[mapping]` of `deploy/forces/west-mercia.toml` (force-csv).
const CSV_MAPPING: &str = r#"[mapping]
crime_ref = "Crime Reference"
version = "Last Modified"
version_kind = "timestamp"
recorded_date = "Recorded Date"
offence_from = "Committed From"
offence_to = "Committed To"
offence_code = "HO Code"
cyber = "Online Flag"
victim_date_of_birth = "Victim DOB"
status = "Status"
transferred_to = "Transferred To"
outcome = "Outcome"
lsoa = "LSOA"
date_formats = ["%d/%m/%Y"]
timestamp_formats = ["%d/%m/%Y %H:%M:%S"]
cyber_true = ["Y"]
cyber_false = ["N", ""]
status_recorded = ["Recorded", "Crime"]
status_cancelled = ["Cancelled", "No Crime"]
status_transferred = ["Transferred"]
"#;

/// The `[mapping]` of `deploy/forces/avon-and-somerset.toml` (force-json).
const JSON_MAPPING: &str = r#"[mapping]
crime_ref = "reference"
version = "revision"
version_kind = "revision"
recorded_date = "recorded"
offence_from = "offence.from"
offence_to = "offence.to"
offence_code = "offence.code"
category = "offence.category"
cyber = "flags.online"
victim_age = "victim.age"
status = "status"
transferred_to = "transfer.force"
outcome = "outcome"
lsoa = "location.lsoa"
date_formats = ["%Y-%m-%d"]
timestamp_formats = ["%Y-%m-%dT%H:%M:%SZ"]
cyber_true = ["TRUE", "Online"]
cyber_false = ["FALSE"]
status_recorded = ["RECORDED"]
status_cancelled = ["CANCELLED"]
status_transferred = ["TRANSFERRED"]
"#;

/// A TOML basic string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The profile text of one force.
pub(crate) fn profile_text(
    force: ForceId,
    dialect: SourceFormat,
    files: &[PathBuf],
    checkpoint: &Path,
    all_crime: bool,
    seed: u64,
) -> String {
    let describe = match dialect {
        SourceFormat::ForceCsv => "CSV export (West Mercia's layout and mapping)",
        SourceFormat::ForceJson => "JSON export (Avon and Somerset's layout and mapping)",
        _ => "NDJSON in the national schema (as the Metropolitan Police pushes it)",
    };
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# {}: simulated {describe}, written by the simulate crate (seed {seed}).",
        force.info().name
    );
    text.push_str(
        "# The files are the force's exports in delivery order. No [keys]: the adapter takes its\n\
         # keys from the development keyring.\n",
    );
    let _ = writeln!(text, "name = {}", quoted(&format!("{force}-sim")));
    let _ = writeln!(text, "force = {}", quoted(force.as_str()));
    let _ = writeln!(text, "dialect = {}", quoted(dialect.as_str()));
    text.push_str("\n[source]\nfiles = [\n");
    for file in files {
        let _ = writeln!(text, "    {},", quoted(&file.to_string_lossy()));
    }
    text.push_str("]\n");
    let _ = writeln!(
        text,
        "checkpoint = {}",
        quoted(&checkpoint.to_string_lossy())
    );
    match dialect {
        SourceFormat::ForceCsv => {
            text.push('\n');
            if all_crime {
                // All-crime mode adds the category column volume crime needs (no HO code).
                let extra = format!("category = {}\n", quoted(CSV_CATEGORY_COLUMN));
                text.push_str(&CSV_MAPPING.replacen("cyber = ", &format!("{extra}cyber = "), 1));
            } else {
                text.push_str(CSV_MAPPING);
            }
        }
        SourceFormat::ForceJson => {
            text.push('\n');
            text.push_str(JSON_MAPPING);
        }
        _ => {}
    }
    text
}

/// Writes `profiles/<force>.toml` under `dir`.
pub(crate) fn write_profile(dir: &Path, force: ForceId, text: &str) -> Result<PathBuf, Error> {
    let path = dir.join("profiles").join(format!("{force}.toml"));
    std::fs::write(&path, text).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mappings are the shipped ones, byte for byte, when the shipped files are present.
    #[test]
    fn mappings_match_the_shipped_profiles() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/forces");
        for (file, mapping) in [
            ("west-mercia.toml", CSV_MAPPING),
            ("avon-and-somerset.toml", JSON_MAPPING),
        ] {
            let Ok(shipped) = std::fs::read_to_string(root.join(file)) else {
                continue;
            };
            let start = shipped.find("[mapping]").unwrap();
            assert_eq!(&shipped[start..], mapping, "{file}");
        }
    }

    #[test]
    fn quoting_escapes() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quoted("x\ty"), r#""x\u0009y""#);
        let text = profile_text(
            ForceId::from_id("kent").unwrap(),
            SourceFormat::ForceCsv,
            &[PathBuf::from("/tmp/a \"b\".csv")],
            Path::new("/tmp/state/kent.checkpoint.json"),
            true,
            1,
        );
        let value: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(value["mapping"]["category"].as_str(), Some("Crime Type"));
        assert_eq!(
            value["source"]["files"][0].as_str(),
            Some("/tmp/a \"b\".csv")
        );
    }
}

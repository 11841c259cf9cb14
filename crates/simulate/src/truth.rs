//! `ground-truth.csv`: the exact counts of current state, one row per non-zero group.
//!
//! A crime's final state is known when it is planned (its whole timeline is drawn at once), and
//! every crime recorded in a month is planned by the end of that month's generation. So counts
//! are kept per recorded month, and each month is flushed, sorted, into one part file per
//! force; at the end the parts are joined in force order. Memory holds one month of groups.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use model::{AgeBand, OffenceCode};

use crate::crime::Version;

use crate::Error;

/// The header of `ground-truth.csv`.
pub const GROUND_TRUTH_HEADER: &str =
    "force,recorded_date,offence_code,offence_group,category,cyber,age_band,count";

/// One group of counted crimes, ordered as the file's rows are sorted (column by column, as
/// text).
type Key = (
    &'static str,
    NaiveDate,
    String,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// Accumulates counts and writes the file.
#[derive(Debug)]
pub(crate) struct Truth {
    parts_dir: PathBuf,
    months: BTreeMap<u32, BTreeMap<Key, u64>>,
    parts: BTreeMap<&'static str, (PathBuf, BufWriter<File>)>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Truth {
    /// Keeps part files in `parts_dir` (created now, removed by [`Truth::finish`]).
    pub(crate) fn new(parts_dir: PathBuf) -> Result<Truth, Error> {
        std::fs::create_dir_all(&parts_dir).map_err(io_error(&parts_dir))?;
        Ok(Truth {
            parts_dir,
            months: BTreeMap::new(),
            parts: BTreeMap::new(),
        })
    }

    /// Counts one crime in its current state `last` (its latest version), in the month of its
    /// recorded date.
    pub(crate) fn add(&mut self, month: u32, last: &Version) {
        let code = last.code;
        let group = code
            .and_then(OffenceCode::offence)
            .map_or("", |offence| offence.group.as_str());
        let key = (
            last.crime.force.as_str(),
            last.crime.recorded(),
            code.map(|code| code.to_string()).unwrap_or_default(),
            group,
            last.category.slug(),
            if last.cyber { "true" } else { "false" },
            AgeBand::from_age(last.crime.age).as_str(),
        );
        *self
            .months
            .entry(month)
            .or_default()
            .entry(key)
            .or_insert(0) += 1;
    }

    /// Writes every month up to and including `month` to the part files.
    pub(crate) fn flush(&mut self, month: u32) -> Result<(), Error> {
        let later = self.months.split_off(&(month + 1));
        let done = std::mem::replace(&mut self.months, later);
        for (_, groups) in done {
            for ((force, date, code, group, category, cyber, band), count) in groups {
                let (path, writer) = match self.parts.entry(force) {
                    std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                    std::collections::btree_map::Entry::Vacant(entry) => {
                        let path = self.parts_dir.join(format!("{force}.csv"));
                        let file = File::create(&path).map_err(io_error(&path))?;
                        entry.insert((path, BufWriter::new(file)))
                    }
                };
                writeln!(
                    writer,
                    "{force},{date},{code},{group},{category},{cyber},{band},{count}"
                )
                .map_err(io_error(path))?;
            }
        }
        Ok(())
    }

    /// Flushes everything, writes `path` (header, then the parts in force order) and removes
    /// the part files.
    pub(crate) fn finish(mut self, path: &Path) -> Result<(), Error> {
        self.flush(u32::MAX - 1)?;
        let file = File::create(path).map_err(io_error(path))?;
        let mut out = BufWriter::new(file);
        writeln!(out, "{GROUND_TRUTH_HEADER}").map_err(io_error(path))?;
        for (_, (part, mut writer)) in std::mem::take(&mut self.parts) {
            writer.flush().map_err(io_error(&part))?;
            drop(writer);
            let mut input = File::open(&part).map_err(io_error(&part))?;
            std::io::copy(&mut input, &mut out).map_err(io_error(path))?;
        }
        out.flush().map_err(io_error(path))?;
        std::fs::remove_dir_all(&self.parts_dir).map_err(io_error(&self.parts_dir))?;
        Ok(())
    }
}

//! The end-of-run summary: every row accounted for, by outcome and reason.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use model::text::printable;

/// How many example positions are kept per reason.
pub const EXAMPLES_PER_REASON: usize = 5;

/// Rows of one reason, with the first few positions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rows with this reason.
    pub count: u64,
    /// `file:line` of the first [`EXAMPLES_PER_REASON`] of them.
    pub examples: Vec<String>,
}

impl Tally {
    fn add(&mut self, position: impl FnOnce() -> String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES_PER_REASON {
            self.examples.push(position());
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rows read from sources in this run (excluding rows a checkpoint said were done).
    pub read: u64,
    /// Messages acknowledged by the broker (records and malformed markers).
    pub published: u64,
    /// Rows deliberately not published, by reason.
    pub skipped: BTreeMap<String, Tally>,
    /// Rows that could not be mapped (published as content-free markers), by reason.
    pub malformed: BTreeMap<String, Tally>,
    /// Rows already published by an earlier run, per the checkpoint.
    pub already_done: u64,
    /// Files read in this run.
    pub files_read: u64,
    /// Files skipped because the checkpoint says they were completely published.
    pub files_already_done: u64,
    /// Fields present in sources but not forwarded.
    pub dropped_fields: BTreeSet<String>,
}

impl Summary {
    /// Records a skipped row.
    pub fn skip(&mut self, reason: &str, file: &str, line: u64) {
        self.skipped
            .entry(reason.to_owned())
            .or_default()
            .add(|| format!("{file}:{line}"));
    }

    /// Records a malformed row.
    pub fn malformed(&mut self, reason: &str, file: &str, line: u64) {
        self.malformed
            .entry(reason.to_owned())
            .or_default()
            .add(|| format!("{file}:{line}"));
    }

    /// Total skipped rows.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().map(|t| t.count).sum()
    }

    /// Total malformed rows.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.values().map(|t| t.count).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "files: {} read, {} already published",
            self.files_read, self.files_already_done
        )?;
        writeln!(
            f,
            "rows: {} read, {} published, {} skipped, {} malformed, {} already published earlier",
            self.read,
            self.published,
            self.skipped_total(),
            self.malformed_total(),
            self.already_done
        )?;
        // Reasons quote values from the export, positions name its files and dropped fields
        // are its column names: all outside data, escaped so none can drive a terminal.
        for (title, map) in [("skipped", &self.skipped), ("malformed", &self.malformed)] {
            for (reason, tally) in map {
                writeln!(
                    f,
                    "  {title} {:>8}  {}  (e.g. {})",
                    tally.count,
                    printable(reason),
                    printable(&tally.examples.join(", "))
                )?;
            }
        }
        if !self.dropped_fields.is_empty() {
            let fields: Vec<String> = self
                .dropped_fields
                .iter()
                .map(|field| printable(field).into_owned())
                .collect();
            writeln!(f, "fields not forwarded: {}", fields.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hostile export: a file name, a value and a column name carrying terminal controls.
    #[test]
    fn the_summary_escapes_outside_data() {
        let mut summary = Summary::default();
        summary.malformed("bad date \"\u{1b}]0;owned\u{7}\"", "x\u{1b}[2J.csv", 3);
        summary.skip("no crime id\r", "a\nb.csv", 1);
        summary.dropped_fields.insert("Name\u{202e}".into());
        let shown = summary.to_string();
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
            "{shown}"
        );
        assert!(
            !shown.contains('\r') && !shown.contains('\u{202e}'),
            "{shown}"
        );
        assert!(shown.contains("x\\u001b[2J.csv:3"), "{shown}");
        assert!(shown.contains("a\\nb.csv:1"), "{shown}");
        assert!(
            shown.contains("fields not forwarded: Name\\u202e"),
            "{shown}"
        );
        assert_eq!(shown.lines().count(), 5, "no forged line: {shown}");
    }
}

//! A force record-system CSV export, described by the profile's [`Mapping`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;

use super::{Context, Item, ReadError, ReadReport, Row, open_csv};
use crate::mapping::{Fields, map_record};
use crate::profile::Mapping;

struct CsvFields<'a> {
    columns: &'a HashMap<String, usize>,
    cells: &'a [&'a str],
}

impl Fields for CsvFields<'_> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.columns
            .get(name)
            .and_then(|&i| self.cells.get(i))
            .map(|cell| Cow::Borrowed(*cell))
    }
}

pub(super) fn read(
    context: Context<'_>,
    mapping: &Mapping,
    input: impl Read,
    sink: &mut dyn FnMut(Row) -> bool,
) -> Result<ReadReport, ReadError> {
    let (mut reader, header) = open_csv(context.dialect, input)?;
    let mut record = csv::ByteRecord::new();
    let header_error = |message: String| ReadError::Header {
        dialect: context.dialect,
        message,
    };
    let columns: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, name)| (name.clone(), i))
        .collect();
    let mapped = super::mapped_fields(mapping);
    let missing: Vec<&str> = mapped
        .iter()
        .copied()
        .filter(|c| !columns.contains_key(*c))
        .collect();
    if !missing.is_empty() {
        return Err(header_error(format!(
            "mapped columns missing from the header: {missing:?}"
        )));
    }
    let report = ReadReport {
        dropped_fields: header
            .iter()
            .filter(|h| !mapped.contains(&h.as_str()))
            .cloned()
            .collect(),
    };
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(report),
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let item = if record.len() != header.len() {
                    Item::Malformed(format!(
                        "expected {} fields, found {}",
                        header.len(),
                        record.len()
                    ))
                } else {
                    match record
                        .iter()
                        .map(std::str::from_utf8)
                        .collect::<Result<Vec<_>, _>>()
                    {
                        Err(_) => Item::Malformed("invalid UTF-8".into()),
                        Ok(cells) => {
                            let fields = CsvFields {
                                columns: &columns,
                                cells: &cells,
                            };
                            match map_record(mapping, &fields, context.pseudonymiser) {
                                Ok(raw) => Item::Record(raw),
                                Err(reason) => Item::Malformed(reason),
                            }
                        }
                    }
                };
                if !sink(Row { line, item }) {
                    return Err(ReadError::Stopped);
                }
            }
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line());
                sink(Row {
                    line,
                    item: Item::Malformed("CSV syntax error".into()),
                });
                return Ok(report);
            }
        }
    }
}

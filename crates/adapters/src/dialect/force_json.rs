//! A force record-system JSON export: one top-level array of crime objects, read element by
//! element (never the whole array in memory), fields addressed by dotted paths.

use std::borrow::Cow;
use std::io::Read;

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::Value;

use super::{Context, Item, ReadError, ReadReport, Row};
use crate::mapping::{Fields, map_record};
use crate::profile::Mapping;

struct JsonFields<'a>(&'a Value);

impl Fields for JsonFields<'_> {
    fn get(&self, path: &str) -> Option<Cow<'_, str>> {
        let mut value = self.0;
        for part in path.split('.') {
            value = value.get(part)?;
        }
        match value {
            Value::Null => None,
            Value::String(text) => Some(Cow::Borrowed(text)),
            Value::Bool(flag) => Some(Cow::Owned(if *flag { "TRUE" } else { "FALSE" }.into())),
            Value::Number(number) => Some(Cow::Owned(number.to_string())),
            // An object or array where a value belongs: forwarded as JSON so ingest rejects it
            // (the mapping named this path, so it is not content the mapping declined).
            other => Some(Cow::Owned(other.to_string())),
        }
    }
}

/// The state one pass over the array updates; survives an error mid-array.
struct State<'a, 'b> {
    context: Context<'a>,
    mapping: &'a Mapping,
    mapped_roots: Vec<&'a str>,
    sink: &'b mut dyn FnMut(Row) -> bool,
    report: ReadReport,
    count: u64,
    stopped: bool,
}

impl State<'_, '_> {
    fn element(&mut self, value: &Value) -> bool {
        self.count += 1;
        let item = match value.as_object() {
            Some(object) => {
                for key in object.keys() {
                    if !self.mapped_roots.contains(&key.as_str()) {
                        self.report.dropped_fields.insert(key.clone());
                    }
                }
                match map_record(self.mapping, &JsonFields(value), self.context.pseudonymiser) {
                    Ok(raw) => Item::Record(raw),
                    Err(reason) => Item::Malformed(reason),
                }
            }
            None => Item::Malformed("array element is not an object".into()),
        };
        (self.sink)(Row {
            line: self.count,
            item,
        })
    }
}

struct Elements<'s, 'a, 'b>(&'s mut State<'a, 'b>);

impl<'de> Visitor<'de> for Elements<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array of crime records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            if !self.0.element(&value) {
                self.0.stopped = true;
                return Err(serde::de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Elements<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

pub(super) fn read(
    context: Context<'_>,
    mapping: &Mapping,
    input: impl Read,
    sink: &mut dyn FnMut(Row) -> bool,
) -> Result<ReadReport, ReadError> {
    let mapped_roots = super::mapped_fields(mapping)
        .into_iter()
        .map(|path| path.split('.').next().unwrap_or(path))
        .collect();
    let mut state = State {
        context,
        mapping,
        mapped_roots,
        sink,
        report: ReadReport::default(),
        count: 0,
        stopped: false,
    };
    let mut deserializer = serde_json::Deserializer::from_reader(std::io::BufReader::new(input));
    let result = Elements(&mut state)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    if state.stopped {
        return Err(ReadError::Stopped);
    }
    match result {
        Ok(()) => Ok(state.report),
        Err(error) if error.is_io() => Err(ReadError::Io(std::io::Error::other(error))),
        Err(error) if state.count == 0 && !error.is_eof() => Err(ReadError::Header {
            dialect: context.dialect,
            message: error.to_string(),
        }),
        Err(error) => {
            // Invalid JSON after `count` elements: everything before it was handed on; the
            // rest of the file is unreadable and is reported as one malformed row.
            let reason = format!(
                "invalid JSON at line {} column {} ({:?})",
                error.line(),
                error.column(),
                error.classify()
            );
            (state.sink)(Row {
                line: state.count + 1,
                item: Item::Malformed(reason),
            });
            Ok(state.report)
        }
    }
}

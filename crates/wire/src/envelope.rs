//! The payload of a raw-topic message.

use serde::{Deserialize, Serialize};

/// Value of the schema header and of [`RawMessage::schema`].
pub const SCHEMA: &str = "cyberflag.raw.v1";

/// How the force's system wrote the record (the adapter's input format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// data.police.uk street-level CSV, exactly as published.
    PoliceUkStreet,
    /// A force record-system CSV export, described by a profile mapping.
    ForceCsv,
    /// A force record-system JSON export, described by a profile mapping.
    ForceJson,
    /// NDJSON already in the national schema (files or HTTP push).
    NationalNdjson,
}

impl Dialect {
    /// The kebab-case name used in profiles, flags and payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PoliceUkStreet => "police-uk-street",
            Self::ForceCsv => "force-csv",
            Self::ForceJson => "force-json",
            Self::NationalNdjson => "national-ndjson",
        }
    }

    /// Every dialect.
    pub const ALL: [Dialect; 4] = [
        Self::PoliceUkStreet,
        Self::ForceCsv,
        Self::ForceJson,
        Self::NationalNdjson,
    ];
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Dialect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|d| d.as_str()).collect();
                format!(
                    "unknown dialect {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Where in the force's export a record came from (file name without directories, 1-based
/// line or element number), so a rejected record can be traced back by the force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcePosition {
    /// The file (or push batch) name.
    pub name: String,
    /// Line (CSV, NDJSON) or array element (JSON) number, 1-based.
    pub line: u64,
}

/// One message on the raw topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMessage {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The sending force's police.uk id; must match the force of the signing key.
    pub force: String,
    /// The input format.
    pub dialect: Dialect,
    /// The adapter instance (profile name) that read it.
    pub adapter: String,
    /// Where in the export it came from.
    pub source: SourcePosition,
    /// The record, when the row could be read at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RawRecord>,
    /// Why the row could not be read (its content is deliberately not forwarded: it may hold
    /// private data the mapping would have dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malformed: Option<String>,
}

impl RawMessage {
    /// The Kafka message key: `<force>/<reference>`, or `<force>/@<source>:<line>` for a row
    /// without a reference.
    pub fn key(&self) -> String {
        match self.record.as_ref().and_then(|r| r.crime_ref.as_deref()) {
            Some(reference) => format!("{}/{reference}", self.force),
            None => format!("{}/@{}:{}", self.force, self.source.name, self.source.line),
        }
    }

    /// Compact JSON; field order is fixed by the struct, so equal messages are equal bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising these plain structs cannot fail (no maps with non-string keys, no
        // custom serialisers), but an error would still be data, not a panic.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a payload.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// A record mapped to the national field names, values as the force wrote them (after the
/// adapter's privacy transforms and its profile's spelling rules), not yet validated.
///
/// Every field is text so that nothing is lost between the force and `ingest`, which parses and
/// validates each one and names the field in its reject reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecord {
    /// Pseudonymised crime reference (hex HMAC digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crime_ref: Option<String>,
    /// Version, monotonic per crime (a revision number or a last-modified time as
    /// `YYYYMMDDhhmmss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `recorded`, `cancelled` or `transferred`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// For a transfer: the receiving force, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferred_to: Option<String>,
    /// Home Office offence code, as written (`071/17`, `88a`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offence_code: Option<String>,
    /// police.uk crime category (slug or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The online crime flag: `true` or `false` after the profile's spelling rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cyber: Option<String>,
    /// Recorded date, ISO `YYYY-MM-DD` or `YYYY-MM` (month precision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_date: Option<String>,
    /// Start of the offence date range, ISO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offence_from: Option<String>,
    /// End of the offence date range, ISO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offence_to: Option<String>,
    /// Victim's age in whole years at the offence date (a date of birth never travels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub victim_age: Option<String>,
    /// Outcome (police.uk category or Home Office outcome type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// LSOA code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsoa: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> RawMessage {
        RawMessage {
            schema: SCHEMA.into(),
            force: "west-mercia".into(),
            dialect: Dialect::ForceCsv,
            adapter: "west-mercia".into(),
            source: SourcePosition {
                name: "export.csv".into(),
                line: 7,
            },
            record: Some(RawRecord {
                crime_ref: Some("ab12".into()),
                offence_code: Some("071/17".into()),
                cyber: Some("true".into()),
                ..RawRecord::default()
            }),
            malformed: None,
        }
    }

    #[test]
    fn payload_round_trips_and_is_deterministic() {
        let message = message();
        let bytes = message.to_bytes();
        assert_eq!(RawMessage::from_bytes(&bytes).unwrap(), message);
        assert_eq!(message.clone().to_bytes(), bytes);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with(r#"{"schema":"cyberflag.raw.v1","force":"west-mercia""#));
        assert!(!text.contains("null"), "absent fields are omitted: {text}");
    }

    #[test]
    fn keys_group_versions_of_one_crime() {
        assert_eq!(message().key(), "west-mercia/ab12");
        let mut malformed = message();
        malformed.record = None;
        malformed.malformed = Some("wrong number of fields".into());
        assert_eq!(malformed.key(), "west-mercia/@export.csv:7");
    }

    #[test]
    fn unknown_payload_fields_are_refused() {
        let text = r#"{"schema":"cyberflag.raw.v1","force":"kent","dialect":"force-csv","adapter":"a","source":{"name":"f","line":1},"record":{"victim_name":"x"}}"#;
        assert!(RawMessage::from_bytes(text.as_bytes()).is_err());
    }

    #[test]
    fn dialects_parse_by_name() {
        for dialect in Dialect::ALL {
            assert_eq!(dialect.as_str().parse::<Dialect>().unwrap(), dialect);
        }
        assert!(
            "csv"
                .parse::<Dialect>()
                .unwrap_err()
                .contains("police-uk-street")
        );
    }
}

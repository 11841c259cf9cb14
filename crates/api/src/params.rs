//! Query parameters of `/v1/stats` and `/v1/revisions`, parsed into typed questions. Every
//! error names the parameter; unknown parameters are refused rather than ignored.

use std::collections::HashMap;

use chrono::NaiveDate;
use model::{ForceId, OffenceGroup};
use warehouse::{Dimension, StatsQuery};

/// Response format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON object with rows.
    Json,
    /// CSV with a header row.
    Csv,
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The question.
    pub query: StatsQuery,
    /// The answer's format.
    pub format: Format,
}

/// A bad parameter: its name and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter {name}: {message}")]
pub struct ParamError {
    /// The parameter.
    pub name: String,
    /// What is wrong and what would be right.
    pub message: String,
}

fn error(name: &str, message: impl Into<String>) -> ParamError {
    ParamError {
        name: name.to_owned(),
        message: message.into(),
    }
}

fn date(params: &HashMap<String, String>, name: &str) -> Result<Option<NaiveDate>, ParamError> {
    params
        .get(name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .map_err(|_| error(name, format!("{v:?} is not a date YYYY-MM-DD")))
        })
        .transpose()
}

fn list(params: &HashMap<String, String>, name: &str) -> Vec<String> {
    params
        .get(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Parses the parameters of `/v1/stats` (`grouping` true) or `/v1/revisions` (false: no `by`).
pub fn parse(params: &HashMap<String, String>, grouping: bool) -> Result<Request, ParamError> {
    let known: &[&str] = if grouping {
        &[
            "from",
            "to",
            "by",
            "force",
            "offence_group",
            "cyber",
            "as_at",
            "format",
        ]
    } else {
        &[
            "from",
            "to",
            "force",
            "offence_group",
            "cyber",
            "as_at",
            "format",
        ]
    };
    let mut names: Vec<&String> = params.keys().collect();
    names.sort();
    if let Some(unknown) = names.into_iter().find(|n| !known.contains(&n.as_str())) {
        return Err(error(
            unknown.chars().take(40).collect::<String>().as_str(),
            format!("unknown parameter; expected one of {}", known.join(", ")),
        ));
    }
    let from = date(params, "from")?;
    let to = date(params, "to")?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(error("to", format!("{to} is before from {from}")));
    }
    let as_at = date(params, "as_at")?;
    let mut by = Vec::new();
    for name in list(params, "by") {
        let dimension: Dimension = name.parse().map_err(|e: String| error("by", e))?;
        if by.contains(&dimension) {
            return Err(error("by", format!("{name} is given twice")));
        }
        by.push(dimension);
    }
    let forces = list(params, "force")
        .iter()
        .map(|f| ForceId::lookup(f).map_err(|e| error("force", e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let offence_groups = list(params, "offence_group")
        .iter()
        .map(|g| {
            g.parse::<OffenceGroup>()
                .map_err(|e| error("offence_group", e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cyber = match params.get("cyber").map(String::as_str) {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => return Err(error("cyber", format!("{other:?}: expected true or false"))),
    };
    let format = match params.get("format").map(String::as_str) {
        None | Some("") | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some(other) => return Err(error("format", format!("{other:?}: expected json or csv"))),
    };
    Ok(Request {
        query: StatsQuery {
            by,
            from,
            to,
            forces,
            offence_groups,
            cyber,
            as_at,
        },
        format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_full_question_parses() {
        let request = parse(
            &params(&[
                ("from", "2015-04-01"),
                ("to", "2016-03-31"),
                ("by", "force,financial_year"),
                ("force", "west-mercia,Kent Police"),
                ("offence_group", "sexual-grooming"),
                ("cyber", "true"),
                ("as_at", "2016-06-30"),
                ("format", "csv"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(request.format, Format::Csv);
        assert_eq!(
            request.query.by,
            [Dimension::Force, Dimension::FinancialYear]
        );
        assert_eq!(request.query.forces.len(), 2);
        assert_eq!(request.query.cyber, Some(true));
        assert!(request.query.as_at.is_some());
    }

    #[test]
    fn every_error_names_its_parameter() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("from", "2015-13-01")], "from"),
            (&[("from", "2016-01-01"), ("to", "2015-01-01")], "to"),
            (&[("by", "colour")], "by"),
            (&[("by", "force,force")], "by"),
            (&[("force", "atlantis")], "force"),
            (&[("offence_group", "arson")], "offence_group"),
            (&[("cyber", "yes")], "cyber"),
            (&[("format", "xml")], "format"),
            (&[("as_at", "yesterday")], "as_at"),
            (&[("drop", "table")], "drop"),
        ];
        for (pairs, name) in cases {
            let error = parse(&params(pairs), true).unwrap_err();
            assert_eq!(error.name, *name, "{pairs:?}: {error}");
        }
        assert_eq!(
            parse(&params(&[("by", "force")]), false).unwrap_err().name,
            "by"
        );
    }
}

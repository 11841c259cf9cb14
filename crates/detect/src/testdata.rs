//! Test fixtures: the weekly S. Newport series of `tests/data/alerting/` (source and licence in
//! `tests/data/README.md`).

use chrono::NaiveDate;

use crate::Series;

/// `salmNewport` summed over its 16 states, 2004-01-05 .. 2012-12-31 (weekly, Mondays).
pub(crate) fn salmonella() -> Series {
    let text = include_str!("../../../tests/data/alerting/salmonella-weekly.csv");
    let mut points = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let (date, count) = line.split_once(',').expect("two columns");
        let date = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").expect("date");
        let count: i64 = count.trim().parse().expect("count");
        points.push((date, Some(count)));
    }
    Series::weekly_from_dated(&points).expect("weekly series")
}

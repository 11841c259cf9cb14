//! How many crimes a force records on a day: the national rate, each force's share, and a mild
//! weekday and seasonal pattern.
//!
//! # Force weights
//!
//! Two weights per force (police.uk id), this crate's own data:
//!
//! - **online**: share of the national online child sexual offences. Roughly the mid-2016
//!   population of the force area in millions, except West Mercia, whose share is fixed at
//!   213 / 5,475 ≈ 3.9% so that it records about 114 such crimes in 2015/16 and 213 in 2016/17
//!   (the NSPCC FOI figures, domain research §6.2; above its 2.2% population share). City of
//!   London (few residents) and British Transport Police get token weights.
//! - **crime**: share of all police-recorded crime (all-crime mode): approximate thousands of
//!   crimes a year, excluding fraud (Metropolitan about 830, City of London about 7).
//!
//! Shares are normalised over the default forces (the 43 territorial forces and BTP), so
//! simulating fewer forces keeps each force's volume. PSNI, when asked for, adds its own
//! volume on top.

use chrono::{Datelike, NaiveDate, Weekday};
use model::ForceId;

use crate::options::Options;

/// West Mercia's fixed share of online child sexual offences (NSPCC: 213 of ≈ 5,475 in 2016/17).
const WEST_MERCIA_ONLINE_SHARE: f64 = 213.0 / 5475.0;

/// (online weight, crime weight) of a force: see the module documentation.
fn weights(force: ForceId) -> (f64, f64) {
    match force.as_str() {
        "metropolitan" => (8.8, 830.0),
        "cumbria" => (0.5, 27.0),
        "lancashire" => (1.5, 130.0),
        "merseyside" => (1.4, 115.0),
        "greater-manchester" => (2.8, 330.0),
        "cheshire" => (1.05, 75.0),
        "northumbria" => (1.45, 125.0),
        "durham" => (0.63, 55.0),
        "north-yorkshire" => (0.81, 45.0),
        "west-yorkshire" => (2.3, 310.0),
        "south-yorkshire" => (1.38, 160.0),
        "humberside" => (0.93, 95.0),
        "cleveland" => (0.56, 75.0),
        "west-midlands" => (2.9, 300.0),
        "staffordshire" => (1.12, 85.0),
        // Online share fixed separately (WEST_MERCIA_ONLINE_SHARE).
        "west-mercia" => (0.0, 90.0),
        "warwickshire" => (0.56, 45.0),
        "derbyshire" => (1.04, 85.0),
        "nottinghamshire" => (1.15, 110.0),
        "lincolnshire" => (0.75, 55.0),
        "leicestershire" => (1.08, 90.0),
        "northamptonshire" => (0.73, 65.0),
        "cambridgeshire" => (0.84, 70.0),
        "norfolk" => (0.89, 60.0),
        "suffolk" => (0.75, 55.0),
        "bedfordshire" => (0.66, 55.0),
        "hertfordshire" => (1.18, 90.0),
        "essex" => (1.78, 165.0),
        "thames-valley" => (2.4, 185.0),
        "hampshire" => (1.98, 165.0),
        "surrey" => (1.18, 80.0),
        "kent" => (1.83, 185.0),
        "sussex" => (1.67, 140.0),
        "city-of-london" => (0.01, 7.0),
        "devon-and-cornwall" => (1.73, 115.0),
        "avon-and-somerset" => (1.68, 155.0),
        "gloucestershire" => (0.62, 45.0),
        "wiltshire" => (0.71, 45.0),
        "dorset" => (0.77, 50.0),
        "north-wales" => (0.7, 60.0),
        "gwent" => (0.58, 55.0),
        "south-wales" => (1.32, 125.0),
        "dyfed-powys" => (0.52, 30.0),
        "btp" => (0.05, 65.0),
        "northern-ireland" => (1.87, 105.0),
        // A force added to the model later: a small force.
        _ => (0.5, 40.0),
    }
}

/// True for the forces the shares are normalised over.
fn in_default_set(force: ForceId) -> bool {
    force.in_home_office_statistics()
}

/// The force's share of national online child sexual offences.
pub(crate) fn online_share(force: ForceId) -> f64 {
    if force.as_str() == "west-mercia" {
        return WEST_MERCIA_ONLINE_SHARE;
    }
    let others: f64 = ForceId::all()
        .filter(|other| in_default_set(*other))
        .map(|other| weights(other).0)
        .sum();
    (1.0 - WEST_MERCIA_ONLINE_SHARE) * weights(force).0 / others
}

/// The force's share of all recorded crime.
pub(crate) fn crime_share(force: ForceId) -> f64 {
    let total: f64 = ForceId::all()
        .filter(|other| in_default_set(*other))
        .map(|other| weights(other).1)
        .sum();
    weights(force).1 / total
}

/// The weight of a force as the receiver of a transfer (by size).
pub(crate) fn receiver_weight(force: ForceId, general: bool) -> f64 {
    if general {
        crime_share(force)
    } else {
        online_share(force)
    }
}

/// The middle of the financial year starting in `year` (1 October), as a day number.
fn middle_of_year(year: i32) -> Option<i32> {
    NaiveDate::from_ymd_opt(year, 10, 1).map(|date| date.num_days_from_ce())
}

/// The national daily rate of online child sexual offences through time: linear between
/// anchor values at the middle of each financial year, flat before the first and after the
/// last. The anchors are solved so that each year's mean rate is the rate given for it
/// (for consecutive years, the mean of year i is (a[i-1] + 6 a[i] + a[i+1]) / 8), so annual
/// totals match the published figures while the curve has no steps at year ends.
#[derive(Debug, Clone)]
pub(crate) struct RateCurve {
    anchors: Vec<(i32, f64)>,
}

impl RateCurve {
    pub(crate) fn new(options: &Options) -> RateCurve {
        let targets: Vec<(i32, f64)> = options
            .daily_rates
            .iter()
            .filter_map(|rate| middle_of_year(rate.year).map(|middle| (middle, rate.per_day)))
            .collect();
        let mut values: Vec<f64> = targets.iter().map(|&(_, rate)| rate).collect();
        let n = values.len();
        if n > 1 {
            // Gauss-Seidel on a diagonally dominant system: a fixed number of sweeps, pure
            // arithmetic, so the result is the same on every machine.
            for _ in 0..100 {
                for i in 0..n {
                    let target = targets[i].1;
                    let value = match (i.checked_sub(1).map(|j| values[j]), values.get(i + 1)) {
                        (Some(previous), Some(&next)) => (8.0 * target - previous - next) / 6.0,
                        (None, Some(&other)) | (Some(other), None) => (8.0 * target - other) / 7.0,
                        (None, None) => target,
                    };
                    values[i] = value.max(0.0);
                }
            }
        }
        RateCurve {
            anchors: targets
                .iter()
                .zip(values)
                .map(|(&(day, _), value)| (day, value))
                .collect(),
        }
    }

    /// National online child sexual offences per day on `date`.
    pub(crate) fn at(&self, date: NaiveDate) -> f64 {
        let day = date.num_days_from_ce();
        let Some(&(first_day, first_rate)) = self.anchors.first() else {
            return 0.0;
        };
        if day <= first_day {
            return first_rate;
        }
        for pair in self.anchors.windows(2) {
            let ((start, low), (end, high)) = (pair[0], pair[1]);
            if day <= end {
                let position = f64::from(day - start) / f64::from((end - start).max(1));
                return low + (high - low) * position;
            }
        }
        self.anchors.last().map_or(first_rate, |&(_, rate)| rate)
    }
}

/// Weekday pattern (mean 1): more crimes are recorded early in the week, fewer at weekends.
fn weekday_factor(date: NaiveDate) -> f64 {
    match date.weekday() {
        Weekday::Mon => 1.10,
        Weekday::Tue => 1.08,
        Weekday::Wed => 1.06,
        Weekday::Thu => 1.04,
        Weekday::Fri => 1.00,
        Weekday::Sat => 0.84,
        Weekday::Sun => 0.88,
    }
}

/// Seasonal pattern (mean 1): ±6%, lowest in mid-August (school holidays), highest in February.
fn season_factor(date: NaiveDate) -> f64 {
    let angle = 2.0 * std::f64::consts::PI * (f64::from(date.ordinal()) - 227.0) / 365.25;
    1.0 - 0.06 * libm::cos(angle)
}

/// The calendar and rise multiplier of `force` on `date`.
pub(crate) fn day_factor(options: &Options, force: ForceId, date: NaiveDate) -> f64 {
    let rise = match &options.rise {
        Some(rise) if rise.force == force && date >= rise.from => rise.factor,
        _ => 1.0,
    };
    weekday_factor(date) * season_factor(date) * rise * options.volume_scale
}

/// The financial year of a date, e.g. `"2016/17"`.
pub(crate) fn financial_year(date: NaiveDate) -> String {
    let start = if date.month() >= 4 {
        date.year()
    } else {
        date.year() - 1
    };
    format!("{start}/{:02}", (start + 1).rem_euclid(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    #[test]
    fn every_force_has_a_weight_and_shares_sum_to_one() {
        for force in ForceId::all() {
            assert!(weights(force).1 > 0.0, "{force}");
        }
        let online: f64 = ForceId::all()
            .filter(|f| in_default_set(*f))
            .map(online_share)
            .sum();
        let crime: f64 = ForceId::all()
            .filter(|f| in_default_set(*f))
            .map(crime_share)
            .sum();
        assert!((online - 1.0).abs() < 1e-9, "{online}");
        assert!((crime - 1.0).abs() < 1e-9, "{crime}");
        let metropolitan = ForceId::from_id("metropolitan").unwrap();
        let city = ForceId::from_id("city-of-london").unwrap();
        for force in ForceId::all().filter(|f| *f != metropolitan) {
            assert!(online_share(force) < online_share(metropolitan));
            assert!(online_share(force) >= online_share(city) || force.as_str() == "btp");
        }
    }

    #[test]
    fn national_rate_averages_the_nspcc_series_per_year() {
        let curve = RateCurve::new(&Options::default());
        for (year, expected) in [
            (2015, 8.0),
            (2016, 15.0),
            (2017, 18.5),
            (2018, 22.0),
            (2019, 28.0),
        ] {
            let start = date(year, 4, 1);
            let days = (date(year + 1, 4, 1) - start).num_days();
            let total: f64 = (0..days)
                .map(|offset| curve.at(start + chrono::Days::new(offset as u64)))
                .sum();
            let mean = total / days as f64;
            assert!((mean - expected).abs() < 0.03 * expected, "{year}: {mean}");
        }
        let before = curve.at(date(2010, 1, 1));
        assert!(before > 0.0 && before <= 8.0, "{before}");
        let single = Options {
            daily_rates: vec![crate::YearRate {
                year: 2016,
                per_day: 5.0,
            }],
            ..Options::default()
        };
        assert_eq!(RateCurve::new(&single).at(date(2020, 1, 1)), 5.0);
    }

    #[test]
    fn calendar_factors_average_one() {
        let start = date(2018, 1, 1);
        let days = 365 * 4;
        let mut sum = 0.0;
        for offset in 0..days {
            let day = start + chrono::Days::new(offset);
            sum += weekday_factor(day) * season_factor(day);
        }
        let mean = sum / days as f64;
        assert!((mean - 1.0).abs() < 0.01, "{mean}");
        assert_eq!(financial_year(date(2017, 3, 31)), "2016/17");
        assert_eq!(financial_year(date(2017, 4, 1)), "2017/18");
        assert_eq!(financial_year(date(1999, 4, 1)), "1999/00");
    }
}

//! What to simulate: [`Options`], with documented defaults, and the optional injected [`Rise`].
//!
//! Every rate is a probability per crime (or per row, per file) unless said otherwise. The
//! defaults reproduce the NSPCC FOI series (domain research §6.2): about 8 online child sexual
//! offences a day in England and Wales in 2015/16, 15 in 2016/17, 22 in 2018/19 and 28 in
//! 2019/20, with West Mercia at about 114 and 213 a year in the first two years.

use chrono::NaiveDate;
use model::ForceId;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The national daily rate of online child sexual offences for one financial year.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearRate {
    /// The calendar year the financial year starts in: 2016 for 2016/17 (1 April 2016 to
    /// 31 March 2017).
    pub year: i32,
    /// Counted online (cyber-flagged) child sexual offences per day, England and Wales.
    pub per_day: f64,
}

/// A step change injected into one force's rates, for alert tests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rise {
    /// The force whose rates change.
    pub force: ForceId,
    /// The first recorded date the factor applies to.
    pub from: NaiveDate,
    /// The multiplier of every one of the force's daily rates from `from` on (e.g. 1.87).
    pub factor: f64,
}

/// Everything a simulation depends on. The same options (seed included) always produce the
/// same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Seed of every random choice. Default 2015.
    pub seed: u64,
    /// First recorded date simulated. Default 2015-04-01.
    pub from: NaiveDate,
    /// Last recorded date simulated, and last day any change happens. Default 2020-03-31.
    pub to: NaiveDate,
    /// The day the exports are read ("now" for validation): no date in the data is after it.
    /// Must be on or after `to`. Default 2020-04-01.
    pub today: NaiveDate,
    /// The forces to simulate; `None` (the default) is the 43 territorial forces and British
    /// Transport Police (every force in the Home Office statistics; PSNI excluded).
    pub forces: Option<Vec<ForceId>>,
    /// National counted online child sexual offences per day, by financial year, ascending.
    /// The curve is linear between anchors at the middles of the years (1 October), flat before
    /// the first and after the last, with anchors chosen so that each year's mean is its rate
    /// (no step at year ends, annual totals as published). Default: the NSPCC series, 2015/16 8,
    /// 2016/17 15, 2017/18 18.5 (interpolated: not published), 2018/19 22, 2019/20 28.
    pub daily_rates: Vec<YearRate>,
    /// Multiplies every volume (all streams, all forces). Default 1.0.
    pub volume_scale: f64,
    /// Share of child sexual offence records that are not cyber-flagged (generated on top of
    /// the online ones, never flagged). Default 0.25.
    pub non_cyber_share: f64,
    /// Online indecent-images-of-children records (`86/2`) per online child sexual offence;
    /// counted apart, as in the NSPCC series. Default 0.2.
    pub indecent_images_ratio: f64,
    /// Share of child sexual offence records without a victim age. Default 0.12.
    pub unknown_age_share: f64,
    /// Share of `86/2` records without a victim age (often no identified victim). Default 0.6.
    pub images_unknown_age_share: f64,
    /// Share of grooming (`88A`) and sexual communication (`71/17`) crimes later reclassified
    /// (to `22B`, `19D`/`19G`, `21`, `19E`/`19H` or `88A`, consistent with the victim age).
    /// Default 0.08.
    pub reclassification_rate: f64,
    /// Share of crimes later cancelled. Default 0.03.
    pub cancellation_rate: f64,
    /// Share of crimes later transferred to another simulated force, which records them under
    /// its own reference 1–21 days later. Default 0.01.
    pub transfer_rate: f64,
    /// Share of online crimes recorded without the cyber flag and flagged in a later version.
    /// Default 0.08.
    pub late_flag_rate: f64,
    /// Share of crimes that get an outcome (months later for child sexual offences, weeks for
    /// volume crime). Default 0.7.
    pub outcome_rate: f64,
    /// Probability, after each monthly file, that one earlier monthly file of the same force is
    /// re-sent whole as a new file. Default 0.03.
    pub resend_probability: f64,
    /// Probability, per record version written, that a malformed row is written next to it.
    /// Default 0.005.
    pub malformed_rate: f64,
    /// An injected rise in one force's rates, if any. Default none.
    pub rise: Option<Rise>,
    /// Also simulate every police.uk category (category only, no offence code) at realistic
    /// volumes. Default false.
    pub all_crime: bool,
    /// Total crimes a year in England and Wales in all-crime mode (before `volume_scale`).
    /// Default 6,500,000.
    pub all_crime_per_year: f64,
}

/// The NSPCC series (domain research §6.2), 2017/18 interpolated.
const NSPCC_RATES: [YearRate; 5] = [
    YearRate {
        year: 2015,
        per_day: 8.0,
    },
    YearRate {
        year: 2016,
        per_day: 15.0,
    },
    YearRate {
        year: 2017,
        per_day: 18.5,
    },
    YearRate {
        year: 2018,
        per_day: 22.0,
    },
    YearRate {
        year: 2019,
        per_day: 28.0,
    },
];

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 2015,
            from: NaiveDate::from_ymd_opt(2015, 4, 1).unwrap_or(NaiveDate::MIN),
            to: NaiveDate::from_ymd_opt(2020, 3, 31).unwrap_or(NaiveDate::MIN),
            today: NaiveDate::from_ymd_opt(2020, 4, 1).unwrap_or(NaiveDate::MIN),
            forces: None,
            daily_rates: NSPCC_RATES.to_vec(),
            volume_scale: 1.0,
            non_cyber_share: 0.25,
            indecent_images_ratio: 0.2,
            unknown_age_share: 0.12,
            images_unknown_age_share: 0.6,
            reclassification_rate: 0.08,
            cancellation_rate: 0.03,
            transfer_rate: 0.01,
            late_flag_rate: 0.08,
            outcome_rate: 0.7,
            resend_probability: 0.03,
            malformed_rate: 0.005,
            rise: None,
            all_crime: false,
            all_crime_per_year: 6_500_000.0,
        }
    }
}

impl Options {
    /// Reads options from TOML; missing keys take their defaults, unknown keys are refused.
    pub fn from_toml(text: &str) -> Result<Options, Error> {
        toml::from_str(text).map_err(|error| Error::Options(error.to_string()))
    }

    /// The forces simulated, in [`ForceId`] order, without duplicates.
    pub fn simulated_forces(&self) -> Vec<ForceId> {
        let mut forces: Vec<ForceId> = match &self.forces {
            Some(forces) => forces.clone(),
            None => ForceId::all()
                .filter(|force| force.in_home_office_statistics())
                .collect(),
        };
        forces.sort();
        forces.dedup();
        forces
    }

    /// Checks the options; [`crate::write_simulation`] calls it first.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |message: String| Err(Error::Options(message));
        let min =
            NaiveDate::from_ymd_opt(model::validate::MIN_YEAR, 1, 1).unwrap_or(NaiveDate::MIN);
        if self.from < min {
            return bad(format!("from {} is before {min}", self.from));
        }
        if self.from > self.to {
            return bad(format!("from {} is after to {}", self.from, self.to));
        }
        if self.today < self.to {
            return bad(format!("today {} is before to {}", self.today, self.to));
        }
        if self.simulated_forces().is_empty() {
            return bad("no force to simulate".to_owned());
        }
        if self.daily_rates.is_empty() {
            return bad("daily_rates is empty".to_owned());
        }
        if self
            .daily_rates
            .windows(2)
            .any(|pair| pair[0].year >= pair[1].year)
        {
            return bad("daily_rates must be in ascending year order, one per year".to_owned());
        }
        let amounts = [
            (
                "daily_rates.per_day",
                self.daily_rates
                    .iter()
                    .map(|r| r.per_day)
                    .fold(0.0, f64::min),
            ),
            ("volume_scale", self.volume_scale),
            ("indecent_images_ratio", self.indecent_images_ratio),
            ("all_crime_per_year", self.all_crime_per_year),
        ];
        for (name, value) in amounts {
            if !(value.is_finite() && value >= 0.0) {
                return bad(format!("{name} must be a finite number >= 0, not {value}"));
            }
        }
        let probabilities = [
            ("non_cyber_share", self.non_cyber_share, 0.99),
            ("unknown_age_share", self.unknown_age_share, 1.0),
            (
                "images_unknown_age_share",
                self.images_unknown_age_share,
                1.0,
            ),
            ("reclassification_rate", self.reclassification_rate, 1.0),
            ("cancellation_rate", self.cancellation_rate, 0.99),
            ("transfer_rate", self.transfer_rate, 1.0),
            ("late_flag_rate", self.late_flag_rate, 1.0),
            ("outcome_rate", self.outcome_rate, 1.0),
            ("resend_probability", self.resend_probability, 1.0),
            ("malformed_rate", self.malformed_rate, 1.0),
        ];
        for (name, value, max) in probabilities {
            if !(value.is_finite() && (0.0..=max).contains(&value)) {
                return bad(format!("{name} must be between 0 and {max}, not {value}"));
            }
        }
        if self.cancellation_rate + self.transfer_rate > 1.0 {
            return bad("cancellation_rate + transfer_rate must not exceed 1".to_owned());
        }
        if let Some(rise) = &self.rise
            && !(rise.factor.is_finite() && rise.factor >= 0.0)
        {
            return bad(format!("rise factor must be >= 0, not {}", rise.factor));
        }
        Ok(())
    }
}

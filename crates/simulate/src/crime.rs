//! One simulated crime and its versions: the shared facts of a crime ([`Crime`]), the state of
//! each version ([`Version`]), force crime references, and victim dates of birth.

use std::collections::BTreeMap;
use std::rc::Rc;

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime};
use model::{Category, ForceId, HomeOfficeOutcome, OffenceCode, Region, SourceFormat, Status};

use crate::dialect_of;
use crate::random::{Rng, between};

/// What does not change between the versions of a crime.
#[derive(Debug)]
pub(crate) struct Crime {
    /// The recording force.
    pub(crate) force: ForceId,
    /// The force's own crime reference.
    pub(crate) reference: String,
    /// When the crime was recorded (the date is the recorded date).
    pub(crate) recorded_at: NaiveDateTime,
    /// First day of the offence.
    pub(crate) offence_from: NaiveDate,
    /// Last day of the offence.
    pub(crate) offence_to: NaiveDate,
    /// Victim age at `offence_from`, if known.
    pub(crate) age: Option<u8>,
    /// Victim date of birth, consistent with `age` (present exactly when `age` is).
    pub(crate) dob: Option<NaiveDate>,
    /// LSOA number (six digits after `E01`/`W01`), if the location is known.
    pub(crate) lsoa: Option<u32>,
    /// Seed of the private fields and of per-crime habits (outcome wording).
    pub(crate) private_seed: u64,
    /// True for volume crime of all-crime mode (category only).
    pub(crate) general: bool,
}

impl Crime {
    /// The LSOA code, `E01…` or `W01…` by the force's country.
    pub(crate) fn lsoa_code(&self) -> Option<String> {
        let prefix = if self.force.info().region == Region::Wales {
            "W01"
        } else {
            "E01"
        };
        self.lsoa.map(|number| format!("{prefix}{number:06}"))
    }

    /// The recorded date.
    pub(crate) fn recorded(&self) -> NaiveDate {
        self.recorded_at.date()
    }
}

/// One version of a crime, as the force's system holds it after a change.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    /// The crime.
    pub(crate) crime: Rc<Crime>,
    /// 1 for the first version, then +1 per change.
    pub(crate) seq: u32,
    /// When the change was made.
    pub(crate) at: NaiveDateTime,
    /// Recorded, cancelled or transferred.
    pub(crate) status: Status,
    /// Home Office offence code (none for volume crime).
    pub(crate) code: Option<OffenceCode>,
    /// police.uk category (the code's, for coded crimes).
    pub(crate) category: Category,
    /// The online flag.
    pub(crate) cyber: bool,
    /// The outcome, once assigned.
    pub(crate) outcome: Option<HomeOfficeOutcome>,
}

impl Version {
    /// The order versions are written in within a file.
    pub(crate) fn sort_key(&self) -> (NaiveDateTime, &str, u32) {
        (self.at, self.crime.reference.as_str(), self.seq)
    }
}

/// Two capital letters for a force, from its display name ("West Mercia Police" → "WM").
fn initials(force: ForceId) -> String {
    const SKIP: [&str; 6] = ["and", "of", "the", "police", "constabulary", "service"];
    let name = force.info().name;
    let words: Vec<&str> = name
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter(|word| word.chars().all(|c| c.is_ascii_alphabetic()) && !word.is_empty())
        .filter(|word| !SKIP.contains(&word.to_ascii_lowercase().as_str()))
        .collect();
    let mut letters: String = words
        .iter()
        .filter_map(|word| word.chars().next())
        .collect();
    if letters.len() < 2 {
        letters = words
            .first()
            .copied()
            .unwrap_or(force.as_str())
            .chars()
            .take(2)
            .collect();
    }
    letters.to_ascii_uppercase().chars().take(3).collect()
}

/// Crime reference numbers: a serial per force and year, written in the force's style.
#[derive(Debug, Default)]
pub(crate) struct References {
    serials: BTreeMap<(ForceId, i32), u32>,
    initials: BTreeMap<ForceId, String>,
}

impl References {
    /// A new, never used reference of `force` for a crime recorded in `year`: `22WM/012345/19`
    /// (force-csv), `AS190012345` (force-json) or `040012345/19` (national-ndjson).
    pub(crate) fn next(&mut self, force: ForceId, year: i32, rng: &mut Rng) -> String {
        let serial = self.serials.entry((force, year)).or_insert(0);
        *serial += 1;
        let serial = *serial;
        let initials = self
            .initials
            .entry(force)
            .or_insert_with(|| initials(force));
        let yy = year.rem_euclid(100);
        match dialect_of(force) {
            SourceFormat::ForceCsv => {
                format!("{:02}{initials}/{serial:06}/{yy:02}", between(rng, 10, 99))
            }
            SourceFormat::ForceJson => format!("{initials}{yy:02}{serial:07}"),
            _ => format!("{:02}{serial:07}/{yy:02}", between(rng, 1, 32)),
        }
    }
}

/// Age in whole years on `date` of someone born on `dob`.
pub(crate) fn age_on(dob: NaiveDate, date: NaiveDate) -> i32 {
    let before_birthday = (date.month(), date.day()) < (dob.month(), dob.day());
    date.year() - dob.year() - i32::from(before_birthday)
}

/// A date of birth giving age `age` on `offence_from`, and the same age on `recorded` when the
/// two are less than a year apart (so an adapter computing the age at either date agrees).
pub(crate) fn date_of_birth(
    rng: &mut Rng,
    age: u8,
    offence_from: NaiveDate,
    recorded: NaiveDate,
) -> Option<NaiveDate> {
    let birthday = offence_from.checked_sub_months(Months::new(12 * u32::from(age)))?;
    for _ in 0..8 {
        let days = u64::from(between(rng, 0, 364));
        if let Some(dob) = birthday.checked_sub_days(chrono::Days::new(days))
            && age_on(dob, offence_from) == i32::from(age)
            && age_on(dob, recorded) == i32::from(age)
        {
            return Some(dob);
        }
    }
    Some(birthday)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::{Purpose, stream};

    #[test]
    fn initials_and_references() {
        let cases = [
            ("west-mercia", "WM"),
            ("avon-and-somerset", "AS"),
            ("metropolitan", "ME"),
            ("city-of-london", "CL"),
            ("devon-and-cornwall", "DC"),
            ("dyfed-powys", "DP"),
            ("btp", "BT"),
        ];
        for (id, expected) in cases {
            assert_eq!(initials(ForceId::from_id(id).unwrap()), expected);
        }
        let mut references = References::default();
        let mut rng = stream(1, Purpose::Generate, 0, 0);
        let west_mercia = ForceId::from_id("west-mercia").unwrap();
        let first = references.next(west_mercia, 2019, &mut rng);
        assert!(first.ends_with("WM/000001/19"), "{first}");
        let avon = ForceId::from_id("avon-and-somerset").unwrap();
        assert_eq!(references.next(avon, 2019, &mut rng), "AS190000001");
        assert_eq!(references.next(avon, 2019, &mut rng), "AS190000002");
        for force in ForceId::all() {
            let reference = references.next(force, 2016, &mut rng);
            assert!(
                model::CrimeRef::new(reference.clone()).is_ok(),
                "{reference}"
            );
        }
    }

    #[test]
    fn dates_of_birth_match_the_age() {
        let mut rng = stream(2, Purpose::Generate, 0, 0);
        let from = NaiveDate::from_ymd_opt(2016, 2, 29).unwrap();
        for age in 3..=17u8 {
            for gap in [0, 30, 200, 800] {
                let recorded = from + chrono::Days::new(gap);
                let dob = date_of_birth(&mut rng, age, from, recorded).unwrap();
                assert_eq!(age_on(dob, from), i32::from(age));
                if gap < 200 {
                    let at_recording = age_on(dob, recorded);
                    assert!(at_recording == i32::from(age) || gap > 0, "{age} {gap}");
                }
            }
        }
    }
}

//! What the crimes are: offence mixes, victim ages, outcomes, reclassification targets and the
//! police.uk category mix of all-crime mode. Codes are parsed with `model` (so every code here
//! is checked against its catalogue) and ages are drawn within each code's `VictimAgeRule`.
//!
//! The mixes are this crate's own assumptions, shaped on domain research §2 and §6:
//! sexual communication with a child (`71/17`, only from 3 April 2017) dominates online child
//! sexual offences once it exists, then sexual activity (`22B`), grooming (`88A`) and child
//! sexual exploitation (`71`); contact offences dominate those without the flag. Victims are
//! mostly 13–15, 13 the commonest age, about 100 a year (2016/17) aged 10 or under, the
//! youngest 3.

use chrono::NaiveDate;
use model::{Category, HomeOfficeOutcome as Ho, OffenceCode, PoliceUkOutcome, VictimAgeRule};

use crate::Error;
use crate::random::{Rng, chance, unit, weighted};

/// Sexual communication with a child (SOA 2003 s.15A) came into force on this day.
pub(crate) fn sexual_communication_in_force() -> NaiveDate {
    NaiveDate::from_ymd_opt(2017, 4, 3).unwrap_or(NaiveDate::MIN)
}

/// Online child sexual offences: (code, weight).
const ONLINE_CHILD: [(&str, f64); 13] = [
    ("71/17", 0.40),
    ("88A", 0.12),
    ("22B", 0.13),
    ("71", 0.06),
    ("19D", 0.04),
    ("19G", 0.01),
    ("19E", 0.02),
    ("19H", 0.005),
    ("17B", 0.01),
    ("20B", 0.03),
    ("21", 0.03),
    ("23", 0.01),
    ("73", 0.02),
];

/// Child sexual offences without the online flag: mostly contact offences.
const OFFLINE_CHILD: [(&str, f64); 13] = [
    ("22B", 0.25),
    ("20B", 0.15),
    ("17B", 0.05),
    ("21", 0.10),
    ("19D", 0.08),
    ("19E", 0.06),
    ("19G", 0.02),
    ("19H", 0.02),
    ("23", 0.08),
    ("73", 0.04),
    ("71", 0.05),
    ("88A", 0.05),
    ("71/17", 0.05),
];

/// Relative weight of each single year of age 0–17 before the code's rule is applied.
const AGE_WEIGHTS: [f64; 18] = [
    0.0, 0.0, 0.0, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.15, 0.22, 2.5, 5.0, 20.0, 17.0, 14.0, 5.0,
    3.0,
];

/// Outcomes of child sexual offences (Avon and Somerset 88A shape: OC18 commonest, few
/// charges).
const CHILD_OUTCOMES: [(Ho, f64); 9] = [
    (Ho::InvestigationCompleteNoSuspect, 0.28),
    (Ho::ChargedOrSummonsed, 0.16),
    (Ho::EvidentialDifficultiesVictimSupports, 0.12),
    (Ho::EvidentialDifficultiesVictimDoesNotSupport, 0.16),
    (Ho::EvidentialDifficultiesSuspectNotIdentified, 0.07),
    (Ho::FurtherInvestigationNotInPublicInterest, 0.06),
    (Ho::ActionByAnotherBody, 0.08),
    (Ho::FormalActionNotInPublicInterestPolice, 0.04),
    (Ho::CommunityResolution, 0.03),
];

/// Outcomes of volume crime.
const GENERAL_OUTCOMES: [(Ho, f64); 8] = [
    (Ho::InvestigationCompleteNoSuspect, 0.50),
    (Ho::EvidentialDifficultiesSuspectNotIdentified, 0.14),
    (Ho::EvidentialDifficultiesVictimDoesNotSupport, 0.10),
    (Ho::ChargedOrSummonsed, 0.08),
    (Ho::CommunityResolution, 0.07),
    (Ho::EvidentialDifficultiesVictimSupports, 0.05),
    (Ho::CautionAdult, 0.03),
    (Ho::FurtherInvestigationNotInPublicInterest, 0.03),
];

/// Codes that look like real ones but are not in the catalogue.
pub(crate) const UNKNOWN_CODES: [&str; 5] = ["99Z", "88Z", "19Q", "71/99", "86/9"];

/// (code, age) pairs that break the code's victim age rule, far enough from the boundary that
/// the age is wrong whether it is taken at the offence or at recording.
const INCONSISTENT_AGES: [(&str, u8); 5] = [
    ("19E", 14),
    ("19D", 9),
    ("21", 14),
    ("71/17", 17),
    ("22B", 16),
];

/// (share of all recorded crime, share of it cyber-flagged) of a police.uk category in
/// all-crime mode; `None` for categories no crime is generated in.
fn category_mix(category: Category) -> Option<(f64, f64)> {
    Some(match category {
        Category::ViolentCrime => (0.33, 0.06),
        Category::OtherTheft => (0.13, 0.02),
        Category::CriminalDamageArson => (0.09, 0.003),
        Category::PublicOrder => (0.08, 0.05),
        Category::VehicleCrime => (0.07, 0.001),
        Category::Burglary => (0.06, 0.002),
        Category::Shoplifting => (0.06, 0.001),
        Category::Drugs => (0.025, 0.01),
        Category::OtherCrime => (0.02, 0.15),
        Category::TheftFromThePerson => (0.015, 0.01),
        Category::BicycleTheft => (0.015, 0.001),
        Category::Robbery => (0.013, 0.005),
        Category::PossessionOfWeapons => (0.008, 0.002),
        Category::AllCrime | Category::AntiSocialBehaviour | Category::PublicDisorderAndWeapons => {
            return None;
        }
    })
}

/// The parsed tables.
#[derive(Debug)]
pub(crate) struct Tables {
    online_child: Vec<(OffenceCode, f64)>,
    offline_child: Vec<(OffenceCode, f64)>,
    /// `86/2`, indecent photographs of children.
    pub(crate) images: OffenceCode,
    sexual_communication: OffenceCode,
    grooming: OffenceCode,
    under_16_activity: OffenceCode,
    rape_13_to_15: [(OffenceCode, f64); 3],
    under_13: [(OffenceCode, f64); 3],
    inconsistent: Vec<(OffenceCode, u8)>,
    /// (category, share of all crime normalised to 1, cyber share).
    pub(crate) categories: Vec<(Category, f64, f64)>,
}

fn parse(code: &str) -> Result<OffenceCode, Error> {
    OffenceCode::parse(code).map_err(|error| Error::Internal(error.to_string()))
}

fn parse_mix(mix: &[(&str, f64)]) -> Result<Vec<(OffenceCode, f64)>, Error> {
    mix.iter()
        .map(|&(code, weight)| Ok((parse(code)?, weight)))
        .collect()
}

impl Tables {
    /// Parses every code of the tables with `model`.
    pub(crate) fn new() -> Result<Tables, Error> {
        let categories: Vec<(Category, f64, f64)> = Category::ALL
            .into_iter()
            .filter_map(|category| {
                category_mix(category).map(|(share, cyber)| (category, share, cyber))
            })
            .collect();
        let total: f64 = categories.iter().map(|(_, share, _)| share).sum();
        Ok(Tables {
            online_child: parse_mix(&ONLINE_CHILD)?,
            offline_child: parse_mix(&OFFLINE_CHILD)?,
            images: parse("86/2")?,
            sexual_communication: parse("71/17")?,
            grooming: parse("88A")?,
            under_16_activity: parse("22B")?,
            rape_13_to_15: [
                (parse("22B")?, 0.6),
                (parse("19D")?, 0.3),
                (parse("19G")?, 0.1),
            ],
            under_13: [
                (parse("21")?, 0.6),
                (parse("19E")?, 0.3),
                (parse("19H")?, 0.1),
            ],
            inconsistent: INCONSISTENT_AGES
                .iter()
                .map(|&(code, age)| Ok((parse(code)?, age)))
                .collect::<Result<_, Error>>()?,
            categories: categories
                .into_iter()
                .map(|(category, share, cyber)| (category, share / total, cyber))
                .collect(),
        })
    }

    /// A child sexual offence code for a crime recorded on `date`, online or not. `71/17` is
    /// never drawn before it came into force.
    pub(crate) fn child_code(&self, rng: &mut Rng, date: NaiveDate, online: bool) -> OffenceCode {
        let mix = if online {
            &self.online_child
        } else {
            &self.offline_child
        };
        let in_force = date >= sexual_communication_in_force();
        let allowed: Vec<(OffenceCode, f64)> = mix
            .iter()
            .copied()
            .filter(|(code, _)| in_force || *code != self.sexual_communication)
            .collect();
        weighted(rng, &allowed).unwrap_or(self.grooming)
    }

    /// True for codes that get reclassified when contact offending emerges.
    pub(crate) fn reclassifiable(&self, code: OffenceCode) -> bool {
        code == self.grooming || code == self.sexual_communication
    }

    /// The code a grooming or sexual communication crime is reclassified to, consistent with
    /// the victim's age.
    pub(crate) fn reclassification(
        &self,
        rng: &mut Rng,
        from: OffenceCode,
        age: Option<u8>,
    ) -> OffenceCode {
        if from == self.sexual_communication && chance(rng, 0.25) {
            return self.grooming;
        }
        match age {
            Some(age) if age < 13 => weighted(rng, &self.under_13),
            Some(age) if age < 16 => weighted(rng, &self.rape_13_to_15),
            _ => None,
        }
        .unwrap_or(self.under_16_activity)
    }

    /// A victim age admitted by `rule` (`None` when no child age is).
    pub(crate) fn age(&self, rng: &mut Rng, rule: VictimAgeRule) -> Option<u8> {
        let ages: Vec<(u8, f64)> = (0u8..)
            .zip(AGE_WEIGHTS)
            .filter(|&(age, weight)| weight > 0.0 && rule.admits(age))
            .collect();
        weighted(rng, &ages)
    }

    /// An outcome: of a child sexual offence, or of volume crime.
    pub(crate) fn outcome(&self, rng: &mut Rng, general: bool) -> Ho {
        let mix: &[(Ho, f64)] = if general {
            &GENERAL_OUTCOMES
        } else {
            &CHILD_OUTCOMES
        };
        weighted(rng, mix).unwrap_or(Ho::InvestigationCompleteNoSuspect)
    }

    /// A (code, age) pair that breaks the code's age rule.
    pub(crate) fn inconsistent_age(&self, rng: &mut Rng) -> (OffenceCode, u8) {
        let index = (unit(rng) * self.inconsistent.len() as f64) as usize;
        self.inconsistent
            .get(index)
            .or(self.inconsistent.first())
            .copied()
            .unwrap_or((self.grooming, 17))
    }
}

/// The police.uk outcome a force-json system shows for a Home Office outcome.
pub(crate) fn police_uk_outcome(outcome: Ho) -> PoliceUkOutcome {
    match outcome {
        Ho::ChargedOrSummonsed | Ho::ChargedOrSummonsedAlternativeOffence => {
            PoliceUkOutcome::Charged
        }
        Ho::CautionYouth | Ho::CautionAdult => PoliceUkOutcome::Cautioned,
        Ho::CommunityResolution => PoliceUkOutcome::LocalResolution,
        Ho::FormalActionNotInPublicInterestPolice => {
            PoliceUkOutcome::FormalActionNotInPublicInterest
        }
        Ho::EvidentialDifficultiesSuspectNotIdentified
        | Ho::EvidentialDifficultiesVictimSupports
        | Ho::EvidentialDifficultiesVictimDoesNotSupport
        | Ho::TimeLimitExpired => PoliceUkOutcome::UnableToProsecute,
        Ho::InvestigationCompleteNoSuspect => PoliceUkOutcome::NoFurtherAction,
        Ho::ActionByAnotherBody => PoliceUkOutcome::ActionTakenByAnotherOrganisation,
        Ho::FurtherInvestigationNotInPublicInterest => {
            PoliceUkOutcome::FurtherInvestigationNotInPublicInterest
        }
        _ => PoliceUkOutcome::StatusUpdateUnavailable,
    }
}

#[cfg(test)]
mod tests {
    use model::{OffenceCodeError, OffenceGroup};

    use super::*;
    use crate::random::{Purpose, stream};

    #[test]
    fn tables_parse_and_mixes_are_child_sexual_offences() {
        let tables = Tables::new().unwrap();
        for (code, _) in tables.online_child.iter().chain(&tables.offline_child) {
            let group = code.offence().unwrap().group;
            assert!(group.is_child_sexual_offence(), "{code}");
        }
        assert_eq!(
            tables.images.offence().unwrap().group,
            OffenceGroup::IndecentImagesOfChildren
        );
        let sum: f64 = tables.categories.iter().map(|(_, share, _)| share).sum();
        assert!((sum - 1.0).abs() < 1e-9);
        assert_eq!(tables.categories.len(), 13);
    }

    #[test]
    fn unknown_codes_are_well_formed_but_not_in_the_catalogue() {
        for code in UNKNOWN_CODES {
            assert!(
                matches!(
                    OffenceCode::parse(code),
                    Err(OffenceCodeError::Unknown { .. })
                ),
                "{code}"
            );
        }
        let tables = Tables::new().unwrap();
        for (code, age) in &tables.inconsistent {
            let rule = code.offence().unwrap().victim_age;
            assert!(!rule.admits(*age), "{code} {age}");
            assert!(!rule.admits(age + 1), "{code} {age}+1");
        }
    }

    #[test]
    fn ages_fit_rules_and_codes_respect_dates() {
        let tables = Tables::new().unwrap();
        let mut rng = stream(3, Purpose::Generate, 0, 0);
        let before = NaiveDate::from_ymd_opt(2017, 4, 2).unwrap();
        for _ in 0..2000 {
            let code = tables.child_code(&mut rng, before, true);
            assert_ne!(code, tables.sexual_communication);
            let rule = code.offence().unwrap().victim_age;
            let age = tables.age(&mut rng, rule).unwrap();
            assert!(rule.admits(age) && age >= 3, "{code} {age}");
            if tables.reclassifiable(code) {
                let target = tables.reclassification(&mut rng, code, Some(age));
                assert!(target.offence().unwrap().victim_age.admits(age));
                assert_ne!(target, code);
            }
        }
        let mut thirteen = 0;
        let mut ten_or_under = 0;
        let n = 20_000;
        for _ in 0..n {
            match tables.age(&mut rng, VictimAgeRule::Under16) {
                Some(13) => thirteen += 1,
                Some(age) if age <= 10 => ten_or_under += 1,
                _ => {}
            }
        }
        assert!(thirteen > n / 4, "{thirteen}");
        assert!(ten_or_under < n / 20, "{ten_or_under}");
    }
}

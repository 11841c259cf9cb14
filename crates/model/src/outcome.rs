//! Crime outcomes in the two vocabularies forces use: data.police.uk outcome categories and the
//! Home Office outcome types.
//!
//! - [`PoliceUkOutcome`]: the outcome categories of data.police.uk (API code such as
//!   `no-further-action`, and the CSV/human name such as "Investigation complete; no suspect
//!   identified"), plus the two statuses the CSVs also carry ("Under investigation", "Status
//!   update unavailable"). Older CSV spellings parse too: "Offender imprisoned" (renamed
//!   "Offender sent to prison" in 2014), "Offender given penalty notice" (the CSV spelling of the
//!   API's "Offender given a penalty notice") and "Awaiting court result".
//! - [`HomeOfficeOutcome`]: the Home Office outcome framework (April 2014 onwards), types 1, 1A
//!   and 2–22. The meanings of types 5, 7, 9, 11, 12, 13 and 19 come from secondary sources.
//!
//! [`Outcome`] holds either and serializes to one stable string: the police.uk API code
//! (`"charged"`) or `ho-` and the Home Office type in lowercase (`"ho-1a"`, `"ho-18"`).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::text::{excerpt, fold};

/// A data.police.uk outcome category (or crime status) of a street-level crime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoliceUkOutcome {
    /// `awaiting-court-result`: "Awaiting court outcome".
    AwaitingCourtResult,
    /// `court-result-unavailable`: "Court result unavailable".
    CourtResultUnavailable,
    /// `unable-to-proceed`: "Court case unable to proceed".
    UnableToProceed,
    /// `local-resolution`: "Local resolution".
    LocalResolution,
    /// `no-further-action`: "Investigation complete; no suspect identified".
    NoFurtherAction,
    /// `deprived-of-property`: "Offender deprived of property".
    DeprivedOfProperty,
    /// `fined`: "Offender fined".
    Fined,
    /// `absolute-discharge`: "Offender given absolute discharge".
    AbsoluteDischarge,
    /// `cautioned`: "Offender given a caution".
    Cautioned,
    /// `drugs-possession-warning`: "Offender given a drugs possession warning".
    DrugsPossessionWarning,
    /// `penalty-notice-issued`: "Offender given a penalty notice" (CSV: "Offender given penalty
    /// notice").
    PenaltyNoticeIssued,
    /// `community-penalty`: "Offender given community sentence".
    CommunityPenalty,
    /// `conditional-discharge`: "Offender given conditional discharge".
    ConditionalDischarge,
    /// `suspended-sentence`: "Offender given suspended prison sentence".
    SuspendedSentence,
    /// `imprisoned`: "Offender sent to prison" (before 2014: "Offender imprisoned").
    Imprisoned,
    /// `other-court-disposal`: "Offender otherwise dealt with".
    OtherCourtDisposal,
    /// `compensation`: "Offender ordered to pay compensation".
    Compensation,
    /// `sentenced-in-another-case`: "Suspect charged as part of another case".
    SentencedInAnotherCase,
    /// `charged`: "Suspect charged".
    Charged,
    /// `not-guilty`: "Defendant found not guilty".
    NotGuilty,
    /// `sent-to-crown-court`: "Defendant sent to Crown Court".
    SentToCrownCourt,
    /// `unable-to-prosecute`: "Unable to prosecute suspect".
    UnableToProsecute,
    /// `formal-action-not-in-public-interest`: "Formal action is not in the public interest".
    FormalActionNotInPublicInterest,
    /// `action-taken-by-another-organisation`: "Action to be taken by another organisation".
    ActionTakenByAnotherOrganisation,
    /// `further-investigation-not-in-public-interest`: "Further investigation is not in the
    /// public interest".
    FurtherInvestigationNotInPublicInterest,
    /// `further-action-not-in-public-interest`: "Further action is not in the public interest".
    FurtherActionNotInPublicInterest,
    /// `under-investigation`: "Under investigation".
    UnderInvestigation,
    /// `status-update-unavailable`: "Status update unavailable".
    StatusUpdateUnavailable,
}

impl PoliceUkOutcome {
    /// Every police.uk outcome, in API documentation order.
    pub const ALL: [PoliceUkOutcome; 28] = [
        PoliceUkOutcome::AwaitingCourtResult,
        PoliceUkOutcome::CourtResultUnavailable,
        PoliceUkOutcome::UnableToProceed,
        PoliceUkOutcome::LocalResolution,
        PoliceUkOutcome::NoFurtherAction,
        PoliceUkOutcome::DeprivedOfProperty,
        PoliceUkOutcome::Fined,
        PoliceUkOutcome::AbsoluteDischarge,
        PoliceUkOutcome::Cautioned,
        PoliceUkOutcome::DrugsPossessionWarning,
        PoliceUkOutcome::PenaltyNoticeIssued,
        PoliceUkOutcome::CommunityPenalty,
        PoliceUkOutcome::ConditionalDischarge,
        PoliceUkOutcome::SuspendedSentence,
        PoliceUkOutcome::Imprisoned,
        PoliceUkOutcome::OtherCourtDisposal,
        PoliceUkOutcome::Compensation,
        PoliceUkOutcome::SentencedInAnotherCase,
        PoliceUkOutcome::Charged,
        PoliceUkOutcome::NotGuilty,
        PoliceUkOutcome::SentToCrownCourt,
        PoliceUkOutcome::UnableToProsecute,
        PoliceUkOutcome::FormalActionNotInPublicInterest,
        PoliceUkOutcome::ActionTakenByAnotherOrganisation,
        PoliceUkOutcome::FurtherInvestigationNotInPublicInterest,
        PoliceUkOutcome::FurtherActionNotInPublicInterest,
        PoliceUkOutcome::UnderInvestigation,
        PoliceUkOutcome::StatusUpdateUnavailable,
    ];

    /// The API code, e.g. `"no-further-action"`.
    pub const fn code(self) -> &'static str {
        match self {
            PoliceUkOutcome::AwaitingCourtResult => "awaiting-court-result",
            PoliceUkOutcome::CourtResultUnavailable => "court-result-unavailable",
            PoliceUkOutcome::UnableToProceed => "unable-to-proceed",
            PoliceUkOutcome::LocalResolution => "local-resolution",
            PoliceUkOutcome::NoFurtherAction => "no-further-action",
            PoliceUkOutcome::DeprivedOfProperty => "deprived-of-property",
            PoliceUkOutcome::Fined => "fined",
            PoliceUkOutcome::AbsoluteDischarge => "absolute-discharge",
            PoliceUkOutcome::Cautioned => "cautioned",
            PoliceUkOutcome::DrugsPossessionWarning => "drugs-possession-warning",
            PoliceUkOutcome::PenaltyNoticeIssued => "penalty-notice-issued",
            PoliceUkOutcome::CommunityPenalty => "community-penalty",
            PoliceUkOutcome::ConditionalDischarge => "conditional-discharge",
            PoliceUkOutcome::SuspendedSentence => "suspended-sentence",
            PoliceUkOutcome::Imprisoned => "imprisoned",
            PoliceUkOutcome::OtherCourtDisposal => "other-court-disposal",
            PoliceUkOutcome::Compensation => "compensation",
            PoliceUkOutcome::SentencedInAnotherCase => "sentenced-in-another-case",
            PoliceUkOutcome::Charged => "charged",
            PoliceUkOutcome::NotGuilty => "not-guilty",
            PoliceUkOutcome::SentToCrownCourt => "sent-to-crown-court",
            PoliceUkOutcome::UnableToProsecute => "unable-to-prosecute",
            PoliceUkOutcome::FormalActionNotInPublicInterest => {
                "formal-action-not-in-public-interest"
            }
            PoliceUkOutcome::ActionTakenByAnotherOrganisation => {
                "action-taken-by-another-organisation"
            }
            PoliceUkOutcome::FurtherInvestigationNotInPublicInterest => {
                "further-investigation-not-in-public-interest"
            }
            PoliceUkOutcome::FurtherActionNotInPublicInterest => {
                "further-action-not-in-public-interest"
            }
            PoliceUkOutcome::UnderInvestigation => "under-investigation",
            PoliceUkOutcome::StatusUpdateUnavailable => "status-update-unavailable",
        }
    }

    /// The current CSV/human name, e.g. `"Investigation complete; no suspect identified"`.
    pub const fn name(self) -> &'static str {
        match self {
            PoliceUkOutcome::AwaitingCourtResult => "Awaiting court outcome",
            PoliceUkOutcome::CourtResultUnavailable => "Court result unavailable",
            PoliceUkOutcome::UnableToProceed => "Court case unable to proceed",
            PoliceUkOutcome::LocalResolution => "Local resolution",
            PoliceUkOutcome::NoFurtherAction => "Investigation complete; no suspect identified",
            PoliceUkOutcome::DeprivedOfProperty => "Offender deprived of property",
            PoliceUkOutcome::Fined => "Offender fined",
            PoliceUkOutcome::AbsoluteDischarge => "Offender given absolute discharge",
            PoliceUkOutcome::Cautioned => "Offender given a caution",
            PoliceUkOutcome::DrugsPossessionWarning => "Offender given a drugs possession warning",
            PoliceUkOutcome::PenaltyNoticeIssued => "Offender given a penalty notice",
            PoliceUkOutcome::CommunityPenalty => "Offender given community sentence",
            PoliceUkOutcome::ConditionalDischarge => "Offender given conditional discharge",
            PoliceUkOutcome::SuspendedSentence => "Offender given suspended prison sentence",
            PoliceUkOutcome::Imprisoned => "Offender sent to prison",
            PoliceUkOutcome::OtherCourtDisposal => "Offender otherwise dealt with",
            PoliceUkOutcome::Compensation => "Offender ordered to pay compensation",
            PoliceUkOutcome::SentencedInAnotherCase => "Suspect charged as part of another case",
            PoliceUkOutcome::Charged => "Suspect charged",
            PoliceUkOutcome::NotGuilty => "Defendant found not guilty",
            PoliceUkOutcome::SentToCrownCourt => "Defendant sent to Crown Court",
            PoliceUkOutcome::UnableToProsecute => "Unable to prosecute suspect",
            PoliceUkOutcome::FormalActionNotInPublicInterest => {
                "Formal action is not in the public interest"
            }
            PoliceUkOutcome::ActionTakenByAnotherOrganisation => {
                "Action to be taken by another organisation"
            }
            PoliceUkOutcome::FurtherInvestigationNotInPublicInterest => {
                "Further investigation is not in the public interest"
            }
            PoliceUkOutcome::FurtherActionNotInPublicInterest => {
                "Further action is not in the public interest"
            }
            PoliceUkOutcome::UnderInvestigation => "Under investigation",
            PoliceUkOutcome::StatusUpdateUnavailable => "Status update unavailable",
        }
    }

    /// Other spellings seen in CSV files over the years.
    const fn other_names(self) -> &'static [&'static str] {
        match self {
            PoliceUkOutcome::Imprisoned => &["Offender imprisoned"],
            PoliceUkOutcome::PenaltyNoticeIssued => &["Offender given penalty notice"],
            PoliceUkOutcome::AwaitingCourtResult => &["Awaiting court result"],
            _ => &[],
        }
    }

    /// Parses an API code, a CSV/human name or an older CSV spelling: case-insensitive, tolerant
    /// of surrounding and repeated whitespace and of hyphens versus spaces.
    pub fn parse(input: &str) -> Result<PoliceUkOutcome, UnknownOutcome> {
        static SPELLINGS: OnceLock<HashMap<String, PoliceUkOutcome>> = OnceLock::new();
        let spellings = SPELLINGS.get_or_init(|| {
            let mut spellings = HashMap::new();
            for outcome in PoliceUkOutcome::ALL {
                let names = [outcome.code(), outcome.name()];
                for name in names
                    .into_iter()
                    .chain(outcome.other_names().iter().copied())
                {
                    spellings.insert(fold(name), outcome);
                }
            }
            spellings
        });
        spellings
            .get(&fold(input))
            .copied()
            .ok_or_else(|| UnknownOutcome::new(input))
    }
}

/// A Home Office outcome type (outcome framework in force since April 2014).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HomeOfficeOutcome {
    /// 1: charged/summonsed.
    ChargedOrSummonsed,
    /// 1A: charged/summonsed with an alternative offence.
    ChargedOrSummonsedAlternativeOffence,
    /// 2: caution, youths.
    CautionYouth,
    /// 3: caution, adults.
    CautionAdult,
    /// 4: taken into consideration.
    TakenIntoConsideration,
    /// 5: the offender has died (label from secondary sources).
    OffenderDied,
    /// 6: penalty notice for disorder.
    PenaltyNoticeForDisorder,
    /// 7: cannabis or khat warning (label from secondary sources).
    CannabisOrKhatWarning,
    /// 8: community resolution.
    CommunityResolution,
    /// 9: prosecution not in the public interest, CPS decision (label from secondary sources).
    ProsecutionNotInPublicInterestCps,
    /// 10: formal action against the offender not in the public interest, police decision.
    FormalActionNotInPublicInterestPolice,
    /// 11: prosecution prevented, suspect below the age of criminal responsibility (label from
    /// secondary sources).
    PreventedSuspectUnderAge,
    /// 12: prosecution prevented, suspect too ill to prosecute (label from secondary sources).
    PreventedSuspectTooIll,
    /// 13: prosecution prevented, victim or key witness dead or too ill to give evidence (label
    /// from secondary sources).
    PreventedVictimOrWitnessUnable,
    /// 14: evidential difficulties, suspect not identified, victim does not support action.
    EvidentialDifficultiesSuspectNotIdentified,
    /// 15: evidential difficulties, suspect identified, victim supports action.
    EvidentialDifficultiesVictimSupports,
    /// 16: evidential difficulties, suspect identified, victim does not support action.
    EvidentialDifficultiesVictimDoesNotSupport,
    /// 17: prosecution time limit expired.
    TimeLimitExpired,
    /// 18: investigation complete, no suspect identified.
    InvestigationCompleteNoSuspect,
    /// 19: National Fraud Intelligence Bureau filed (label from secondary sources).
    NfibFiled,
    /// 20: further action by another body or agency.
    ActionByAnotherBody,
    /// 21: further investigation not in the public interest, police decision.
    FurtherInvestigationNotInPublicInterest,
    /// 22: diversionary, educational or intervention activity (from 1 April 2019).
    DiversionaryActivity,
}

impl HomeOfficeOutcome {
    /// Every Home Office outcome type, in code order.
    pub const ALL: [HomeOfficeOutcome; 23] = [
        HomeOfficeOutcome::ChargedOrSummonsed,
        HomeOfficeOutcome::ChargedOrSummonsedAlternativeOffence,
        HomeOfficeOutcome::CautionYouth,
        HomeOfficeOutcome::CautionAdult,
        HomeOfficeOutcome::TakenIntoConsideration,
        HomeOfficeOutcome::OffenderDied,
        HomeOfficeOutcome::PenaltyNoticeForDisorder,
        HomeOfficeOutcome::CannabisOrKhatWarning,
        HomeOfficeOutcome::CommunityResolution,
        HomeOfficeOutcome::ProsecutionNotInPublicInterestCps,
        HomeOfficeOutcome::FormalActionNotInPublicInterestPolice,
        HomeOfficeOutcome::PreventedSuspectUnderAge,
        HomeOfficeOutcome::PreventedSuspectTooIll,
        HomeOfficeOutcome::PreventedVictimOrWitnessUnable,
        HomeOfficeOutcome::EvidentialDifficultiesSuspectNotIdentified,
        HomeOfficeOutcome::EvidentialDifficultiesVictimSupports,
        HomeOfficeOutcome::EvidentialDifficultiesVictimDoesNotSupport,
        HomeOfficeOutcome::TimeLimitExpired,
        HomeOfficeOutcome::InvestigationCompleteNoSuspect,
        HomeOfficeOutcome::NfibFiled,
        HomeOfficeOutcome::ActionByAnotherBody,
        HomeOfficeOutcome::FurtherInvestigationNotInPublicInterest,
        HomeOfficeOutcome::DiversionaryActivity,
    ];

    /// The outcome type code as the Home Office writes it: `"1"`, `"1A"`, `"2"` … `"22"`.
    pub const fn code(self) -> &'static str {
        self.codes().0
    }

    /// The stable serialized form: `"ho-1"`, `"ho-1a"`, `"ho-2"` … `"ho-22"`.
    pub const fn as_str(self) -> &'static str {
        self.codes().1
    }

    /// (Home Office code, stable form).
    const fn codes(self) -> (&'static str, &'static str) {
        match self {
            HomeOfficeOutcome::ChargedOrSummonsed => ("1", "ho-1"),
            HomeOfficeOutcome::ChargedOrSummonsedAlternativeOffence => ("1A", "ho-1a"),
            HomeOfficeOutcome::CautionYouth => ("2", "ho-2"),
            HomeOfficeOutcome::CautionAdult => ("3", "ho-3"),
            HomeOfficeOutcome::TakenIntoConsideration => ("4", "ho-4"),
            HomeOfficeOutcome::OffenderDied => ("5", "ho-5"),
            HomeOfficeOutcome::PenaltyNoticeForDisorder => ("6", "ho-6"),
            HomeOfficeOutcome::CannabisOrKhatWarning => ("7", "ho-7"),
            HomeOfficeOutcome::CommunityResolution => ("8", "ho-8"),
            HomeOfficeOutcome::ProsecutionNotInPublicInterestCps => ("9", "ho-9"),
            HomeOfficeOutcome::FormalActionNotInPublicInterestPolice => ("10", "ho-10"),
            HomeOfficeOutcome::PreventedSuspectUnderAge => ("11", "ho-11"),
            HomeOfficeOutcome::PreventedSuspectTooIll => ("12", "ho-12"),
            HomeOfficeOutcome::PreventedVictimOrWitnessUnable => ("13", "ho-13"),
            HomeOfficeOutcome::EvidentialDifficultiesSuspectNotIdentified => ("14", "ho-14"),
            HomeOfficeOutcome::EvidentialDifficultiesVictimSupports => ("15", "ho-15"),
            HomeOfficeOutcome::EvidentialDifficultiesVictimDoesNotSupport => ("16", "ho-16"),
            HomeOfficeOutcome::TimeLimitExpired => ("17", "ho-17"),
            HomeOfficeOutcome::InvestigationCompleteNoSuspect => ("18", "ho-18"),
            HomeOfficeOutcome::NfibFiled => ("19", "ho-19"),
            HomeOfficeOutcome::ActionByAnotherBody => ("20", "ho-20"),
            HomeOfficeOutcome::FurtherInvestigationNotInPublicInterest => ("21", "ho-21"),
            HomeOfficeOutcome::DiversionaryActivity => ("22", "ho-22"),
        }
    }

    /// Parses an outcome type code as forces write it: `"1"`, `"1A"`, `"01"`, `"OC01"`,
    /// `"OC1A"`, `"Outcome 15"`, `"ho-18"` (case-insensitive, surrounding whitespace ignored).
    pub fn parse(input: &str) -> Result<HomeOfficeOutcome, UnknownOutcome> {
        let lowered = input.trim().to_ascii_lowercase();
        let mut rest = lowered.as_str();
        for prefix in ["outcome type", "outcome", "ho", "oc"] {
            if let Some(stripped) = rest.strip_prefix(prefix) {
                rest = stripped.trim_start_matches([' ', '-', '_']);
                break;
            }
        }
        let (digits, alternative) = match rest.strip_suffix('a') {
            Some(digits) => (digits, true),
            None => (rest, false),
        };
        let valid_digits =
            !digits.is_empty() && digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit());
        let number: Option<u8> = if valid_digits {
            digits.parse().ok()
        } else {
            None
        };
        let found = number.and_then(|number| {
            HomeOfficeOutcome::ALL.into_iter().find(|outcome| {
                let code = outcome.code();
                let (code_digits, code_alternative) = match code.strip_suffix('A') {
                    Some(code_digits) => (code_digits, true),
                    None => (code, false),
                };
                code_alternative == alternative && code_digits.parse::<u8>().ok() == Some(number)
            })
        });
        found.ok_or_else(|| UnknownOutcome::new(input))
    }
}

/// The outcome of a crime, in whichever vocabulary the force used.
///
/// Serialized as one stable string: the police.uk API code (`"under-investigation"`) or `ho-`
/// and the Home Office type (`"ho-1a"`). Deserialization accepts exactly those strings;
/// [`Outcome::parse`] is the tolerant reader for force data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// A data.police.uk outcome category.
    PoliceUk(PoliceUkOutcome),
    /// A Home Office outcome type.
    HomeOffice(HomeOfficeOutcome),
}

/// The input is not an outcome in either vocabulary. Carries the input (truncated to 64
/// characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown outcome {input:?}")]
pub struct UnknownOutcome {
    /// The rejected input, truncated to 64 characters.
    pub input: String,
}

impl UnknownOutcome {
    fn new(input: &str) -> Self {
        UnknownOutcome {
            input: excerpt(input),
        }
    }
}

impl Outcome {
    /// The stable serialized string, e.g. `"no-further-action"` or `"ho-18"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::PoliceUk(outcome) => outcome.code(),
            Outcome::HomeOffice(outcome) => outcome.as_str(),
        }
    }

    /// Parses a police.uk code or name (see [`PoliceUkOutcome::parse`]) or a Home Office
    /// outcome type (see [`HomeOfficeOutcome::parse`]).
    pub fn parse(input: &str) -> Result<Outcome, UnknownOutcome> {
        PoliceUkOutcome::parse(input)
            .map(Outcome::PoliceUk)
            .or_else(|_| HomeOfficeOutcome::parse(input).map(Outcome::HomeOffice))
    }

    /// As [`Outcome::parse`], but an empty or all-whitespace input is no outcome (`Ok(None)`),
    /// as in the police.uk CSV `Last outcome category` column of anti-social behaviour rows.
    pub fn parse_optional(input: &str) -> Result<Option<Outcome>, UnknownOutcome> {
        if input.trim().is_empty() {
            Ok(None)
        } else {
            Outcome::parse(input).map(Some)
        }
    }

    /// Reads the stable serialized form only (exact, lowercase).
    pub fn from_stable_str(input: &str) -> Result<Outcome, UnknownOutcome> {
        let police_uk = PoliceUkOutcome::ALL
            .into_iter()
            .find(|outcome| outcome.code() == input)
            .map(Outcome::PoliceUk);
        let home_office = || {
            HomeOfficeOutcome::ALL
                .into_iter()
                .find(|outcome| outcome.as_str() == input)
                .map(Outcome::HomeOffice)
        };
        police_uk
            .or_else(home_office)
            .ok_or_else(|| UnknownOutcome::new(input))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses as [`Outcome::parse`].
impl FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Outcome::parse(input)
    }
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Deserializes the stable form only, as [`Outcome::from_stable_str`].
impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let input = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Outcome::from_stable_str(&input).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_police_uk_code_and_name_parses_back() {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for outcome in PoliceUkOutcome::ALL {
            assert!(codes.insert(outcome.code()));
            assert!(names.insert(fold(outcome.name())));
            for text in [
                outcome.code().to_owned(),
                outcome.name().to_owned(),
                outcome.name().to_lowercase(),
                format!(" {} ", outcome.code().to_uppercase()),
            ] {
                assert_eq!(PoliceUkOutcome::parse(&text), Ok(outcome), "{text:?}");
                assert_eq!(Outcome::parse(&text), Ok(Outcome::PoliceUk(outcome)));
            }
            let stable = Outcome::PoliceUk(outcome);
            assert_eq!(Outcome::from_stable_str(stable.as_str()), Ok(stable));
        }
    }

    #[test]
    fn older_csv_spellings_parse() {
        let cases = [
            ("Offender imprisoned", PoliceUkOutcome::Imprisoned),
            (
                "Offender given penalty notice",
                PoliceUkOutcome::PenaltyNoticeIssued,
            ),
            (
                "Awaiting court result",
                PoliceUkOutcome::AwaitingCourtResult,
            ),
            ("No further action", PoliceUkOutcome::NoFurtherAction),
        ];
        for (input, outcome) in cases {
            assert_eq!(PoliceUkOutcome::parse(input), Ok(outcome), "{input:?}");
        }
    }

    #[test]
    fn home_office_codes_parse_in_every_spelling() {
        let mut stable = HashSet::new();
        for outcome in HomeOfficeOutcome::ALL {
            assert!(stable.insert(outcome.as_str()));
            let code = outcome.code();
            let spellings = [
                code.to_owned(),
                code.to_lowercase(),
                format!("0{code}"),
                format!("OC{code}"),
                format!("oc0{code}"),
                format!("Outcome {code}"),
                format!("outcome type {code}"),
                format!(" {} ", outcome.as_str()),
                outcome.as_str().to_uppercase(),
            ];
            for text in spellings {
                assert_eq!(HomeOfficeOutcome::parse(&text), Ok(outcome), "{text:?}");
                assert_eq!(Outcome::parse(&text), Ok(Outcome::HomeOffice(outcome)));
            }
            let wrapped = Outcome::HomeOffice(outcome);
            assert_eq!(Outcome::from_stable_str(wrapped.as_str()), Ok(wrapped));
        }
        assert_eq!(HomeOfficeOutcome::ALL.len(), 23);
    }

    #[test]
    fn unknown_outcomes_are_rejected() {
        let rejected = [
            "", "0", "23", "2A", "1B", "OC", "ho-", "100", "1AA", "-1", "A", "Guilty", "Offender",
            "oc 1 a", "ho-01x", "١",
        ];
        for input in rejected {
            let error = Outcome::parse(input).expect_err(input);
            assert_eq!(error.input, input);
        }
        assert_eq!(Outcome::parse_optional(""), Ok(None));
        assert_eq!(Outcome::parse_optional("   "), Ok(None));
        assert!(Outcome::parse_optional("nonsense").is_err());
        assert!(Outcome::from_stable_str("Suspect charged").is_err());
        assert!(Outcome::from_stable_str("HO-1A").is_err());
        assert!(Outcome::from_stable_str("1").is_err());
    }

    #[test]
    fn serde_uses_the_stable_string() {
        let cases = [
            (Outcome::PoliceUk(PoliceUkOutcome::Charged), "\"charged\""),
            (
                Outcome::HomeOffice(HomeOfficeOutcome::ChargedOrSummonsedAlternativeOffence),
                "\"ho-1a\"",
            ),
            (
                Outcome::HomeOffice(HomeOfficeOutcome::InvestigationCompleteNoSuspect),
                "\"ho-18\"",
            ),
        ];
        for (outcome, json) in cases {
            assert_eq!(serde_json::to_string(&outcome).expect("serialize"), json);
            assert_eq!(serde_json::from_str::<Outcome>(json).ok(), Some(outcome));
            assert_eq!(outcome.to_string(), json.trim_matches('"'));
        }
        assert!(serde_json::from_str::<Outcome>("\"Suspect charged\"").is_err());
    }
}

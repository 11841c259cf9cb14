//! The Home Office offence classification: offence codes such as `71/17` or `88A`, and the
//! catalogue of the sexual and obscene-publication offences this pipeline handles.
//!
//! A code is a **class** number, sometimes with a letter (`19E`, `88A`), and an optional
//! **sub-class** written `class/sub` (`71/17`, `86/2`). The Home Office open data tables carry
//! the class-level code; forces and their FOI answers also use sub-classes.
//!
//! The catalogue ([`Offence::all`]) holds every code the pipeline accepts; [`OffenceCode::parse`]
//! rejects codes outside it. Descriptions are those of the Home Office recorded-crime tables as
//! carried by the ONS offence hierarchy (`ONSdigital/dp-hierarchy-builder`, 2017/18 edition),
//! except where noted:
//!
//! - `71/17` (sexual communication with a child, Sexual Offences Act 2003 s.15A, in force from
//!   3 April 2017) and `86/2` (Protection of Children Act 1978 s.1) are sub-classes confirmed by
//!   force FOI answers; the tables have no sub-class labels, so theirs are the FOI wording;
//! - `86/3` (possession of indecent photographs of children, Criminal Justice Act 1988 s.160) is
//!   an **uncertain sub-code**: the offence is certainly in class 86, but the sub-class number has
//!   not been confirmed in a published source. It is marked [`Offence::uncertain`];
//! - `74` (gross indecency with a child, Indecency with Children Act 1960, offences before
//!   May 2004) is a historic class whose label and age threshold are not confirmed; also marked
//!   uncertain;
//! - `72` (trafficking for sexual exploitation) is historic: such offences have been recorded as
//!   `106` (modern slavery) since 2015, but still appear in the 2017/18 tables.
//!
//! Every code carries the victim age its legal definition implies ([`VictimAgeRule`]), which
//! validation checks against the recorded victim age.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::category::Category;
use crate::text::excerpt;

/// A Home Office offence code: class number, optional letter, optional sub-class.
///
/// Built only by [`OffenceCode::parse`] (or deserialization, which uses it), so every value is in
/// the catalogue. Displayed and serialized canonically: `"71/17"`, `"88A"`, `"19E"`, `"86/2"`,
/// `"86"`. Ordered by class, then letter, then sub-class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OffenceCode {
    /// Class number, 0–999.
    class: u16,
    /// Class letter, an ASCII uppercase letter.
    letter: Option<u8>,
    /// Sub-class number, 0–999.
    sub_class: Option<u16>,
}

/// Why a string is not an accepted offence code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OffenceCodeError {
    /// The input is empty or only whitespace.
    #[error("offence code is empty")]
    Empty,
    /// The input is not of the form class number (at most three significant digits), optional
    /// letter, optional separator (`/`, `.` or `-`) and sub-class number.
    #[error(
        "malformed offence code {input:?}: expected a class number with an optional letter and sub-class, like 71/17 or 88A"
    )]
    Malformed {
        /// The rejected input, truncated to 64 characters.
        input: String,
    },
    /// The input is well formed but the code is not in the catalogue.
    #[error("offence code {code} (from {input:?}) is not in the catalogue")]
    Unknown {
        /// The rejected input, truncated to 64 characters.
        input: String,
        /// The canonical form of the code that was read, e.g. `"88Z"`.
        code: String,
    },
}

impl OffenceCodeError {
    /// The stable dead-letter reason: `malformed-offence-code` (empty or malformed) or
    /// `unknown-offence-code`.
    pub const fn code(&self) -> &'static str {
        match self {
            OffenceCodeError::Empty | OffenceCodeError::Malformed { .. } => {
                "malformed-offence-code"
            }
            OffenceCodeError::Unknown { .. } => "unknown-offence-code",
        }
    }
}

impl OffenceCode {
    /// Builds a code from its parts; only for the static catalogue (no validation).
    const fn new(class: u16, letter: Option<u8>, sub_class: Option<u16>) -> Self {
        OffenceCode {
            class,
            letter,
            sub_class,
        }
    }

    /// Parses an offence code and checks that it is in the catalogue.
    ///
    /// Accepts surrounding whitespace, leading zeros, a lowercase letter and `/`, `.` or `-`
    /// as the sub-class separator: `"71/17"`, `"071/17"`, `"71.17"`, `"71-17"`, `"88a"` and
    /// `" 88A "` are all accepted. Anything else is [`OffenceCodeError::Empty`],
    /// [`OffenceCodeError::Malformed`] or, for a well-formed code outside the catalogue,
    /// [`OffenceCodeError::Unknown`].
    pub fn parse(input: &str) -> Result<OffenceCode, OffenceCodeError> {
        let code = Self::parse_syntax(input)?;
        if Offence::lookup(&code).is_none() {
            return Err(OffenceCodeError::Unknown {
                input: excerpt(input),
                code: code.to_string(),
            });
        }
        Ok(code)
    }

    /// Reads the syntax only, without the catalogue check.
    fn parse_syntax(input: &str) -> Result<OffenceCode, OffenceCodeError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(OffenceCodeError::Empty);
        }
        let malformed = || OffenceCodeError::Malformed {
            input: excerpt(input),
        };
        let bytes = trimmed.as_bytes();
        let (class, mut position) = read_number(bytes, 0).ok_or_else(malformed)?;
        let letter = match bytes.get(position) {
            Some(byte) if byte.is_ascii_alphabetic() => {
                position += 1;
                Some(byte.to_ascii_uppercase())
            }
            _ => None,
        };
        let sub_class = match bytes.get(position) {
            Some(b'/' | b'.' | b'-') => {
                let (sub_class, end) = read_number(bytes, position + 1).ok_or_else(malformed)?;
                position = end;
                Some(sub_class)
            }
            _ => None,
        };
        if position != bytes.len() {
            return Err(malformed());
        }
        Ok(OffenceCode::new(class, letter, sub_class))
    }

    /// The class number, e.g. 71 for `71/17`.
    pub const fn class(self) -> u16 {
        self.class
    }

    /// The class letter, e.g. `Some('A')` for `88A`.
    pub fn letter(self) -> Option<char> {
        self.letter.map(char::from)
    }

    /// The sub-class number, e.g. `Some(17)` for `71/17`.
    pub const fn sub_class(self) -> Option<u16> {
        self.sub_class
    }

    /// The class-level code the Home Office open data tables use: `71/17` → `71`, `88A` →
    /// `88A`.
    pub const fn class_level(self) -> OffenceCode {
        OffenceCode::new(self.class, self.letter, None)
    }

    /// The catalogue entry of this code (always `Some` for a parsed code).
    pub fn offence(self) -> Option<&'static Offence> {
        Offence::lookup(&self)
    }
}

/// Reads 1–4 ASCII digits (at most three significant ones) from `start`; returns the value and
/// the position after the digits.
fn read_number(bytes: &[u8], start: usize) -> Option<(u16, usize)> {
    const MAX_DIGITS: usize = 4;
    const MAX_SIGNIFICANT: usize = 3;
    let mut end = start;
    let mut value: u16 = 0;
    let mut significant = 0;
    while let Some(byte) = bytes.get(end).filter(|byte| byte.is_ascii_digit()) {
        let digit = u16::from(byte - b'0');
        if value != 0 || digit != 0 {
            significant += 1;
            value = value * 10 + digit;
        }
        end += 1;
        if end - start > MAX_DIGITS || significant > MAX_SIGNIFICANT {
            return None;
        }
    }
    (end > start).then_some((value, end))
}

impl fmt::Display for OffenceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.class)?;
        if let Some(letter) = self.letter {
            write!(f, "{}", char::from(letter))?;
        }
        if let Some(sub_class) = self.sub_class {
            write!(f, "/{sub_class}")?;
        }
        Ok(())
    }
}

/// Parses as [`OffenceCode::parse`].
impl FromStr for OffenceCode {
    type Err = OffenceCodeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        OffenceCode::parse(input)
    }
}

impl Serialize for OffenceCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OffenceCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let input = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        OffenceCode::parse(&input).map_err(serde::de::Error::custom)
    }
}

/// The victim age an offence code's legal definition implies, in whole years at the offence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VictimAgeRule {
    /// No age condition (the offence can be committed against anyone, or has no individual
    /// victim).
    Any,
    /// Under 13 (e.g. `19E` rape of a female child under 13).
    Under13,
    /// Under 16 (e.g. `71/17`, `88A`, `22B`).
    Under16,
    /// 13 to 15 inclusive: "child under 16" codes whose under-13 counterpart is a separate code
    /// (`19D`, `19G`).
    From13To15,
    /// Under 18 (e.g. `71`, `73`, indecent photographs of children).
    Under18,
    /// 13 and over (`17A`, `20A`).
    From13,
    /// 16 and over (`19C`, `19F`).
    From16,
}

impl VictimAgeRule {
    /// True when a victim of `age` whole years fits the rule.
    pub const fn admits(self, age: u8) -> bool {
        match self {
            VictimAgeRule::Any => true,
            VictimAgeRule::Under13 => age < 13,
            VictimAgeRule::Under16 => age < 16,
            VictimAgeRule::From13To15 => age >= 13 && age < 16,
            VictimAgeRule::Under18 => age < 18,
            VictimAgeRule::From13 => age >= 13,
            VictimAgeRule::From16 => age >= 16,
        }
    }

    /// A short human phrase, e.g. `"under 13"`, `"aged 13 to 15"`.
    pub const fn describe(self) -> &'static str {
        match self {
            VictimAgeRule::Any => "of any age",
            VictimAgeRule::Under13 => "under 13",
            VictimAgeRule::Under16 => "under 16",
            VictimAgeRule::From13To15 => "aged 13 to 15",
            VictimAgeRule::Under18 => "under 18",
            VictimAgeRule::From13 => "aged 13 and over",
            VictimAgeRule::From16 => "aged 16 and over",
        }
    }
}

impl fmt::Display for VictimAgeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Analysis groups of offence codes, with stable kebab-case ids (serde, [`OffenceGroup::as_str`],
/// [`FromStr`]).
///
/// The groups partition the catalogue. Six of them are **child sexual offences** by definition
/// of the code ([`OffenceGroup::is_child_sexual_offence`]); indecent images of children are kept
/// apart, as the NSPCC series does; `rape-aged-16-and-over` and `other-sexual-offences` can still
/// have a child victim (a 16-year-old, a 14-year-old victim of `20A`), which
/// [`crate::CrimeRecord::is_child_sexual_offence`] detects from the victim age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OffenceGroup {
    /// Sexual communication with a child (`71/17`).
    SexualCommunicationWithAChild,
    /// Sexual grooming (`88A`).
    SexualGrooming,
    /// Indecent images of children: `86/2`, `86/3` and class-level `86` (which also covers
    /// adult obscene publications, so counts by this group over-count when forces send only the
    /// class).
    IndecentImagesOfChildren,
    /// Rape of a child under 13 (`19E`, `19H`).
    #[serde(rename = "rape-of-a-child-under-13")]
    RapeOfAChildUnder13,
    /// Rape of a child under 16, i.e. aged 13–15 (`19D`, `19G`).
    #[serde(rename = "rape-of-a-child-under-16")]
    RapeOfAChildUnder16,
    /// Sexual assault on, and sexual activity involving, a child (`17B`, `20B`, `21`, `22B`).
    SexualAssaultAndActivityInvolvingAChild,
    /// Other offences defined by a child victim (`23`, `71`, `73`, `74`).
    OtherChildSexualOffences,
    /// Rape of a person aged 16 and over (`19C`, `19F`).
    #[serde(rename = "rape-aged-16-and-over")]
    RapeAged16AndOver,
    /// Sexual offences not defined by the victim being a child (`17A`, `20A`, `22A`, `70`,
    /// `72`, `88C`, `88D`, `88E`).
    OtherSexualOffences,
}

/// The input is not an [`OffenceGroup`] id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown offence group {input:?}")]
pub struct UnknownOffenceGroup {
    /// The rejected input, truncated to 64 characters.
    pub input: String,
}

impl OffenceGroup {
    /// Every group, in declaration order.
    pub const ALL: [OffenceGroup; 9] = [
        OffenceGroup::SexualCommunicationWithAChild,
        OffenceGroup::SexualGrooming,
        OffenceGroup::IndecentImagesOfChildren,
        OffenceGroup::RapeOfAChildUnder13,
        OffenceGroup::RapeOfAChildUnder16,
        OffenceGroup::SexualAssaultAndActivityInvolvingAChild,
        OffenceGroup::OtherChildSexualOffences,
        OffenceGroup::RapeAged16AndOver,
        OffenceGroup::OtherSexualOffences,
    ];

    /// The stable id, e.g. `"sexual-communication-with-a-child"` (also the serde form).
    pub const fn as_str(self) -> &'static str {
        match self {
            OffenceGroup::SexualCommunicationWithAChild => "sexual-communication-with-a-child",
            OffenceGroup::SexualGrooming => "sexual-grooming",
            OffenceGroup::IndecentImagesOfChildren => "indecent-images-of-children",
            OffenceGroup::RapeOfAChildUnder13 => "rape-of-a-child-under-13",
            OffenceGroup::RapeOfAChildUnder16 => "rape-of-a-child-under-16",
            OffenceGroup::SexualAssaultAndActivityInvolvingAChild => {
                "sexual-assault-and-activity-involving-a-child"
            }
            OffenceGroup::OtherChildSexualOffences => "other-child-sexual-offences",
            OffenceGroup::RapeAged16AndOver => "rape-aged-16-and-over",
            OffenceGroup::OtherSexualOffences => "other-sexual-offences",
        }
    }

    /// A human name, e.g. `"Sexual communication with a child"`.
    pub const fn name(self) -> &'static str {
        match self {
            OffenceGroup::SexualCommunicationWithAChild => "Sexual communication with a child",
            OffenceGroup::SexualGrooming => "Sexual grooming",
            OffenceGroup::IndecentImagesOfChildren => "Indecent images of children",
            OffenceGroup::RapeOfAChildUnder13 => "Rape of a child under 13",
            OffenceGroup::RapeOfAChildUnder16 => "Rape of a child under 16",
            OffenceGroup::SexualAssaultAndActivityInvolvingAChild => {
                "Sexual assault and sexual activity involving a child"
            }
            OffenceGroup::OtherChildSexualOffences => "Other child sexual offences",
            OffenceGroup::RapeAged16AndOver => "Rape of a person aged 16 and over",
            OffenceGroup::OtherSexualOffences => "Other sexual offences",
        }
    }

    /// True for the groups whose codes are defined by a child victim: sexual communication,
    /// grooming, child rape, child sexual assault/activity and other child sexual offences.
    /// False for indecent images of children (counted separately, as in the NSPCC series) and
    /// for the adult-or-any-age groups.
    pub const fn is_child_sexual_offence(self) -> bool {
        matches!(
            self,
            OffenceGroup::SexualCommunicationWithAChild
                | OffenceGroup::SexualGrooming
                | OffenceGroup::RapeOfAChildUnder13
                | OffenceGroup::RapeOfAChildUnder16
                | OffenceGroup::SexualAssaultAndActivityInvolvingAChild
                | OffenceGroup::OtherChildSexualOffences
        )
    }

    /// True for the child sexual offences and for indecent images of children.
    pub const fn involves_children(self) -> bool {
        self.is_child_sexual_offence() || matches!(self, OffenceGroup::IndecentImagesOfChildren)
    }

    /// True for groups in the Home Office "Sexual offences" group; false for indecent images,
    /// which the Home Office files under "Miscellaneous crimes against society".
    pub const fn is_sexual_offence(self) -> bool {
        !matches!(self, OffenceGroup::IndecentImagesOfChildren)
    }
}

impl fmt::Display for OffenceGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses the stable id (ASCII case-insensitive, surrounding whitespace ignored).
impl FromStr for OffenceGroup {
    type Err = UnknownOffenceGroup;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let wanted = input.trim();
        OffenceGroup::ALL
            .into_iter()
            .find(|group| group.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownOffenceGroup {
                input: excerpt(input),
            })
    }
}

/// One catalogue entry: a code and what it means.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Offence {
    /// The offence code, e.g. `71/17`.
    pub code: OffenceCode,
    /// The description as in the Home Office tables, e.g. "Sexual communication with a child".
    pub description: &'static str,
    /// The analysis group the code belongs to.
    pub group: OffenceGroup,
    /// The data.police.uk category the code is published under: sexual offences fall in
    /// `violent-crime` ("Violence and sexual offences"), obscene publications in `other-crime`
    /// (the latter mapping is believed correct but not confirmed by police.uk).
    pub category: Category,
    /// The victim age the code's legal definition implies.
    pub victim_age: VictimAgeRule,
    /// True when the code or its label is not confirmed by a published source (`86/3`, `74`).
    pub uncertain: bool,
}

impl Offence {
    /// The whole catalogue, ordered by code.
    pub fn all() -> &'static [Offence] {
        &CATALOGUE
    }

    /// The catalogue entry of `code`, if any.
    pub fn lookup(code: &OffenceCode) -> Option<&'static Offence> {
        CATALOGUE.iter().find(|offence| offence.code == *code)
    }
}

/// Shorthand for catalogue rows.
const fn entry(
    class: u16,
    letter: Option<u8>,
    sub_class: Option<u16>,
    description: &'static str,
    group: OffenceGroup,
    victim_age: VictimAgeRule,
) -> Offence {
    let category = match group {
        OffenceGroup::IndecentImagesOfChildren => Category::OtherCrime,
        _ => Category::ViolentCrime,
    };
    Offence {
        code: OffenceCode::new(class, letter, sub_class),
        description,
        group,
        category,
        victim_age,
        uncertain: false,
    }
}

/// Marks a catalogue row as uncertain.
const fn uncertain(offence: Offence) -> Offence {
    Offence {
        uncertain: true,
        ..offence
    }
}

use OffenceGroup as G;
use VictimAgeRule as Age;

/// The catalogue, ordered by code (a unit test keeps it sorted and free of duplicates).
#[rustfmt::skip]
static CATALOGUE: [Offence; 27] = [
    entry(17, Some(b'A'), None, "Sexual assault on a male aged 13 and over", G::OtherSexualOffences, Age::From13),
    entry(17, Some(b'B'), None, "Sexual assault on a male child under 13", G::SexualAssaultAndActivityInvolvingAChild, Age::Under13),
    entry(19, Some(b'C'), None, "Rape of a female aged 16 and over", G::RapeAged16AndOver, Age::From16),
    entry(19, Some(b'D'), None, "Rape of a female child under 16", G::RapeOfAChildUnder16, Age::From13To15),
    entry(19, Some(b'E'), None, "Rape of a female child under 13", G::RapeOfAChildUnder13, Age::Under13),
    entry(19, Some(b'F'), None, "Rape of a male aged 16 and over", G::RapeAged16AndOver, Age::From16),
    entry(19, Some(b'G'), None, "Rape of a male child under 16", G::RapeOfAChildUnder16, Age::From13To15),
    entry(19, Some(b'H'), None, "Rape of a male child under 13", G::RapeOfAChildUnder13, Age::Under13),
    entry(20, Some(b'A'), None, "Sexual assault on a female aged 13 and over", G::OtherSexualOffences, Age::From13),
    entry(20, Some(b'B'), None, "Sexual assault on a female child under 13", G::SexualAssaultAndActivityInvolvingAChild, Age::Under13),
    entry(21, None, None, "Sexual activity involving a child under 13", G::SexualAssaultAndActivityInvolvingAChild, Age::Under13),
    entry(22, Some(b'A'), None, "Causing sexual activity without consent", G::OtherSexualOffences, Age::Any),
    entry(22, Some(b'B'), None, "Sexual activity involving child under 16", G::SexualAssaultAndActivityInvolvingAChild, Age::Under16),
    entry(23, None, None, "Incest or familial sexual offences", G::OtherChildSexualOffences, Age::Under18),
    entry(70, None, None, "Sexual activity etc with a person with a mental disorder", G::OtherSexualOffences, Age::Any),
    entry(71, None, None, "Abuse of children through sexual exploitation", G::OtherChildSexualOffences, Age::Under18),
    entry(71, None, Some(17), "Sexual communication with a child", G::SexualCommunicationWithAChild, Age::Under16),
    entry(72, None, None, "Trafficking for sexual exploitation", G::OtherSexualOffences, Age::Any),
    entry(73, None, None, "Abuse of position of trust of a sexual nature", G::OtherChildSexualOffences, Age::Under18),
    uncertain(entry(74, None, None, "Gross indecency with a child", G::OtherChildSexualOffences, Age::Under16)),
    entry(86, None, None, "Obscene publications etc", G::IndecentImagesOfChildren, Age::Any),
    entry(86, None, Some(2), "Taking, making or distributing indecent photographs or pseudo-photographs of children", G::IndecentImagesOfChildren, Age::Under18),
    uncertain(entry(86, None, Some(3), "Possession of indecent photographs or pseudo-photographs of children", G::IndecentImagesOfChildren, Age::Under18)),
    entry(88, Some(b'A'), None, "Sexual grooming", G::SexualGrooming, Age::Under16),
    entry(88, Some(b'C'), None, "Other miscellaneous sexual offences", G::OtherSexualOffences, Age::Any),
    entry(88, Some(b'D'), None, "Unnatural sexual offences", G::OtherSexualOffences, Age::Any),
    entry(88, Some(b'E'), None, "Exposure and voyeurism", G::OtherSexualOffences, Age::Any),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// The codes domain research §2 lists; all must be in the catalogue.
    const REQUIRED: [&str; 27] = [
        "19C", "19D", "19E", "19F", "19G", "19H", "17A", "17B", "20A", "20B", "21", "22A", "22B",
        "23", "70", "71", "71/17", "73", "88A", "88C", "88D", "88E", "86", "86/2", "86/3", "74",
        "72",
    ];

    #[test]
    fn catalogue_holds_every_required_code_sorted_and_unique() {
        for code in REQUIRED {
            let parsed = OffenceCode::parse(code).expect(code);
            assert_eq!(parsed.to_string(), code);
            assert!(parsed.offence().is_some(), "{code}");
        }
        let codes: Vec<OffenceCode> = Offence::all().iter().map(|offence| offence.code).collect();
        assert!(
            codes.windows(2).all(|pair| pair[0] < pair[1]),
            "sorted, unique"
        );
        assert_eq!(codes.len(), REQUIRED.len());
    }

    #[test]
    fn every_catalogue_code_round_trips_and_is_described() {
        for offence in Offence::all() {
            let text = offence.code.to_string();
            assert_eq!(OffenceCode::parse(&text), Ok(offence.code));
            assert_eq!(Offence::lookup(&offence.code), Some(offence));
            assert!(!offence.description.is_empty());
            let json = serde_json::to_string(&offence.code).expect("serialize");
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(
                serde_json::from_str::<OffenceCode>(&json).ok(),
                Some(offence.code)
            );
        }
    }

    #[test]
    fn display_is_canonical() {
        let cases = [
            ("71/17", "71/17"),
            ("88A", "88A"),
            ("19E", "19E"),
            ("86/2", "86/2"),
            ("86", "86"),
        ];
        for (input, display) in cases {
            assert_eq!(OffenceCode::parse(input).expect(input).to_string(), display);
        }
    }

    #[test]
    fn tolerant_spellings_are_accepted() {
        let cases = [
            ("71/17", "71/17"),
            ("071/17", "71/17"),
            ("71.17", "71/17"),
            ("71-17", "71/17"),
            ("71/017", "71/17"),
            ("0071/17", "71/17"),
            ("88a", "88A"),
            (" 88A ", "88A"),
            ("\t19e\n", "19E"),
            ("086.2", "86/2"),
            ("86-3", "86/3"),
            ("021", "21"),
        ];
        for (input, canonical) in cases {
            let code = OffenceCode::parse(input).expect(input);
            assert_eq!(code.to_string(), canonical, "{input:?}");
            assert_eq!(input.parse::<OffenceCode>(), Ok(code));
        }
    }

    #[test]
    fn bad_codes_are_rejected_with_the_reason() {
        let malformed = |input: &str| OffenceCodeError::Malformed {
            input: input.to_owned(),
        };
        let unknown = |input: &str, code: &str| OffenceCodeError::Unknown {
            input: input.to_owned(),
            code: code.to_owned(),
        };
        let cases = [
            ("", OffenceCodeError::Empty),
            ("   ", OffenceCodeError::Empty),
            ("71//17", malformed("71//17")),
            ("7117x", malformed("7117x")),
            ("71/", malformed("71/")),
            ("/17", malformed("/17")),
            ("abc", malformed("abc")),
            ("A88", malformed("A88")),
            ("71/17/3", malformed("71/17/3")),
            ("71 /17", malformed("71 /17")),
            ("71 17", malformed("71 17")),
            ("88AB", malformed("88AB")),
            ("88A/1/", malformed("88A/1/")),
            ("1000", malformed("1000")),
            ("00071", malformed("00071")),
            ("71/1000", malformed("71/1000")),
            ("71/0017x", malformed("71/0017x")),
            ("-71", malformed("-71")),
            ("+71", malformed("+71")),
            ("٧١", malformed("٧١")),
            ("71é", malformed("71é")),
            ("71\u{0}", malformed("71\u{0}")),
            ("999", unknown("999", "999")),
            ("88Z", unknown("88Z", "88Z")),
            ("88b", unknown("88b", "88B")),
            ("0", unknown("0", "0")),
            ("71/18", unknown("71/18", "71/18")),
            ("86/1", unknown("86/1", "86/1")),
            ("19", unknown("19", "19")),
            ("88", unknown("88", "88")),
            ("46", unknown("46", "46")),
        ];
        for (input, expected) in cases {
            let error = OffenceCode::parse(input).expect_err(input);
            assert_eq!(error, expected, "{input:?}");
            let code = match expected {
                OffenceCodeError::Unknown { .. } => "unknown-offence-code",
                _ => "malformed-offence-code",
            };
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn accessors_expose_the_parts() {
        let code = OffenceCode::parse("71/17").expect("71/17");
        assert_eq!(
            (code.class(), code.letter(), code.sub_class()),
            (71, None, Some(17))
        );
        assert_eq!(code.class_level().to_string(), "71");
        let grooming = OffenceCode::parse("88a").expect("88A");
        assert_eq!(grooming.letter(), Some('A'));
        assert_eq!(grooming.class_level(), grooming);
    }

    #[test]
    fn victim_age_rules_admit_exactly_their_ages() {
        let rules = [
            (VictimAgeRule::Any, 0..=255),
            (VictimAgeRule::Under13, 0..=12),
            (VictimAgeRule::Under16, 0..=15),
            (VictimAgeRule::From13To15, 13..=15),
            (VictimAgeRule::Under18, 0..=17),
            (VictimAgeRule::From13, 13..=255),
            (VictimAgeRule::From16, 16..=255),
        ];
        for (rule, admitted) in rules {
            for age in 0..=u8::MAX {
                assert_eq!(rule.admits(age), admitted.contains(&age), "{rule:?} {age}");
            }
        }
    }

    #[test]
    fn key_codes_have_the_expected_group_category_and_age() {
        let cases = [
            ("71/17", G::SexualCommunicationWithAChild, Age::Under16),
            ("88A", G::SexualGrooming, Age::Under16),
            ("86/2", G::IndecentImagesOfChildren, Age::Under18),
            ("86/3", G::IndecentImagesOfChildren, Age::Under18),
            ("86", G::IndecentImagesOfChildren, Age::Any),
            ("19E", G::RapeOfAChildUnder13, Age::Under13),
            ("19H", G::RapeOfAChildUnder13, Age::Under13),
            ("19D", G::RapeOfAChildUnder16, Age::From13To15),
            ("19G", G::RapeOfAChildUnder16, Age::From13To15),
            ("19C", G::RapeAged16AndOver, Age::From16),
            (
                "21",
                G::SexualAssaultAndActivityInvolvingAChild,
                Age::Under13,
            ),
            (
                "22B",
                G::SexualAssaultAndActivityInvolvingAChild,
                Age::Under16,
            ),
            ("20A", G::OtherSexualOffences, Age::From13),
        ];
        for (code, group, age) in cases {
            let offence = OffenceCode::parse(code).expect(code).offence().expect(code);
            assert_eq!((offence.group, offence.victim_age), (group, age), "{code}");
            let category = if group == G::IndecentImagesOfChildren {
                Category::OtherCrime
            } else {
                Category::ViolentCrime
            };
            assert_eq!(offence.category, category, "{code}");
        }
        let uncertain: Vec<String> = Offence::all()
            .iter()
            .filter(|offence| offence.uncertain)
            .map(|offence| offence.code.to_string())
            .collect();
        assert_eq!(uncertain, ["74", "86/3"]);
    }

    #[test]
    fn child_groups_only_admit_children_and_every_group_is_used() {
        let used: HashSet<OffenceGroup> =
            Offence::all().iter().map(|offence| offence.group).collect();
        assert_eq!(used.len(), OffenceGroup::ALL.len());
        for offence in Offence::all() {
            if offence.group.is_child_sexual_offence() {
                assert!(!offence.victim_age.admits(18), "{}", offence.code);
                assert!(offence.group.involves_children());
                assert!(offence.group.is_sexual_offence());
            }
        }
        assert!(!G::IndecentImagesOfChildren.is_child_sexual_offence());
        assert!(G::IndecentImagesOfChildren.involves_children());
        assert!(!G::IndecentImagesOfChildren.is_sexual_offence());
        assert!(!G::OtherSexualOffences.involves_children());
    }

    #[test]
    fn group_ids_round_trip_through_str_and_serde() {
        let mut seen = HashSet::new();
        for group in OffenceGroup::ALL {
            assert!(seen.insert(group.as_str()));
            assert_eq!(group.as_str().parse::<OffenceGroup>(), Ok(group));
            assert_eq!(
                group.as_str().to_uppercase().parse::<OffenceGroup>(),
                Ok(group)
            );
            let json = serde_json::to_string(&group).expect("serialize");
            assert_eq!(json, format!("\"{}\"", group.as_str()));
            assert_eq!(
                serde_json::from_str::<OffenceGroup>(&json).ok(),
                Some(group)
            );
            assert_eq!(group.to_string(), group.as_str());
            assert!(!group.name().is_empty());
        }
        assert!("grooming".parse::<OffenceGroup>().is_err());
    }
}

//! Victim age bands: the finest common partition of the published bandings, and roll-ups to them.
//!
//! Records store the victim's single year of age at the offence. Published statistics use
//! bandings that disagree on their boundaries (domain research §6.1), so the pipeline stores one
//! fine band, [`AgeBand`]: `0-4`, `5-10`, `11`, `12`, `13-15`, `16-17`, `18+` and `unknown`.
//!
//! These bandings roll up **exactly** from it ([`Banding`], [`AgeBand::roll_up`]):
//!
//! | Banding | Bands | Used by |
//! |---|---|---|
//! | [`Banding::NspccFoi`] | 11 and under, 12–15, 16 and over | NSPCC-style FOIs on 71/17 (N Yorks, Warwickshire, Dyfed-Powys, WMP, Northants) |
//! | [`Banding::CambridgeshireFoi`] | 11 and under, 12–15, 16–17, 18 and over | Cambridgeshire/Beds/Herts FOI2019/05954 |
//! | [`Banding::LegalThresholds`] | under 13, 13–15, 16–17, 18 and over | age thresholds in the offence codes |
//! | [`Banding::TenOrYounger`] | 10 or younger, 11–17, 18 and over | NSPCC press releases, West Mercia |
//! | [`Banding::Under16`] | under 16, 16 and over | sexual communication / grooming victims |
//! | [`Banding::Under18`] | under 18, 18 and over | "child" for indecent images and class 71 |
//!
//! "4 or younger" is the `0-4` band itself. These bandings **cannot** be derived and are not
//! offered: the Met's 0–5 / 6–10 / 11–15 / 16–17 (the 5|6 boundary falls inside `5-10`) and
//! police.uk stop-and-search's under 10 / 10–17 (the 9|10 boundary falls inside `5-10`).
//! Every banding has an `unknown` band for records without an age.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::text::excerpt;

/// A victim age band: the finest common partition of the published child age bandings.
///
/// Serialized as its stable id: `"0-4"`, `"5-10"`, `"11"`, `"12"`, `"13-15"`, `"16-17"`,
/// `"18+"` or `"unknown"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgeBand {
    /// Aged 0 to 4.
    #[serde(rename = "0-4")]
    From0To4,
    /// Aged 5 to 10.
    #[serde(rename = "5-10")]
    From5To10,
    /// Aged 11.
    #[serde(rename = "11")]
    Age11,
    /// Aged 12.
    #[serde(rename = "12")]
    Age12,
    /// Aged 13 to 15.
    #[serde(rename = "13-15")]
    From13To15,
    /// Aged 16 or 17.
    #[serde(rename = "16-17")]
    From16To17,
    /// Aged 18 or over (adult victims).
    #[serde(rename = "18+")]
    Adult,
    /// Age not supplied by the force.
    #[serde(rename = "unknown")]
    Unknown,
}

/// The input is not an [`AgeBand`] id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown age band {input:?}")]
pub struct UnknownAgeBand {
    /// The rejected input, truncated to 64 characters.
    pub input: String,
}

impl AgeBand {
    /// Every band, youngest first, `unknown` last.
    pub const ALL: [AgeBand; 8] = [
        AgeBand::From0To4,
        AgeBand::From5To10,
        AgeBand::Age11,
        AgeBand::Age12,
        AgeBand::From13To15,
        AgeBand::From16To17,
        AgeBand::Adult,
        AgeBand::Unknown,
    ];

    /// The band of a victim age in whole years; `None` is [`AgeBand::Unknown`].
    pub const fn from_age(age: Option<u8>) -> AgeBand {
        match age {
            None => AgeBand::Unknown,
            Some(0..=4) => AgeBand::From0To4,
            Some(5..=10) => AgeBand::From5To10,
            Some(11) => AgeBand::Age11,
            Some(12) => AgeBand::Age12,
            Some(13..=15) => AgeBand::From13To15,
            Some(16..=17) => AgeBand::From16To17,
            Some(_) => AgeBand::Adult,
        }
    }

    /// The stable id, e.g. `"13-15"` (also the serde form).
    pub const fn as_str(self) -> &'static str {
        match self {
            AgeBand::From0To4 => "0-4",
            AgeBand::From5To10 => "5-10",
            AgeBand::Age11 => "11",
            AgeBand::Age12 => "12",
            AgeBand::From13To15 => "13-15",
            AgeBand::From16To17 => "16-17",
            AgeBand::Adult => "18+",
            AgeBand::Unknown => "unknown",
        }
    }

    /// True for the bands under 18, false for `18+`, `None` when unknown.
    pub const fn is_child(self) -> Option<bool> {
        match self {
            AgeBand::Unknown => None,
            AgeBand::Adult => Some(false),
            _ => Some(true),
        }
    }

    /// The band of `banding` this band falls in, as that banding's stable label (one of
    /// [`Banding::labels`]). Exact: every fine band lies wholly inside one published band.
    pub const fn roll_up(self, banding: Banding) -> &'static str {
        use AgeBand as A;
        match (banding, self) {
            (_, A::Unknown) => "unknown",
            (Banding::NspccFoi, A::From0To4 | A::From5To10 | A::Age11) => "11-and-under",
            (Banding::NspccFoi, A::Age12 | A::From13To15) => "12-15",
            (Banding::NspccFoi, A::From16To17 | A::Adult) => "16-and-over",
            (Banding::CambridgeshireFoi, A::From0To4 | A::From5To10 | A::Age11) => "11-and-under",
            (Banding::CambridgeshireFoi, A::Age12 | A::From13To15) => "12-15",
            (Banding::CambridgeshireFoi, A::From16To17) => "16-17",
            (Banding::CambridgeshireFoi, A::Adult) => "18-and-over",
            (Banding::LegalThresholds, A::From0To4 | A::From5To10 | A::Age11 | A::Age12) => {
                "under-13"
            }
            (Banding::LegalThresholds, A::From13To15) => "13-15",
            (Banding::LegalThresholds, A::From16To17) => "16-17",
            (Banding::LegalThresholds, A::Adult) => "18-and-over",
            (Banding::TenOrYounger, A::From0To4 | A::From5To10) => "10-or-younger",
            (Banding::TenOrYounger, A::Age11 | A::Age12 | A::From13To15 | A::From16To17) => "11-17",
            (Banding::TenOrYounger, A::Adult) => "18-and-over",
            (Banding::Under16, A::From16To17 | A::Adult) => "16-and-over",
            (Banding::Under16, _) => "under-16",
            (Banding::Under18, A::Adult) => "18-and-over",
            (Banding::Under18, _) => "under-18",
        }
    }
}

impl fmt::Display for AgeBand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses the stable id (surrounding whitespace ignored).
impl FromStr for AgeBand {
    type Err = UnknownAgeBand;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let wanted = input.trim();
        AgeBand::ALL
            .into_iter()
            .find(|band| band.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownAgeBand {
                input: excerpt(input),
            })
    }
}

/// A published age banding that [`AgeBand`] rolls up to exactly (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Banding {
    /// NSPCC-style FOI template: 11 and under, 12–15, 16 and over.
    NspccFoi,
    /// Cambridgeshire/Bedfordshire/Hertfordshire FOI: 11 and under, 12–15, 16–17 (and 18 and
    /// over for adult victims).
    CambridgeshireFoi,
    /// The legal thresholds of the offence codes: under 13, 13–15, 16–17, 18 and over.
    LegalThresholds,
    /// "10 or younger" as in NSPCC press releases: 10 or younger, 11–17, 18 and over.
    TenOrYounger,
    /// Under 16, 16 and over.
    #[serde(rename = "under-16")]
    Under16,
    /// Under 18, 18 and over.
    #[serde(rename = "under-18")]
    Under18,
}

impl Banding {
    /// Every banding.
    pub const ALL: [Banding; 6] = [
        Banding::NspccFoi,
        Banding::CambridgeshireFoi,
        Banding::LegalThresholds,
        Banding::TenOrYounger,
        Banding::Under16,
        Banding::Under18,
    ];

    /// The stable id, e.g. `"nspcc-foi"` (also the serde form).
    pub const fn as_str(self) -> &'static str {
        match self {
            Banding::NspccFoi => "nspcc-foi",
            Banding::CambridgeshireFoi => "cambridgeshire-foi",
            Banding::LegalThresholds => "legal-thresholds",
            Banding::TenOrYounger => "ten-or-younger",
            Banding::Under16 => "under-16",
            Banding::Under18 => "under-18",
        }
    }

    /// The band labels of this banding, youngest first, `unknown` last.
    pub const fn labels(self) -> &'static [&'static str] {
        match self {
            Banding::NspccFoi => &["11-and-under", "12-15", "16-and-over", "unknown"],
            Banding::CambridgeshireFoi => {
                &["11-and-under", "12-15", "16-17", "18-and-over", "unknown"]
            }
            Banding::LegalThresholds => &["under-13", "13-15", "16-17", "18-and-over", "unknown"],
            Banding::TenOrYounger => &["10-or-younger", "11-17", "18-and-over", "unknown"],
            Banding::Under16 => &["under-16", "16-and-over", "unknown"],
            Banding::Under18 => &["under-18", "18-and-over", "unknown"],
        }
    }
}

impl fmt::Display for Banding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_age_covers_every_age_on_the_published_boundaries() {
        let cases = [
            (None, AgeBand::Unknown),
            (Some(0), AgeBand::From0To4),
            (Some(4), AgeBand::From0To4),
            (Some(5), AgeBand::From5To10),
            (Some(10), AgeBand::From5To10),
            (Some(11), AgeBand::Age11),
            (Some(12), AgeBand::Age12),
            (Some(13), AgeBand::From13To15),
            (Some(15), AgeBand::From13To15),
            (Some(16), AgeBand::From16To17),
            (Some(17), AgeBand::From16To17),
            (Some(18), AgeBand::Adult),
            (Some(120), AgeBand::Adult),
            (Some(255), AgeBand::Adult),
        ];
        for (age, band) in cases {
            assert_eq!(AgeBand::from_age(age), band, "{age:?}");
        }
    }

    #[test]
    fn ids_round_trip_through_str_and_serde() {
        let ids: Vec<&str> = AgeBand::ALL.iter().map(|band| band.as_str()).collect();
        assert_eq!(
            ids,
            [
                "0-4", "5-10", "11", "12", "13-15", "16-17", "18+", "unknown"
            ]
        );
        for band in AgeBand::ALL {
            assert_eq!(band.as_str().parse::<AgeBand>(), Ok(band));
            let json = serde_json::to_string(&band).expect("serialize");
            assert_eq!(json, format!("\"{band}\""));
            assert_eq!(serde_json::from_str::<AgeBand>(&json).ok(), Some(band));
        }
        assert!("18".parse::<AgeBand>().is_err());
    }

    /// A roll-up is exact when it agrees, for every single age, with the published band
    /// computed straight from the age.
    #[test]
    fn roll_ups_agree_with_the_published_definitions_for_every_age() {
        let published = |banding: Banding, age: u8| -> &'static str {
            match banding {
                Banding::NspccFoi => match age {
                    0..=11 => "11-and-under",
                    12..=15 => "12-15",
                    _ => "16-and-over",
                },
                Banding::CambridgeshireFoi => match age {
                    0..=11 => "11-and-under",
                    12..=15 => "12-15",
                    16..=17 => "16-17",
                    _ => "18-and-over",
                },
                Banding::LegalThresholds => match age {
                    0..=12 => "under-13",
                    13..=15 => "13-15",
                    16..=17 => "16-17",
                    _ => "18-and-over",
                },
                Banding::TenOrYounger => match age {
                    0..=10 => "10-or-younger",
                    11..=17 => "11-17",
                    _ => "18-and-over",
                },
                Banding::Under16 => {
                    if age < 16 {
                        "under-16"
                    } else {
                        "16-and-over"
                    }
                }
                Banding::Under18 => {
                    if age < 18 {
                        "under-18"
                    } else {
                        "18-and-over"
                    }
                }
            }
        };
        for banding in Banding::ALL {
            for age in 0..=u8::MAX {
                let label = AgeBand::from_age(Some(age)).roll_up(banding);
                assert_eq!(label, published(banding, age), "{banding} {age}");
                assert!(banding.labels().contains(&label));
            }
            assert_eq!(AgeBand::Unknown.roll_up(banding), "unknown");
            assert_eq!(banding.labels().last(), Some(&"unknown"));
        }
    }

    #[test]
    fn banding_ids_round_trip_through_serde() {
        for banding in Banding::ALL {
            let json = serde_json::to_string(&banding).expect("serialize");
            assert_eq!(json, format!("\"{}\"", banding.as_str()));
            assert_eq!(serde_json::from_str::<Banding>(&json).ok(), Some(banding));
        }
    }

    #[test]
    fn child_flag() {
        assert_eq!(AgeBand::From13To15.is_child(), Some(true));
        assert_eq!(AgeBand::Adult.is_child(), Some(false));
        assert_eq!(AgeBand::Unknown.is_child(), None);
    }
}

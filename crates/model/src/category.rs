//! data.police.uk crime categories: the broad categories of the public street-level data.
//!
//! The 15 categories of the `/crime-categories` API (including the `all-crime` query
//! pseudo-category and `anti-social-behaviour`), each with its API slug ([`Category::slug`]) and
//! its CSV `Crime type` name ([`Category::name`]). [`Category::parse`] accepts either, in any case.
//!
//! Files before May 2013 used two other names:
//! - "Violent crime": the old name of the same category (same slug `violent-crime`), so it parses
//!   to [`Category::ViolentCrime`];
//! - "Public disorder and weapons": one category that was later split into `public-order` and
//!   `possession-of-weapons`. Mapping it to either would misfile part of it, so it is kept as the
//!   legacy variant [`Category::PublicDisorderAndWeapons`] (slug `public-disorder-weapons`, the
//!   slug the API used for it).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::text::{excerpt, fold};

/// A data.police.uk crime category. Serialized as its slug, e.g. `"violent-crime"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// `all-crime`: the API's "All crime" query pseudo-category; not a category a crime can have
    /// (validation rejects it on a record).
    AllCrime,
    /// `anti-social-behaviour`: "Anti-social behaviour" (incidents, not notifiable crimes).
    AntiSocialBehaviour,
    /// `bicycle-theft`: "Bicycle theft".
    BicycleTheft,
    /// `burglary`: "Burglary".
    Burglary,
    /// `criminal-damage-arson`: "Criminal damage and arson".
    CriminalDamageArson,
    /// `drugs`: "Drugs".
    Drugs,
    /// `other-theft`: "Other theft".
    OtherTheft,
    /// `possession-of-weapons`: "Possession of weapons".
    PossessionOfWeapons,
    /// `public-order`: "Public order".
    PublicOrder,
    /// `robbery`: "Robbery".
    Robbery,
    /// `shoplifting`: "Shoplifting".
    Shoplifting,
    /// `theft-from-the-person`: "Theft from the person".
    TheftFromThePerson,
    /// `vehicle-crime`: "Vehicle crime".
    VehicleCrime,
    /// `violent-crime`: "Violence and sexual offences" (before May 2013: "Violent crime"). Every
    /// sexual offence, including those against children, is published here.
    ViolentCrime,
    /// `other-crime`: "Other crime" (includes obscene publications).
    OtherCrime,
    /// `public-disorder-weapons`: "Public disorder and weapons", the pre-May 2013 category later
    /// split into public order and possession of weapons.
    PublicDisorderAndWeapons,
}

/// The input is not a category slug or name. Carries the input (truncated to 64 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown police.uk crime category {input:?}")]
pub struct UnknownCategory {
    /// The rejected input, truncated to 64 characters.
    pub input: String,
}

impl Category {
    /// Every category: the 15 current ones in API order, then the legacy one.
    pub const ALL: [Category; 16] = [
        Category::AllCrime,
        Category::AntiSocialBehaviour,
        Category::BicycleTheft,
        Category::Burglary,
        Category::CriminalDamageArson,
        Category::Drugs,
        Category::OtherTheft,
        Category::PossessionOfWeapons,
        Category::PublicOrder,
        Category::Robbery,
        Category::Shoplifting,
        Category::TheftFromThePerson,
        Category::VehicleCrime,
        Category::ViolentCrime,
        Category::OtherCrime,
        Category::PublicDisorderAndWeapons,
    ];

    /// The API slug, e.g. `"criminal-damage-arson"` (also the serde form).
    pub const fn slug(self) -> &'static str {
        match self {
            Category::AllCrime => "all-crime",
            Category::AntiSocialBehaviour => "anti-social-behaviour",
            Category::BicycleTheft => "bicycle-theft",
            Category::Burglary => "burglary",
            Category::CriminalDamageArson => "criminal-damage-arson",
            Category::Drugs => "drugs",
            Category::OtherTheft => "other-theft",
            Category::PossessionOfWeapons => "possession-of-weapons",
            Category::PublicOrder => "public-order",
            Category::Robbery => "robbery",
            Category::Shoplifting => "shoplifting",
            Category::TheftFromThePerson => "theft-from-the-person",
            Category::VehicleCrime => "vehicle-crime",
            Category::ViolentCrime => "violent-crime",
            Category::OtherCrime => "other-crime",
            Category::PublicDisorderAndWeapons => "public-disorder-weapons",
        }
    }

    /// The current CSV `Crime type` name, e.g. `"Violence and sexual offences"`.
    pub const fn name(self) -> &'static str {
        match self {
            Category::AllCrime => "All crime",
            Category::AntiSocialBehaviour => "Anti-social behaviour",
            Category::BicycleTheft => "Bicycle theft",
            Category::Burglary => "Burglary",
            Category::CriminalDamageArson => "Criminal damage and arson",
            Category::Drugs => "Drugs",
            Category::OtherTheft => "Other theft",
            Category::PossessionOfWeapons => "Possession of weapons",
            Category::PublicOrder => "Public order",
            Category::Robbery => "Robbery",
            Category::Shoplifting => "Shoplifting",
            Category::TheftFromThePerson => "Theft from the person",
            Category::VehicleCrime => "Vehicle crime",
            Category::ViolentCrime => "Violence and sexual offences",
            Category::OtherCrime => "Other crime",
            Category::PublicDisorderAndWeapons => "Public disorder and weapons",
        }
    }

    /// Older names that also parse to this category ("Violent crime").
    const fn legacy_names(self) -> &'static [&'static str] {
        match self {
            Category::ViolentCrime => &["Violent crime"],
            _ => &[],
        }
    }

    /// True for the legacy pre-May 2013 category.
    pub const fn is_legacy(self) -> bool {
        matches!(self, Category::PublicDisorderAndWeapons)
    }

    /// False for `all-crime`, the query pseudo-category that no crime has.
    pub const fn is_record_category(self) -> bool {
        !matches!(self, Category::AllCrime)
    }

    /// Parses a slug, a CSV name or a legacy name: case-insensitive, tolerant of surrounding and
    /// repeated whitespace and of hyphens versus spaces.
    pub fn parse(input: &str) -> Result<Category, UnknownCategory> {
        static SPELLINGS: OnceLock<HashMap<String, Category>> = OnceLock::new();
        let spellings = SPELLINGS.get_or_init(|| {
            let mut spellings = HashMap::new();
            for category in Category::ALL {
                let names = [category.slug(), category.name()];
                for name in names
                    .into_iter()
                    .chain(category.legacy_names().iter().copied())
                {
                    spellings.insert(fold(name), category);
                }
            }
            spellings
        });
        spellings
            .get(&fold(input))
            .copied()
            .ok_or_else(|| UnknownCategory {
                input: excerpt(input),
            })
    }

    /// Parses the slug only (ASCII case-insensitive): the national-schema form.
    pub fn from_slug(slug: &str) -> Result<Category, UnknownCategory> {
        Category::ALL
            .into_iter()
            .find(|category| category.slug().eq_ignore_ascii_case(slug))
            .ok_or_else(|| UnknownCategory {
                input: excerpt(slug),
            })
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// Parses as [`Category::parse`] (slug or name).
impl FromStr for Category {
    type Err = UnknownCategory;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Category::parse(input)
    }
}

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.slug())
    }
}

/// Deserializes the slug only, as [`Category::from_slug`].
impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let slug = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Category::from_slug(&slug).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn fifteen_current_categories_and_one_legacy() {
        let current: Vec<Category> = Category::ALL
            .into_iter()
            .filter(|category| !category.is_legacy())
            .collect();
        assert_eq!(current.len(), 15);
        assert!(current.contains(&Category::AntiSocialBehaviour));
        let slugs: HashSet<&str> = Category::ALL
            .iter()
            .map(|category| category.slug())
            .collect();
        assert_eq!(slugs.len(), Category::ALL.len());
    }

    #[test]
    fn every_slug_and_name_parses_back() {
        for category in Category::ALL {
            for text in [
                category.slug().to_owned(),
                category.name().to_owned(),
                category.name().to_uppercase(),
                category.slug().to_uppercase(),
                format!("  {}  ", category.name().replace(' ', "  ")),
            ] {
                assert_eq!(Category::parse(&text), Ok(category), "{text:?}");
                assert_eq!(text.parse::<Category>(), Ok(category), "{text:?}");
            }
            assert_eq!(Category::from_slug(category.slug()), Ok(category));
            let json = serde_json::to_string(&category).expect("serialize");
            assert_eq!(json, format!("\"{}\"", category.slug()));
            assert_eq!(serde_json::from_str::<Category>(&json).ok(), Some(category));
            assert_eq!(category.to_string(), category.slug());
        }
    }

    #[test]
    fn legacy_names_parse() {
        assert_eq!(Category::parse("Violent crime"), Ok(Category::ViolentCrime));
        assert_eq!(
            Category::parse("Public disorder and weapons"),
            Ok(Category::PublicDisorderAndWeapons)
        );
        assert_eq!(
            Category::parse("public-disorder-weapons"),
            Ok(Category::PublicDisorderAndWeapons)
        );
        assert!(Category::PublicDisorderAndWeapons.is_legacy());
        assert!(!Category::AllCrime.is_record_category());
        assert!(Category::ViolentCrime.is_record_category());
    }

    #[test]
    fn unknown_categories_are_rejected() {
        for input in [
            "",
            "  ",
            "violence",
            "Sexual offences",
            "crime",
            "all",
            "other",
        ] {
            let error = Category::parse(input).expect_err(input);
            assert_eq!(error.input, input);
        }
        assert!(Category::from_slug("Violence and sexual offences").is_err());
        assert!(serde_json::from_str::<Category>(r#""Violence and sexual offences""#).is_err());
    }
}

//! Police forces: the 43 territorial forces of England and Wales, British Transport Police and the
//! Police Service of Northern Ireland, with every identifier and name they are known by.
//!
//! [`ForceId`] is the small `Copy` handle the rest of the pipeline passes around; [`Force`] is its
//! static description (police.uk id, ONS GSS code, names, region, jurisdiction).
//!
//! Sources (domain research §3): GSS codes are the ONS Police Force Area codes (PFA23CD/PFA24CD,
//! E23000001–E23000039 and W15000001–W15000004); ids and display names are those of the
//! data.police.uk `/api/forces` list, plus `btp`, which police.uk uses in its CSV files but omits
//! from that list. Aliases are other names the forces write on their own data (for example
//! Hampshire's current name "Hampshire and Isle of Wight Constabulary", Leicestershire's API
//! detail name "Leicestershire Constabulary", or the Welsh forces' Welsh names).
//!
//! Three look-ups exist, from strict to tolerant:
//! - [`ForceId::from_id`]: the police.uk id only (ASCII case-insensitive). This is what the
//!   national NDJSON schema accepts (serde uses it).
//! - [`ForceId::from_gss`]: the ONS GSS code only.
//! - [`ForceId::lookup`]: any identifier or name, for adapters reading force-written data.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::text::excerpt;

/// The ONS region a force belongs to, or a pseudo-region for forces that have none.
///
/// Territorial forces map to exactly one of the nine English regions or Wales (every Police Force
/// Area nests within one region). Serialized as the kebab-case id returned by [`Region::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    /// North East (ONS region E12000001).
    NorthEast,
    /// North West (E12000002).
    NorthWest,
    /// Yorkshire and The Humber (E12000003).
    YorkshireAndTheHumber,
    /// East Midlands (E12000004).
    EastMidlands,
    /// West Midlands (E12000005).
    WestMidlands,
    /// East of England (E12000006).
    EastOfEngland,
    /// London (E12000007).
    London,
    /// South East (E12000008).
    SouthEast,
    /// South West (E12000009).
    SouthWest,
    /// Wales (W92000004 as a country).
    Wales,
    /// British Transport Police: a national force with no territorial area.
    National,
    /// Northern Ireland (PSNI), outside England and Wales.
    NorthernIreland,
}

impl Region {
    /// Every region, in declaration order.
    pub const ALL: [Region; 12] = [
        Region::NorthEast,
        Region::NorthWest,
        Region::YorkshireAndTheHumber,
        Region::EastMidlands,
        Region::WestMidlands,
        Region::EastOfEngland,
        Region::London,
        Region::SouthEast,
        Region::SouthWest,
        Region::Wales,
        Region::National,
        Region::NorthernIreland,
    ];

    /// Stable kebab-case id, e.g. `"yorkshire-and-the-humber"` (also the serde form).
    pub const fn as_str(self) -> &'static str {
        match self {
            Region::NorthEast => "north-east",
            Region::NorthWest => "north-west",
            Region::YorkshireAndTheHumber => "yorkshire-and-the-humber",
            Region::EastMidlands => "east-midlands",
            Region::WestMidlands => "west-midlands",
            Region::EastOfEngland => "east-of-england",
            Region::London => "london",
            Region::SouthEast => "south-east",
            Region::SouthWest => "south-west",
            Region::Wales => "wales",
            Region::National => "national",
            Region::NorthernIreland => "northern-ireland",
        }
    }

    /// The ONS name, e.g. `"Yorkshire and The Humber"`.
    pub const fn name(self) -> &'static str {
        match self {
            Region::NorthEast => "North East",
            Region::NorthWest => "North West",
            Region::YorkshireAndTheHumber => "Yorkshire and The Humber",
            Region::EastMidlands => "East Midlands",
            Region::WestMidlands => "West Midlands",
            Region::EastOfEngland => "East of England",
            Region::London => "London",
            Region::SouthEast => "South East",
            Region::SouthWest => "South West",
            Region::Wales => "Wales",
            Region::National => "National",
            Region::NorthernIreland => "Northern Ireland",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which recording regime and which national statistics a force belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Jurisdiction {
    /// One of the 43 territorial forces of England and Wales: records under the Home Office
    /// Crime Recording Rules and has an ONS Police Force Area.
    EnglandAndWales,
    /// British Transport Police: polices the railways of England, Wales and Scotland, records
    /// under the Home Office rules and submits to the Home Office, but has no Police Force Area.
    BritishTransport,
    /// Police Service of Northern Ireland: on data.police.uk, but outside England and Wales and
    /// outside the Home Office recorded-crime statistics.
    NorthernIreland,
}

impl Jurisdiction {
    /// True for the forces whose crimes count in the Home Office recorded-crime statistics of
    /// England and Wales (the 43 territorial forces and BTP), false for PSNI.
    pub const fn in_home_office_statistics(self) -> bool {
        matches!(
            self,
            Jurisdiction::EnglandAndWales | Jurisdiction::BritishTransport
        )
    }
}

/// Static description of one police force. Obtain it with [`ForceId::info`] or [`Force::all`].
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Force {
    /// The data.police.uk force id (slug), e.g. `"avon-and-somerset"`; `"btp"` for British
    /// Transport Police. This is the identifier of the national schema.
    pub id: &'static str,
    /// The ONS Police Force Area GSS code, e.g. `"E23000036"`; `None` for BTP and PSNI, which
    /// have no Police Force Area in England and Wales.
    pub gss: Option<&'static str>,
    /// The ONS area name as written in the PFA names-and-codes file, e.g. `"London, City of"`;
    /// for BTP and PSNI the name the Home Office and ONS tables use for them.
    pub ons_name: &'static str,
    /// The force name as data.police.uk displays it and writes in its CSV `Reported by` and
    /// `Falls within` columns, e.g. `"Avon and Somerset Constabulary"`.
    pub name: &'static str,
    /// Other names the force is written as (renamed forces, API detail names, Welsh names,
    /// common abbreviations). Every alias is accepted by [`ForceId::lookup`].
    pub aliases: &'static [&'static str],
    /// The ONS region of the force area.
    pub region: Region,
    /// The force's jurisdiction: territorial England and Wales, BTP, or Northern Ireland.
    pub jurisdiction: Jurisdiction,
}

impl Force {
    /// The whole table, in [`ForceId`] order: GSS code order (E23000001 … E23000039,
    /// W15000001 … W15000004), then BTP, then PSNI.
    pub fn all() -> &'static [Force] {
        &FORCES
    }
}

/// Number of rows of [`FORCES`]; a `u8` so that every index fits a [`ForceId`].
const FORCE_COUNT: u8 = 45;

/// The static force table. Its order defines [`ForceId`]'s index and ordering: never reorder or
/// remove rows; append new ones at the end.
static FORCES: [Force; FORCE_COUNT as usize] = [
    Force {
        id: "metropolitan",
        gss: Some("E23000001"),
        ons_name: "Metropolitan Police",
        name: "Metropolitan Police Service",
        aliases: &["Met Police", "MPS"],
        region: Region::London,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "cumbria",
        gss: Some("E23000002"),
        ons_name: "Cumbria",
        name: "Cumbria Constabulary",
        aliases: &[],
        region: Region::NorthWest,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "lancashire",
        gss: Some("E23000003"),
        ons_name: "Lancashire",
        name: "Lancashire Constabulary",
        aliases: &[],
        region: Region::NorthWest,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "merseyside",
        gss: Some("E23000004"),
        ons_name: "Merseyside",
        name: "Merseyside Police",
        aliases: &[],
        region: Region::NorthWest,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "greater-manchester",
        gss: Some("E23000005"),
        ons_name: "Greater Manchester",
        name: "Greater Manchester Police",
        aliases: &["GMP"],
        region: Region::NorthWest,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "cheshire",
        gss: Some("E23000006"),
        ons_name: "Cheshire",
        name: "Cheshire Constabulary",
        aliases: &[],
        region: Region::NorthWest,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "northumbria",
        gss: Some("E23000007"),
        ons_name: "Northumbria",
        name: "Northumbria Police",
        aliases: &[],
        region: Region::NorthEast,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "durham",
        gss: Some("E23000008"),
        ons_name: "Durham",
        name: "Durham Constabulary",
        aliases: &[],
        region: Region::NorthEast,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "north-yorkshire",
        gss: Some("E23000009"),
        ons_name: "North Yorkshire",
        name: "North Yorkshire Police",
        aliases: &[],
        region: Region::YorkshireAndTheHumber,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "west-yorkshire",
        gss: Some("E23000010"),
        ons_name: "West Yorkshire",
        name: "West Yorkshire Police",
        aliases: &[],
        region: Region::YorkshireAndTheHumber,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "south-yorkshire",
        gss: Some("E23000011"),
        ons_name: "South Yorkshire",
        name: "South Yorkshire Police",
        aliases: &[],
        region: Region::YorkshireAndTheHumber,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "humberside",
        gss: Some("E23000012"),
        ons_name: "Humberside",
        name: "Humberside Police",
        aliases: &[],
        region: Region::YorkshireAndTheHumber,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "cleveland",
        gss: Some("E23000013"),
        ons_name: "Cleveland",
        name: "Cleveland Police",
        aliases: &[],
        region: Region::NorthEast,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "west-midlands",
        gss: Some("E23000014"),
        ons_name: "West Midlands",
        name: "West Midlands Police",
        aliases: &[],
        region: Region::WestMidlands,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "staffordshire",
        gss: Some("E23000015"),
        ons_name: "Staffordshire",
        name: "Staffordshire Police",
        aliases: &[],
        region: Region::WestMidlands,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "west-mercia",
        gss: Some("E23000016"),
        ons_name: "West Mercia",
        name: "West Mercia Police",
        aliases: &[],
        region: Region::WestMidlands,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "warwickshire",
        gss: Some("E23000017"),
        ons_name: "Warwickshire",
        name: "Warwickshire Police",
        aliases: &[],
        region: Region::WestMidlands,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "derbyshire",
        gss: Some("E23000018"),
        ons_name: "Derbyshire",
        name: "Derbyshire Constabulary",
        aliases: &[],
        region: Region::EastMidlands,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "nottinghamshire",
        gss: Some("E23000019"),
        ons_name: "Nottinghamshire",
        name: "Nottinghamshire Police",
        aliases: &[],
        region: Region::EastMidlands,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "lincolnshire",
        gss: Some("E23000020"),
        ons_name: "Lincolnshire",
        name: "Lincolnshire Police",
        aliases: &[],
        region: Region::EastMidlands,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "leicestershire",
        gss: Some("E23000021"),
        ons_name: "Leicestershire",
        name: "Leicestershire Police",
        aliases: &["Leicestershire Constabulary"],
        region: Region::EastMidlands,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "northamptonshire",
        gss: Some("E23000022"),
        ons_name: "Northamptonshire",
        name: "Northamptonshire Police",
        aliases: &[],
        region: Region::EastMidlands,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "cambridgeshire",
        gss: Some("E23000023"),
        ons_name: "Cambridgeshire",
        name: "Cambridgeshire Constabulary",
        aliases: &[],
        region: Region::EastOfEngland,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "norfolk",
        gss: Some("E23000024"),
        ons_name: "Norfolk",
        name: "Norfolk Constabulary",
        aliases: &[],
        region: Region::EastOfEngland,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "suffolk",
        gss: Some("E23000025"),
        ons_name: "Suffolk",
        name: "Suffolk Constabulary",
        aliases: &[],
        region: Region::EastOfEngland,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "bedfordshire",
        gss: Some("E23000026"),
        ons_name: "Bedfordshire",
        name: "Bedfordshire Police",
        aliases: &[],
        region: Region::EastOfEngland,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "hertfordshire",
        gss: Some("E23000027"),
        ons_name: "Hertfordshire",
        name: "Hertfordshire Constabulary",
        aliases: &[],
        region: Region::EastOfEngland,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "essex",
        gss: Some("E23000028"),
        ons_name: "Essex",
        name: "Essex Police",
        aliases: &[],
        region: Region::EastOfEngland,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "thames-valley",
        gss: Some("E23000029"),
        ons_name: "Thames Valley",
        name: "Thames Valley Police",
        aliases: &[],
        region: Region::SouthEast,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "hampshire",
        gss: Some("E23000030"),
        ons_name: "Hampshire",
        name: "Hampshire Constabulary",
        aliases: &[
            "Hampshire and Isle of Wight Constabulary",
            "Hampshire and Isle of Wight",
        ],
        region: Region::SouthEast,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "surrey",
        gss: Some("E23000031"),
        ons_name: "Surrey",
        name: "Surrey Police",
        aliases: &[],
        region: Region::SouthEast,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "kent",
        gss: Some("E23000032"),
        ons_name: "Kent",
        name: "Kent Police",
        aliases: &[],
        region: Region::SouthEast,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "sussex",
        gss: Some("E23000033"),
        ons_name: "Sussex",
        name: "Sussex Police",
        aliases: &[],
        region: Region::SouthEast,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "city-of-london",
        gss: Some("E23000034"),
        ons_name: "London, City of",
        name: "City of London Police",
        aliases: &[],
        region: Region::London,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "devon-and-cornwall",
        gss: Some("E23000035"),
        ons_name: "Devon & Cornwall",
        name: "Devon & Cornwall Police",
        aliases: &["Devon and Cornwall Police"],
        region: Region::SouthWest,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "avon-and-somerset",
        gss: Some("E23000036"),
        ons_name: "Avon and Somerset",
        name: "Avon and Somerset Constabulary",
        aliases: &[],
        region: Region::SouthWest,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "gloucestershire",
        gss: Some("E23000037"),
        ons_name: "Gloucestershire",
        name: "Gloucestershire Constabulary",
        aliases: &[],
        region: Region::SouthWest,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "wiltshire",
        gss: Some("E23000038"),
        ons_name: "Wiltshire",
        name: "Wiltshire Police",
        aliases: &[],
        region: Region::SouthWest,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "dorset",
        gss: Some("E23000039"),
        ons_name: "Dorset",
        name: "Dorset Police",
        aliases: &[],
        region: Region::SouthWest,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "north-wales",
        gss: Some("W15000001"),
        ons_name: "North Wales",
        name: "North Wales Police",
        aliases: &["Heddlu Gogledd Cymru"],
        region: Region::Wales,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "gwent",
        gss: Some("W15000002"),
        ons_name: "Gwent",
        name: "Gwent Police",
        aliases: &["Heddlu Gwent"],
        region: Region::Wales,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "south-wales",
        gss: Some("W15000003"),
        ons_name: "South Wales",
        name: "South Wales Police",
        aliases: &["Heddlu De Cymru"],
        region: Region::Wales,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "dyfed-powys",
        gss: Some("W15000004"),
        ons_name: "Dyfed-Powys",
        name: "Dyfed-Powys Police",
        aliases: &["Heddlu Dyfed-Powys"],
        region: Region::Wales,
        jurisdiction: Jurisdiction::EnglandAndWales,
    },
    Force {
        id: "btp",
        gss: None,
        ons_name: "British Transport Police",
        name: "British Transport Police",
        aliases: &["BTP"],
        region: Region::National,
        jurisdiction: Jurisdiction::BritishTransport,
    },
    Force {
        id: "northern-ireland",
        gss: None,
        ons_name: "Northern Ireland",
        name: "Police Service of Northern Ireland",
        aliases: &["PSNI"],
        region: Region::NorthernIreland,
        jurisdiction: Jurisdiction::NorthernIreland,
    },
];

/// A police force: a one-byte index into the static force table.
///
/// `Copy`, hashable and ordered (in table order, see [`Force::all`]). Displayed and serialized
/// as its police.uk id; deserialized from that id only (ASCII case-insensitive), never from a
/// display name: the national schema has exactly one spelling per force. Use
/// [`ForceId::lookup`] when reading force-written names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ForceId(u8);

/// The input matched no force. Carries the input (truncated to 64 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown police force {input:?}")]
pub struct UnknownForce {
    /// The rejected input, truncated to 64 characters.
    pub input: String,
}

impl UnknownForce {
    fn new(input: &str) -> Self {
        UnknownForce {
            input: excerpt(input),
        }
    }
}

impl ForceId {
    /// Every force, in table order (45 forces: 43 territorial, BTP, PSNI).
    pub fn all() -> impl ExactSizeIterator<Item = ForceId> + Clone {
        (0..FORCE_COUNT).map(ForceId)
    }

    /// The static description of this force.
    pub fn info(self) -> &'static Force {
        // A `ForceId` is only ever built from a valid index, so the fallback is unreachable; it
        // exists so that this function cannot panic.
        FORCES.get(usize::from(self.0)).unwrap_or(&FORCES[0])
    }

    /// The police.uk id, e.g. `"avon-and-somerset"`.
    pub fn as_str(self) -> &'static str {
        self.info().id
    }

    /// Finds a force by its exact police.uk id (ASCII case-insensitive, no trimming).
    pub fn from_id(id: &str) -> Result<ForceId, UnknownForce> {
        FORCES
            .iter()
            .position(|force| force.id.eq_ignore_ascii_case(id))
            .and_then(|index| u8::try_from(index).ok())
            .map(ForceId)
            .ok_or_else(|| UnknownForce::new(id))
    }

    /// Finds a force by its ONS GSS code (surrounding whitespace and case ignored). BTP and
    /// PSNI have none and are never returned.
    pub fn from_gss(code: &str) -> Result<ForceId, UnknownForce> {
        let wanted = code.trim();
        FORCES
            .iter()
            .position(|force| {
                force
                    .gss
                    .is_some_and(|gss| gss.eq_ignore_ascii_case(wanted))
            })
            .and_then(|index| u8::try_from(index).ok())
            .map(ForceId)
            .ok_or_else(|| UnknownForce::new(code))
    }

    /// Finds a force by any of its identifiers or names: police.uk id, GSS code, ONS name,
    /// police.uk display name or alias.
    ///
    /// Tolerant of case, surrounding and repeated whitespace, `&` versus `and`, hyphens,
    /// underscores and other punctuation versus spaces, a leading "The" and one trailing
    /// "Police", "Constabulary" or "Police Service". So "Devon & Cornwall Police",
    /// "avon-and-somerset", "E23000036", "london, city of" and "The Metropolitan Police
    /// Service" all resolve.
    pub fn lookup(name: &str) -> Result<ForceId, UnknownForce> {
        let key = normalise_force_name(name);
        if key.is_empty() {
            return Err(UnknownForce::new(name));
        }
        lookup_table()
            .get(&key)
            .copied()
            .ok_or_else(|| UnknownForce::new(name))
    }

    /// True when the force is one whose crimes count in the Home Office statistics of England
    /// and Wales (territorial forces and BTP); see [`Jurisdiction::in_home_office_statistics`].
    pub fn in_home_office_statistics(self) -> bool {
        self.info().jurisdiction.in_home_office_statistics()
    }
}

impl fmt::Debug for ForceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ForceId({})", self.as_str())
    }
}

impl fmt::Display for ForceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses the strict form, as [`ForceId::from_id`].
impl FromStr for ForceId {
    type Err = UnknownForce;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        ForceId::from_id(id)
    }
}

impl Serialize for ForceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ForceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ForceId::from_id(&id).map_err(serde::de::Error::custom)
    }
}

/// Folds a force name to the key [`ForceId::lookup`] compares.
fn normalise_force_name(name: &str) -> String {
    let spaced: String = name
        .to_lowercase()
        .replace('&', " and ")
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<&str> = spaced.split_whitespace().collect();
    if words.len() > 1 && words.first() == Some(&"the") {
        words.remove(0);
    }
    let suffix_len = if words.ends_with(&["police", "service"]) {
        2
    } else if words.ends_with(&["police"]) || words.ends_with(&["constabulary"]) {
        1
    } else {
        0
    };
    if suffix_len > 0 && words.len() > suffix_len {
        words.truncate(words.len() - suffix_len);
    }
    words.join(" ")
}

/// Every accepted spelling of every force, folded, built once.
fn lookup_table() -> &'static HashMap<String, ForceId> {
    static TABLE: OnceLock<HashMap<String, ForceId>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = HashMap::new();
        for force_id in ForceId::all() {
            for spelling in spellings(force_id.info()) {
                // First writer wins; a unit test asserts that no key is claimed by two forces.
                table
                    .entry(normalise_force_name(spelling))
                    .or_insert(force_id);
            }
        }
        table
    })
}

/// Every identifier and name of a force, unnormalised.
fn spellings(force: &'static Force) -> impl Iterator<Item = &'static str> {
    [force.id, force.ons_name, force.name]
        .into_iter()
        .chain(force.gss)
        .chain(force.aliases.iter().copied())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn table_has_43_territorial_forces_btp_and_psni() {
        let count = |jurisdiction| {
            Force::all()
                .iter()
                .filter(|force| force.jurisdiction == jurisdiction)
                .count()
        };
        assert_eq!(count(Jurisdiction::EnglandAndWales), 43);
        assert_eq!(count(Jurisdiction::BritishTransport), 1);
        assert_eq!(count(Jurisdiction::NorthernIreland), 1);
        assert_eq!(ForceId::all().len(), 45);
        for force in Force::all() {
            assert_eq!(
                force.gss.is_some(),
                force.jurisdiction == Jurisdiction::EnglandAndWales,
                "{}",
                force.id
            );
        }
    }

    #[test]
    fn gss_codes_are_the_ons_pfa_sequence() {
        let gss: Vec<&str> = Force::all().iter().filter_map(|force| force.gss).collect();
        let expected: Vec<String> = (1..=39)
            .map(|n| format!("E230000{n:02}"))
            .chain((1..=4).map(|n| format!("W1500000{n}")))
            .collect();
        assert_eq!(gss, expected);
    }

    #[test]
    fn regions_have_the_expected_number_of_forces() {
        let expected = [
            (Region::NorthEast, 3),
            (Region::NorthWest, 5),
            (Region::YorkshireAndTheHumber, 4),
            (Region::EastMidlands, 5),
            (Region::WestMidlands, 4),
            (Region::EastOfEngland, 6),
            (Region::London, 2),
            (Region::SouthEast, 5),
            (Region::SouthWest, 5),
            (Region::Wales, 4),
            (Region::National, 1),
            (Region::NorthernIreland, 1),
        ];
        for (region, forces) in expected {
            let actual = Force::all()
                .iter()
                .filter(|force| force.region == region)
                .count();
            assert_eq!(actual, forces, "{region}");
        }
        for force in Force::all() {
            let wales = force.gss.is_some_and(|gss| gss.starts_with('W'));
            assert_eq!(wales, force.region == Region::Wales, "{}", force.id);
        }
    }

    #[test]
    fn region_and_jurisdiction_serde_match_their_ids() {
        for region in Region::ALL {
            let json = serde_json::to_string(&region).expect("serialize");
            assert_eq!(json, format!("\"{}\"", region.as_str()));
            assert_eq!(serde_json::from_str::<Region>(&json).ok(), Some(region));
            assert!(!region.name().is_empty());
        }
        let json = serde_json::to_string(&Jurisdiction::EnglandAndWales).expect("serialize");
        assert_eq!(json, "\"england-and-wales\"");
    }

    #[test]
    fn ids_are_unique_lowercase_slugs() {
        let mut seen = HashSet::new();
        for force in Force::all() {
            assert!(seen.insert(force.id), "duplicate id {}", force.id);
            assert!(
                force.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                force.id
            );
        }
    }

    #[test]
    fn no_spelling_is_claimed_by_two_forces() {
        let mut owner: HashMap<String, &str> = HashMap::new();
        for force in Force::all() {
            for spelling in spellings(force) {
                let key = normalise_force_name(spelling);
                assert!(!key.is_empty(), "{spelling:?} folds to nothing");
                if let Some(previous) = owner.insert(key.clone(), force.id) {
                    assert_eq!(previous, force.id, "{key:?} is claimed by two forces");
                }
            }
        }
    }

    /// Every force, looked up by each of its identifiers, plain and in several mangled forms.
    #[test]
    fn every_force_round_trips_through_every_identifier() {
        for force_id in ForceId::all() {
            let force = force_id.info();
            assert_eq!(ForceId::from_id(force.id), Ok(force_id));
            assert_eq!(ForceId::from_id(&force.id.to_uppercase()), Ok(force_id));
            assert_eq!(force_id.as_str(), force.id);
            assert_eq!(force_id.to_string(), force.id);
            assert_eq!(force.id.parse::<ForceId>(), Ok(force_id));
            if let Some(gss) = force.gss {
                assert_eq!(ForceId::from_gss(gss), Ok(force_id));
                assert_eq!(ForceId::from_gss(&gss.to_lowercase()), Ok(force_id));
            }
            for spelling in spellings(force) {
                let variants = [
                    spelling.to_owned(),
                    spelling.to_uppercase(),
                    spelling.to_lowercase(),
                    format!("  {spelling}  "),
                    spelling.replace(' ', "   "),
                    spelling.replace(' ', "-"),
                    spelling.replace('&', "and"),
                    spelling.replace(" and ", " & "),
                    format!("The {spelling}"),
                ];
                // Adding "Police" is only tolerated once: "Kent Police Police" is not a name.
                let extra = (!spelling_has_suffix(spelling)).then(|| format!("{spelling} Police"));
                for variant in variants.into_iter().chain(extra) {
                    assert_eq!(
                        ForceId::lookup(&variant),
                        Ok(force_id),
                        "{variant:?} should resolve to {}",
                        force.id
                    );
                }
            }
        }
    }

    fn spelling_has_suffix(spelling: &str) -> bool {
        let lower = spelling.to_lowercase();
        lower.ends_with(" police")
            || lower.ends_with(" constabulary")
            || lower.ends_with(" service")
    }

    #[test]
    fn tolerant_spellings_resolve() {
        let cases = [
            ("City of London Police", "city-of-london"),
            ("london, city of", "city-of-london"),
            ("City of London", "city-of-london"),
            ("Devon & Cornwall Police", "devon-and-cornwall"),
            ("Devon and Cornwall Police", "devon-and-cornwall"),
            ("devon and cornwall constabulary", "devon-and-cornwall"),
            ("Avon and Somerset Constabulary", "avon-and-somerset"),
            ("Avon & Somerset Police", "avon-and-somerset"),
            ("avon-and-somerset", "avon-and-somerset"),
            ("AVON   AND  SOMERSET", "avon-and-somerset"),
            ("E23000036", "avon-and-somerset"),
            (" e23000036 ", "avon-and-somerset"),
            ("Hampshire and Isle of Wight Constabulary", "hampshire"),
            ("Hampshire & Isle of Wight Constabulary", "hampshire"),
            ("Leicestershire Constabulary", "leicestershire"),
            ("Metropolitan Police", "metropolitan"),
            ("The Metropolitan Police Service", "metropolitan"),
            ("British Transport Police", "btp"),
            ("british-transport-police", "btp"),
            ("Police Service of Northern Ireland", "northern-ireland"),
            ("Northern Ireland", "northern-ireland"),
            ("Dyfed Powys Police", "dyfed-powys"),
            ("dyfed_powys", "dyfed-powys"),
            ("Heddlu Gogledd Cymru", "north-wales"),
            ("W15000004", "dyfed-powys"),
            ("Greater Manchester Police", "greater-manchester"),
            ("Thames Valley Police Service", "thames-valley"),
        ];
        for (input, id) in cases {
            assert_eq!(
                ForceId::lookup(input).map(ForceId::as_str),
                Ok(id),
                "{input:?}"
            );
        }
    }

    #[test]
    fn unknown_inputs_are_rejected_with_the_input() {
        let rejected = [
            "",
            "   ",
            "Police",
            "Constabulary",
            "Police Scotland",
            "Action Fraud",
            "Avon",
            "Somerset",
            "West",
            "E23000040",
            "E23000000",
            "W15000005",
            "metropolitan police police",
            "cumbria-constabulary-x",
            "🚓",
        ];
        for input in rejected {
            let error = ForceId::lookup(input).expect_err(input);
            assert_eq!(error.input, input);
            assert!(error.to_string().contains("unknown police force"));
        }
        let long = "x".repeat(1000);
        assert!(ForceId::lookup(&long).expect_err("long").input.len() < 100);
    }

    #[test]
    fn strict_lookups_reject_names() {
        assert!(ForceId::from_id("Avon and Somerset Constabulary").is_err());
        assert!(ForceId::from_id(" avon-and-somerset").is_err());
        assert!(ForceId::from_id("E23000036").is_err());
        assert!(ForceId::from_gss("avon-and-somerset").is_err());
        assert!(ForceId::from_gss("").is_err());
    }

    #[test]
    fn serde_uses_the_id_and_rejects_names() {
        let force = ForceId::lookup("Kent Police").expect("kent");
        assert_eq!(
            serde_json::to_string(&force).expect("serialize"),
            r#""kent""#
        );
        assert_eq!(
            serde_json::from_str::<ForceId>(r#""kent""#).ok(),
            Some(force)
        );
        assert_eq!(
            serde_json::from_str::<ForceId>(r#""KENT""#).ok(),
            Some(force)
        );
        assert!(serde_json::from_str::<ForceId>(r#""Kent Police""#).is_err());
        assert!(serde_json::from_str::<ForceId>("3").is_err());
    }

    #[test]
    fn ordering_follows_the_table_and_jurisdiction_is_reported() {
        let ids: Vec<ForceId> = ForceId::all().collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        let psni = ForceId::from_id("northern-ireland").expect("psni");
        assert!(!psni.in_home_office_statistics());
        assert!(
            ForceId::from_id("btp")
                .expect("btp")
                .in_home_office_statistics()
        );
        assert_eq!(format!("{psni:?}"), "ForceId(northern-ireland)");
        assert_eq!(std::mem::size_of::<ForceId>(), 1);
    }
}

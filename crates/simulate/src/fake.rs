//! Private fields of force exports: victim names, addresses, streets and officer notes.
//!
//! They are obviously fake (surnames such as "Fakeley", towns such as "Fakebury", the `ZZ99`
//! pseudo-postcode) but shaped like the real thing, with commas and quotes in the notes, so that
//! adapters must parse around them and must not forward them. Each crime's values derive from
//! its private seed, so every version of a crime carries the same ones.

use crate::random::mix;

const FIRST_NAMES: [&str; 16] = [
    "Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie", "Grace", "Mia", "Jack", "Oliver",
    "Harry", "Charlie", "Jacob", "Thomas", "Lily", "Ella",
];

/// Surnames that no real victim has; tests search the outputs for them.
pub(crate) const SURNAMES: [&str; 12] = [
    "Fakeley",
    "Notreal",
    "Madeupson",
    "Placeholder",
    "Sampleton",
    "Examplewood",
    "Testbury",
    "Dummett",
    "Fictionshaw",
    "Pretendle",
    "Inventorson",
    "Mockridge",
];

const STREETS: [&str; 8] = [
    "Nowhere Lane",
    "Imaginary Road",
    "Fictional Close",
    "Pretend Street",
    "Sample Avenue",
    "Example Way",
    "Placeholder Drive",
    "Synthetic Crescent",
];

const TOWNS: [&str; 6] = [
    "Fakebury",
    "Testington",
    "Sampleford",
    "Nulltown",
    "Mockley",
    "Dummyhampton",
];

const CHILD_NOTES: [&str; 6] = [
    "Mother found messages on \"Snapchat\", reported via 101; suspect used the name \"Jay, 16\".",
    "Referred by school DSL: \"concerned about online contact\", devices seized, awaiting download.",
    "Contact via online game chat, moved to WhatsApp; images requested, {first} said \"he told me not to tell anyone\".",
    "Suspect's profile deleted, \"username changed twice\"; ABE interview with {first} booked, CEOP notified.",
    "Anonymous report to CEOP, forwarded; victim identified as {first}, parents informed, safeguarding in place.",
    "Chat logs handed over by an \"online hunter\" group, suspect arrested; {first} spoken to, no disclosure yet.",
];

const GENERAL_NOTES: [&str; 5] = [
    "Vehicle entered, items taken \"from the glovebox\"; no CCTV, house-to-house negative.",
    "Caller states \"they ran off towards the park\", suspects not known; area search negative.",
    "{first} received abusive messages online, \"repeatedly, over weeks\"; screenshots provided.",
    "Shop staff detained male, \"refused to give details\"; CCTV requested, statement taken.",
    "Damage to front door, estimate \"about £300\"; neighbour {first} a witness, statement pending.",
];

/// The private fields of one crime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Private {
    /// Victim name, e.g. "Grace Fakeley".
    pub(crate) name: String,
    /// Victim address, e.g. "12 Nowhere Lane, Fakebury, ZZ99 3WZ".
    pub(crate) address: String,
    /// Street of the crime location, police.uk style: "On or near Imaginary Road".
    pub(crate) street: String,
    /// Officer notes: free text with commas and quotes.
    pub(crate) notes: String,
}

fn pick<'a>(values: &[&'a str], draw: u64) -> &'a str {
    let index = usize::try_from(draw % values.len() as u64).unwrap_or(0);
    values.get(index).copied().unwrap_or("")
}

/// The private fields of the crime with this seed.
pub(crate) fn private(seed: u64, general: bool) -> Private {
    let draws: [u64; 8] = std::array::from_fn(|index| mix(seed ^ ((index as u64 + 1) << 56)));
    let first = pick(&FIRST_NAMES, draws[0]);
    let surname = pick(&SURNAMES, draws[1]);
    let house = draws[2] % 180 + 1;
    let letters = b"ABDEFGHJLNPQRSTUWXYZ";
    let letter = |draw: u64| char::from(letters[usize::try_from(draw % 20).unwrap_or(0)]);
    let postcode = format!(
        "ZZ99 {}{}{}",
        draws[3] % 10,
        letter(draws[3] >> 8),
        letter(draws[3] >> 16)
    );
    let notes = if general {
        pick(&GENERAL_NOTES, draws[6])
    } else {
        pick(&CHILD_NOTES, draws[6])
    };
    Private {
        name: format!("{first} {surname}"),
        address: format!(
            "{house} {}, {}, {postcode}",
            pick(&STREETS, draws[4]),
            pick(&TOWNS, draws[5])
        ),
        street: format!("On or near {}", pick(&STREETS, draws[7])),
        notes: notes.replace("{first}", first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_fields_are_stable_and_varied() {
        assert_eq!(private(42, false), private(42, false));
        let names: std::collections::BTreeSet<String> =
            (0..200).map(|seed| private(seed, false).name).collect();
        assert!(names.len() > 50);
        let sample = private(7, false);
        assert!(sample.address.contains("ZZ99 "));
        assert!(
            SURNAMES
                .iter()
                .any(|surname| sample.name.ends_with(surname))
        );
        assert!(!private(9, true).notes.contains("{first}"));
    }
}

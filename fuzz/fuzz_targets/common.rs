//! What every dialect target shares: a context for a force, with a profile's mapping.

use adapters::dialect::{Context, Row, read};
use adapters::profile::Profile;
use model::ForceId;
use wire::{Dialect, Pseudonymiser, Secret};

/// Reads `data` in `dialect` (with the mapping of `profile`, a file under deploy/forces/),
/// checking the invariants every reader keeps: line numbers never go back and it never panics.
pub fn read_all(data: &[u8], force: &str, dialect: Dialect, profile: Option<&str>) {
    let force = ForceId::from_id(force).expect("a known force");
    let pseudonymiser = Pseudonymiser::new(force.as_str(), Secret::from_bytes([7; 32]));
    let profile = profile.map(|name| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/forces")
            .join(name);
        Profile::load(&path).expect("a shipped profile")
    });
    let mapping = profile.as_ref().and_then(|p| p.mapping.as_ref());
    let context = Context {
        force,
        dialect,
        mapping,
        pseudonymiser: &pseudonymiser,
    };
    let mut last = 0;
    let _ = read(context, data, &mut |row: Row| {
        // Lines never go back. (Records separated by a lone CR share a line number: the CSV
        // reader counts line feeds; found by this target, harmless to the data.)
        assert!(row.line >= last, "rows are numbered in order");
        last = row.line;
        true
    });
}

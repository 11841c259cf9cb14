//! Small string helpers shared by the parsers: bounded echoes of bad input and name normalisation.

/// The longest prefix of a rejected input that an error message repeats, in characters.
///
/// Error messages become dead-letter headers and log fields, so a megabyte of garbage in a field
/// must not be copied into them whole.
pub(crate) const EXCERPT_CHARS: usize = 64;

/// Returns `input` unchanged when it is short, otherwise its first [`EXCERPT_CHARS`] characters
/// followed by an ellipsis. Never splits a character.
pub(crate) fn excerpt(input: &str) -> String {
    excerpt_with(input, EXCERPT_CHARS)
}

/// As [`excerpt`], with a chosen maximum number of characters.
pub(crate) fn excerpt_with(input: &str, max_chars: usize) -> String {
    match input.char_indices().nth(max_chars) {
        None => input.to_owned(),
        Some((cut, _)) => {
            let mut short = input.get(..cut).unwrap_or_default().to_owned();
            short.push('…');
            short
        }
    }
}

/// Lowercases `input`, turns hyphens and underscores into spaces, trims it and collapses runs of
/// whitespace to one space. Used to compare enum names and slugs tolerant of spelling.
pub(crate) fn fold(input: &str) -> String {
    let lowered = input.to_lowercase().replace(['-', '_'], " ");
    lowered.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_keeps_short_input_and_truncates_long_input_on_char_boundaries() {
        assert_eq!(excerpt("abc"), "abc");
        let long = "é".repeat(100);
        let short = excerpt(&long);
        assert_eq!(short.chars().count(), EXCERPT_CHARS + 1);
        assert!(short.ends_with('…'));
        assert_eq!(
            excerpt(&"x".repeat(EXCERPT_CHARS)),
            "x".repeat(EXCERPT_CHARS)
        );
    }

    #[test]
    fn fold_normalises_case_separators_and_spaces() {
        assert_eq!(fold("  Anti-social   Behaviour "), "anti social behaviour");
        assert_eq!(fold("no_further-action"), "no further action");
        assert_eq!(fold(""), "");
    }
}

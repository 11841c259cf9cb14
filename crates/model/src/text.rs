//! Small string helpers shared by the parsers: bounded echoes of bad input, name normalisation,
//! and the one escaping function every command uses before it prints outside data.

use std::borrow::Cow;

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

/// Whether `c` must not reach a terminal as itself: C0 and C1 control characters (escape
/// sequences, bell, backspace, carriage return, NUL, the 8-bit CSI U+009B) and the invisible
/// formatting characters that reorder or hide text (bidirectional embeddings, overrides and
/// isolates such as U+202E, zero-width characters, the byte-order mark, Unicode tag characters).
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

/// Writes `c` escaped: `\t`, `\n`, `\r`, otherwise `\uXXXX` (a surrogate pair beyond the
/// basic plane), so the escape is also valid inside a JSON string.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        _ => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
}

fn escape_where(text: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Outside data (a dead-letter header, a file name, a value from a force's export, a server's
/// error text) made safe to print as one field: every control and invisible formatting
/// character, tab and newline included, is written as an escape (`\u001b`, `\t`, `\u202e`),
/// so nothing printed can move the cursor, recolour or retitle a terminal, reorder a line, or
/// start a forged line or column. Printable text, backslashes included, is unchanged: the
/// result is for people, not a reversible encoding.
pub fn printable(text: &str) -> Cow<'_, str> {
    escape_where(text, must_escape)
}

/// [`printable`] for bytes that may not be UTF-8: invalid sequences become U+FFFD.
pub fn printable_bytes(bytes: &[u8]) -> String {
    printable(&String::from_utf8_lossy(bytes)).into_owned()
}

/// [`printable`] for a whole block of output that was laid out with tabs and newlines: those
/// two stay, every other control or invisible formatting character is escaped. The last line
/// of defence for everything a command prints; fields of outside data still go through
/// [`printable`] so that they cannot add lines or columns.
pub fn printable_layout(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c != '\t' && c != '\n' && must_escape(c))
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

    /// Hostile strings and what a terminal gets instead.
    #[test]
    fn printable_defuses_every_terminal_control() {
        let cases: &[(&str, &str)] = &[
            ("plain text, é ✓ 日本", "plain text, é ✓ 日本"),
            ("\u{1b}[31mred\u{1b}[0m", "\\u001b[31mred\\u001b[0m"),
            // Clear screen and move the cursor home.
            ("\u{1b}[2J\u{1b}[H", "\\u001b[2J\\u001b[H"),
            // OSC: retitle the window, ended by BEL; an OSC 8 hyperlink ended by ST.
            ("\u{1b}]0;pwned\u{7}", "\\u001b]0;pwned\\u0007"),
            (
                "\u{1b}]8;;http://evil\u{1b}\\click\u{1b}]8;;\u{1b}\\",
                "\\u001b]8;;http://evil\\u001b\\click\\u001b]8;;\\u001b\\",
            ),
            ("ring\u{7}", "ring\\u0007"),
            // A carriage return overwrites the line; a backspace erases.
            ("bad-signature\rok", "bad-signature\\rok"),
            ("abc\u{8}\u{8}\u{8}xyz", "abc\\u0008\\u0008\\u0008xyz"),
            // A newline or tab would forge a row or a column.
            ("a\nb\tc", "a\\nb\\tc"),
            ("nul\0byte", "nul\\u0000byte"),
            ("del\u{7f}", "del\\u007f"),
            // The 8-bit CSI of C1.
            ("\u{9b}31m", "\\u009b31m"),
            // Right-to-left override makes "exe.txt" read "txt.exe"; isolates, zero-width.
            ("invoice\u{202e}txt.exe", "invoice\\u202etxt.exe"),
            ("\u{2067}x\u{2069}", "\\u2067x\\u2069"),
            ("zero\u{200b}width\u{feff}", "zero\\u200bwidth\\ufeff"),
            ("line\u{2028}sep", "line\\u2028sep"),
            // Invisible tag characters, beyond the basic plane: a surrogate pair.
            ("tag\u{e0041}", "tag\\udb40\\udc41"),
            // Backslashes and look-alike escapes are printable and stay.
            ("C:\\x \\u001b", "C:\\x \\u001b"),
        ];
        for (hostile, shown) in cases {
            assert_eq!(printable(hostile), *shown, "{hostile:?}");
            assert!(
                !printable(hostile).chars().any(must_escape),
                "{hostile:?} still carries a control character"
            );
        }
        assert!(matches!(printable("calm"), Cow::Borrowed("calm")));
    }

    #[test]
    fn printable_bytes_replaces_invalid_utf8() {
        assert_eq!(
            printable_bytes(b"ok\xff\xfe\x1b[1m"),
            "ok\u{fffd}\u{fffd}\\u001b[1m"
        );
        assert_eq!(printable_bytes(b"\xc3\xa9"), "é");
        // A C1 control encoded in UTF-8 is escaped; a lone 0x9b byte is not UTF-8 at all.
        assert_eq!(printable_bytes(b"\xc2\x9b"), "\\u009b");
        assert_eq!(printable_bytes(b"\x9b"), "\u{fffd}");
    }

    #[test]
    fn printable_layout_keeps_tabs_and_newlines_only() {
        assert_eq!(
            printable_layout("a\tb\nc\u{1b}[2J\rd\u{202e}"),
            "a\tb\nc\\u001b[2J\\rd\\u202e"
        );
        // Escapes are valid inside JSON strings, so a JSON document stays JSON.
        let json = serde_json::json!({ "detail": "x\u{202e}y\u{1b}" }).to_string();
        let shown = printable_layout(&json);
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back["detail"], "x\u{202e}y\u{1b}");
    }
}

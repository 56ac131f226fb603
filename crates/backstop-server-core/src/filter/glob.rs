//! Case-insensitive globs with `*` (any run of characters, `/` included) and `?` (one
//! character), for the release and error-message filters.
//!
//! Hand-written rather than `globset`: globset compiles to the `regex` crate, and path-style
//! globs treat `/` specially and know `[...]` and `{a,b}`, none of which a message pattern
//! wants. Two wildcards need a dozen lines.

/// Text past this many characters is not looked at: a pattern is matched against the start of a
/// very long message, so a hostile 1 MB message costs the same as a 10 000-character one.
pub const MAX_MATCH_CHARS: usize = 10_000;

/// A pattern lowered once, matched many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(Vec<char>);

impl Glob {
    /// Compiles `pattern` (lowercased; no other syntax than `*` and `?`).
    pub fn new(pattern: &str) -> Self {
        Glob(lower_chars(pattern, usize::MAX))
    }

    /// Whether the whole of `text` (its first [`MAX_MATCH_CHARS`]) matches, ignoring case.
    pub fn is_match(&self, text: &str) -> bool {
        matches(&self.0, &lower_chars(text, MAX_MATCH_CHARS))
    }

    /// Like [`Glob::is_match`] for text already lowered with [`lower_chars`], so one message can be
    /// tried against many patterns without lowering it again.
    pub fn is_match_lowered(&self, text: &[char]) -> bool {
        matches(&self.0, text)
    }
}

/// The characters of `s`, lowercased, at most `limit` of them (counted before lowering).
pub fn lower_chars(s: &str, limit: usize) -> Vec<char> {
    s.chars().take(limit).flat_map(char::to_lowercase).collect()
}

/// The classic two-cursor wildcard match: on a mismatch, go back to just after the last `*`
/// and let it swallow one more character. Time is at most pattern × text, linear in practice,
/// and there is no recursion.
fn matches(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // Position of the last `*` seen in the pattern, and where in the text it began matching.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_with_star_and_question_mark_ignoring_case() {
        let cases: &[(&str, &str, bool, &str)] = &[
            ("", "", true, "empty matches empty"),
            ("", "a", false, "empty pattern matches nothing else"),
            ("*", "", true, "star matches empty"),
            ("*", "anything at all", true, "star matches everything"),
            ("abc", "ABC", true, "case is ignored"),
            ("ABC", "abc", true, "case is ignored in the pattern too"),
            ("abc", "abcd", false, "the whole text must match"),
            ("abc", "xabc", false, "anchored at the start"),
            ("a?c", "abc", true, "? is one character"),
            ("a?c", "ac", false, "? is exactly one character"),
            ("a?c", "aéc", true, "? is one character, not one byte"),
            ("1.*", "1.2.3", true, "prefix"),
            ("1.*", "11.2", false, "prefix is anchored"),
            ("*-beta", "2.0.0-beta", true, "suffix"),
            ("*-beta", "2.0.0-beta.1", false, "suffix is anchored"),
            (
                "*chunk*failed*",
                "Loading chunk 5 failed.",
                true,
                "several stars",
            ),
            ("*/*", "a/b", true, "star crosses slashes"),
            ("a*b*c", "a b b c c", true, "backtracks to the last star"),
            ("a*b*c", "a c b", false, "order matters"),
            ("**", "x", true, "double star is one star"),
            ("[abc]", "[abc]", true, "brackets are literal"),
            ("[abc]", "a", false, "brackets are not a class"),
            ("{a,b}", "a", false, "braces are not alternatives"),
            (
                "ÄRGER*",
                "ärger im paradies",
                true,
                "non-ASCII case folding",
            ),
        ];
        for &(pattern, text, want, why) in cases {
            assert_eq!(
                Glob::new(pattern).is_match(text),
                want,
                "{why}: {pattern:?} vs {text:?}"
            );
        }
    }

    #[test]
    fn long_text_is_matched_on_its_start() {
        let text = format!("{}tail", "x".repeat(MAX_MATCH_CHARS));
        assert!(Glob::new("x*").is_match(&text), "the start still matches");
        assert!(
            !Glob::new("*tail").is_match(&text),
            "the tail is past the limit"
        );
    }

    #[test]
    fn adversarial_input_finishes() {
        let text = "a".repeat(MAX_MATCH_CHARS);
        let pattern = format!("{}b", "*a".repeat(100));
        assert!(!Glob::new(&pattern).is_match(&text), "no b in the text");
    }
}

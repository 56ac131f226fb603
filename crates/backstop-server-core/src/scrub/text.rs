//! Scanners for secrets inside strings: PEM private keys, URL credentials, bearer tokens, IBANs,
//! card numbers, home directory paths.
//!
//! Hand-written rather than the `regex` crate: the worker ships as wasm and every crate is bytes
//! in its bundle (regex with its Unicode tables adds a few hundred KB), and each of these patterns
//! is a short linear scan over ASCII delimiters. The card and IBAN rules need a checksum after
//! the match anyway, which a regex cannot express. Every scanner works on bytes and only cuts at
//! ASCII characters, so the result is always valid UTF-8.
//!
//! Each scanner returns `None` when it changed nothing and is idempotent on its own output:
//! what it writes (`[Filtered]`, `[user]`) starts with `[`, which ends or breaks every match.

use std::borrow::Cow;

use super::{FILTERED, USER_PLACEHOLDER};

/// A scanner: the new text, or `None` when it matched nothing.
type Scan = fn(&str) -> Option<String>;

/// The scanners in the order they run. URL credentials and bearer tokens run before the digit
/// rules so a token made of digits is reported as the token; IBANs run before cards because an
/// IBAN's digits can contain a Luhn-valid run.
const SCANNERS: &[(&str, Scan)] = &[
    ("pem_key", pem_key),
    ("url_credentials", url_credentials),
    ("bearer", bearer),
    ("iban", iban),
    ("credit_card", credit_card),
    ("home_path", home_path),
];

/// Runs every scanner over `s`; pushes the name of each rule that changed something onto
/// `fired` and returns the new text, or `None` when nothing matched.
pub(crate) fn scrub_text(s: &str, fired: &mut Vec<&'static str>) -> Option<String> {
    let mut cur = Cow::Borrowed(s);
    for (rule, scan) in SCANNERS {
        if let Some(next) = scan(&cur) {
            fired.push(rule);
            cur = Cow::Owned(next);
        }
    }
    match cur {
        Cow::Owned(s) => Some(s),
        Cow::Borrowed(_) => None,
    }
}

/// Builds a new string from `s` with the byte ranges in `cuts` (sorted, disjoint, on ASCII
/// boundaries) replaced by `with`.
fn splice(s: &str, cuts: &[(usize, usize)], with: &str) -> Option<String> {
    if cuts.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for &(start, end) in cuts {
        out.push_str(s.get(at..start)?);
        out.push_str(with);
        at = end;
    }
    out.push_str(s.get(at..)?);
    Some(out)
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// `-----BEGIN … PRIVATE KEY-----` blocks (RSA, EC, OPENSSH, ENCRYPTED, PKCS#8): the body between
/// the markers becomes `\n[Filtered]\n`, the markers stay so a reader sees what was there. A
/// block cut short (no END marker) is filtered to the end of the string. Public keys and
/// certificates are not secrets and stay.
fn pem_key(s: &str) -> Option<String> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    let body = format!("\n{FILTERED}\n");
    let mut cuts = Vec::new();
    let mut from = 0;
    while let Some(found) = s.get(from..).and_then(|r| r.find(BEGIN)) {
        let label_start = from + found + BEGIN.len();
        let Some(label_len) = s[label_start..].find(DASHES) else {
            break;
        };
        let label = &s[label_start..label_start + label_len];
        let body_start = label_start + label_len + DASHES.len();
        from = body_start;
        let is_label =
            label.len() <= 64 && label.bytes().all(|b| b.is_ascii_uppercase() || b == b' ');
        if !is_label || !label.ends_with("PRIVATE KEY") {
            continue;
        }
        let body_end = s[body_start..]
            .find("-----END ")
            .map_or(s.len(), |e| body_start + e);
        if s[body_start..body_end].trim() != FILTERED {
            cuts.push((body_start, body_end));
        }
        from = body_end;
    }
    splice(s, &cuts, &body)
}

/// `scheme://userinfo@host` → `scheme://[Filtered]@host`: the whole userinfo (a user name alone
/// is often a token, as in `https://ghp_…@github.com`), keeping scheme, host and path.
fn url_credentials(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut cuts = Vec::new();
    let mut from = 0;
    while let Some(found) = s.get(from..).and_then(|r| r.find("://")) {
        let sep = from + found;
        from = sep + 3;
        let scheme_start = b[..sep]
            .iter()
            .rposition(|&c| !(is_alnum(c) || matches!(c, b'+' | b'.' | b'-')))
            .map_or(0, |p| p + 1);
        if scheme_start == sep || !b[scheme_start].is_ascii_alphabetic() {
            continue;
        }
        let auth_start = sep + 3;
        let auth_end = b[auth_start..]
            .iter()
            .position(|&c| {
                c.is_ascii_whitespace()
                    || matches!(
                        c,
                        b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'\\' | b'`'
                    )
            })
            .map_or(b.len(), |p| auth_start + p);
        let Some(at) = b[auth_start..auth_end].iter().rposition(|&c| c == b'@') else {
            continue;
        };
        let userinfo_end = auth_start + at;
        if userinfo_end > auth_start && &s[auth_start..userinfo_end] != FILTERED {
            cuts.push((auth_start, userinfo_end));
        }
        from = auth_end;
    }
    splice(s, &cuts, FILTERED)
}

/// Shortest token after `Bearer` that is filtered: `bearer` is also an English word ("the bearer
/// of this card"), and real tokens are long.
const MIN_BEARER_TOKEN: usize = 8;

/// `Bearer <token>` (any case, after a word boundary, one or more whitespace characters): the
/// token, a run of RFC 6750 `b64token` characters of at least [`MIN_BEARER_TOKEN`], becomes
/// `[Filtered]`; the word `Bearer` stays.
fn bearer(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut cuts = Vec::new();
    let mut i = 0;
    while i + 6 <= b.len() {
        let word = b[i..i + 6].eq_ignore_ascii_case(b"bearer");
        if !word || (i > 0 && is_alnum(b[i - 1])) {
            i += 1;
            continue;
        }
        let mut j = i + 6;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let start = j;
        while j < b.len()
            && (is_alnum(b[j]) || matches!(b[j], b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'='))
        {
            j += 1;
        }
        if start > i + 6 && j - start >= MIN_BEARER_TOKEN {
            cuts.push((start, j));
        }
        i = j.max(i + 1);
    }
    splice(s, &cuts, FILTERED)
}

/// IBAN length per country (ISO 13616 registry). A country code that is not here is no IBAN.
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// IBANs, electronic (`DE89370400440532013000`) or printed in groups of four
/// (`DE89 3704 0044 0532 0130 00`): a known country code after a word boundary, two check
/// digits, the country's exact length of digits and capitals, a word boundary after, and the
/// ISO 7064 mod-97 check. The whole IBAN becomes `[Filtered]`.
fn iban(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut cuts = Vec::new();
    let mut i = 0;
    while i + 1 < b.len() {
        let starts = b[i].is_ascii_uppercase()
            && b[i + 1].is_ascii_uppercase()
            && (i == 0 || !is_alnum(b[i - 1]));
        let len = starts
            .then(|| IBAN_LENGTHS.iter().find(|(cc, _)| cc[..] == b[i..i + 2]))
            .flatten()
            .map(|(_, len)| *len);
        let Some(len) = len else {
            i += 1;
            continue;
        };
        let mut chars = Vec::with_capacity(len);
        let mut pos = i;
        while chars.len() < len && pos < b.len() {
            let c = b[pos];
            if c.is_ascii_digit() || c.is_ascii_uppercase() {
                chars.push(c);
                pos += 1;
            } else if c == b' '
                && chars.len().is_multiple_of(4)
                && b.get(pos + 1).is_some_and(|&n| is_alnum(n))
            {
                pos += 1;
            } else {
                break;
            }
        }
        let bounded = pos == b.len() || !is_alnum(b[pos]);
        if chars.len() == len
            && bounded
            && chars[2..4].iter().all(u8::is_ascii_digit)
            && iban_checks(&chars)
        {
            cuts.push((i, pos));
            i = pos;
        } else {
            i += 1;
        }
    }
    splice(s, &cuts, FILTERED)
}

/// ISO 7064 mod 97-10: the first four characters moved to the end, letters as 10–35, the number
/// mod 97 is 1.
fn iban_checks(chars: &[u8]) -> bool {
    let (head, tail) = chars.split_at(4.min(chars.len()));
    let mut rem = 0u32;
    for &c in tail.iter().chain(head) {
        rem = if c.is_ascii_digit() {
            (rem * 10 + u32::from(c - b'0')) % 97
        } else {
            (rem * 100 + u32::from(c - b'A') + 10) % 97
        };
    }
    rem == 1
}

/// Whether a run of digits is a card number: 13–19 digits, a first digit of 2–6 (the ranges
/// Mastercard, Amex, Diners, JCB, Visa, Maestro, Discover and UnionPay issue from; a number
/// starting with 1 is far more often a millisecond timestamp), and the Luhn checksum.
pub(crate) fn is_card_number(digits: &[u8]) -> bool {
    (13..=19).contains(&digits.len())
        && matches!(digits.first(), Some(b'2'..=b'6'))
        && digits.iter().all(u8::is_ascii_digit)
        && luhn(digits)
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Card numbers in text: a run of digit groups joined by single spaces or dashes
/// (`4111 1111 1111 1111`, `4111-1111-1111-1111`, `4111111111111111`). Any span of whole groups
/// in the run that [`is_card_number`] becomes `[Filtered]` (the longest from the leftmost group
/// first), so a card written after another number (`qty 2 4111 1111 1111 1111`) is still found.
/// A run touching a letter or digit-dot-digit (`v4111…`, `0.4111…`) is another kind of token at
/// that edge: a span may not include that edge's group.
fn credit_card(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.iter().filter(|c| c.is_ascii_digit()).count() < 13 {
        return None;
    }
    let mut cuts = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut groups = Vec::new();
        let mut pos = i;
        loop {
            let group_start = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                pos += 1;
            }
            groups.push((group_start, pos));
            let joined =
                pos + 1 < b.len() && matches!(b[pos], b' ' | b'-') && b[pos + 1].is_ascii_digit();
            if !joined {
                break;
            }
            pos += 1;
        }
        let lead_ok = !edge_taken(b, start.checked_sub(1), start.checked_sub(2));
        let trail_ok = !edge_taken(b, Some(pos), Some(pos + 1));
        let mut g = 0;
        while g < groups.len() {
            if g == 0 && !lead_ok {
                g += 1;
                continue;
            }
            let mut digits = Vec::with_capacity(19);
            let mut best = None;
            for (k, &(gs, ge)) in groups.iter().enumerate().skip(g) {
                digits.extend_from_slice(&b[gs..ge]);
                if digits.len() > 19 || (k == groups.len() - 1 && !trail_ok) {
                    break;
                }
                if is_card_number(&digits) {
                    best = Some(k);
                }
            }
            match best {
                Some(k) => {
                    cuts.push((groups[g].0, groups[k].1));
                    g = k + 1;
                }
                None => g += 1,
            }
        }
        i = pos;
    }
    splice(s, &cuts, FILTERED)
}

/// Whether the character at `at` (just outside a digit run) makes the run part of a larger
/// token: a letter or digit, or a `.` with a digit behind it (a decimal number).
fn edge_taken(b: &[u8], at: Option<usize>, beyond: Option<usize>) -> bool {
    let byte = |p: Option<usize>| p.and_then(|p| b.get(p).copied());
    match byte(at) {
        Some(c) if is_alnum(c) => true,
        Some(b'.') => byte(beyond).is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// Characters that end a user name in a Unix path (`/home/alice/…`, `/Users/alice …`).
fn ends_unix_name(c: u8) -> bool {
    c.is_ascii_whitespace() || b"/\\&=?#\"'`:;,<>|()[]{}\0".contains(&c)
}

/// Characters that end a user name in a Windows path. Windows user names may contain spaces
/// (`C:\Users\Jane Doe\…`), so only separators, line ends and quotes end one.
fn ends_windows_name(c: u8) -> bool {
    b"/\\\r\n\"'`[]<>|\0".contains(&c)
}

/// Home directory paths: the user name in `/home/<name>`, `/Users/<name>` and
/// `X:\Users\<name>` (any drive, `\` or `/`, one or more separators as in escaped
/// `C:\\Users\\…`, `users` in any case) becomes `[user]`. The Unix forms need a boundary before
/// the `/` that is not a letter, digit or `._-~%`, so URL paths such as `https://x.io/home/feed`
/// and `/var/home/x` stay; the case of `home` and `Users` must match the real directories, so
/// `/users/42` in a URL stays too.
fn home_path(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut cuts = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let boundary = |p: usize| {
            p == 0 || {
                let c = b[p - 1];
                !(is_alnum(c) || matches!(c, b'.' | b'_' | b'-' | b'~' | b'%'))
            }
        };
        let name = if b[i] == b'/' && boundary(i) {
            let rest = &b[i..];
            let skip = if rest.starts_with(b"/home/") {
                Some(6)
            } else if rest.starts_with(b"/Users/") {
                Some(7)
            } else {
                None
            };
            skip.map(|n| (i + n, ends_unix_name as fn(u8) -> bool))
        } else if b[i].is_ascii_alphabetic()
            && (i == 0 || !is_alnum(b[i - 1]))
            && b.get(i + 1) == Some(&b':')
        {
            windows_users(b, i + 2).map(|p| (p, ends_windows_name as fn(u8) -> bool))
        } else {
            None
        };
        let Some((name_start, ends)) = name else {
            i += 1;
            continue;
        };
        let name_end = b[name_start..]
            .iter()
            .position(|&c| ends(c))
            .map_or(b.len(), |p| name_start + p);
        if name_end > name_start {
            cuts.push((name_start, name_end));
        }
        i = name_end.max(i + 1);
    }
    splice(s, &cuts, USER_PLACEHOLDER)
}

/// After `X:` at `at`: separators, `users` (any case), separators; the position of the name.
fn windows_users(b: &[u8], at: usize) -> Option<usize> {
    let is_sep = |c: &u8| matches!(c, b'\\' | b'/');
    let seps = b.get(at..)?.iter().take_while(|c| is_sep(c)).count();
    let word = at + seps;
    if seps == 0 || !b.get(word..word + 5)?.eq_ignore_ascii_case(b"users") {
        return None;
    }
    let after = word + 5;
    let seps = b.get(after..)?.iter().take_while(|c| is_sep(c)).count();
    (seps > 0).then_some(after + seps)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs one scanner over each case: (input, expected output, why).
    fn table(scan: fn(&str) -> Option<String>, cases: &[(&str, &str, &str)]) {
        for (input, want, why) in cases {
            let got = scan(input).unwrap_or_else(|| input.to_string());
            assert_eq!(got, *want, "{why}: {input:?}");
            assert_eq!(
                scan(&got),
                None,
                "{why}: scanning the output again changes nothing"
            );
        }
    }

    #[test]
    fn pem_private_keys_lose_their_body() {
        table(
            pem_key,
            &[
                (
                    "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY----- done",
                    "key: -----BEGIN RSA PRIVATE KEY-----\n[Filtered]\n-----END RSA PRIVATE KEY----- done",
                    "rsa block",
                ),
                (
                    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIJjj\n-----END ENCRYPTED PRIVATE KEY-----",
                    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n[Filtered]\n-----END ENCRYPTED PRIVATE KEY-----",
                    "encrypted pkcs8",
                ),
                (
                    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNz",
                    "-----BEGIN OPENSSH PRIVATE KEY-----\n[Filtered]\n",
                    "cut short: filtered to the end",
                ),
                (
                    "-----BEGIN PUBLIC KEY-----\nMIIBIj\n-----END PUBLIC KEY-----",
                    "-----BEGIN PUBLIC KEY-----\nMIIBIj\n-----END PUBLIC KEY-----",
                    "public keys are not secrets",
                ),
                (
                    "-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----",
                    "-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----",
                    "certificates are not secrets",
                ),
                ("-----BEGIN ", "-----BEGIN ", "a marker alone"),
            ],
        );
    }

    #[test]
    fn url_credentials_are_filtered_keeping_the_host() {
        table(
            url_credentials,
            &[
                (
                    "https://user:pass@host/x",
                    "https://[Filtered]@host/x",
                    "user and password",
                ),
                (
                    "postgres://app:s3cr3t@db.internal:5432/app",
                    "postgres://[Filtered]@db.internal:5432/app",
                    "database url",
                ),
                (
                    "clone https://ghp_abc123@github.com/o/r failed",
                    "clone https://[Filtered]@github.com/o/r failed",
                    "token as user name",
                ),
                (
                    "https://host/path?x=a@b",
                    "https://host/path?x=a@b",
                    "an @ after the host is not userinfo",
                ),
                (
                    "https://example.com and mail bob@example.com",
                    "https://example.com and mail bob@example.com",
                    "an email after the url",
                ),
                (
                    "mailto:bob@example.com",
                    "mailto:bob@example.com",
                    "no authority",
                ),
                ("://user:pass@host", "://user:pass@host", "no scheme"),
            ],
        );
    }

    #[test]
    fn bearer_tokens_are_filtered() {
        table(
            bearer,
            &[
                (
                    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc",
                    "Authorization: Bearer [Filtered]",
                    "jwt",
                ),
                (
                    "bearer   abcdefgh1234 then",
                    "bearer   [Filtered] then",
                    "any case, several spaces",
                ),
                (
                    "\"Bearer abc/def+ghi==\"",
                    "\"Bearer [Filtered]\"",
                    "b64token characters",
                ),
                (
                    "the bearer of this card",
                    "the bearer of this card",
                    "an English word after bearer",
                ),
                ("Bearer abc", "Bearer abc", "too short to be a token"),
                (
                    "nonbearer abcdefghijk",
                    "nonbearer abcdefghijk",
                    "not at a word boundary",
                ),
                ("Bearer", "Bearer", "nothing after it"),
            ],
        );
    }

    #[test]
    fn ibans_need_their_check_digits() {
        table(
            iban,
            &[
                (
                    "pay to DE89370400440532013000 today",
                    "pay to [Filtered] today",
                    "german, electronic",
                ),
                (
                    "DE89 3704 0044 0532 0130 00",
                    "[Filtered]",
                    "german, printed",
                ),
                (
                    "GB82 WEST 1234 5698 7654 32.",
                    "[Filtered].",
                    "british with letters",
                ),
                ("NO9386011117947", "[Filtered]", "shortest (norway)"),
                (
                    "DE88370400440532013000",
                    "DE88370400440532013000",
                    "wrong check digits",
                ),
                (
                    "XX89370400440532013000",
                    "XX89370400440532013000",
                    "unknown country",
                ),
                (
                    "ADE89370400440532013000",
                    "ADE89370400440532013000",
                    "no boundary before",
                ),
                (
                    "DE8937040044053201300012",
                    "DE8937040044053201300012",
                    "too long",
                ),
                ("ORDER-2024-000123", "ORDER-2024-000123", "an order id"),
            ],
        );
    }

    #[test]
    fn card_numbers_need_luhn() {
        table(
            credit_card,
            &[
                (
                    "card 4111111111111111 declined",
                    "card [Filtered] declined",
                    "visa",
                ),
                ("4111 1111 1111 1111", "[Filtered]", "visa with spaces"),
                (
                    "5555-5555-5555-4444",
                    "[Filtered]",
                    "mastercard with dashes",
                ),
                (
                    "amex 378282246310005.",
                    "amex [Filtered].",
                    "amex, 15 digits",
                ),
                (
                    "qty 2 4111 1111 1111 1111",
                    "qty 2 [Filtered]",
                    "after another number",
                ),
                (
                    "4111111111111112",
                    "4111111111111112",
                    "16 digits failing luhn",
                ),
                (
                    "order 4111111111111110 shipped",
                    "order 4111111111111110 shipped",
                    "an order id failing luhn",
                ),
                (
                    "ts 1700000000000000",
                    "ts 1700000000000000",
                    "starts with 1: a timestamp",
                ),
                (
                    "v4111111111111111",
                    "v4111111111111111",
                    "glued to a letter",
                ),
                (
                    "0.4111111111111111",
                    "0.4111111111111111",
                    "the decimals of a number",
                ),
                (
                    "4111111111111111111111",
                    "4111111111111111111111",
                    "too long",
                ),
                ("411111111111", "411111111111", "too short"),
            ],
        );
    }

    #[test]
    fn home_directories_lose_the_user_name() {
        table(
            home_path,
            &[
                (
                    "at /home/alice/app/main.py line 3",
                    "at /home/[user]/app/main.py line 3",
                    "linux",
                ),
                ("/Users/bob/Library/x", "/Users/[user]/Library/x", "macos"),
                (
                    "C:\\Users\\alice\\AppData\\x.dll",
                    "C:\\Users\\[user]\\AppData\\x.dll",
                    "windows",
                ),
                (
                    "C:\\Users\\Jane Doe\\x",
                    "C:\\Users\\[user]\\x",
                    "windows name with a space",
                ),
                (
                    "D:/users/carol/x",
                    "D:/users/[user]/x",
                    "windows, forward slashes",
                ),
                (
                    "C:\\\\Users\\\\dave\\\\x",
                    "C:\\\\Users\\\\[user]\\\\x",
                    "escaped backslashes",
                ),
                (
                    "file:///home/erin/a.txt",
                    "file:///home/[user]/a.txt",
                    "file url",
                ),
                ("cd /home/frank", "cd /home/[user]", "at the end"),
                (
                    "https://x.io/home/feed",
                    "https://x.io/home/feed",
                    "a url path after a host",
                ),
                (
                    "https://x.io/users/42",
                    "https://x.io/users/42",
                    "lowercase users in a url",
                ),
                ("/var/home/x", "/var/home/x", "not a home root"),
                ("/home/", "/home/", "no name"),
            ],
        );
    }

    #[test]
    fn scanners_combine_and_name_their_rules() {
        let mut fired = Vec::new();
        let out = scrub_text(
            "card 4111111111111111 for https://u:p@h at /home/al/x",
            &mut fired,
        );
        assert_eq!(
            out.as_deref(),
            Some("card [Filtered] for https://[Filtered]@h at /home/[user]/x"),
            "each scanner applies"
        );
        assert_eq!(
            fired,
            ["url_credentials", "credit_card", "home_path"],
            "rules in scan order"
        );
        let mut fired = Vec::new();
        assert_eq!(
            scrub_text("nothing here", &mut fired),
            None,
            "untouched text"
        );
        assert!(fired.is_empty(), "no rule fired");
    }
}

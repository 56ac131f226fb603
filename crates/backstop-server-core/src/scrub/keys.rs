//! Which keys name a secret, decided on the key's words rather than on substrings.
//!
//! A key is split into lowercase tokens at `_`, `-`, `.`, spaces and any other character that is
//! not a letter or digit, and at camelCase boundaries (`accessToken` → `access`, `token`;
//! `XMLHttpRequest` → `xml`, `http`, `request`; `oauth2Token` → `oauth2`, `token`). A substring
//! match (`auth` anywhere) would filter `author` and `authority`, which are ordinary data.

/// Words that make a key sensitive when a token is the word or ends with it, so that
/// concatenated spellings without separators count too (`accesstoken`, `dbpassword`,
/// `mysession`, `phpsessid`, `oauth`).
const SUFFIX_WORDS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "apikey",
    "privatekey",
    "accesskey",
    "mysqlpwd",
    "session",
    "sessionid",
    "sessid",
    "csrf",
    "xsrf",
];

/// Tokens that make a key sensitive only when they are the whole token: short words that end
/// many ordinary words.
const EXACT_WORDS: &[&str] = &["otp", "jwt", "cvv", "cvc", "ssn"];

/// Token sequences that make a key sensitive when they appear next to each other
/// (`api_key`, `X-Api-Key`, `privateKey`, `MYSQL_PWD`, `two-factor`).
const SEQUENCES: &[&[&str]] = &[
    &["api", "key"],
    &["private", "key"],
    &["access", "key"],
    &["mysql", "pwd"],
    &["two", "factor"],
];

/// A key whose last token is one of these describes a secret without holding it
/// (`token_count`, `password_length`, `auth_type`), so it survives. `max_tokens`,
/// `prompt_tokens` survive because the plural `tokens` is not in [`SUFFIX_WORDS`].
const METADATA_LAST: &[&str] = &["count", "type", "kind", "len", "length", "size", "limit"];

/// Cookie names of session and superuser cookies that name no secret by their words (Sentry's
/// own `sentrysid`, `sudo`, `su`; Symfony's `symfony`; Express's `connect.sid`), filtered only
/// inside cookies.
const COOKIE_EXACT: &[&str] = &["sentrysid", "sudo", "su", "symfony"];

/// Splits a key into lowercase tokens (see the module doc).
pub(crate) fn tokens(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            flush(&mut cur, &mut out);
            continue;
        }
        if c.is_uppercase() {
            let prev = i.checked_sub(1).and_then(|p| chars.get(p));
            let next = chars.get(i + 1);
            let after_lower = prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit());
            // The last capital of an acronym starts the next word: `XMLHttp` → `xml`, `http`.
            let acronym_end =
                prev.is_some_and(|p| p.is_uppercase()) && next.is_some_and(|n| n.is_lowercase());
            if after_lower || acronym_end {
                flush(&mut cur, &mut out);
            }
        }
        cur.extend(c.to_lowercase());
    }
    flush(&mut cur, &mut out);
    out
}

fn flush(cur: &mut String, out: &mut Vec<String>) {
    if !cur.is_empty() {
        out.push(std::mem::take(cur));
    }
}

/// Whether a key (already split by [`tokens`]) names a secret by Backstop's built-in rules.
pub(crate) fn is_sensitive(tokens: &[String]) -> bool {
    if tokens.len() > 1
        && tokens
            .last()
            .is_some_and(|t| METADATA_LAST.contains(&t.as_str()))
    {
        return false;
    }
    tokens.iter().enumerate().any(|(i, t)| {
        // Trailing digits number a word, they do not change it (`password2`, `token1`).
        let word = t.trim_end_matches(|c: char| c.is_ascii_digit());
        SUFFIX_WORDS.iter().any(|w| word.ends_with(w))
            || EXACT_WORDS.contains(&t.as_str())
            || SEQUENCES
                .iter()
                .any(|seq| starts_with_seq(&tokens[i..], seq))
    })
}

/// Whether a cookie name (split by [`tokens`]) names a session or CSRF cookie: the built-in key
/// rules, the framework names of [`COOKIE_EXACT`], or a `sid` token (`connect.sid`).
pub(crate) fn is_sensitive_cookie(name: &str, tokens: &[String]) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    COOKIE_EXACT.contains(&lower.as_str())
        || tokens.iter().any(|t| t == "sid")
        || is_sensitive(tokens)
}

/// Whether `tokens` contains `needle` as adjacent tokens (how `extra_fields` match: the field
/// `ssn` filters `user_ssn` and `ssnNumber`, the field `card_holder` filters `cardHolderName`).
pub(crate) fn contains_seq(tokens: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && tokens.windows(needle.len()).any(|w| w == needle)
}

fn starts_with_seq(tokens: &[String], seq: &[&str]) -> bool {
    tokens.len() >= seq.len() && tokens.iter().zip(seq).all(|(t, s)| t == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_keys_into_words() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("auth_token", &["auth", "token"], "snake case"),
            ("X-Auth-Token", &["x", "auth", "token"], "header name"),
            ("accessToken", &["access", "token"], "camel case"),
            ("APIKey", &["api", "key"], "acronym then word"),
            (
                "XMLHttpRequest",
                &["xml", "http", "request"],
                "acronym inside",
            ),
            (
                "oauth2Token",
                &["oauth2", "token"],
                "digit before a capital",
            ),
            ("db.password", &["db", "password"], "dotted"),
            ("__session", &["session"], "leading underscores"),
            ("", &[], "empty"),
        ];
        for (key, want, why) in cases {
            assert_eq!(tokens(key), *want, "{why}: {key}");
        }
    }

    #[test]
    fn sensitive_keys_are_found_by_their_words() {
        let cases = [
            ("password", true, "the word itself"),
            ("passwd", true, "unix spelling"),
            ("a_password_here", true, "inside a longer key"),
            ("dbpassword", true, "concatenated"),
            ("the_secret", true, "secret"),
            ("client_secret", true, "oauth client secret"),
            ("api_key", true, "api key"),
            ("apiKey", true, "camel api key"),
            ("X-Api-Key", true, "api key header"),
            ("apikey", true, "api key in one word"),
            ("auth", true, "auth alone"),
            ("auth_token", true, "auth token"),
            ("X-Auth-Token", true, "auth token header"),
            ("accessToken", true, "camel access token"),
            ("accesstoken", true, "access token in one word"),
            ("X-CSRF-Token", true, "csrf header"),
            ("csrfmiddlewaretoken", true, "django csrf form field"),
            ("credentials", true, "credentials"),
            ("MYSQL_PWD", true, "mysql password variable"),
            ("privateKey", true, "private key"),
            ("private_key", true, "private key snake"),
            ("session", true, "session"),
            ("sessionid", true, "session id in one word"),
            ("session_id", true, "session id"),
            ("PHPSESSID", true, "php session cookie"),
            ("oauth", true, "oauth"),
            ("password2", true, "numbered (django's confirmation field)"),
            ("oauth2_token", true, "digits inside"),
            ("otp", true, "one-time password"),
            ("two-factor", true, "two factor"),
            ("author", false, "author is a person, not a secret"),
            ("authority", false, "authority"),
            ("authors", false, "authors"),
            ("tokenizer", false, "a tokenizer is a tool, not a token"),
            (
                "max_tokens",
                false,
                "llm token budget (plural tokens is not a secret)",
            ),
            ("token_count", false, "describes tokens"),
            ("password_length", false, "describes a password"),
            ("auth_type", false, "describes auth"),
            ("PWD", false, "the working directory, not a password"),
            ("OLDPWD", false, "the previous working directory"),
            ("order_id", false, "an order id"),
            ("keyboard", false, "key is not a word on its own"),
            ("primary_key", false, "a database key"),
            ("username", false, "a user name is not a secret"),
        ];
        for (key, want, why) in cases {
            assert_eq!(is_sensitive(&tokens(key)), want, "{why}: {key}");
        }
    }

    #[test]
    fn session_cookies_are_found_by_name() {
        let cases = [
            ("sentrysid", true, "sentry session"),
            ("sudo", true, "sentry sudo"),
            ("su", true, "sentry superuser"),
            ("symfony", true, "symfony session"),
            ("connect.sid", true, "express session"),
            ("csrftoken", true, "django csrf"),
            ("_xsrf", true, "tornado xsrf"),
            ("XSRF-TOKEN", true, "angular xsrf"),
            ("_vercel_jwt", true, "vercel jwt"),
            ("laravel_session", true, "laravel session"),
            ("JSESSIONID", true, "java session"),
            ("theme", false, "a preference"),
            ("_ga", false, "an analytics id"),
            ("consent", false, "a consent flag"),
        ];
        for (name, want, why) in cases {
            assert_eq!(
                is_sensitive_cookie(name, &tokens(name)),
                want,
                "{why}: {name}"
            );
        }
    }

    #[test]
    fn extra_fields_match_adjacent_words() {
        let t = |s: &str| tokens(s);
        let cases = [
            ("user_ssn", "ssn", true, "suffix word"),
            ("ssnNumber", "ssn", true, "camel prefix"),
            ("cardHolderName", "card_holder", true, "two words"),
            ("holder_card", "card_holder", false, "words out of order"),
            ("lesson", "ssn", false, "not a word of the key"),
        ];
        for (key, field, want, why) in cases {
            assert_eq!(
                contains_seq(&t(key), &t(field)),
                want,
                "{why}: {key} / {field}"
            );
        }
    }
}

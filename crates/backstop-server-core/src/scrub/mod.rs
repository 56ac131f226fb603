//! PII scrubbing of an event before anything is stored: [`scrub_event`] rewrites the event's
//! JSON in place and returns a [`ScrubReport`] naming what was filtered and where.
//!
//! The defaults follow Sentry's server-side data scrubbing (Relay's `@common:filter`, its
//! sensitive-field list and its session cookie list), written anew with token-aware key
//! matching and hand-written scanners (see `text.rs` for why no regex crate).
//!
//! # Replacements
//! A filtered value becomes the string `[Filtered]` ([`FILTERED`]), whatever its type (string,
//! number, array, object); `null`, booleans and empty values are left as they are, since they
//! hold nothing. Inside a string only the secret part is replaced (`Bearer [Filtered]`,
//! `https://[Filtered]@host`), except that a user name in a home path becomes `[user]`
//! ([`USER_PLACEHOLDER`]), as in Relay. Object keys are never rewritten.
//!
//! # Rules (the `rule` of each [`Redaction`])
//! Key rules, applied to the value of a matching key anywhere in the event (`extra`, `contexts`,
//! `request.data`, `request.headers`, `request.cookies`, `request.query_string`, `request.env`,
//! `breadcrumbs.values[].data`, `tags`, `user.data`, stack frame `vars`, …). Keys are split into
//! words at `_`, `-`, `.`, other punctuation and camelCase (`accessToken` → `access token`):
//! - `password`: a built-in sensitive key. A word that is or ends with `password`, `passwd`,
//!   `passphrase`, `secret`, `token`, `auth`, `authorization`, `credential(s)`, `apikey`,
//!   `privatekey`, `accesskey`, `mysqlpwd`, `session`, `sessionid`, `sessid`, `csrf`, `xsrf`; a
//!   word that is `otp`, `jwt`, `cvv`, `cvc`, `ssn`; the words `api key`, `private key`,
//!   `access key`, `mysql pwd`, `two factor` in a row. So `auth_token`, `X-Auth-Token`,
//!   `accessToken`, `dbpassword`, `PHPSESSID`, `oauth` are filtered, while `author`,
//!   `authority`, `tokenizer` (a tool, not a token), `max_tokens` and `prompt_tokens` (plural:
//!   LLM usage counts), `PWD`/`OLDPWD` (working directories), `primary_key` and `order_id`
//!   survive. A key whose last word is `count`, `type`, `kind`, `len`, `length`, `size` or
//!   `limit` (`token_count`, `auth_type`) describes a secret without holding it and survives.
//! - `extra_field`: a key matching [`ScrubConfig::extra_fields`] (equal ignoring case, or its
//!   words in a row among the key's words: `ssn` filters `user_ssn`).
//! - `auth_header`: the `Authorization` and `Proxy-Authorization` headers, entirely.
//! - `cookie`: the `Cookie` and `Set-Cookie` headers, entirely; and, in `request.cookies` (an
//!   object, a list of pairs or a `a=1; b=2` string, parsed per cookie), a cookie named like a
//!   sensitive key or `sentrysid`, `sudo`, `su`, `symfony`, or with a `sid` word
//!   (`connect.sid`). Other cookies keep their value (value rules still apply).
//!
//! Value rules, applied to every string anywhere in the event (messages, exception values,
//! breadcrumb messages, `extra`, frame paths, …) in this order:
//! - `pem_key`: the body of a `-----BEGIN … PRIVATE KEY-----` block.
//! - `url_credentials`: the userinfo of `scheme://user:pass@host` → `scheme://[Filtered]@host`.
//! - `bearer`: the token after `Bearer ` (8 or more token characters).
//! - `iban`: an IBAN (known country, its exact length, printed or electronic) that passes the
//!   mod-97 check.
//! - `credit_card`: 13–19 digits, optionally grouped by single spaces or dashes, first digit
//!   2–6, passing the Luhn check. Also a JSON number with those digits. `4111111111111112`
//!   (fails Luhn), millisecond timestamps (start with 1) and order ids survive.
//! - `home_path`: the user in `/home/<user>`, `/Users/<user>`, `C:\Users\<user>`.
//!
//! Structured strings: `request.query_string` (string, object or pairs), the query of
//! `request.url` and of any `url` key, `query_string`/`http.query` keys anywhere, and a
//! form-encoded `request.data` string are parsed into keys and values, and the key rules apply
//! per key (`?token=abc&page=2` → `?token=[Filtered]&page=2`, written unencoded). A
//! `request.data` string holding JSON is parsed, scrubbed, and written back (compact) only when
//! something was filtered.
//!
//! IP rule (`ip`, when [`ScrubConfig::scrub_ip`]): `user.ip_address`, `request.env.REMOTE_ADDR`
//! and the `X-Forwarded-For`, `X-Real-IP`, `CF-Connecting-IP`, `True-Client-IP` headers are
//! truncated to the /24 (IPv4, `1.2.3.0`) or /48 (IPv6) so "users affected" can still be
//! counted. `{{auto}}` and anything that is not an address are left alone.
//!
//! Depth (`max_depth`): the walk does not recurse past [`MAX_DEPTH`] levels of arrays and
//! objects; a container that deep is replaced by `[Filtered]` rather than stored unscanned.
//! Ingest already refuses deeper JSON, so this only bounds the work.
//!
//! # Exemptions
//! A key in [`ScrubConfig::safe_fields`] (equal ignoring case) is left entirely alone, value,
//! subtree and IP rule included. `enabled: false` turns off every rule.
//!
//! Scrubbing is idempotent: every replacement starts with `[`, which no rule matches again, so
//! scrubbing a scrubbed event changes nothing and reports nothing.

mod ip;
mod keys;
mod text;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a filtered value or secret becomes.
pub const FILTERED: &str = "[Filtered]";
/// What the user name in a home directory path becomes.
pub const USER_PLACEHOLDER: &str = "[user]";
/// Levels of nested arrays and objects the walk enters; deeper containers become
/// [`FILTERED`].
pub const MAX_DEPTH: usize = 64;
/// Most entries in `extra_fields` or in `safe_fields`.
pub const MAX_FIELDS: usize = 64;
/// Longest entry in `extra_fields` or `safe_fields`, in bytes.
pub const MAX_FIELD_BYTES: usize = 128;
/// Redactions listed with their path in [`ScrubReport::redactions`]; further ones are only
/// counted (in [`ScrubReport::unlisted`]), so a hostile event cannot grow the report without
/// bound.
pub const MAX_LISTED_REDACTIONS: usize = 256;
/// Every rule name a [`Redaction`] can carry.
pub const RULES: &[&str] = &[
    "password",
    "extra_field",
    "auth_header",
    "cookie",
    "pem_key",
    "url_credentials",
    "bearer",
    "iban",
    "credit_card",
    "home_path",
    "ip",
    "max_depth",
];

/// Headers that carry the client's address.
const FORWARDED_IP_HEADERS: &[&str] = &[
    "x-forwarded-for",
    "x-real-ip",
    "cf-connecting-ip",
    "true-client-ip",
];

/// A project's scrubbing settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScrubConfig {
    /// Whether to scrub at all (default `true`). `false` stores events as sent.
    pub enabled: bool,
    /// More keys to filter, beyond the built-in sensitive keys (matched ignoring case, or as
    /// words in a row among a key's words).
    pub extra_fields: Vec<String>,
    /// Keys never touched (matched ignoring case), for a key a built-in rule would filter that
    /// the project needs to see.
    pub safe_fields: Vec<String>,
    /// Whether to truncate the user's IP address (default `true`).
    pub scrub_ip: bool,
}

impl Default for ScrubConfig {
    fn default() -> Self {
        ScrubConfig {
            enabled: true,
            extra_fields: Vec::new(),
            safe_fields: Vec::new(),
            scrub_ip: true,
        }
    }
}

/// Why a scrubbing configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScrubConfigError {
    /// Not the shape of a [`ScrubConfig`] (an unknown key, a wrong type).
    #[error("invalid scrub config: {0}")]
    Invalid(String),
    /// A field list is longer than [`MAX_FIELDS`].
    #[error("{list} has {count} entries; at most {max} are allowed")]
    TooManyFields {
        /// `extra_fields` or `safe_fields`.
        list: &'static str,
        /// Entries given.
        count: usize,
        /// [`MAX_FIELDS`].
        max: usize,
    },
    /// An entry is longer than [`MAX_FIELD_BYTES`].
    #[error("{list}[{index}] is {len} bytes long; at most {max} are allowed")]
    FieldTooLong {
        /// `extra_fields` or `safe_fields`.
        list: &'static str,
        /// Position of the entry.
        index: usize,
        /// Its length in bytes.
        len: usize,
        /// [`MAX_FIELD_BYTES`].
        max: usize,
    },
    /// An entry is empty or only whitespace (it would match nothing, or everything).
    #[error("{list}[{index}] is empty")]
    EmptyField {
        /// `extra_fields` or `safe_fields`.
        list: &'static str,
        /// Position of the entry.
        index: usize,
    },
}

/// Reads and checks a scrubbing configuration: unknown keys are refused, missing ones take
/// their defaults, each field list holds at most [`MAX_FIELDS`] non-empty names of at most
/// [`MAX_FIELD_BYTES`] bytes.
pub fn parse_config(value: &Value) -> Result<ScrubConfig, ScrubConfigError> {
    let cfg =
        ScrubConfig::deserialize(value).map_err(|e| ScrubConfigError::Invalid(e.to_string()))?;
    for (list, fields) in [
        ("extra_fields", &cfg.extra_fields),
        ("safe_fields", &cfg.safe_fields),
    ] {
        if fields.len() > MAX_FIELDS {
            return Err(ScrubConfigError::TooManyFields {
                list,
                count: fields.len(),
                max: MAX_FIELDS,
            });
        }
        for (index, field) in fields.iter().enumerate() {
            if field.len() > MAX_FIELD_BYTES {
                return Err(ScrubConfigError::FieldTooLong {
                    list,
                    index,
                    len: field.len(),
                    max: MAX_FIELD_BYTES,
                });
            }
            if field.trim().is_empty() {
                return Err(ScrubConfigError::EmptyField { list, index });
            }
        }
    }
    Ok(cfg)
}

/// One filtered value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redaction {
    /// Where it was: keys joined by `.`, array positions as numbers, the name for a header,
    /// cookie or query parameter (`request.headers.Authorization`,
    /// `exception.values.0.value`, `request.query_string.token`).
    pub path: String,
    /// Which rule filtered it (one of [`RULES`]).
    pub rule: &'static str,
}

/// What [`scrub_event`] filtered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScrubReport {
    /// The first [`MAX_LISTED_REDACTIONS`] redactions, in the order the event was walked.
    pub redactions: Vec<Redaction>,
    /// Redactions past the listed ones, counted per rule without their path.
    pub unlisted: BTreeMap<&'static str, usize>,
}

impl ScrubReport {
    /// Whether nothing was filtered.
    pub fn is_empty(&self) -> bool {
        self.redactions.is_empty() && self.unlisted.is_empty()
    }

    /// Values filtered, listed or not.
    pub fn total(&self) -> usize {
        self.redactions.len() + self.unlisted.values().sum::<usize>()
    }

    /// Values filtered per rule, listed or not.
    pub fn count_by_rule(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = self.unlisted.clone();
        for r in &self.redactions {
            *counts.entry(r.rule).or_default() += 1;
        }
        counts
    }

    /// One line for people: `3 values filtered (password, credit_card)`, rules in the order
    /// they first fired; `no values filtered` when nothing was.
    pub fn summary(&self) -> String {
        let total = self.total();
        if total == 0 {
            return "no values filtered".to_string();
        }
        let mut rules: Vec<&str> = Vec::new();
        let listed = self.redactions.iter().map(|r| r.rule);
        for rule in listed.chain(self.unlisted.keys().copied()) {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        let noun = if total == 1 { "value" } else { "values" };
        format!("{total} {noun} filtered ({})", rules.join(", "))
    }

    fn push(&mut self, path: &str, rule: &'static str) {
        if self.redactions.len() < MAX_LISTED_REDACTIONS {
            self.redactions.push(Redaction {
                path: path.to_string(),
                rule,
            });
        } else {
            *self.unlisted.entry(rule).or_default() += 1;
        }
    }
}

/// Scrubs an event in place by the rules of the module doc and reports what it filtered.
pub fn scrub_event(event: &mut Value, cfg: &ScrubConfig) -> ScrubReport {
    let mut s = Scrubber {
        cfg,
        extra: cfg
            .extra_fields
            .iter()
            .map(|f| (f.trim().to_lowercase(), keys::tokens(f)))
            .collect(),
        safe: cfg
            .safe_fields
            .iter()
            .map(|f| f.trim().to_lowercase())
            .collect(),
        path: String::new(),
        report: ScrubReport::default(),
        fired: Vec::new(),
    };
    if cfg.enabled {
        s.walk(event, 0, Ctx::Root);
    }
    s.report
}

/// Where the walk is, for the rules that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Root,
    Request,
    Headers,
    Cookies,
    Query,
    Env,
    User,
    Tags,
    Other,
}

impl Ctx {
    /// Whether a list of `[name, value]` pairs here is read as named values (Sentry's protocol
    /// allows pairs for headers, cookies, query strings, env and tags).
    fn takes_pairs(self) -> bool {
        matches!(
            self,
            Ctx::Headers | Ctx::Cookies | Ctx::Query | Ctx::Env | Ctx::Tags
        )
    }
}

/// What the key rules say about one key.
enum Verdict {
    Safe,
    Filter(&'static str),
    Walk,
}

struct Scrubber<'c> {
    cfg: &'c ScrubConfig,
    /// `extra_fields`, lowercased and split into words.
    extra: Vec<(String, Vec<String>)>,
    /// `safe_fields`, lowercased.
    safe: Vec<String>,
    /// The path of the value being walked; segments are pushed and truncated away, so a path
    /// string is only built for a redaction.
    path: String,
    report: ScrubReport,
    /// Scratch list of the value rules that fired on one string.
    fired: Vec<&'static str>,
}

impl Scrubber<'_> {
    fn enter(&mut self, segment: &str) -> usize {
        let mark = self.path.len();
        if mark > 0 {
            self.path.push('.');
        }
        self.path.push_str(segment);
        mark
    }

    fn enter_index(&mut self, index: usize) -> usize {
        let mark = self.path.len();
        if mark > 0 {
            self.path.push('.');
        }
        let _ = write!(self.path, "{index}");
        mark
    }

    fn leave(&mut self, mark: usize) {
        self.path.truncate(mark);
    }

    fn record(&mut self, rule: &'static str) {
        self.report.push(&self.path, rule);
    }

    fn verdict(&self, key: &str, cookie: bool) -> Verdict {
        let lower = key.trim().to_lowercase();
        if self.safe.contains(&lower) {
            return Verdict::Safe;
        }
        let words = keys::tokens(key);
        if self
            .extra
            .iter()
            .any(|(whole, seq)| *whole == lower || keys::contains_seq(&words, seq))
        {
            return Verdict::Filter("extra_field");
        }
        if cookie {
            if keys::is_sensitive_cookie(key, &words) {
                return Verdict::Filter("cookie");
            }
        } else if keys::is_sensitive(&words) {
            return Verdict::Filter("password");
        }
        Verdict::Walk
    }

    /// Replaces a value that holds something with [`FILTERED`].
    fn filter(&mut self, v: &mut Value, rule: &'static str) {
        let holds = match v {
            Value::Null | Value::Bool(_) => false,
            Value::String(s) => !s.is_empty() && s != FILTERED,
            Value::Number(_) => true,
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
        };
        if holds {
            *v = Value::String(FILTERED.to_string());
            self.record(rule);
        }
    }

    fn walk(&mut self, v: &mut Value, depth: usize, ctx: Ctx) {
        match v {
            Value::Object(_) | Value::Array(_) if depth >= MAX_DEPTH => self.filter(v, "max_depth"),
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    let mark = self.enter(key);
                    self.entry(key, child, depth + 1, ctx);
                    self.leave(mark);
                }
            }
            Value::Array(items) if ctx.takes_pairs() && is_pair_list(items) => {
                for pair in items.iter_mut() {
                    if let Value::Array(kv) = pair {
                        if let [Value::String(key), value] = kv.as_mut_slice() {
                            let mark = self.enter(key);
                            self.entry(key, value, depth + 2, ctx);
                            self.leave(mark);
                        }
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let mark = self.enter_index(i);
                    self.walk(item, depth + 1, Ctx::Other);
                    self.leave(mark);
                }
            }
            Value::String(_) => self.text(v),
            Value::Number(n) => {
                let is_card = n
                    .as_u64()
                    .is_some_and(|n| text::is_card_number(n.to_string().as_bytes()));
                if is_card {
                    *v = Value::String(FILTERED.to_string());
                    self.record("credit_card");
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
    }

    /// One named value (`key` in an object, or a pair) whose parent is `parent`.
    fn entry(&mut self, key: &str, child: &mut Value, depth: usize, parent: Ctx) {
        let verdict = self.verdict(key, parent == Ctx::Cookies);
        if matches!(verdict, Verdict::Safe) {
            return;
        }
        let lower = key.to_ascii_lowercase();
        match parent {
            Ctx::Headers => match lower.as_str() {
                "authorization" | "proxy-authorization" => {
                    return self.filter(child, "auth_header")
                }
                "cookie" | "set-cookie" => return self.filter(child, "cookie"),
                h if self.cfg.scrub_ip && FORWARDED_IP_HEADERS.contains(&h) => {
                    return self.ip(child, true, depth);
                }
                _ => {}
            },
            Ctx::Env if key == "REMOTE_ADDR" && self.cfg.scrub_ip => {
                return self.ip(child, false, depth)
            }
            Ctx::User if key == "ip_address" && self.cfg.scrub_ip => {
                return self.ip(child, false, depth)
            }
            _ => {}
        }
        if let Verdict::Filter(rule) = verdict {
            return self.filter(child, rule);
        }
        match (parent, key) {
            (Ctx::Root, "request") => self.walk(child, depth, Ctx::Request),
            (Ctx::Root, "user") => self.walk(child, depth, Ctx::User),
            (Ctx::Root, "tags") => self.walk(child, depth, Ctx::Tags),
            (Ctx::Request, "headers") => self.walk(child, depth, Ctx::Headers),
            (Ctx::Request, "env") => self.walk(child, depth, Ctx::Env),
            (Ctx::Request, "cookies") if child.is_string() => self.pairs_string(child, b';', true),
            (Ctx::Request, "cookies") => self.walk(child, depth, Ctx::Cookies),
            (Ctx::Request, "data") => self.data(child, depth),
            (_, "query_string" | "http.query") if child.is_string() => {
                self.pairs_string(child, b'&', true)
            }
            (Ctx::Request, "query_string") => self.walk(child, depth, Ctx::Query),
            _ if lower == "url" && child.is_string() => self.url(child),
            _ => self.walk(child, depth, Ctx::Other),
        }
    }

    /// The value rules over one string.
    fn text(&mut self, v: &mut Value) {
        if let Value::String(s) = v {
            if let Some(new) = self.scan(s) {
                *s = new;
            }
        }
    }

    /// The value rules over `s`, recorded at the current path; `None` when nothing matched.
    fn scan(&mut self, s: &str) -> Option<String> {
        let mut fired = std::mem::take(&mut self.fired);
        let new = text::scrub_text(s, &mut fired);
        for rule in fired.drain(..) {
            self.record(rule);
        }
        self.fired = fired;
        new
    }

    /// An address field: truncated when it is an address (or a list of them), then the value
    /// rules as for any string (a field that is not an address may still hold a secret).
    fn ip(&mut self, v: &mut Value, list: bool, depth: usize) {
        let Value::String(s) = v else {
            return self.walk(v, depth, Ctx::Other);
        };
        let new = if list {
            ip::truncate_list(s)
        } else {
            ip::truncate(s).filter(|t| t != s)
        };
        if let Some(new) = new {
            *s = new;
            self.record("ip");
        }
        self.text(v);
    }

    /// A URL: the key rules over its query parameters, then the value rules over all of it.
    fn url(&mut self, v: &mut Value) {
        if let Value::String(s) = v {
            if let Some(q) = s.find('?') {
                let end = s[q..].find('#').map_or(s.len(), |h| q + h);
                if let Some(query) = self.pairs(&s[q + 1..end], b'&', false, false) {
                    s.replace_range(q + 1..end, &query);
                }
            }
        }
        self.text(v);
    }

    /// `request.data`: JSON in a string is parsed and scrubbed; any other string gets the value
    /// rules and is then, if it looks like a form body, read as a query string. Scanning first
    /// keeps this idempotent: a replacement can remove the last whitespace of a string and make
    /// it look like a form only afterwards.
    fn data(&mut self, v: &mut Value, depth: usize) {
        let Value::String(s) = v else {
            return self.walk(v, depth, Ctx::Other);
        };
        let trimmed = s.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            if let Ok(mut parsed) = serde_json::from_str::<Value>(s) {
                let before = self.report.total();
                self.walk(&mut parsed, depth, Ctx::Other);
                if self.report.total() > before {
                    *s = parsed.to_string();
                }
                return;
            }
        }
        self.text(v);
        if let Value::String(s) = v {
            if s.contains('=') && !s.chars().any(char::is_whitespace) {
                self.pairs_string(v, b'&', true);
            }
        }
    }

    fn pairs_string(&mut self, v: &mut Value, sep: u8, scan_values: bool) {
        if let Value::String(s) = v {
            if let Some(new) = self.pairs(s, sep, sep == b';', scan_values) {
                *s = new;
            }
        }
    }

    /// `k=v` pairs split by `sep` (`&` for query strings, `;` for cookies): the key rules per key
    /// (keys percent-decoded for matching), and the value rules over each value when
    /// `scan_values`. Separators, spacing and keys are kept as written; `None` when nothing
    /// changed.
    fn pairs(&mut self, s: &str, sep: u8, cookie: bool, scan_values: bool) -> Option<String> {
        let mut out = String::with_capacity(s.len());
        let mut changed = false;
        for (i, part) in s.split(char::from(sep)).enumerate() {
            if i > 0 {
                out.push(char::from(sep));
            }
            let Some((raw_key, value)) = part.split_once('=') else {
                let scanned = if scan_values { self.scan(part) } else { None };
                match scanned {
                    Some(new) => {
                        changed = true;
                        out.push_str(&new);
                    }
                    None => out.push_str(part),
                }
                continue;
            };
            let key = percent_decode(raw_key.trim(), !cookie);
            let mark = self.enter(&key);
            // A key is written back as it came, but may itself hold a secret.
            let new_key = if scan_values {
                self.scan(raw_key)
            } else {
                None
            };
            let new_value = match self.verdict(&key, cookie) {
                Verdict::Safe => None,
                Verdict::Filter(rule) => (!value.is_empty() && value != FILTERED).then(|| {
                    self.record(rule);
                    FILTERED.to_string()
                }),
                Verdict::Walk if scan_values => {
                    let mut v = Value::String(value.to_string());
                    let before = self.report.total();
                    self.text(&mut v);
                    match v {
                        Value::String(new) if self.report.total() > before => Some(new),
                        _ => None,
                    }
                }
                Verdict::Walk => None,
            };
            self.leave(mark);
            if let Some(k) = &new_key {
                changed = true;
                out.push_str(k);
            } else {
                out.push_str(raw_key);
            }
            out.push('=');
            match new_value {
                Some(new) => {
                    changed = true;
                    out.push_str(&new);
                }
                None => out.push_str(value),
            }
        }
        changed.then_some(out)
    }
}

/// Whether every item is a `[string, value]` pair.
fn is_pair_list(items: &[Value]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|item| matches!(item, Value::Array(kv) if kv.len() == 2 && kv[0].is_string()))
}

/// `%XX` escapes decoded (and `+` as a space in query strings), invalid UTF-8 replaced: only
/// used to match a key, never written back.
fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    // Two hex digits are at most 255.
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scrub(mut event: Value) -> (Value, Vec<(String, &'static str)>) {
        let report = scrub_event(&mut event, &ScrubConfig::default());
        let found = report
            .redactions
            .iter()
            .map(|r| (r.path.clone(), r.rule))
            .collect();
        (event, found)
    }

    #[test]
    fn sensitive_keys_are_filtered_wherever_they_are() {
        let cases = [
            (
                json!({"extra": {"password": "hunter2", "author": "ann"}}),
                json!({"extra": {"password": FILTERED, "author": "ann"}}),
                "extra.password",
                "password in extra; author survives",
            ),
            (
                json!({"contexts": {"db": {"auth_token": "t0k"}}}),
                json!({"contexts": {"db": {"auth_token": FILTERED}}}),
                "contexts.db.auth_token",
                "contexts",
            ),
            (
                json!({"request": {"data": {"user": {"accessToken": "abc"}}}}),
                json!({"request": {"data": {"user": {"accessToken": FILTERED}}}}),
                "request.data.user.accessToken",
                "nested request body",
            ),
            (
                json!({"breadcrumbs": {"values": [{"data": {"api_key": "k"}}]}}),
                json!({"breadcrumbs": {"values": [{"data": {"api_key": FILTERED}}]}}),
                "breadcrumbs.values.0.data.api_key",
                "breadcrumb data",
            ),
            (
                json!({"tags": [["session", "s1"], ["page", "home"]]}),
                json!({"tags": [["session", FILTERED], ["page", "home"]]}),
                "tags.session",
                "tags as pairs",
            ),
            (
                json!({"user": {"id": "u1", "data": {"secret": 42}}}),
                json!({"user": {"id": "u1", "data": {"secret": FILTERED}}}),
                "user.data.secret",
                "a number under a sensitive key",
            ),
            (
                json!({"exception": {"values": [{"stacktrace": {"frames": [{"vars": {"passwd": ["a"], "tokenizer": "bpe"}}]}}]}}),
                json!({"exception": {"values": [{"stacktrace": {"frames": [{"vars": {"passwd": FILTERED, "tokenizer": "bpe"}}]}}]}}),
                "exception.values.0.stacktrace.frames.0.vars.passwd",
                "frame vars; tokenizer survives",
            ),
            (
                json!({"extra": {"credentials": {"user": "u", "pass": "p"}}}),
                json!({"extra": {"credentials": FILTERED}}),
                "extra.credentials",
                "a whole object",
            ),
        ];
        for (input, want, path, why) in cases {
            let (got, found) = scrub(input);
            assert_eq!(got, want, "{why}");
            assert_eq!(found, [(path.to_string(), "password")], "{why}");
        }
    }

    #[test]
    fn empty_and_flag_values_stay() {
        let input = json!({"extra": {"password": "", "token": null, "auth": true, "secret": {}, "session": []}});
        let (got, found) = scrub(input.clone());
        assert_eq!(got, input, "nothing to hide in empty values");
        assert!(found.is_empty(), "and nothing reported");
    }

    #[test]
    fn headers_are_scrubbed_by_name() {
        let cases = [
            (
                json!({"Authorization": "Basic dTpw"}),
                json!({"Authorization": FILTERED}),
                ("request.headers.Authorization", "auth_header"),
                "authorization",
            ),
            (
                json!({"proxy-authorization": "x"}),
                json!({"proxy-authorization": FILTERED}),
                ("request.headers.proxy-authorization", "auth_header"),
                "proxy authorization",
            ),
            (
                json!({"Cookie": "a=1"}),
                json!({"Cookie": FILTERED}),
                ("request.headers.Cookie", "cookie"),
                "cookie header",
            ),
            (
                json!([["Set-Cookie", "sid=1"]]),
                json!([["Set-Cookie", FILTERED]]),
                ("request.headers.Set-Cookie", "cookie"),
                "set-cookie as a pair",
            ),
            (
                json!({"X-Auth-Token": "t"}),
                json!({"X-Auth-Token": FILTERED}),
                ("request.headers.X-Auth-Token", "password"),
                "auth token header",
            ),
            (
                json!({"X-Forwarded-For": "203.0.113.7, 10.0.0.1"}),
                json!({"X-Forwarded-For": "203.0.113.0, 10.0.0.0"}),
                ("request.headers.X-Forwarded-For", "ip"),
                "forwarded address",
            ),
            (
                json!({"X-Trace": "Bearer abcdefghijkl"}),
                json!({"X-Trace": "Bearer [Filtered]"}),
                ("request.headers.X-Trace", "bearer"),
                "a bearer token in another header",
            ),
        ];
        for (headers, want, (path, rule), why) in cases {
            let (got, found) = scrub(json!({"request": {"headers": headers}}));
            assert_eq!(got, json!({"request": {"headers": want}}), "{why}");
            assert_eq!(found, [(path.to_string(), rule)], "{why}");
        }
        let (got, found) = scrub(
            json!({"request": {"headers": {"User-Agent": "Mozilla/5.0", "X-Request-Id": "r1"}}}),
        );
        assert_eq!(
            got,
            json!({"request": {"headers": {"User-Agent": "Mozilla/5.0", "X-Request-Id": "r1"}}}),
            "ordinary headers stay"
        );
        assert!(found.is_empty(), "ordinary headers stay");
    }

    #[test]
    fn cookies_are_scrubbed_per_name() {
        let cases = [
            (
                json!("theme=dark; sessionid=abc; csrftoken=xyz"),
                json!("theme=dark; sessionid=[Filtered]; csrftoken=[Filtered]"),
                vec!["request.cookies.sessionid", "request.cookies.csrftoken"],
                "cookie string",
            ),
            (
                json!({"sentrysid": "s", "_ga": "GA1"}),
                json!({"sentrysid": FILTERED, "_ga": "GA1"}),
                vec!["request.cookies.sentrysid"],
                "cookie object",
            ),
            (
                json!([["connect.sid", "s%3A1"], ["lang", "en"]]),
                json!([["connect.sid", FILTERED], ["lang", "en"]]),
                vec!["request.cookies.connect.sid"],
                "cookie pairs",
            ),
        ];
        for (cookies, want, paths, why) in cases {
            let (got, found) = scrub(json!({"request": {"cookies": cookies}}));
            assert_eq!(got, json!({"request": {"cookies": want}}), "{why}");
            let want_found: Vec<_> = paths
                .into_iter()
                .map(|p| (p.to_string(), "cookie"))
                .collect();
            assert_eq!(found, want_found, "{why}");
        }
    }

    #[test]
    fn query_strings_are_scrubbed_per_key() {
        let cases = [
            (
                json!({"query_string": "page=2&token=abc&api%5Fkey=k"}),
                json!({"query_string": "page=2&token=[Filtered]&api%5Fkey=[Filtered]"}),
                vec!["request.query_string.token", "request.query_string.api_key"],
                "query string with an encoded key",
            ),
            (
                json!({"query_string": [["q", "shoes"], ["password", "p"]]}),
                json!({"query_string": [["q", "shoes"], ["password", FILTERED]]}),
                vec!["request.query_string.password"],
                "query pairs",
            ),
            (
                json!({"url": "https://shop.example/cb?code=1&access_token=zz#top"}),
                json!({"url": "https://shop.example/cb?code=1&access_token=[Filtered]#top"}),
                vec!["request.url.access_token"],
                "query of the url",
            ),
            (
                json!({"data": "user=ann&password=p"}),
                json!({"data": "user=ann&password=[Filtered]"}),
                vec!["request.data.password"],
                "form body",
            ),
            (
                json!({"data": "{\"card\":\"4111 1111 1111 1111\",\"q\":1}"}),
                json!({"data": "{\"card\":\"[Filtered]\",\"q\":1}"}),
                vec!["request.data.card"],
                "json body in a string",
            ),
        ];
        for (request, want, paths, why) in cases {
            let (got, found) = scrub(json!({"request": request}));
            assert_eq!(got, json!({"request": want}), "{why}");
            let got_paths: Vec<_> = found.iter().map(|(p, _)| p.as_str()).collect();
            assert_eq!(got_paths, paths, "{why}");
        }
    }

    #[test]
    fn ip_addresses_are_truncated() {
        let cases = [
            (
                json!({"user": {"ip_address": "198.51.100.23"}}),
                json!({"user": {"ip_address": "198.51.100.0"}}),
                true,
                "user ip",
            ),
            (
                json!({"user": {"ip_address": "2001:db8:1:2:3:4:5:6"}}),
                json!({"user": {"ip_address": "2001:db8:1::"}}),
                true,
                "user ipv6",
            ),
            (
                json!({"request": {"env": {"REMOTE_ADDR": "192.0.2.9"}}}),
                json!({"request": {"env": {"REMOTE_ADDR": "192.0.2.0"}}}),
                true,
                "remote addr",
            ),
            (
                json!({"user": {"ip_address": "{{auto}}"}}),
                json!({"user": {"ip_address": "{{auto}}"}}),
                false,
                "auto is left to the server",
            ),
            (
                json!({"user": {"ip_address": "192.0.2.0"}}),
                json!({"user": {"ip_address": "192.0.2.0"}}),
                false,
                "already truncated",
            ),
        ];
        for (input, want, reported, why) in cases {
            let (got, found) = scrub(input);
            assert_eq!(got, want, "{why}");
            assert_eq!(!found.is_empty(), reported, "{why}");
        }
        let mut event = json!({"user": {"ip_address": "198.51.100.23"}});
        let cfg = ScrubConfig {
            scrub_ip: false,
            ..ScrubConfig::default()
        };
        assert!(scrub_event(&mut event, &cfg).is_empty(), "scrub_ip off");
        assert_eq!(
            event["user"]["ip_address"], "198.51.100.23",
            "scrub_ip off keeps the address"
        );
    }

    #[test]
    fn values_are_scanned_everywhere() {
        let (got, found) = scrub(json!({
            "message": "charge 4111 1111 1111 1111 failed",
            "exception": {"values": [{"value": "IBAN DE89370400440532013000 refused"}]},
            "extra": {"order": 4111111111111111u64, "note": "order 4111111111111112"},
        }));
        assert_eq!(got["message"], "charge [Filtered] failed", "message");
        assert_eq!(
            got["exception"]["values"][0]["value"], "IBAN [Filtered] refused",
            "exception value"
        );
        assert_eq!(got["extra"]["order"], FILTERED, "a card as a json number");
        assert_eq!(
            got["extra"]["note"], "order 4111111111111112",
            "fails luhn: survives"
        );
        let paths: Vec<_> = found.iter().map(|(p, r)| format!("{p}:{r}")).collect();
        assert_eq!(
            paths,
            [
                "exception.values.0.value:iban",
                "extra.order:credit_card",
                "message:credit_card"
            ],
            "keys walk in order"
        );
    }

    #[test]
    fn config_fields_add_and_exempt_keys() {
        let cfg = ScrubConfig {
            extra_fields: vec!["ssn".into(), "Order-Ref".into()],
            safe_fields: vec!["X-Auth-Token".into(), "session".into()],
            ..ScrubConfig::default()
        };
        let mut event = json!({
            "extra": {"user_ssn": "123", "order_ref": "o1", "session": {"id": "s"}, "password": "p"},
            "request": {"headers": {"x-auth-token": "t"}},
        });
        let report = scrub_event(&mut event, &cfg);
        assert_eq!(
            event["extra"]["user_ssn"], FILTERED,
            "an extra field by word"
        );
        assert_eq!(
            event["extra"]["order_ref"], FILTERED,
            "an extra field by its words"
        );
        assert_eq!(
            event["extra"]["session"],
            json!({"id": "s"}),
            "a safe field"
        );
        assert_eq!(
            event["request"]["headers"]["x-auth-token"], "t",
            "a safe header, any case"
        );
        assert_eq!(
            event["extra"]["password"], FILTERED,
            "built-ins still apply"
        );
        assert_eq!(
            report.count_by_rule(),
            BTreeMap::from([("extra_field", 2), ("password", 1)]),
            "counts"
        );
    }

    #[test]
    fn disabled_scrubbing_changes_nothing() {
        let input = json!({"extra": {"password": "p"}, "user": {"ip_address": "1.2.3.4"}});
        let mut event = input.clone();
        let cfg = ScrubConfig {
            enabled: false,
            ..ScrubConfig::default()
        };
        assert!(scrub_event(&mut event, &cfg).is_empty(), "no report");
        assert_eq!(event, input, "no change");
    }

    #[test]
    fn recursion_stops_at_max_depth() {
        let mut deep = json!("4111111111111111");
        for _ in 0..MAX_DEPTH + 10 {
            deep = json!([deep]);
        }
        let (got, found) = scrub(json!({ "extra": deep }));
        let mut v = &got["extra"];
        let mut levels = 1;
        while let Value::Array(a) = v {
            v = &a[0];
            levels += 1;
        }
        assert_eq!(v, &json!(FILTERED), "the part too deep to walk is filtered");
        assert_eq!(levels, MAX_DEPTH, "at the cap");
        assert_eq!(found.len(), 1, "one redaction");
        assert_eq!(found[0].1, "max_depth", "named max_depth");
    }

    #[test]
    fn reports_summarise_and_stay_bounded() {
        let cases = [
            (0, "no values filtered", "nothing"),
            (1, "1 value filtered (password)", "one"),
            (3, "3 values filtered (password)", "several"),
        ];
        for (n, want, why) in cases {
            let extra: serde_json::Map<String, Value> = (0..n)
                .map(|i| (format!("password{i}"), json!("p")))
                .collect();
            let mut event = json!({ "extra": extra });
            let report = scrub_event(&mut event, &ScrubConfig::default());
            assert_eq!(report.summary(), want, "{why}");
        }
        let mut event = json!({"extra": {"password": "p"}, "message": "4111111111111111"});
        let report = scrub_event(&mut event, &ScrubConfig::default());
        assert_eq!(
            report.summary(),
            "2 values filtered (password, credit_card)",
            "rules in the order they fired"
        );
        let many: serde_json::Map<String, Value> = (0..MAX_LISTED_REDACTIONS + 5)
            .map(|i| (format!("token{i:04}"), json!("t")))
            .collect();
        let mut event = json!({ "extra": many });
        let report = scrub_event(&mut event, &ScrubConfig::default());
        assert_eq!(
            report.redactions.len(),
            MAX_LISTED_REDACTIONS,
            "listed up to the cap"
        );
        assert_eq!(
            report.unlisted,
            BTreeMap::from([("password", 5)]),
            "the rest counted"
        );
        assert_eq!(report.total(), MAX_LISTED_REDACTIONS + 5, "total");
    }

    #[test]
    fn configs_are_validated() {
        let long = "k".repeat(MAX_FIELD_BYTES + 1);
        let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("f{i}")).collect();
        let cases = [
            (json!({}), Ok(ScrubConfig::default()), "defaults"),
            (json!({"enabled": false}), Ok(ScrubConfig { enabled: false, ..ScrubConfig::default() }), "disabled"),
            (json!({"extra_fields": ["ssn"], "scrub_ip": false}), Ok(ScrubConfig { extra_fields: vec!["ssn".into()], scrub_ip: false, ..ScrubConfig::default() }), "fields"),
            (json!({"extra_fields": [long]}), Err(format!("extra_fields[0] is 129 bytes long; at most {MAX_FIELD_BYTES} are allowed")), "too long"),
            (json!({"safe_fields": many}), Err(format!("safe_fields has 65 entries; at most {MAX_FIELDS} are allowed")), "too many"),
            (json!({"safe_fields": ["a", " "]}), Err("safe_fields[1] is empty".to_string()), "empty"),
            (json!({"scrub_ips": true}), Err("invalid scrub config: unknown field `scrub_ips`, expected one of `enabled`, `extra_fields`, `safe_fields`, `scrub_ip`".to_string()), "unknown key"),
            (json!({"enabled": "yes"}), Err("invalid scrub config: invalid type: string \"yes\", expected a boolean".to_string()), "wrong type"),
        ];
        for (input, want, why) in cases {
            let got = parse_config(&input).map_err(|e| e.to_string());
            assert_eq!(got, want, "{why}");
        }
    }

    #[test]
    fn keys_decode_for_matching() {
        let cases = [
            ("api%5Fkey", true, "api_key", "encoded underscore"),
            ("a+b", true, "a b", "plus as space"),
            ("a+b", false, "a+b", "plus kept in cookies"),
            ("100%", true, "100%", "a lone percent"),
            ("%zz", true, "%zz", "not hex"),
        ];
        for (input, plus, want, why) in cases {
            assert_eq!(percent_decode(input, plus), want, "{why}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            let cases = std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(256);
            ProptestConfig {
                cases,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        /// Pieces that trigger (or nearly trigger) every rule, glued to random text.
        fn text() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                ".{0,12}",
                prop::sample::select(vec![
                    "4111 1111 1111 1111",
                    "4111111111111111",
                    "5555-5555-5555-4444",
                    "4111111111111112",
                    "Bearer abcdefghijkl",
                    "bearer ",
                    "DE89 3704 0044 0532 0130 00",
                    "GB82WEST12345698765432",
                    "https://u:p@h/x?token=1&a=2",
                    "://",
                    "@",
                    "/home/al/x",
                    "/Users/",
                    "C:\\Users\\Jo Doe\\x",
                    "-----BEGIN RSA PRIVATE KEY-----\nabc\n",
                    "-----END RSA PRIVATE KEY-----",
                    "a=1&password=2",
                    "sid=1; theme=x",
                    "{\"password\":\"x\",\"n\":4111111111111111}",
                    "[1,2]",
                    "{{auto}}",
                    "1.2.3.4",
                    "::1",
                    " ",
                    "=",
                    "&",
                    ";",
                    "?",
                    "#",
                    "[Filtered]",
                    "[user]",
                    "5",
                    "-",
                    ".",
                ])
                .prop_map(String::from),
            ];
            prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
        }

        fn key() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
                    "password",
                    "request",
                    "headers",
                    "cookies",
                    "query_string",
                    "data",
                    "url",
                    "env",
                    "REMOTE_ADDR",
                    "user",
                    "ip_address",
                    "tags",
                    "Authorization",
                    "Cookie",
                    "X-Forwarded-For",
                    "extra",
                    "author",
                    "message",
                    "values",
                    "http.query",
                    "session",
                    "accessToken",
                ])
                .prop_map(String::from),
                "[a-zA-Z_.-]{0,8}",
            ]
        }

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<u64>().prop_map(|n| json!(n)),
                Just(json!(4111111111111111u64)),
                any::<f64>().prop_map(|f| json!(f)),
                text().prop_map(Value::String),
            ];
            leaf.prop_recursive(5, 64, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                    prop::collection::vec((key(), inner.clone()), 0..5)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                    prop::collection::vec((key(), inner), 0..4).prop_map(|kv| Value::Array(
                        kv.into_iter().map(|(k, v)| json!([k, v])).collect()
                    )),
                ]
            })
        }

        fn event() -> impl Strategy<Value = Value> {
            prop::collection::vec((key(), json()), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect()))
        }

        /// A Luhn-valid card number of 13–19 digits starting with 2–6, and how it is written.
        fn card() -> impl Strategy<Value = (String, String)> {
            (2u8..=6, prop::collection::vec(0u8..10, 11..=17), 0..3usize).prop_map(
                |(first, rest, style)| {
                    let mut digits: Vec<u8> = std::iter::once(first).chain(rest).collect();
                    let sum: u32 = digits
                        .iter()
                        .rev()
                        .enumerate()
                        .map(|(i, &d)| {
                            let d = u32::from(d);
                            if i % 2 == 0 {
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
                    digits.push(u8::try_from((10 - sum % 10) % 10).unwrap());
                    let plain: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
                    let written = match style {
                        0 => plain.clone(),
                        _ => {
                            let sep = if style == 1 { " " } else { "-" };
                            plain
                                .as_bytes()
                                .chunks(4)
                                .map(|c| std::str::from_utf8(c).unwrap())
                                .collect::<Vec<_>>()
                                .join(sep)
                        }
                    };
                    (plain, written)
                },
            )
        }

        fn place(event: &mut Value, at: usize, text: String) {
            let slot = match at {
                0 => json!({"message": text}),
                1 => json!({"extra": {"note": text}}),
                2 => json!({"exception": {"values": [{"value": text}]}}),
                3 => json!({"breadcrumbs": {"values": [{"message": text}]}}),
                4 => json!({"request": {"data": text}}),
                5 => json!({"request": {"query_string": format!("q={text}")}}),
                6 => json!({"request": {"cookies": format!("c={text}")}}),
                7 => json!({"request": {"url": format!("https://x.example/p?q={text}")}}),
                8 => json!({"tags": [["t", text]]}),
                9 => json!({"request": {"headers": {"X-Forwarded-For": text}}}),
                _ => json!({"user": {"ip_address": text}}),
            };
            let (Value::Object(event), Value::Object(slot)) = (event, slot) else {
                return;
            };
            for (k, v) in slot {
                event.insert(k, v);
            }
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn never_panics_and_is_idempotent(mut event in event()) {
                let first = scrub_event(&mut event, &ScrubConfig::default());
                let once = event.clone();
                let second = scrub_event(&mut event, &ScrubConfig::default());
                prop_assert_eq!(&event, &once, "scrubbing twice = once (first report {:?})", first);
                prop_assert!(second.is_empty(), "nothing left to report: {:?}", second);
            }

            #[test]
            fn no_card_number_survives(
                mut event in event(),
                (plain, written) in card(),
                before in text(),
                after in text(),
                delims in (prop::sample::select(vec![" ", "\n", ",", ":", "(", "\"", "="]), prop::sample::select(vec![" ", "\n", ",", ")", "\"", ";", "&"])),
                at in 0..11usize,
            ) {
                place(&mut event, at, format!("{before}{}{written}{}{after}", delims.0, delims.1));
                scrub_event(&mut event, &ScrubConfig::default());
                let out = event.to_string();
                prop_assert!(!out.contains(&plain) && !out.contains(&written), "card {} left in {}", written, out);
            }
        }
    }
}

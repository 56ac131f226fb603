//! Breadcrumbs: what happened on the page before an error (clicks, navigations, console
//! warnings, HTTP requests), kept in a bounded ring buffer and attached to every event.

use alloc::collections::VecDeque;

use crate::prelude::*;

use crate::sdk::{cat, truncate};
use crate::sdk_event::{push_str, push_timestamp, push_u64, Obj};

/// Default number of breadcrumbs kept (Sentry's default).
pub const DEFAULT_MAX_BREADCRUMBS: usize = 100;
/// Most breadcrumbs one page may keep, whatever the options say.
pub const MAX_BREADCRUMBS: usize = 100;
/// Longest message or data value kept (bytes).
pub const MAX_CRUMB_VALUE: usize = 1024;
/// Longest click selector (Sentry's limit for `htmlTreeAsString`).
pub const MAX_SELECTOR_LEN: usize = 80;

/// A data value: text or a whole number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Text.
    Str(String),
    /// A whole number (status codes, durations in ms).
    Num(u64),
}

/// One breadcrumb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breadcrumb {
    /// When (epoch milliseconds).
    pub epoch_ms: u64,
    /// `default`, `http` or `navigation` (Sentry's breadcrumb types).
    pub ty: &'static str,
    /// `ui.click`, `navigation`, `console`, `fetch`, `xhr`, or the page's own.
    pub category: String,
    /// `fatal`, `error`, `warning`, `info` or `debug`.
    pub level: &'static str,
    /// Free text.
    pub message: Option<String>,
    /// Structured data, in insertion order.
    pub data: Vec<(&'static str, Value)>,
}

impl Breadcrumb {
    /// A `default` breadcrumb with a message (bounded).
    pub fn new(epoch_ms: u64, category: &str, level: &'static str, message: String) -> Self {
        Self {
            epoch_ms,
            ty: "default",
            category: truncate(category, 64).into(),
            level,
            message: Some(bounded(message)),
            data: Vec::new(),
        }
    }

    /// An HTTP request made with `fetch` or `XMLHttpRequest` (`category`). `status` is `None`
    /// for a network error. Level: `error` for network errors and 5xx, `warning` for 4xx.
    pub fn http(
        epoch_ms: u64,
        category: &str,
        method: &str,
        url: &str,
        status: Option<u16>,
        duration_ms: u64,
    ) -> Self {
        let level = match status {
            None => "error",
            Some(s) if s >= 500 => "error",
            Some(s) if s >= 400 => "warning",
            Some(_) => "info",
        };
        let mut data = vec![
            ("method", Value::Str(truncate(method, 32).into())),
            ("url", Value::Str(truncate(url, MAX_CRUMB_VALUE).into())),
        ];
        if let Some(s) = status {
            data.push(("status_code", Value::Num(u64::from(s))));
        }
        data.push(("duration_ms", Value::Num(duration_ms)));
        Self {
            epoch_ms,
            ty: "http",
            category: category.into(),
            level,
            message: None,
            data,
        }
    }

    /// A navigation from one URL to another (history API, `popstate`, `hashchange`).
    pub fn navigation(epoch_ms: u64, from: &str, to: &str) -> Self {
        Self {
            epoch_ms,
            ty: "navigation",
            category: "navigation".into(),
            level: "info",
            message: None,
            data: vec![
                ("from", Value::Str(truncate(from, MAX_CRUMB_VALUE).into())),
                ("to", Value::Str(truncate(to, MAX_CRUMB_VALUE).into())),
            ],
        }
    }

    /// Appends the breadcrumb as JSON.
    pub fn write_json(&self, out: &mut String) {
        let mut o = Obj::new(out);
        push_timestamp(o.key("timestamp"), self.epoch_ms);
        o.str("type", self.ty);
        o.str("category", &self.category);
        o.str("level", self.level);
        o.opt_str("message", self.message.as_deref());
        if !self.data.is_empty() {
            let mut d = Obj::new(o.key("data"));
            for (k, v) in &self.data {
                match v {
                    Value::Str(s) => push_str(d.key(k), s),
                    Value::Num(n) => push_u64(d.key(k), *n),
                }
            }
            d.end();
        }
        o.end();
    }
}

fn bounded(s: String) -> String {
    if s.len() <= MAX_CRUMB_VALUE {
        s
    } else {
        truncate(&s, MAX_CRUMB_VALUE).into()
    }
}

/// The ring buffer: keeps the newest `max` breadcrumbs.
#[derive(Debug, Clone, Default)]
pub struct Breadcrumbs {
    items: VecDeque<Breadcrumb>,
    max: usize,
}

impl Breadcrumbs {
    /// An empty buffer keeping at most `max` (itself at most [`MAX_BREADCRUMBS`]).
    pub const fn new(max: usize) -> Self {
        Self {
            items: VecDeque::new(),
            max: if max < MAX_BREADCRUMBS {
                max
            } else {
                MAX_BREADCRUMBS
            },
        }
    }

    /// Changes the capacity, dropping the oldest if needed.
    pub fn set_max(&mut self, max: usize) {
        self.max = max.min(MAX_BREADCRUMBS);
        while self.items.len() > self.max {
            self.items.pop_front();
        }
    }

    /// Adds one, evicting the oldest when full.
    pub fn push(&mut self, crumb: Breadcrumb) {
        if self.max == 0 {
            return;
        }
        if self.items.len() >= self.max {
            self.items.pop_front();
        }
        self.items.push_back(crumb);
    }

    /// Oldest first.
    pub fn to_vec(&self) -> Vec<Breadcrumb> {
        self.items.iter().cloned().collect()
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none are kept.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Forgets them all.
    pub fn clear(&mut self) {
        self.items.clear();
    }
}

/// One element of a click selector: `tag#id.class1.class2` (lowercase tag, at most three
/// classes, characters outside `[A-Za-z0-9_-]` dropped from id and classes).
pub fn element_selector(tag: &str, id: &str, class_name: &str) -> String {
    let mut out = String::new();
    out.push_str(&truncate(tag, 32).to_ascii_lowercase());
    let clean = |s: &str, out: &mut String| {
        out.extend(
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .take(32),
        );
    };
    if !id.is_empty() {
        out.push('#');
        clean(id, &mut out);
    }
    for class in class_name.split_ascii_whitespace().take(3) {
        out.push('.');
        clean(class, &mut out);
    }
    out
}

/// Joins element selectors, innermost first in `elements`, into `outer > inner`, adding
/// ancestors only while the result stays within [`MAX_SELECTOR_LEN`] (the innermost is always
/// kept, cut if needed).
pub fn selector_path(elements: &[String]) -> String {
    let Some(first) = elements.first() else {
        return String::new();
    };
    let mut out = truncate(first, MAX_SELECTOR_LEN).to_string();
    for el in &elements[1..] {
        if out.len() + el.len() + 3 > MAX_SELECTOR_LEN {
            break;
        }
        out = cat(&[el.as_str(), " > ", &out]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crumb(i: u64) -> Breadcrumb {
        Breadcrumb::new(i, "test", "info", i.to_string())
    }

    #[test]
    fn ring_buffer_keeps_the_newest() {
        let mut b = Breadcrumbs::new(3);
        for i in 0..5 {
            b.push(crumb(i));
        }
        let kept: Vec<u64> = b.to_vec().iter().map(|c| c.epoch_ms).collect();
        assert_eq!(kept, [2, 3, 4], "oldest evicted first");
        b.set_max(2);
        assert_eq!(b.len(), 2, "shrinking drops the oldest");
        assert_eq!(b.to_vec()[0].epoch_ms, 3);
        let mut none = Breadcrumbs::new(0);
        none.push(crumb(1));
        assert!(none.is_empty(), "max 0 keeps nothing");
        assert_eq!(Breadcrumbs::new(10_000).max, MAX_BREADCRUMBS, "capped");
    }

    #[test]
    fn http_levels_and_data() {
        let cases = [
            (None, "error", "network error"),
            (Some(503), "error", "5xx"),
            (Some(404), "warning", "4xx"),
            (Some(200), "info", "ok"),
        ];
        for (status, level, name) in cases {
            let c = Breadcrumb::http(1, "fetch", "GET", "http://a/x", status, 12);
            assert_eq!(c.level, level, "case {name}");
            assert_eq!(c.ty, "http");
            assert_eq!(
                c.data.iter().any(|(k, _)| *k == "status_code"),
                status.is_some(),
                "case {name}"
            );
        }
        let mut out = String::new();
        Breadcrumb::http(1_500, "xhr", "POST", "http://a/\"x", Some(500), 7).write_json(&mut out);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["data"]["status_code"], 500);
        assert_eq!(v["data"]["duration_ms"], 7);
        assert_eq!(v["data"]["url"], "http://a/\"x");
        assert_eq!(v["category"], "xhr");
        assert_eq!(v["timestamp"].as_f64(), Some(1.5));
    }

    #[test]
    fn values_are_bounded() {
        let c = Breadcrumb::new(0, "console", "warning", "x".repeat(5000));
        assert_eq!(c.message.unwrap().len(), MAX_CRUMB_VALUE);
        let n = Breadcrumb::navigation(0, &"a".repeat(3000), "/b");
        assert_eq!(n.data[0].1, Value::Str("a".repeat(MAX_CRUMB_VALUE)));
    }

    #[test]
    fn selectors() {
        let cases = [
            ("BUTTON", "save", "btn primary", "button#save.btn.primary"),
            ("div", "", "", "div"),
            ("a", "x\"y", "a b c d", "a#xy.a.b.c"),
            ("SPAN", "", "  two   spaces ", "span.two.spaces"),
        ];
        for (tag, id, class, want) in cases {
            assert_eq!(element_selector(tag, id, class), want, "case {want}");
        }
        let path = selector_path(&["button#go".into(), "form.checkout".into(), "body".into()]);
        assert_eq!(path, "body > form.checkout > button#go");
        let long: Vec<String> = (0..10).map(|i| format!("div.level-{i}-xxxxxxxx")).collect();
        let p = selector_path(&long);
        assert!(p.len() <= MAX_SELECTOR_LEN, "{p}");
        assert!(p.ends_with("div.level-0-xxxxxxxx"), "innermost kept: {p}");
        assert_eq!(selector_path(&[]), "");
    }
}

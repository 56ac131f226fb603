//! Events from browsers too old for the project to support, when the project turns this on.
//!
//! The list (one per family, by major version): every Internet Explorer (≤ 11), Edge before the
//! Chromium one (< 79, EdgeHTML), Safari on macOS and iOS before 12, Chrome before 80, Firefox
//! before 80, Opera before 67 (its Chromium 80) and Samsung Internet before 12 (its Chromium 79).
//! That is roughly "no ES2019 and no optional chaining": what a 2020-era build target drops. A
//! browser the parser does not name, or without a version, is never filtered.

use super::user_agent::{major, Parsed};

/// The oldest supported major version per browser family; a lower one is filtered. `u32::MAX`
/// means every version.
const MIN_MAJOR: &[(&str, u32)] = &[
    ("IE", u32::MAX),
    ("Edge", 79),
    ("Safari", 12),
    ("Chrome", 80),
    ("Firefox", 80),
    ("Opera", 67),
    ("Samsung Internet", 12),
];

/// Whether the parsed browser is on the legacy list.
pub(crate) fn matches(parsed: &Parsed) -> bool {
    let Some(browser) = &parsed.ctx.browser else {
        return false;
    };
    let Some(&(_, min)) = MIN_MAJOR.iter().find(|(n, _)| *n == browser.name) else {
        return false;
    };
    // IE has no supported version at all, so it needs none to be filtered.
    min == u32::MAX || major(browser).is_some_and(|m| m < min)
}

#[cfg(test)]
mod tests {
    use super::super::user_agent::parse;
    use super::*;

    #[test]
    fn old_browsers_are_filtered_new_ones_survive() {
        let cases = [
            ("Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.0; Trident/4.0)", true, "IE 8"),
            ("Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko", true, "IE 11"),
            ("Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)", true, "IE 10"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.17763", true, "EdgeHTML 18"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86", false, "Chromium Edge"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/11.1.2 Safari/605.1.15", true, "Safari 11"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.0 Safari/605.1.15", false, "Safari 12"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 10_3 like Mac OS X) AppleWebKit/603.1.30 (KHTML, like Gecko) Version/10.0 Mobile/14E277 Safari/602.1", true, "iOS Safari 10"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.130 Safari/537.36", true, "Chrome 79"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.87 Safari/537.36", false, "Chrome 80"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:78.0) Gecko/20100101 Firefox/78.0", true, "Firefox ESR 78"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", false, "Firefox 133"),
            ("Mozilla/5.0 (Linux; Android 9; SAMSUNG SM-G960F) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/10.1 Chrome/71.0.3578.99 Mobile Safari/537.36", true, "Samsung Internet 10"),
            ("Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", false, "Samsung Internet 26"),
            ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", false, "a crawler is not a legacy browser"),
            ("curl/8.5.0", false, "not a browser"),
            ("", false, "no user agent"),
        ];
        for (ua, want, why) in cases {
            assert_eq!(matches(&parse(ua)), want, "{why}: {ua}");
        }
    }
}

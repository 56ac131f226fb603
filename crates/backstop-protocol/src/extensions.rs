//! What marks an error as a browser extension's (or an injected script's) rather than the
//! page's: known messages, and the URLs of extension and injected code. One list for both
//! sides: the browser SDK drops such errors before sending, and the server's
//! `browser_extensions` inbound filter drops them for every SDK (counted under its reason).
//!
//! The lists are public data taken from Sentry Relay's `relay-filter/src/browser_extensions.rs`
//! (MIT-licensed project), plus the old Edge extension scheme, Firefox's `resource://` and
//! Google Translate's injected script. Matching is ASCII-case-insensitive by plain byte scans
//! (the SDK's wasm carries this code: no `core::fmt`, no generic searchers).

/// Substrings (any ASCII case) of an exception value that only extensions and injected scripts
/// produce.
pub const EXTENSION_MESSAGES: &[&str] = &[
    // Random plugins and extensions.
    "top.globals",
    // The "unfindable" error from injected scripts (errorception's write-up).
    "originalcreatenotification",
    "canvas.contentdocument",
    "myapp_removeallhighlights",
    "http://tt.epicplay.com",
    "can't find variable: zitereader",
    "jigsaw is not defined",
    "combosearch is not defined",
    "http://loading.retry.widdit.com/",
    "atomicfindclose",
    // Facebook's broken cross-domain fragment.
    "fb_xd_fragment",
    // ISP "optimising" proxies.
    "bmi_safeaddonload",
    "ebcallbackmessagereceived",
    // Chrome on iOS injects this.
    "_gcrweb",
    // Conduit toolbar.
    "conduitpage",
    // Google Search app on iOS.
    "null is not an object (evaluating 'elt.parentnode')",
    // Dragon web extension (Nuance).
    "plugin.setsuspendstate is not a function",
    // Chrome extension message passing after the extension was reloaded.
    "extension context invalidated",
    // Safari hides extension URLs behind this scheme.
    "webkit-masked-url:",
    // Firefox, when an extension touches a node of a closed document.
    "can't access dead object",
];

/// URL schemes of extension and browser code: a frame path starting with one (any ASCII case).
pub const EXTENSION_URL_PREFIXES: &[&str] = &[
    "chrome://",
    "chrome-extension://",
    "moz-extension://",
    "safari-extension://",
    "safari-web-extension://",
    "ms-browser-extension://",
    "resource://",
];

/// Substrings (any ASCII case) of a frame path of injected or blocked third-party scripts.
pub const EXTENSION_URL_PATTERNS: &[&str] = &[
    // Facebook flakiness, or blocked by the visitor's blocker.
    "graph.facebook.com",
    "connect.facebook.net",
    // Woopra.
    "eatdifferent.com.woopra-ns.com",
    "static.woopra.com/js/woopra.js",
    // Safari extensions.
    "webkit-masked-url",
    // Cacaoweb.
    "127.0.0.1:4001/isrunning",
    // Texthelp toolbar.
    "webappstoolbarba.texthelp.com/",
    "metrics.itunes.apple.com.edgesuite.net/",
    // Kaspersky's protection extension.
    "kaspersky-labs.com",
    // Google Translate's injected script.
    "translate.googleapis.com",
];

/// Frame paths that say nothing about where the code came from: skipped to find the frame
/// whose URL is judged.
pub const PLACEHOLDER_PATHS: &[&str] = &["<anonymous>", "[native code]", "native"];

/// Whether an exception's value (or message) is one extensions are known to cause.
pub fn is_extension_message(value: &str) -> bool {
    EXTENSION_MESSAGES
        .iter()
        .any(|p| contains_ignore_ascii_case(value.as_bytes(), p.as_bytes()))
}

/// Whether a frame path is an extension's, the browser's own or a known injected script's.
pub fn is_extension_url(path: &str) -> bool {
    let path = path.trim_start().as_bytes();
    EXTENSION_URL_PREFIXES.iter().any(|p| {
        path.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes()))
    }) || EXTENSION_URL_PATTERNS
        .iter()
        .any(|p| contains_ignore_ascii_case(path, p.as_bytes()))
}

/// Whether `needle` (lowercase ASCII) occurs in `hay`, ignoring ASCII case.
fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_in_any_case() {
        assert!(is_extension_message("Cannot read top.GLOBALS of undefined"));
        assert!(is_extension_message(
            "Error: Extension context invalidated."
        ));
        assert!(is_extension_message("TypeError: can't access DEAD object"));
        assert!(!is_extension_message("x is not defined"));
        assert!(!is_extension_message(""));
    }

    #[test]
    fn urls_match_by_scheme_or_known_script() {
        for (url, want) in [
            ("chrome-extension://abc/content.js", true),
            ("  MOZ-EXTENSION://x/y.js", true),
            ("safari-web-extension://x/y.js", true),
            ("resource://gre/modules/x.jsm", true),
            ("https://translate.googleapis.com/x.js", true),
            ("https://connect.facebook.net/en_US/sdk.js", true),
            ("https://app.test/chrome-extension.js", false),
            ("https://app.test/a.js", false),
            ("", false),
        ] {
            assert_eq!(is_extension_url(url), want, "url {url}");
        }
    }

    #[test]
    fn every_pattern_is_lowercase_so_it_matches() {
        for p in EXTENSION_MESSAGES
            .iter()
            .chain(EXTENSION_URL_PREFIXES)
            .chain(EXTENSION_URL_PATTERNS)
        {
            assert!(!p.bytes().any(|b| b.is_ascii_uppercase()), "{p}");
            assert!(
                is_extension_message(p) || is_extension_url(p),
                "{p} matches itself"
            );
        }
    }
}

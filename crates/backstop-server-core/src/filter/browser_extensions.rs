//! Errors raised by browser extensions, injected toolbars and ISP proxies rather than the
//! project's code: known messages in an exception's value, or a stack whose top frame comes from
//! an extension URL or a known injected script.
//!
//! The lists and their matching live in `backstop_protocol::extensions`, shared with the
//! browser SDK (which drops the same errors before sending).

use backstop_protocol::extensions::{is_extension_message, is_extension_url, PLACEHOLDER_PATHS};
use serde_json::Value;

use super::view;

/// Whether the event looks caused by an extension: any exception's value has a known extension
/// message, or any stack's top real frame comes from an extension or injected script.
pub(crate) fn matches(event: &Value) -> bool {
    let by_value = view::exceptions(event)
        .filter_map(|e| view::str_at(e, "value"))
        .any(is_extension_message);
    by_value
        || view::stacks(event)
            .filter_map(top_path)
            .any(is_extension_url)
}

/// The path of the newest frame that has a real one.
fn top_path(frames: &[Value]) -> Option<&str> {
    frames
        .iter()
        .rev()
        .filter_map(view::frame_path)
        .find(|p| !PLACEHOLDER_PATHS.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_value(v: &str) -> Value {
        json!({"exception": {"values": [{"type": "Error", "value": v}]}})
    }

    /// An exception whose stack has `path` as the top frame, with placeholder frames above it.
    fn with_top_frame(path: &str) -> Value {
        json!({"exception": {"values": [{"type": "TypeError", "value": "x is undefined",
        "stacktrace": {"frames": [
            {"abs_path": "https://app.example.com/main.js", "function": "boot"},
            {"abs_path": path, "function": "run"},
            {"abs_path": "<anonymous>"},
            {"filename": "[native code]"},
            {"function": "noPath"}
        ]}}]}})
    }

    #[test]
    fn known_extension_messages_are_filtered() {
        let cases = [
            ("some error on top.GLOBALS", "top.GLOBALS"),
            ("TypeError: can't access dead object", "Firefox dead object"),
            (
                "Extension context invalidated.",
                "Chrome extension reloaded",
            ),
            ("Can't find variable: ZiteReader", "Zite reader"),
            ("bad news, we have a fb_xd_fragment", "Facebook fragment"),
            (
                "null is not an object (evaluating 'elt.parentNode')",
                "Google Search app",
            ),
            (
                "error at webkit-masked-url://hidden/",
                "Safari masked URL in the message",
            ),
            ("plugin.setSuspendState is not a function", "Dragon"),
            ("ERROR _gCrWeb", "Chrome iOS injection, any case"),
        ];
        for (value, why) in cases {
            assert!(matches(&with_value(value)), "{why}: {value:?}");
        }
    }

    #[test]
    fn extension_sources_are_filtered() {
        let cases = [
            ("chrome-extension://abcdef/content.js", "Chrome extension"),
            ("chrome://browser/content/x.js", "Chrome internal"),
            ("moz-extension://1234-5678/inject.js", "Firefox extension"),
            ("safari-extension://com.x.y/start.js", "Safari extension"),
            (
                "safari-web-extension://ABC/script.js",
                "Safari web extension",
            ),
            ("webkit-masked-url://hidden/", "Safari masked"),
            ("ms-browser-extension://x/y.js", "old Edge extension"),
            ("CHROME-EXTENSION://ABC/x.js", "scheme in capitals"),
            ("https://connect.facebook.net/en_US/sdk.js", "Facebook SDK"),
            (
                "https://fscr.kaspersky-labs.com/B-9B72/main.js",
                "Kaspersky",
            ),
            ("http://127.0.0.1:4001/isrunning", "Cacaoweb"),
        ];
        for (path, why) in cases {
            assert!(matches(&with_top_frame(path)), "{why}: {path}");
        }
        let by_filename = json!({"exception": [{"stacktrace": {"frames": [
            {"filename": "moz-extension://x/y.js"}]}}]});
        assert!(
            matches(&by_filename),
            "filename is read when abs_path is missing"
        );
        let message_stack = json!({"message": "m", "stacktrace": {"frames": [
            {"abs_path": "chrome-extension://x/y.js"}]}});
        assert!(
            matches(&message_stack),
            "a message event's own stack counts too"
        );
    }

    #[test]
    fn ordinary_errors_survive() {
        let survivors = [
            (
                with_value("Cannot read properties of undefined"),
                "ordinary message",
            ),
            (
                with_value("extensionHandler is not defined"),
                "the word extension in the app's own message",
            ),
            (
                with_top_frame("https://app.example.com/extension.js"),
                "an app file named extension",
            ),
            (
                with_top_frame("https://app.example.com/chrome-extension-detector.js"),
                "the scheme as a substring of an app path",
            ),
            (json!({}), "no exception at all"),
            (
                json!({"exception": "garbage"}),
                "exception of the wrong type",
            ),
        ];
        for (event, why) in survivors {
            assert!(!matches(&event), "{why}");
        }
        let deep = json!({"exception": [{"stacktrace": {"frames": [
            {"abs_path": "chrome-extension://x/hook.js", "function": "patchedFetch"},
            {"abs_path": "https://app.example.com/main.js", "function": "load"}]}}]});
        assert!(
            !matches(&deep),
            "an extension frame below the app's top frame is not enough"
        );
    }
}

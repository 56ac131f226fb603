//! "Not our scripts": errors whose code is not the project's. With a list of allowed script
//! origins, an event is dropped when the top frame of its main stack is served over http(s)
//! from any other origin (an ad network, a chat widget, a tag manager's payload).
//!
//! The top frame is the newest frame that is in-app (`in_app` is not `false`) and whose path is
//! an absolute URL: `<anonymous>`, `native`, `[native code]` and relative names are skipped. The
//! main stack is that of the last exception that has frames (Sentry's order puts the caught
//! exception last), else the event's own `stacktrace`. Without such a frame, or when it is not
//! http(s) (`chrome-extension:`, `file:`, `app:`), the event is kept: this filter only drops
//! what it can attribute to another web origin.

use serde_json::Value;
use url::Url;

use super::view;

/// Whether the event's top real frame is an http(s) script from an origin not in `allowed`
/// (normalised with [`normalise_origin`]). An empty list filters nothing.
pub(crate) fn matches(event: &Value, allowed: &[String]) -> bool {
    if allowed.is_empty() {
        return false;
    }
    let Some(url) = main_frames(event).and_then(top_url) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    let origin = url.origin().ascii_serialization();
    !allowed.contains(&origin)
}

fn main_frames(event: &Value) -> Option<&[Value]> {
    let last_exception = view::exceptions(event)
        .map(view::frames)
        .filter(|f| !f.is_empty())
        .last();
    last_exception.or_else(|| {
        event
            .get("stacktrace")
            .and_then(|s| s.get("frames"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
    })
}

fn top_url(frames: &[Value]) -> Option<Url> {
    frames
        .iter()
        .rev()
        .filter(|f| f.get("in_app").and_then(Value::as_bool) != Some(false))
        .filter_map(view::frame_path)
        .find_map(|p| Url::parse(p).ok())
}

/// Why an allowed-origin entry is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginError {
    /// Not a URL at all.
    NotUrl,
    /// Another scheme than http or https.
    Scheme,
    /// A path, query, fragment or user name after the host.
    NotBare,
}

impl OriginError {
    /// What the owner should fix.
    pub fn as_str(self) -> &'static str {
        match self {
            OriginError::NotUrl => "not a URL; write it like https://cdn.example.com",
            OriginError::Scheme => "only http and https origins serve scripts",
            OriginError::NotBare => {
                "an origin is scheme, host and port only, without path, query or user"
            }
        }
    }
}

/// An origin as the browser writes it: lowercase scheme and host (IDNA to punycode), the port
/// only when it is not the scheme's default. `https://CDN.Example.com:443/` becomes
/// `https://cdn.example.com`.
pub fn normalise_origin(s: &str) -> Result<String, OriginError> {
    let url = Url::parse(s.trim()).map_err(|_| OriginError::NotUrl)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OriginError::Scheme);
    }
    if url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(OriginError::NotBare);
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn allowed() -> Vec<String> {
        ["https://app.example.com", "https://cdn.example.com:8443"]
            .iter()
            .map(|o| normalise_origin(o).unwrap())
            .collect()
    }

    fn with_frames(frames: Value) -> Value {
        json!({"exception": {"values": [{"type": "Error", "stacktrace": {"frames": frames}}]}})
    }

    #[test]
    fn foreign_scripts_are_filtered() {
        let cases = [
            (
                json!([{"abs_path": "https://ads.example.net/ad.js"}]),
                "another origin",
            ),
            (
                json!([{"abs_path": "http://app.example.com/main.js"}]),
                "same host, other scheme",
            ),
            (
                json!([{"abs_path": "https://cdn.example.com/x.js"}]),
                "same host, other port",
            ),
            (
                json!([{"abs_path": "https://app.example.com/main.js"},
                       {"abs_path": "https://widget.example.org/chat.js"},
                       {"abs_path": "<anonymous>"}, {"filename": "native"}, {"function": "f"}]),
                "top real frame is foreign, placeholders above it skipped",
            ),
            (
                json!([{"abs_path": "https://tags.example.org/gtm.js"},
                       {"abs_path": "https://app.example.com/vendor.js", "in_app": false}]),
                "a library frame is skipped to find the top in-app one",
            ),
            (
                json!([{"filename": "https://ads.example.net/ad.js"}]),
                "filename when no abs_path",
            ),
        ];
        for (frames, why) in cases {
            assert!(matches(&with_frames(frames), &allowed()), "{why}");
        }
        let message = json!({"message": "m", "stacktrace": {"frames": [
            {"abs_path": "https://ads.example.net/ad.js"}]}});
        assert!(matches(&message, &allowed()), "a message event's own stack");
    }

    #[test]
    fn own_scripts_and_unattributable_ones_survive() {
        let cases = [
            (
                json!([{"abs_path": "https://APP.example.com:443/main.js?v=3"}]),
                "own origin, any case, default port",
            ),
            (
                json!([{"abs_path": "https://cdn.example.com:8443/lib.js"}]),
                "second allowed origin",
            ),
            (
                json!([{"abs_path": "https://ads.example.net/ad.js"},
                       {"abs_path": "https://app.example.com/main.js"}]),
                "a foreign frame below our top frame",
            ),
            (
                json!([{"abs_path": "chrome-extension://abc/x.js"}]),
                "not http(s): for the extension filter",
            ),
            (
                json!([{"abs_path": "file:///home/dev/index.html"}]),
                "a file: page",
            ),
            (
                json!([{"abs_path": "<anonymous>"}, {"filename": "native"}]),
                "no real frame",
            ),
            (
                json!([{"filename": "main.js"}]),
                "relative names are not URLs",
            ),
            (json!([]), "no frames"),
        ];
        for (frames, why) in cases {
            assert!(!matches(&with_frames(frames), &allowed()), "{why}");
        }
        let foreign = with_frames(json!([{"abs_path": "https://ads.example.net/ad.js"}]));
        assert!(!matches(&foreign, &[]), "an empty list is off");
        let chained = json!({"exception": {"values": [
            {"stacktrace": {"frames": [{"abs_path": "https://ads.example.net/ad.js"}]}},
            {"stacktrace": {"frames": [{"abs_path": "https://app.example.com/main.js"}]}}]}});
        assert!(
            !matches(&chained, &allowed()),
            "the caught (last) exception decides"
        );
    }

    #[test]
    fn origins_normalise() {
        let cases: &[(&str, Result<&str, OriginError>, &str)] = &[
            (
                "https://CDN.Example.com",
                Ok("https://cdn.example.com"),
                "host lowercased",
            ),
            (
                "https://cdn.example.com/",
                Ok("https://cdn.example.com"),
                "trailing slash",
            ),
            (
                "https://cdn.example.com:443",
                Ok("https://cdn.example.com"),
                "default port dropped",
            ),
            (
                "http://localhost:8080",
                Ok("http://localhost:8080"),
                "port kept",
            ),
            (
                "https://bücher.example",
                Ok("https://xn--bcher-kva.example"),
                "IDNA",
            ),
            ("cdn.example.com", Err(OriginError::NotUrl), "no scheme"),
            ("ftp://cdn.example.com", Err(OriginError::Scheme), "ftp"),
            (
                "https://cdn.example.com/js/",
                Err(OriginError::NotBare),
                "a path",
            ),
            (
                "https://u@cdn.example.com",
                Err(OriginError::NotBare),
                "a user",
            ),
            (
                "https://cdn.example.com/?a",
                Err(OriginError::NotBare),
                "a query",
            ),
        ];
        for &(input, want, why) in cases {
            assert_eq!(
                normalise_origin(input).as_deref().map_err(|e| *e),
                want,
                "{why}: {input}"
            );
        }
    }
}

//! Lenient readers for the parts of an event the filters look at, accepting the shapes Sentry
//! SDKs send (the same leniency as `crate::event`): `exception` as `{values: [...]}` or a list,
//! `message` as a string or `{formatted|message}`, headers as an object or a list of pairs.

use serde_json::Value;

/// The exception objects, in the order sent (Sentry's order: the caught one last).
pub(crate) fn exceptions(event: &Value) -> impl Iterator<Item = &Value> {
    let list = match event.get("exception") {
        Some(Value::Object(o)) => o.get("values").and_then(Value::as_array),
        Some(Value::Array(a)) => Some(a),
        _ => None,
    };
    list.into_iter().flatten().filter(|e| e.is_object())
}

/// The frames of one exception, oldest first (Sentry's order: the top of the stack last).
pub(crate) fn frames(exception: &Value) -> &[Value] {
    exception
        .get("stacktrace")
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Every stack in the event: each exception's, then a message event's top-level `stacktrace`.
pub(crate) fn stacks(event: &Value) -> impl Iterator<Item = &[Value]> {
    let top = event
        .get("stacktrace")
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)
        .map(Vec::as_slice);
    exceptions(event).map(frames).chain(top)
}

/// Where a frame's code came from: `abs_path`, else `filename`.
pub(crate) fn frame_path(frame: &Value) -> Option<&str> {
    ["abs_path", "filename"]
        .iter()
        .filter_map(|k| frame.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .find(|s| !s.is_empty())
}

/// A string field of an object.
pub(crate) fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The event's log messages: `message` (a string or `{formatted, message}`) and `logentry`.
pub(crate) fn messages(event: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    for key in ["message", "logentry"] {
        match event.get(key) {
            Some(Value::String(s)) => out.push(s.as_str()),
            Some(o @ Value::Object(_)) => {
                out.extend(str_at(o, "formatted"));
                out.extend(str_at(o, "message"));
            }
            _ => {}
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The value of request header `name` (case-insensitive), from `request.headers` as an object
/// or a list of `[name, value]` pairs.
pub(crate) fn header<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    match event.get("request")?.get("headers")? {
        Value::Object(o) => o
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str()),
        Value::Array(pairs) => pairs.iter().find_map(|p| {
            let p = p.as_array()?;
            let k = p.first()?.as_str()?;
            if k.eq_ignore_ascii_case(name) {
                p.get(1)?.as_str()
            } else {
                None
            }
        }),
        _ => None,
    }
}

/// The browser's `User-Agent`, as the SDK reported it in `request.headers`.
pub(crate) fn user_agent(event: &Value) -> Option<&str> {
    header(event, "user-agent").filter(|s| !s.trim().is_empty())
}

/// The page or request URL.
pub(crate) fn request_url(event: &Value) -> Option<&str> {
    event.get("request").and_then(|r| str_at(r, "url"))
}

/// The user's IP: `user.ip_address`, where `{{auto}}` (the SDKs' "use the sender's address")
/// means `client_ip`.
pub(crate) fn user_ip<'a>(event: &'a Value, client_ip: Option<&'a str>) -> Option<&'a str> {
    match event.get("user").and_then(|u| str_at(u, "ip_address")) {
        Some("{{auto}}") => client_ip,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn readers_accept_the_shapes_sdks_send() {
        let listed = json!({"exception": [{"value": "a"}], "message": "m"});
        let nested = json!({"exception": {"values": [{"value": "a"}, 5]},
                            "logentry": {"formatted": "f", "message": "m"}});
        assert_eq!(exceptions(&listed).count(), 1, "exception as a list");
        assert_eq!(exceptions(&nested).count(), 1, "non-objects are skipped");
        assert_eq!(messages(&listed), vec!["m"], "message as a string");
        assert_eq!(
            messages(&nested),
            vec!["f", "m"],
            "logentry formatted and message"
        );

        let obj = json!({"request": {"headers": {"user-agent": "UA1"}}});
        let pairs = json!({"request": {"headers": [["X", "y"], ["User-Agent", "UA2"]]}});
        assert_eq!(
            user_agent(&obj),
            Some("UA1"),
            "headers as an object, any case"
        );
        assert_eq!(user_agent(&pairs), Some("UA2"), "headers as pairs");
        assert_eq!(user_agent(&json!({})), None, "no request");

        let auto = json!({"user": {"ip_address": "{{auto}}"}});
        assert_eq!(
            user_ip(&auto, Some("1.2.3.4")),
            Some("1.2.3.4"),
            "{{auto}} is the sender"
        );
        assert_eq!(
            user_ip(&json!({}), Some("1.2.3.4")),
            None,
            "no user, no user IP"
        );

        let frame = json!({"abs_path": " ", "filename": "app.js"});
        assert_eq!(
            frame_path(&frame),
            Some("app.js"),
            "blank abs_path falls back to filename"
        );
    }
}

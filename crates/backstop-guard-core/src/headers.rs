//! Which headers travel: hop-by-hop headers (RFC 9110 §7.6.1) are never forwarded, in either
//! direction; Backstop's own `X-Backstop-*` headers are never taken from a sender; attempts and
//! replays add theirs.

/// Headers that describe one connection, not the message.
pub const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The header that marks Backstop's own alert requests (set by the alert senders). A guarded
/// route refuses a request carrying it (508), so an alert can never become a held delivery and
/// another alert.
pub use backstop_server_core::alerting::ALERT_MARKER;
/// Delivery id, sent to the origin on every attempt so it can de-duplicate.
pub const DELIVERY_ID: &str = "x-backstop-delivery-id";
/// Replay number (1 for the first replay).
pub const REPLAY: &str = "x-backstop-replay";
/// Attempt number (1 for the first forward).
pub const ATTEMPT: &str = "x-backstop-attempt";

/// Most bytes of headers kept for a replay (Cloudflare's own request-header limit).
pub const MAX_STORED_HEADER_BYTES: usize = 128 * 1024;

/// Facts about the incoming connection, for `X-Forwarded-*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardInfo {
    /// The client's IP (`CF-Connecting-IP`).
    pub client_ip: Option<String>,
    /// The host the sender addressed.
    pub host: Option<String>,
    /// `http` or `https`.
    pub proto: Option<String>,
}

fn connection_tokens(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn is_hop_by_hop(name: &str, named_in_connection: &[String]) -> bool {
    let lower = name.to_ascii_lowercase();
    HOP_BY_HOP.contains(&lower.as_str()) || named_in_connection.contains(&lower)
}

/// The headers to send to the origin (and to keep for replays): the sender's headers without
/// hop-by-hop ones, `Host` and `Content-Length` (set from the target URL and the body stream),
/// the platform's `cf-*` headers and any `X-Backstop-*`; then `X-Forwarded-For/Host/Proto`.
pub fn forward_headers(incoming: &[(String, String)], info: &ForwardInfo) -> Vec<(String, String)> {
    let named = connection_tokens(incoming);
    let mut prior_xff: Option<String> = None;
    let mut out: Vec<(String, String)> = Vec::with_capacity(incoming.len() + 3);
    for (k, v) in incoming {
        let lower = k.to_ascii_lowercase();
        if is_hop_by_hop(&lower, &named)
            || lower == "host"
            || lower == "content-length"
            || lower.starts_with("cf-")
            || lower.starts_with("x-backstop-")
            || lower == "x-forwarded-host"
            || lower == "x-forwarded-proto"
            || lower == "x-real-ip"
        {
            continue;
        }
        if lower == "x-forwarded-for" {
            prior_xff = Some(v.clone());
            continue;
        }
        out.push((lower, v.clone()));
    }
    let xff = match (prior_xff, &info.client_ip) {
        (Some(prior), Some(ip)) => Some(format!("{prior}, {ip}")),
        (Some(prior), None) => Some(prior),
        (None, Some(ip)) => Some(ip.clone()),
        (None, None) => None,
    };
    if let Some(xff) = xff {
        out.push(("x-forwarded-for".into(), xff));
    }
    if let Some(host) = &info.host {
        out.push(("x-forwarded-host".into(), host.clone()));
    }
    if let Some(proto) = &info.proto {
        out.push(("x-forwarded-proto".into(), proto.clone()));
    }
    out
}

/// The origin's response headers to pass back to the sender: without hop-by-hop ones and
/// `Content-Length` (the runtime sets it from the streamed body).
pub fn response_headers(origin: &[(String, String)]) -> Vec<(String, String)> {
    let named = connection_tokens(origin);
    origin
        .iter()
        .filter(|(k, _)| !is_hop_by_hop(k, &named) && !k.eq_ignore_ascii_case("content-length"))
        .cloned()
        .collect()
}

/// Stored headers plus Backstop's for one attempt: the delivery id always, the attempt number,
/// and the replay number for a replay.
pub fn attempt_headers(
    stored: &[(String, String)],
    delivery_id: &str,
    attempt: u32,
    replay: Option<u32>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = stored
        .iter()
        .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("x-backstop-"))
        .cloned()
        .collect();
    out.push((DELIVERY_ID.into(), delivery_id.into()));
    out.push((ATTEMPT.into(), attempt.to_string()));
    if let Some(n) = replay {
        out.push((REPLAY.into(), n.to_string()));
    }
    out
}

/// Whether the request is one of Backstop's own alerts.
pub fn is_alert_request(incoming: &[(String, String)]) -> bool {
    incoming
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(ALERT_MARKER))
}

/// Headers serialised for storage (JSON array of pairs), or `None` when they are too large
/// to keep (the caller then refuses to hold what it could not replay faithfully).
pub fn store_headers(headers: &[(String, String)]) -> Option<String> {
    let json = serde_json::to_string(headers).ok()?;
    (json.len() <= MAX_STORED_HEADER_BYTES).then_some(json)
}

/// Stored headers read back; anything malformed reads as no headers.
pub fn load_headers(json: &str) -> Vec<(String, String)> {
    serde_json::from_str(json).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn forwards_end_to_end_headers_only() {
        let incoming = h(&[
            ("Host", "backstop.example"),
            ("Content-Type", "multipart/form-data; boundary=x"),
            ("Content-Length", "123"),
            ("Connection", "keep-alive, X-Secret-Hop"),
            ("X-Secret-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("TE", "trailers"),
            ("Upgrade", "h2c"),
            ("Proxy-Authorization", "Basic x"),
            ("CF-Connecting-IP", "203.0.113.9"),
            ("cf-ray", "abc"),
            ("X-Backstop-Replay", "99"),
            ("X-Forwarded-For", "198.51.100.1"),
            ("User-Agent", "Sendlib/1.0"),
            ("X-Twilio-Email-Event-Webhook-Signature", "sig=="),
        ]);
        let info = ForwardInfo {
            client_ip: Some("203.0.113.9".into()),
            host: Some("backstop.example".into()),
            proto: Some("https".into()),
        };
        let out = forward_headers(&incoming, &info);
        assert_eq!(
            out,
            h(&[
                ("content-type", "multipart/form-data; boundary=x"),
                ("user-agent", "Sendlib/1.0"),
                ("x-twilio-email-event-webhook-signature", "sig=="),
                ("x-forwarded-for", "198.51.100.1, 203.0.113.9"),
                ("x-forwarded-host", "backstop.example"),
                ("x-forwarded-proto", "https"),
            ])
        );
    }

    #[test]
    fn passes_origin_response_headers_without_hop_by_hop() {
        let out = response_headers(&h(&[
            ("content-type", "text/plain"),
            ("content-length", "2"),
            ("connection", "close"),
            ("transfer-encoding", "chunked"),
            ("x-app", "1"),
        ]));
        assert_eq!(out, h(&[("content-type", "text/plain"), ("x-app", "1")]));
    }

    #[test]
    fn attempts_carry_delivery_id_attempt_and_replay() {
        let stored = h(&[
            ("content-type", "application/json"),
            ("x-backstop-replay", "7"),
        ]);
        let cases = [
            (1, None, vec![("x-backstop-attempt", "1")]),
            (
                3,
                Some(2),
                vec![("x-backstop-attempt", "3"), ("x-backstop-replay", "2")],
            ),
        ];
        for (attempt, replay, extra) in cases {
            let out = attempt_headers(&stored, "wh_1", attempt, replay);
            let mut want = h(&[
                ("content-type", "application/json"),
                ("x-backstop-delivery-id", "wh_1"),
            ]);
            want.extend(h(&extra));
            assert_eq!(out, want, "attempt {attempt}");
        }
    }

    #[test]
    fn recognises_alert_requests_and_round_trips_storage() {
        assert!(is_alert_request(&h(&[("X-Backstop-Alert", "1")])));
        assert!(!is_alert_request(&h(&[("x-backstop-delivery-id", "wh_1")])));
        let headers = h(&[("a", "1"), ("b", "two")]);
        assert_eq!(load_headers(&store_headers(&headers).unwrap()), headers);
        assert_eq!(load_headers("not json"), Vec::<(String, String)>::new());
        let huge = h(&[("x-big", &"a".repeat(MAX_STORED_HEADER_BYTES))]);
        assert_eq!(store_headers(&huge), None);
    }
}

//! Events from a developer's own machine: the page was served from `localhost`, a loopback or
//! unspecified address, a `*.localhost` name or a `file:` URL, or the user's IP is loopback.
//!
//! Off by default, as in Sentry: a team that runs its app locally often wants to see those
//! errors in Backstop while it sets things up, and turning it on is one switch. Only the page
//! URL and an explicit `user.ip_address` are read, never the connecting address (nor
//! `{{auto}}`, which means it): a Backstop running under `wrangler dev` sees every sender as
//! 127.0.0.1, whatever page the event came from.

use std::net::IpAddr;

use serde_json::Value;
use url::{Host, Url};

use super::view;

/// Whether the event comes from the local machine.
pub(crate) fn matches(event: &Value) -> bool {
    let by_url = view::request_url(event)
        .and_then(|u| Url::parse(u.trim()).ok())
        .is_some_and(|u| is_local_url(&u));
    by_url
        || view::user_ip(event, None)
            .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
            .is_some_and(is_local_ip)
}

fn is_local_url(url: &Url) -> bool {
    if url.scheme() == "file" {
        return true;
    }
    match url.host() {
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => is_local_ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => is_local_ip(IpAddr::V6(ip)),
        None => false,
    }
}

fn is_local_ip(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    ip.is_loopback() || ip.is_unspecified()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at_url(url: &str) -> Value {
        json!({"request": {"url": url}})
    }

    #[test]
    fn local_pages_and_users_are_filtered() {
        let cases = [
            (at_url("http://localhost:3000/app"), "localhost with a port"),
            (at_url("http://LOCALHOST/"), "any case"),
            (at_url("http://localhost./"), "trailing dot"),
            (at_url("https://shop.localhost/cart"), "a *.localhost name"),
            (at_url("http://127.0.0.1:8080/"), "127.0.0.1"),
            (at_url("http://127.1.2.3/"), "anything in 127/8"),
            (at_url("http://0.0.0.0:5173/"), "0.0.0.0"),
            (at_url("http://[::1]:8080/"), "::1"),
            (at_url("http://[::ffff:127.0.0.1]/"), "v4-mapped loopback"),
            (at_url("file:///Users/dev/app/index.html"), "a file: page"),
            (
                json!({"user": {"ip_address": "127.0.0.1"}}),
                "loopback user IP",
            ),
            (
                json!({"user": {"ip_address": "::1"}}),
                "v6 loopback user IP",
            ),
        ];
        for (event, why) in cases {
            assert!(matches(&event), "{why}: {event}");
        }
    }

    #[test]
    fn other_pages_survive() {
        let cases = [
            (at_url("https://example.com/"), "a real site"),
            (
                at_url("https://localhost.example.com/"),
                "localhost as a subdomain of a real name",
            ),
            (at_url("https://mylocalhost/"), "localhost inside a name"),
            (
                at_url("https://localhost.com/"),
                "localhost.com is a real domain",
            ),
            (
                at_url("https://example.com/?next=http://localhost/"),
                "localhost in the query",
            ),
            (
                at_url("http://10.0.0.5/"),
                "a private address is not this machine",
            ),
            (at_url("not a url"), "unparsable URL"),
            (
                json!({"message": "cannot reach http://localhost:5432"}),
                "localhost in a message",
            ),
            (
                json!({"user": {"ip_address": "8.8.8.8"}}),
                "a public user IP",
            ),
            (
                json!({"user": {"ip_address": "localhost"}}),
                "a name where an IP belongs",
            ),
            (
                json!({"user": {"ip_address": "{{auto}}"}}),
                "{{auto}} is the sender, not read",
            ),
            (json!({}), "nothing to go on"),
        ];
        for (event, why) in cases {
            assert!(!matches(&event), "{why}: {event}");
        }
    }
}

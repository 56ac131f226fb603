//! IP addresses truncated to their network: an IPv4 address to its /24 (`1.2.3.4` → `1.2.3.0`),
//! an IPv6 address to its /48 (`2001:db8:85a3:8d3:1319:8a2e:370:7348` → `2001:db8:85a3::`), an
//! IPv4-mapped IPv6 address to the /24 of its IPv4 (`::ffff:1.2.3.4` → `::ffff:1.2.3.0`).
//!
//! Truncated rather than removed: the address no longer names a household, but events from one
//! user still share it, so "users affected" can still be counted when no user id is sent.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The truncated form of an address, or `None` when `s` is not an IP address (`{{auto}}`, a
/// host name, an address with a port or zone).
pub(crate) fn truncate(s: &str) -> Option<String> {
    let ip: IpAddr = s.trim().parse().ok()?;
    Some(match ip {
        IpAddr::V4(v4) => truncate_v4(v4).to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => truncate_v4(v4).to_ipv6_mapped().to_string(),
            None => {
                let s = v6.segments();
                Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0).to_string()
            }
        },
    })
}

fn truncate_v4(ip: Ipv4Addr) -> Ipv4Addr {
    let [a, b, c, _] = ip.octets();
    Ipv4Addr::new(a, b, c, 0)
}

/// A comma-separated list of addresses (`X-Forwarded-For`) with each address truncated and
/// everything else (spacing, entries that are not addresses such as `unknown`) kept; `None` when
/// nothing changed.
pub(crate) fn truncate_list(s: &str) -> Option<String> {
    let mut changed = false;
    let parts: Vec<String> = s
        .split(',')
        .map(|part| {
            let trimmed = part.trim();
            match truncate(trimmed) {
                Some(t) if t != trimmed => {
                    changed = true;
                    part.replacen(trimmed, &t, 1)
                }
                _ => part.to_string(),
            }
        })
        .collect();
    changed.then(|| parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_keep_their_network() {
        let cases = [
            ("1.2.3.4", Some("1.2.3.0"), "ipv4 to /24"),
            ("1.2.3.0", Some("1.2.3.0"), "already truncated"),
            (
                "2001:db8:85a3:8d3:1319:8a2e:370:7348",
                Some("2001:db8:85a3::"),
                "ipv6 to /48",
            ),
            (
                "2001:DB8:85A3::1",
                Some("2001:db8:85a3::"),
                "ipv6 written in capitals",
            ),
            ("::ffff:10.1.2.3", Some("::ffff:10.1.2.0"), "ipv4-mapped"),
            ("::1", Some("::"), "ipv6 loopback"),
            ("{{auto}}", None, "the SDK's placeholder"),
            ("1.2.3.4:80", None, "with a port"),
            ("example.com", None, "a host name"),
        ];
        for (input, want, why) in cases {
            assert_eq!(truncate(input).as_deref(), want, "{why}: {input}");
        }
    }

    #[test]
    fn forwarded_lists_are_truncated_entry_by_entry() {
        let cases = [
            (
                "203.0.113.7, 198.51.100.9",
                Some("203.0.113.0, 198.51.100.0"),
                "two hops",
            ),
            (
                "unknown, 10.0.0.5",
                Some("unknown, 10.0.0.0"),
                "a non-address entry stays",
            ),
            ("10.0.0.0", None, "nothing to change"),
        ];
        for (input, want, why) in cases {
            assert_eq!(truncate_list(input).as_deref(), want, "{why}: {input}");
        }
    }
}

//! IP ranges in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or one address), for the project's
//! IP-range filter.

use std::fmt;
use std::net::IpAddr;

/// A network: an address and a prefix length, with the bits past the prefix cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    net: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Parses `a.b.c.d/n`, `v6/n` or a bare address (a range of one). `None` when malformed or
    /// the prefix is longer than the address (32 bits for v4, 128 for v6).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                // Digits only: `u8::from_str` would take `+8`.
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (a, Some(p.parse::<u8>().ok()?))
            }
            None => (s, None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        Some(IpRange {
            net: mask(net, prefix),
            prefix,
        })
    }

    /// Whether `ip` is in the range. An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, as a
    /// dual-stack socket reports v4 clients) is compared as the v4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.net, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(ip, self.prefix) == self.net
            }
            _ => false,
        }
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// `ip` with every bit past `prefix` cleared.
fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & m).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_normalise() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("10.0.0.0/8", Some("10.0.0.0/8"), "plain v4 network"),
            ("10.1.2.3/8", Some("10.0.0.0/8"), "host bits cleared"),
            ("1.2.3.4", Some("1.2.3.4/32"), "bare v4 address"),
            ("0.0.0.0/0", Some("0.0.0.0/0"), "everything v4"),
            ("2001:db8::1/32", Some("2001:db8::/32"), "v6 network"),
            ("::1", Some("::1/128"), "bare v6 address"),
            ("::/0", Some("::/0"), "everything v6"),
            (
                " 10.0.0.0/8 ",
                Some("10.0.0.0/8"),
                "surrounding space ignored",
            ),
            ("10.0.0.0/33", None, "v4 prefix too long"),
            ("::/129", None, "v6 prefix too long"),
            ("10.0.0.0/", None, "empty prefix"),
            ("10.0.0.0/+8", None, "signed prefix"),
            ("10.0.0/8", None, "short address"),
            ("lol/bar", None, "not an address"),
            ("", None, "empty"),
        ];
        for &(input, want, why) in cases {
            let got = IpRange::parse(input).map(|r| r.to_string());
            assert_eq!(got.as_deref(), want, "{why}: {input:?}");
        }
    }

    #[test]
    fn ranges_contain_their_addresses() {
        let cases: &[(&str, &str, bool, &str)] = &[
            ("122.33.230.0/30", "122.33.230.1", true, "inside a /30"),
            ("122.33.230.0/30", "122.33.230.3", true, "last of a /30"),
            ("122.33.230.0/30", "122.33.230.4", false, "just past a /30"),
            ("1.2.3.4", "1.2.3.4", true, "single address"),
            ("1.2.3.4", "1.2.3.5", false, "single address, other"),
            ("0.0.0.0/0", "8.8.8.8", true, "everything"),
            ("a:b:c::0/126", "a:b:c::3", true, "v6 inside"),
            ("a:b:c::0/126", "a:b:c::4", false, "v6 outside"),
            ("10.0.0.0/8", "::ffff:10.1.2.3", true, "v4-mapped v6 is v4"),
            ("10.0.0.0/8", "2001:db8::1", false, "families differ"),
            ("::/0", "1.2.3.4", false, "a v6 range holds no v4 address"),
        ];
        for &(range, ip, want, why) in cases {
            let r = IpRange::parse(range).unwrap();
            assert_eq!(
                r.contains(ip.parse().unwrap()),
                want,
                "{why}: {range} ∋ {ip}"
            );
        }
    }
}

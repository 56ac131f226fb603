//! Which of two releases is newer, as a regression needs to know: semver when both parse (the
//! common `1.4.2` or `app@1.4.2` shapes), else the order in which they first appeared in the
//! environment. The glue looks the first-appearance times up; this module only compares.

use std::cmp::Ordering;

/// What the glue knows about one release in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFact {
    /// The release name as sent (`1.4.2`, `shop@1.4.2+build.7`, a git sha...).
    pub name: String,
    /// When it first appeared in this environment (epoch ms), if it ever did.
    pub first_seen_ms: Option<u64>,
}

/// The version part of a release name: after the last `@` (Sentry's `package@version`), with
/// a leading `v` dropped.
fn version_part(name: &str) -> &str {
    let v = name.rsplit_once('@').map_or(name, |(_, v)| v);
    v.strip_prefix('v')
        .or_else(|| v.strip_prefix('V'))
        .unwrap_or(v)
}

/// The release as semver, when it is one (`1.4` is read as `1.4.0`).
fn semver_of(name: &str) -> Option<semver::Version> {
    let v = version_part(name.trim());
    if let Ok(parsed) = semver::Version::parse(v) {
        return Some(parsed);
    }
    // `1.4` and `2`: common enough in release names to deserve the semver order.
    let (core, rest) = match v.find(['-', '+']) {
        Some(i) => v.split_at(i),
        None => (v, ""),
    };
    let dots = core.matches('.').count();
    if dots < 2
        && !core.is_empty()
        && core
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        let padded = format!("{core}{}{rest}", ".0".repeat(2 - dots));
        return semver::Version::parse(&padded).ok();
    }
    None
}

/// Whether `candidate` is newer than `baseline` in one environment. `None` when nothing tells
/// (neither parses as semver and one of them never appeared there).
pub fn is_newer(candidate: &ReleaseFact, baseline: &ReleaseFact) -> Option<bool> {
    if candidate.name == baseline.name {
        return Some(false);
    }
    if let (Some(a), Some(b)) = (semver_of(&candidate.name), semver_of(&baseline.name)) {
        // Build metadata does not order semver versions; the names differ, so fall through to
        // first appearance for `1.0.0+a` against `1.0.0+b`.
        match a.cmp_precedence(&b) {
            Ordering::Greater => return Some(true),
            Ordering::Less => return Some(false),
            Ordering::Equal => {}
        }
    }
    match (candidate.first_seen_ms, baseline.first_seen_ms) {
        (Some(a), Some(b)) => Some(a > b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, seen: Option<u64>) -> ReleaseFact {
        ReleaseFact {
            name: name.into(),
            first_seen_ms: seen,
        }
    }

    #[test]
    fn orders_releases() {
        let cases = [
            (
                r("1.4.2", None),
                r("1.4.0", None),
                Some(true),
                "semver patch",
            ),
            (
                r("1.10.0", None),
                r("1.9.9", None),
                Some(true),
                "semver, not text order",
            ),
            (
                r("1.3.9", Some(9)),
                r("1.4.0", Some(1)),
                Some(false),
                "semver beats appearance",
            ),
            (
                r("shop@2.0.0", None),
                r("shop@1.9.0", None),
                Some(true),
                "package@version",
            ),
            (
                r("v2.1", None),
                r("2.0.5", None),
                Some(true),
                "v prefix and two parts",
            ),
            (
                r("1.4.0-rc.1", None),
                r("1.4.0", None),
                Some(false),
                "pre-release is older",
            ),
            (
                r("abc123", Some(20)),
                r("def456", Some(10)),
                Some(true),
                "shas by first appearance",
            ),
            (
                r("abc123", Some(5)),
                r("def456", Some(10)),
                Some(false),
                "older sha",
            ),
            (
                r("abc123", None),
                r("def456", Some(10)),
                None,
                "never seen here: unknown",
            ),
            (
                r("1.4.0", Some(1)),
                r("1.4.0", Some(1)),
                Some(false),
                "same release",
            ),
            (
                r("1.0.0+b", Some(7)),
                r("1.0.0+a", Some(3)),
                Some(true),
                "build metadata: appearance",
            ),
            (
                r("2024.05.01", Some(2)),
                r("2024.04.30", Some(1)),
                Some(true),
                "leading zeros are not semver: appearance",
            ),
        ];
        for (a, b, want, why) in cases {
            assert_eq!(is_newer(&a, &b), want, "{why}: {} vs {}", a.name, b.name);
        }
    }
}

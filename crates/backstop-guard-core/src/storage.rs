//! What the guard's storage can hold: R2 multipart part sizes, and numbers D1 round-trips.
//!
//! - R2 refuses a multipart upload at `complete()` unless every part but the last has the same
//!   size (at least 5 MiB), so a chunked body is cut into exact parts ([`next_part`]), whatever
//!   the sizes of the chunks it arrives in.
//! - D1 hands integers to JavaScript as numbers (`f64`): above 2^53 they come back rounded, as
//!   floats that do not read as `u64`. Every number the guard stores goes through [`stored_int`](backstop_server_core::stats::stored_int)
//!   (saturating at [`MAX_STORED_INT`](backstop_server_core::stats::MAX_STORED_INT)), and rows are read with [`lenient_u64`] /
//!   [`lenient_opt_u64`], so one odd row written before (or by hand) cannot fail a listing.

use core::fmt;

use serde::de::{self, Deserializer, Visitor};

/// The smallest part R2 accepts (all parts but the last).
pub const R2_MIN_PART_BYTES: u64 = 5 * 1024 * 1024;

/// The most parts R2 accepts in one multipart upload.
pub const R2_MAX_PARTS: u64 = 10_000;

/// The size of every part but the last for a body of at most `max_bytes`: 5 MiB, or larger when
/// 5 MiB parts would need more than [`R2_MAX_PARTS`] (a route with a very large `max_body`).
pub fn part_bytes(max_bytes: u64) -> u64 {
    max_bytes.div_ceil(R2_MAX_PARTS).max(R2_MIN_PART_BYTES)
}

/// The size of the next part to cut from `pending` bytes not yet uploaded, or `None` to wait
/// for more. Every part but the last is exactly `part_bytes` long (R2 refuses unequal parts);
/// once the body is `done` the rest is the last part, and an empty body is one empty part (an
/// upload needs at least one). The caller cuts parts until this answers `None`.
pub fn next_part(pending: u64, done: bool, parts_uploaded: usize, part_bytes: u64) -> Option<u64> {
    let part_bytes = part_bytes.max(1);
    if pending >= part_bytes {
        return Some(part_bytes);
    }
    if done && (pending > 0 || parts_uploaded == 0) {
        return Some(pending);
    }
    None
}

/// Reads a stored number leniently: integers, floats (rounded towards zero, negative as 0,
/// saturating), and numeric strings. `Ok(None)` for null; an error only for a non-number.
struct LenientU64;

impl<'de> Visitor<'de> for LenientU64 {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative number or null")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(u64::try_from(v).unwrap_or(0)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.is_nan() {
            return Ok(None);
        }
        // `as` saturates: negative to 0, above u64::MAX to u64::MAX.
        Ok(Some(v as u64))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        match t.parse::<u64>() {
            Ok(n) => Ok(Some(n)),
            Err(_) => match t.parse::<f64>() {
                Ok(f) => self.visit_f64(f),
                Err(_) => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            },
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(LenientU64)
    }
}

/// `#[serde(deserialize_with)]` for a stored `Option<u64>` column: integers, floats, numeric strings, null as `None`.
pub fn lenient_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    d.deserialize_any(LenientU64)
}

/// `#[serde(deserialize_with)]` for a stored `u64` column; null reads as 0.
pub fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(d.deserialize_any(LenientU64)?.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use backstop_server_core::stats::{stored_int, MAX_STORED_INT};
    use serde::Deserialize;

    const MIB: u64 = 1024 * 1024;

    /// Feeds chunks of `chunk` bytes (the last one shorter) through [`next_part`] as the glue
    /// does, and returns the part sizes.
    fn cut(total: u64, chunk: u64, part: u64) -> Vec<u64> {
        let mut parts = Vec::new();
        let mut pending = 0;
        let mut read = 0;
        loop {
            let n = chunk.min(total - read);
            read += n;
            pending += n;
            let done = read == total;
            while let Some(size) = next_part(pending, done, parts.len(), part) {
                parts.push(size);
                pending -= size;
            }
            if done {
                return parts;
            }
        }
    }

    #[test]
    fn parts_are_equal_but_the_last_whatever_the_chunks() {
        let p = R2_MIN_PART_BYTES;
        let cases = [
            (
                16_000_000,
                100_003,
                "odd chunks, 16 MB: the case R2 refused",
            ),
            (12 * MIB, 256 * 1024, "chunks that divide the part size"),
            (10 * MIB, 100_003, "exactly two parts"),
            (10 * MIB + 1, 7 * MIB, "chunks larger than a part"),
            (3 * MIB, 100_003, "smaller than one part"),
            (p, p, "exactly one part, in one chunk"),
            (25 * MIB + 17, 16 * MIB, "a chunk spanning several parts"),
            (1, 1, "one byte"),
        ];
        for (total, chunk, why) in cases {
            let parts = cut(total, chunk, p);
            assert_eq!(parts.iter().sum::<u64>(), total, "{why}: every byte once");
            let (last, rest) = parts.split_last().expect("at least one part");
            assert!(rest.iter().all(|&s| s == p), "{why}: {parts:?}");
            assert!(*last > 0 && *last <= p, "{why}: last part {last}");
            assert_eq!(
                parts.len() as u64,
                total.div_ceil(p),
                "{why}: as few parts as possible"
            );
        }
    }

    #[test]
    fn next_part_waits_cuts_and_finishes() {
        let p = 10;
        let cases = [
            (9, false, 0, None, "not enough yet"),
            (10, false, 0, Some(10), "a full part"),
            (
                25,
                false,
                3,
                Some(10),
                "more than a part: cut one, then ask again",
            ),
            (9, true, 2, Some(9), "the rest is the last part"),
            (0, true, 2, None, "nothing left"),
            (0, true, 0, Some(0), "an empty body is one empty part"),
            (10, true, 0, Some(10), "exactly one part"),
            (0, false, 0, None, "nothing read yet"),
        ];
        for (pending, done, uploaded, want, why) in cases {
            assert_eq!(next_part(pending, done, uploaded, p), want, "{why}");
        }
        assert_eq!(
            next_part(5, false, 0, 0),
            Some(1),
            "a zero part size cannot loop forever"
        );
    }

    #[test]
    fn part_size_stays_within_r2s_part_count() {
        let cases = [
            (0, R2_MIN_PART_BYTES, "nothing allowed: the minimum"),
            (100 * MIB, R2_MIN_PART_BYTES, "the default max_body"),
            (
                R2_MIN_PART_BYTES * R2_MAX_PARTS,
                R2_MIN_PART_BYTES,
                "exactly 10,000 parts",
            ),
            (
                R2_MIN_PART_BYTES * R2_MAX_PARTS + 1,
                R2_MIN_PART_BYTES + 1,
                "one byte more: larger parts",
            ),
            (u64::MAX, u64::MAX.div_ceil(R2_MAX_PARTS), "no overflow"),
        ];
        for (max, want, why) in cases {
            assert_eq!(part_bytes(max), want, "{why}");
            assert!(max.div_ceil(part_bytes(max)) <= R2_MAX_PARTS, "{why}");
        }
    }

    #[test]
    fn stored_numbers_saturate_below_2_pow_53() {
        let cases = [
            (0, 0, "zero"),
            (21 * MIB, 21 * MIB, "a real size"),
            (MAX_STORED_INT, MAX_STORED_INT, "the largest exact number"),
            (MAX_STORED_INT + 1, MAX_STORED_INT, "2^53"),
            (1 << 60, MAX_STORED_INT, "a hostile Content-Length"),
            (u64::MAX, MAX_STORED_INT, "u64::MAX"),
        ];
        for (v, want, why) in cases {
            assert_eq!(stored_int(v), want, "{why}");
            assert_eq!(
                stored_int(v) as f64 as u64,
                stored_int(v),
                "{why}: exact as a JS number"
            );
        }
    }

    #[derive(Debug, Deserialize)]
    struct Row {
        #[serde(deserialize_with = "lenient_u64")]
        n: u64,
        #[serde(default, deserialize_with = "lenient_opt_u64")]
        size: Option<u64>,
    }

    #[test]
    fn stored_numbers_read_leniently() {
        let cases = [
            (r#"{"n":3,"size":null}"#, (3, None), "plain"),
            (r#"{"n":3}"#, (3, None), "missing optional"),
            (
                r#"{"n":1,"size":1.152921504606847e18}"#,
                (1, Some(1_152_921_504_606_846_976)),
                "a float above 2^53, as D1 returns it",
            ),
            (r#"{"n":1,"size":1e300}"#, (1, Some(u64::MAX)), "saturates"),
            (r#"{"n":-4,"size":-1.5}"#, (0, Some(0)), "negative as 0"),
            (
                r#"{"n":2.9,"size":"42"}"#,
                (2, Some(42)),
                "truncated; a numeric string",
            ),
            (r#"{"n":null,"size":7}"#, (0, Some(7)), "null count as 0"),
        ];
        for (json, want, why) in cases {
            let row: Row = serde_json::from_str(json).unwrap_or_else(|e| panic!("{why}: {e}"));
            assert_eq!((row.n, row.size), want, "{why}");
        }
        assert!(
            serde_json::from_str::<Row>(r#"{"n":"many"}"#).is_err(),
            "not a number at all is still an error"
        );
    }
}

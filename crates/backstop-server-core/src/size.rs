//! Body size policy: check the declared length before reading, count while streaming when there
//! is none, and decompress with a bounded output.

use std::io::Read;

use crate::error::IngestError;

/// Refuses a body whose declared `Content-Length` is over `limit`, before any byte is read.
pub fn check_declared_length(content_length: Option<u64>, limit: u64) -> Result<(), IngestError> {
    match content_length {
        Some(len) if len > limit => Err(IngestError::too_large("request body", limit, Some(len))),
        _ => Ok(()),
    }
}

/// Counts body bytes as chunks arrive and refuses the body as soon as it passes the limit, so a
/// chunked upload with no length is never read further than `limit + one chunk`.
#[derive(Debug, Clone, Copy)]
pub struct BodyCounter {
    limit: u64,
    seen: u64,
}

impl BodyCounter {
    /// A counter for a body limited to `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Self { limit, seen: 0 }
    }

    /// Adds a chunk of `len` bytes.
    pub fn add(&mut self, len: usize) -> Result<(), IngestError> {
        self.seen = self.seen.saturating_add(len as u64);
        if self.seen > self.limit {
            Err(IngestError::too_large("request body", self.limit, None))
        } else {
            Ok(())
        }
    }

    /// Bytes seen so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }
}

/// Refuses a body that ended before its declared `Content-Length` (the client hung up or cut it
/// short): a 400 the client caused, not a storage failure.
pub fn check_complete(declared: Option<u64>, received: u64) -> Result<(), IngestError> {
    match declared {
        Some(len) if received < len => Err(IngestError::incomplete(declared, received)),
        _ => Ok(()),
    }
}

/// A `Content-Encoding` we decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    /// No encoding.
    Identity,
    /// gzip.
    Gzip,
    /// zlib-wrapped deflate (raw deflate is accepted too, as some clients send it).
    Deflate,
    /// Brotli.
    Brotli,
}

impl ContentEncoding {
    /// Parses the header value (absent or empty = identity).
    pub fn parse(header: Option<&str>) -> Result<Self, IngestError> {
        let value = header
            .map(|h| h.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match value.as_str() {
            "" | "identity" => Ok(Self::Identity),
            "gzip" | "x-gzip" => Ok(Self::Gzip),
            "deflate" => Ok(Self::Deflate),
            "br" => Ok(Self::Brotli),
            other => Err(IngestError::UnsupportedEncoding(
                other.chars().take(40).collect(),
            )),
        }
    }
}

/// Decodes `body` to at most `max_out` bytes; more is a 413 (a compression bomb stops there).
pub fn decode_body(
    encoding: ContentEncoding,
    body: Vec<u8>,
    max_out: u64,
) -> Result<Vec<u8>, IngestError> {
    match encoding {
        ContentEncoding::Identity => Ok(body),
        ContentEncoding::Gzip => read_bounded(
            flate2::read::MultiGzDecoder::new(body.as_slice()),
            max_out,
            "gzip",
        ),
        ContentEncoding::Brotli => read_bounded(
            brotli_decompressor::Decompressor::new(body.as_slice(), 4096),
            max_out,
            "br",
        ),
        ContentEncoding::Deflate => {
            match read_bounded(
                flate2::read::ZlibDecoder::new(body.as_slice()),
                max_out,
                "deflate",
            ) {
                Err(IngestError::InvalidCompression(_)) => read_bounded(
                    flate2::read::DeflateDecoder::new(body.as_slice()),
                    max_out,
                    "deflate",
                ),
                other => other,
            }
        }
    }
}

/// Decodes as much of the start of a body as `raw` (possibly only its first chunks) allows, at
/// most `max_out` bytes. A stream cut short is not an error here: more may still arrive. Used
/// to read an envelope's first line before the rest of the body is read.
pub fn decode_prefix(encoding: ContentEncoding, raw: &[u8], max_out: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let limit = max_out as u64;
    // Errors are expected (the input is a truncated stream); what was decoded before one is
    // kept by `read_to_end`.
    let _ = match encoding {
        ContentEncoding::Identity => {
            out.extend_from_slice(&raw[..raw.len().min(max_out)]);
            return out;
        }
        ContentEncoding::Gzip => flate2::read::MultiGzDecoder::new(raw)
            .take(limit)
            .read_to_end(&mut out),
        ContentEncoding::Brotli => brotli_decompressor::Decompressor::new(raw, 4096)
            .take(limit)
            .read_to_end(&mut out),
        ContentEncoding::Deflate if is_zlib_header(raw) => flate2::read::ZlibDecoder::new(raw)
            .take(limit)
            .read_to_end(&mut out),
        ContentEncoding::Deflate => flate2::read::DeflateDecoder::new(raw)
            .take(limit)
            .read_to_end(&mut out),
    };
    out
}

/// Whether a deflate body starts with a zlib header (RFC 1950: method 8, check bits).
fn is_zlib_header(raw: &[u8]) -> bool {
    match raw {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

fn read_bounded(
    reader: impl Read,
    max_out: u64,
    name: &'static str,
) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::new();
    reader
        .take(max_out.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|_| IngestError::InvalidCompression(name))?;
    if out.len() as u64 > max_out {
        return Err(IngestError::too_large("decompressed body", max_out, None));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn declared_length_is_checked_before_reading() {
        let cases = [
            (None, true),
            (Some(0), true),
            (Some(100), true),
            (Some(101), false),
        ];
        for (len, ok) in cases {
            assert_eq!(check_declared_length(len, 100).is_ok(), ok, "len {len:?}");
        }
        let err = check_declared_length(Some(5_000), 100).unwrap_err();
        assert_eq!(err.body()["size"], 5_000);
    }

    #[test]
    fn counter_stops_at_the_limit() {
        let mut c = BodyCounter::new(10);
        assert!(c.add(6).is_ok());
        assert!(c.add(4).is_ok());
        assert_eq!(c.seen(), 10);
        assert_eq!(c.add(1).unwrap_err().status(), 413);
    }

    #[test]
    fn a_body_shorter_than_declared_is_incomplete() {
        let cases = [
            (None, 0, Ok(())),
            (Some(81), 81, Ok(())),
            (Some(5000), 81, Err("incomplete_body")),
            (Some(1), 0, Err("incomplete_body")),
        ];
        for (declared, received, want) in cases {
            assert_eq!(
                check_complete(declared, received).map_err(|e| e.code()),
                want,
                "{declared:?} {received}"
            );
        }
        assert_eq!(check_complete(Some(5000), 81).unwrap_err().status(), 400);
    }

    #[test]
    fn decodes_the_start_of_a_truncated_body() {
        let data = b"{\"dsn\":\"x\"}\n{\"type\":\"event\"}\n".repeat(50);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&data).unwrap();
        let zlib = z.finish().unwrap();
        let mut r = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        r.write_all(&data).unwrap();
        let raw = r.finish().unwrap();
        let gz = gzip(&data);
        let cases: Vec<(&str, ContentEncoding, &[u8])> = vec![
            ("identity", ContentEncoding::Identity, &data),
            ("gzip", ContentEncoding::Gzip, &gz),
            ("zlib", ContentEncoding::Deflate, &zlib),
            ("raw deflate", ContentEncoding::Deflate, &raw),
        ];
        for (name, enc, body) in cases {
            let whole = decode_prefix(enc, body, 16);
            assert_eq!(whole, &data[..16], "{name}: bounded output");
            // Half the body: what it holds decodes, the missing rest is no error.
            let half = decode_prefix(enc, &body[..body.len() / 2], 1 << 20);
            assert!(data.starts_with(&half), "{name}: a prefix of the data");
            assert!(decode_prefix(enc, &body[..1], 64).len() <= 1, "{name}");
        }
        assert!(decode_prefix(ContentEncoding::Gzip, b"not gzip", 64).is_empty());
    }

    #[test]
    fn parses_encodings() {
        let cases = [
            (None, Ok(ContentEncoding::Identity)),
            (Some(" GZIP "), Ok(ContentEncoding::Gzip)),
            (Some("deflate"), Ok(ContentEncoding::Deflate)),
            (Some("br"), Ok(ContentEncoding::Brotli)),
            (Some("zstd"), Err(415)),
        ];
        for (h, want) in cases {
            assert_eq!(
                ContentEncoding::parse(h).map_err(|e| e.status()),
                want,
                "{h:?}"
            );
        }
    }

    #[test]
    fn decodes_within_bound_and_refuses_bombs() {
        let data = b"hello hello hello".to_vec();
        assert_eq!(
            decode_body(ContentEncoding::Gzip, gzip(&data), 100).unwrap(),
            data
        );
        let bomb = gzip(&vec![0u8; 10_000_000]);
        assert!(bomb.len() < 20_000, "bomb compresses well");
        let err = decode_body(ContentEncoding::Gzip, bomb, 1_000_000).unwrap_err();
        assert_eq!(err.status(), 413);
        assert_eq!(err.body()["limit"], 1_000_000);
        let err = decode_body(ContentEncoding::Gzip, b"not gzip".to_vec(), 100).unwrap_err();
        assert_eq!(err, IngestError::InvalidCompression("gzip"));
    }

    #[test]
    fn decodes_brotli_within_bound() {
        // "hello" compressed with brotli (quality 11), and a stream of 1 MiB of zeros.
        let hello: &[u8] = &[0x0b, 0x02, 0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x03];
        assert_eq!(
            decode_body(ContentEncoding::Brotli, hello.to_vec(), 100).unwrap(),
            b"hello"
        );
        assert_eq!(
            decode_body(ContentEncoding::Brotli, hello.to_vec(), 4)
                .unwrap_err()
                .status(),
            413
        );
        assert_eq!(
            decode_body(ContentEncoding::Brotli, b"garbage!".to_vec(), 100).unwrap_err(),
            IngestError::InvalidCompression("br")
        );
    }

    #[test]
    fn deflate_accepts_zlib_and_raw() {
        let data = b"{\"a\":1}".to_vec();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&data).unwrap();
        assert_eq!(
            decode_body(ContentEncoding::Deflate, z.finish().unwrap(), 100).unwrap(),
            data
        );
        let mut r = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        r.write_all(&data).unwrap();
        assert_eq!(
            decode_body(ContentEncoding::Deflate, r.finish().unwrap(), 100).unwrap(),
            data
        );
    }
}

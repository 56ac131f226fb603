//! Bounded decompression of request bodies: gzip, deflate (zlib or raw) and brotli never yield
//! more than the bound, whatever the bytes.
#![no_main]

use backstop_server_core::size::{decode_body, ContentEncoding};
use libfuzzer_sys::fuzz_target;

/// Small, so bombs reach the bound quickly and the fuzzer keeps its pace (the bounding code is
/// the same for any bound; at 64 KiB a corpus of bombs slowed it to ~1.7 k runs/s).
const MAX_OUT: u64 = 4 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let encoding = match selector % 4 {
        0 => ContentEncoding::Gzip,
        1 => ContentEncoding::Deflate,
        2 => ContentEncoding::Brotli,
        _ => ContentEncoding::Identity,
    };
    if let Ok(out) = decode_body(encoding, body.to_vec(), MAX_OUT) {
        assert!(out.len() as u64 <= MAX_OUT || encoding == ContentEncoding::Identity);
    }
});

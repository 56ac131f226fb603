//! Stored source-map indexes as symbolication reads them by range: any bytes given as an index
//! (and as its sources) never panic the reader, and what it finds lies within the index's
//! own tables. Half the inputs are a real index with the fuzz bytes written over part of it,
//! so the decoder gets past the header.
#![no_main]

use backstop_server_core::symbolicate::index::encode;
use backstop_server_core::symbolicate::memory::{block_on, MemoryStore};
use backstop_server_core::symbolicate::{locate, StoredMap};
use libfuzzer_sys::fuzz_target;

const MAP: &str = r#"{"version":3,"sources":["a.js","b.js"],"sourcesContent":["one\ntwo\n","x"],"names":["lineTotal","cartTotal"],"mappings":"AAAA,SAASA,EAAE,CAAC;AACZ,SAASC"}"#;
const MINIFIED: &str = "function n(t){return t}\nfunction o(e){}";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(mut indexed) = encode(MAP.as_bytes(), Some(MINIFIED)) else {
        return;
    };
    if mode & 1 == 0 {
        indexed.index = rest.to_vec();
    } else if !indexed.index.is_empty() {
        let at = usize::from(mode) % indexed.index.len();
        for (i, b) in rest.iter().enumerate() {
            if let Some(slot) = indexed.index.get_mut(at + i) {
                *slot = *b;
            }
        }
    }
    let map = StoredMap {
        id: "f".into(),
        index_len: indexed.index.len() as u64,
        url: "~/f.js.map".into(),
    };
    let mut store = MemoryStore::default();
    store.insert("f", &map.url, indexed, &[]);
    for (line, col) in [(0, 0), (0, 9), (1, 3), (u32::from(mode), 5), (u32::MAX, u32::MAX)] {
        if let Ok(Some(found)) = block_on(locate(&mut store, &map, line, col, Some("n"))) {
            assert!(found.dst <= (line, col) || found.dst == (0, 0) || found.dst.0 <= line);
        }
    }
});

//! `cargo xtask bench sourcemap`: CPU time to symbolicate one event against a ~5 MB source
//! map through the lookup index (ranges read from memory, as the worker reads them from R2),
//! against the baseline of parsing the whole map with the `sourcemap` crate per event, both
//! measured in this run. Prints ratios, never asserts timings.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use backstop_server_core::symbolicate::index::encode;
use backstop_server_core::symbolicate::memory::{block_on, MemoryStore};
use backstop_server_core::symbolicate::{symbolicate, MapKey};
use serde_json::{json, Value};
use sourcemap::{SourceMap, SourceMapBuilder, SourceView};

const DEBUG_ID: &str = "36361158-91f5-5eb9-9b86-21484ee4fb1b";
const PAGE: &str = "https://shop.example/assets/main.js";
const FRAMES: usize = 12;

/// A minified bundle of `functions` functions over `sources` sources, and its map.
fn fixture(functions: usize, sources: usize) -> (String, Vec<u8>, Vec<(u32, u32, String)>) {
    let mut b = SourceMapBuilder::new(Some("main.js"));
    let mut contents = vec![String::new(); sources];
    for (i, c) in contents.iter_mut().enumerate() {
        let id = b.add_source(&format!("src/module{i}.js"));
        let _ = id;
        for f in 0..functions / sources + 1 {
            c.push_str(&format!(
                "export function handler{i}_{f}(order, options) {{\n  const total = order.items.reduce((sum, item) => sum + item.price, 0);\n  if (!options.allowEmpty && total === 0) throw new Error('empty order {i}/{f}');\n  return total;\n}}\n"
            ));
        }
    }
    for (i, c) in contents.iter().enumerate() {
        b.set_source_contents(i as u32, Some(c));
    }
    let mut text = String::new();
    let mut frames = Vec::new();
    let (mut line, mut col) = (0u32, 0u32);
    for f in 0..functions {
        if f % 2000 == 1999 {
            text.push('\n');
            line += 1;
            col = 0;
        }
        let src = (f % sources) as u32;
        let fl = (f / sources) as u32 * 5;
        let name = format!("handler{}_{}", f % sources, f / sources);
        let mini = format!("f{f:x}");
        let piece = format!("function {mini}(a,b){{let c=a.items.reduce((d,e)=>d+e.price,0);if(!b.allowEmpty&&c===0)throw new Error(\"e\");return c}}");
        let source = format!("src/module{src}.js");
        let s = Some(source.as_str());
        b.add(line, col, fl, 0, s, None, false);
        b.add(line, col + 9, fl, 16, s, Some(&name), false);
        for (off, sl, sc, nm) in [
            (14, 0, 17, Some("order")),
            (20, 1, 2, None),
            (24, 1, 8, Some("total")),
            (26, 1, 16, Some("order")),
            (28, 1, 22, None),
            (35, 1, 29, None),
            (55, 2, 2, None),
            (75, 2, 43, None),
            (78, 2, 49, None),
            (82, 2, 53, None),
            (92, 3, 2, None),
        ] {
            b.add(line, col + off, fl + sl, sc, s, nm, false);
        }
        if f % (functions / FRAMES) == 0 && frames.len() < FRAMES {
            frames.push((line + 1, col + 78 + 1, mini.clone()));
        }
        text.push_str(&piece);
        col += piece.len() as u32;
    }
    let sm = b.into_sourcemap();
    let mut out = Vec::new();
    sm.to_writer(&mut out).unwrap();
    (text, out, frames)
}

fn event(frames: &[(u32, u32, String)]) -> Value {
    let frames: Vec<Value> = frames
        .iter()
        .map(|(l, c, f)| json!({"function": f, "abs_path": PAGE, "lineno": l, "colno": c, "in_app": true}))
        .collect();
    json!({
        "exception": {"values": [{"type": "Error", "value": "empty order", "stacktrace": {"frames": frames}}]},
        "debug_meta": {"images": [{"type": "sourcemap", "code_file": PAGE, "debug_id": DEBUG_ID}]},
    })
}

/// What parsing the map per event costs: the crate's own lookup, function name and context.
fn baseline(map: &[u8], minified: &str, frames: &[(u32, u32, String)]) -> usize {
    let sm = SourceMap::from_slice(map).unwrap();
    let sv = SourceView::new(minified.to_string().into());
    let mut found = 0;
    for (l, c, f) in frames {
        if let Some(t) = sm.lookup_token(l - 1, c - 1) {
            let _ = sm.get_original_function_name(l - 1, c - 1, f, &sv);
            if let Some(view) = sm.get_source_view(t.get_src_id()) {
                let line = t.get_src_line();
                for n in line.saturating_sub(5)..=line + 5 {
                    let _ = view.get_line(n);
                }
            }
            found += 1;
        }
    }
    found
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let (minified, map, frames) = fixture(16_000, 80);
    println!(
        "map: {:.1} MB ({} frames per event, minified {:.1} MB)",
        map.len() as f64 / 1e6,
        frames.len(),
        minified.len() as f64 / 1e6
    );

    let t = Instant::now();
    let indexed = encode(&map, Some(&minified)).unwrap();
    let encode_time = t.elapsed();
    let index_len = indexed.index.len();
    let sources_len: usize = indexed.sources.iter().flatten().map(Vec::len).sum();
    let mut store = MemoryStore::default();
    store.insert(
        "m",
        "~/assets/main.js.map",
        indexed,
        &[MapKey::DebugId(DEBUG_ID.into())],
    );

    let runs = 15;
    let mut base = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        assert_eq!(baseline(&map, &minified, &frames), frames.len());
        base.push(t.elapsed());
    }
    let mut via_index = Vec::new();
    let (mut reads, mut bytes) = (0, 0);
    for _ in 0..runs * 20 {
        let mut ev = event(&frames);
        let (r0, b0) = (store.reads, store.bytes);
        let t = Instant::now();
        let stats = block_on(symbolicate(&mut ev, &mut store)).unwrap();
        via_index.push(t.elapsed());
        assert_eq!(stats.mapped as usize, frames.len(), "{ev}");
        (reads, bytes) = (store.reads - r0, store.bytes - b0);
    }
    let (b, i) = (median(base), median(via_index));
    println!(
        "| per event ({} frames) | median CPU | reads | bytes read |",
        frames.len()
    );
    println!("|---|---:|---:|---:|");
    println!(
        "| baseline: parse the whole map (sourcemap crate) + lookups | {:.2} ms | 1 | {} |",
        b.as_secs_f64() * 1e3,
        map.len()
    );
    println!(
        "| through the index (range reads) | {:.3} ms | {reads} | {bytes} |",
        i.as_secs_f64() * 1e3
    );
    println!(
        "| ratio baseline / index | {:.0}x | | {:.0}x fewer bytes |",
        b.as_secs_f64() / i.as_secs_f64(),
        map.len() as f64 / bytes as f64
    );
    println!(
        "upload, once per map: index {:.0} ms, index {:.1} MB + sources {:.1} MB ({:.2}x the map)",
        encode_time.as_secs_f64() * 1e3,
        index_len as f64 / 1e6,
        sources_len as f64 / 1e6,
        (index_len + sources_len) as f64 / map.len() as f64
    );
}

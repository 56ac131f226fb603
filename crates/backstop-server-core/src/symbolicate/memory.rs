//! A [`MapStore`] in memory: maps indexed by [`super::index::encode`] and found by key. Tests,
//! the benchmark and the fuzz targets use it; its futures are always ready, so [`block_on`]
//! runs them without a runtime.

use std::collections::HashMap;
use std::future::Future;
use std::ops::Range;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::index::IndexedMap;
use super::reader::{MapKey, MapStore, StoredMap};

/// Maps in memory, with a count of what was read.
#[derive(Debug, Default)]
pub struct MemoryStore {
    maps: HashMap<String, IndexedMap>,
    keys: HashMap<MapKey, StoredMap>,
    /// Range reads answered.
    pub reads: u64,
    /// Bytes answered.
    pub bytes: u64,
}

impl MemoryStore {
    /// Adds an indexed map under `id`, found by each of `keys` (release keys by each URL).
    pub fn insert(&mut self, id: &str, url: &str, map: IndexedMap, keys: &[MapKey]) {
        let stored = StoredMap {
            id: id.into(),
            index_len: map.index.len() as u64,
            url: url.into(),
        };
        for k in keys {
            match k {
                MapKey::Release {
                    release,
                    dist,
                    urls,
                } => {
                    for u in urls {
                        self.keys.insert(
                            MapKey::Release {
                                release: release.clone(),
                                dist: dist.clone(),
                                urls: vec![u.clone()],
                            },
                            stored.clone(),
                        );
                    }
                }
                other => {
                    self.keys.insert(other.clone(), stored.clone());
                }
            }
        }
        self.maps.insert(id.into(), map);
    }

    fn count(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        self.reads += 1;
        self.bytes += bytes.len() as u64;
        bytes
    }
}

/// Bytes `range` of `bytes` (cut at its end, as a range read past the end is).
fn slice(bytes: Option<&[u8]>, range: Range<u64>) -> Vec<u8> {
    let Some(bytes) = bytes else {
        return Vec::new();
    };
    let end = (range.end as usize).min(bytes.len());
    let start = (range.start as usize).min(end);
    bytes[start..end].to_vec()
}

impl MapStore for MemoryStore {
    type Error = std::convert::Infallible;

    async fn resolve(&mut self, key: &MapKey) -> Result<Option<StoredMap>, Self::Error> {
        Ok(match key {
            MapKey::Release {
                release,
                dist,
                urls,
            } => urls.iter().find_map(|u| {
                self.keys
                    .get(&MapKey::Release {
                        release: release.clone(),
                        dist: dist.clone(),
                        urls: vec![u.clone()],
                    })
                    .cloned()
            }),
            other => self.keys.get(other).cloned(),
        })
    }

    async fn read_index(
        &mut self,
        map: &StoredMap,
        range: Range<u64>,
    ) -> Result<Vec<u8>, Self::Error> {
        let bytes = slice(self.maps.get(&map.id).map(|m| m.index.as_slice()), range);
        Ok(self.count(bytes))
    }

    async fn read_source(
        &mut self,
        map: &StoredMap,
        source: u32,
        range: Range<u64>,
    ) -> Result<Vec<u8>, Self::Error> {
        let source = self
            .maps
            .get(&map.id)
            .and_then(|m| m.sources.get(source as usize))
            .and_then(|s| s.as_deref());
        let bytes = slice(source, range);
        Ok(self.count(bytes))
    }
}

/// Runs a future that never waits (a [`MemoryStore`]'s) to completion.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

//! Reading stored indexes by byte range through a [`MapStore`], with a per-event cache and a
//! budget of reads, so one event costs a bounded number of subrequests and bytes.

use std::collections::HashMap;
use std::future::Future;
use std::ops::Range;
use std::rc::Rc;

use super::index::{
    decode_block, find_in_block, is_identifier, source_offsets_range, source_text_start,
    IndexError, IndexHeader, IndexToken, BLOCK_TOKENS, FUNCTION_SCAN_TOKENS, HEADER_LEN,
};

/// How a frame's map is found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MapKey {
    /// By the debug id `sentry-cli sourcemaps inject` put into the file (normalised, see
    /// [`super::normalize_debug_id`]).
    DebugId(String),
    /// By the event's release and dist and the frame's URL, as candidates in order
    /// ([`super::url_candidates`]).
    Release {
        /// The event's release.
        release: String,
        /// The event's dist (empty when none).
        dist: String,
        /// URL forms to try, best first.
        urls: Vec<String>,
    },
}

/// A stored, indexed map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMap {
    /// Storage id (the worker keys its objects by it).
    pub id: String,
    /// Length of the index object.
    pub index_len: u64,
    /// The URL the map was uploaded under (what frames name it by).
    pub url: String,
}

/// Where maps live: the worker implements it with D1 (which map for a key) and R2 (ranges of
/// objects); tests with memory.
pub trait MapStore {
    /// A storage failure (the whole event's symbolication stops with it).
    type Error;
    /// The map stored for a key, if any.
    fn resolve(
        &mut self,
        key: &MapKey,
    ) -> impl Future<Output = Result<Option<StoredMap>, Self::Error>>;
    /// Bytes `range` of a map's index (within `0..index_len`).
    fn read_index(
        &mut self,
        map: &StoredMap,
        range: Range<u64>,
    ) -> impl Future<Output = Result<Vec<u8>, Self::Error>>;
    /// Bytes `range` of a map's source object number `source`.
    fn read_source(
        &mut self,
        map: &StoredMap,
        source: u32,
        range: Range<u64>,
    ) -> impl Future<Output = Result<Vec<u8>, Self::Error>>;
}

/// Most range reads for one event.
pub const MAX_READS: u32 = 200;
/// Most bytes read for one event.
pub const MAX_READ_BYTES: u64 = 8 * 1024 * 1024;
/// Bytes read first from an index, in the hope that the prefix is within them.
pub const PREFIX_GUESS: u64 = 64 * 1024;
/// Most bytes of source text read for one frame's context.
pub const MAX_CONTEXT_BYTES: u64 = 64 * 1024;

/// Why a lookup did not answer (besides storage failing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Miss<E> {
    /// Storage failed.
    Store(E),
    /// The stored index is not readable.
    Corrupt(IndexError),
    /// The event's read budget is spent.
    Budget,
}

impl<E> From<IndexError> for Miss<E> {
    fn from(e: IndexError) -> Self {
        Self::Corrupt(e)
    }
}

/// A token found, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) token: IndexToken,
    /// Index of the token in the whole map.
    pub(crate) index: usize,
}

struct OpenMap {
    stored: StoredMap,
    header: IndexHeader,
    /// Decoded blocks, shared (a walk back over 128 tokens reads one block many times).
    blocks: HashMap<usize, Rc<Vec<IndexToken>>>,
    strings: HashMap<u32, String>,
}

/// Reads maps for one event through a store, caching what it read.
pub(crate) struct Reader<'s, S: MapStore> {
    store: &'s mut S,
    resolved: HashMap<MapKey, Option<StoredMap>>,
    maps: HashMap<String, Result<OpenMap, IndexError>>,
    reads: u32,
    bytes: u64,
}

impl<'s, S: MapStore> Reader<'s, S> {
    pub(crate) fn new(store: &'s mut S) -> Self {
        Self {
            store,
            resolved: HashMap::new(),
            maps: HashMap::new(),
            reads: 0,
            bytes: 0,
        }
    }

    pub(crate) async fn resolve(&mut self, key: &MapKey) -> Result<Option<StoredMap>, S::Error> {
        if let Some(hit) = self.resolved.get(key) {
            return Ok(hit.clone());
        }
        let found = self.store.resolve(key).await?;
        self.resolved.insert(key.clone(), found.clone());
        Ok(found)
    }

    fn spend(&mut self, len: u64) -> Result<(), Miss<S::Error>> {
        if self.reads >= MAX_READS || self.bytes.saturating_add(len) > MAX_READ_BYTES {
            return Err(Miss::Budget);
        }
        self.reads += 1;
        self.bytes += len;
        Ok(())
    }

    async fn index_bytes(
        &mut self,
        map: &StoredMap,
        range: Range<u64>,
    ) -> Result<Vec<u8>, Miss<S::Error>> {
        if range.end > map.index_len || range.start > range.end {
            return Err(Miss::Corrupt(IndexError::Corrupt("range")));
        }
        self.spend(range.end - range.start)?;
        let want = (range.end - range.start) as usize;
        let bytes = self
            .store
            .read_index(map, range)
            .await
            .map_err(Miss::Store)?;
        if bytes.len() != want {
            return Err(Miss::Corrupt(IndexError::Corrupt("short read")));
        }
        Ok(bytes)
    }

    /// Opens a map: reads and decodes its prefix (once per event).
    async fn open(&mut self, map: &StoredMap) -> Result<(), Miss<S::Error>> {
        if let Some(open) = self.maps.get(&map.id) {
            return open
                .as_ref()
                .map(|_| ())
                .map_err(|e| Miss::Corrupt(e.clone()));
        }
        let result = self.read_prefix(map).await;
        let result = match result {
            Ok(header) => Ok(OpenMap {
                stored: map.clone(),
                header,
                blocks: HashMap::new(),
                strings: HashMap::new(),
            }),
            Err(Miss::Corrupt(e)) => Err(e),
            Err(other) => return Err(other),
        };
        let answer = result
            .as_ref()
            .map(|_| ())
            .map_err(|e| Miss::Corrupt(e.clone()));
        self.maps.insert(map.id.clone(), result);
        answer
    }

    async fn read_prefix(&mut self, map: &StoredMap) -> Result<IndexHeader, Miss<S::Error>> {
        if map.index_len < u64::from(HEADER_LEN) {
            return Err(Miss::Corrupt(IndexError::Corrupt("length")));
        }
        let mut bytes = self
            .index_bytes(map, 0..PREFIX_GUESS.min(map.index_len))
            .await?;
        let len = u64::from(IndexHeader::prefix_len(&bytes)?);
        if len > map.index_len {
            return Err(Miss::Corrupt(IndexError::Corrupt("prefix length")));
        }
        if len > bytes.len() as u64 {
            let rest = self.index_bytes(map, bytes.len() as u64..len).await?;
            bytes.extend_from_slice(&rest);
        }
        Ok(IndexHeader::parse(&bytes, map.index_len)?)
    }

    fn header(&self, map: &StoredMap) -> Option<&IndexHeader> {
        self.maps.get(&map.id)?.as_ref().ok().map(|m| &m.header)
    }

    async fn block(
        &mut self,
        map: &StoredMap,
        b: usize,
    ) -> Result<Rc<Vec<IndexToken>>, Miss<S::Error>> {
        self.open(map).await?;
        let Some(Ok(open)) = self.maps.get(&map.id) else {
            return Err(Miss::Corrupt(IndexError::Corrupt("not open")));
        };
        if let Some(tokens) = open.blocks.get(&b) {
            return Ok(Rc::clone(tokens));
        }
        let entry = open
            .header
            .blocks
            .get(b)
            .cloned()
            .ok_or(IndexError::Corrupt("block"))?;
        let stored = open.stored.clone();
        let bytes = self.index_bytes(&stored, entry.range.clone()).await?;
        let Some(Ok(open)) = self.maps.get_mut(&map.id) else {
            return Err(Miss::Corrupt(IndexError::Corrupt("not open")));
        };
        let tokens = Rc::new(decode_block(&bytes, &entry, &open.header)?);
        open.blocks.insert(b, Rc::clone(&tokens));
        Ok(tokens)
    }

    /// The token for a 0-based generated position, as `sourcemap`'s `lookup_token` finds it.
    pub(crate) async fn lookup(
        &mut self,
        map: &StoredMap,
        line: u32,
        col: u32,
    ) -> Result<Option<Found>, Miss<S::Error>> {
        self.open(map).await?;
        let Some(header) = self.header(map) else {
            return Err(Miss::Corrupt(IndexError::Corrupt("not open")));
        };
        let Some(b) = header.block_for(line, col) else {
            return Ok(None);
        };
        let next_starts_here = header
            .blocks
            .get(b + 1)
            .is_some_and(|n| (n.first_line, n.first_col) == (line, col));
        let tokens = self.block(map, b).await?;
        let found = match find_in_block(&tokens, line, col) {
            Ok(Some(i)) => Some((b, i)),
            Ok(None) => None,
            Err(()) if next_starts_here => Some((b + 1, 0)),
            Err(()) => tokens.len().checked_sub(1).map(|i| (b, i)),
        };
        let Some((fb, i)) = found else {
            return Ok(None);
        };
        let tokens = if fb == b {
            tokens
        } else {
            self.block(map, fb).await?
        };
        let token = tokens
            .get(i)
            .cloned()
            .ok_or(IndexError::Corrupt("token index"))?;
        Ok(Some(Found {
            token,
            index: fb * BLOCK_TOKENS + i,
        }))
    }

    async fn token_at(
        &mut self,
        map: &StoredMap,
        index: usize,
    ) -> Result<IndexToken, Miss<S::Error>> {
        let tokens = self.block(map, index / BLOCK_TOKENS).await?;
        tokens
            .get(index % BLOCK_TOKENS)
            .cloned()
            .ok_or(Miss::Corrupt(IndexError::Corrupt("token index")))
    }

    /// A string of the map's table.
    pub(crate) async fn string(
        &mut self,
        map: &StoredMap,
        i: u32,
    ) -> Result<String, Miss<S::Error>> {
        self.open(map).await?;
        if let Some(Ok(open)) = self.maps.get(&map.id) {
            if let Some(s) = open.strings.get(&i) {
                return Ok(s.clone());
            }
        }
        let Some(header) = self.header(map) else {
            return Err(Miss::Corrupt(IndexError::Corrupt("not open")));
        };
        let offsets = header
            .string_offsets_range(i)
            .ok_or(IndexError::Corrupt("string id"))?;
        let offsets = self.index_bytes(map, offsets).await?;
        let Some(header) = self.header(map) else {
            return Err(Miss::Corrupt(IndexError::Corrupt("not open")));
        };
        let range = header.string_range(&offsets)?;
        let bytes = self.index_bytes(map, range).await?;
        let s = String::from_utf8(bytes).map_err(|_| IndexError::Corrupt("string"))?;
        if let Some(Ok(open)) = self.maps.get_mut(&map.id) {
            open.strings.insert(i, s.clone());
        }
        Ok(s)
    }

    /// The original name of the function around a found token, given the frame's minified
    /// function name: the name of the nearest `function <minified>` token at most 128 tokens
    /// back (as `sourcemap`'s `SourceView::get_original_function_name`). `None` when the index
    /// has no function identifiers (the minified file was not uploaded), none matches, or the
    /// matching token has no name.
    pub(crate) async fn function_name(
        &mut self,
        map: &StoredMap,
        found: Found,
        minified: &str,
    ) -> Result<Option<String>, Miss<S::Error>> {
        if !is_identifier(minified) || !self.header(map).is_some_and(|h| h.has_function_names) {
            return Ok(None);
        }
        let lowest = found.index.saturating_sub(FUNCTION_SCAN_TOKENS - 2).max(1);
        let mut j = found.index;
        while j >= lowest {
            let token = self.token_at(map, j).await?;
            if let Some(f) = &token.function {
                if f == minified {
                    return match token.name {
                        Some(n) => Ok(Some(self.string(map, n).await?)),
                        None => Ok(None),
                    };
                }
            }
            j -= 1;
        }
        Ok(None)
    }

    /// The source's metadata (name, lines of content).
    pub(crate) fn source_meta(
        &self,
        map: &StoredMap,
        source: u32,
    ) -> Option<super::index::SourceMeta> {
        self.header(map)?.sources.get(source as usize).cloned()
    }

    /// Lines `first..=last` (0-based, within the source) of a source's content.
    pub(crate) async fn source_lines(
        &mut self,
        map: &StoredMap,
        source: u32,
        lines: u32,
        first: u32,
        last: u32,
    ) -> Result<Vec<String>, Miss<S::Error>> {
        if first > last || last >= lines {
            return Ok(Vec::new());
        }
        let range = source_offsets_range(first, last);
        self.spend(range.end - range.start)?;
        let want = (range.end - range.start) as usize;
        let table = self
            .store
            .read_source(map, source, range)
            .await
            .map_err(Miss::Store)?;
        if table.len() != want {
            return Err(Miss::Corrupt(IndexError::Corrupt("source line table")));
        }
        let mut offsets = Vec::with_capacity(table.len() / 4);
        for i in 0..table.len() / 4 {
            offsets.push(u64::from(super::index::read_u32(&table, i * 4)?));
        }
        let (Some(&start), Some(&end)) = (offsets.first(), offsets.last()) else {
            return Ok(Vec::new());
        };
        if start > end || offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err(Miss::Corrupt(IndexError::Corrupt("source line table")));
        }
        let end_read = end.min(start + MAX_CONTEXT_BYTES);
        let base = source_text_start(lines);
        self.spend(end_read - start)?;
        let text = self
            .store
            .read_source(map, source, base + start..base + end_read)
            .await
            .map_err(Miss::Store)?;
        if text.len() as u64 != end_read - start {
            return Err(Miss::Corrupt(IndexError::Corrupt("source text")));
        }
        let mut out = Vec::with_capacity(offsets.len().saturating_sub(1));
        for w in offsets.windows(2) {
            let (a, b) = ((w[0] - start) as usize, (w[1] - start) as usize);
            let slice = text
                .get(a.min(text.len())..b.min(text.len()))
                .unwrap_or(&[]);
            let line = String::from_utf8_lossy(slice);
            out.push(line.trim_end_matches(['\n', '\r']).to_string());
        }
        Ok(out)
    }
}

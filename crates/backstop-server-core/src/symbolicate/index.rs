//! A compact lookup index of one source map, encoded once at upload and read by byte range, so
//! symbolicating an event reads a few KiB of a 10 MB map instead of parsing all of it.
//!
//! Layout (every integer little-endian `u32`):
//!
//! ```text
//! header      48 bytes: magic "BSMI", version, token count, block count, string count,
//!             source count, sources offset, blocks offset, string table offset,
//!             string blob offset, total length, flags
//! directory   per block: first generated line, first generated column, byte offset of the
//!             block (from the blocks offset)
//! sources     per source: name length, name (UTF-8), line count of its content
//!             (`u32::MAX` when the map has no `sourcesContent` for it)
//! blocks      up to 256 tokens each, as LEB128 varints: generated line delta, generated column
//!             (delta on the same line), source + 1, original line, original column, name + 1
//!             (0 = none), then the minified function identifier inline: its length + 1 and
//!             its UTF-8 bytes (0 = none)
//! strings     (count + 1) offsets into the blob, then the blob: names, UTF-8
//! ```
//!
//! The header, directory and sources are read together (the "prefix"); a lookup then reads one
//! block, and a name two small ranges. Source text is stored apart, one object per source
//! ([`encode_source`]): a line table and the text, so context reads only the lines it shows.
//!
//! Lookups answer exactly what the `sourcemap` crate's `lookup_token` and
//! `SourceView::get_original_function_name` answer on the parsed map (property tests below):
//! the greatest token at or before the position, and the function name found by walking back
//! at most 128 tokens to a `function <minified name>` token. The minified identifier of such a
//! token is recorded at upload, when the minified source is at hand.

use std::collections::HashMap;
use std::ops::Range;

use sourcemap::{DecodedMap, SourceMap};

/// First bytes of every index.
pub const MAGIC: &[u8; 4] = b"BSMI";
/// Format version.
pub const VERSION: u32 = 1;
/// Fixed header length.
pub const HEADER_LEN: u32 = 48;
/// Tokens per block.
pub const BLOCK_TOKENS: usize = 256;
/// How far back (in tokens) a function name is looked for, as the `sourcemap` crate does.
pub const FUNCTION_SCAN_TOKENS: usize = 128;
/// Most tokens one map may have.
pub const MAX_TOKENS: usize = 16 * 1024 * 1024;
/// Most sources one map may have.
pub const MAX_SOURCES: usize = 20_000;
/// Longest source name kept.
pub const MAX_SOURCE_NAME_BYTES: usize = 4096;
const DIR_ENTRY: u32 = 12;
/// Longest minified function identifier recorded (longer ones are not minified).
pub const MAX_FUNCTION_IDENT_BYTES: usize = 64;
/// Flag: function identifiers were recorded (the minified source was given).
pub const FLAG_FUNCTION_NAMES: u32 = 1;

/// Why a map could not be indexed, or an index not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// The map does not parse.
    #[error("not a source map: {0}")]
    InvalidMap(String),
    /// The map is over a limit.
    #[error("the source map has too many {what}: {count}, the limit is {limit}")]
    TooMany {
        /// `tokens`, `sources`.
        what: &'static str,
        /// What was seen.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Stored bytes that are not an index of this version (corrupt or truncated).
    #[error("corrupt source map index: {0}")]
    Corrupt(&'static str),
}

/// One source of an indexed map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMeta {
    /// The source as the map names it.
    pub name: String,
    /// Lines of its content, `None` when the map has no `sourcesContent` for it.
    pub lines: Option<u32>,
}

/// A map, indexed: the index, and each source's stored object (`None` without content).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedMap {
    /// The index bytes.
    pub index: Vec<u8>,
    /// Per source, the object [`encode_source`] made, when the map has its content.
    pub sources: Vec<Option<Vec<u8>>>,
    /// Tokens indexed.
    pub tokens: u32,
    /// The map's own `debug_id`, if it names one.
    pub debug_id: Option<String>,
}

/// One token as the index stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexToken {
    /// 0-based generated line.
    pub dst_line: u32,
    /// 0-based generated column (UTF-16 units).
    pub dst_col: u32,
    /// Source index.
    pub src: Option<u32>,
    /// 0-based original line.
    pub src_line: u32,
    /// 0-based original column.
    pub src_col: u32,
    /// Name (string index).
    pub name: Option<u32>,
    /// The minified identifier of a `function <identifier>` token, kept inline in the block so
    /// the walk back to the enclosing function reads no strings.
    pub function: Option<String>,
}

/// Parses map bytes with the `sourcemap` crate (regular maps, and index maps whose sections
/// embed their maps).
pub fn parse_map(bytes: &[u8]) -> Result<SourceMap, IndexError> {
    match sourcemap::decode_slice(bytes).map_err(|e| IndexError::InvalidMap(e.to_string()))? {
        DecodedMap::Regular(sm) => Ok(sm),
        DecodedMap::Index(smi) => smi
            .flatten()
            .map_err(|e| IndexError::InvalidMap(e.to_string())),
        DecodedMap::Hermes(smh) => Ok((*smh).clone()),
    }
}

/// Indexes a map. `minified` is the generated file the map is for, when known: with it the
/// index can name the enclosing function of a frame.
pub fn encode(bytes: &[u8], minified: Option<&str>) -> Result<IndexedMap, IndexError> {
    let sm = parse_map(bytes)?;
    encode_map(&sm, minified)
}

/// Indexes a parsed map (see [`encode`]).
pub fn encode_map(sm: &SourceMap, minified: Option<&str>) -> Result<IndexedMap, IndexError> {
    let count = sm.get_token_count() as usize;
    if count > MAX_TOKENS {
        return Err(IndexError::TooMany {
            what: "tokens",
            count,
            limit: MAX_TOKENS,
        });
    }
    let source_count = sm.get_source_count() as usize;
    if source_count > MAX_SOURCES {
        return Err(IndexError::TooMany {
            what: "sources",
            count: source_count,
            limit: MAX_SOURCES,
        });
    }
    let mut strings = Strings::default();
    let mut name_ids: HashMap<u32, u32> = HashMap::new();
    let identifiers = minified.map(Identifiers::new);
    let mut tokens: Vec<IndexToken> = Vec::with_capacity(count);
    let mut previous_ident: Option<&str> = None;
    for t in sm.tokens() {
        let raw = t.get_raw_token();
        let name = if raw.name_id == !0 {
            None
        } else {
            match name_ids.get(&raw.name_id) {
                Some(id) => Some(*id),
                None => {
                    let id = strings.add(sm.get_name(raw.name_id).unwrap_or_default());
                    name_ids.insert(raw.name_id, id);
                    Some(id)
                }
            }
        };
        let ident = identifiers
            .as_ref()
            .and_then(|ids| ids.at(raw.dst_line, raw.dst_col));
        let function = match (previous_ident, ident) {
            (Some("function"), Some(ident)) if ident.len() <= MAX_FUNCTION_IDENT_BYTES => {
                Some(ident.to_string())
            }
            _ => None,
        };
        previous_ident = ident;
        tokens.push(IndexToken {
            dst_line: raw.dst_line,
            dst_col: raw.dst_col,
            src: (raw.src_id != !0 && raw.src_id < sm.get_source_count()).then_some(raw.src_id),
            src_line: raw.src_line,
            src_col: raw.src_col,
            name,
            function,
        });
    }
    // Tokens of a valid map are in generated order already; a stable sort keeps the crate's
    // order among equal positions, which its lookup depends on.
    tokens.sort_by_key(|t| (t.dst_line, t.dst_col));

    let mut sources_meta = Vec::new();
    let mut source_objects = Vec::with_capacity(source_count);
    for i in 0..sm.get_source_count() {
        let name = sm.get_source(i).unwrap_or_default();
        let name = truncate_bytes(name, MAX_SOURCE_NAME_BYTES);
        let object = sm.get_source_contents(i).map(encode_source);
        let lines = object.as_ref().map(|(_, lines)| *lines);
        put_u32(&mut sources_meta, name.len() as u32);
        sources_meta.extend_from_slice(name.as_bytes());
        put_u32(&mut sources_meta, lines.unwrap_or(u32::MAX));
        source_objects.push(object.map(|(bytes, _)| bytes));
    }

    let mut directory = Vec::new();
    let mut blocks = Vec::new();
    for chunk in tokens.chunks(BLOCK_TOKENS) {
        let first = &chunk[0];
        put_u32(&mut directory, first.dst_line);
        put_u32(&mut directory, first.dst_col);
        put_u32(&mut directory, blocks.len() as u32);
        let (mut line, mut col) = (first.dst_line, 0u32);
        for t in chunk {
            let dl = t.dst_line - line;
            put_varint(&mut blocks, dl);
            put_varint(
                &mut blocks,
                if dl == 0 { t.dst_col - col } else { t.dst_col },
            );
            (line, col) = (t.dst_line, t.dst_col);
            put_varint(&mut blocks, t.src.map_or(0, |s| s + 1));
            put_varint(&mut blocks, t.src_line);
            put_varint(&mut blocks, t.src_col);
            put_varint(&mut blocks, t.name.map_or(0, |n| n + 1));
            match &t.function {
                Some(f) => {
                    put_varint(&mut blocks, f.len() as u32 + 1);
                    blocks.extend_from_slice(f.as_bytes());
                }
                None => put_varint(&mut blocks, 0),
            }
        }
    }
    strings.finish();
    let block_count = tokens.len().div_ceil(BLOCK_TOKENS) as u32;
    let sources_offset = HEADER_LEN + directory.len() as u32;
    let blocks_offset = sources_offset + sources_meta.len() as u32;
    let strings_offset = blocks_offset + blocks.len() as u32;
    let blob_offset = strings_offset + 4 * (strings.offsets.len() as u32);
    let total = blob_offset + strings.blob.len() as u32;
    let flags = if minified.is_some() {
        FLAG_FUNCTION_NAMES
    } else {
        0
    };
    let mut index = Vec::with_capacity(total as usize);
    index.extend_from_slice(MAGIC);
    for v in [
        VERSION,
        tokens.len() as u32,
        block_count,
        strings.count(),
        source_count as u32,
        sources_offset,
        blocks_offset,
        strings_offset,
        blob_offset,
        total,
        flags,
    ] {
        put_u32(&mut index, v);
    }
    index.extend_from_slice(&directory);
    index.extend_from_slice(&sources_meta);
    index.extend_from_slice(&blocks);
    for o in &strings.offsets {
        put_u32(&mut index, *o);
    }
    index.extend_from_slice(&strings.blob);
    Ok(IndexedMap {
        index,
        sources: source_objects,
        tokens: tokens.len() as u32,
        debug_id: sm.get_debug_id().map(|d| d.to_string()),
    })
}

/// A source's stored object: line count, `lines + 1` offsets into the text (line starts, then
/// the text length), then the text. Returns the object and its line count.
pub fn encode_source(text: &str) -> (Vec<u8>, u32) {
    let mut starts = vec![0u32];
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => starts.push(i as u32 + 1),
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => starts.push(i as u32 + 1),
            _ => {}
        }
        i += 1;
    }
    // A trailing newline does not start another line.
    if starts.len() > 1 && starts.last() == Some(&(bytes.len() as u32)) {
        starts.pop();
    }
    let lines = starts.len() as u32;
    let mut out = Vec::with_capacity(4 + 4 * (starts.len() + 1) + bytes.len());
    put_u32(&mut out, lines);
    for s in &starts {
        put_u32(&mut out, *s);
    }
    put_u32(&mut out, bytes.len() as u32);
    out.extend_from_slice(bytes);
    (out, lines)
}

/// Where in a source object the line table entries for lines `first..=last` (and the end of
/// `last`) are.
pub fn source_offsets_range(first: u32, last: u32) -> Range<u64> {
    (4 + 4 * u64::from(first))..(4 + 4 * (u64::from(last) + 2))
}

/// Where the text of a source object starts, for a source of `lines` lines.
pub fn source_text_start(lines: u32) -> u64 {
    4 + 4 * (u64::from(lines) + 1)
}

/// The decoded prefix of an index: header, block directory and sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexHeader {
    /// Tokens in the map.
    pub token_count: u32,
    /// Strings (names and function identifiers).
    pub string_count: u32,
    /// Whether function identifiers were recorded.
    pub has_function_names: bool,
    /// Per block: first generated (line, column) and its byte range in the index.
    pub blocks: Vec<BlockEntry>,
    /// The map's sources.
    pub sources: Vec<SourceMeta>,
    strings_offset: u32,
    blob_offset: u32,
    total: u32,
}

/// One block of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEntry {
    /// First generated line of the block.
    pub first_line: u32,
    /// First generated column of the block.
    pub first_col: u32,
    /// The block's bytes in the index.
    pub range: Range<u64>,
}

impl IndexHeader {
    /// How many bytes of the index the prefix is, from at least its first [`HEADER_LEN`]
    /// bytes.
    pub fn prefix_len(first: &[u8]) -> Result<u32, IndexError> {
        let h = RawHeader::read(first)?;
        Ok(h.blocks_offset)
    }

    /// Decodes the prefix (`bytes` holds at least [`IndexHeader::prefix_len`] bytes), checking
    /// every offset against the index's length `index_len`.
    pub fn parse(bytes: &[u8], index_len: u64) -> Result<Self, IndexError> {
        let h = RawHeader::read(bytes)?;
        if u64::from(h.total) != index_len {
            return Err(IndexError::Corrupt("length"));
        }
        let ordered = HEADER_LEN <= h.sources_offset
            && h.sources_offset <= h.blocks_offset
            && h.blocks_offset <= h.strings_offset
            && h.strings_offset <= h.blob_offset
            && h.blob_offset <= h.total;
        let dir_len = u64::from(h.block_count) * u64::from(DIR_ENTRY);
        if !ordered
            || u64::from(HEADER_LEN) + dir_len != u64::from(h.sources_offset)
            || (bytes.len() as u64) < u64::from(h.blocks_offset)
            || u64::from(h.string_count) * 4 + 4 != u64::from(h.blob_offset - h.strings_offset)
            || u64::from(h.block_count) != u64::from(h.token_count).div_ceil(BLOCK_TOKENS as u64)
            || h.source_count as usize > MAX_SOURCES
        {
            return Err(IndexError::Corrupt("header"));
        }
        let blocks_len = u64::from(h.strings_offset - h.blocks_offset);
        let mut blocks = Vec::with_capacity(h.block_count as usize);
        let mut at = HEADER_LEN as usize;
        let mut previous: Option<(u32, u32, u32)> = None;
        for _ in 0..h.block_count {
            let line = read_u32(bytes, at)?;
            let col = read_u32(bytes, at + 4)?;
            let offset = read_u32(bytes, at + 8)?;
            at += DIR_ENTRY as usize;
            if let Some((pl, pc, po)) = previous {
                if (line, col) < (pl, pc) || offset <= po {
                    return Err(IndexError::Corrupt("directory order"));
                }
            }
            previous = Some((line, col, offset));
            blocks.push((line, col, offset));
        }
        let mut entries = Vec::with_capacity(blocks.len());
        for (i, (line, col, offset)) in blocks.iter().enumerate() {
            let end = blocks.get(i + 1).map_or(blocks_len, |b| u64::from(b.2));
            if u64::from(*offset) > end || end > blocks_len {
                return Err(IndexError::Corrupt("block offset"));
            }
            let base = u64::from(h.blocks_offset);
            entries.push(BlockEntry {
                first_line: *line,
                first_col: *col,
                range: (base + u64::from(*offset))..(base + end),
            });
        }
        let mut sources = Vec::with_capacity(h.source_count as usize);
        let mut at = h.sources_offset as usize;
        for _ in 0..h.source_count {
            let len = read_u32(bytes, at)? as usize;
            at += 4;
            let name = bytes
                .get(at..at.saturating_add(len))
                .filter(|_| len <= MAX_SOURCE_NAME_BYTES)
                .ok_or(IndexError::Corrupt("source name"))?;
            let name = std::str::from_utf8(name)
                .map_err(|_| IndexError::Corrupt("source name"))?
                .to_string();
            at += len;
            let lines = read_u32(bytes, at)?;
            at += 4;
            sources.push(SourceMeta {
                name,
                lines: (lines != u32::MAX).then_some(lines),
            });
        }
        if at != h.blocks_offset as usize {
            return Err(IndexError::Corrupt("sources"));
        }
        Ok(Self {
            token_count: h.token_count,
            string_count: h.string_count,
            has_function_names: h.flags & FLAG_FUNCTION_NAMES != 0,
            blocks: entries,
            sources,
            strings_offset: h.strings_offset,
            blob_offset: h.blob_offset,
            total: h.total,
        })
    }

    /// The block to search for a position: the last block starting before it (or the first
    /// block, when it starts exactly there). `None` when every token is after it.
    pub fn block_for(&self, line: u32, col: u32) -> Option<usize> {
        let key = (line, col);
        let after = self
            .blocks
            .partition_point(|b| (b.first_line, b.first_col) < key);
        match after {
            0 => self
                .blocks
                .first()
                .filter(|b| (b.first_line, b.first_col) == key)
                .map(|_| 0),
            n => Some(n - 1),
        }
    }

    /// Where string `i`'s start and end offsets are (8 bytes).
    pub fn string_offsets_range(&self, i: u32) -> Option<Range<u64>> {
        (i < self.string_count).then(|| {
            let at = u64::from(self.strings_offset) + 4 * u64::from(i);
            at..at + 8
        })
    }

    /// The blob range of a string from its two offsets (as read at
    /// [`IndexHeader::string_offsets_range`]).
    pub fn string_range(&self, offsets: &[u8]) -> Result<Range<u64>, IndexError> {
        let start = read_u32(offsets, 0)?;
        let end = read_u32(offsets, 4)?;
        let blob_len = self.total - self.blob_offset;
        if start > end || end > blob_len {
            return Err(IndexError::Corrupt("string offsets"));
        }
        let base = u64::from(self.blob_offset);
        Ok(base + u64::from(start)..base + u64::from(end))
    }
}

struct RawHeader {
    token_count: u32,
    block_count: u32,
    string_count: u32,
    source_count: u32,
    sources_offset: u32,
    blocks_offset: u32,
    strings_offset: u32,
    blob_offset: u32,
    total: u32,
    flags: u32,
}

impl RawHeader {
    fn read(b: &[u8]) -> Result<Self, IndexError> {
        if b.len() < HEADER_LEN as usize || &b[..4] != MAGIC {
            return Err(IndexError::Corrupt("magic"));
        }
        if read_u32(b, 4)? != VERSION {
            return Err(IndexError::Corrupt("version"));
        }
        Ok(Self {
            token_count: read_u32(b, 8)?,
            block_count: read_u32(b, 12)?,
            string_count: read_u32(b, 16)?,
            source_count: read_u32(b, 20)?,
            sources_offset: read_u32(b, 24)?,
            blocks_offset: read_u32(b, 28)?,
            strings_offset: read_u32(b, 32)?,
            blob_offset: read_u32(b, 36)?,
            total: read_u32(b, 40)?,
            flags: read_u32(b, 44)?,
        })
    }
}

/// Decodes one block. `entry` is its directory entry; `header` bounds source and string ids.
pub fn decode_block(
    bytes: &[u8],
    entry: &BlockEntry,
    header: &IndexHeader,
) -> Result<Vec<IndexToken>, IndexError> {
    let mut r = Varints { bytes, at: 0 };
    let mut tokens = Vec::with_capacity(BLOCK_TOKENS);
    let (mut line, mut col) = (entry.first_line, 0u32);
    let sources = header.sources.len() as u32;
    let opt = |v: u32, bound: u32| -> Result<Option<u32>, IndexError> {
        match v {
            0 => Ok(None),
            v if v - 1 < bound => Ok(Some(v - 1)),
            _ => Err(IndexError::Corrupt("token reference")),
        }
    };
    while r.at < bytes.len() {
        if tokens.len() == BLOCK_TOKENS {
            return Err(IndexError::Corrupt("block too long"));
        }
        let dl = r.next()?;
        let c = r.next()?;
        if dl == 0 {
            col = col.checked_add(c).ok_or(IndexError::Corrupt("column"))?;
        } else {
            line = line.checked_add(dl).ok_or(IndexError::Corrupt("line"))?;
            col = c;
        }
        let src = opt(r.next()?, sources)?;
        let src_line = r.next()?;
        let src_col = r.next()?;
        let name = opt(r.next()?, header.string_count)?;
        let function = match r.next()? {
            0 => None,
            len if (len as usize) <= MAX_FUNCTION_IDENT_BYTES + 1 => {
                let bytes = r.take(len as usize - 1)?;
                Some(
                    std::str::from_utf8(bytes)
                        .map_err(|_| IndexError::Corrupt("function identifier"))?
                        .to_string(),
                )
            }
            _ => return Err(IndexError::Corrupt("function identifier")),
        };
        tokens.push(IndexToken {
            dst_line: line,
            dst_col: col,
            src,
            src_line,
            src_col,
            name,
            function,
        });
    }
    match tokens.first() {
        Some(t) if (t.dst_line, t.dst_col) == (entry.first_line, entry.first_col) => Ok(tokens),
        _ => Err(IndexError::Corrupt("block start")),
    }
}

/// Where in a block (decoded) the token for a position is, as the `sourcemap` crate's
/// `lookup_token` picks it: the first token exactly at the position, else the last one before
/// it. `Err(())` means the answer may be the next block's first token (the whole block is
/// before the position).
#[expect(
    clippy::result_unit_err,
    reason = "the one non-answer needs no detail: read the next block"
)]
pub fn find_in_block(tokens: &[IndexToken], line: u32, col: u32) -> Result<Option<usize>, ()> {
    let key = (line, col);
    let i = tokens.partition_point(|t| (t.dst_line, t.dst_col) < key);
    match tokens.get(i) {
        Some(t) if (t.dst_line, t.dst_col) == key => Ok(Some(i)),
        Some(_) => Ok(i.checked_sub(1)),
        None => Err(()),
    }
}

/// Whether `name` is a JavaScript identifier (what a minified function name is looked up by).
pub fn is_identifier(name: &str) -> bool {
    identifier_prefix(name).map(str::len) == Some(name.len())
}

fn is_id_start(c: char) -> bool {
    c == '$' || c == '_' || c.is_alphabetic()
}

fn is_id_continue(c: char) -> bool {
    c == '$' || c == '_' || c == '\u{200c}' || c == '\u{200d}' || c.is_alphanumeric()
}

/// The identifier `s` starts with (after leading whitespace, as a token's text is read).
fn identifier_prefix(s: &str) -> Option<&str> {
    let mut chars = s.char_indices();
    let (_, first) = chars.next()?;
    if !is_id_start(first) {
        return None;
    }
    let end = chars
        .find(|(_, c)| !is_id_continue(*c))
        .map_or(s.len(), |(i, _)| i);
    Some(&s[..end])
}

/// The identifiers at token positions of a minified source. Tokens come in order along a
/// line, so the UTF-16 column is walked forward from the previous token's place (a minified
/// line of megabytes is walked once, not once per token).
struct Identifiers<'a> {
    lines: Vec<&'a str>,
    /// Line, UTF-16 column and byte offset of the last lookup.
    cursor: std::cell::Cell<(u32, usize, usize)>,
}

impl<'a> Identifiers<'a> {
    fn new(source: &'a str) -> Self {
        let mut lines = Vec::new();
        let bytes = source.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => {
                    lines.push(&source[start..i]);
                    start = i + 1;
                }
                b'\r' => {
                    lines.push(&source[start..i]);
                    if bytes.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        lines.push(&source[start..]);
        Self {
            lines,
            cursor: std::cell::Cell::new((u32::MAX, 0, 0)),
        }
    }

    fn at(&self, line: u32, col: u32) -> Option<&'a str> {
        let text = self.lines.get(line as usize)?;
        let (cl, cu, cb) = self.cursor.get();
        let (mut units, start) = if cl == line && cu <= col as usize {
            (cu, cb)
        } else {
            (0, 0)
        };
        let mut offset = text.len();
        for (i, c) in text.get(start..)?.char_indices() {
            if units >= col as usize {
                offset = start + i;
                break;
            }
            units += c.len_utf16();
        }
        if offset < text.len() {
            self.cursor.set((line, units, offset));
        }
        let rest = text.get(offset..)?;
        let word = rest.split_whitespace().next()?;
        identifier_prefix(word)
    }
}

#[derive(Default)]
struct Strings {
    offsets: Vec<u32>,
    blob: Vec<u8>,
    ids: HashMap<String, u32>,
}

impl Strings {
    fn add(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let id = self.offsets.len() as u32 - 1;
        self.blob.extend_from_slice(s.as_bytes());
        self.offsets.push(self.blob.len() as u32);
        self.ids.insert(s.to_string(), id);
        id
    }

    fn count(&self) -> u32 {
        self.offsets.len().saturating_sub(1) as u32
    }

    /// The offsets table has `count + 1` entries, even when there are no strings.
    fn finish(&mut self) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
    }
}

fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Reads a little-endian `u32` at `at`.
pub fn read_u32(b: &[u8], at: usize) -> Result<u32, IndexError> {
    b.get(at..at.saturating_add(4))
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_le_bytes)
        .ok_or(IndexError::Corrupt("truncated"))
}

fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Varints<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Varints<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], IndexError> {
        let bytes = self
            .bytes
            .get(self.at..self.at.saturating_add(n))
            .ok_or(IndexError::Corrupt("truncated bytes"))?;
        self.at += n;
        Ok(bytes)
    }

    fn next(&mut self) -> Result<u32, IndexError> {
        let mut v: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = *self
                .bytes
                .get(self.at)
                .ok_or(IndexError::Corrupt("truncated varint"))?;
            self.at += 1;
            let part = u32::from(b & 0x7f);
            if shift == 28 && part > 0x0f {
                return Err(IndexError::Corrupt("varint overflow"));
            }
            v |= part << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(IndexError::Corrupt("varint overflow"))
    }
}

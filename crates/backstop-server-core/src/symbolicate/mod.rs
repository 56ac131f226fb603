//! Source maps: which map each frame of an event needs, and the frames rewritten through the
//! maps' lookup indexes ([`index`]), read by range through a [`MapStore`] the worker provides.
//!
//! Matching, in order: the debug id that `sentry-cli sourcemaps inject` put into the file, as
//! the SDK reports it in `debug_meta.images[]` (`{"type": "sourcemap", "code_file": <the
//! frame's abs_path>, "debug_id": …}`); else the event's `release` (and `dist`) with the
//! frame's URL, exact first and then as `~/path` (any origin). Never the file name alone: two
//! releases' `main.js` are different files.
//!
//! A mapped frame has the original `filename`, `abs_path`, `lineno`, `colno`, `function` (the
//! enclosing function's original name, when the minified file was uploaded with the map), and
//! `pre_context` / `context_line` / `post_context` (5 lines each side) from `sourcesContent`.
//! The frames as they arrived are kept, as Sentry does, in the exception's `raw_stacktrace`
//! (written once; reprocessing starts from it). Each frame says what happened in `data`:
//! `symbolicated` (bool), `sourcemap` (the map's URL), `resolved_by` (`debug_id` or
//! `release`), and, when it could not be mapped, `symbolication_error`; a mapped frame without
//! context says why in `context_error`.

pub mod bundle;
pub mod index;
pub mod memory;
pub mod reader;
pub mod upload;

use serde_json::{json, Map, Value};

pub use reader::{MapKey, MapStore, StoredMap};
use reader::{Miss, Reader};

/// Lines of context on each side of a frame's line.
pub const CONTEXT_LINES: u32 = 5;
/// Longest context line kept (characters); longer ones are cut around the column.
pub const MAX_CONTEXT_LINE_CHARS: usize = 300;
/// Most exception values symbolicated per event.
pub const MAX_EXCEPTIONS: usize = 20;
/// Most frames symbolicated per stack trace (the newest, at the end).
pub const MAX_FRAMES: usize = 250;

/// What symbolicating one event did, for the project's health figure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SymbolicationStats {
    /// Frames with a script location (an URL or path).
    pub frames: u32,
    /// Of those, mapped to an original location.
    pub mapped: u32,
    /// Frames with a script location that are the app's own (`in_app` not `false`).
    pub in_app_frames: u32,
    /// Of those, mapped.
    pub in_app_mapped: u32,
}

impl SymbolicationStats {
    /// Adds another event's counts.
    pub fn add(&mut self, other: &Self) {
        self.frames += other.frames;
        self.mapped += other.mapped;
        self.in_app_frames += other.in_app_frames;
        self.in_app_mapped += other.in_app_mapped;
    }
}

/// Normalises a debug id to lowercase hyphenated UUID form (`sentry-cli` writes it so; SDKs
/// may send 32 digits, upper case or braces). `None` when it is not one.
pub fn normalize_debug_id(id: &str) -> Option<String> {
    let hex: String = id
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .chars()
        .filter(|c| *c != '-')
        .collect();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// The forms a frame's URL is matched by against uploaded file URLs: the URL without query
/// and fragment, then `~/<path>` (any scheme and host, as `sentry-cli` names uploads).
pub fn url_candidates(abs_path: &str) -> Vec<String> {
    let bare = abs_path
        .split(['?', '#'])
        .next()
        .unwrap_or(abs_path)
        .to_string();
    let mut out = vec![bare.clone()];
    if let Some((_, rest)) = bare.split_once("://") {
        let path = rest.find('/').map_or("/", |i| &rest[i..]);
        out.push(format!("~{path}"));
    } else if let Some(path) = bare.strip_prefix("~") {
        out.push(format!("~{path}"));
    } else if bare.starts_with('/') {
        out.push(format!("~{bare}"));
    }
    out.dedup();
    out
}

/// How an uploaded file's URL is stored for release matching: `~/path` stays, an absolute URL
/// loses its query and fragment, a path becomes `~/path`. `None` when it is none of these.
pub fn normalize_upload_url(url: &str) -> Option<String> {
    let url = url.trim();
    let bare = url.split(['?', '#']).next().unwrap_or(url);
    if bare.is_empty() || bare.len() > 2048 || bare.chars().any(char::is_control) {
        return None;
    }
    if bare.starts_with("~/") || bare.contains("://") {
        Some(bare.to_string())
    } else if bare.starts_with('/') {
        Some(format!("~{bare}"))
    } else {
        Some(format!("~/{bare}"))
    }
}

/// A source name as a file name for the frame: no `webpack://`-style scheme or leading `./`
/// and `../` segments.
fn clean_source_name(source: &str) -> String {
    let mut s = source;
    for prefix in ["webpack://", "webpack-internal://", "file://"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
        }
    }
    if !s.contains("://") {
        loop {
            if let Some(rest) = s.strip_prefix("../") {
                s = rest;
            } else if let Some(rest) = s.strip_prefix("./") {
                s = rest;
            } else {
                break;
            }
        }
    }
    s.to_string()
}

/// The source's full location: relative names are resolved against the map's URL when that
/// is absolute.
fn resolve_source(map_url: &str, source: &str) -> String {
    // `~/…` (any origin) resolves like a path on a placeholder origin.
    const ANY_ORIGIN: &str = "http://any-origin.invalid";
    if source.contains("://") {
        return source.to_string();
    }
    let (base, tilde) = match map_url.strip_prefix('~') {
        Some(path) if path.starts_with('/') => (format!("{ANY_ORIGIN}{path}"), true),
        _ if map_url.contains("://") => (map_url.to_string(), false),
        _ => return source.to_string(),
    };
    match url::Url::parse(&base).and_then(|base| base.join(source)) {
        Ok(u) if tilde => u
            .as_str()
            .strip_prefix(ANY_ORIGIN)
            .map_or_else(|| u.to_string(), |p| format!("~{p}")),
        Ok(u) => u.to_string(),
        Err(_) => source.to_string(),
    }
}

/// The debug ids the event's `debug_meta.images` give per code file.
fn debug_images(event: &Value) -> Vec<(String, String)> {
    let Some(images) = event
        .pointer("/debug_meta/images")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    images
        .iter()
        .take(1000)
        .filter(|i| i.get("type").and_then(Value::as_str) == Some("sourcemap"))
        .filter_map(|i| {
            let file = i.get("code_file")?.as_str()?;
            let id = normalize_debug_id(i.get("debug_id")?.as_str()?)?;
            Some((file.to_string(), id))
        })
        .collect()
}

/// Which map a frame needs, or why it has none.
fn map_key_for(
    abs_path: &str,
    images: &[(String, String)],
    release: &str,
    dist: &str,
) -> Result<MapKey, String> {
    if let Some((_, id)) = images.iter().find(|(file, _)| file == abs_path) {
        return Ok(MapKey::DebugId(id.clone()));
    }
    if release.is_empty() {
        return Err(format!(
            "no debug id for {abs_path} in debug_meta and the event has no release"
        ));
    }
    Ok(MapKey::Release {
        release: release.to_string(),
        dist: dist.to_string(),
        urls: url_candidates(abs_path),
    })
}

/// The maps an event's frames need (each once), for a caller that wants to look them up in
/// bulk first.
pub fn needed_maps(event: &Value) -> Vec<MapKey> {
    if !is_script_platform(event) {
        return Vec::new();
    }
    let images = debug_images(event);
    let release = event.get("release").and_then(Value::as_str).unwrap_or("");
    let dist = event.get("dist").and_then(Value::as_str).unwrap_or("");
    let mut keys = Vec::new();
    for st in stacktraces(event) {
        for frame in frames_of(st) {
            if let Some(abs) = script_location(frame) {
                if let Ok(key) = map_key_for(abs, &images, release, dist) {
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
            }
        }
    }
    keys
}

fn frames_of(stacktrace: &Value) -> impl Iterator<Item = &Value> {
    let frames = stacktrace
        .get("frames")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    frames[frames.len().saturating_sub(MAX_FRAMES)..].iter()
}

/// The raw stack traces of an event (the kept `raw_stacktrace` where there is one).
fn stacktraces(event: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let values = match event.get("exception") {
        Some(Value::Object(o)) => o.get("values").and_then(Value::as_array),
        Some(Value::Array(a)) => Some(a),
        _ => None,
    };
    for v in values.into_iter().flatten().take(MAX_EXCEPTIONS) {
        if let Some(st) = v.get("raw_stacktrace").or_else(|| v.get("stacktrace")) {
            out.push(st);
        }
    }
    if let Some(st) = event
        .get("raw_stacktrace")
        .or_else(|| event.get("stacktrace"))
    {
        out.push(st);
    }
    out
}

/// A frame's script location, when it is one a source map can serve: a URL (`http(s)`,
/// `file`, `app`, `~/`) or a path to a `.js`/`.mjs`/`.cjs` file; not `<anonymous>`,
/// `[native code]` or a Python file.
fn script_location(frame: &Value) -> Option<&str> {
    let abs = frame
        .get("abs_path")
        .and_then(Value::as_str)
        .or_else(|| frame.get("filename").and_then(Value::as_str))?;
    let abs = abs.trim();
    if abs.is_empty() || abs.len() > 4096 {
        return None;
    }
    let bare = abs.split(['?', '#']).next().unwrap_or(abs);
    let is_url = ["http://", "https://", "file://", "app://", "~/"]
        .iter()
        .any(|p| bare.starts_with(p));
    let is_script = [".js", ".mjs", ".cjs"].iter().any(|e| bare.ends_with(e));
    (is_url || is_script).then_some(abs)
}

/// Whether the event is from a platform whose frames source maps serve (JavaScript, or no
/// platform named).
fn is_script_platform(event: &Value) -> bool {
    match event.get("platform").and_then(Value::as_str) {
        None => true,
        Some(p) => matches!(p, "javascript" | "node" | "other" | ""),
    }
}

/// What one position maps to, through a stored index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// 0-based generated line and column of the token found.
    pub dst: (u32, u32),
    /// The source's name as the map gives it.
    pub source: Option<String>,
    /// 0-based original line and column.
    pub src: (u32, u32),
    /// The token's name.
    pub name: Option<String>,
    /// The enclosing function's original name, when a minified name was given and found.
    pub function: Option<String>,
}

/// Why [`locate`] did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocateError<E> {
    /// Storage failed.
    Store(E),
    /// The index is corrupt, or the read budget is spent.
    Unreadable(String),
}

/// Looks one 0-based generated position up in a stored map, as symbolication does, with the
/// frame's minified function name when there is one.
pub async fn locate<S: MapStore>(
    store: &mut S,
    map: &StoredMap,
    line: u32,
    col: u32,
    minified_function: Option<&str>,
) -> Result<Option<Located>, LocateError<S::Error>> {
    let mut reader = Reader::new(store);
    let result = async {
        let Some(found) = reader.lookup(map, line, col).await? else {
            return Ok(None);
        };
        let t = found.token.clone();
        let source = t
            .src
            .and_then(|s| reader.source_meta(map, s))
            .map(|m| m.name);
        let name = match t.name {
            Some(n) => Some(reader.string(map, n).await?),
            None => None,
        };
        let function = match minified_function {
            Some(f) => reader.function_name(map, found.clone(), f).await?,
            None => None,
        };
        Ok(Some(Located {
            dst: (t.dst_line, t.dst_col),
            source,
            src: (t.src_line, t.src_col),
            name,
            function,
        }))
    }
    .await;
    result.map_err(|e| match e {
        Miss::Store(e) => LocateError::Store(e),
        Miss::Corrupt(e) => LocateError::Unreadable(e.to_string()),
        Miss::Budget => LocateError::Unreadable("read budget spent".into()),
    })
}

/// Rewrites the event's frames through the stored maps, in place. Storage failures stop it
/// (the event is left as it was); everything else is said on the frames.
pub async fn symbolicate<S: MapStore>(
    event: &mut Value,
    store: &mut S,
) -> Result<SymbolicationStats, S::Error> {
    if !is_script_platform(event) {
        return Ok(SymbolicationStats::default());
    }
    let images = debug_images(event);
    let release = event
        .get("release")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let dist = event
        .get("dist")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut reader = Reader::new(store);
    let mut stats = SymbolicationStats::default();
    let ctx = Ctx {
        images: &images,
        release: &release,
        dist: &dist,
    };

    let values = match event.get_mut("exception") {
        Some(Value::Object(o)) => o.get_mut("values").and_then(Value::as_array_mut),
        Some(Value::Array(a)) => Some(a),
        _ => None,
    };
    let mut containers: Vec<&mut Map<String, Value>> = values
        .into_iter()
        .flatten()
        .take(MAX_EXCEPTIONS)
        .filter_map(Value::as_object_mut)
        .collect();
    for c in containers.iter_mut() {
        rewrite_container(c, &ctx, &mut reader, &mut stats).await?;
    }
    drop(containers);
    if let Some(obj) = event.as_object_mut() {
        rewrite_container(obj, &ctx, &mut reader, &mut stats).await?;
    }
    Ok(stats)
}

struct Ctx<'a> {
    images: &'a [(String, String)],
    release: &'a str,
    dist: &'a str,
}

/// Rewrites the `stacktrace` of one exception value (or of the event) from its raw frames.
async fn rewrite_container<S: MapStore>(
    container: &mut Map<String, Value>,
    ctx: &Ctx<'_>,
    reader: &mut Reader<'_, S>,
    stats: &mut SymbolicationStats,
) -> Result<bool, S::Error> {
    let Some(raw) = container
        .get("raw_stacktrace")
        .or_else(|| container.get("stacktrace"))
        .filter(|st| st.get("frames").is_some_and(Value::is_array))
        .cloned()
    else {
        return Ok(false);
    };
    let Some(raw_frames) = raw.get("frames").and_then(Value::as_array) else {
        return Ok(false);
    };
    let skip = raw_frames.len().saturating_sub(MAX_FRAMES);
    let mut frames = Vec::with_capacity(raw_frames.len());
    let mut any_mapped = false;
    for (i, frame) in raw_frames.iter().enumerate() {
        if i < skip || !frame.is_object() {
            frames.push(frame.clone());
            continue;
        }
        let Some(abs) = script_location(frame) else {
            frames.push(frame.clone());
            continue;
        };
        let in_app = frame.get("in_app").and_then(Value::as_bool) != Some(false);
        stats.frames += 1;
        if in_app {
            stats.in_app_frames += 1;
        }
        let out = map_frame(frame, abs, ctx, reader).await?;
        let mapped = out
            .pointer("/data/symbolicated")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if mapped {
            any_mapped = true;
            stats.mapped += 1;
            if in_app {
                stats.in_app_mapped += 1;
            }
        }
        frames.push(out);
    }
    let mut stacktrace = raw.clone();
    if let Some(obj) = stacktrace.as_object_mut() {
        obj.insert("frames".into(), Value::Array(frames));
    }
    if any_mapped && !container.contains_key("raw_stacktrace") {
        container.insert("raw_stacktrace".into(), raw);
    }
    container.insert("stacktrace".into(), stacktrace);
    Ok(any_mapped)
}

fn with_data(frame: &Value, entries: &[(&str, Value)]) -> Value {
    let mut out = frame.clone();
    if let Some(obj) = out.as_object_mut() {
        let data = obj
            .entry("data")
            .or_insert_with(|| Value::Object(Map::new()));
        if !data.is_object() {
            *data = Value::Object(Map::new());
        }
        if let Some(d) = data.as_object_mut() {
            for key in [
                "symbolicated",
                "symbolication_error",
                "sourcemap",
                "resolved_by",
                "context_error",
            ] {
                d.remove(key);
            }
            for (k, v) in entries {
                d.insert((*k).to_string(), v.clone());
            }
        }
    }
    out
}

fn unmapped(frame: &Value, why: String) -> Value {
    with_data(
        frame,
        &[
            ("symbolicated", Value::Bool(false)),
            ("symbolication_error", Value::String(why)),
        ],
    )
}

fn position(frame: &Value, key: &str) -> Option<u32> {
    frame
        .get(key)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n >= 1)
}

async fn map_frame<S: MapStore>(
    frame: &Value,
    abs: &str,
    ctx: &Ctx<'_>,
    reader: &mut Reader<'_, S>,
) -> Result<Value, S::Error> {
    let key = match map_key_for(abs, ctx.images, ctx.release, ctx.dist) {
        Ok(k) => k,
        Err(why) => return Ok(unmapped(frame, why)),
    };
    let Some(map) = reader.resolve(&key).await? else {
        let why = match &key {
            MapKey::DebugId(id) => format!("no map uploaded for debug id {id}"),
            MapKey::Release { release, dist, .. } if dist.is_empty() => {
                format!("no map for release {release} url {abs}")
            }
            MapKey::Release { release, dist, .. } => {
                format!("no map for release {release} dist {dist} url {abs}")
            }
        };
        return Ok(unmapped(frame, why));
    };
    let resolved_by = match key {
        MapKey::DebugId(_) => "debug_id",
        MapKey::Release { .. } => "release",
    };
    let (Some(lineno), Some(colno)) = (position(frame, "lineno"), position(frame, "colno")) else {
        return Ok(unmapped(
            frame,
            "the frame has no line and column to look up".into(),
        ));
    };
    match map_with(frame, &map, lineno, colno, resolved_by, reader).await {
        Ok(v) => Ok(v),
        Err(Miss::Store(e)) => Err(e),
        Err(Miss::Corrupt(e)) => Ok(unmapped(frame, format!("map {}: {e}", map.url))),
        Err(Miss::Budget) => Ok(unmapped(
            frame,
            format!(
                "the event's symbolication budget ({} reads, {} bytes) is spent",
                reader::MAX_READS,
                reader::MAX_READ_BYTES
            ),
        )),
    }
}

async fn map_with<S: MapStore>(
    frame: &Value,
    map: &StoredMap,
    lineno: u32,
    colno: u32,
    resolved_by: &str,
    reader: &mut Reader<'_, S>,
) -> Result<Value, Miss<S::Error>> {
    let Some(found) = reader.lookup(map, lineno - 1, colno - 1).await? else {
        return Ok(unmapped(
            frame,
            format!(
                "map {} has no mapping at line {lineno} column {colno}",
                map.url
            ),
        ));
    };
    let Some(src) = found.token.src else {
        return Ok(unmapped(
            frame,
            format!(
                "map {} maps line {lineno} column {colno} to no source",
                map.url
            ),
        ));
    };
    let meta = reader
        .source_meta(map, src)
        .ok_or(index::IndexError::Corrupt("source id"))?;
    let minified = frame
        .get("function")
        .and_then(Value::as_str)
        .and_then(|f| f.rsplit('.').next())
        .unwrap_or("");
    let function = match minified {
        "" => None,
        m => reader.function_name(map, found.clone(), m).await?,
    };
    let line = found.token.src_line;
    let mut entries = vec![
        ("symbolicated", Value::Bool(true)),
        ("sourcemap", Value::String(map.url.clone())),
        ("resolved_by", Value::String(resolved_by.into())),
    ];
    let mut out = frame.clone();
    let context = match meta.lines {
        None => Err(format!(
            "map {} has no sourcesContent for {}",
            map.url, meta.name
        )),
        Some(lines) if line >= lines => Err(format!(
            "line {} is past the end of {} in sourcesContent",
            line + 1,
            meta.name
        )),
        Some(lines) => {
            let first = line.saturating_sub(CONTEXT_LINES);
            let last = (line + CONTEXT_LINES).min(lines - 1);
            Ok((
                first,
                reader.source_lines(map, src, lines, first, last).await?,
            ))
        }
    };
    if let Some(obj) = out.as_object_mut() {
        for key in ["pre_context", "context_line", "post_context"] {
            obj.remove(key);
        }
        obj.insert("filename".into(), json!(clean_source_name(&meta.name)));
        obj.insert(
            "abs_path".into(),
            json!(resolve_source(&map.url, &meta.name)),
        );
        obj.insert("lineno".into(), json!(line + 1));
        obj.insert("colno".into(), json!(found.token.src_col + 1));
        if let Some(f) = function {
            obj.insert("function".into(), json!(f));
        }
        if meta.name.contains("/node_modules/") || meta.name.starts_with("node_modules/") {
            obj.insert("in_app".into(), Value::Bool(false));
        }
        match context {
            Ok((first, lines)) => {
                let at = (line - first) as usize;
                let col = found.token.src_col as usize;
                let cut = |s: &String, col: Option<usize>| json!(cut_line(s, col));
                if let Some(l) = lines.get(at) {
                    obj.insert("context_line".into(), cut(l, Some(col)));
                    obj.insert(
                        "pre_context".into(),
                        Value::Array(lines[..at].iter().map(|l| cut(l, None)).collect()),
                    );
                    obj.insert(
                        "post_context".into(),
                        Value::Array(lines[at + 1..].iter().map(|l| cut(l, None)).collect()),
                    );
                }
            }
            Err(why) => entries.push(("context_error", Value::String(why))),
        }
    }
    Ok(with_data(&out, &entries))
}

/// A context line of at most [`MAX_CONTEXT_LINE_CHARS`], around `col` when it is given.
fn cut_line(line: &str, col: Option<usize>) -> String {
    let count = line.chars().count();
    if count <= MAX_CONTEXT_LINE_CHARS {
        return line.to_string();
    }
    let start = col
        .map(|c| c.saturating_sub(MAX_CONTEXT_LINE_CHARS / 2))
        .unwrap_or(0)
        .min(count - MAX_CONTEXT_LINE_CHARS);
    line.chars()
        .skip(start)
        .take(MAX_CONTEXT_LINE_CHARS)
        .collect()
}

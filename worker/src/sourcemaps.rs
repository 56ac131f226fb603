//! Source maps on the worker: the `sentry-cli` 3.x upload endpoints (chunk-upload options,
//! chunks, artifact-bundle assemble), the plain upload (`POST /api/{project}/sourcemaps`),
//! symbolication of stored events through R2 range reads, reprocessing, and the health
//! counters. Every rule is in `backstop_server_core::symbolicate`; this file moves bytes.
//!
//! R2 keys: `sourcemaps/{project}/chunks/{sha1}` (uploaded chunks, deleted once assembled),
//! `sourcemaps/{project}/maps/{map id}/index` and `…/src/{n}` (an indexed map and its sources'
//! content), `sourcemaps/{project}/bundles/{checksum}` (an assembled bundle, so a repeated
//! assemble answers at once). D1 `sourcemaps` says which map serves a debug id or a
//! (release, dist, URL).

use std::ops::Range;

use backstop_server_core::auth::authenticate_admin;
use backstop_server_core::config::Config;
use backstop_server_core::error::{ApiError, IngestError};
use backstop_server_core::event::{normalize_event_id, summarize_event};
use backstop_server_core::size::{decode_body, ContentEncoding};
use backstop_server_core::stats::{minute_bucket, MAX_STORED_INT};
use backstop_server_core::symbolicate::bundle::{Bundle, BundleLimits};
use backstop_server_core::symbolicate::index::{encode, IndexedMap};
use backstop_server_core::symbolicate::upload::{
    authenticate_upload, check_project, chunk_upload_options, map_id, parse_assemble, plan_bundle,
    sha1_hex, verify_chunk, UploadError, CHUNK_SIZE, MAX_ASSEMBLE_BYTES, MAX_BUNDLE_BYTES,
    MAX_MAP_BYTES, MAX_REQUEST_BYTES, MULTIPART_SLACK,
};
use backstop_server_core::symbolicate::{
    normalize_debug_id, normalize_upload_url, symbolicate, MapKey, MapStore, StoredMap,
    SymbolicationStats,
};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Headers, Method, Request, RequestInit, Response};

use crate::error::{AppError, StorageError};
use crate::http::{json_response, with_cors};
use crate::store::{bucket, db, n, s};

/// Most multipart parts in one chunk upload.
const MAX_PARTS: usize = 64;

fn chunk_key(project: &str, sha1: &str) -> String {
    format!("sourcemaps/{project}/chunks/{sha1}")
}

fn index_key(project: &str, map_id: &str) -> String {
    format!("sourcemaps/{project}/maps/{map_id}/index")
}

fn source_key(project: &str, map_id: &str, source: u32) -> String {
    format!("sourcemaps/{project}/maps/{map_id}/src/{source}")
}

fn bundle_key(project: &str, checksum: &str) -> String {
    format!("sourcemaps/{project}/bundles/{checksum}")
}

fn upload_project<'c>(req: &Request, config: &'c Config) -> Result<&'c str, AppError> {
    let auth = req.headers().get("Authorization")?;
    Ok(authenticate_upload(config, auth.as_deref())?)
}

/// Reads a body of at most `limit` bytes: refused on its `Content-Length` before reading, or
/// as soon as the streamed bytes pass the limit.
async fn read_body(req: &mut Request, limit: u64, what: &str) -> Result<Vec<u8>, AppError> {
    let declared = req
        .headers()
        .get("Content-Length")?
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|l| l > limit) {
        return Err(UploadError::too_large(what, limit).into());
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    if let Ok(mut stream) = req.stream() {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| UploadError::InvalidParam {
                name: "body",
                detail: format!("the body could not be read: {e}"),
            })?;
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(UploadError::too_large(what, limit).into());
            }
            bytes.extend_from_slice(&chunk);
        }
    }
    Ok(bytes)
}

/// `GET /api/0/organizations/{org}/chunk-upload/`: where and how to upload chunks.
pub(crate) fn handle_chunk_options(req: &Request, config: &Config) -> Result<Response, AppError> {
    upload_project(req, config)?;
    let url = req.url()?;
    let chunk_url = format!("{}{}", url.origin().ascii_serialization(), url.path());
    Ok(json_response(&chunk_upload_options(&chunk_url), 200)?)
}

/// `POST /api/0/organizations/{org}/chunk-upload/`: multipart `file` / `file_gzip` parts, each
/// named by the SHA-1 of its (uncompressed) content, stored by that SHA-1 after checking it.
pub(crate) async fn handle_chunk_upload(
    mut req: Request,
    env: &Env,
    config: &Config,
) -> Result<Response, AppError> {
    let project = upload_project(&req, config)?.to_string();
    let content_type = req.headers().get("Content-Type")?.unwrap_or_default();
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(UploadError::InvalidParam {
            name: "Content-Type",
            detail: "chunks are posted as multipart/form-data".into(),
        }
        .into());
    }
    let limit = MAX_REQUEST_BYTES + MULTIPART_SLACK;
    let body = read_body(&mut req, limit, "the chunk upload request").await?;
    // The multipart body is parsed by the runtime's own FormData, from the bounded bytes.
    let headers = Headers::new();
    headers.set("Content-Type", &content_type)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
    drop(body);
    let mut parsed = Request::new_with_init("https://chunks.invalid/", &init)?;
    let form = parsed
        .form_data()
        .await
        .map_err(|e| UploadError::InvalidParam {
            name: "body",
            detail: format!("not a multipart body: {e}"),
        })?;
    let mut stored = Vec::new();
    let bucket = bucket(env).map_err(StorageError::from)?;
    for (field, gzip) in [("file", false), ("file_gzip", true)] {
        for entry in form.get_all(field).unwrap_or_default() {
            let worker::FormEntry::File(file) = entry else {
                return Err(
                    UploadError::InvalidChunk(format!("part '{field}' is not a file")).into(),
                );
            };
            if stored.len() >= MAX_PARTS {
                return Err(UploadError::InvalidParam {
                    name: "body",
                    detail: format!("more than {MAX_PARTS} chunks in one request"),
                }
                .into());
            }
            let name = file.name();
            let what = format!("chunk {}", name.chars().take(64).collect::<String>());
            let raw = file
                .bytes()
                .await
                .map_err(|e| UploadError::InvalidChunk(format!("{what} could not be read: {e}")))?;
            let bytes = if gzip {
                decode_body(ContentEncoding::Gzip, raw, CHUNK_SIZE).map_err(|e| match e {
                    IngestError::TooLarge { .. } => {
                        UploadError::too_large(what.clone(), CHUNK_SIZE)
                    }
                    other => UploadError::InvalidChunk(format!("{what}: {other}")),
                })?
            } else if raw.len() as u64 > CHUNK_SIZE {
                return Err(UploadError::too_large(what, CHUNK_SIZE).into());
            } else {
                raw
            };
            let sha1 = verify_chunk(&name, &bytes)?;
            bucket
                .put(chunk_key(&project, &sha1), bytes)
                .execute()
                .await
                .map_err(StorageError::from)?;
            stored.push(sha1);
        }
    }
    Ok(json_response(&json!({ "stored": stored }), 200)?)
}

/// `POST /api/0/organizations/{org}/artifactbundle/assemble/`: answers the chunks still
/// missing, else assembles the bundle, checks its SHA-1, indexes its maps and answers `ok`.
pub(crate) async fn handle_assemble(
    mut req: Request,
    env: &Env,
    config: &Config,
    now_ms: u64,
) -> Result<Response, AppError> {
    let project = upload_project(&req, config)?.to_string();
    let body = read_body(&mut req, MAX_ASSEMBLE_BYTES, "the assemble request").await?;
    let asked = parse_assemble(&body)?;
    for p in &asked.projects {
        check_project(&project, p)?;
    }
    let bucket = bucket(env).map_err(StorageError::from)?;
    let done = json!({ "state": "ok", "missingChunks": [], "detail": null });
    if bucket
        .head(bundle_key(&project, &asked.checksum))
        .await
        .map_err(StorageError::from)?
        .is_some()
    {
        return Ok(json_response(&done, 200)?);
    }
    let mut missing = Vec::new();
    for c in &asked.chunks {
        let head = bucket
            .head(chunk_key(&project, c))
            .await
            .map_err(StorageError::from)?;
        if head.is_none() && !missing.contains(c) {
            missing.push(c.clone());
        }
    }
    if !missing.is_empty() {
        return Ok(json_response(
            &json!({ "state": "not_found", "missingChunks": missing }),
            200,
        )?);
    }
    let mut bundle = Vec::new();
    for c in &asked.chunks {
        let bytes = get_object(env, &chunk_key(&project, c), None).await?;
        if (bundle.len() + bytes.len()) as u64 > MAX_BUNDLE_BYTES {
            return Err(UploadError::too_large("the bundle", MAX_BUNDLE_BYTES).into());
        }
        bundle.extend_from_slice(&bytes);
    }
    let actual = sha1_hex(&bundle);
    if actual != asked.checksum {
        return Err(UploadError::ChecksumMismatch {
            expected: asked.checksum,
            actual,
        }
        .into());
    }
    let summary = index_bundle(env, &project, &bundle, now_ms).await?;
    drop(bundle);
    bucket
        .put(bundle_key(&project, &asked.checksum), summary.to_string())
        .execute()
        .await
        .map_err(StorageError::from)?;
    for c in &asked.chunks {
        if let Err(e) = bucket.delete(chunk_key(&project, c)).await {
            worker::console_error!("could not delete an assembled chunk: {e}");
        }
    }
    Ok(json_response(&done, 200)?)
}

/// Indexes every map of a bundle and records what finds it.
async fn index_bundle(
    env: &Env,
    project: &str,
    bytes: &[u8],
    now_ms: u64,
) -> Result<Value, AppError> {
    let mut bundle = Bundle::open(bytes, BundleLimits::default()).map_err(UploadError::from)?;
    let plans = plan_bundle(&bundle.manifest)?;
    let mut maps = Vec::new();
    for plan in plans {
        let map = bundle.read(&plan.map_path).map_err(UploadError::from)?;
        let minified = match &plan.minified_path {
            Some(p) => Some(bundle.read(p).map_err(UploadError::from)?),
            None => None,
        };
        let minified_text = minified
            .as_deref()
            .and_then(|m| std::str::from_utf8(m).ok());
        let indexed = encode(&map, minified_text).map_err(|e| UploadError::InvalidMap {
            url: plan.url.chars().take(200).collect(),
            detail: e.to_string(),
        })?;
        let id = map_id(&map, minified.as_deref());
        drop(map);
        let debug_id = plan
            .debug_id
            .clone()
            .or_else(|| indexed.debug_id.as_deref().and_then(normalize_debug_id));
        let mut refs: Vec<(&str, String)> = Vec::new();
        if let Some(d) = &debug_id {
            refs.push(("debug_id", d.clone()));
        }
        for (release, dist, url) in &plan.release_urls {
            refs.push(("release", release_key(release, dist, url)));
        }
        let tokens = indexed.tokens;
        store_map(env, project, &id, &indexed, &plan.url, &refs, now_ms).await?;
        maps.push(json!({ "url": plan.url, "debug_id": debug_id, "tokens": tokens, "map_id": id }));
    }
    Ok(json!({ "maps": maps }))
}

fn release_key(release: &str, dist: &str, url: &str) -> String {
    format!("{release}\n{dist}\n{url}")
}

/// Puts an indexed map's objects in R2, then the rows that find it (the rows last, so a row
/// never points at a map that is not there yet).
async fn store_map(
    env: &Env,
    project: &str,
    id: &str,
    indexed: &IndexedMap,
    url: &str,
    refs: &[(&str, String)],
    now_ms: u64,
) -> Result<(), StorageError> {
    let bucket = bucket(env)?;
    bucket
        .put(index_key(project, id), indexed.index.clone())
        .execute()
        .await?;
    for (i, source) in indexed.sources.iter().enumerate() {
        if let Some(bytes) = source {
            bucket
                .put(source_key(project, id, i as u32), bytes.clone())
                .execute()
                .await?;
        }
    }
    let db = db(env)?;
    let mut statements = Vec::new();
    for (kind, key) in refs {
        statements.push(
            db.prepare(
                "INSERT INTO sourcemaps (project, kind, lookup_key, map_id, index_len, url, uploaded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (project, kind, lookup_key) DO UPDATE SET
                    map_id = excluded.map_id, index_len = excluded.index_len, url = excluded.url,
                    uploaded_at = excluded.uploaded_at",
            )
            .bind(&[
                s(project),
                s(kind),
                s(key),
                s(id),
                n(indexed.index.len() as u64),
                s(url),
                n(now_ms),
            ])?,
        );
    }
    if !statements.is_empty() {
        db.batch(statements).await?;
    }
    Ok(())
}

/// `POST /api/{project}/sourcemaps?url=<minified file URL>&release=<r>[&dist=<d>][&debug_id=<id>]`
/// with the map as the body (gzip allowed): the upload for teams without `sentry-cli`.
pub(crate) async fn handle_plain_upload(
    mut req: Request,
    env: &Env,
    config: &Config,
    project: &str,
    now_ms: u64,
) -> Result<Response, AppError> {
    let token_project = upload_project(&req, config)?;
    check_project(token_project, project)?;
    let url = req.url()?;
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let bad = |name: &'static str, detail: &str| UploadError::InvalidParam {
        name,
        detail: detail.into(),
    };
    let file_url = param("url")
        .and_then(|u| normalize_upload_url(&u))
        .ok_or_else(|| bad("url", "the minified file's URL (or ~/path) is required"))?;
    let release = param("release");
    if release.as_ref().is_some_and(|r| r.chars().count() > 200) {
        return Err(bad("release", "at most 200 characters").into());
    }
    let dist = param("dist").unwrap_or_default();
    let debug_id = match param("debug_id") {
        Some(d) => {
            Some(normalize_debug_id(&d).ok_or_else(|| bad("debug_id", "not a UUID debug id"))?)
        }
        None => None,
    };
    let encoding = ContentEncoding::parse(req.headers().get("Content-Encoding")?.as_deref())
        .map_err(|e| bad("Content-Encoding", &e.to_string()))?;
    let body = read_body(&mut req, MAX_MAP_BYTES, "the source map").await?;
    let map = decode_body(encoding, body, MAX_MAP_BYTES).map_err(|e| match e {
        IngestError::TooLarge { .. } => {
            UploadError::too_large("the decompressed source map", MAX_MAP_BYTES)
        }
        other => bad("body", &other.to_string()),
    })?;
    let indexed = encode(&map, None).map_err(|e| UploadError::InvalidMap {
        url: file_url.clone(),
        detail: e.to_string(),
    })?;
    let debug_id = debug_id.or_else(|| indexed.debug_id.as_deref().and_then(normalize_debug_id));
    if release.is_none() && debug_id.is_none() {
        return Err(bad(
            "release",
            "a release (or a debug_id) is needed: frames are never matched by file name alone",
        )
        .into());
    }
    let mut refs = Vec::new();
    if let Some(d) = &debug_id {
        refs.push(("debug_id", d.clone()));
    }
    if let Some(r) = &release {
        refs.push(("release", release_key(r, &dist, &file_url)));
    }
    let id = map_id(&map, None);
    drop(map);
    let map_url = format!("{file_url}.map");
    store_map(env, project, &id, &indexed, &map_url, &refs, now_ms).await?;
    let with_content = indexed.sources.iter().filter(|s| s.is_some()).count();
    Ok(with_cors(json_response(
        &json!({
            "map_id": id,
            "url": file_url,
            "release": release,
            "dist": dist,
            "debug_id": debug_id,
            "tokens": indexed.tokens,
            "sources": indexed.sources.len(),
            "sources_with_content": with_content,
        }),
        201,
    )?)?)
}

/// An object (or a range of it) from R2; a missing object is empty.
async fn get_object(
    env: &Env,
    key: &str,
    range: Option<Range<u64>>,
) -> Result<Vec<u8>, StorageError> {
    let b = bucket(env)?;
    let mut get = b.get(key);
    if let Some(r) = range {
        if r.end <= r.start {
            return Ok(Vec::new());
        }
        get = get.range(worker::Range::OffsetWithLength {
            offset: r.start,
            length: r.end - r.start,
        });
    }
    let Some(obj) = get.execute().await? else {
        return Ok(Vec::new());
    };
    Ok(match obj.body() {
        Some(body) => body.bytes().await?,
        None => Vec::new(),
    })
}

/// The project's maps in D1 and R2, as core reads them.
struct R2Maps<'e> {
    env: &'e Env,
    project: String,
    lookups: &'e mut MapLookups,
}

/// Map lookups already answered, kept for one consumer batch: its events mostly come from the
/// same release and files, so each (project, key) is asked of D1 once per batch. A map
/// uploaded while a batch runs is seen from the next batch on (the event's "reprocess" maps
/// it later in any case).
#[derive(Default)]
pub(crate) struct MapLookups(std::collections::HashMap<String, Option<StoredMap>>);

#[derive(Deserialize)]
struct MapRow {
    lookup_key: String,
    map_id: String,
    #[serde(deserialize_with = "crate::store::num")]
    index_len: u64,
    url: String,
}

impl MapStore for R2Maps<'_> {
    type Error = StorageError;

    async fn resolve(&mut self, key: &MapKey) -> Result<Option<StoredMap>, StorageError> {
        let (kind, keys) = match key {
            MapKey::DebugId(id) => ("debug_id", vec![id.clone()]),
            MapKey::Release {
                release,
                dist,
                urls,
            } => (
                "release",
                urls.iter().map(|u| release_key(release, dist, u)).collect(),
            ),
        };
        let list = serde_json::to_string(&keys).map_err(|e| StorageError(e.to_string()))?;
        let asked = format!("{}\u{1}{kind}\u{1}{list}", self.project);
        if let Some(known) = self.lookups.0.get(&asked) {
            return Ok(known.clone());
        }
        let r = db(self.env)?
            .prepare(
                "SELECT lookup_key, map_id, index_len, url FROM sourcemaps
                 WHERE project = ?1 AND kind = ?2 AND lookup_key IN (SELECT value FROM json_each(?3))",
            )
            .bind(&[s(&self.project), s(kind), s(&list)])?
            .all()
            .await?;
        let rows: Vec<MapRow> = crate::store::rows(&r, "sourcemap")?;
        // Candidates are in order of preference (the exact URL before `~/path`).
        let found = keys.iter().find_map(|k| {
            rows.iter().find(|r| &r.lookup_key == k).map(|r| StoredMap {
                id: r.map_id.clone(),
                index_len: r.index_len,
                url: r.url.clone(),
            })
        });
        self.lookups.0.insert(asked, found.clone());
        Ok(found)
    }

    async fn read_index(
        &mut self,
        map: &StoredMap,
        range: Range<u64>,
    ) -> Result<Vec<u8>, StorageError> {
        get_object(self.env, &index_key(&self.project, &map.id), Some(range)).await
    }

    async fn read_source(
        &mut self,
        map: &StoredMap,
        source: u32,
        range: Range<u64>,
    ) -> Result<Vec<u8>, StorageError> {
        get_object(
            self.env,
            &source_key(&self.project, &map.id, source),
            Some(range),
        )
        .await
    }
}

/// Rewrites an event's frames through the project's uploaded maps, in place (see
/// `backstop_server_core::symbolicate`). The caller re-summarises the event afterwards so grouping
/// uses the mapped frames. A storage failure leaves the event as it was.
pub(crate) async fn symbolicate_event(
    env: &Env,
    project: &str,
    event: &mut Value,
    lookups: &mut MapLookups,
) -> Result<SymbolicationStats, StorageError> {
    let mut store = R2Maps {
        env,
        project: project.to_string(),
        lookups,
    };
    let mut work = event.clone();
    let stats = symbolicate(&mut work, &mut store).await?;
    *event = work;
    Ok(stats)
}

/// Adds an event's in-app frame counts to the project's per-minute stats
/// (`sourcemap:mapped`, `sourcemap:unmapped`), read back by `/stats` as the share of in-app
/// frames mapped in the last 24 h.
pub(crate) async fn count_symbolication(
    env: &Env,
    project: &str,
    stats: &SymbolicationStats,
    now_ms: u64,
) -> Result<(), StorageError> {
    let mapped = u64::from(stats.in_app_mapped);
    let unmapped = u64::from(stats.in_app_frames.saturating_sub(stats.in_app_mapped));
    if mapped == 0 && unmapped == 0 {
        return Ok(());
    }
    let db = db(env)?;
    let add = format!(
        "INSERT INTO stats (project, minute, reason, count) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (project, minute, reason) DO UPDATE SET
            count = MIN(count + excluded.count, {MAX_STORED_INT})"
    );
    let minute = n(minute_bucket(now_ms));
    let mut statements = Vec::new();
    for (reason, count) in [
        (backstop_server_core::stats::SOURCEMAP_MAPPED, mapped),
        (backstop_server_core::stats::SOURCEMAP_UNMAPPED, unmapped),
    ] {
        if count > 0 {
            statements.push(db.prepare(&add).bind(&[
                s(project),
                minute.clone(),
                s(reason),
                n(count),
            ])?);
        }
    }
    db.batch(statements).await?;
    Ok(())
}

#[derive(Deserialize)]
struct StoredEventRow {
    payload: Option<String>,
    payload_r2_key: Option<String>,
    #[serde(deserialize_with = "crate::store::num")]
    received_at: u64,
}

/// `POST /api/{project}/events/{id}/reprocess` (admin token): symbolicates the stored event
/// again from its raw frames (for a map uploaded after it arrived) and updates its payload
/// and frames. The issue it belongs to stays.
pub(crate) async fn handle_reprocess(
    req: &Request,
    env: &Env,
    config: &Config,
    project: &str,
    id: &str,
    now_ms: u64,
) -> Result<Response, AppError> {
    authenticate_admin(config, req.headers().get("Authorization")?.as_deref())?;
    if config.project(project).is_none() {
        return Err(ApiError::NotFound(format!(
            "project '{}'",
            project.chars().take(64).collect::<String>()
        ))
        .into());
    }
    let not_found = || ApiError::NotFound("event".into());
    let id = normalize_event_id(id).ok_or_else(not_found)?;
    let row: Option<Value> = db(env)?
        .prepare("SELECT payload, payload_r2_key, received_at FROM events WHERE project = ?1 AND event_id = ?2")
        .bind(&[s(project), s(&id)])?
        .first(None)
        .await
        .map_err(StorageError::from)?;
    let row: StoredEventRow = row
        .and_then(|r| serde_json::from_value(r).ok())
        .ok_or_else(not_found)?;
    let raw = match (&row.payload, &row.payload_r2_key) {
        (Some(p), _) => p.clone(),
        (None, Some(key)) => {
            String::from_utf8_lossy(&get_object(env, key, None).await?).into_owned()
        }
        (None, None) => return Err(not_found().into()),
    };
    let mut payload: Value = serde_json::from_str(&raw).map_err(|_| not_found())?;
    let stats = symbolicate_event(env, project, &mut payload, &mut MapLookups::default()).await?;
    let summary =
        summarize_event(payload, &id, row.received_at).map_err(|e| ApiError::InvalidParam {
            name: "event",
            detail: format!("the stored event does not read: {e}"),
        })?;
    let text = summary.payload.to_string();
    let frames = serde_json::to_string(&summary.summary.frames).unwrap_or_else(|_| "[]".into());
    let db = db(env)?;
    let inline_limit = config.limits.max_inline_payload_bytes;
    if row.payload.is_none() || text.len() as u64 > inline_limit {
        let key = row
            .payload_r2_key
            .clone()
            .unwrap_or_else(|| format!("events/{project}/{id}.json"));
        bucket(env)
            .map_err(StorageError::from)?
            .put(&key, text.clone().into_bytes())
            .execute()
            .await
            .map_err(StorageError::from)?;
        db.prepare("UPDATE events SET payload = NULL, payload_r2_key = ?3, frames = ?4, culprit = ?5, size = ?6 WHERE project = ?1 AND event_id = ?2")
            .bind(&[s(project), s(&id), s(&key), s(&frames), s(&summary.summary.culprit), n(text.len() as u64)])?
            .run()
            .await
            .map_err(StorageError::from)?;
    } else {
        db.prepare("UPDATE events SET payload = ?3, frames = ?4, culprit = ?5, size = ?6 WHERE project = ?1 AND event_id = ?2")
            .bind(&[s(project), s(&id), s(&text), s(&frames), s(&summary.summary.culprit), n(text.len() as u64)])?
            .run()
            .await
            .map_err(StorageError::from)?;
    }
    count_symbolication(env, project, &stats, now_ms).await?;
    Ok(with_cors(json_response(
        &json!({
            "event_id": id,
            "frames": stats.frames,
            "mapped": stats.mapped,
            "in_app_frames": stats.in_app_frames,
            "in_app_mapped": stats.in_app_mapped,
        }),
        200,
    )?)?)
}

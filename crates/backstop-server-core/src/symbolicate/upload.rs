//! The upload side: what `sentry-cli sourcemaps upload` (3.x) is told and sends (chunk-upload
//! options, chunks named by SHA-1, the assemble request), the upload token, the limits, and
//! which maps of a bundle to index under which debug ids and URLs.
//!
//! The protocol, as `sentry-cli` 3.8 speaks it: `GET /api/0/organizations/{org}/chunk-upload/`
//! (options), `POST …/artifactbundle/assemble/` with `{checksum, chunks, projects}` (answered
//! `not_found` with the `missingChunks`), `POST` of the missing chunks as multipart `file_gzip`
//! parts named by the SHA-1 of the uncompressed chunk, then the same assemble again.

use serde::Deserialize;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use super::bundle::{BundleError, FileKind, Manifest};
use super::normalize_upload_url;
use crate::config::Config;

/// Size of one chunk (`chunkSize`, a power of two as `sentry-cli` requires).
pub const CHUNK_SIZE: u64 = 4 * 1024 * 1024;
/// Chunks per upload request (`chunksPerRequest`).
pub const CHUNKS_PER_REQUEST: u64 = 4;
/// Largest upload request `sentry-cli` is told to send (`maxRequestSize`).
pub const MAX_REQUEST_BYTES: u64 = CHUNKS_PER_REQUEST * CHUNK_SIZE;
/// Multipart framing a request may add to its chunks.
pub const MULTIPART_SLACK: u64 = 64 * 1024;
/// Largest bundle (`maxFileSize`): it is assembled in memory, so it is kept well inside a
/// Worker's 128 MB with its map parsed and indexed.
pub const MAX_BUNDLE_BYTES: u64 = 32 * 1024 * 1024;
/// Most chunks one assemble may name.
pub const MAX_CHUNKS: usize = (MAX_BUNDLE_BYTES / CHUNK_SIZE) as usize;
/// Largest map body of the plain (`curl`) upload, before and after decompression.
pub const MAX_MAP_BYTES: u64 = 32 * 1024 * 1024;
/// Largest assemble request body.
pub const MAX_ASSEMBLE_BYTES: u64 = 16 * 1024;
/// Most maps one bundle may hold.
pub const MAX_MAPS_PER_BUNDLE: usize = 500;

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// No `Authorization: Bearer` upload token.
    #[error("missing upload token: send Authorization: Bearer <upload token>")]
    MissingToken,
    /// The token is no project's upload token.
    #[error("invalid upload token")]
    InvalidToken,
    /// The token is another project's.
    #[error("this upload token is for project '{token_project}', not '{asked}'")]
    WrongProject {
        /// The token's project.
        token_project: String,
        /// The project asked for.
        asked: String,
    },
    /// A body or part over its limit.
    #[error("{what} is too large: the limit is {limit} bytes")]
    TooLarge {
        /// What was measured.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// A chunk whose content is not its name's SHA-1, or a bad chunk part.
    #[error("invalid chunk: {0}")]
    InvalidChunk(String),
    /// The assembled chunks are not the bundle's checksum.
    #[error("the assembled chunks have SHA-1 {actual}, not the checksum {expected}")]
    ChecksumMismatch {
        /// The assemble request's checksum.
        expected: String,
        /// What the chunks give.
        actual: String,
    },
    /// The bundle cannot be read.
    #[error("invalid bundle: {0}")]
    InvalidBundle(#[from] BundleError),
    /// A map that does not parse or is over a limit.
    #[error("invalid source map {url}: {detail}")]
    InvalidMap {
        /// Its URL.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// A malformed request (JSON, parameter).
    #[error("invalid parameter '{name}': {detail}")]
    InvalidParam {
        /// Which.
        name: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl UploadError {
    /// The `error` code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::WrongProject { .. } => "wrong_project",
            Self::TooLarge { .. } => "too_large",
            Self::InvalidChunk(_) => "invalid_chunk",
            Self::ChecksumMismatch { .. } => "checksum_mismatch",
            Self::InvalidBundle(_) => "invalid_bundle",
            Self::InvalidMap { .. } => "invalid_sourcemap",
            Self::InvalidParam { .. } => "invalid_param",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingToken => 401,
            Self::InvalidToken | Self::WrongProject { .. } => 403,
            Self::TooLarge { .. } => 413,
            _ => 400,
        }
    }

    /// The JSON body: `error`, `detail` (what `sentry-cli` prints), and `limit` for sizes.
    pub fn body(&self) -> Value {
        let mut body = json!({ "error": self.code(), "detail": self.to_string() });
        if let Self::TooLarge { limit, .. } = self {
            body["limit"] = json!(limit);
        }
        if matches!(
            self,
            Self::InvalidBundle(_) | Self::InvalidMap { .. } | Self::ChecksumMismatch { .. }
        ) {
            body["state"] = json!("error");
        }
        body
    }

    /// A [`UploadError::TooLarge`].
    pub fn too_large(what: impl Into<String>, limit: u64) -> Self {
        Self::TooLarge {
            what: what.into(),
            limit,
        }
    }
}

/// The project whose upload token `Authorization: Bearer <token>` carries.
pub fn authenticate_upload<'c>(
    config: &'c Config,
    authorization: Option<&str>,
) -> Result<&'c str, UploadError> {
    let token = authorization
        .map(str::trim)
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(UploadError::MissingToken)?;
    let mut found = None;
    // Every token is compared (in constant time each), so timing tells nothing of which.
    for (project, t) in &config.upload_tokens {
        if crate::auth::constant_time_eq(t.as_bytes(), token.as_bytes()) {
            found = Some(project.as_str());
        }
    }
    found.ok_or(UploadError::InvalidToken)
}

/// Checks that the token's project is the one asked for.
pub fn check_project(token_project: &str, asked: &str) -> Result<(), UploadError> {
    if token_project == asked {
        Ok(())
    } else {
        Err(UploadError::WrongProject {
            token_project: token_project.into(),
            asked: asked.chars().take(64).collect(),
        })
    }
}

/// The chunk-upload options `sentry-cli` reads first. `url` is where chunks are posted.
pub fn chunk_upload_options(url: &str) -> Value {
    json!({
        "url": url,
        "chunkSize": CHUNK_SIZE,
        "chunksPerRequest": CHUNKS_PER_REQUEST,
        "maxRequestSize": MAX_REQUEST_BYTES,
        "maxFileSize": MAX_BUNDLE_BYTES,
        "concurrency": 2,
        "hashAlgorithm": "sha1",
        "compression": ["gzip"],
        "accept": ["artifact_bundles", "artifact_bundles_v2"],
    })
}

/// Lowercase hex SHA-1.
pub fn sha1_hex(bytes: &[u8]) -> String {
    let digest = Sha1::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A SHA-1 in hex (40 digits, any case), lowercased.
pub fn parse_sha1(s: &str) -> Option<String> {
    let s = s.trim();
    (s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

/// Checks one uploaded chunk (already decompressed, within [`CHUNK_SIZE`]) against its name.
pub fn verify_chunk(name: &str, bytes: &[u8]) -> Result<String, UploadError> {
    let expected = parse_sha1(name).ok_or_else(|| {
        UploadError::InvalidChunk(format!(
            "part name '{}' is not a SHA-1 in hex",
            name.chars().take(64).collect::<String>()
        ))
    })?;
    let actual = sha1_hex(bytes);
    if actual != expected {
        return Err(UploadError::InvalidChunk(format!(
            "content has SHA-1 {actual}, the part is named {expected}"
        )));
    }
    Ok(expected)
}

/// An assemble request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembleRequest {
    /// SHA-1 of the whole bundle.
    pub checksum: String,
    /// Its chunks' SHA-1s, in order.
    pub chunks: Vec<String>,
    /// Project slugs (ids here) it is for.
    pub projects: Vec<String>,
}

#[derive(Deserialize)]
struct RawAssemble {
    checksum: String,
    #[serde(default)]
    chunks: Vec<String>,
    #[serde(default)]
    projects: Vec<String>,
}

/// Reads an assemble request body.
pub fn parse_assemble(body: &[u8]) -> Result<AssembleRequest, UploadError> {
    let bad = |detail: String| UploadError::InvalidParam {
        name: "body",
        detail,
    };
    let value = crate::event::parse_json_bounded(body, 8).map_err(|e| bad(e.to_string()))?;
    let raw: RawAssemble = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    let checksum =
        parse_sha1(&raw.checksum).ok_or_else(|| bad("checksum is not a SHA-1 in hex".into()))?;
    if raw.chunks.is_empty() {
        return Err(bad("chunks is empty".into()));
    }
    if raw.chunks.len() > MAX_CHUNKS {
        return Err(UploadError::too_large(
            format!("a bundle of {} chunks", raw.chunks.len()),
            MAX_BUNDLE_BYTES,
        ));
    }
    let chunks = raw
        .chunks
        .iter()
        .map(|c| parse_sha1(c).ok_or_else(|| bad("a chunk is not a SHA-1 in hex".into())))
        .collect::<Result<Vec<_>, _>>()?;
    if raw.projects.len() > 20 {
        return Err(bad("more than 20 projects".into()));
    }
    Ok(AssembleRequest {
        checksum,
        chunks,
        projects: raw.projects,
    })
}

/// One map of a bundle to index, and what finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapPlan {
    /// The map's path in the bundle.
    pub map_path: String,
    /// The minified file's path, when the bundle has it (function names need it).
    pub minified_path: Option<String>,
    /// The debug id both carry.
    pub debug_id: Option<String>,
    /// Release lookups: `(release, dist, url)` of the minified file.
    pub release_urls: Vec<(String, String, String)>,
    /// The URL shown on frames (the map's).
    pub url: String,
}

/// Which maps of a bundle to index, matched with their minified files by debug id, else by
/// the minified file's `sourcemap` header.
pub fn plan_bundle(manifest: &Manifest) -> Result<Vec<MapPlan>, UploadError> {
    let maps: Vec<_> = manifest
        .files
        .iter()
        .filter(|f| f.kind == FileKind::SourceMap)
        .collect();
    if maps.len() > MAX_MAPS_PER_BUNDLE {
        return Err(UploadError::InvalidParam {
            name: "bundle",
            detail: format!(
                "{} source maps, the limit is {MAX_MAPS_PER_BUNDLE}",
                maps.len()
            ),
        });
    }
    let minified: Vec<_> = manifest
        .files
        .iter()
        .filter(|f| f.kind == FileKind::MinifiedSource)
        .collect();
    let mut plans = Vec::new();
    for map in maps {
        let by_id = map
            .debug_id
            .as_ref()
            .and_then(|id| minified.iter().find(|m| m.debug_id.as_ref() == Some(id)));
        let by_ref = || {
            minified.iter().find(|m| {
                m.sourcemap
                    .as_deref()
                    .is_some_and(|r| resolves_to(&m.url, r, &map.url))
            })
        };
        let min = by_id.or_else(by_ref);
        let debug_id = map
            .debug_id
            .clone()
            .or_else(|| min.and_then(|m| m.debug_id.clone()));
        let mut release_urls = Vec::new();
        if let (Some(release), Some(min)) = (&manifest.release, min) {
            if let Some(url) = normalize_upload_url(&min.url) {
                release_urls.push((
                    release.clone(),
                    manifest.dist.clone().unwrap_or_default(),
                    url,
                ));
            }
        }
        plans.push(MapPlan {
            map_path: map.path.clone(),
            minified_path: min.map(|m| m.path.clone()),
            debug_id,
            release_urls,
            url: map.url.clone(),
        });
    }
    Ok(plans)
}

/// Whether a `sourcemap` reference on the file at `file_url` names `map_url`.
fn resolves_to(file_url: &str, reference: &str, map_url: &str) -> bool {
    if reference == map_url {
        return true;
    }
    let dir = file_url.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{dir}/{reference}") == map_url
}

/// The storage id of an indexed map: the SHA-1 of the map and the minified file it was
/// indexed with, so uploading the same files again stores nothing new.
pub fn map_id(map_bytes: &[u8], minified: Option<&[u8]>) -> String {
    let mut h = Sha1::new();
    h.update((map_bytes.len() as u64).to_le_bytes());
    h.update(map_bytes);
    if let Some(m) = minified {
        h.update(m);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

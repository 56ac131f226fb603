//! Artifact bundles as `sentry-cli sourcemaps upload` (3.x) builds them: a zip with
//! `manifest.json` naming each file's type (`minified_source`, `source_map`), URL and headers
//! (`debug-id`, `sourcemap`). Read with bounds on everything a hostile zip can inflate: entry
//! count, each entry's size (declared and actually decompressed) and the total decompressed.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use serde::Deserialize;

use super::normalize_debug_id;

/// Bounds on reading one bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleLimits {
    /// Most entries in the zip.
    pub max_entries: usize,
    /// Largest decompressed entry.
    pub max_entry_bytes: u64,
    /// Most decompressed bytes over all entries read.
    pub max_total_bytes: u64,
    /// Largest `manifest.json`.
    pub max_manifest_bytes: u64,
}

impl Default for BundleLimits {
    fn default() -> Self {
        Self {
            max_entries: 2_000,
            max_entry_bytes: 32 * 1024 * 1024,
            max_total_bytes: 96 * 1024 * 1024,
            max_manifest_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Why a bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Not a zip, or a corrupt one.
    #[error("the bundle is not a readable zip: {0}")]
    NotZip(String),
    /// Too many entries.
    #[error("the bundle has {count} entries, the limit is {limit}")]
    TooManyEntries {
        /// Entries seen.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// An entry (or all of them) decompresses past its limit.
    #[error("{what} decompresses to more than {limit} bytes")]
    TooLarge {
        /// Which entry, or `the bundle`.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// No or a bad `manifest.json`.
    #[error("manifest.json: {0}")]
    Manifest(String),
    /// The manifest names a file the zip does not hold.
    #[error("manifest.json names {0}, which is not in the bundle")]
    MissingFile(String),
}

/// What a bundle file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Generated JavaScript.
    MinifiedSource,
    /// A source map.
    SourceMap,
    /// Anything else (kept out of the index).
    Other,
}

/// One file the manifest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    /// Its path in the zip.
    pub path: String,
    /// Its type.
    pub kind: FileKind,
    /// The URL it is served under (`~/main.js`).
    pub url: String,
    /// Its `debug-id` header, normalised.
    pub debug_id: Option<String>,
    /// A minified file's `sourcemap` header (the map's URL, relative to the file).
    pub sourcemap: Option<String>,
}

/// A bundle's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Files, in path order.
    pub files: Vec<BundleFile>,
    /// Release the bundle was uploaded for, if any.
    pub release: Option<String>,
    /// Dist, if any.
    pub dist: Option<String>,
}

#[derive(Deserialize)]
struct RawManifest {
    #[serde(default)]
    files: BTreeMap<String, RawFile>,
    #[serde(default)]
    release: Option<String>,
    #[serde(default)]
    dist: Option<String>,
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, serde_json::Value>,
}

/// Longest release or dist kept from a manifest.
pub const MAX_RELEASE_CHARS: usize = 200;

/// Reads `manifest.json` (bounded: the caller has bounded its size; JSON depth is checked).
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, BundleError> {
    let value = crate::event::parse_json_bounded(bytes, 16)
        .map_err(|e| BundleError::Manifest(e.to_string()))?;
    let raw: RawManifest =
        serde_json::from_value(value).map_err(|e| BundleError::Manifest(e.to_string()))?;
    let header = |h: &BTreeMap<String, serde_json::Value>, name: &str| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string)
    };
    let files = raw
        .files
        .into_iter()
        .map(|(path, f)| BundleFile {
            kind: match f.kind.as_str() {
                "minified_source" => FileKind::MinifiedSource,
                "source_map" => FileKind::SourceMap,
                _ => FileKind::Other,
            },
            url: f.url,
            debug_id: header(&f.headers, "debug-id").and_then(|d| normalize_debug_id(&d)),
            sourcemap: header(&f.headers, "sourcemap"),
            path,
        })
        .collect();
    let short = |s: Option<String>| {
        s.map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s.chars().count() <= MAX_RELEASE_CHARS)
    };
    Ok(Manifest {
        files,
        release: short(raw.release),
        dist: short(raw.dist),
    })
}

/// An open bundle: its manifest, and its files read on demand within the limits.
pub struct Bundle<'a> {
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    limits: BundleLimits,
    read_total: u64,
    /// The manifest.
    pub manifest: Manifest,
}

impl<'a> Bundle<'a> {
    /// Opens a bundle and reads its manifest.
    pub fn open(bytes: &'a [u8], limits: BundleLimits) -> Result<Self, BundleError> {
        let zip = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| BundleError::NotZip(e.to_string()))?;
        if zip.len() > limits.max_entries {
            return Err(BundleError::TooManyEntries {
                count: zip.len(),
                limit: limits.max_entries,
            });
        }
        let mut bundle = Self {
            zip,
            limits,
            read_total: 0,
            manifest: Manifest::default(),
        };
        let max = bundle.limits.max_manifest_bytes;
        let bytes = bundle
            .read_bounded("manifest.json", max)
            .map_err(|e| match e {
                BundleError::MissingFile(_) => BundleError::Manifest("missing".into()),
                other => other,
            })?;
        bundle.manifest = parse_manifest(&bytes)?;
        Ok(bundle)
    }

    /// Reads one file of the bundle, decompressed, within the entry and total limits.
    pub fn read(&mut self, path: &str) -> Result<Vec<u8>, BundleError> {
        let max = self.limits.max_entry_bytes;
        self.read_bounded(path, max)
    }

    fn read_bounded(&mut self, path: &str, max: u64) -> Result<Vec<u8>, BundleError> {
        let total_left = self.limits.max_total_bytes.saturating_sub(self.read_total);
        let mut entry = match self.zip.by_name(path) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(BundleError::MissingFile(path.chars().take(200).collect()))
            }
            Err(e) => return Err(BundleError::NotZip(e.to_string())),
        };
        let too_large = |what: &str, limit: u64| BundleError::TooLarge {
            what: what.chars().take(200).collect(),
            limit,
        };
        // The declared size is only a hint (a hostile zip lies about it): the read below is
        // bounded by the limit whatever it says.
        if entry.size() > max {
            return Err(too_large(path, max));
        }
        if entry.size() > total_left {
            return Err(too_large("the bundle", self.limits.max_total_bytes));
        }
        let bound = max.min(total_left);
        let mut out = Vec::with_capacity(entry.size().min(bound) as usize);
        (&mut entry)
            .take(bound + 1)
            .read_to_end(&mut out)
            .map_err(|e| BundleError::NotZip(format!("{path}: {e}")))?;
        if out.len() as u64 > bound {
            return Err(if bound == max {
                too_large(path, max)
            } else {
                too_large("the bundle", self.limits.max_total_bytes)
            });
        }
        self.read_total += out.len() as u64;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in files {
            w.start_file(*name, opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    const MANIFEST: &str = r#"{"files":{"files/_/_/main.js":{"type":"minified_source","url":"~/main.js","headers":{"debug-id":"36361158-91F5-5EB9-9B86-21484EE4FB1B","sourcemap":"main.js.map"}},"files/_/_/main.js.map":{"type":"source_map","url":"~/main.js.map","headers":{"Debug-Id":"36361158-91f5-5eb9-9b86-21484ee4fb1b"}}},"debug_id":"d266d418-1c01-58dd-872f-1ea800d7e5f1","org":"o","project":"1","release":"web@1"}"#;

    #[test]
    fn reads_sentry_cli_bundles() {
        let zip = zip_of(&[
            ("files/_/_/main.js", b"x()"),
            ("files/_/_/main.js.map", b"{}"),
            ("manifest.json", MANIFEST.as_bytes()),
        ]);
        let mut b = Bundle::open(&zip, BundleLimits::default()).unwrap();
        assert_eq!(b.manifest.release.as_deref(), Some("web@1"));
        let map = &b.manifest.files[1];
        assert_eq!(map.kind, FileKind::SourceMap);
        assert_eq!(
            map.debug_id.as_deref(),
            Some("36361158-91f5-5eb9-9b86-21484ee4fb1b"),
            "headers are case-insensitive"
        );
        assert_eq!(
            b.manifest.files[0].sourcemap.as_deref(),
            Some("main.js.map")
        );
        assert_eq!(b.read("files/_/_/main.js").unwrap(), b"x()");
        let plans = crate::symbolicate::upload::plan_bundle(&b.manifest).unwrap();
        assert_eq!(plans.len(), 1);
        assert_eq!(plans[0].minified_path.as_deref(), Some("files/_/_/main.js"));
        assert_eq!(
            plans[0].release_urls,
            vec![("web@1".into(), String::new(), "~/main.js".into())]
        );
    }

    #[test]
    fn refuses_hostile_zips() {
        let limits = BundleLimits {
            max_entries: 3,
            max_entry_bytes: 1024 * 1024,
            max_total_bytes: 1536 * 1024,
            max_manifest_bytes: 1024,
        };
        let zeros = vec![0u8; 8 * 1024 * 1024];
        let bomb = zip_of(&[
            ("manifest.json", MANIFEST.as_bytes()),
            ("files/_/_/main.js.map", &zeros),
        ]);
        assert!(
            bomb.len() < 64 * 1024,
            "8 MiB of zeros deflate to {} bytes",
            bomb.len()
        );
        let mut b = Bundle::open(&bomb, limits.clone()).unwrap();
        assert_eq!(
            b.read("files/_/_/main.js.map"),
            Err(BundleError::TooLarge {
                what: "files/_/_/main.js.map".into(),
                limit: 1024 * 1024
            })
        );
        let half = vec![b'a'; 1024 * 1024];
        let two = zip_of(&[
            ("manifest.json", MANIFEST.as_bytes()),
            ("a", &half),
            ("b", &half),
        ]);
        let mut b = Bundle::open(&two, limits.clone()).unwrap();
        assert!(b.read("a").is_ok());
        assert_eq!(
            b.read("b"),
            Err(BundleError::TooLarge {
                what: "the bundle".into(),
                limit: 1536 * 1024
            })
        );
        let many = zip_of(&[("manifest.json", b"{}"), ("a", b""), ("b", b""), ("c", b"")]);
        assert!(matches!(
            Bundle::open(&many, limits.clone()),
            Err(BundleError::TooManyEntries { count: 4, limit: 3 })
        ));
        let no_manifest = zip_of(&[("a", b"")]);
        assert!(matches!(
            Bundle::open(&no_manifest, limits.clone()),
            Err(BundleError::Manifest(_))
        ));
        let big_manifest = zip_of(&[("manifest.json", &[b' '; 2048])]);
        assert!(matches!(
            Bundle::open(&big_manifest, limits.clone()),
            Err(BundleError::TooLarge { .. })
        ));
        assert!(matches!(
            Bundle::open(b"PK\x03\x04 not really", limits),
            Err(BundleError::NotZip(_))
        ));
    }
}

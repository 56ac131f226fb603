//! Artifact bundles and their manifests as `sentry-cli sourcemaps upload` sends them: any bytes
//! as a zip, or as `manifest.json`, never panic, and what is read stays within the limits.
#![no_main]

use backstop_server_core::symbolicate::bundle::{parse_manifest, Bundle, BundleLimits};
use backstop_server_core::symbolicate::upload::{parse_assemble, plan_bundle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_assemble(data);
    if let Ok(manifest) = parse_manifest(data) {
        let _ = plan_bundle(&manifest);
    }
    let limits = BundleLimits {
        max_entries: 50,
        max_entry_bytes: 64 * 1024,
        max_total_bytes: 128 * 1024,
        max_manifest_bytes: 16 * 1024,
    };
    if let Ok(mut bundle) = Bundle::open(data, limits.clone()) {
        let paths: Vec<String> = bundle.manifest.files.iter().map(|f| f.path.clone()).collect();
        let mut total = 0u64;
        for p in paths {
            if let Ok(bytes) = bundle.read(&p) {
                assert!(bytes.len() as u64 <= limits.max_entry_bytes);
                total += bytes.len() as u64;
                assert!(total <= limits.max_total_bytes);
            }
        }
        let _ = plan_bundle(&bundle.manifest);
    }
});

//! DSNs (the SDK's option and the envelope header's `dsn`): a parsed DSN prints as a DSN that
//! parses to the same value.
#![no_main]

use backstop_protocol::Dsn;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = backstop_server_core::auth::dsn_key(Some(text), "1");
    if let Ok(dsn) = Dsn::parse(text) {
        assert!(!dsn.public_key.is_empty() && !dsn.host.is_empty() && !dsn.project_id.is_empty());
        let _ = dsn.envelope_url("fuzz/1");
        let printed = dsn.to_string();
        assert_eq!(Dsn::parse(&printed).as_ref(), Ok(&dsn), "{printed}");
    }
});

//! Rust/wasm apps: Backstop as the panic hook, so a panic arrives as an event with the Rust
//! message and location.
//!
//! The app's own wasm module does not carry the SDK: its hook hands the panic to the Backstop
//! SDK already on the page (`<script src=".../backstop.js" data-dsn=...>`) through
//! `Backstop.capturePanic(message, file, line, column)`, which calls [`capture_panic`] in the
//! SDK's module. Linking this crate for the hook costs the app only that one call.

use wasm_bindgen::prelude::*;

use backstop_sdk_core::capture::{capture, panic_draft};

use crate::Page;

#[wasm_bindgen]
extern "C" {
    /// `window.Backstop.capturePanic(...)` of the SDK on the page.
    #[wasm_bindgen(js_namespace = Backstop, js_name = capturePanic, catch)]
    fn page_capture_panic(
        message: &str,
        file: &str,
        line: u32,
        column: u32,
    ) -> Result<JsValue, JsValue>;
}

/// Installs a panic hook that reports every panic to the Backstop SDK on the page (exception
/// type `panic`, `mechanism.type = "panic"`, level `fatal`, the message and a frame with the
/// panic's file, line and column), then runs the hook installed before it (for example
/// `console_error_panic_hook`, or std's default that prints the message).
///
/// On `wasm32-unknown-unknown` a panic aborts right after the hooks run: the SDK hands the
/// event to `fetch` synchronously, so it leaves even though the module traps. Without the SDK
/// on the page the hook only runs the previous one.
///
/// ```no_run
/// // In a wasm-bindgen app, once at start-up, on a page that loads backstop.js:
/// backstop_browser::capture_panic_hook();
/// ```
pub fn capture_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload_as_str().unwrap_or("Box<dyn Any>");
        let (file, line, column) = info
            .location()
            .map_or(("<unknown>", 0, 0), |l| (l.file(), l.line(), l.column()));
        let _ = page_capture_panic(message, file, line, column);
        previous(info);
    }));
}

/// Reports a Rust panic (what `Backstop.capturePanic` calls). Returns the event id.
#[wasm_bindgen]
pub fn capture_panic(message: &str, file: &str, line: u32, column: u32) -> Option<String> {
    capture(&Page, &mut || {
        Some(panic_draft(message, file, line, column))
    })
}

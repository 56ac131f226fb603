//! Rust/wasm apps: Backstop as the panic hook, so a panic arrives as an event with the Rust
//! message and location.
//!
//! The app's own wasm module does not carry the SDK: its hook hands the panic to the Backstop
//! SDK already on the page (`<script src=".../backstop.js" data-dsn=...>`) through
//! `Backstop.capturePanic(message, file, line, column)`, which calls [`capture_panic`] in the
//! SDK's module. Linking this crate for the hook costs the app only that one call.

use alloc::string::String;

use backstop_sdk_core::capture::{capture, panic_draft};
use wasm_bindgen::prelude::*;

use crate::Page;

#[cfg(feature = "std")]
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
#[cfg(feature = "std")]
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

#[cfg(not(feature = "std"))]
#[wasm_bindgen]
extern "C" {
    /// `console.error(text)`.
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(text: &str);
}

/// The shipped SDK's own panics (it has no `std`): printed once, as `panicked at
/// file:line:column:` and the message when it is a plain string, written without `core::fmt`
/// (its formatting code would be a large share of the wasm). Then the wasm traps: the call
/// aborts, and the stub switches the SDK off, so a panic never re-enters it.
#[cfg(not(feature = "std"))]
#[panic_handler]
fn on_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut text = String::from("panicked at ");
    if let Some(l) = info.location() {
        text.push_str(l.file());
        for n in [l.line(), l.column()] {
            text.push(':');
            backstop_sdk_core::sdk_event::push_u64(&mut text, u64::from(n));
        }
    }
    text.push_str(":\n");
    text.push_str(
        info.message()
            .as_str()
            .unwrap_or("(formatted message not kept)"),
    );
    console_error(&text);
    core::arch::wasm32::unreachable()
}

//! Careful access to page-controlled JavaScript values.
//!
//! Every read of a property that the page could define (`error.stack`, `reason.message`,
//! `event.target.src`, even `navigator.userAgent`) goes through `Reflect.get` with `catch`: a
//! getter that throws becomes `None` instead of a JS exception unwinding through wasm frames
//! (which would skip our guard's `Drop` and leave the SDK stuck). No `instanceof` on page values
//! either (a `Proxy` can trap it); `typeof` checks are trap-free.

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// `String(v)`, which may run a page `toString` and throw.
    #[wasm_bindgen(js_name = String, catch)]
    fn js_string(v: &JsValue) -> Result<String, JsValue>;
}

/// `obj[key]`, `None` if `obj` is not an object or the getter throws.
pub(crate) fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    if !(obj.is_object() || obj.is_function()) {
        return None;
    }
    Reflect::get(obj, &JsValue::from_str(key)).ok()
}

/// `obj[key]` if it is a string.
pub(crate) fn get_str(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key)?.as_string()
}

/// `obj[key]` if it is a non-empty string.
pub(crate) fn get_nonempty(obj: &JsValue, key: &str) -> Option<String> {
    get_str(obj, key).filter(|s| !s.is_empty())
}

/// `obj[key]` if it is a positive integer that fits in `u32`.
pub(crate) fn get_u32(obj: &JsValue, key: &str) -> Option<u32> {
    let n = get(obj, key)?.as_f64()?;
    (n >= 1.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0).then_some(n as u32)
}

/// `obj[key]` if it is a function.
pub(crate) fn get_fn(obj: &JsValue, key: &str) -> Option<Function> {
    get(obj, key)?.dyn_into::<Function>().ok()
}

/// `obj[key] = value`, ignoring failures.
pub(crate) fn set(obj: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// Whether `v` looks like an `Error`: an object with a string `stack`, or with string `name`
/// and `message` (`DOMException`s have no stack in some browsers).
pub(crate) fn is_error_like(v: &JsValue) -> bool {
    if !(v.is_object() || v.is_function()) {
        return false;
    }
    get_str(v, "stack").is_some()
        || (get_str(v, "name").is_some() && get_str(v, "message").is_some())
}

/// A readable description of any value that is not an `Error`: strings as they are, objects as
/// JSON when they serialise, anything else through `String(v)`. Never throws; may run page code
/// (`toJSON`, `toString`), so callers hold the capture guard.
pub(crate) fn describe(v: &JsValue) -> String {
    if let Some(s) = v.as_string() {
        return s;
    }
    if v.is_undefined() {
        return "undefined".into();
    }
    if v.is_null() {
        return "null".into();
    }
    if v.is_object() {
        if let Some(json) = js_sys::JSON::stringify(v).ok().and_then(|s| s.as_string()) {
            if json != "{}" {
                return json;
            }
        }
    }
    js_string(v).unwrap_or_else(|_| "[unprintable value]".into())
}

/// The global object (`window` on a page).
pub(crate) fn global() -> JsValue {
    js_sys::global().into()
}

/// `location.href`, or empty.
pub(crate) fn page_url() -> String {
    get(&global(), "location")
        .and_then(|l| get_str(&l, "href"))
        .unwrap_or_default()
}

/// `navigator.userAgent`, or empty.
pub(crate) fn user_agent() -> String {
    get(&global(), "navigator")
        .and_then(|n| get_str(&n, "userAgent"))
        .unwrap_or_default()
}

/// 16 random bytes from `crypto.getRandomValues`, or `Math.random` where that is missing.
pub(crate) fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !filled {
        for b in &mut bytes {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes
}

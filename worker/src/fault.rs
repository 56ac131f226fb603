//! Test-only fault injection (`BACKSTOP_FAULTS`, local dev only; windows decided by
//! [`backstop_server_core::fault::Faults`]). While a window is active the real binding is made to
//! fail, so the error comes back from D1, R2 or the Durable Object through the same code path
//! and the same classification as a real outage: nothing under test is mocked.
//!
//! - D1: every statement prepared is replaced by one on a table that does not exist; D1 itself
//!   refuses it when it runs.
//! - R2: every keyed call (`head`, `get`, `put`, `delete`, multipart) gets a key longer than
//!   R2's 1024-byte limit; R2 itself refuses it.
//! - Rate limiter: the Durable Object is sent a body it refuses (see `rate_limiter::check`).

use backstop_server_core::fault::FaultKind;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::{Function, Object, Reflect};
use worker::{Bucket, D1Database, Env};

use crate::config;

/// A statement D1 refuses at run time: the table does not exist.
const MISSING_TABLE_SQL: &str = "SELECT * FROM backstop_fault_injected_missing_table";
/// R2 refuses keys longer than 1024 bytes.
const INVALID_R2_KEY_BYTES: usize = 1025;

/// Whether `kind` must fail now. An invalid configuration injects nothing (requests that load
/// the configuration are answered 503 `misconfigured` anyway).
pub(crate) fn is_active(env: &Env, kind: FaultKind) -> bool {
    // The configuration is read once per isolate (`config::load`), windows included.
    config::load(env).is_ok_and(|c| c.faults.is_active(kind, worker::Date::now().as_millis()))
}

fn method(target: &JsValue, name: &str) -> Result<Function, worker::Error> {
    Reflect::get(target, &JsValue::from_str(name))?
        .dyn_into::<Function>()
        .map_err(|_| worker::Error::RustError(format!("binding has no method {name}")))
}

/// The real D1 binding, except that `prepare` prepares [`MISSING_TABLE_SQL`] instead.
pub(crate) fn failing_d1(real: D1Database) -> Result<D1Database, worker::Error> {
    let real: JsValue = real.into();
    let wrapper = Object::new();
    // `bind` fixes the first argument: the caller's SQL arrives second and is ignored.
    let prepare = method(&real, "prepare")?.bind1(&real, &JsValue::from_str(MISSING_TABLE_SQL));
    Reflect::set(&wrapper, &"prepare".into(), &prepare)?;
    for name in ["batch", "exec"] {
        Reflect::set(&wrapper, &name.into(), &method(&real, name)?.bind0(&real))?;
    }
    Ok(wrapper.unchecked_into())
}

/// The real R2 binding, except that every keyed call gets a key R2 refuses.
pub(crate) fn failing_bucket(real: Bucket) -> Result<Bucket, worker::Error> {
    let real: JsValue = real.into();
    let wrapper = Object::new();
    let invalid_key = JsValue::from_str(&"k".repeat(INVALID_R2_KEY_BYTES));
    for name in [
        "head",
        "get",
        "put",
        "delete",
        "createMultipartUpload",
        "resumeMultipartUpload",
    ] {
        let f = method(&real, name)?;
        let (this, key) = (real.clone(), invalid_key.clone());
        let call = Closure::<dyn Fn(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
            move |_key: JsValue, a: JsValue, b: JsValue| f.call3(&this, &key, &a, &b),
        );
        Reflect::set(&wrapper, &name.into(), &call.into_js_value())?;
    }
    Reflect::set(
        &wrapper,
        &"list".into(),
        &method(&real, "list")?.bind0(&real),
    )?;
    Ok(wrapper.unchecked_into())
}

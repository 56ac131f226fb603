//! Platform plumbing for the guard: bodies stay JavaScript `ReadableStream`s end to end (tee,
//! fetch, R2), so their bytes never enter wasm memory (TOOLCHAIN.md pitfall 6). Only bounded
//! prefixes (sender hints, the start of an origin's refusal) are copied in.

use std::time::Duration;

use backstop_guard_core::storage::{next_part, part_bytes};

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use worker::js_sys::{self, Array, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, ReadableStream, ReadableStreamDefaultReader};
use worker::{Bucket, Data, Delay, HttpMetadata};

/// The body of the incoming request as a stream (`None` for an empty body).
pub(super) fn request_body(req: &worker::Request) -> Option<ReadableStream> {
    req.inner().body()
}

/// Splits a stream in two. workerd paces the source to the slower branch, so neither branch
/// buffers the whole body; the split keeps a known length (R2 needs it).
pub(super) fn tee(stream: &ReadableStream) -> Option<(ReadableStream, ReadableStream)> {
    let branches: Array = stream.tee();
    let a = branches.get(0).dyn_into::<ReadableStream>().ok()?;
    let b = branches.get(1).dyn_into::<ReadableStream>().ok()?;
    Some((a, b))
}

/// Cancels a stream nobody will read (best effort).
pub(super) fn cancel(stream: &ReadableStream) {
    let _ = stream.cancel();
}

/// Waits for `fut` at most `ms` milliseconds.
pub(super) async fn with_timeout<F: std::future::Future>(fut: F, ms: u64) -> Option<F::Output> {
    let delay = Delay::from(Duration::from_millis(ms));
    pin_mut!(fut);
    pin_mut!(delay);
    match select(fut, delay).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(((), _)) => None,
    }
}

/// Why a payload could not be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StoreError {
    /// A chunked body ran past `max_bytes`.
    TooLarge,
    /// R2 failed or the sender hung up mid-body.
    Failed(String),
}

/// Starts [`store_stream`] at once, independently of the caller, and returns its promise
/// (resolves with the size; rejects with `"too_large"` or the error), so the caller can answer
/// before it ends and still await it later (or in `waitUntil`).
pub(super) fn store_in_background(
    bucket: Bucket,
    key: String,
    body: Option<ReadableStream>,
    known_len: Option<u64>,
    content_type: String,
    max_bytes: u64,
) -> Promise {
    worker::wasm_bindgen_futures::future_to_promise(async move {
        match store_stream(&bucket, &key, body, known_len, &content_type, max_bytes).await {
            Ok(size) => Ok(JsValue::from_f64(size as f64)),
            Err(StoreError::TooLarge) => Err(JsValue::from_str("too_large")),
            Err(StoreError::Failed(e)) => Err(JsValue::from_str(&e)),
        }
    })
}

/// Reads a (small) stream into a JS `ArrayBuffer` at once, independently of the caller: the
/// replay copy of a small body, kept in the isolate's JS heap (never in wasm memory).
pub(super) fn buffer_in_background(body: Option<ReadableStream>) -> Promise {
    let buffered = body.as_ref().map(|b| {
        web_sys::Response::new_with_opt_readable_stream(Some(b)).and_then(|r| r.array_buffer())
    });
    match buffered {
        Some(Ok(p)) => p,
        Some(Err(e)) => Promise::reject(&e),
        None => Promise::resolve(&JsValue::from(js_sys::ArrayBuffer::new(0))),
    }
}

/// Writes a [`buffer_in_background`] copy to R2 and returns its size.
pub(super) async fn store_buffer(
    bucket: &Bucket,
    key: &str,
    copy: &Promise,
    content_type: &str,
) -> Result<u64, StoreError> {
    let buffer = JsFuture::from(copy.clone())
        .await
        .map_err(|e| StoreError::Failed(format!("reading the body failed: {}", js_text(&e))))?;
    let buffer: js_sys::ArrayBuffer = buffer
        .dyn_into()
        .map_err(|_| StoreError::Failed("the body copy is not a buffer".into()))?;
    let len = u64::from(buffer.byte_length());
    let stream = web_sys::Response::new_with_opt_buffer_source(Some(&buffer))
        .map_err(|e| StoreError::Failed(js_text(&e)))?
        .body();
    store_stream(bucket, key, stream, Some(len), content_type, u64::MAX).await
}

/// Awaits a [`store_in_background`] promise.
pub(super) async fn stored(p: &Promise) -> Result<u64, StoreError> {
    match JsFuture::from(p.clone()).await {
        Ok(v) => Ok(v.as_f64().map_or(0, |f| f as u64)),
        Err(e) if e.as_string().as_deref() == Some("too_large") => Err(StoreError::TooLarge),
        Err(e) => Err(StoreError::Failed(js_text(&e))),
    }
}

/// Streams a body into R2 under `key` and returns its size. With a known length (a
/// `Content-Length` request, or a tee branch of one) it is one `put`; without one (chunked) it
/// is a multipart upload of equal parts (5 MiB, see `part_bytes`) cut from JS chunks, refused
/// past `max_bytes`.
pub(super) async fn store_stream(
    bucket: &Bucket,
    key: &str,
    body: Option<ReadableStream>,
    known_len: Option<u64>,
    content_type: &str,
    max_bytes: u64,
) -> Result<u64, StoreError> {
    let failed = |e: worker::Error| StoreError::Failed(e.to_string());
    let metadata = HttpMetadata {
        content_type: (!content_type.is_empty()).then(|| content_type.to_string()),
        ..Default::default()
    };
    let Some(body) = body else {
        bucket
            .put(key, Data::Empty)
            .http_metadata(metadata)
            .execute()
            .await
            .map_err(failed)?;
        return Ok(0);
    };
    if let Some(len) = known_len {
        let obj = bucket
            .put(key, Data::ReadableStream(body))
            .http_metadata(metadata)
            .execute()
            .await
            .map_err(failed)?;
        return Ok(obj.map_or(len, |o| o.size()));
    }
    let upload = bucket
        .create_multipart_upload(key)
        .http_metadata(metadata)
        .execute()
        .await
        .map_err(failed)?;
    let part_bytes = part_bytes(max_bytes);
    let uploaded = async {
        let reader = body
            .get_reader()
            .dyn_into::<ReadableStreamDefaultReader>()
            .map_err(|_| StoreError::Failed("body is not readable".into()))?;
        let js_err = |e: JsValue| StoreError::Failed(js_text(&e));
        let mut parts = Vec::new();
        // Chunks (and the rest of the last cut, as a Blob) not yet uploaded; they stay in JS.
        let mut chunks = Array::new();
        let mut pending: u64 = 0;
        let mut total: u64 = 0;
        let mut number: u16 = 1;
        loop {
            let (done, chunk) = read_chunk(&reader).await.map_err(StoreError::Failed)?;
            if let Some(chunk) = chunk {
                let n = u64::from(chunk.byte_length());
                total = total.saturating_add(n);
                pending = pending.saturating_add(n);
                if total > max_bytes {
                    let _ = reader.cancel();
                    return Err(StoreError::TooLarge);
                }
                chunks.push(&chunk);
            }
            // R2 refuses parts of unequal sizes at `complete()`: cut exactly, keep the rest.
            while let Some(size) = next_part(pending, done, parts.len(), part_bytes) {
                let blob = web_sys::Blob::new_with_u8_array_sequence(&chunks).map_err(js_err)?;
                let cut = size as f64;
                let part_blob = blob.slice_with_f64_and_f64(0.0, cut).map_err(js_err)?;
                let rest = blob.slice_with_f64(cut).map_err(js_err)?;
                let part = upload
                    .upload_part(number, Data::ReadableStream(part_blob.stream()))
                    .await
                    .map_err(failed)?;
                parts.push(part);
                number = number.saturating_add(1);
                chunks = Array::of1(&rest);
                pending = pending.saturating_sub(size);
            }
            if done {
                break;
            }
        }
        Ok((parts, total))
    }
    .await;
    match uploaded {
        Ok((parts, total)) => {
            upload.complete(parts).await.map_err(failed)?;
            Ok(total)
        }
        Err(e) => {
            let _ = upload.abort().await;
            Err(e)
        }
    }
}

/// The body of a kept payload, as a stream of known length (what a `fetch` sends with a
/// `Content-Length`).
pub(super) async fn kept_body(bucket: &Bucket, key: &str) -> Result<Option<JsValue>, StoreError> {
    let failed = |e: worker::Error| StoreError::Failed(e.to_string());
    let object = bucket
        .get(key)
        .execute()
        .await
        .map_err(failed)?
        .ok_or_else(|| StoreError::Failed("the kept payload is gone".into()))?;
    match object.body() {
        Some(b) => match b.response_body().map_err(failed)? {
            worker::ResponseBody::Stream(s) => Ok(Some(s.into())),
            _ => Ok(None),
        },
        None => Ok(None),
    }
}

/// One `read()`: whether the stream is done, and the chunk (kept in JS).
async fn read_chunk(
    reader: &ReadableStreamDefaultReader,
) -> Result<(bool, Option<Uint8Array>), String> {
    let res = JsFuture::from(reader.read())
        .await
        .map_err(|e| format!("reading the body failed: {}", js_text(&e)))?;
    let done = Reflect::get(&res, &"done".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(true);
    let chunk = Reflect::get(&res, &"value".into())
        .ok()
        .and_then(|v| v.dyn_into::<Uint8Array>().ok());
    Ok((done, chunk))
}

/// Reads at most `max` bytes from the start of a stream (waiting at most `timeout_ms`), then
/// cancels it. Only those bytes enter wasm memory.
pub(crate) async fn read_prefix(stream: ReadableStream, max: usize, timeout_ms: u64) -> Vec<u8> {
    let Ok(reader) = stream
        .get_reader()
        .dyn_into::<ReadableStreamDefaultReader>()
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let read = async {
        while out.len() < max {
            match read_chunk(&reader).await {
                Ok((done, chunk)) => {
                    if let Some(chunk) = chunk {
                        let want = (max - out.len()).min(chunk.length() as usize);
                        let part = chunk.subarray(0, u32::try_from(want).unwrap_or(u32::MAX));
                        out.extend_from_slice(&part.to_vec());
                    }
                    if done {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    };
    let _ = with_timeout(read, timeout_ms).await;
    let _ = reader.cancel();
    out
}

/// A random 64-bit number for delivery ids (`crypto.getRandomValues`, falling back to
/// `Math.random`).
pub(super) fn random_u64() -> u64 {
    let buf = Uint8Array::new_with_length(8);
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok();
    let filled = crypto
        .and_then(|c| {
            let f = Reflect::get(&c, &"getRandomValues".into()).ok()?;
            let f = f.dyn_into::<js_sys::Function>().ok()?;
            f.call1(&c, &buf).ok()
        })
        .is_some();
    if filled {
        let mut b = [0u8; 8];
        buf.copy_to(&mut b);
        u64::from_le_bytes(b)
    } else {
        let hi = (js_sys::Math::random() * f64::from(u32::MAX)) as u64;
        let lo = (js_sys::Math::random() * f64::from(u32::MAX)) as u64;
        (hi << 32) | lo
    }
}

/// The wasm instance's linear memory in bytes. It only grows, so this is also the peak.
pub(super) fn wasm_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size::<0>() as u64) * 65_536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

/// A JS error as text.
pub(super) fn js_text(v: &JsValue) -> String {
    if let Some(e) = v.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    v.as_string().unwrap_or_else(|| format!("{v:?}"))
}

/// Headers as a JS `Headers` object.
pub(super) fn headers_object(pairs: &[(String, String)]) -> Result<web_sys::Headers, String> {
    let h = web_sys::Headers::new().map_err(|e| js_text(&e))?;
    for (k, v) in pairs {
        h.append(k, v)
            .map_err(|e| format!("header {k}: {}", js_text(&e)))?;
    }
    Ok(h)
}

/// Header pairs of a JS `Headers` object (names lower-case).
pub(super) fn header_pairs(h: &web_sys::Headers) -> Vec<(String, String)> {
    worker::Headers(h.clone()).entries().collect()
}
